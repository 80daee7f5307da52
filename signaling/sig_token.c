/* SPDX-License-Identifier: BSD-3-Clause */
#include "sig_token.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/*
 * Why not libjwt: the packaged libjwt is 1.10.2, and
 *  - its jwt_decode() takes one key; there is no way to choose the key from
 *    the header's kid before verifying (the key callback, jwt_decode_2,
 *    arrived in 1.12). Choosing by kid would mean a first unverified
 *    jwt_decode of the whole token, payload included, then a second one;
 *  - its HMAC check compared with strcmp() until CVE-2024-25189. Debian's
 *    1.10.2-1+deb12u1 carries the fix (jwt_strcmp), but pkg-config reports
 *    "1.10.2" for fixed and unfixed builds alike, so the build could not
 *    refuse an unsafe one;
 *  - it parses the payload before checking the signature, matches alg and
 *    typ case-insensitively, and its base64 decoder stops quietly at the
 *    first character outside the alphabet.
 * HS256 compact serialization is an HMAC and base64url, so it is done here
 * with OpenSSL's HMAC() and CRYPTO_memcmp() and jansson for the JSON.
 */

#define SIG_LEN 32                      /* HMAC-SHA256 */
#define SIG_B64_LEN 43                  /* 32 bytes, unpadded base64url */
#define KID_MAX 32
#define SECRET_MIN 16
#define JTI_BYTES 16
#define SEG_MAX (SIG_TOKEN_MAX / 4 * 3 + 2) /* decoded size of any segment */

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hexdig[] = "0123456789abcdef";

/* RFC 7515 §2: base64url without padding. */
static size_t
b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static size_t
b64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64url[in[i] >> 2];
		out[o++] = b64url[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
		out[o++] = b64url[v >> 10];
		out[o++] = b64url[(v >> 4) & 63];
		out[o++] = b64url[(v & 15) << 2];
	}
	return o;
}

static int
b64url_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/*
 * Returns the decoded length or -1. Besides characters outside the
 * alphabet ('=' included) it refuses a length of 1 mod 4 and set bits in
 * the unused tail of the last character (RFC 4648 §3.5), so a byte string
 * has exactly one accepted spelling.
 */
static ssize_t
b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val(in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	return (ssize_t)o;
}

static bool
hex_lower(const char *s, size_t len, size_t want)
{
	if (len != want)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int
sig_room_id_valid(const char *s, size_t len)
{
	if (s == NULL || !hex_lower(s, len, SIG_ROOM_ID_HEX))
		return -EINVAL;
	return 0;
}

const char *
sig_role_name(enum sig_role r)
{
	switch (r) {
	case SIG_ROLE_MEMBER:
		return "member";
	case SIG_ROLE_CREATOR:
		return "creator";
	}
	return NULL;
}

const char *
sig_use_name(enum sig_use u)
{
	switch (u) {
	case SIG_USE_ONCE:
		return "once";
	case SIG_USE_SEAT:
		return "seat";
	case SIG_USE_ANY:
		break;
	}
	return NULL;
}

static bool
kid_valid(const char *s, size_t len)
{
	if (len == 0 || len > KID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

static bool
key_valid(const struct sig_token_key *k)
{
	/* an id without a NUL in its 33 bytes has length 33 here: refused */
	return kid_valid(k->id, strnlen(k->id, sizeof(k->id))) &&
	       k->secret_len >= SECRET_MIN &&
	       k->secret_len <= sizeof(k->secret);
}

static int
fill_random(uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

int
sig_token_sign(const struct sig_token_key *k, struct sig_token_claims *c,
	       char *out, size_t cap)
{
	char hdr[96], pl[256], jti[sizeof(c->jti)], use[24] = "";
	const char *role;
	uint8_t mac[SIG_LEN];
	unsigned mac_len = sizeof(mac);
	size_t hl, pll, in_len, total;
	int n, ret;

	if (k == NULL || c == NULL || out == NULL || !key_valid(k))
		return -EINVAL;
	role = sig_role_name(c->role);
	if (sig_room_id_valid(c->room, strnlen(c->room, sizeof(c->room))) != 0 ||
	    role == NULL || c->iat < 0 || c->exp <= c->iat)
		return -EINVAL;
	if (c->use != SIG_USE_ANY) {
		if (sig_use_name(c->use) == NULL || c->role != SIG_ROLE_MEMBER)
			return -EINVAL;
		snprintf(use, sizeof(use), ",\"use\":\"%s\"",
			 sig_use_name(c->use));
	}
	if (c->jti[0] == '\0') {
		uint8_t rnd[JTI_BYTES];

		ret = fill_random(rnd, sizeof(rnd));
		if (ret != 0)
			return ret;
		for (size_t i = 0; i < sizeof(rnd); i++) {
			jti[2 * i] = hexdig[rnd[i] >> 4];
			jti[2 * i + 1] = hexdig[rnd[i] & 15];
		}
		jti[2 * JTI_BYTES] = '\0';
	} else if (hex_lower(c->jti, strnlen(c->jti, sizeof(c->jti)),
			     2 * JTI_BYTES)) {
		memcpy(jti, c->jti, sizeof(jti));
	} else {
		return -EINVAL;
	}

	/* Every string here is from a JSON-safe alphabet: no escaping. */
	n = snprintf(hdr, sizeof(hdr),
		     "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->id);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -EINVAL;
	hl = (size_t)n;
	n = snprintf(pl, sizeof(pl),
		     "{\"room\":\"%s\",\"role\":\"%s\",\"iat\":%" PRId64
		     ",\"exp\":%" PRId64 ",\"jti\":\"%s\"%s}",
		     c->room, role, c->iat, c->exp, jti, use);
	if (n < 0 || (size_t)n >= sizeof(pl))
		return -EINVAL;
	pll = (size_t)n;

	in_len = b64url_len(hl) + 1 + b64url_len(pll);
	total = in_len + 1 + SIG_B64_LEN;
	if (cap < total + 1)
		return -ENOSPC;

	b64url_encode((const uint8_t *)hdr, hl, out);
	out[b64url_len(hl)] = '.';
	b64url_encode((const uint8_t *)pl, pll, out + b64url_len(hl) + 1);
	/* RFC 7515 §5.1: the MAC covers ASCII(header '.' payload) */
	if (HMAC(EVP_sha256(), k->secret, (int)k->secret_len,
		 (const uint8_t *)out, in_len, mac, &mac_len) == NULL)
		return -EINVAL;
	out[in_len] = '.';
	b64url_encode(mac, sizeof(mac), out + in_len + 1);
	out[total] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));

	memcpy(c->jti, jti, sizeof(c->jti));
	return (int)total;
}

static int
fail(const char **reason, const char *why)
{
	if (reason != NULL)
		*reason = why;
	return -1;
}

/* Decodes one segment and parses it as a JSON object; NULL if it is not. */
static json_t *
segment_json(const char *s, size_t n)
{
	uint8_t buf[SEG_MAX];
	ssize_t len = b64url_decode(s, n, buf, sizeof(buf));
	json_t *j;

	if (len <= 0)
		return NULL;
	/*
	 * A duplicate member could be read one way here and another way by
	 * a different JWT library; refuse it rather than pick one.
	 */
	j = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES,
		       NULL);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* now + SIG_TOKEN_LEEWAY is only computed when it cannot overflow */
static bool
beyond_leeway(int64_t t, int64_t now)
{
	return now <= INT64_MAX - SIG_TOKEN_LEEWAY && t > now + SIG_TOKEN_LEEWAY;
}

static const char *
parse_claims(const json_t *p, int64_t now, struct sig_token_claims *t)
{
	static const char *const need[] = { "room", "role", "iat", "exp", "jti" };
	const json_t *room, *role, *iat, *exp, *jti, *nbf, *use;

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (json_object_get(p, need[i]) == NULL)
			return "missing claim";
	room = json_object_get(p, "room");
	role = json_object_get(p, "role");
	iat = json_object_get(p, "iat");
	exp = json_object_get(p, "exp");
	jti = json_object_get(p, "jti");
	nbf = json_object_get(p, "nbf");
	use = json_object_get(p, "use");

	if (!json_is_string(room) ||
	    sig_room_id_valid(json_string_value(room),
			      json_string_length(room)) != 0)
		return "bad claim";
	memcpy(t->room, json_string_value(room), SIG_ROOM_ID_HEX + 1);

	if (!json_is_string(role))
		return "bad claim";
	if (strcmp(json_string_value(role), "creator") == 0)
		t->role = SIG_ROLE_CREATOR;
	else if (strcmp(json_string_value(role), "member") == 0)
		t->role = SIG_ROLE_MEMBER;
	else
		return "bad claim";

	if (!json_is_string(jti) ||
	    !hex_lower(json_string_value(jti), json_string_length(jti),
		       2 * JTI_BYTES))
		return "bad claim";
	memcpy(t->jti, json_string_value(jti), sizeof(t->jti));

	/* optional; only members have one */
	t->use = SIG_USE_ANY;
	if (use != NULL) {
		if (!json_is_string(use) || t->role != SIG_ROLE_MEMBER)
			return "bad claim";
		if (strcmp(json_string_value(use), "once") == 0)
			t->use = SIG_USE_ONCE;
		else if (strcmp(json_string_value(use), "seat") == 0)
			t->use = SIG_USE_SEAT;
		else
			return "bad claim";
	}

	/* RFC 7519 §2 NumericDate; fractional seconds are not ours */
	if (!json_is_integer(iat) || !json_is_integer(exp))
		return "bad claim";
	t->iat = json_integer_value(iat);
	t->exp = json_integer_value(exp);
	if (t->exp <= t->iat || beyond_leeway(t->iat, now))
		return "bad claim";
	/* RFC 7519 §4.1.5: never issued here, but honoured if present */
	if (nbf != NULL &&
	    (!json_is_integer(nbf) || beyond_leeway(json_integer_value(nbf), now)))
		return "bad claim";
	/* RFC 7519 §4.1.4: not accepted on or after exp */
	if (t->exp <= now)
		return "expired";
	return NULL;
}

int
sig_token_verify(const struct sig_token_key *keys, unsigned n,
		 const char *tok, size_t len, int64_t now,
		 struct sig_token_claims *c, const char **reason)
{
	const struct sig_token_key *k = NULL;
	struct sig_token_claims t;
	const json_t *alg, *typ, *kid;
	json_t *h, *p;
	uint8_t sig[SIG_LEN], mac[SIG_LEN];
	unsigned mac_len = sizeof(mac);
	size_t dot[2], ndots = 0;
	const char *why;
	int diff;

	if (tok == NULL || c == NULL || len == 0 || len > SIG_TOKEN_MAX)
		return fail(reason, "malformed");
	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '.') {
			if (ndots == 2)
				return fail(reason, "malformed");
			dot[ndots++] = i;
		} else if (b64url_val(tok[i]) < 0) {
			return fail(reason, "malformed");
		}
	}
	if (ndots != 2)
		return fail(reason, "malformed");

	/* RFC 7515 §5.2 steps 1-4: the header, only for alg and kid */
	h = segment_json(tok, dot[0]);
	if (h == NULL)
		return fail(reason, "malformed");
	alg = json_object_get(h, "alg");
	typ = json_object_get(h, "typ");
	kid = json_object_get(h, "kid");
	/* Pinned: the header may not choose the algorithm (RFC 8725 §3.1). */
	if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) {
		json_decref(h);
		return fail(reason, "bad algorithm");
	}
	/* RFC 7515 §4.1.11: no extension is understood, so any crit fails */
	if ((typ != NULL && (!json_is_string(typ) ||
			     strcmp(json_string_value(typ), "JWT") != 0)) ||
	    json_object_get(h, "crit") != NULL) {
		json_decref(h);
		return fail(reason, "malformed");
	}
	if (json_is_string(kid) &&
	    kid_valid(json_string_value(kid), json_string_length(kid))) {
		for (unsigned i = 0; i < n; i++) {
			if (key_valid(&keys[i]) &&
			    strcmp(keys[i].id, json_string_value(kid)) == 0) {
				k = &keys[i];
				break;
			}
		}
	}
	json_decref(h);
	if (k == NULL)
		return fail(reason, "unknown key");

	if (len - dot[1] - 1 != SIG_B64_LEN ||
	    b64url_decode(tok + dot[1] + 1, SIG_B64_LEN, sig, sizeof(sig)) !=
		    SIG_LEN)
		return fail(reason, "bad signature");
	if (HMAC(EVP_sha256(), k->secret, (int)k->secret_len,
		 (const uint8_t *)tok, dot[1], mac, &mac_len) == NULL)
		return fail(reason, "bad signature");
	diff = CRYPTO_memcmp(mac, sig, SIG_LEN);
	OPENSSL_cleanse(mac, sizeof(mac));
	if (diff != 0)
		return fail(reason, "bad signature");

	p = segment_json(tok + dot[0] + 1, dot[1] - dot[0] - 1);
	if (p == NULL)
		return fail(reason, "malformed");
	memset(&t, 0, sizeof(t));
	why = parse_claims(p, now, &t);
	json_decref(p);
	if (why != NULL)
		return fail(reason, why);
	*c = t;
	return 0;
}
