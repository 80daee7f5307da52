/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN message parsing and building (RFC 8489), with the TURN attributes of
 * RFC 8656. Nothing here allocates per packet or keeps state between calls.
 */
#include "stun.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "bytes.h"

#define STUN_MI_LEN 20
#define STUN_FP_LEN 4
/* RFC 8489 §7: the fingerprint is the CRC-32 XORed with "STUN" */
#define STUN_FP_XOR 0x5354554eu
/* RFC 8489 §14.8: the reason phrase is at most 763 bytes of UTF-8 */
#define STUN_REASON_MAX 763

static inline size_t
pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* ISO 3309 / ITU-T V.42 CRC-32 (reflected polynomial 0xEDB88320). */
static const uint32_t crc32_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba,
	0x076dc419, 0x706af48f, 0xe963a535, 0x9e6495a3,
	0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91,
	0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de,
	0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
	0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5,
	0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b,
	0x35b5a8fa, 0x42b2986c, 0xdbbbc9d6, 0xacbcf940,
	0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116,
	0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
	0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d,
	0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a,
	0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818,
	0x7f6a0dbb, 0x086d3d2d, 0x91646c97, 0xe6635c01,
	0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457,
	0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea, 0xfcb9887c,
	0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2,
	0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb,
	0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
	0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086,
	0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4,
	0x59b33d17, 0x2eb40d81, 0xb7bd5c3b, 0xc0ba6cad,
	0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683,
	0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
	0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe,
	0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7,
	0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5,
	0xd6d6a3e8, 0xa1d1937e, 0x38d8c2c4, 0x4fdff252,
	0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60,
	0xdf60efc3, 0xa867df55, 0x316e8eef, 0x4669be79,
	0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f,
	0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04,
	0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
	0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713,
	0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21,
	0x86d3d2d4, 0xf1d4e242, 0x68ddb3f8, 0x1fda836e,
	0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c,
	0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
	0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db,
	0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0,
	0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6,
	0xbad03605, 0xcdd70693, 0x54de5729, 0x23d967bf,
	0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

uint32_t
stun_crc32(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	while (len--)
		c = crc32_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* Types this code understands; anything else below 0x8000 earns a 420. */
static int
stun_attr_known(uint16_t type)
{
	switch (type) {
	case STUN_A_MAPPED_ADDRESS:
	case STUN_A_USERNAME:
	case STUN_A_MESSAGE_INTEGRITY:
	case STUN_A_ERROR_CODE:
	case STUN_A_UNKNOWN_ATTRIBUTES:
	case STUN_A_CHANNEL_NUMBER:
	case STUN_A_LIFETIME:
	case STUN_A_XOR_PEER_ADDRESS:
	case STUN_A_DATA:
	case STUN_A_REALM:
	case STUN_A_NONCE:
	case STUN_A_XOR_RELAYED_ADDRESS:
	case STUN_A_REQUESTED_ADDRESS_FAMILY:
	case STUN_A_EVEN_PORT:
	case STUN_A_REQUESTED_TRANSPORT:
	case STUN_A_DONT_FRAGMENT:
	case STUN_A_MESSAGE_INTEGRITY_SHA256:
	case STUN_A_PASSWORD_ALGORITHM:
	case STUN_A_USERHASH:
	case STUN_A_XOR_MAPPED_ADDRESS:
	case STUN_A_RESERVATION_TOKEN:
	case STUN_A_PRIORITY:
	case STUN_A_USE_CANDIDATE:
	case STUN_A_ADDITIONAL_ADDRESS_FAMILY:
	case STUN_A_ADDRESS_ERROR_CODE:
	case STUN_A_PASSWORD_ALGORITHMS:
	case STUN_A_ALTERNATE_DOMAIN:
	case STUN_A_SOFTWARE:
	case STUN_A_ALTERNATE_SERVER:
	case STUN_A_FINGERPRINT:
	case STUN_A_ICE_CONTROLLED:
	case STUN_A_ICE_CONTROLLING:
		return 1;
	default:
		return 0;
	}
}

static void
stun_note_unknown(struct stun_msg *m, uint16_t type)
{
	if (type >= 0x8000 || stun_attr_known(type))
		return;
	for (unsigned int i = 0; i < m->n_unknown; i++)
		if (m->unknown_required[i] == type)
			return;
	if (m->n_unknown < sizeof(m->unknown_required) /
			   sizeof(m->unknown_required[0]))
		m->unknown_required[m->n_unknown++] = type;
}

int
stun_looks_like(const uint8_t *buf, size_t len)
{
	if (len < STUN_HDR_LEN || (buf[0] & 0xc0) != 0)
		return 0;
	size_t mlen = rd16(buf + 2);
	return (mlen & 3) == 0 && STUN_HDR_LEN + mlen == len &&
	       rd32(buf + 4) == STUN_MAGIC;
}

int
stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	m->buf = buf;
	m->len = 0;
	m->n_attrs = 0;
	m->n_unknown = 0;
	m->integrity = -1;
	m->integrity_sha256 = -1;
	m->fingerprint = -1;

	/* a UDP payload never exceeds 65535 bytes, and offsets are 16-bit */
	if (len > UINT16_MAX || !stun_looks_like(buf, len))
		return -STUN_EFORMAT;

	m->len = (uint16_t)len;
	m->type = rd16(buf);
	m->method = stun_method(m->type);
	m->cls = stun_class(m->type);
	memcpy(m->tid, buf + 8, STUN_TID_LEN);

	size_t pos = STUN_HDR_LEN;
	while (pos < len) {
		if (m->fingerprint >= 0)
			return -STUN_EORDER;
		if (len - pos < 4)
			return -STUN_ETRUNC;
		uint16_t type = rd16(buf + pos);
		uint16_t alen = rd16(buf + pos + 2);
		if (pad4(alen) > len - pos - 4)
			return -STUN_ETRUNC;

		/*
		 * RFC 8489 §14.5/§14.6: after MESSAGE-INTEGRITY only
		 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after
		 * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT; the rest is
		 * ignored, but must still be well formed to find the end.
		 */
		int keep = 1;
		if (m->integrity_sha256 >= 0)
			keep = type == STUN_A_FINGERPRINT;
		else if (m->integrity >= 0)
			keep = type == STUN_A_FINGERPRINT ||
			       type == STUN_A_MESSAGE_INTEGRITY_SHA256;

		if (keep) {
			if (m->n_attrs >= STUN_MAX_ATTRS)
				return -STUN_ETOOMANY;
			int16_t idx = (int16_t)m->n_attrs++;
			struct stun_attr *a = &m->attrs[idx];
			a->type = type;
			a->len = alen;
			a->off = (uint16_t)pos;
			a->val = buf + pos + 4;
			if (type == STUN_A_MESSAGE_INTEGRITY)
				m->integrity = idx;
			else if (type == STUN_A_MESSAGE_INTEGRITY_SHA256)
				m->integrity_sha256 = idx;
			else if (type == STUN_A_FINGERPRINT)
				m->fingerprint = idx;
			stun_note_unknown(m, type);
		}
		pos += 4 + pad4(alen);
	}
	return 0;
}

const struct stun_attr *
stun_find(const struct stun_msg *m, uint16_t type)
{
	for (unsigned int i = 0; i < m->n_attrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

/* RFC 8489 §14.2: port and address XORed with the cookie (and the TID). */
int
stun_attr_xor_addr(const struct stun_msg *m, const struct stun_attr *a,
		   struct sotto_addr *out)
{
	if (a == NULL || a->len < 4)
		return -EINVAL;
	uint8_t family = a->val[1];
	uint16_t port = rd16(a->val + 2) ^ (uint16_t)(STUN_MAGIC >> 16);

	if (family == 0x01 && a->len == 8) {
		uint8_t ip[4];
		uint32_t ip_be;
		wr32(ip, rd32(a->val + 4) ^ STUN_MAGIC);
		memcpy(&ip_be, ip, 4);
		sotto_addr_v4(out, ip_be, port);
		return 0;
	}
	if (family == 0x02 && a->len == 20) {
		uint8_t ip[16];
		wr32(ip, STUN_MAGIC);
		memcpy(ip + 4, m->tid, STUN_TID_LEN);
		for (int i = 0; i < 16; i++)
			ip[i] ^= a->val[4 + i];
		sotto_addr_v6(out, ip, port);
		return 0;
	}
	return -EINVAL;
}

int
stun_attr_u32(const struct stun_attr *a, uint32_t *out)
{
	if (a == NULL || a->len != 4)
		return -EINVAL;
	*out = rd32(a->val);
	return 0;
}

/*
 * HMAC-SHA1 of hdr (20 bytes) followed by body. The header is passed apart
 * because the length field hashed is not always the one on the wire.
 */
static int
stun_hmac_sha1(const uint8_t *key, size_t keylen, const uint8_t *hdr,
	       const uint8_t *body, size_t bodylen, uint8_t out[STUN_MI_LEN])
{
	static const uint8_t nokey;
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	int ret = -1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return -1;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		goto out;
	if (!EVP_MAC_init(ctx, keylen ? key : &nokey, keylen, params))
		goto out;
	if (!EVP_MAC_update(ctx, hdr, STUN_HDR_LEN) ||
	    !EVP_MAC_update(ctx, body, bodylen))
		goto out;
	if (!EVP_MAC_final(ctx, out, &outlen, STUN_MI_LEN) ||
	    outlen != STUN_MI_LEN)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

int
stun_check_fingerprint(const struct stun_msg *m)
{
	if (m->fingerprint < 0)
		return -1;
	const struct stun_attr *a = &m->attrs[m->fingerprint];
	if (a->len != STUN_FP_LEN)
		return 0;
	uint32_t want = stun_crc32(m->buf, a->off) ^ STUN_FP_XOR;
	return rd32(a->val) == want;
}

int
stun_check_integrity(const struct stun_msg *m, const uint8_t *key,
		     size_t keylen)
{
	uint8_t hdr[STUN_HDR_LEN];
	uint8_t mac[STUN_MI_LEN];

	if (m->integrity < 0)
		return -1;
	const struct stun_attr *a = &m->attrs[m->integrity];
	if (a->len != STUN_MI_LEN)
		return 0;

	/* RFC 8489 §14.5: the length hashed ends just after this attribute */
	memcpy(hdr, m->buf, STUN_HDR_LEN);
	wr16(hdr + 2, (uint16_t)(a->off + 4 + STUN_MI_LEN - STUN_HDR_LEN));
	if (stun_hmac_sha1(key, keylen, hdr, m->buf + STUN_HDR_LEN,
			   a->off - STUN_HDR_LEN, mac) < 0)
		return 0;
	return CRYPTO_memcmp(mac, a->val, STUN_MI_LEN) == 0;
}

void
stun_lt_key(const char *username, const char *realm, const char *password,
	    uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (ctx == NULL ||
	    !EVP_DigestInit_ex(ctx, EVP_md5(), NULL) ||
	    !EVP_DigestUpdate(ctx, username, strlen(username)) ||
	    !EVP_DigestUpdate(ctx, ":", 1) ||
	    !EVP_DigestUpdate(ctx, realm, strlen(realm)) ||
	    !EVP_DigestUpdate(ctx, ":", 1) ||
	    !EVP_DigestUpdate(ctx, password, strlen(password)) ||
	    !EVP_DigestFinal_ex(ctx, out, &n) || n != 16)
		memset(out, 0, 16);
	EVP_MD_CTX_free(ctx);
}

void
stun_build(struct stun_builder *b, uint8_t *buf, size_t cap,
	   uint16_t method, uint16_t cls, const uint8_t tid[STUN_TID_LEN])
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	if (cap < STUN_HDR_LEN) {
		b->err = -ENOBUFS;
		return;
	}
	wr16(buf, stun_type(method, cls));
	wr16(buf + 2, 0);
	wr32(buf + 4, STUN_MAGIC);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HDR_LEN;
}

/*
 * Appends an attribute header and zeroed, padded room for len bytes of
 * value, updates the header length and returns where the value goes.
 */
static uint8_t *
stun_reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	if (b->err)
		return NULL;
	size_t need = 4 + pad4(len);
	if (len > 0xffff || need > b->cap - b->len ||
	    b->len + need - STUN_HDR_LEN > 0xffff) {
		b->err = -ENOBUFS;
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	wr16(p, type);
	wr16(p + 2, (uint16_t)len);
	memset(p + 4, 0, pad4(len));
	b->len += need;
	wr16(b->buf + 2, (uint16_t)(b->len - STUN_HDR_LEN));
	return p + 4;
}

void
stun_add(struct stun_builder *b, uint16_t type, const void *val, uint16_t len)
{
	uint8_t *p = stun_reserve(b, type, len);

	if (p != NULL && len)
		memcpy(p, val, len);
}

void
stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = stun_reserve(b, type, 4);

	if (p != NULL)
		wr32(p, v);
}

void
stun_add_xor_addr(struct stun_builder *b, uint16_t type,
		  const struct sotto_addr *a)
{
	uint8_t *p;

	if (b->err)
		return;
	if (a->family != AF_INET && a->family != AF_INET6) {
		b->err = -EAFNOSUPPORT;
		return;
	}
	p = stun_reserve(b, type, a->family == AF_INET ? 8 : 20);
	if (p == NULL)
		return;
	p[1] = a->family == AF_INET ? 0x01 : 0x02;
	wr16(p + 2, a->port ^ (uint16_t)(STUN_MAGIC >> 16));
	if (a->family == AF_INET) {
		wr32(p + 4, rd32(a->ip) ^ STUN_MAGIC);
		return;
	}
	uint8_t pad[16];
	wr32(pad, STUN_MAGIC);
	memcpy(pad + 4, b->buf + 8, STUN_TID_LEN);
	for (int i = 0; i < 16; i++)
		p[4 + i] = a->ip[i] ^ pad[i];
}

/* RFC 8489 §14.8: class is the hundreds digit (3..6), number the rest. */
void
stun_add_error(struct stun_builder *b, int code, const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	uint8_t *p;

	if (b->err)
		return;
	if (code < 300 || code > 699 || rlen > STUN_REASON_MAX) {
		b->err = -EINVAL;
		return;
	}
	p = stun_reserve(b, STUN_A_ERROR_CODE, 4 + rlen);
	if (p == NULL)
		return;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	if (rlen)
		memcpy(p + 4, reason, rlen);
}

void
stun_add_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
	size_t off = b->len;
	uint8_t *p = stun_reserve(b, STUN_A_MESSAGE_INTEGRITY, STUN_MI_LEN);

	if (p == NULL)
		return;
	/* stun_reserve already set the length to end after this attribute,
	 * which is what RFC 8489 §14.5 hashes */
	if (stun_hmac_sha1(key, keylen, b->buf, b->buf + STUN_HDR_LEN,
			   off - STUN_HDR_LEN, p) < 0)
		b->err = -EIO;
}

void
stun_add_fingerprint(struct stun_builder *b)
{
	size_t off = b->len;
	uint8_t *p = stun_reserve(b, STUN_A_FINGERPRINT, STUN_FP_LEN);

	if (p != NULL)
		wr32(p, stun_crc32(b->buf, off) ^ STUN_FP_XOR);
}

size_t
stun_finish(struct stun_builder *b)
{
	return b->err ? 0 : b->len;
}
