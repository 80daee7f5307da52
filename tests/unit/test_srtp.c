/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane/wire/srtp.c: RFC 3711 §B.2/B.3 and RFC 7714 §16/§17 vectors, the
 * replay window, ROC estimation across sequence wraps, tampering, wrong
 * keys, profiles, the SSRC table, DTLS exporter key split, key wiping at
 * teardown, no allocation per packet, and interop with Debian's libsrtp2
 * in both directions for both profiles (SRTP and SRTCP, across a wrap).
 *
 * libcrypto's allocator is replaced (CRYPTO_set_mem_functions, before any
 * other libcrypto call) so the test can count allocations and look at
 * every block libcrypto frees: that is the debug hook the key-wipe test
 * reads the leg's key memory through.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <srtp2/srtp.h>

#include "check.h"
#include "srtp.h"

#define CM DP_SRTP_AES128_CM_HMAC_SHA1_80
#define GCM DP_SRTP_AEAD_AES_128_GCM

/* ---- libcrypto allocator hook ---- */

struct blk {
	struct blk *prev, *next;
	size_t size;
	uint32_t watched; /* held a secret when last scanned */
	uint32_t magic;
};
#define BLK_MAGIC 0x5e7b10c5u

static struct blk live = {&live, &live, 0, 0, 0};
static long n_allocs;
static const uint8_t *secrets[16];
static size_t secret_lens[16];
static int n_secrets;
static int freed_dirty; /* freed blocks that still held key material */

static bool
has_secret(const uint8_t *p, size_t n)
{
	for (int i = 0; i < n_secrets; i++)
		if (memmem(p, n, secrets[i], secret_lens[i]))
			return true;
	return false;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void *
t_malloc(size_t n, const char *file, int line)
{
	/* zeroed, so scanning a block never reads indeterminate bytes */
	struct blk *b = calloc(1, sizeof(*b) + n);

	(void)file;
	(void)line;
	if (!b)
		return NULL;
	b->size = n;
	b->watched = 0;
	b->magic = BLK_MAGIC;
	b->next = live.next;
	b->prev = &live;
	live.next->prev = b;
	live.next = b;
	n_allocs++;
	return b + 1;
}

static void
t_free(void *p, const char *file, int line)
{
	struct blk *b;

	(void)file;
	(void)line;
	if (!p)
		return;
	b = (struct blk *)p - 1;
	if (b->magic != BLK_MAGIC)
		abort();
	/* libcrypto cleanses before freeing what held keys */
	if (has_secret(p, b->size) || (b->watched && !all_zero(p, b->size)))
		freed_dirty++;
	b->prev->next = b->next;
	b->next->prev = b->prev;
	b->magic = 0;
	free(b);
}

static void *
t_realloc(void *p, size_t n, const char *file, int line)
{
	void *q;

	if (!p)
		return t_malloc(n, file, line);
	if (!n) {
		t_free(p, file, line);
		return NULL;
	}
	q = t_malloc(n, file, line);
	if (q) {
		size_t old = ((struct blk *)p - 1)->size;
		memcpy(q, p, old < n ? old : n);
		t_free(p, file, line);
	}
	return q;
}

/* marks live blocks that hold a secret or a given pointer; returns how
 * many */
static int
watch_live(const void *ptr_a, const void *ptr_b)
{
	int n = 0;

	for (struct blk *b = live.next; b != &live; b = b->next) {
		const uint8_t *p = (const uint8_t *)(b + 1);
		bool hit = has_secret(p, b->size);

		for (size_t i = 0; !hit && i + sizeof(void *) <= b->size; i++) {
			const void *v;

			memcpy(&v, p + i, sizeof(v));
			hit = (ptr_a && v == ptr_a) || (ptr_b && v == ptr_b);
		}
		if (hit) {
			b->watched = 1;
			n++;
		}
	}
	return n;
}

static int
live_watched(void)
{
	int n = 0;

	for (struct blk *b = live.next; b != &live; b = b->next)
		n += b->watched != 0;
	return n;
}

static int
live_with_secret(void)
{
	int n = 0;

	for (struct blk *b = live.next; b != &live; b = b->next)
		n += has_secret((const uint8_t *)(b + 1), b->size);
	return n;
}

/* ---- helpers ---- */

static size_t
unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static size_t
make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t plen, uint8_t fill)
{
	p[0] = 0x80;
	p[1] = 111;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = 0x12;
	p[5] = 0x34;
	p[6] = (uint8_t)(seq >> 8);
	p[7] = (uint8_t)seq;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < plen; i++)
		p[12 + i] = (uint8_t)(fill + i * 7 + seq);
	return 12 + plen;
}

/* an RTCP receiver report with one report block, then an SDES-ish tail */
static size_t
make_rtcp(uint8_t *p, uint32_t ssrc, uint8_t fill)
{
	static const uint8_t tmpl[32] = {
		0x81, 0xc9, 0x00, 0x07, 0, 0, 0, 0,
		0xde, 0xad, 0xbe, 0xef, 0x01, 0x00, 0x00, 0x05,
		0x00, 0x01, 0x23, 0x45, 0x00, 0x00, 0x00, 0x10,
		0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x01,
	};

	memcpy(p, tmpl, sizeof(tmpl));
	p[4] = (uint8_t)(ssrc >> 24);
	p[5] = (uint8_t)(ssrc >> 16);
	p[6] = (uint8_t)(ssrc >> 8);
	p[7] = (uint8_t)ssrc;
	p[31] = fill;
	return sizeof(tmpl);
}

static void
master_for(enum dp_srtp_profile p, uint8_t seed, uint8_t *key, uint8_t *salt)
{
	for (size_t i = 0; i < dp_srtp_key_len(p); i++)
		key[i] = (uint8_t)(seed * 31 + i * 3 + 1);
	for (size_t i = 0; i < dp_srtp_salt_len(p); i++)
		salt[i] = (uint8_t)(seed * 17 + i * 5 + 2);
}

struct pair {
	struct dp_srtp_ctx *tx, *rx;
};

static void
pair_new(struct pair *pr, enum dp_srtp_profile p, uint8_t seed)
{
	uint8_t key[16], salt[14];

	master_for(p, seed, key, salt);
	pr->tx = dp_srtp_ctx_new(p, DP_SRTP_PROTECT, key, dp_srtp_key_len(p),
				 salt, dp_srtp_salt_len(p));
	pr->rx = dp_srtp_ctx_new(p, DP_SRTP_UNPROTECT, key,
				 dp_srtp_key_len(p), salt, dp_srtp_salt_len(p));
	if (!pr->tx || !pr->rx) {
		fprintf(stderr, "dp_srtp_ctx_new: %s\n", strerror(errno));
		exit(1);
	}
}

static void
pair_free(struct pair *pr)
{
	dp_srtp_ctx_free(pr->tx);
	dp_srtp_ctx_free(pr->rx);
}

static const char *
pname(enum dp_srtp_profile p)
{
	return p == GCM ? "GCM" : "CM";
}

/* ---- RFC 3711 ---- */

/* §B.3: key derivation with kdr 0 */
static void
test_kdf_rfc3711(void)
{
	uint8_t mk[16], ms[14], want[20];
	struct dp_srtp_session_keys k;

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk);
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms);
	CHECK_EQ(dp_srtp_kdf(CM, mk, 16, ms, 14, &k), 0);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want);
	CHECK_MEM(k.rtp_key, want, 16);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want);
	CHECK_MEM(k.rtp_salt, want, 14);
	/* the first 20 of the 94 octets §B.3 lists: n_a = 160 for SHA1-80 */
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want);
	CHECK_MEM(k.rtp_auth, want, 20);
	/* the SRTCP labels give other keys */
	CHECK(memcmp(k.rtcp_key, k.rtp_key, 16) != 0);
	CHECK(memcmp(k.rtcp_auth, k.rtp_auth, 20) != 0);
	CHECK(memcmp(k.rtcp_salt, k.rtp_salt, 14) != 0);

	/* lengths must match the profile */
	CHECK_EQ(dp_srtp_kdf(CM, mk, 16, ms, 12, &k), -EINVAL);
	CHECK_EQ(dp_srtp_kdf(GCM, mk, 16, ms, 14, &k), -EINVAL);
	CHECK_EQ(dp_srtp_kdf(CM, mk, 32, ms, 14, &k), -EINVAL);
	CHECK_EQ(dp_srtp_kdf(GCM, mk, 16, ms, 12, &k), 0);
}

/*
 * §B.2: AES-CM keystream for session key 2B7E...3C, salt F0F1...FCFD,
 * SSRC 0, index 0: protecting zeros gives the keystream. Then the same IV
 * reached with a non-zero SSRC and index (salt XORed to cancel them),
 * which checks the IV layout of §4.1.1.
 */
static void
test_aes_cm_keystream(void)
{
	static const char *const ks_hex =
		"E03EAD0935C95E80E166B16DD92B4EB4"
		"D23513162B02D0F72A43A2FE4A5F97AB"
		"41E95B3BB0A2E8DD477901E4FCA894C0";
	struct dp_srtp_session_keys k;
	uint8_t ks[48], pkt[128];
	size_t n, out;
	void *mem = aligned_alloc(DP_SRTP_CTX_ALIGN, dp_srtp_ctx_size());
	struct dp_srtp_ctx *c;

	unhex(ks_hex, ks);
	memset(&k, 0, sizeof(k));
	unhex("2B7E151628AED2A6ABF7158809CF4F3C", k.rtp_key);
	unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", k.rtp_salt);
	memcpy(k.rtcp_key, k.rtp_key, 16);
	memcpy(k.rtcp_salt, k.rtp_salt, 14);

	c = dp_srtp_ctx_init(mem, dp_srtp_ctx_size(), CM, DP_SRTP_PROTECT, &k);
	CHECK(c != NULL);
	n = make_rtp(pkt, 0, 0, 48, 0);
	memset(pkt + 12, 0, 48);
	CHECK_EQ(dp_srtp_protect(c, pkt, n, sizeof(pkt), &out), 0);
	CHECK_EQ(out, n + 10);
	CHECK_MEM(pkt + 12, ks, 48);
	dp_srtp_ctx_fini(c);

	/* SSRC 0xcafebabe, ROC 0x01020304, SEQ 0x0506 */
	const uint32_t ssrc = 0xcafebabe;
	const uint64_t idx = (uint64_t)0x01020304 << 16 | 0x0506;
	for (int i = 0; i < 4; i++)
		k.rtp_salt[4 + i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
	for (int i = 0; i < 6; i++)
		k.rtp_salt[8 + i] ^= (uint8_t)(idx >> (40 - 8 * i));
	c = dp_srtp_ctx_init(mem, dp_srtp_ctx_size(), CM, DP_SRTP_PROTECT, &k);
	CHECK(c != NULL);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(c, ssrc, 0x01020304), 0);
	n = make_rtp(pkt, 0x0506, ssrc, 48, 0);
	memset(pkt + 12, 0, 48);
	CHECK_EQ(dp_srtp_protect(c, pkt, n, sizeof(pkt), &out), 0);
	CHECK_MEM(pkt + 12, ks, 48);
	dp_srtp_ctx_fini(c);
	free(mem);
}

/* ---- RFC 7714 §16 (SRTP) and §17 (SRTCP), AEAD_AES_128_GCM ---- */

static const char *const v7714_rtp_plain =
	"8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973"
	"20646976 69736120 696e2070 61727465 73207472 6573";
static const char *const v7714_rtp_enc =
	"8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca"
	"be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1"
	"6a9152cf 765ee439 0cce";
static const char *const v7714_rtcp_plain =
	"81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930"
	"4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
static const char *const v7714_rtcp_enc =
	"81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7"
	"6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458"
	"96cf4d2f c5abf872 45d9eade 800005d4";
static const char *const v7714_rtcp_auth_only =
	"81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930"
	"4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968"
	"3dd78ec9 2ae58790 125f62b3 000005d4";

static struct dp_srtp_ctx *
gcm_vector_ctx(void *mem, enum dp_srtp_dir dir)
{
	struct dp_srtp_session_keys k;

	memset(&k, 0, sizeof(k));
	unhex("000102030405060708090a0b0c0d0e0f", k.rtp_key);
	unhex("517569642070726f2071756f", k.rtp_salt); /* "Quid pro quo" */
	memcpy(k.rtcp_key, k.rtp_key, 16);
	memcpy(k.rtcp_salt, k.rtp_salt, 12);
	return dp_srtp_ctx_init(mem, dp_srtp_ctx_size(), GCM, dir, &k);
}

static void
test_gcm_rfc7714(void)
{
	uint8_t plain[128], enc[128], pkt[128];
	size_t pn, en, out = 0;
	void *mem = aligned_alloc(DP_SRTP_CTX_ALIGN, dp_srtp_ctx_size());
	struct dp_srtp_ctx *c;

	/* §16.1 encryption, §16.2 decryption */
	pn = unhex(v7714_rtp_plain, plain);
	en = unhex(v7714_rtp_enc, enc);
	CHECK_EQ(pn, 50);
	CHECK_EQ(en, 66);
	c = gcm_vector_ctx(mem, DP_SRTP_PROTECT);
	CHECK(c != NULL);
	memcpy(pkt, plain, pn);
	CHECK_EQ(dp_srtp_protect(c, pkt, pn, sizeof(pkt), &out), 0);
	CHECK_EQ(out, en);
	CHECK_MEM(pkt, enc, en);
	dp_srtp_ctx_fini(c);

	c = gcm_vector_ctx(mem, DP_SRTP_UNPROTECT);
	memcpy(pkt, enc, en);
	CHECK_EQ(dp_srtp_unprotect(c, pkt, en, &out), 0);
	CHECK_EQ(out, pn);
	CHECK_MEM(pkt, plain, pn);
	/* §16.2.1-style failure: one bit of the tag */
	memcpy(pkt, enc, en);
	pkt[en - 1] ^= 1;
	CHECK_EQ(dp_srtp_unprotect(c, pkt, en, &out), -DP_SRTP_ERR_REPLAY);
	dp_srtp_ctx_fini(c);
	c = gcm_vector_ctx(mem, DP_SRTP_UNPROTECT);
	CHECK_EQ(dp_srtp_unprotect(c, pkt, en, &out), -DP_SRTP_ERR_AUTH);
	CHECK(all_zero(pkt + 12, en - 12 - 16)); /* no plaintext left */
	dp_srtp_ctx_fini(c);

	/* §17.1: SRTCP encryption with index 0x5d4. The index is never
	 * chosen by the caller, so 0x5d4 packets go first. */
	pn = unhex(v7714_rtcp_plain, plain);
	en = unhex(v7714_rtcp_enc, enc);
	CHECK_EQ(pn, 52);
	CHECK_EQ(en, 72);
	c = gcm_vector_ctx(mem, DP_SRTP_PROTECT);
	for (int i = 0; i < 0x5d4; i++) {
		memcpy(pkt, plain, pn);
		CHECK_EQ(dp_srtcp_protect(c, pkt, pn, sizeof(pkt), &out), 0);
	}
	memcpy(pkt, plain, pn);
	CHECK_EQ(dp_srtcp_protect(c, pkt, pn, sizeof(pkt), &out), 0);
	CHECK_EQ(out, en);
	CHECK_MEM(pkt, enc, en);
	dp_srtp_ctx_fini(c);

	/* §17.2: decryption; §17.4: the E=0 (authenticated only) packet */
	c = gcm_vector_ctx(mem, DP_SRTP_UNPROTECT);
	memcpy(pkt, enc, en);
	CHECK_EQ(dp_srtcp_unprotect(c, pkt, en, &out), 0);
	CHECK_EQ(out, pn);
	CHECK_MEM(pkt, plain, pn);
	dp_srtp_ctx_fini(c);
	c = gcm_vector_ctx(mem, DP_SRTP_UNPROTECT);
	en = unhex(v7714_rtcp_auth_only, enc);
	CHECK_EQ(en, 72);
	memcpy(pkt, enc, en);
	CHECK_EQ(dp_srtcp_unprotect(c, pkt, en, &out), 0);
	CHECK_EQ(out, pn);
	CHECK_MEM(pkt, plain, pn);
	/* the same index again, encrypted this time: a replay */
	en = unhex(v7714_rtcp_enc, enc);
	memcpy(pkt, enc, en);
	CHECK_EQ(dp_srtcp_unprotect(c, pkt, en, &out), -DP_SRTP_ERR_REPLAY);
	dp_srtp_ctx_fini(c);
	/* flipping the E bit of the encrypted packet breaks the tag */
	c = gcm_vector_ctx(mem, DP_SRTP_UNPROTECT);
	memcpy(pkt, enc, en);
	pkt[en - 4] ^= 0x80;
	CHECK_EQ(dp_srtcp_unprotect(c, pkt, en, &out), -DP_SRTP_ERR_AUTH);
	dp_srtp_ctx_fini(c);
	free(mem);
}

/* ---- behaviour ---- */

/* CSRCs and a header extension stay in the clear and authenticated */
static void
test_roundtrip(enum dp_srtp_profile p)
{
	struct pair pr;
	uint8_t pkt[256], orig[256];
	size_t n, out, out2;

	pair_new(&pr, p, 1);
	/* V=2, X=1, CC=2; two CSRCs; RFC 8285 one-byte extension (1 word) */
	n = make_rtp(pkt, 77, 0x11111111, 0, 0);
	pkt[0] = 0x92;
	memcpy(pkt + 12, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	memcpy(pkt + 20, "\xbe\xde\x00\x01\x10\xaa\x00\x00", 8);
	for (int i = 0; i < 40; i++)
		pkt[28 + i] = (uint8_t)i;
	n = 68;
	memcpy(orig, pkt, n);
	CHECK_EQ(dp_srtp_protect(pr.tx, pkt, n, sizeof(pkt), &out), 0);
	CHECK_EQ(out, n + dp_srtp_rtp_trailer(p));
	CHECK_MEM(pkt, orig, 28);               /* header in the clear */
	CHECK(memcmp(pkt + 28, orig + 28, 40) != 0); /* payload not */
	CHECK_EQ(dp_srtp_unprotect(pr.rx, pkt, out, &out2), 0);
	CHECK_EQ(out2, n);
	CHECK_MEM(pkt, orig, n);

	/* an empty payload is fine too */
	n = make_rtp(pkt, 78, 0x11111111, 0, 0);
	CHECK_EQ(dp_srtp_protect(pr.tx, pkt, n, sizeof(pkt), &out), 0);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, pkt, out, &out2), 0);
	CHECK_EQ(out2, 12);

	/* SRTCP, twice: indexes 0 and 1 */
	for (int i = 0; i < 2; i++) {
		n = make_rtcp(pkt, 0x11111111, (uint8_t)i);
		memcpy(orig, pkt, n);
		CHECK_EQ(dp_srtcp_protect(pr.tx, pkt, n, sizeof(pkt), &out), 0);
		CHECK_EQ(out, n + dp_srtp_rtcp_trailer(p));
		CHECK_MEM(pkt, orig, 8);
		CHECK(memcmp(pkt + 8, orig + 8, n - 8) != 0);
		/* E=1 and the index, where the profile puts them */
		size_t at = p == GCM ? out - 4 : out - 14;
		CHECK_EQ(pkt[at], 0x80);
		CHECK_EQ(pkt[at + 3], i);
		CHECK_EQ(dp_srtcp_unprotect(pr.rx, pkt, out, &out2), 0);
		CHECK_EQ(out2, n);
		CHECK_MEM(pkt, orig, n);
	}
	pair_free(&pr);
}

/* RFC 3711 §3.3.2 replay window: 128 packets */
static void
test_replay(enum dp_srtp_profile p)
{
	enum { N = 400 };
	static uint8_t pk[N][64];
	static size_t pl[N];
	struct pair pr;
	uint8_t buf[64];
	size_t out;

	pair_new(&pr, p, 2);
	for (int i = 0; i < N; i++) {
		size_t n = make_rtp(pk[i], (uint16_t)(1000 + i), 0xabc, 20, 9);
		CHECK_EQ(dp_srtp_protect(pr.tx, pk[i], n, 64, &pl[i]), 0);
	}
#define RX(i) (memcpy(buf, pk[i], pl[i]), \
	       dp_srtp_unprotect(pr.rx, buf, pl[i], &out))
	CHECK_EQ(RX(199), 0);                    /* highest: 199 */
	CHECK_EQ(RX(199), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RX(72), 0);                     /* 127 behind: in */
	CHECK_EQ(RX(72), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RX(71), -DP_SRTP_ERR_OLD);      /* 128 behind: out */
	CHECK_EQ(RX(0), -DP_SRTP_ERR_OLD);
	/* out of order inside the window: each accepted once */
	for (int i = 198; i >= 150; i -= 3)
		CHECK_EQ(RX(i), 0);
	for (int i = 198; i >= 150; i -= 3)
		CHECK_EQ(RX(i), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RX(197), 0);
	/* forward by 1, 63, 64, 65 and 200: the window slides */
	CHECK_EQ(RX(200), 0);
	CHECK_EQ(RX(199), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RX(263), 0);
	CHECK_EQ(RX(200), -DP_SRTP_ERR_REPLAY);  /* 63 behind, kept */
	CHECK_EQ(RX(199), -DP_SRTP_ERR_REPLAY);  /* 64 behind, kept */
	CHECK_EQ(RX(198), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RX(150), -DP_SRTP_ERR_REPLAY);  /* 113 behind, still seen */
	CHECK_EQ(RX(136), 0);                    /* 127 behind, never seen */
	CHECK_EQ(RX(135), -DP_SRTP_ERR_OLD);
	CHECK_EQ(RX(327), 0);                    /* +64 */
	CHECK_EQ(RX(263), -DP_SRTP_ERR_REPLAY);  /* 64 behind */
	CHECK_EQ(RX(200), -DP_SRTP_ERR_REPLAY);  /* 127 behind, seen */
	CHECK_EQ(RX(201), 0);                    /* 126 behind, not seen */
	CHECK_EQ(RX(199), -DP_SRTP_ERR_OLD);
	CHECK_EQ(RX(392), 0);                    /* +65 */
	CHECK_EQ(RX(327), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RX(265), 0);
	CHECK_EQ(RX(264), -DP_SRTP_ERR_OLD);
	for (int i = 266; i < 392; i++)
		CHECK_EQ(RX(i), i == 327 ? -DP_SRTP_ERR_REPLAY : 0);
	CHECK_EQ(RX(399), 0);
	for (int i = 393; i < 398; i++)
		CHECK_EQ(RX(i), 0);
	for (int i = 272; i < 400; i++)          /* all but 398 seen */
		if (i != 398)
			CHECK_EQ(RX(i), -DP_SRTP_ERR_REPLAY);
#undef RX

	/* a forged packet far ahead must not move the window: 398 is still
	 * inside it afterwards */
	make_rtp(buf, (uint16_t)(1000 + 399 + 1000), 0xabc, 20, 9);
	memset(buf + 32, 0x55, 16);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, 32 + dp_srtp_rtp_trailer(p),
				   &out), -DP_SRTP_ERR_AUTH);
	memcpy(buf, pk[398], pl[398]);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, pl[398], &out), 0);

	/* the sender refuses to reuse an index (keystream / nonce reuse) */
	size_t n = make_rtp(buf, 1000, 0xabc, 20, 9);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_OLD);
	n = make_rtp(buf, 1399, 0xabc, 20, 9);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_REPLAY);

	/* SRTCP: the same window over the 31-bit index */
	static uint8_t rk[200][64];
	static size_t rl[200];
	for (int i = 0; i < 200; i++) {
		n = make_rtcp(rk[i], 0xabc, (uint8_t)i);
		CHECK_EQ(dp_srtcp_protect(pr.tx, rk[i], n, 64, &rl[i]), 0);
	}
#define RXC(i) (memcpy(buf, rk[i], rl[i]), \
		dp_srtcp_unprotect(pr.rx, buf, rl[i], &out))
	CHECK_EQ(RXC(150), 0);
	CHECK_EQ(RXC(150), -DP_SRTP_ERR_REPLAY);
	CHECK_EQ(RXC(23), 0);
	CHECK_EQ(RXC(22), -DP_SRTP_ERR_OLD);
	CHECK_EQ(RXC(199), 0);
	CHECK_EQ(RXC(72), 0);
	CHECK_EQ(RXC(71), -DP_SRTP_ERR_OLD);
	CHECK_EQ(RXC(151), 0);
	CHECK_EQ(RXC(151), -DP_SRTP_ERR_REPLAY);
#undef RXC
	pair_free(&pr);
}

/* RFC 3711 §3.3.1: ROC across sequence wraps, index estimation */
static void
test_roc(enum dp_srtp_profile p)
{
	enum { N = 40 };
	static uint8_t pk[N][64];
	static size_t pl[N];
	struct pair pr;
	uint8_t buf[64], want[64];
	size_t out, n;

	pair_new(&pr, p, 3);
	/* 65520 .. 65535, 0 .. 23: ROC 0 then 1 */
	for (int i = 0; i < N; i++) {
		n = make_rtp(pk[i], (uint16_t)(65520 + i), 0x77, 20, 1);
		CHECK_EQ(dp_srtp_protect(pr.tx, pk[i], n, 64, &pl[i]), 0);
	}
	/* in order up to 65535 and 0, 1, then 65534 late, reordered */
	for (int i = 0; i < 14; i++) {
		memcpy(buf, pk[i], pl[i]);
		CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, pl[i], &out), 0);
	}
	int order[] = {16, 17, 15, 14, 18, 19, 39, 20, 38, 21};
	for (size_t j = 0; j < sizeof(order) / sizeof(order[0]); j++) {
		int i = order[j];
		memcpy(buf, pk[i], pl[i]);
		CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, pl[i], &out), 0);
		make_rtp(want, (uint16_t)(65520 + i), 0x77, 20, 1);
		CHECK_MEM(buf, want, out);
	}
	memcpy(buf, pk[15], pl[15]);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, pl[15], &out),
		 -DP_SRTP_ERR_REPLAY);
	pair_free(&pr);

	/* a receiver that assumes the wrong ROC cannot authenticate */
	pair_new(&pr, p, 4);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(pr.tx, 0x99, 5), 0);
	n = make_rtp(buf, 100, 0x99, 20, 1);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, 64, &out), 0);
	memcpy(want, buf, out);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, out, &n), -DP_SRTP_ERR_AUTH);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(pr.rx, 0x99, 5), 0);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(pr.rx, 0x99, 5), -EEXIST);
	memcpy(buf, want, out);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, out, &n), 0);
	pair_free(&pr);

	/* a long run: every sequence number twice over, in order, with a
	 * jump of 30000 forward each 1000 packets (still under 2^15) */
	pair_new(&pr, p, 5);
	uint32_t seq = 500;
	int bad = 0;
	for (int i = 0; i < 140000; i++) {
		n = make_rtp(buf, (uint16_t)seq, 0x1234, 8, 2);
		if (dp_srtp_protect(pr.tx, buf, n, 64, &out) ||
		    dp_srtp_unprotect(pr.rx, buf, out, &n))
			bad++;
		seq += (i % 1000 == 999) ? 30000 : 1;
	}
	CHECK_EQ(bad, 0);
	pair_free(&pr);

	/* the index space ends at 2^48 - 1 (RFC 3711 §9.2) */
	pair_new(&pr, p, 6);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(pr.tx, 0x5, 0xffffffff), 0);
	n = make_rtp(buf, 65535, 0x5, 8, 2);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, 64, &out), 0);
	n = make_rtp(buf, 0, 0x5, 8, 2);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, 64, &out),
		 -DP_SRTP_ERR_EXHAUSTED);
	pair_free(&pr);
}

/* every single-bit change is refused; AES-CM leaves the buffer as it
 * was (authenticate, then decrypt), GCM leaves no plaintext */
static void
test_tamper(enum dp_srtp_profile p)
{
	struct pair pr;
	uint8_t good[128], buf[128];
	size_t n, out, gl, tl = dp_srtp_rtp_trailer(p);
	int accepted = 0, leaked = 0;

	pair_new(&pr, p, 7);
	n = make_rtp(good, 4000, 0xfeed, 60, 3);
	CHECK_EQ(dp_srtp_protect(pr.tx, good, n, sizeof(good), &gl), 0);
	for (size_t byte = 0; byte < gl; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, good, gl);
			buf[byte] ^= (uint8_t)(1 << bit);
			out = 12345;
			int rc = dp_srtp_unprotect(pr.rx, buf, gl, &out);
			if (rc == 0 || out != 12345)
				accepted++;
			if (p == CM) {
				buf[byte] ^= (uint8_t)(1 << bit);
				leaked += memcmp(buf, good, gl) != 0;
			} else if (rc == -DP_SRTP_ERR_AUTH && byte != 0) {
				/* (byte 0 moves the payload: CC, X) */
				leaked += !all_zero(buf + 12, gl - 12 - tl);
			}
		}
	}
	CHECK_EQ(accepted, 0);
	CHECK_EQ(leaked, 0);
	/* the learning table did not fill up with forged SSRCs */
	memcpy(buf, good, gl);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, gl, &out), 0);
	for (uint32_t s = 1; s < DP_SRTP_MAX_SSRC; s++) {
		n = make_rtp(buf, 1, s, 10, 0);
		CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out), 0);
		CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, out, &n), 0);
	}
	/* truncated: the tag cut short */
	memcpy(buf, good, gl);
	CHECK(dp_srtp_unprotect(pr.rx, buf, gl - 1, &out) != 0);

	/* SRTCP, every bit */
	n = make_rtcp(good, 0xfeed, 0x42);
	CHECK_EQ(dp_srtcp_protect(pr.tx, good, n, sizeof(good), &gl), 0);
	accepted = 0;
	for (size_t byte = 0; byte < gl; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, good, gl);
			buf[byte] ^= (uint8_t)(1 << bit);
			if (dp_srtcp_unprotect(pr.rx, buf, gl, &out) == 0)
				accepted++;
		}
	}
	CHECK_EQ(accepted, 0);
	memcpy(buf, good, gl);
	CHECK_EQ(dp_srtcp_unprotect(pr.rx, buf, gl, &out), 0);
	pair_free(&pr);
}

static void
test_wrong_key(enum dp_srtp_profile p)
{
	struct pair a, b;
	uint8_t buf[128], key[16], salt[14];
	size_t n, out;

	pair_new(&a, p, 8);
	pair_new(&b, p, 9);
	n = make_rtp(buf, 10, 0x10, 40, 0);
	CHECK_EQ(dp_srtp_protect(a.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtp_unprotect(b.rx, buf, out, &n), -DP_SRTP_ERR_AUTH);
	n = make_rtcp(buf, 0x10, 0);
	CHECK_EQ(dp_srtcp_protect(a.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtcp_unprotect(b.rx, buf, out, &n), -DP_SRTP_ERR_AUTH);

	/* right key, salt off by one bit */
	master_for(p, 8, key, salt);
	salt[3] ^= 1;
	struct dp_srtp_ctx *rx = dp_srtp_ctx_new(p, DP_SRTP_UNPROTECT, key, 16,
						 salt, dp_srtp_salt_len(p));
	CHECK(rx != NULL);
	n = make_rtp(buf, 11, 0x10, 40, 0);
	CHECK_EQ(dp_srtp_protect(a.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtp_unprotect(rx, buf, out, &n), -DP_SRTP_ERR_AUTH);
	dp_srtp_ctx_free(rx);

	/* the other profile with the same bytes */
	master_for(p, 8, key, salt);
	enum dp_srtp_profile q = p == GCM ? CM : GCM;
	rx = dp_srtp_ctx_new(q, DP_SRTP_UNPROTECT, key, 16, salt,
			     dp_srtp_salt_len(q));
	CHECK(rx != NULL);
	n = make_rtp(buf, 12, 0x10, 40, 0);
	CHECK_EQ(dp_srtp_protect(a.tx, buf, n, sizeof(buf), &out), 0);
	CHECK(dp_srtp_unprotect(rx, buf, out, &n) != 0);
	dp_srtp_ctx_free(rx);
	pair_free(&a);
	pair_free(&b);
}

static void
test_profiles_and_args(void)
{
	uint8_t key[32] = {1}, salt[14] = {2}, buf[64];
	struct dp_srtp_session_keys k;
	size_t out;

	/* RFC 5764 SRTP_AES128_CM_HMAC_SHA1_32 (2), NULL ciphers (5, 6),
	 * AEAD_AES_256_GCM (8): refused */
	static const int refused[] = {0, 2, 3, 4, 5, 6, 8, 0x10, -1};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		enum dp_srtp_profile p = (enum dp_srtp_profile)refused[i];
		CHECK(!dp_srtp_profile_ok(refused[i]));
		errno = 0;
		CHECK(dp_srtp_ctx_new(p, DP_SRTP_PROTECT, key, 16, salt, 14) ==
		      NULL);
		CHECK_EQ(errno, EINVAL);
		CHECK(dp_srtp_ctx_new(p, DP_SRTP_PROTECT, key, 32, salt, 12) ==
		      NULL);
		CHECK_EQ(dp_srtp_key_len(p), 0);
		CHECK_EQ(dp_srtp_exporter_len(p), 0);
		CHECK_EQ(dp_srtp_kdf(p, key, 16, salt, 14, &k), -EINVAL);
	}
	CHECK(dp_srtp_profile_ok(1));
	CHECK(dp_srtp_profile_ok(7));
	CHECK_EQ(dp_srtp_exporter_len(CM), 60);
	CHECK_EQ(dp_srtp_exporter_len(GCM), 56);
	CHECK_EQ(dp_srtp_rtp_trailer(CM), 10);
	CHECK_EQ(dp_srtp_rtp_trailer(GCM), 16);
	CHECK_EQ(dp_srtp_rtcp_trailer(CM), 14);
	CHECK_EQ(dp_srtp_rtcp_trailer(GCM), 20);
	/* wrong lengths for good profiles */
	errno = 0;
	CHECK(dp_srtp_ctx_new(GCM, DP_SRTP_PROTECT, key, 16, salt, 14) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(dp_srtp_ctx_new(CM, DP_SRTP_PROTECT, key, 32, salt, 14) == NULL);
	CHECK(dp_srtp_ctx_new(CM, 3, key, 16, salt, 14) == NULL);

	/* caller memory: too small, misaligned */
	uint8_t *mem = aligned_alloc(DP_SRTP_CTX_ALIGN,
				     dp_srtp_ctx_size() + DP_SRTP_CTX_ALIGN);
	CHECK_EQ(dp_srtp_kdf(CM, key, 16, salt, 14, &k), 0);
	errno = 0;
	CHECK(dp_srtp_ctx_init(mem, dp_srtp_ctx_size() - 1, CM,
			       DP_SRTP_PROTECT, &k) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(dp_srtp_ctx_init(mem + 8, dp_srtp_ctx_size(), CM,
			       DP_SRTP_PROTECT, &k) == NULL);
	free(mem);

	/* direction, tailroom, malformed */
	struct pair pr;
	pair_new(&pr, CM, 10);
	size_t n = make_rtp(buf, 1, 1, 20, 0);
	CHECK_EQ(dp_srtp_protect(pr.rx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_INVAL);
	CHECK_EQ(dp_srtp_unprotect(pr.tx, buf, n, &out), -DP_SRTP_ERR_INVAL);
	CHECK_EQ(dp_srtcp_protect(pr.rx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_INVAL);
	CHECK_EQ(dp_srtcp_unprotect(pr.tx, buf, n, &out), -DP_SRTP_ERR_INVAL);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, n + 9, &out),
		 -DP_SRTP_ERR_NOSPACE);
	CHECK_EQ(dp_srtcp_protect(pr.tx, buf, 32, 32 + 13, &out),
		 -DP_SRTP_ERR_NOSPACE);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, 11, sizeof(buf), &out),
		 -DP_SRTP_ERR_MALFORMED);
	buf[0] = 0x40; /* version 1 */
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_MALFORMED);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, n, &out),
		 -DP_SRTP_ERR_MALFORMED);
	buf[0] = 0x8f; /* 15 CSRCs do not fit in 32 bytes */
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_MALFORMED);
	buf[0] = 0x90; /* extension longer than the packet */
	buf[12] = 0xbe;
	buf[13] = 0xde;
	buf[14] = 0x00;
	buf[15] = 0x09;
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_MALFORMED);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, n, &out),
		 -DP_SRTP_ERR_MALFORMED);
	CHECK_EQ(dp_srtcp_unprotect(pr.rx, buf, 21, &out),
		 -DP_SRTP_ERR_MALFORMED);
	CHECK_EQ(dp_srtcp_protect(pr.tx, buf, 7, sizeof(buf), &out),
		 -DP_SRTP_ERR_MALFORMED);
	CHECK(strcmp(dp_srtp_strerror(-DP_SRTP_ERR_AUTH), "srtp_auth") == 0);
	CHECK(strcmp(dp_srtp_strerror(0), "ok") == 0);
	CHECK(strcmp(dp_srtp_strerror(-99), "srtp_unknown_error") == 0);
	CHECK_EQ(dp_srtp_ctx_profile(pr.tx), CM);
	pair_free(&pr);
}

/* unknown SSRCs: learned up to the table size, or refused */
static void
test_ssrc_table(enum dp_srtp_profile p)
{
	struct pair pr;
	uint8_t buf[64];
	size_t n, out;

	pair_new(&pr, p, 11);
	for (uint32_t s = 0; s < DP_SRTP_MAX_SSRC; s++) {
		n = make_rtp(buf, 5, 100 + s, 10, 0);
		CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out), 0);
		CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, out, &n), 0);
	}
	n = make_rtp(buf, 5, 999, 10, 0);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_SSRC);
	n = make_rtcp(buf, 999, 0);
	CHECK_EQ(dp_srtcp_protect(pr.tx, buf, n, sizeof(buf), &out),
		 -DP_SRTP_ERR_SSRC);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(pr.rx, 999, 0), -ENOSPC);
	/* RTCP from a known SSRC is fine */
	n = make_rtcp(buf, 103, 0);
	CHECK_EQ(dp_srtcp_protect(pr.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtcp_unprotect(pr.rx, buf, out, &n), 0);
	pair_free(&pr);

	/* named SSRCs only */
	pair_new(&pr, p, 12);
	CHECK_EQ(dp_srtp_ctx_add_ssrc(pr.rx, 0x42, 0), 0);
	dp_srtp_ctx_set_learning(pr.rx, false);
	n = make_rtp(buf, 5, 0x43, 10, 0);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, out, &n), -DP_SRTP_ERR_SSRC);
	n = make_rtcp(buf, 0x43, 0);
	CHECK_EQ(dp_srtcp_protect(pr.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtcp_unprotect(pr.rx, buf, out, &n), -DP_SRTP_ERR_SSRC);
	n = make_rtp(buf, 5, 0x42, 10, 0);
	CHECK_EQ(dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out), 0);
	CHECK_EQ(dp_srtp_unprotect(pr.rx, buf, out, &n), 0);
	pair_free(&pr);
}

/* RFC 5764 §4.2 key split, and the two ends agree */
static void
test_exporter(void)
{
	uint8_t m[60];
	struct dp_srtp_master ll, lr, cl, cr;

	for (int i = 0; i < 60; i++)
		m[i] = (uint8_t)i;
	CHECK_EQ(dp_srtp_keys_from_exporter(CM, m, 60, true, &ll, &lr), 0);
	CHECK_EQ(ll.key_len, 16);
	CHECK_EQ(ll.salt_len, 14);
	CHECK_EQ(ll.key[0], 16);   /* server_write_key */
	CHECK_EQ(ll.salt[0], 46);  /* server_write_salt: 32 + 14 */
	CHECK_EQ(ll.salt[13], 59);
	CHECK_EQ(lr.key[0], 0);    /* client_write_key */
	CHECK_EQ(lr.key[15], 15);
	CHECK_EQ(lr.salt[0], 32);  /* client_write_salt */
	CHECK_EQ(dp_srtp_keys_from_exporter(CM, m, 60, false, &cl, &cr), 0);
	CHECK(memcmp(&cl, &lr, sizeof(cl)) == 0);
	CHECK(memcmp(&cr, &ll, sizeof(cr)) == 0);

	CHECK_EQ(dp_srtp_keys_from_exporter(GCM, m, 56, true, &ll, &lr), 0);
	CHECK_EQ(ll.salt_len, 12);
	CHECK_EQ(ll.key[0], 16);
	CHECK_EQ(ll.salt[0], 44);  /* 32 + 12 */
	CHECK_EQ(ll.salt[11], 55);
	CHECK_EQ(lr.salt[0], 32);
	CHECK_EQ(dp_srtp_keys_from_exporter(GCM, m, 60, true, &ll, &lr),
		 -EINVAL);
	CHECK_EQ(dp_srtp_keys_from_exporter(CM, m, 56, true, &ll, &lr),
		 -EINVAL);
	CHECK_EQ(dp_srtp_keys_from_exporter(8, m, 56, true, &ll, &lr),
		 -EINVAL);

	/* the server protects with its half; the client unprotects that */
	for (int prof = 0; prof < 2; prof++) {
		enum dp_srtp_profile p = prof ? GCM : CM;
		size_t ml = dp_srtp_exporter_len(p), n, out;
		uint8_t buf[64];

		CHECK_EQ(dp_srtp_keys_from_exporter(p, m, ml, true, &ll, &lr),
			 0);
		CHECK_EQ(dp_srtp_keys_from_exporter(p, m, ml, false, &cl, &cr),
			 0);
		struct dp_srtp_ctx *stx = dp_srtp_ctx_new(
			p, DP_SRTP_PROTECT, ll.key, ll.key_len, ll.salt,
			ll.salt_len);
		struct dp_srtp_ctx *crx = dp_srtp_ctx_new(
			p, DP_SRTP_UNPROTECT, cr.key, cr.key_len, cr.salt,
			cr.salt_len);
		struct dp_srtp_ctx *wrong = dp_srtp_ctx_new(
			p, DP_SRTP_UNPROTECT, cl.key, cl.key_len, cl.salt,
			cl.salt_len);
		n = make_rtp(buf, 9, 9, 20, 0);
		CHECK_EQ(dp_srtp_protect(stx, buf, n, sizeof(buf), &out), 0);
		uint8_t copy[64];
		memcpy(copy, buf, out);
		CHECK_EQ(dp_srtp_unprotect(crx, buf, out, &n), 0);
		CHECK_EQ(dp_srtp_unprotect(wrong, copy, out, &n),
			 -DP_SRTP_ERR_AUTH);
		dp_srtp_ctx_free(stx);
		dp_srtp_ctx_free(crx);
		dp_srtp_ctx_free(wrong);
	}
}

/*
 * Teardown wipes the keys: the context memory (caller-provided, so the
 * test can read it afterwards) is all zero, and every libcrypto block that
 * held key material (AES key schedules, the GCM context with H) was zero
 * when libcrypto freed it. Positive controls first, so the test can fail.
 */
static void
test_wipe(enum dp_srtp_profile p)
{
	uint8_t key[16], salt[14];
	struct dp_srtp_session_keys k;
	size_t sz = dp_srtp_ctx_size();
	uint8_t *mem = aligned_alloc(DP_SRTP_CTX_ALIGN, sz);
	struct dp_srtp_ctx *c;
	uint8_t buf[64];
	size_t n, out;

	master_for(p, 13, key, salt);
	CHECK_EQ(dp_srtp_kdf(p, key, 16, salt, dp_srtp_salt_len(p), &k), 0);
	n_secrets = 0;
	secrets[n_secrets] = k.rtp_key;
	secret_lens[n_secrets++] = 16;
	secrets[n_secrets] = k.rtcp_key;
	secret_lens[n_secrets++] = 16;
	secrets[n_secrets] = key;
	secret_lens[n_secrets++] = 16;
	freed_dirty = 0;

	c = dp_srtp_ctx_init(mem, sz, p, DP_SRTP_PROTECT, &k);
	CHECK(c != NULL);
	n = make_rtp(buf, 1, 1, 20, 0);
	CHECK_EQ(dp_srtp_protect(c, buf, n, sizeof(buf), &out), 0);
	n = make_rtcp(buf, 1, 0);
	CHECK_EQ(dp_srtcp_protect(c, buf, n, sizeof(buf), &out), 0);

	/* controls: the salts are in the context memory, the keys in live
	 * libcrypto blocks (key schedules), and the GCM contexts point at
	 * the context's AES state */
	CHECK(memmem(mem, sz, k.rtp_salt, dp_srtp_salt_len(p)) != NULL);
	CHECK(memmem(mem, sz, k.rtcp_salt, dp_srtp_salt_len(p)) != NULL);
	CHECK(!all_zero(mem, sz));
	int watched = watch_live(NULL, NULL);
	CHECK(watched >= 2);
	if (p == GCM) {
		/* any block holding a pointer into the context: GCM128 */
		int w2 = 0;
		for (size_t off = 0; off < sz; off += 8)
			w2 += watch_live(mem + off, NULL) > watched;
		CHECK(w2 > 0);
	}
	CHECK(live_with_secret() >= 2);

	dp_srtp_ctx_fini(c);
	CHECK(all_zero(mem, sz));
	CHECK_EQ(freed_dirty, 0);
	CHECK_EQ(live_with_secret(), 0);
	CHECK_EQ(live_watched(), 0); /* all of it given back */

	/* the heap variant and the KDF leave nothing in libcrypto either */
	freed_dirty = 0;
	c = dp_srtp_ctx_new(p, DP_SRTP_UNPROTECT, key, 16, salt,
			    dp_srtp_salt_len(p));
	CHECK(c != NULL);
	CHECK(live_with_secret() >= 2);
	watch_live(NULL, NULL);
	dp_srtp_ctx_free(c);
	CHECK_EQ(freed_dirty, 0);
	CHECK_EQ(live_with_secret(), 0);
	CHECK_EQ(live_watched(), 0);

	/* and the hook does see a block freed with a key in it */
	void *probe = OPENSSL_malloc(64);
	memcpy(probe, k.rtp_key, 16);
	OPENSSL_free(probe);
	CHECK_EQ(freed_dirty, 1);
	n_secrets = 0;
	freed_dirty = 0;
	explicit_bzero(&k, sizeof(k));
	free(mem);
}

/* the per-packet path asks libcrypto for no memory */
static void
test_no_alloc(enum dp_srtp_profile p)
{
	struct pair pr;
	uint8_t buf[256];
	size_t n, out;
	int bad = 0;

	pair_new(&pr, p, 14);
	long before = n_allocs;
	for (int i = 0; i < 2000; i++) {
		n = make_rtp(buf, (uint16_t)i, 0x31, 160, 0);
		bad += dp_srtp_protect(pr.tx, buf, n, sizeof(buf), &out) != 0;
		bad += dp_srtp_unprotect(pr.rx, buf, out, &n) != 0;
		n = make_rtcp(buf, 0x31, 0);
		bad += dp_srtcp_protect(pr.tx, buf, n, sizeof(buf), &out) != 0;
		bad += dp_srtcp_unprotect(pr.rx, buf, out, &n) != 0;
		buf[20] ^= 1; /* and failures */
		bad += dp_srtcp_unprotect(pr.rx, buf, out, &n) == 0;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(n_allocs - before, 0);
	pair_free(&pr);
}

/* ---- interop with libsrtp2 ---- */

static srtp_t
lib_session_rtcp(enum dp_srtp_profile p, bool inbound, uint8_t seed,
		 bool rtcp_encrypt)
{
	uint8_t key[16], salt[14], mk[30];
	srtp_policy_t pol;
	srtp_t s = NULL;

	master_for(p, seed, key, salt);
	memcpy(mk, key, 16);
	memcpy(mk + 16, salt, dp_srtp_salt_len(p));
	memset(&pol, 0, sizeof(pol));
	if (p == GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	if (!rtcp_encrypt)
		pol.rtcp.sec_serv = sec_serv_auth; /* SRTCP with E=0 */
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.key = mk;
	pol.window_size = 128;
	pol.allow_repeat_tx = 0;
	if (srtp_create(&s, &pol) != srtp_err_status_ok) {
		fprintf(stderr, "srtp_create failed\n");
		exit(1);
	}
	return s;
}

static srtp_t
lib_session(enum dp_srtp_profile p, bool inbound, uint8_t seed)
{
	return lib_session_rtcp(p, inbound, seed, true);
}

/*
 * libsrtp2 → us and us → libsrtp2, over 36,000 packets from seq 30000 so
 * the sequence number wraps (ROC 0 → 1); both senders must produce the
 * same bytes. A browser starts below 2^15 as well.
 */
static void
test_interop_rtp(enum dp_srtp_profile p)
{
	struct pair pr;
	srtp_t lib_tx = lib_session(p, false, 20);
	srtp_t lib_rx = lib_session(p, true, 20);
	/* libsrtp2 wants SRTP_MAX_TRAILER_LEN of room after a packet */
	uint8_t a[512], b[512], plain[256];
	int mism = 0, lib_to_us = 0, us_to_lib = 0, bytes_differ = 0, n_ok = 0;

	pair_new(&pr, p, 20);
	for (int i = 0; i < 36000; i++) {
		uint16_t seq = (uint16_t)(30000 + i);
		size_t plen = (size_t)(i % 7 == 0 ? 0 : 20 + i % 150);
		size_t n = make_rtp(plain, seq, 0xc0ffee, plen, (uint8_t)i);
		size_t out, back;
		int len = (int)n;

		memcpy(a, plain, n);
		memcpy(b, plain, n);
		if (srtp_protect(lib_tx, a, &len) != srtp_err_status_ok ||
		    dp_srtp_protect(pr.tx, b, n, sizeof(b), &out) != 0) {
			mism++;
			continue;
		}
		if ((size_t)len != out || memcmp(a, b, out) != 0)
			bytes_differ++;
		/* libsrtp2's packet through us */
		if (dp_srtp_unprotect(pr.rx, a, (size_t)len, &back) != 0 ||
		    back != n || memcmp(a, plain, n) != 0)
			lib_to_us++;
		/* ours through libsrtp2 */
		len = (int)out;
		if (srtp_unprotect(lib_rx, b, &len) != srtp_err_status_ok ||
		    (size_t)len != n || memcmp(b, plain, n) != 0)
			us_to_lib++;
		n_ok++;
	}
	CHECK_EQ(mism, 0);
	CHECK_EQ(bytes_differ, 0);
	CHECK_EQ(lib_to_us, 0);
	CHECK_EQ(us_to_lib, 0);
	CHECK_EQ(n_ok, 36000);

	/* a tampered libsrtp2 packet is refused by us and vice versa */
	size_t n = make_rtp(plain, 1000, 0xc0ffee, 50, 0), out;
	int len = (int)n;
	memcpy(a, plain, n);
	CHECK_EQ(srtp_protect(lib_tx, a, &len), srtp_err_status_ok);
	a[20] ^= 4;
	CHECK_EQ(dp_srtp_unprotect(pr.rx, a, (size_t)len, &out),
		 -DP_SRTP_ERR_AUTH);
	memcpy(b, plain, n);
	CHECK_EQ(dp_srtp_protect(pr.tx, b, n, sizeof(b), &out), 0);
	b[out - 1] ^= 4;
	len = (int)out;
	CHECK(srtp_unprotect(lib_rx, b, &len) != srtp_err_status_ok);

	srtp_dealloc(lib_tx);
	srtp_dealloc(lib_rx);
	pair_free(&pr);
	fprintf(stderr, "interop %s RTP: 36000 packets across a wrap, both "
		"ways, identical bytes\n", pname(p));
}

static void
test_interop_rtcp(enum dp_srtp_profile p)
{
	struct pair pr;
	srtp_t lib_tx = lib_session(p, false, 21);
	srtp_t lib_rx = lib_session(p, true, 21);
	uint8_t a[512], plain[256];
	int lib_to_us = 0, us_to_lib = 0;

	pair_new(&pr, p, 21);
	for (int i = 0; i < 300; i++) {
		size_t n = make_rtcp(plain, 0xc0ffee, (uint8_t)i), out, back;
		int len = (int)n;

		memcpy(a, plain, n);
		if (srtp_protect_rtcp(lib_tx, a, &len) != srtp_err_status_ok ||
		    dp_srtcp_unprotect(pr.rx, a, (size_t)len, &back) != 0 ||
		    back != n || memcmp(a, plain, n) != 0)
			lib_to_us++;
		memcpy(a, plain, n);
		if (dp_srtcp_protect(pr.tx, a, n, sizeof(a), &out) != 0) {
			us_to_lib++;
			continue;
		}
		len = (int)out;
		if (srtp_unprotect_rtcp(lib_rx, a, &len) !=
			    srtp_err_status_ok ||
		    (size_t)len != n || memcmp(a, plain, n) != 0)
			us_to_lib++;
	}
	CHECK_EQ(lib_to_us, 0);
	CHECK_EQ(us_to_lib, 0);

	/* replayed SRTCP from libsrtp2 is refused */
	size_t n = make_rtcp(plain, 0xc0ffee, 1), out;
	int len = (int)n;
	memcpy(a, plain, n);
	CHECK_EQ(srtp_protect_rtcp(lib_tx, a, &len), srtp_err_status_ok);
	uint8_t copy[512];
	memcpy(copy, a, (size_t)len);
	CHECK_EQ(dp_srtcp_unprotect(pr.rx, a, (size_t)len, &out), 0);
	CHECK_EQ(dp_srtcp_unprotect(pr.rx, copy, (size_t)len, &out),
		 -DP_SRTP_ERR_REPLAY);

	srtp_dealloc(lib_tx);
	srtp_dealloc(lib_rx);

	/* SRTCP authenticated only (E=0) from libsrtp2; a new receiver, as
	 * the new sender starts its index again */
	pair_free(&pr);
	pair_new(&pr, p, 21);
	lib_tx = lib_session_rtcp(p, false, 21, false);
	int e0 = 0;
	for (int i = 0; i < 20; i++) {
		size_t back;

		n = make_rtcp(plain, 0xc0ffee, (uint8_t)(100 + i));
		len = (int)n;
		memcpy(a, plain, n);
		CHECK_EQ(srtp_protect_rtcp(lib_tx, a, &len),
			 srtp_err_status_ok);
		CHECK_EQ((size_t)len, n + dp_srtp_rtcp_trailer(p));
		size_t at = p == GCM ? (size_t)len - 4 : n;
		e0 += (a[at] & 0x80) == 0 && memcmp(a, plain, n) == 0;
		memcpy(copy, a, (size_t)len);
		copy[10] ^= 1;
		CHECK_EQ(dp_srtcp_unprotect(pr.rx, copy, (size_t)len, &back),
			 -DP_SRTP_ERR_AUTH);
		CHECK_EQ(dp_srtcp_unprotect(pr.rx, a, (size_t)len, &back), 0);
		CHECK_EQ(back, n);
		CHECK_MEM(a, plain, n);
	}
	CHECK_EQ(e0, 20);
	srtp_dealloc(lib_tx);
	pair_free(&pr);
	fprintf(stderr, "interop %s RTCP: 300 packets both ways, 20 with "
		"E=0\n", pname(p));
}

int
main(void)
{
	/* before anything else touches libcrypto */
	if (!CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free)) {
		fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
		return 1;
	}
	if (srtp_init() != srtp_err_status_ok) {
		fprintf(stderr, "srtp_init failed\n");
		return 1;
	}

	test_kdf_rfc3711();
	test_aes_cm_keystream();
	test_gcm_rfc7714();
	test_profiles_and_args();
	test_exporter();
	for (int i = 0; i < 2; i++) {
		enum dp_srtp_profile p = i ? GCM : CM;

		test_roundtrip(p);
		test_replay(p);
		test_roc(p);
		test_tamper(p);
		test_wrong_key(p);
		test_ssrc_table(p);
		test_wipe(p);
		test_no_alloc(p);
		test_interop_rtp(p);
		test_interop_rtcp(p);
	}
	srtp_shutdown();
	return check_done("srtp");
}
