/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TURN REST credentials and stateless nonces, on real requests built with
 * the STUN builder. The expected long-term key is computed here with
 * OpenSSL directly, not through turn_auth.c or stun_lt_key.
 */
#include <errno.h>
#include <inttypes.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "check.h"
#include "turn_auth.h"

#define REALM "sotto.test"
#define NOW UINT64_C(1700000000)

static char secret_a[] = "first-secret";
static char secret_b[] = "second-secret";

/* MD5(username ":" realm ":" base64(HMAC-SHA1(secret, username))) */
static void
expected_key(const char *secret, const char *username, const char *realm,
	     uint8_t key[16])
{
	uint8_t mac[20];
	unsigned mac_len = sizeof(mac);
	char pass[64], buf[512];

	HMAC(EVP_sha1(), secret, (int)strlen(secret),
	     (const uint8_t *)username, strlen(username), mac, &mac_len);
	EVP_EncodeBlock((uint8_t *)pass, mac, 20);
	snprintf(buf, sizeof(buf), "%s:%s:%s", username, realm, pass);
	unsigned md_len = 16;
	EVP_Digest(buf, strlen(buf), key, &md_len, EVP_md5(), NULL);
}

struct req {
	const char *username; /* NULL: leave out */
	const char *realm;
	const char *nonce;
	const char *secret;   /* NULL: no MESSAGE-INTEGRITY */
	int tamper;           /* flip a byte of LIFETIME after signing */
	int sha256_only;      /* MESSAGE-INTEGRITY-SHA256 instead of MI */
};

static uint8_t buf[1024];
static struct stun_msg msg;

static const struct stun_msg *
build(const struct req *q)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	size_t len;

	stun_build(&b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST, tid);
	stun_add_u32(&b, STUN_A_LIFETIME, 600);
	if (q->username)
		stun_add(&b, STUN_A_USERNAME, q->username,
			 (uint16_t)strlen(q->username));
	if (q->realm)
		stun_add(&b, STUN_A_REALM, q->realm,
			 (uint16_t)strlen(q->realm));
	if (q->nonce)
		stun_add(&b, STUN_A_NONCE, q->nonce,
			 (uint16_t)strlen(q->nonce));
	if (q->sha256_only) {
		uint8_t fake[32] = { 0 };
		stun_add(&b, STUN_A_MESSAGE_INTEGRITY_SHA256, fake,
			 sizeof(fake));
	} else if (q->secret) {
		uint8_t key[16];
		const char *u = q->username ? q->username : "";
		const char *r = q->realm ? q->realm : REALM;
		expected_key(q->secret, u, r, key);
		stun_add_integrity(&b, key, sizeof(key));
	}
	len = stun_finish(&b);
	if (len == 0) {
		fprintf(stderr, "builder overflow\n");
		exit(2);
	}
	/* LIFETIME's value is bytes 24..27: changing it alters nothing
	 * but the integrity */
	if (q->tamper)
		buf[STUN_HDR_LEN + 4 + 3] ^= 0x01;
	if (stun_parse(&msg, buf, len) != 0) {
		fprintf(stderr, "parse failed\n");
		exit(2);
	}
	return &msg;
}

static struct sotto_addr
A(const char *s)
{
	struct sotto_addr a;

	if (sotto_addr_parse(&a, s, 0) != 0)
		exit(2);
	return a;
}


/*
 * The long-term key turn_auth_check derives is wiped from its frames once
 * it returns, whether the integrity matched (then the caller's result holds
 * the one copy, and wipes it) or not. Frames a call has left lie below
 * ours: scrub them, call, look at them through a probe's locals.
 */
#define PROBE_BYTES (1 << 16)

static __attribute__((noinline)) void
stack_scrub(void)
{
	volatile uint8_t z[PROBE_BYTES];

	for (size_t i = 0; i < sizeof(z); i++)
		z[i] = 0;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static __attribute__((noinline)) int
stack_holds(const uint8_t *pat, size_t n)
{
	volatile uint8_t s[PROBE_BYTES];

	for (size_t i = 0; i + n <= sizeof(s); i++) {
		size_t k = 0;
		while (k < n && s[i + k] == pat[k])
			k++;
		if (k == n)
			return 1;
	}
	return 0;
}
#pragma GCC diagnostic pop

static __attribute__((noinline)) void
leave_on_stack(const uint8_t key[16])
{
	volatile uint8_t copy[512];

	for (size_t i = 0; i < sizeof(copy); i++)
		copy[i] = i < 300 || i >= 316 ? 0 : key[i - 300];
}

/* turn_auth_check on m with the stack scrubbed first, r wiped after as
 * the server does; is key left anywhere? */
static __attribute__((noinline)) int
key_left_behind(const struct turn_auth *a, const struct stun_msg *m,
		const struct sotto_addr *client, const uint8_t key[16],
		int *rc)
{
	struct turn_auth_result r;

	stack_scrub();
	*rc = turn_auth_check(a, m, client, NOW, &r);
	explicit_bzero(&r, sizeof(r));
	return stack_holds(key, 16);
}

static __attribute__((noinline)) int
probe_sees(const uint8_t key[16])
{
	stack_scrub();
	leave_on_stack(key);
	return stack_holds(key, 16);
}

static void
test_key_wipe(void)
{
	char *secrets[] = { secret_a, secret_b };
	struct turn_auth *a = turn_auth_new(secrets, 2, REALM, 600);
	struct sotto_addr client = A("203.0.113.7:40000");
	char nonce[TURN_NONCE_MAX], user[64];
	uint8_t key_a[16], key_b[16];
	int rc;

	snprintf(user, sizeof(user), "%" PRIu64 ":alice", NOW + 3600);
	turn_auth_nonce(a, &client, NOW, nonce);
	expected_key(secret_a, user, REALM, key_a);
	expected_key(secret_b, user, REALM, key_b);
	if (!probe_sees(key_a)) {
		fprintf(stderr, "test_key_wipe: the stack probe sees nothing "
			"here, not run\n");
		turn_auth_free(a);
		return;
	}
	/* matched under the second secret: both keys were derived */
	struct req ok = { user, REALM, nonce, secret_b, 0, 0 };
	const struct stun_msg *m = build(&ok);
	CHECK(!key_left_behind(a, m, &client, key_a, &rc));
	CHECK_EQ(rc, 0);
	CHECK(!key_left_behind(a, m, &client, key_b, &rc));
	CHECK_EQ(rc, 0);
	/* no secret matches: both derived, both compared, neither left */
	struct req bad = { user, REALM, nonce, "third-secret-xx", 0, 0 };
	m = build(&bad);
	CHECK(!key_left_behind(a, m, &client, key_a, &rc));
	CHECK_EQ(rc, 401);
	CHECK(!key_left_behind(a, m, &client, key_b, &rc));
	CHECK_EQ(rc, 401);
	turn_auth_free(a);
}

int
main(void)
{
	char *secrets[] = { secret_a, secret_b };
	struct turn_auth *a = turn_auth_new(secrets, 1, REALM, 600);
	struct sotto_addr client = A("203.0.113.7:40000");
	struct sotto_addr client_moved = A("203.0.113.7:40001");
	struct sotto_addr other = A("203.0.113.8:40000");
	struct sotto_addr client6 = A("[2001:db8::7]:40000");
	struct turn_auth_result r;
	char nonce[TURN_NONCE_MAX], nonce2[TURN_NONCE_MAX];
	char user[64], user_old[64], user_now[64];
	uint8_t key[16];

	CHECK(a != NULL);
	CHECK(strcmp(turn_auth_realm(a), REALM) == 0);

	/* nonce: fixed length, printable, fits */
	size_t nl = turn_auth_nonce(a, &client, NOW, nonce);
	CHECK(nl > 0 && nl < TURN_NONCE_MAX);
	CHECK_EQ(strlen(nonce), nl);
	for (size_t i = 0; i < nl; i++)
		CHECK(nonce[i] > 0x20 && nonce[i] < 0x7f && nonce[i] != '"');
	CHECK_EQ(turn_auth_nonce(a, &client6, NOW + 12345, nonce2), nl);
	CHECK_EQ(turn_auth_nonce(a, &client, 0, nonce2), nl);
	CHECK_EQ(turn_auth_nonce(a, &client, UINT64_MAX - 600, nonce2), nl);
	turn_auth_nonce(a, &client, NOW, nonce);

	snprintf(user, sizeof(user), "%" PRIu64 ":alice", NOW + 3600);
	snprintf(user_old, sizeof(user_old), "%" PRIu64 ":alice", NOW - 1);
	snprintf(user_now, sizeof(user_now), "%" PRIu64 ":alice", NOW);

	/* valid */
	struct req ok = { user, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW, &r), 0);
	expected_key(secret_a, user, REALM, key);
	CHECK_MEM(r.key, key, 16);
	CHECK(strcmp(r.username, user) == 0);
	CHECK_EQ(r.expiry, NOW + 3600);
	CHECK(r.user != NULL && strcmp(r.user, "alice") == 0);
	/* the nonce is bound to the IP, not the port (NAT rebinding) */
	CHECK_EQ(turn_auth_check(a, build(&ok), &client_moved, NOW, &r), 0);

	/* username of digits only */
	char digits[32];
	snprintf(digits, sizeof(digits), "%" PRIu64, NOW + 10);
	struct req dig = { digits, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&dig), &client, NOW, &r), 0);
	CHECK_EQ(r.expiry, NOW + 10);
	CHECK(r.user != NULL && r.user[0] == '\0');

	/* user part with a colon in it is kept whole */
	char colon[64];
	snprintf(colon, sizeof(colon), "%" PRIu64 ":a:b", NOW + 10);
	struct req col = { colon, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&col), &client, NOW, &r), 0);
	CHECK(strcmp(r.user, "a:b") == 0);

	/* wrong secret */
	struct req bad = { user, REALM, nonce, secret_b, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&bad), &client, NOW, &r), 401);

	/* rotation: second secret in the list is accepted */
	CHECK_EQ(turn_auth_set_secrets(a, secrets, 2), 0);
	CHECK_EQ(turn_auth_check(a, build(&bad), &client, NOW, &r), 0);
	expected_key(secret_b, user, REALM, key);
	CHECK_MEM(r.key, key, 16);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW, &r), 0);
	/* and a retired one is refused */
	CHECK_EQ(turn_auth_set_secrets(a, secrets + 1, 1), 0);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW, &r), 401);
	CHECK_EQ(turn_auth_set_secrets(a, secrets, 1), 0);
	char empty[] = "";
	char *bad_secrets[] = { empty };
	CHECK_EQ(turn_auth_set_secrets(a, bad_secrets, 1), -EINVAL);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW, &r), 0);

	/* expired username, on every request: one second past, and now */
	struct req old = { user_old, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&old), &client, NOW, &r), 401);
	struct req edge = { user_now, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&edge), &client, NOW, &r), 401);
	CHECK_EQ(turn_auth_check(a, build(&edge), &client, NOW - 1, &r), 0);
	/* valid credentials that expire between two requests (fresh
	 * nonce, so only the username's expiry decides) */
	char late[TURN_NONCE_MAX];
	turn_auth_nonce(a, &client, NOW + 3500, late);
	struct req lq = { user, REALM, late, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&lq), &client, NOW + 3599, &r), 0);
	CHECK_EQ(turn_auth_check(a, build(&lq), &client, NOW + 3600, &r),
		 401);

	/* malformed usernames (each correctly signed) */
	char longname[TURN_USERNAME_MAX + 8];
	int n = snprintf(longname, sizeof(longname), "%" PRIu64 ":",
			 NOW + 3600);
	memset(longname + n, 'x', sizeof(longname) - (size_t)n - 1);
	longname[TURN_USERNAME_MAX] = '\0'; /* exactly TURN_USERNAME_MAX */
	const char *malformed[] = {
		"alice", ":alice", "", "-5:alice", "+9999999999:alice",
		" 9999999999:alice", "99999999999999999999999:alice",
		"0x7fffffff:alice", "9999999999x:alice", longname,
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]);
	     i++) {
		struct req m = { malformed[i], REALM, nonce, secret_a, 0, 0 };
		int rc = turn_auth_check(a, build(&m), &client, NOW, &r);
		if (rc != 401)
			fprintf(stderr, "malformed accepted: %s\n",
				malformed[i]);
		CHECK_EQ(rc, 401);
	}
	/* one shorter is fine */
	longname[TURN_USERNAME_MAX - 1] = '\0';
	struct req lng = { longname, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&lng), &client, NOW, &r), 0);
	CHECK_EQ(strlen(r.username), TURN_USERNAME_MAX - 1);

	/* no MESSAGE-INTEGRITY: the challenge */
	struct req nomi = { user, REALM, nonce, NULL, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&nomi), &client, NOW, &r), 401);
	struct req bare = { NULL, NULL, NULL, NULL, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&bare), &client, NOW, &r), 401);
	/* MESSAGE-INTEGRITY-SHA256 alone counts as no integrity */
	struct req s256 = { user, REALM, nonce, NULL, 0, 1 };
	CHECK_EQ(turn_auth_check(a, build(&s256), &client, NOW, &r), 401);

	/* MI but a required attribute missing: 400 */
	struct req non = { user, REALM, NULL, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&non), &client, NOW, &r), 400);
	struct req nor = { user, NULL, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&nor), &client, NOW, &r), 400);
	struct req nou = { NULL, REALM, nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&nou), &client, NOW, &r), 400);

	/* wrong realm (signed with that realm, so only the realm differs) */
	struct req wr = { user, "other.test", nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&wr), &client, NOW, &r), 401);
	struct req wr2 = { user, REALM "x", nonce, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&wr2), &client, NOW, &r), 401);

	/* forged nonces: 401, never 438 */
	char forged[TURN_NONCE_MAX];
	memcpy(forged, nonce, sizeof(forged));
	forged[nl - 1] = forged[nl - 1] == '0' ? '1' : '0';
	struct req fq = { user, REALM, forged, secret_a, 0, 0 };
	CHECK_EQ(turn_auth_check(a, build(&fq), &client, NOW, &r), 401);
	/* expiry pushed into the future by the attacker */
	memcpy(forged, nonce, sizeof(forged));
	forged[0] = forged[0] == 'f' ? 'e' : 'f';
	CHECK_EQ(turn_auth_check(a, build(&fq), &client, NOW, &r), 401);
	/* a forged nonce claiming an old expiry is not "stale" either */
	memcpy(forged, "0000000000000001", 16);
	CHECK_EQ(turn_auth_check(a, build(&fq), &client, NOW, &r), 401);
	const char *junk[] = { "x", "", "0123456789abcdef",
			       "0123456789ABCDEF0123456789ABCDEF01234567" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct req j = { user, REALM, junk[i], secret_a, 0, 0 };
		CHECK_EQ(turn_auth_check(a, build(&j), &client, NOW, &r),
			 401);
	}
	/* uppercase version of a real nonce is not ours */
	char upper[TURN_NONCE_MAX];
	for (size_t i = 0; i <= nl; i++)
		upper[i] = (char)((nonce[i] >= 'a' && nonce[i] <= 'f') ?
				  nonce[i] - 32 : nonce[i]);
	struct req up = { user, REALM, upper, secret_a, 0, 0 };
	if (strcmp(upper, nonce) != 0)
		CHECK_EQ(turn_auth_check(a, build(&up), &client, NOW, &r),
			 401);

	/* a nonce issued to another client IP */
	CHECK_EQ(turn_auth_check(a, build(&ok), &other, NOW, &r), 401);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client6, NOW, &r), 401);
	/* a nonce from another server instance (other random key) */
	struct turn_auth *a2 = turn_auth_new(secrets, 1, REALM, 600);
	CHECK_EQ(turn_auth_check(a2, build(&ok), &client, NOW, &r), 401);
	turn_auth_free(a2);

	/* expired nonce: 438 (stale) at and after its expiry */
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW + 599, &r), 0);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW + 600, &r), 438);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW + 601, &r), 438);
	/* ...but wrong credentials with a stale nonce still learn nothing
	 * beyond "stale": the nonce is checked first, by design */
	CHECK_EQ(turn_auth_check(a, build(&bad), &client, NOW + 601, &r),
		 438);

	/* tampered message: integrity fails */
	struct req tq = { user, REALM, nonce, secret_a, 1, 0 };
	CHECK_EQ(turn_auth_check(a, build(&tq), &client, NOW, &r), 401);

	/* no secrets at all: nothing authenticates */
	CHECK_EQ(turn_auth_set_secrets(a, NULL, 0), 0);
	CHECK_EQ(turn_auth_check(a, build(&ok), &client, NOW, &r), 401);
	turn_auth_free(a);

	/* constructor arguments */
	errno = 0;
	CHECK(turn_auth_new(secrets, 1, NULL, 600) == NULL);
	CHECK_EQ(errno, EINVAL);
	char bigrealm[200];
	memset(bigrealm, 'r', sizeof(bigrealm) - 1);
	bigrealm[sizeof(bigrealm) - 1] = '\0';
	CHECK(turn_auth_new(secrets, 1, bigrealm, 600) == NULL);
	CHECK(turn_auth_new(bad_secrets, 1, REALM, 600) == NULL);
	turn_auth_free(NULL);

	test_key_wipe();
	return check_done("turn_auth");
}
