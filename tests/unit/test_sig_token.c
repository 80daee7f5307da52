/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Room tokens. Hostile tokens are built here with OpenSSL's HMAC and
 * EVP_EncodeBlock, not with sig_token.c's encoder, and each one differs
 * from a token that verifies (checked first) in one respect only.
 */
#include <errno.h>
#include <inttypes.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "check.h"
#include "sig_token.h"

#define NOW INT64_C(1700000000)
#define ROOM "9f2c1a0b3d4e5f60718293a4b5c6d7e8"
#define JTI "00112233445566778899aabbccddeeff"
#define HDR_A "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k-a\"}"

#define KEY_A {                                                                \
	.id = "k-a",                                                          \
	.secret = "0123456789abcdef0123456789abcdef",                         \
	.secret_len = 32,                                                     \
}
static const struct sig_token_key key_a = KEY_A;
static const struct sig_token_key keys_a[] = { KEY_A };
/* same kid as key_a, another secret */
static const struct sig_token_key key_a_other = {
	.id = "k-a",
	.secret = "fedcba9876543210fedcba9876543210",
	.secret_len = 32,
};
static const struct sig_token_key key_b = {
	.id = "k-b.2025_01",
	.secret = "another secret, 24 bytes",
	.secret_len = 24,
};

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding, or with it if pad */
static size_t
b64u(const void *in, size_t n, char *out, int pad)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	size_t o = 0;

	for (int i = 0; i < len; i++) {
		if (out[i] == '+')
			out[o++] = '-';
		else if (out[i] == '/')
			out[o++] = '_';
		else if (out[i] != '=' || pad)
			out[o++] = out[i];
	}
	out[o] = '\0';
	return o;
}

/* hseg "." pseg "." sig, the MAC made with md (NULL: empty signature) */
static size_t
sign_segments(char *out, size_t cap, const char *hseg, const char *pseg,
	      const struct sig_token_key *k, const EVP_MD *md)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	size_t n = (size_t)snprintf(out, cap, "%s.%s.", hseg, pseg);

	if (md != NULL) {
		HMAC(md, k->secret, (int)k->secret_len, (unsigned char *)out,
		     n - 1, mac, &mac_len);
		CHECK(n + mac_len * 2 < cap);
		n += b64u(mac, mac_len, out + n, 0);
	}
	return n;
}

static size_t
forge_md(char *out, size_t cap, const char *hdr, const char *pl,
	 const struct sig_token_key *k, const EVP_MD *md)
{
	char hseg[4096], pseg[4096];

	b64u(hdr, strlen(hdr), hseg, 0);
	b64u(pl, strlen(pl), pseg, 0);
	return sign_segments(out, cap, hseg, pseg, k, md);
}

static size_t
forge(char *out, size_t cap, const char *hdr, const char *pl,
      const struct sig_token_key *k)
{
	return forge_md(out, cap, hdr, pl, k, EVP_sha256());
}

static void
payload(char *out, size_t cap, const char *room, const char *role,
	int64_t iat, int64_t exp, const char *jti)
{
	snprintf(out, cap,
		 "{\"room\":\"%s\",\"role\":\"%s\",\"iat\":%" PRId64
		 ",\"exp\":%" PRId64 ",\"jti\":\"%s\"}",
		 room, role, iat, exp, jti);
}

static const char *
verify_len(const struct sig_token_key *keys, unsigned n, const char *tok,
	   size_t len, int64_t now, struct sig_token_claims *out)
{
	struct sig_token_claims c;
	const char *why = NULL;
	int rc = sig_token_verify(keys, n, tok, len, now, &c, &why);

	if (rc == 0) {
		if (out != NULL)
			*out = c;
		return "ok";
	}
	if (rc != -1 || why == NULL)
		return "(bad return)";
	return why;
}

#define EXPECT_LEN(keys, n, tok, len, now, want)                              \
	do {                                                                  \
		const char *_r = verify_len(keys, n, tok, len, now, NULL);    \
		CHECK(strcmp(_r, want) == 0);                                 \
		if (strcmp(_r, want) != 0)                                    \
			fprintf(stderr, "  got \"%s\", want \"%s\"\n", _r,    \
				want);                                        \
	} while (0)
#define EXPECT(keys, n, tok, now, want)                                       \
	EXPECT_LEN(keys, n, tok, strlen(tok), now, want)

/* a valid header, a payload, signed by key_a: verify at NOW gives want */
static void
expect_payload(const char *pl, const char *want, int line)
{
	char tok[4096];
	const char *r;

	forge(tok, sizeof(tok), HDR_A, pl, &key_a);
	r = verify_len(keys_a, 1, tok, strlen(tok), NOW, NULL);
	CHECK(strcmp(r, want) == 0);
	if (strcmp(r, want) != 0)
		fprintf(stderr, "  line %d: %s: got \"%s\", want \"%s\"\n",
			line, pl, r, want);
}

static void
expect_header(const char *hdr, const char *want, int line)
{
	char tok[4096], pl[512];
	const char *r;

	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW + 3600, JTI);
	forge(tok, sizeof(tok), hdr, pl, &key_a);
	r = verify_len(keys_a, 1, tok, strlen(tok), NOW, NULL);
	CHECK(strcmp(r, want) == 0);
	if (strcmp(r, want) != 0)
		fprintf(stderr, "  line %d: %s: got \"%s\", want \"%s\"\n",
			line, hdr, r, want);
}

static void
test_room_id(void)
{
	CHECK_EQ(sig_room_id_valid(ROOM, 32), 0);
	CHECK_EQ(sig_room_id_valid(ROOM, 31), -EINVAL);
	CHECK_EQ(sig_room_id_valid(ROOM "0", 33), -EINVAL);
	CHECK_EQ(sig_room_id_valid("9F2C1A0B3D4E5F60718293A4B5C6D7E8", 32),
		 -EINVAL);
	CHECK_EQ(sig_room_id_valid("9f2c1a0b3d4e5f60718293a4b5c6d7eg", 32),
		 -EINVAL);
	CHECK_EQ(sig_room_id_valid("9f2c1a0b3d4e5f6\0" "718293a4b5c6d7e8", 32),
		 -EINVAL);
	CHECK_EQ(sig_room_id_valid(NULL, 32), -EINVAL);
	CHECK(strcmp(sig_role_name(SIG_ROLE_MEMBER), "member") == 0);
	CHECK(strcmp(sig_role_name(SIG_ROLE_CREATOR), "creator") == 0);
	CHECK(sig_role_name((enum sig_role)2) == NULL);
}

static void
test_round_trip(void)
{
	struct sig_token_claims c = {
		.room = ROOM, .role = SIG_ROLE_CREATOR,
		.iat = NOW, .exp = NOW + 86400,
	}, v;
	char tok[SIG_TOKEN_BUF];
	int n = sig_token_sign(&key_a, &c, tok, sizeof(tok));

	CHECK(n > 0);
	CHECK_EQ(strlen(tok), n);
	CHECK(strcmp(verify_len(keys_a, 1, tok, (size_t)n, NOW, &v), "ok") == 0);
	CHECK(strcmp(v.room, ROOM) == 0);
	CHECK_EQ(v.role, SIG_ROLE_CREATOR);
	CHECK_EQ(v.iat, NOW);
	CHECK_EQ(v.exp, NOW + 86400);
	CHECK_EQ(strlen(c.jti), 32);
	CHECK(strcmp(v.jti, c.jti) == 0);

	/* the header names the key and pins the algorithm */
	char hseg[128];
	b64u(HDR_A, strlen(HDR_A), hseg, 0);
	CHECK(strncmp(tok, hseg, strlen(hseg)) == 0 && tok[strlen(hseg)] == '.');

	/* a given jti is kept; member role */
	struct sig_token_claims m = {
		.room = ROOM, .role = SIG_ROLE_MEMBER,
		.iat = NOW, .exp = NOW + 60, .jti = JTI,
	};
	n = sig_token_sign(&key_b, &m, tok, sizeof(tok));
	CHECK(n > 0);
	CHECK(strcmp(m.jti, JTI) == 0);
	CHECK(strcmp(verify_len(&key_b, 1, tok, (size_t)n, NOW, &v), "ok") == 0);
	CHECK_EQ(v.role, SIG_ROLE_MEMBER);
	CHECK(strcmp(v.jti, JTI) == 0);

	/* the use claim: once and seat on members, kept; none on creators */
	for (enum sig_use u = SIG_USE_ANY; u <= SIG_USE_SEAT; u++) {
		struct sig_token_claims uc = {
			.room = ROOM, .role = SIG_ROLE_MEMBER, .use = u,
			.iat = NOW, .exp = NOW + 60,
		};

		n = sig_token_sign(&key_b, &uc, tok, sizeof(tok));
		CHECK(n > 0);
		CHECK(strcmp(verify_len(&key_b, 1, tok, (size_t)n, NOW, &v), "ok") == 0);
		CHECK_EQ(v.use, u);
	}
	CHECK(strcmp(sig_use_name(SIG_USE_ONCE), "once") == 0);
	CHECK(strcmp(sig_use_name(SIG_USE_SEAT), "seat") == 0);
	CHECK(sig_use_name(SIG_USE_ANY) == NULL);
	CHECK(sig_use_name((enum sig_use)3) == NULL);
	{
		struct sig_token_claims bad = {
			.room = ROOM, .role = SIG_ROLE_CREATOR, .use = SIG_USE_SEAT,
			.iat = NOW, .exp = NOW + 60,
		};

		CHECK_EQ(sig_token_sign(&key_b, &bad, tok, sizeof(tok)), -EINVAL);
		bad.role = SIG_ROLE_MEMBER;
		bad.use = (enum sig_use)7;
		CHECK_EQ(sig_token_sign(&key_b, &bad, tok, sizeof(tok)), -EINVAL);
	}

	/* the largest token sign can make fits SIG_TOKEN_BUF */
	struct sig_token_key big = { .secret_len = 64 };
	memset(big.id, 'k', 32);
	struct sig_token_claims mx = {
		.room = ROOM, .role = SIG_ROLE_CREATOR,
		.iat = INT64_MAX - 1, .exp = INT64_MAX,
	};
	n = sig_token_sign(&big, &mx, tok, sizeof(tok));
	CHECK(n > 0 && n < SIG_TOKEN_BUF);
	CHECK(strcmp(verify_len(&big, 1, tok, (size_t)n, INT64_MAX - 1, &v),
		     "ok") == 0);
	CHECK_EQ(v.exp, INT64_MAX);
	/* a member's seat token is the longest payload */
	mx.role = SIG_ROLE_MEMBER;
	mx.use = SIG_USE_SEAT;
	mx.jti[0] = '\0';
	n = sig_token_sign(&big, &mx, tok, sizeof(tok));
	CHECK(n > 0 && n < SIG_TOKEN_BUF);
}

static void
test_sign_errors(void)
{
	struct sig_token_claims good = {
		.room = ROOM, .role = SIG_ROLE_MEMBER,
		.iat = NOW, .exp = NOW + 3600,
	}, c;
	struct sig_token_key k;
	char tok[SIG_TOKEN_BUF];
	int n;

	c = good;
	n = sig_token_sign(&key_a, &c, tok, sizeof(tok));
	CHECK(n > 0);
	/* exactly enough room, then one byte short: -ENOSPC, jti untouched */
	c = good;
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, (size_t)n + 1), n);
	c = good;
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, (size_t)n), -ENOSPC);
	CHECK_EQ(c.jti[0], '\0');

	c = good;
	strcpy(c.room, "9f2c1a0b3d4e5f60718293a4b5c6d7e");
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);
	c = good;
	strcpy(c.room, "9F2C1A0B3D4E5F60718293A4B5C6D7E8");
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);
	c = good;
	c.role = (enum sig_role)7;
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);
	c = good;
	c.exp = c.iat;
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);
	c = good;
	c.iat = -1;
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);
	c = good;
	strcpy(c.jti, "0011223344556677889AABBCCDDEEFF0");
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);
	c = good;
	strcpy(c.jti, "abc");
	CHECK_EQ(sig_token_sign(&key_a, &c, tok, sizeof(tok)), -EINVAL);

	k = key_a;
	k.secret_len = 15;
	c = good;
	CHECK_EQ(sig_token_sign(&k, &c, tok, sizeof(tok)), -EINVAL);
	k = key_a;
	k.secret_len = 65;
	CHECK_EQ(sig_token_sign(&k, &c, tok, sizeof(tok)), -EINVAL);
	k = key_a;
	k.id[0] = '\0';
	CHECK_EQ(sig_token_sign(&k, &c, tok, sizeof(tok)), -EINVAL);
	k = key_a;
	strcpy(k.id, "k\"a");
	CHECK_EQ(sig_token_sign(&k, &c, tok, sizeof(tok)), -EINVAL);
	k = key_a;
	memset(k.id, 'k', sizeof(k.id));  /* no NUL */
	CHECK_EQ(sig_token_sign(&k, &c, tok, sizeof(tok)), -EINVAL);
	CHECK_EQ(sig_token_sign(NULL, &c, tok, sizeof(tok)), -EINVAL);
	CHECK_EQ(sig_token_sign(&key_a, NULL, tok, sizeof(tok)), -EINVAL);
	CHECK_EQ(sig_token_sign(&key_a, &c, NULL, 0), -EINVAL);
}

static void
test_jti_random(void)
{
	struct sig_token_claims a = {
		.room = ROOM, .role = SIG_ROLE_MEMBER,
		.iat = NOW, .exp = NOW + 3600,
	}, b = a;
	char ta[SIG_TOKEN_BUF], tb[SIG_TOKEN_BUF];

	CHECK(sig_token_sign(&key_a, &a, ta, sizeof(ta)) > 0);
	CHECK(sig_token_sign(&key_a, &b, tb, sizeof(tb)) > 0);
	CHECK(strcmp(a.jti, b.jti) != 0);
	CHECK(strcmp(ta, tb) != 0);
	CHECK_EQ(strlen(a.jti), 32);
	CHECK_EQ(strspn(a.jti, "0123456789abcdef"), 32);
	CHECK_EQ(strspn(b.jti, "0123456789abcdef"), 32);
}

static void
test_expiry(void)
{
	char pl[512];

	payload(pl, sizeof(pl), ROOM, "member", NOW - 100, NOW + 1, JTI);
	expect_payload(pl, "ok", __LINE__);
	payload(pl, sizeof(pl), ROOM, "member", NOW - 100, NOW, JTI);
	expect_payload(pl, "expired", __LINE__);
	payload(pl, sizeof(pl), ROOM, "member", NOW - 100, NOW - 1, JTI);
	expect_payload(pl, "expired", __LINE__);

	/* a signed token, checked later */
	struct sig_token_claims c = {
		.room = ROOM, .role = SIG_ROLE_MEMBER,
		.iat = NOW, .exp = NOW + 600,
	};
	char tok[SIG_TOKEN_BUF];
	CHECK(sig_token_sign(&key_a, &c, tok, sizeof(tok)) > 0);
	EXPECT(keys_a, 1, tok, NOW + 599, "ok");
	EXPECT(keys_a, 1, tok, NOW + 600, "expired");
	EXPECT(keys_a, 1, tok, NOW + 100000, "expired");
}

static void
test_iat(void)
{
	char pl[512];

	payload(pl, sizeof(pl), ROOM, "member", NOW + 60, NOW + 3600, JTI);
	expect_payload(pl, "ok", __LINE__);
	payload(pl, sizeof(pl), ROOM, "member", NOW + 61, NOW + 3600, JTI);
	expect_payload(pl, "bad claim", __LINE__);
	payload(pl, sizeof(pl), ROOM, "member", NOW + 86400 * 365,
		NOW + 86400 * 366, JTI);
	expect_payload(pl, "bad claim", __LINE__);
	/* exp before iat: nonsense even if exp is in the future */
	payload(pl, sizeof(pl), ROOM, "member", NOW + 50, NOW + 10, JTI);
	expect_payload(pl, "bad claim", __LINE__);
	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW, JTI);
	expect_payload(pl, "bad claim", __LINE__);

	/* nbf is honoured with the same leeway */
	expect_payload("{\"room\":\"" ROOM "\",\"role\":\"member\",\"iat\":"
		       "1700000000,\"exp\":1700003600,\"jti\":\"" JTI "\","
		       "\"nbf\":1700000060}", "ok", __LINE__);
	expect_payload("{\"room\":\"" ROOM "\",\"role\":\"member\",\"iat\":"
		       "1700000000,\"exp\":1700003600,\"jti\":\"" JTI "\","
		       "\"nbf\":1700000061}", "bad claim", __LINE__);
	expect_payload("{\"room\":\"" ROOM "\",\"role\":\"member\",\"iat\":"
		       "1700000000,\"exp\":1700003600,\"jti\":\"" JTI "\","
		       "\"nbf\":\"soon\"}", "bad claim", __LINE__);
}

static void
test_keys(void)
{
	struct sig_token_claims c = {
		.room = ROOM, .role = SIG_ROLE_MEMBER,
		.iat = NOW, .exp = NOW + 3600,
	}, v;
	char old_tok[SIG_TOKEN_BUF], new_tok[SIG_TOKEN_BUF];

	/* same kid, other secret */
	CHECK(sig_token_sign(&key_a, &c, old_tok, sizeof(old_tok)) > 0);
	EXPECT(&key_a_other, 1, old_tok, NOW, "bad signature");

	/* rotation: b is prepended, a stays until its tokens have expired */
	const struct sig_token_key before[] = { key_a };
	const struct sig_token_key during[] = { key_b, key_a };
	const struct sig_token_key after[] = { key_b };

	EXPECT(before, 1, old_tok, NOW, "ok");
	EXPECT(during, 2, old_tok, NOW, "ok");
	EXPECT(after, 1, old_tok, NOW, "unknown key");

	c.jti[0] = '\0';
	CHECK(sig_token_sign(&during[0], &c, new_tok, sizeof(new_tok)) > 0);
	CHECK(strcmp(verify_len(during, 2, new_tok, strlen(new_tok), NOW, &v),
		     "ok") == 0);
	CHECK(strcmp(v.jti, c.jti) == 0);
	EXPECT(after, 1, new_tok, NOW, "ok");
	EXPECT(before, 1, new_tok, NOW, "unknown key");

	/* the kid picks the key: key_a's token against {a', a} fails on a' */
	const struct sig_token_key shadow[] = { key_a_other, key_a };
	EXPECT(shadow, 2, old_tok, NOW, "bad signature");

	EXPECT(before, 0, old_tok, NOW, "unknown key");
	EXPECT(NULL, 0, old_tok, NOW, "unknown key");

	/* a key too short to be used is never picked */
	struct sig_token_key weak = key_a;
	weak.secret_len = 8;
	EXPECT(&weak, 1, old_tok, NOW, "unknown key");
}

static void
test_header(void)
{
	expect_header(HDR_A, "ok", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"kid\":\"k-a\"}", "ok", __LINE__);
	expect_header("{ \"kid\" : \"k-a\", \"alg\" : \"HS256\" }", "ok",
		      __LINE__);

	/* algorithm */
	expect_header("{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":\"HS384\",\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":\"hs256\",\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":\"HS256 \",\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":256,\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"alg\":null,\"typ\":\"JWT\",\"kid\":\"k-a\"}",
		      "bad algorithm", __LINE__);
	expect_header("{\"typ\":\"JWT\",\"kid\":\"k-a\"}", "bad algorithm",
		      __LINE__);

	/* key id */
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "unknown key",
		      __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k-b\"}",
		      "unknown key", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"K-A\"}",
		      "unknown key", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"\"}",
		      "unknown key", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":[\"k-a\"]}",
		      "unknown key", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k-a\\u0000x\"}",
		      "malformed", __LINE__);

	/* typ, crit, shape */
	expect_header("{\"alg\":\"HS256\",\"typ\":\"jwt\",\"kid\":\"k-a\"}",
		      "malformed", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":\"JWS\",\"kid\":\"k-a\"}",
		      "malformed", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"typ\":1,\"kid\":\"k-a\"}",
		      "malformed", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"kid\":\"k-a\",\"crit\":[\"exp\"],"
		      "\"exp\":1}", "malformed", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"kid\":\"k-a\",\"alg\":\"HS256\"}",
		      "malformed", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"kid\":\"k-a\",\"alg\":\"none\"}",
		      "malformed", __LINE__);
	expect_header("[\"HS256\",\"k-a\"]", "malformed", __LINE__);
	expect_header("\"HS256\"", "malformed", __LINE__);
	expect_header("alg=HS256 kid=k-a", "malformed", __LINE__);
	expect_header("{\"alg\":\"HS256\",\"kid\":\"k-a\"} x", "malformed",
		      __LINE__);
	expect_header("{\"alg\":\"HS256\",\"kid\":\"k-a\"", "malformed",
		      __LINE__);
	expect_header("", "malformed", __LINE__);
}

static void
test_alg_forged(void)
{
	char tok[4096], pl[512];
	const char *none = "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k-a\"}";
	const char *hs512 = "{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"k-a\"}";
	const char *hs384 = "{\"alg\":\"HS384\",\"typ\":\"JWT\",\"kid\":\"k-a\"}";
	const char *nokid = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	payload(pl, sizeof(pl), ROOM, "creator", NOW, NOW + 3600, JTI);
	/* unsigned, empty signature segment (RFC 7519 §6.1) */
	forge_md(tok, sizeof(tok), none, pl, &key_a, NULL);
	CHECK(tok[strlen(tok) - 1] == '.');
	EXPECT(keys_a, 1, tok, NOW, "bad algorithm");
	/* "none" carrying a genuine HS256 MAC is still refused */
	forge(tok, sizeof(tok), none, pl, &key_a);
	EXPECT(keys_a, 1, tok, NOW, "bad algorithm");
	/* genuinely signed with the right key, other hash */
	forge_md(tok, sizeof(tok), hs512, pl, &key_a, EVP_sha512());
	EXPECT(keys_a, 1, tok, NOW, "bad algorithm");
	forge_md(tok, sizeof(tok), hs384, pl, &key_a, EVP_sha384());
	EXPECT(keys_a, 1, tok, NOW, "bad algorithm");
	/* right MAC, no kid: the key is never guessed */
	forge(tok, sizeof(tok), nokid, pl, &key_a);
	EXPECT(keys_a, 1, tok, NOW, "unknown key");
}

static void
test_tamper(void)
{
	char good[4096], evil[8192], pl[512], hseg[512], pseg[512];
	const char *sig;

	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW + 3600, JTI);
	forge(good, sizeof(good), HDR_A, pl, &key_a);
	EXPECT(keys_a, 1, good, NOW, "ok");
	sig = strrchr(good, '.') + 1;

	/* member -> creator, old signature kept */
	b64u(HDR_A, strlen(HDR_A), hseg, 0);
	payload(pl, sizeof(pl), ROOM, "creator", NOW, NOW + 3600, JTI);
	b64u(pl, strlen(pl), pseg, 0);
	snprintf(evil, sizeof(evil), "%s.%s.%s", hseg, pseg, sig);
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
	/* exp pushed out */
	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW + 360000, JTI);
	b64u(pl, strlen(pl), pseg, 0);
	snprintf(evil, sizeof(evil), "%s.%s.%s", hseg, pseg, sig);
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
	/* header changed (kid of another key holding the same secret) */
	struct sig_token_key twin = key_a;
	strcpy(twin.id, "k-z");
	const char *hz = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k-z\"}";
	b64u(hz, strlen(hz), hseg, 0);
	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW + 3600, JTI);
	b64u(pl, strlen(pl), pseg, 0);
	snprintf(evil, sizeof(evil), "%s.%s.%s", hseg, pseg, sig);
	EXPECT(&twin, 1, evil, NOW, "bad signature");

	/* signature: one character changed, first and last */
	strcpy(evil, good);
	char *s = strrchr(evil, '.') + 1;
	s[0] = s[0] == 'A' ? 'B' : 'A';
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
	/* 43 characters carry 258 bits, the last character's low 2 unused:
	 * setting one spells the same MAC another way, which is refused */
	strcpy(evil, good);
	s = strrchr(evil, '.') + 1;
	s[42] = b64_alphabet[(strchr(b64_alphabet, s[42]) - b64_alphabet) ^ 1];
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
	/* truncated, extended, missing */
	strcpy(evil, good);
	evil[strlen(evil) - 1] = '\0';
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
	snprintf(evil, sizeof(evil), "%sAAAA", good);
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
	strcpy(evil, good);
	strrchr(evil, '.')[1] = '\0';
	EXPECT(keys_a, 1, evil, NOW, "bad signature");
}

static void
test_syntax(void)
{
	char good[4096], evil[8192], hseg[512], pseg[512], pl[512];
	size_t n;

	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW + 3600, JTI);
	n = forge(good, sizeof(good), HDR_A, pl, &key_a);
	EXPECT(keys_a, 1, good, NOW, "ok");

	/* '=' padding: on the signature, and on a header that is validly
	 * signed in its padded form */
	snprintf(evil, sizeof(evil), "%s=", good);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	const char *h28 = "{\"alg\":\"HS256\",\"kid\":\"k-a\" }";
	b64u(h28, strlen(h28), hseg, 1);
	CHECK(strchr(hseg, '=') != NULL);
	b64u(pl, strlen(pl), pseg, 0);
	sign_segments(evil, sizeof(evil), hseg, pseg, &key_a, EVP_sha256());
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	b64u(h28, strlen(h28), hseg, 0);
	sign_segments(evil, sizeof(evil), hseg, pseg, &key_a, EVP_sha256());
	EXPECT(keys_a, 1, evil, NOW, "ok");
	/* the standard base64 alphabet instead of base64url, validly signed */
	int found = 0;
	for (int m = 1; m <= 6 && !found; m++) {
		char h[128];

		snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"kid\":\"k-a\","
			 "\"x\":\"%.*s\"}", m, "??????");
		b64u(h, strlen(h), hseg, 0);
		if (strpbrk(hseg, "-_") == NULL)
			continue;
		found = 1;
		sign_segments(evil, sizeof(evil), hseg, pseg, &key_a,
			      EVP_sha256());
		EXPECT(keys_a, 1, evil, NOW, "ok");
		for (char *p = hseg; *p; p++)
			if (*p == '-' || *p == '_')
				*p = *p == '-' ? '+' : '/';
		sign_segments(evil, sizeof(evil), hseg, pseg, &key_a,
			      EVP_sha256());
		EXPECT(keys_a, 1, evil, NOW, "malformed");
	}
	CHECK(found);
	/* segments */
	char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
	snprintf(evil, sizeof(evil), "%.*s", (int)(d2 - good), good);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	snprintf(evil, sizeof(evil), "%s.%s", good, d2 + 1);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	snprintf(evil, sizeof(evil), "%.*s.%s", (int)(d1 - good), good, d1);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	snprintf(evil, sizeof(evil), ".%s", good);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	EXPECT(keys_a, 1, "", NOW, "malformed");
	EXPECT(keys_a, 1, ".", NOW, "malformed");
	EXPECT(keys_a, 1, "..", NOW, "malformed");
	EXPECT(keys_a, 1, "...", NOW, "malformed");
	EXPECT_LEN(keys_a, 1, (const char *)NULL, 0, NOW, "malformed");
	/* whitespace and a Bearer prefix are the caller's to strip */
	snprintf(evil, sizeof(evil), "%s\n", good);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	snprintf(evil, sizeof(evil), " %s", good);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	snprintf(evil, sizeof(evil), "Bearer %s", good);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	/* a NUL inside, and one counted at the end */
	memcpy(evil, good, n + 1);
	evil[n / 2] = '\0';
	EXPECT_LEN(keys_a, 1, evil, n, NOW, "malformed");
	EXPECT_LEN(keys_a, 1, good, n + 1, NOW, "malformed");
	/* the length given is what counts, not a NUL further on */
	memcpy(evil, good, n);
	strcpy(evil + n, "trailing");
	EXPECT_LEN(keys_a, 1, evil, n, NOW, "ok");

	/* payload that is not a JSON object, validly signed */
	forge(evil, sizeof(evil), HDR_A, "not json", &key_a);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	forge(evil, sizeof(evil), HDR_A, "[1,2,3]", &key_a);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	forge(evil, sizeof(evil), HDR_A, "", &key_a);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	forge(evil, sizeof(evil), HDR_A, "{\"room\":\"" ROOM "\"", &key_a);
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	/* not even base64 */
	sign_segments(evil, sizeof(evil), hseg, "!!!!", &key_a, EVP_sha256());
	EXPECT(keys_a, 1, evil, NOW, "malformed");
	/* 1 mod 4 characters cannot be base64 */
	b64u(pl, strlen(pl), pseg, 0);
	if (strlen(pseg) % 4 == 0)
		strcat(pseg, "A");
	else
		pseg[strlen(pseg) - strlen(pseg) % 4 + 1] = '\0';
	CHECK_EQ(strlen(pseg) % 4, 1);
	b64u(HDR_A, strlen(HDR_A), hseg, 0);
	sign_segments(evil, sizeof(evil), hseg, pseg, &key_a, EVP_sha256());
	EXPECT(keys_a, 1, evil, NOW, "malformed");
}

/* A validly signed token padded with an extra claim to an exact length. */
static void
test_size_limit(void)
{
	char tok[8192], pl[4096], fill[2048];
	int at_max = 0, over = 0;

	for (size_t f = 1000; f < 1600 && !(at_max && over); f++) {
		size_t n;

		memset(fill, 'x', f);
		fill[f] = '\0';
		snprintf(pl, sizeof(pl),
			 "{\"room\":\"" ROOM "\",\"role\":\"member\",\"iat\":"
			 "1700000000,\"exp\":1700003600,\"jti\":\"" JTI "\","
			 "\"pad\":\"%s\"}", fill);
		n = forge(tok, sizeof(tok), HDR_A, pl, &key_a);
		if (n == SIG_TOKEN_MAX && !at_max) {
			at_max = 1;
			EXPECT(keys_a, 1, tok, NOW, "ok");
		} else if (n > SIG_TOKEN_MAX && n <= SIG_TOKEN_MAX + 3 &&
			   !over) {
			over = 1;
			EXPECT(keys_a, 1, tok, NOW, "malformed");
		}
	}
	CHECK(at_max && over);
	/* junk is refused by length alone, whatever it holds */
	memset(tok, 'A', SIG_TOKEN_MAX + 1);
	EXPECT_LEN(keys_a, 1, tok, SIG_TOKEN_MAX + 1, NOW, "malformed");
	EXPECT_LEN(keys_a, 1, tok, (size_t)-1, NOW, "malformed");
}

static void
test_claims(void)
{
	const char *r = "\"room\":\"" ROOM "\"";
	const char *ro = "\"role\":\"member\"";
	const char *i = "\"iat\":1700000000";
	const char *e = "\"exp\":1700003600";
	const char *j = "\"jti\":\"" JTI "\"";
	char pl[512];

#define PL(a, b, c, d, f) \
	(snprintf(pl, sizeof(pl), "{%s,%s,%s,%s,%s}", a, b, c, d, f), pl)
#define PL4(a, b, c, d) \
	(snprintf(pl, sizeof(pl), "{%s,%s,%s,%s}", a, b, c, d), pl)

	expect_payload(PL(r, ro, i, e, j), "ok", __LINE__);
	expect_payload(PL(j, e, i, ro, r), "ok", __LINE__);
	expect_payload(PL4(ro, i, e, j), "missing claim", __LINE__);
	expect_payload(PL4(r, i, e, j), "missing claim", __LINE__);
	expect_payload(PL4(r, ro, e, j), "missing claim", __LINE__);
	expect_payload(PL4(r, ro, i, j), "missing claim", __LINE__);
	expect_payload(PL4(r, ro, i, e), "missing claim", __LINE__);
	expect_payload("{}", "missing claim", __LINE__);
	/* a claim twice: refused, not last-one-wins */
	snprintf(pl, sizeof(pl), "{%s,%s,%s,%s,%s,\"role\":\"creator\"}", r,
		 ro, i, e, j);
	expect_payload(pl, "malformed", __LINE__);

	/* role */
	expect_payload(PL(r, "\"role\":\"creator\"", i, e, j), "ok", __LINE__);
	expect_payload(PL(r, "\"role\":\"admin\"", i, e, j), "bad claim",
		       __LINE__);
	expect_payload(PL(r, "\"role\":\"Creator\"", i, e, j), "bad claim",
		       __LINE__);
	expect_payload(PL(r, "\"role\":\"\"", i, e, j), "bad claim", __LINE__);
	expect_payload(PL(r, "\"role\":1", i, e, j), "bad claim", __LINE__);
	expect_payload(PL(r, "\"role\":null", i, e, j), "bad claim", __LINE__);
	expect_payload(PL(r, "\"role\":[\"creator\"]", i, e, j), "bad claim",
		       __LINE__);

	/* use: members only, once or seat */
	snprintf(pl, sizeof(pl), "{%s,%s,%s,%s,%s,\"use\":\"once\"}", r, ro, i,
		 e, j);
	expect_payload(pl, "ok", __LINE__);
	snprintf(pl, sizeof(pl), "{%s,%s,%s,%s,%s,\"use\":\"seat\"}", r, ro, i,
		 e, j);
	expect_payload(pl, "ok", __LINE__);
	static const char *const bad_use[] = {
		"\"use\":\"twice\"", "\"use\":\"Once\"", "\"use\":\"\"",
		"\"use\":1", "\"use\":null", "\"use\":[\"once\"]",
	};
	for (size_t k = 0; k < sizeof(bad_use) / sizeof(bad_use[0]); k++) {
		snprintf(pl, sizeof(pl), "{%s,%s,%s,%s,%s,%s}", r, ro, i, e, j,
			 bad_use[k]);
		expect_payload(pl, "bad claim", __LINE__);
	}
	snprintf(pl, sizeof(pl), "{%s,\"role\":\"creator\",%s,%s,%s,\"use\":\"seat\"}",
		 r, i, e, j);
	expect_payload(pl, "bad claim", __LINE__);

	/* room */
	expect_payload(PL("\"room\":\"9f2c1a0b3d4e5f60718293a4b5c6d7e\"", ro,
			  i, e, j), "bad claim", __LINE__);
	expect_payload(PL("\"room\":\"9f2c1a0b3d4e5f60718293a4b5c6d7e80\"", ro,
			  i, e, j), "bad claim", __LINE__);
	expect_payload(PL("\"room\":\"9F2C1A0B3D4E5F60718293A4B5C6D7E8\"", ro,
			  i, e, j), "bad claim", __LINE__);
	expect_payload(PL("\"room\":\"9f2c1a0b3d4e5f60718293a4b5c6d7zz\"", ro,
			  i, e, j), "bad claim", __LINE__);
	expect_payload(PL("\"room\":\"\"", ro, i, e, j), "bad claim", __LINE__);
	expect_payload(PL("\"room\":1234567890", ro, i, e, j),
		       "bad claim", __LINE__);

	/* jti */
	static const char *const bad_jti[] = {
		"\"jti\":\"00112233445566778899AABBCCDDEEFF\"",
		"\"jti\":\"00112233445566778899aabbccddeef\"",
		"\"jti\":\"00112233445566778899aabbccddeeff0\"",
		"\"jti\":\"0011-233445566778899aabbccddeeff\"",
		"\"jti\":\"\"",
	};
	for (size_t k = 0; k < sizeof(bad_jti) / sizeof(bad_jti[0]); k++)
		expect_payload(PL(r, ro, i, e, bad_jti[k]), "bad claim",
			       __LINE__);
	expect_payload(PL(r, ro, i, e, "\"jti\":42"), "bad claim", __LINE__);

	/* NumericDate: integers only */
	expect_payload(PL(r, ro, "\"iat\":\"1700000000\"", e, j), "bad claim",
		       __LINE__);
	expect_payload(PL(r, ro, i, "\"exp\":\"1700003600\"", j), "bad claim",
		       __LINE__);
	expect_payload(PL(r, ro, i, "\"exp\":1700003600.5", j), "bad claim",
		       __LINE__);
	expect_payload(PL(r, ro, i, "\"exp\":1.7000036e9", j), "bad claim",
		       __LINE__);
	expect_payload(PL(r, ro, i, "\"exp\":true", j), "bad claim", __LINE__);
	expect_payload(PL(r, ro, i, "\"exp\":null", j), "bad claim", __LINE__);
	expect_payload(PL(r, ro, i, "\"exp\":99999999999999999999", j),
		       "malformed", __LINE__);

	/* unknown claims are ignored */
	snprintf(pl, sizeof(pl), "{%s,%s,%s,%s,%s,\"sub\":\"x\",\"aud\":[1]}",
		 r, ro, i, e, j);
	expect_payload(pl, "ok", __LINE__);
#undef PL
#undef PL4
}

/* Room matching is the caller's: the token for room X verifies and says X. */
static void
test_other_room(void)
{
	struct sig_token_claims c = {
		.room = "0123456789abcdef0123456789abcdef",
		.role = SIG_ROLE_CREATOR, .iat = NOW, .exp = NOW + 3600,
	}, v;
	char tok[SIG_TOKEN_BUF];

	CHECK(sig_token_sign(&key_a, &c, tok, sizeof(tok)) > 0);
	CHECK(strcmp(verify_len(keys_a, 1, tok, strlen(tok), NOW, &v), "ok") ==
	      0);
	CHECK(strcmp(v.room, "0123456789abcdef0123456789abcdef") == 0);
	CHECK(strcmp(v.room, ROOM) != 0);
}

/* On failure *c is left alone and reason may be NULL. */
static void
test_failure_output(void)
{
	struct sig_token_claims c, before;
	char tok[4096], pl[512];

	payload(pl, sizeof(pl), ROOM, "member", NOW, NOW + 10, JTI);
	forge(tok, sizeof(tok), HDR_A, pl, &key_a);
	memset(&c, 0x5a, sizeof(c));
	before = c;
	CHECK_EQ(sig_token_verify(keys_a, 1, tok, strlen(tok), NOW + 10, &c,
				  NULL), -1);
	CHECK_MEM(&c, &before, sizeof(c));
	CHECK_EQ(sig_token_verify(keys_a, 1, tok, strlen(tok), NOW, &c, NULL),
		 0);
	CHECK(strcmp(c.jti, JTI) == 0);
}

/*
 * Made by PyJWT 2.6.0 (Debian python3-jwt):
 *   jwt.encode({"room": "9f2c1a0b3d4e5f60718293a4b5c6d7e8",
 *               "role": "creator", "iat": 1700000000, "exp": 1700086400,
 *               "jti": "00112233445566778899aabbccddeeff"},
 *              b"sotto-interop-secret-0123456789!", algorithm="HS256",
 *              headers={"kid": "pyjwt-1"})
 * Its header is {"alg":"HS256","kid":"pyjwt-1","typ":"JWT"}.
 */
static void
test_pyjwt_vector(void)
{
	static const char tok[] =
		"eyJhbGciOiJIUzI1NiIsImtpZCI6InB5and0LTEiLCJ0eXAiOiJKV1QifQ."
		"eyJyb29tIjoiOWYyYzFhMGIzZDRlNWY2MDcxODI5M2E0YjVjNmQ3ZTgiLCJy"
		"b2xlIjoiY3JlYXRvciIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2"
		"NDAwLCJqdGkiOiIwMDExMjIzMzQ0NTU2Njc3ODg5OWFhYmJjY2RkZWVmZiJ9."
		"5zRRV6hXICdSZ1YhxczJ5dG4P7CgywlNEFhSkr_Hcio";
	const struct sig_token_key py[] = {
		key_a,
		{
			.id = "pyjwt-1",
			.secret = "sotto-interop-secret-0123456789!",
			.secret_len = 32,
		},
	};
	struct sig_token_claims v;

	CHECK(strcmp(verify_len(py, 2, tok, strlen(tok), NOW + 3600, &v),
		     "ok") == 0);
	CHECK(strcmp(v.room, "9f2c1a0b3d4e5f60718293a4b5c6d7e8") == 0);
	CHECK_EQ(v.role, SIG_ROLE_CREATOR);
	CHECK_EQ(v.iat, 1700000000);
	CHECK_EQ(v.exp, 1700086400);
	CHECK(strcmp(v.jti, "00112233445566778899aabbccddeeff") == 0);
	EXPECT(py, 2, tok, 1700086400, "expired");
	EXPECT(keys_a, 1, tok, NOW, "unknown key");

	/* same claims signed here verify under the same key */
	struct sig_token_claims c = {
		.room = "9f2c1a0b3d4e5f60718293a4b5c6d7e8",
		.role = SIG_ROLE_CREATOR, .iat = 1700000000, .exp = 1700086400,
		.jti = "00112233445566778899aabbccddeeff",
	};
	char mine[SIG_TOKEN_BUF];
	CHECK(sig_token_sign(&py[1], &c, mine, sizeof(mine)) > 0);
	EXPECT(py, 2, mine, NOW, "ok");
	/* PyJWT orders the header's members differently; the payloads are
	 * the same bytes */
	const char *pm = strchr(mine, '.'), *pt = strchr(tok, '.');
	size_t lm = (size_t)(strrchr(mine, '.') - pm);
	CHECK_EQ(lm, strrchr(tok, '.') - pt);
	CHECK(strncmp(pm, pt, lm) == 0);
}

int
main(void)
{
	test_room_id();
	test_round_trip();
	test_sign_errors();
	test_jti_random();
	test_expiry();
	test_iat();
	test_keys();
	test_header();
	test_alg_forged();
	test_tamper();
	test_syntax();
	test_size_limit();
	test_claims();
	test_other_room();
	test_failure_output();
	test_pyjwt_vector();
	return check_done("test_sig_token");
}
