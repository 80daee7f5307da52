/* SPDX-License-Identifier: BSD-3-Clause */
#include "turn_auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/*
 * Nonce: 16 lowercase hex digits of its expiry (unix seconds) then 24 of
 * HMAC-SHA256(nonce_key, expiry || client family || client IP)[:12]. It is
 * bound to the client's IP but not its port (a NAT may move the port
 * between the challenge and the retry). No state is kept per nonce.
 *
 * RFC 8489 §9.2 puts a "obo8" cookie and security-feature bits at the start
 * of the nonce; those only announce PASSWORD-ALGORITHMS and USERHASH, which
 * sotto does not offer, so the nonce carries no cookie.
 */
#define NONCE_EXP_HEX 16
#define NONCE_MAC_LEN 12
#define NONCE_LEN (NONCE_EXP_HEX + 2 * NONCE_MAC_LEN)
#define NONCE_KEY_LEN 32
/* RFC 8489 §14.9: REALM is fewer than 128 characters */
#define REALM_MAX 128

struct turn_auth {
	char **secrets;
	size_t *secret_len;
	unsigned n_secrets;
	char realm[REALM_MAX];
	size_t realm_len;
	uint32_t nonce_lifetime;
	uint8_t nonce_key[NONCE_KEY_LEN];
};

static const char hexdig[] = "0123456789abcdef";

static void
secrets_free(char **s, size_t *len, unsigned n)
{
	if (s != NULL) {
		for (unsigned i = 0; i < n; i++) {
			if (s[i] != NULL) {
				explicit_bzero(s[i], len[i]);
				free(s[i]);
			}
		}
	}
	free(s);
	free(len);
}

int
turn_auth_set_secrets(struct turn_auth *a, char *const *secrets,
		      unsigned n_secrets)
{
	char **s = NULL;
	size_t *len = NULL;

	for (unsigned i = 0; i < n_secrets; i++)
		/* an empty HMAC key would make every password guessable */
		if (secrets[i] == NULL || secrets[i][0] == '\0')
			return -EINVAL;
	if (n_secrets) {
		s = calloc(n_secrets, sizeof(*s));
		len = calloc(n_secrets, sizeof(*len));
		if (s == NULL || len == NULL)
			goto nomem;
		for (unsigned i = 0; i < n_secrets; i++) {
			len[i] = strlen(secrets[i]);
			s[i] = malloc(len[i] + 1);
			if (s[i] == NULL)
				goto nomem;
			memcpy(s[i], secrets[i], len[i] + 1);
		}
	}
	secrets_free(a->secrets, a->secret_len, a->n_secrets);
	a->secrets = s;
	a->secret_len = len;
	a->n_secrets = n_secrets;
	return 0;
nomem:
	secrets_free(s, len, n_secrets);
	return -ENOMEM;
}

struct turn_auth *
turn_auth_new(char *const *secrets, unsigned n_secrets, const char *realm,
	      uint32_t nonce_lifetime)
{
	struct turn_auth *a;
	int rc;

	if (realm == NULL || strlen(realm) >= REALM_MAX ||
	    (n_secrets && secrets == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->realm_len = strlen(realm);
	memcpy(a->realm, realm, a->realm_len + 1);
	a->nonce_lifetime = nonce_lifetime;
	if (RAND_bytes(a->nonce_key, sizeof(a->nonce_key)) != 1) {
		turn_auth_free(a);
		errno = EIO;
		return NULL;
	}
	rc = turn_auth_set_secrets(a, secrets, n_secrets);
	if (rc < 0) {
		turn_auth_free(a);
		errno = -rc;
		return NULL;
	}
	return a;
}

void
turn_auth_free(struct turn_auth *a)
{
	if (a == NULL)
		return;
	secrets_free(a->secrets, a->secret_len, a->n_secrets);
	explicit_bzero(a->nonce_key, sizeof(a->nonce_key));
	free(a);
}

const char *
turn_auth_realm(const struct turn_auth *a)
{
	return a->realm;
}

static void
nonce_mac(const struct turn_auth *a, const struct sotto_addr *client,
	  uint64_t expiry, uint8_t out[NONCE_MAC_LEN])
{
	uint8_t in[8 + 1 + 16];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;

	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)(expiry >> (56 - 8 * i));
	in[8] = client->family;
	/* the whole 16 bytes: sotto_addr keeps the unused tail zeroed */
	memcpy(in + 9, client->ip, 16);
	if (client->family == AF_INET)
		memset(in + 9 + 4, 0, 12);
	if (HMAC(EVP_sha256(), a->nonce_key, sizeof(a->nonce_key), in,
		 sizeof(in), md, &md_len) == NULL)
		/* cannot happen with a built-in digest; a zero MAC would be
		 * forgeable, so fill with bytes no check will ever equal */
		RAND_bytes(md, NONCE_MAC_LEN);
	memcpy(out, md, NONCE_MAC_LEN);
	explicit_bzero(md, sizeof(md));
}

size_t
turn_auth_nonce(const struct turn_auth *a, const struct sotto_addr *client,
		uint64_t now, char out[TURN_NONCE_MAX])
{
	uint64_t expiry = now + a->nonce_lifetime;
	uint8_t mac[NONCE_MAC_LEN];
	char *p = out;

	for (int i = NONCE_EXP_HEX - 1; i >= 0; i--)
		*p++ = hexdig[(expiry >> (4 * i)) & 0xf];
	nonce_mac(a, client, expiry, mac);
	for (int i = 0; i < NONCE_MAC_LEN; i++) {
		*p++ = hexdig[mac[i] >> 4];
		*p++ = hexdig[mac[i] & 0xf];
	}
	*p = '\0';
	return NONCE_LEN;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 0 valid, 401 not ours, 438 ours but stale */
static int
nonce_check(const struct turn_auth *a, const struct stun_attr *n,
	    const struct sotto_addr *client, uint64_t now)
{
	uint8_t got[NONCE_MAC_LEN], want[NONCE_MAC_LEN];
	uint64_t expiry = 0;
	int hi, lo;

	if (n->len != NONCE_LEN)
		return 401;
	for (int i = 0; i < NONCE_EXP_HEX; i++) {
		if ((hi = hexval(n->val[i])) < 0)
			return 401;
		expiry = (expiry << 4) | (uint64_t)hi;
	}
	for (int i = 0; i < NONCE_MAC_LEN; i++) {
		hi = hexval(n->val[NONCE_EXP_HEX + 2 * i]);
		lo = hexval(n->val[NONCE_EXP_HEX + 2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 401;
		got[i] = (uint8_t)(hi << 4 | lo);
	}
	nonce_mac(a, client, expiry, want);
	if (CRYPTO_memcmp(got, want, NONCE_MAC_LEN) != 0)
		return 401;
	/* RFC 8489 §9.2.4: a stale nonce gets 438 so the client retries
	 * with the fresh one without asking its user again */
	if (expiry <= now)
		return 438;
	return 0;
}

/* "<expiry>" or "<expiry>:<user>", expiry in decimal seconds */
static int
username_parse(struct turn_auth_result *r, const struct stun_attr *u)
{
	uint64_t expiry = 0;
	uint16_t i;

	if (u->len == 0 || u->len >= TURN_USERNAME_MAX ||
	    memchr(u->val, '\0', u->len) != NULL)
		return -1;
	memcpy(r->username, u->val, u->len);
	r->username[u->len] = '\0';
	for (i = 0; i < u->len && r->username[i] != ':'; i++) {
		uint8_t d = (uint8_t)r->username[i] - '0';
		if (d > 9 || expiry > (UINT64_MAX - d) / 10)
			return -1;
		expiry = expiry * 10 + d;
	}
	if (i == 0)
		return -1;
	r->expiry = expiry;
	r->user = r->username + i + (i < u->len ? 1 : 0);
	return 0;
}

/* RFC 8489 §9.2.2 key for one secret: the password is the REST one */
static void
rest_key(const struct turn_auth *a, unsigned i, const char *username,
	 uint8_t key[16])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	/* base64 of a 20-byte HMAC-SHA1: 28 characters and a NUL */
	char password[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	if (HMAC(EVP_sha1(), a->secrets[i], (int)a->secret_len[i],
		 (const uint8_t *)username, strlen(username), mac,
		 &mac_len) == NULL) {
		/* no key can be derived: make one nobody holds */
		RAND_bytes(key, 16);
		return;
	}
	EVP_EncodeBlock((unsigned char *)password, mac, (int)mac_len);
	stun_lt_key(username, a->realm, password, key);
	explicit_bzero(mac, sizeof(mac));
	explicit_bzero(password, sizeof(password));
}

int
turn_auth_check(const struct turn_auth *a, const struct stun_msg *m,
		const struct sotto_addr *client, uint64_t now,
		struct turn_auth_result *r)
{
	const struct stun_attr *user, *realm, *nonce;
	uint8_t key[16];
	int rc;

	/* RFC 8489 §9.2.4: no MESSAGE-INTEGRITY is the first contact → 401
	 * challenge. MESSAGE-INTEGRITY-SHA256 and USERHASH alone count as
	 * none: without PASSWORD-ALGORITHMS we only do SHA-1 with USERNAME. */
	if (m->integrity < 0)
		return 401;
	user = stun_find(m, STUN_A_USERNAME);
	realm = stun_find(m, STUN_A_REALM);
	nonce = stun_find(m, STUN_A_NONCE);
	if (user == NULL || realm == NULL || nonce == NULL)
		return 400;
	if (realm->len != a->realm_len ||
	    memcmp(realm->val, a->realm, a->realm_len) != 0)
		return 401;
	rc = nonce_check(a, nonce, client, now);
	if (rc != 0)
		return rc;

	memset(r, 0, sizeof(*r));
	if (username_parse(r, user) < 0)
		goto fail;
	/* expiry is enforced on every request, not only Allocate (coturn
	 * 4.6.1 accepted a Refresh with an expired username) */
	if (r->expiry <= now)
		goto fail;

	for (unsigned i = 0; i < a->n_secrets; i++) {
		rest_key(a, i, r->username, key);
		if (stun_check_integrity(m, key, sizeof(key)) == 1) {
			memcpy(r->key, key, sizeof(key));
			explicit_bzero(key, sizeof(key));
			return 0;
		}
	}
	explicit_bzero(key, sizeof(key));
fail:
	explicit_bzero(r, sizeof(*r));
	return 401;
}
