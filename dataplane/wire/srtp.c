/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SRTP and SRTCP (RFC 3711) with AES_CM_128_HMAC_SHA1_80 and
 * AEAD_AES_128_GCM (RFC 7714), on libcrypto.
 *
 * Everything a packet needs is set up when the context is built; a packet
 * touches no allocator and no lock. Not every libcrypto entry point allows
 * that in OpenSSL 3.0, which is why the primitives are reached as follows:
 *
 * - EVP_CipherInit_ex() with only a new IV runs provider parameter lookups
 *   (about 80 ns a call here, more than AES on 160 bytes costs), so each
 *   session key gets one AES-128-ECB context, set up once, and counter
 *   mode is done here: counter blocks are built and encrypted in one ECB
 *   call, then XORed in (RFC 3711 §4.1.1). ECB runs the same AES code as
 *   every EVP AES mode (AES-NI here).
 * - GCM is OpenSSL's own mode code (modes.h CRYPTO_gcm128_*: GHASH with
 *   PCLMULQDQ/AVX, tag compared with CRYPTO_memcmp), run with that ECB
 *   context as its block and CTR32 functions.
 * - An HMAC or digest context re-init duplicates the provider state with a
 *   malloc, so HMAC-SHA1 keeps the inner and outer pad states (RFC 2104)
 *   computed once as plain SHA_CTX values and copies them per packet. The
 *   SHA1_* calls are deprecated in 3.0 but run the block function EVP's
 *   SHA-1 does (SHA-NI here).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_Init/Update/Final, see above */

#include "srtp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/modes.h>
#include <openssl/sha.h>

#include "bytes.h"

#define CM_TAG_LEN 10   /* HMAC-SHA1 truncated to 80 bits */
#define GCM_TAG_LEN 16  /* RFC 7714 §12: AEAD_AES_128_GCM, 16-octet tag */
#define GCM_IV_LEN 12
#define SRTCP_E_BIT 0x80000000u
#define SRTCP_MAX_INDEX 0x7fffffffu
#define KS_BLOCKS 16    /* counter blocks per ECB call */

_Static_assert(DP_SRTP_REPLAY_WINDOW == 128, "window is two 64-bit words");

/* RFC 3711 §4.3.1 key derivation labels */
enum {
	LABEL_RTP_ENC = 0x00,
	LABEL_RTP_AUTH = 0x01,
	LABEL_RTP_SALT = 0x02,
	LABEL_RTCP_ENC = 0x03,
	LABEL_RTCP_AUTH = 0x04,
	LABEL_RTCP_SALT = 0x05,
};

/* One AES session key: an ECB context and room for counter blocks. */
struct aes_key {
	EVP_CIPHER_CTX *ecb;
	uint32_t failed;                /* set by the GCM callbacks */
	uint8_t ctr[KS_BLOCKS * 16];
	uint8_t ks[KS_BLOCKS * 16];
};

/* Replay state of one index space (RFC 3711 §3.3.2): bit i of win says
 * index hi - i was accepted. Before the first packet, hi holds ROC << 16
 * for RTP (set by add_ssrc) and seen is 0. */
struct replay {
	uint64_t hi;
	uint64_t win[2];
	uint8_t seen;
};

struct stream {
	uint32_t ssrc;
	uint8_t used;
	struct replay rtp;   /* 48-bit SRTP packet index */
	struct replay rtcp;  /* 31-bit SRTCP index */
};

struct dp_srtp_ctx {
	uint16_t profile;
	uint8_t dir;
	uint8_t learn;
	uint8_t heap;        /* from dp_srtp_ctx_new() */
	uint8_t tag_len;
	struct stream streams[DP_SRTP_MAX_SSRC];
	uint8_t rtp_salt[DP_SRTP_MAX_SALT_LEN];
	uint8_t rtcp_salt[DP_SRTP_MAX_SALT_LEN];
	struct aes_key rtp_aes;
	struct aes_key rtcp_aes;
	GCM128_CONTEXT *rtp_gcm;    /* GCM only */
	GCM128_CONTEXT *rtcp_gcm;
	SHA_CTX rtp_ipad, rtp_opad; /* AES-CM only */
	SHA_CTX rtcp_ipad, rtcp_opad;
	SHA_CTX work;               /* per-packet scratch, wiped too */
	uint8_t digest[SHA_DIGEST_LENGTH];
} __attribute__((aligned(DP_SRTP_CTX_ALIGN)));

static const char *const err_names[DP_SRTP_N_ERR] = {
	[DP_SRTP_OK] = "ok",
#define X(name, str) [DP_SRTP_ERR_##name] = str,
	DP_SRTP_FOREACH_ERR(X)
#undef X
};

const char *
dp_srtp_strerror(int rc)
{
	if (rc > 0 || rc <= -DP_SRTP_N_ERR)
		return "srtp_unknown_error";
	return err_names[-rc];
}

bool
dp_srtp_profile_ok(int p)
{
	return p == DP_SRTP_AES128_CM_HMAC_SHA1_80 ||
	       p == DP_SRTP_AEAD_AES_128_GCM;
}

size_t
dp_srtp_key_len(enum dp_srtp_profile p)
{
	return dp_srtp_profile_ok((int)p) ? 16 : 0;
}

size_t
dp_srtp_salt_len(enum dp_srtp_profile p)
{
	switch (p) {
	case DP_SRTP_AES128_CM_HMAC_SHA1_80:
		return 14;
	case DP_SRTP_AEAD_AES_128_GCM:
		return 12; /* RFC 7714 §12 */
	}
	return 0;
}

size_t
dp_srtp_rtp_trailer(enum dp_srtp_profile p)
{
	switch (p) {
	case DP_SRTP_AES128_CM_HMAC_SHA1_80:
		return CM_TAG_LEN;
	case DP_SRTP_AEAD_AES_128_GCM:
		return GCM_TAG_LEN;
	}
	return 0;
}

size_t
dp_srtp_rtcp_trailer(enum dp_srtp_profile p)
{
	size_t t = dp_srtp_rtp_trailer(p);

	return t ? t + 4 : 0; /* RFC 3711 §3.4: E flag + 31-bit index */
}

size_t
dp_srtp_exporter_len(enum dp_srtp_profile p)
{
	return 2 * (dp_srtp_key_len(p) + dp_srtp_salt_len(p));
}

int
dp_srtp_keys_from_exporter(enum dp_srtp_profile p, const uint8_t *material,
			   size_t len, bool is_server,
			   struct dp_srtp_master *local,
			   struct dp_srtp_master *remote)
{
	size_t kl = dp_srtp_key_len(p), sl = dp_srtp_salt_len(p);

	if (!kl || !material || len != 2 * (kl + sl) || !local || !remote)
		return -EINVAL;
	/* RFC 5764 §4.2: client key | server key | client salt | server salt */
	const uint8_t *ck = material, *sk = material + kl;
	const uint8_t *cs = material + 2 * kl, *ss = cs + sl;
	struct dp_srtp_master *client = is_server ? remote : local;
	struct dp_srtp_master *server = is_server ? local : remote;

	memset(local, 0, sizeof(*local));
	memset(remote, 0, sizeof(*remote));
	memcpy(client->key, ck, kl);
	memcpy(client->salt, cs, sl);
	memcpy(server->key, sk, kl);
	memcpy(server->salt, ss, sl);
	client->key_len = server->key_len = (uint8_t)kl;
	client->salt_len = server->salt_len = (uint8_t)sl;
	return 0;
}

/* ---- AES ---- */

static int
aes_key_init(struct aes_key *k, const uint8_t key[16])
{
	k->ecb = EVP_CIPHER_CTX_new();
	if (!k->ecb)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(k->ecb, EVP_aes_128_ecb(), NULL, key,
			       NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(k->ecb, 0) != 1)
		return -EIO;
	return 0;
}

/*
 * out = in XOR AES_k(counter blocks): bytes 0..11 of each block are iv's,
 * bytes 12..15 a big-endian counter starting at iv's. That is AES-CM of
 * RFC 3711 §4.1.1 (whose 16-bit block counter starts at zero and, for
 * packets under 2^20 bytes, never carries into byte 13) and the CTR32 of
 * GCM. Returns -1 if libcrypto fails, and then writes nothing.
 */
static int
ctr_xor(struct aes_key *k, const uint8_t iv[16], const uint8_t *in,
	uint8_t *out, size_t len)
{
	uint32_t ctr = rd32(iv + 12);
	uint64_t w0, w1;

	memcpy(&w0, iv, 8);
	memcpy(&w1, iv + 8, 4);
	while (len) {
		size_t n = len < sizeof(k->ks) ? len : sizeof(k->ks);
		size_t nb = (n + 15) / 16, i;
		int outl;

		for (i = 0; i < nb; i++) {
			uint8_t *b = k->ctr + 16 * i;
			uint32_t be = __builtin_bswap32(ctr + (uint32_t)i);

			memcpy(b, &w0, 8);
			memcpy(b + 8, &w1, 4);
			memcpy(b + 12, &be, 4);
		}
		if (EVP_EncryptUpdate(k->ecb, k->ks, &outl, k->ctr,
				      (int)(nb * 16)) != 1 ||
		    outl != (int)(nb * 16))
			return -1;
		for (i = 0; i + 8 <= n; i += 8) {
			uint64_t a, s;

			memcpy(&a, in + i, 8);
			memcpy(&s, k->ks + i, 8);
			a ^= s;
			memcpy(out + i, &a, 8);
		}
		for (; i < n; i++)
			out[i] = in[i] ^ k->ks[i];
		ctr += (uint32_t)nb;
		in += n;
		out += n;
		len -= n;
	}
	return 0;
}

/* block128_f for CRYPTO_gcm128: one AES block */
static void
gcm_block(const unsigned char in[16], unsigned char out[16], const void *key)
{
	struct aes_key *k = (struct aes_key *)(uintptr_t)key;
	int outl;

	if (EVP_EncryptUpdate(k->ecb, out, &outl, in, 16) != 1 || outl != 16) {
		memset(out, 0, 16);
		k->failed = 1;
	}
}

/* ctr128_f for CRYPTO_gcm128: blocks of CTR32 keystream XORed in */
static void
gcm_ctr32(const unsigned char *in, unsigned char *out, size_t blocks,
	  const void *key, const unsigned char ivec[16])
{
	struct aes_key *k = (struct aes_key *)(uintptr_t)key;

	if (ctr_xor(k, ivec, in, out, blocks * 16) != 0)
		k->failed = 1;
}

/* ---- key derivation (RFC 3711 §4.3.3) ---- */

/*
 * PRF_n(k_master, x): AES-CM keystream with IV = x * 2^16, where x is the
 * 112-bit master salt XOR (label << 48 | index DIV kdr); kdr is 0 here, so
 * only the label byte (byte 7 of the salt) changes.
 */
static int
prf(EVP_CIPHER_CTX *ecb, const uint8_t salt14[14], uint8_t label,
    uint8_t *out, size_t len)
{
	uint8_t in[32], ks[32];
	size_t nb = (len + 15) / 16;
	int outl, rc = 0;

	for (size_t i = 0; i < nb; i++) {
		memcpy(in + 16 * i, salt14, 14);
		in[16 * i + 7] ^= label;
		in[16 * i + 14] = 0;
		in[16 * i + 15] = (uint8_t)i;
	}
	if (EVP_EncryptUpdate(ecb, ks, &outl, in, (int)(nb * 16)) != 1)
		rc = -EIO;
	else
		memcpy(out, ks, len);
	explicit_bzero(ks, sizeof(ks));
	return rc;
}

int
dp_srtp_kdf(enum dp_srtp_profile p, const uint8_t *master_key,
	    size_t key_len, const uint8_t *master_salt, size_t salt_len,
	    struct dp_srtp_session_keys *out)
{
	uint8_t salt14[14] = {0};
	EVP_CIPHER_CTX *ecb;
	int rc;

	if (!dp_srtp_profile_ok((int)p) || !master_key || !master_salt ||
	    !out || key_len != dp_srtp_key_len(p) ||
	    salt_len != dp_srtp_salt_len(p))
		return -EINVAL;
	/* RFC 7714 §11: a 96-bit master salt takes the high bits of the
	 * 112-bit PRF input, the two low bytes stay zero */
	memcpy(salt14, master_salt, salt_len);
	memset(out, 0, sizeof(*out));
	ecb = EVP_CIPHER_CTX_new();
	if (!ecb)
		return -ENOMEM;
	rc = -EIO;
	if (EVP_EncryptInit_ex(ecb, EVP_aes_128_ecb(), NULL, master_key,
			       NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ecb, 0) != 1)
		goto out;
	rc = prf(ecb, salt14, LABEL_RTP_ENC, out->rtp_key, 16);
	if (!rc)
		rc = prf(ecb, salt14, LABEL_RTP_SALT, out->rtp_salt, salt_len);
	if (!rc)
		rc = prf(ecb, salt14, LABEL_RTCP_ENC, out->rtcp_key, 16);
	if (!rc)
		rc = prf(ecb, salt14, LABEL_RTCP_SALT, out->rtcp_salt,
			 salt_len);
	if (!rc && p == DP_SRTP_AES128_CM_HMAC_SHA1_80) {
		rc = prf(ecb, salt14, LABEL_RTP_AUTH, out->rtp_auth, 20);
		if (!rc)
			rc = prf(ecb, salt14, LABEL_RTCP_AUTH, out->rtcp_auth,
				 20);
	}
out:
	EVP_CIPHER_CTX_free(ecb); /* cleanses the key schedule */
	explicit_bzero(salt14, sizeof(salt14));
	if (rc)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

/* ---- HMAC-SHA1 (RFC 2104) ---- */

static void
hmac_pads(SHA_CTX *ipad, SHA_CTX *opad, const uint8_t key[20])
{
	uint8_t block[SHA_CBLOCK];

	memset(block, 0x36, sizeof(block));
	for (int i = 0; i < 20; i++)
		block[i] ^= key[i];
	SHA1_Init(ipad);
	SHA1_Update(ipad, block, sizeof(block));
	memset(block, 0x5c, sizeof(block));
	for (int i = 0; i < 20; i++)
		block[i] ^= key[i];
	SHA1_Init(opad);
	SHA1_Update(opad, block, sizeof(block));
	explicit_bzero(block, sizeof(block));
}

/* c->digest = HMAC(a || b); the scratch state lives in the context */
static void
hmac_sha1(struct dp_srtp_ctx *c, const SHA_CTX *ipad, const SHA_CTX *opad,
	  const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	c->work = *ipad;
	SHA1_Update(&c->work, a, alen);
	if (blen)
		SHA1_Update(&c->work, b, blen);
	SHA1_Final(c->digest, &c->work);
	c->work = *opad;
	SHA1_Update(&c->work, c->digest, sizeof(c->digest));
	SHA1_Final(c->digest, &c->work);
}

/* ---- contexts ---- */

size_t
dp_srtp_ctx_size(void)
{
	return sizeof(struct dp_srtp_ctx);
}

enum dp_srtp_profile
dp_srtp_ctx_profile(const struct dp_srtp_ctx *c)
{
	return (enum dp_srtp_profile)c->profile;
}

void
dp_srtp_ctx_fini(struct dp_srtp_ctx *c)
{
	if (!c)
		return;
	/* libcrypto cleanses what it frees: the GCM context (H, Htable) and
	 * the AES key schedules; tests/unit/test_srtp.c checks that */
	CRYPTO_gcm128_release(c->rtp_gcm);
	CRYPTO_gcm128_release(c->rtcp_gcm);
	EVP_CIPHER_CTX_free(c->rtp_aes.ecb);
	EVP_CIPHER_CTX_free(c->rtcp_aes.ecb);
	explicit_bzero(c, sizeof(*c));
}

struct dp_srtp_ctx *
dp_srtp_ctx_init(void *mem, size_t size, enum dp_srtp_profile p,
		 enum dp_srtp_dir dir, const struct dp_srtp_session_keys *k)
{
	struct dp_srtp_ctx *c = mem;
	int rc;

	if (!mem || size < sizeof(*c) ||
	    (uintptr_t)mem % DP_SRTP_CTX_ALIGN != 0 ||
	    !dp_srtp_profile_ok((int)p) || !k ||
	    (dir != DP_SRTP_PROTECT && dir != DP_SRTP_UNPROTECT)) {
		errno = EINVAL;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->profile = (uint16_t)p;
	c->dir = (uint8_t)dir;
	c->learn = 1;
	rc = aes_key_init(&c->rtp_aes, k->rtp_key);
	if (!rc)
		rc = aes_key_init(&c->rtcp_aes, k->rtcp_key);
	if (rc)
		goto fail;
	if (p == DP_SRTP_AEAD_AES_128_GCM) {
		c->tag_len = GCM_TAG_LEN;
		memcpy(c->rtp_salt, k->rtp_salt, GCM_IV_LEN);
		memcpy(c->rtcp_salt, k->rtcp_salt, GCM_IV_LEN);
		c->rtp_gcm = CRYPTO_gcm128_new(&c->rtp_aes, gcm_block);
		c->rtcp_gcm = CRYPTO_gcm128_new(&c->rtcp_aes, gcm_block);
		rc = -ENOMEM;
		if (!c->rtp_gcm || !c->rtcp_gcm)
			goto fail;
		rc = -EIO;
		if (c->rtp_aes.failed || c->rtcp_aes.failed)
			goto fail;
	} else {
		c->tag_len = CM_TAG_LEN;
		memcpy(c->rtp_salt, k->rtp_salt, 14);
		memcpy(c->rtcp_salt, k->rtcp_salt, 14);
		hmac_pads(&c->rtp_ipad, &c->rtp_opad, k->rtp_auth);
		hmac_pads(&c->rtcp_ipad, &c->rtcp_opad, k->rtcp_auth);
	}
	return c;
fail:
	dp_srtp_ctx_fini(c);
	errno = -rc;
	return NULL;
}

struct dp_srtp_ctx *
dp_srtp_ctx_new(enum dp_srtp_profile p, enum dp_srtp_dir dir,
		const uint8_t *master_key, size_t key_len,
		const uint8_t *master_salt, size_t salt_len)
{
	struct dp_srtp_session_keys k;
	struct dp_srtp_ctx *c;
	void *mem;
	int rc;

	rc = dp_srtp_kdf(p, master_key, key_len, master_salt, salt_len, &k);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	mem = aligned_alloc(DP_SRTP_CTX_ALIGN, sizeof(*c));
	if (!mem) {
		explicit_bzero(&k, sizeof(k));
		errno = ENOMEM;
		return NULL;
	}
	c = dp_srtp_ctx_init(mem, sizeof(*c), p, dir, &k);
	explicit_bzero(&k, sizeof(k));
	if (!c) {
		rc = errno;
		free(mem); /* fastpath-allow: control side, leg setup */
		errno = rc;
		return NULL;
	}
	c->heap = 1;
	return c;
}

void
dp_srtp_ctx_free(struct dp_srtp_ctx *c)
{
	if (!c)
		return;
	bool heap = c->heap;

	dp_srtp_ctx_fini(c);
	if (heap)
		free(c); /* fastpath-allow: control side, leg teardown */
}

void
dp_srtp_ctx_set_learning(struct dp_srtp_ctx *c, bool on)
{
	c->learn = on;
}

static struct stream *
stream_find(struct dp_srtp_ctx *c, uint32_t ssrc)
{
	for (int i = 0; i < DP_SRTP_MAX_SSRC; i++)
		if (c->streams[i].used && c->streams[i].ssrc == ssrc)
			return &c->streams[i];
	return NULL;
}

static struct stream *
stream_free_slot(struct dp_srtp_ctx *c)
{
	for (int i = 0; i < DP_SRTP_MAX_SSRC; i++)
		if (!c->streams[i].used)
			return &c->streams[i];
	return NULL;
}

int
dp_srtp_ctx_add_ssrc(struct dp_srtp_ctx *c, uint32_t ssrc, uint32_t roc)
{
	struct stream *s;

	if (stream_find(c, ssrc))
		return -EEXIST;
	s = stream_free_slot(c);
	if (!s)
		return -ENOSPC;
	memset(s, 0, sizeof(*s));
	s->ssrc = ssrc;
	s->rtp.hi = (uint64_t)roc << 16;
	s->used = 1;
	return 0;
}

/*
 * The stream for ssrc, or, if it is unknown and the context may learn it,
 * tmp made ready for it with *slot where it goes once the packet passes.
 */
static struct stream *
stream_get(struct dp_srtp_ctx *c, uint32_t ssrc, struct stream *tmp,
	   struct stream **slot)
{
	struct stream *s = stream_find(c, ssrc);

	*slot = NULL;
	if (s)
		return s;
	if (!c->learn)
		return NULL;
	*slot = stream_free_slot(c);
	if (!*slot)
		return NULL;
	memset(tmp, 0, sizeof(*tmp));
	tmp->ssrc = ssrc;
	tmp->used = 1;
	return tmp;
}

static inline void
stream_commit(struct stream *s, struct stream *slot)
{
	if (slot)
		*slot = *s;
}

/* ---- replay window (RFC 3711 §3.3.2) ---- */

static inline int
replay_check(const struct replay *r, uint64_t idx)
{
	uint64_t d;

	if (!r->seen || idx > r->hi)
		return 0;
	d = r->hi - idx;
	if (d >= DP_SRTP_REPLAY_WINDOW)
		return -DP_SRTP_ERR_OLD;
	if ((r->win[d >> 6] >> (d & 63)) & 1)
		return -DP_SRTP_ERR_REPLAY;
	return 0;
}

/* only after the packet authenticated (or, sending, was protected) */
static inline void
replay_add(struct replay *r, uint64_t idx)
{
	uint64_t d;

	if (!r->seen) {
		r->seen = 1;
		r->hi = idx;
		r->win[0] = 1;
		r->win[1] = 0;
		return;
	}
	if (idx > r->hi) {
		d = idx - r->hi;
		if (d >= 128) {
			r->win[0] = r->win[1] = 0;
		} else if (d >= 64) {
			r->win[1] = r->win[0] << (d - 64);
			r->win[0] = 0;
		} else {
			r->win[1] = r->win[1] << d | r->win[0] >> (64 - d);
			r->win[0] <<= d;
		}
		r->win[0] |= 1;
		r->hi = idx;
	} else {
		d = r->hi - idx;
		r->win[d >> 6] |= (uint64_t)1 << (d & 63);
	}
}

/*
 * RFC 3711 §3.3.1 / Appendix A: the packet index of a sequence number,
 * guessing the ROC from the highest index so far (s_l). Refuses a guess
 * before index 0 (OLD) or past 2^48 - 1 (EXHAUSTED, §9.2).
 */
static inline int
rtp_index(const struct replay *r, uint16_t seq, uint64_t *idx)
{
	uint32_t roc = (uint32_t)(r->hi >> 16);
	uint16_t s_l = (uint16_t)r->hi;
	int64_t v = roc;

	if (!r->seen) {
		*idx = (uint64_t)roc << 16 | seq;
		return 0;
	}
	if (s_l < 0x8000) {
		if ((int32_t)seq - (int32_t)s_l > 0x8000)
			v = (int64_t)roc - 1;
	} else if ((int32_t)s_l - 0x8000 > (int32_t)seq) {
		v = (int64_t)roc + 1;
	}
	if (v < 0)
		return -DP_SRTP_ERR_OLD;
	if (v > (int64_t)UINT32_MAX)
		return -DP_SRTP_ERR_EXHAUSTED;
	*idx = (uint64_t)v << 16 | seq;
	return 0;
}

/* ---- packets ---- */

/* RTP header length (RFC 3550 §5.1, §5.3.1), or 0 if malformed */
static inline size_t
rtp_header_len(const uint8_t *p, size_t len)
{
	size_t h;

	if (len < 12 || (p[0] >> 6) != 2)
		return 0;
	h = 12 + 4 * (size_t)(p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (len < h + 4)
			return 0;
		h += 4 + 4 * (size_t)rd16(p + h + 2);
	}
	return h <= len ? h : 0;
}

/* AES-CM IV (RFC 3711 §4.1.1): k_s * 2^16 ^ SSRC * 2^64 ^ i * 2^16 */
static inline void
cm_iv(uint8_t iv[16], const uint8_t salt[14], uint32_t ssrc, uint64_t idx)
{
	memcpy(iv, salt, 14);
	iv[14] = iv[15] = 0;
	iv[4] ^= (uint8_t)(ssrc >> 24);
	iv[5] ^= (uint8_t)(ssrc >> 16);
	iv[6] ^= (uint8_t)(ssrc >> 8);
	iv[7] ^= (uint8_t)ssrc;
	for (int i = 0; i < 6; i++)
		iv[8 + i] ^= (uint8_t)(idx >> (40 - 8 * i));
}

/* GCM IV (RFC 7714 §8.1, §9.1): 00 00 | SSRC | w | x ^ salt, where w|x is
 * ROC | SEQ for SRTP and 00 00 | 0 + SRTCP index for SRTCP */
static inline void
gcm_iv(uint8_t iv[12], const uint8_t salt[12], uint32_t ssrc, uint32_t w,
       uint16_t x)
{
	iv[0] = salt[0];
	iv[1] = salt[1];
	wr32(iv + 2, ssrc);
	wr32(iv + 6, w);
	iv[10] = (uint8_t)(x >> 8);
	iv[11] = (uint8_t)x;
	for (int i = 2; i < 12; i++)
		iv[i] ^= salt[i];
}

/* an IV XOR the SSRC and index is the session salt: leave none behind */
static inline void
iv_wipe(uint8_t *iv, size_t n)
{
	explicit_bzero(iv, n);
}

/*
 * GCM seal of pkt: aad = aad1 | aad2, then pt[0..ptlen) encrypted in place
 * and the tag written to tag.
 */
static int
gcm_seal(struct aes_key *k, GCM128_CONTEXT *g, const uint8_t iv[12],
	 const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
	 size_t aad2_len, uint8_t *pt, size_t ptlen, uint8_t *tag)
{
	k->failed = 0;
	CRYPTO_gcm128_setiv(g, iv, GCM_IV_LEN);
	if (CRYPTO_gcm128_aad(g, aad1, aad1_len) != 0 ||
	    (aad2_len && CRYPTO_gcm128_aad(g, aad2, aad2_len) != 0) ||
	    CRYPTO_gcm128_encrypt_ctr32(g, pt, pt, ptlen, gcm_ctr32) != 0)
		k->failed = 1;
	CRYPTO_gcm128_tag(g, tag, GCM_TAG_LEN);
	if (k->failed) {
		explicit_bzero(pt, ptlen);
		explicit_bzero(tag, GCM_TAG_LEN);
		return -DP_SRTP_ERR_CRYPTO;
	}
	return 0;
}

/* GCM open: the tag is compared by CRYPTO_gcm128_finish (CRYPTO_memcmp);
 * on failure the decrypted bytes are wiped */
static int
gcm_open(struct aes_key *k, GCM128_CONTEXT *g, const uint8_t iv[12],
	 const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
	 size_t aad2_len, uint8_t *ct, size_t ctlen, const uint8_t *tag)
{
	int bad;

	k->failed = 0;
	CRYPTO_gcm128_setiv(g, iv, GCM_IV_LEN);
	if (CRYPTO_gcm128_aad(g, aad1, aad1_len) != 0 ||
	    (aad2_len && CRYPTO_gcm128_aad(g, aad2, aad2_len) != 0) ||
	    CRYPTO_gcm128_decrypt_ctr32(g, ct, ct, ctlen, gcm_ctr32) != 0)
		k->failed = 1;
	bad = CRYPTO_gcm128_finish(g, tag, GCM_TAG_LEN) != 0;
	if (bad || k->failed) {
		explicit_bzero(ct, ctlen);
		return k->failed ? -DP_SRTP_ERR_CRYPTO : -DP_SRTP_ERR_AUTH;
	}
	return 0;
}

int
dp_srtp_protect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len, size_t cap,
		size_t *out_len)
{
	struct stream tmp, *s, *slot;
	size_t h, tl = c->tag_len;
	uint64_t idx;
	uint32_t ssrc;
	int rc;

	if (c->dir != DP_SRTP_PROTECT)
		return -DP_SRTP_ERR_INVAL;
	if (len > DP_SRTP_MAX_PKT - tl)
		return -DP_SRTP_ERR_MALFORMED;
	h = rtp_header_len(pkt, len);
	if (!h)
		return -DP_SRTP_ERR_MALFORMED;
	if (cap < len + tl)
		return -DP_SRTP_ERR_NOSPACE;
	ssrc = rd32(pkt + 8);
	s = stream_get(c, ssrc, &tmp, &slot);
	if (!s)
		return -DP_SRTP_ERR_SSRC;
	rc = rtp_index(&s->rtp, rd16(pkt + 2), &idx);
	if (!rc)
		rc = replay_check(&s->rtp, idx);
	if (rc)
		return rc;

	if (c->profile == DP_SRTP_AEAD_AES_128_GCM) {
		uint8_t iv[GCM_IV_LEN];

		gcm_iv(iv, c->rtp_salt, ssrc, (uint32_t)(idx >> 16),
		       (uint16_t)idx);
		rc = gcm_seal(&c->rtp_aes, c->rtp_gcm, iv, pkt, h, NULL, 0,
			      pkt + h, len - h, pkt + len);
		iv_wipe(iv, sizeof(iv));
		if (rc)
			return rc;
	} else {
		uint8_t iv[16], roc[4];

		cm_iv(iv, c->rtp_salt, ssrc, idx);
		rc = ctr_xor(&c->rtp_aes, iv, pkt + h, pkt + h, len - h);
		iv_wipe(iv, sizeof(iv));
		if (rc) {
			explicit_bzero(pkt + h, len - h);
			return -DP_SRTP_ERR_CRYPTO;
		}
		/* RFC 3711 §4.2: tag over the packet, then the ROC */
		wr32(roc, (uint32_t)(idx >> 16));
		hmac_sha1(c, &c->rtp_ipad, &c->rtp_opad, pkt, len, roc, 4);
		memcpy(pkt + len, c->digest, CM_TAG_LEN);
	}
	replay_add(&s->rtp, idx);
	stream_commit(s, slot);
	*out_len = len + tl;
	return 0;
}

int
dp_srtp_unprotect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len,
		  size_t *out_len)
{
	struct stream tmp, *s, *slot;
	size_t h, tl = c->tag_len, plen;
	uint64_t idx;
	uint32_t ssrc;
	int rc;

	if (c->dir != DP_SRTP_UNPROTECT)
		return -DP_SRTP_ERR_INVAL;
	if (len > DP_SRTP_MAX_PKT || len < 12 + tl)
		return -DP_SRTP_ERR_MALFORMED;
	h = rtp_header_len(pkt, len - tl);
	if (!h)
		return -DP_SRTP_ERR_MALFORMED;
	plen = len - tl - h;
	ssrc = rd32(pkt + 8);
	s = stream_get(c, ssrc, &tmp, &slot);
	if (!s)
		return -DP_SRTP_ERR_SSRC;
	rc = rtp_index(&s->rtp, rd16(pkt + 2), &idx);
	if (!rc)
		rc = replay_check(&s->rtp, idx);
	if (rc)
		return rc;

	if (c->profile == DP_SRTP_AEAD_AES_128_GCM) {
		uint8_t iv[GCM_IV_LEN];

		gcm_iv(iv, c->rtp_salt, ssrc, (uint32_t)(idx >> 16),
		       (uint16_t)idx);
		rc = gcm_open(&c->rtp_aes, c->rtp_gcm, iv, pkt, h, NULL, 0,
			      pkt + h, plen, pkt + len - tl);
		iv_wipe(iv, sizeof(iv));
		if (rc)
			return rc;
	} else {
		uint8_t iv[16], roc[4];

		/* authenticate first; decrypt only what verified */
		wr32(roc, (uint32_t)(idx >> 16));
		hmac_sha1(c, &c->rtp_ipad, &c->rtp_opad, pkt, len - tl, roc, 4);
		if (CRYPTO_memcmp(c->digest, pkt + len - tl, CM_TAG_LEN) != 0)
			return -DP_SRTP_ERR_AUTH;
		cm_iv(iv, c->rtp_salt, ssrc, idx);
		rc = ctr_xor(&c->rtp_aes, iv, pkt + h, pkt + h, plen);
		iv_wipe(iv, sizeof(iv));
		if (rc) {
			explicit_bzero(pkt + h, plen);
			return -DP_SRTP_ERR_CRYPTO;
		}
	}
	replay_add(&s->rtp, idx);
	stream_commit(s, slot);
	*out_len = len - tl;
	return 0;
}

/* RTCP: version 2 and at least the fixed header with the sender SSRC */
static inline bool
rtcp_ok(const uint8_t *p, size_t len)
{
	return len >= 8 && (p[0] >> 6) == 2;
}

int
dp_srtcp_protect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len, size_t cap,
		 size_t *out_len)
{
	struct stream tmp, *s, *slot;
	size_t tl = (size_t)c->tag_len + 4;
	uint8_t eidx[4];
	uint32_t ssrc, idx;
	int rc;

	if (c->dir != DP_SRTP_PROTECT)
		return -DP_SRTP_ERR_INVAL;
	if (len > DP_SRTP_MAX_PKT - tl || !rtcp_ok(pkt, len))
		return -DP_SRTP_ERR_MALFORMED;
	if (cap < len + tl)
		return -DP_SRTP_ERR_NOSPACE;
	ssrc = rd32(pkt + 4);
	s = stream_get(c, ssrc, &tmp, &slot);
	if (!s)
		return -DP_SRTP_ERR_SSRC;
	/* RFC 3711 §3.4: the index starts at 0 and is never reused */
	if (!s->rtcp.seen)
		idx = 0;
	else if (s->rtcp.hi >= SRTCP_MAX_INDEX)
		return -DP_SRTP_ERR_EXHAUSTED;
	else
		idx = (uint32_t)s->rtcp.hi + 1;
	wr32(eidx, SRTCP_E_BIT | idx);

	if (c->profile == DP_SRTP_AEAD_AES_128_GCM) {
		uint8_t iv[GCM_IV_LEN];

		/* RFC 7714 §9: aad = header | E + index; trailer = tag | E +
		 * index */
		gcm_iv(iv, c->rtcp_salt, ssrc, idx >> 16, (uint16_t)idx);
		rc = gcm_seal(&c->rtcp_aes, c->rtcp_gcm, iv, pkt, 8, eidx, 4,
			      pkt + 8, len - 8, pkt + len);
		iv_wipe(iv, sizeof(iv));
		if (rc)
			return rc;
		memcpy(pkt + len + GCM_TAG_LEN, eidx, 4);
	} else {
		uint8_t iv[16];

		cm_iv(iv, c->rtcp_salt, ssrc, idx);
		rc = ctr_xor(&c->rtcp_aes, iv, pkt + 8, pkt + 8, len - 8);
		iv_wipe(iv, sizeof(iv));
		if (rc) {
			explicit_bzero(pkt + 8, len - 8);
			return -DP_SRTP_ERR_CRYPTO;
		}
		/* RFC 3711 §3.4: E + index, then the tag over all before it */
		memcpy(pkt + len, eidx, 4);
		hmac_sha1(c, &c->rtcp_ipad, &c->rtcp_opad, pkt, len + 4, NULL,
			  0);
		memcpy(pkt + len + 4, c->digest, CM_TAG_LEN);
	}
	replay_add(&s->rtcp, idx);
	stream_commit(s, slot);
	*out_len = len + tl;
	return 0;
}

int
dp_srtcp_unprotect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len,
		   size_t *out_len)
{
	struct stream tmp, *s, *slot;
	size_t tl = (size_t)c->tag_len + 4, rlen;
	uint32_t ssrc, word, idx;
	bool enc;
	int rc;

	if (c->dir != DP_SRTP_UNPROTECT)
		return -DP_SRTP_ERR_INVAL;
	if (len > DP_SRTP_MAX_PKT || len < 8 + tl || !rtcp_ok(pkt, len))
		return -DP_SRTP_ERR_MALFORMED;
	rlen = len - tl; /* the RTCP packet's own length */
	ssrc = rd32(pkt + 4);
	s = stream_get(c, ssrc, &tmp, &slot);
	if (!s)
		return -DP_SRTP_ERR_SSRC;

	if (c->profile == DP_SRTP_AEAD_AES_128_GCM) {
		/* RFC 7714 §9: ... | tag | E + index */
		const uint8_t *eidx = pkt + len - 4;
		uint8_t iv[GCM_IV_LEN];

		word = rd32(eidx);
		enc = word & SRTCP_E_BIT;
		idx = word & SRTCP_MAX_INDEX;
		rc = replay_check(&s->rtcp, idx);
		if (rc)
			return rc;
		gcm_iv(iv, c->rtcp_salt, ssrc, idx >> 16, (uint16_t)idx);
		/* E=0 (RFC 7714 §9.2): the whole packet is aad */
		if (enc)
			rc = gcm_open(&c->rtcp_aes, c->rtcp_gcm, iv, pkt, 8,
				      eidx, 4, pkt + 8, rlen - 8, pkt + rlen);
		else
			rc = gcm_open(&c->rtcp_aes, c->rtcp_gcm, iv, pkt, rlen,
				      eidx, 4, pkt + rlen, 0, pkt + rlen);
		iv_wipe(iv, sizeof(iv));
		if (rc)
			return rc;
	} else {
		/* RFC 3711 §3.4: ... | E + index | tag */
		uint8_t iv[16];

		word = rd32(pkt + rlen);
		enc = word & SRTCP_E_BIT;
		idx = word & SRTCP_MAX_INDEX;
		rc = replay_check(&s->rtcp, idx);
		if (rc)
			return rc;
		hmac_sha1(c, &c->rtcp_ipad, &c->rtcp_opad, pkt, rlen + 4, NULL,
			  0);
		if (CRYPTO_memcmp(c->digest, pkt + rlen + 4, CM_TAG_LEN) != 0)
			return -DP_SRTP_ERR_AUTH;
		if (enc) {
			cm_iv(iv, c->rtcp_salt, ssrc, idx);
			rc = ctr_xor(&c->rtcp_aes, iv, pkt + 8, pkt + 8,
				     rlen - 8);
			iv_wipe(iv, sizeof(iv));
			if (rc) {
				explicit_bzero(pkt + 8, rlen - 8);
				return -DP_SRTP_ERR_CRYPTO;
			}
		}
	}
	replay_add(&s->rtcp, idx);
	stream_commit(s, slot);
	*out_len = rlen;
	return 0;
}
