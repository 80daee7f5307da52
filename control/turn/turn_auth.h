/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_TURN_AUTH_H
#define SOTTO_TURN_AUTH_H

/*
 * TURN REST credentials (username = "<unix expiry>:<user>", password =
 * base64(HMAC-SHA1(secret, username))) checked as RFC 8489 long-term
 * credentials, with stateless nonces: a nonce carries its own expiry and a
 * MAC by a per-process random key bound to the client's IP, so a 401 costs
 * no server state (coturn #1641).
 */
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "stun.h"

#define TURN_NONCE_MAX 64
#define TURN_USERNAME_MAX 256

struct turn_auth;

/* secrets are copied; realm likewise. NULL on error (errno set). */
struct turn_auth *turn_auth_new(char *const *secrets, unsigned n_secrets,
				const char *realm, uint32_t nonce_lifetime);
void turn_auth_free(struct turn_auth *a);
/* Replace the secret list (rotation on reload). 0, -EINVAL (a NULL or
 * empty secret; the old list stays) or -ENOMEM. */
int turn_auth_set_secrets(struct turn_auth *a, char *const *secrets,
			  unsigned n_secrets);

/* Writes a fresh NUL-terminated nonce for client; returns its length. */
size_t turn_auth_nonce(const struct turn_auth *a,
		       const struct sotto_addr *client, uint64_t now,
		       char out[TURN_NONCE_MAX]);

struct turn_auth_result {
	uint8_t key[16];                      /* long-term key, for the response's MESSAGE-INTEGRITY */
	char username[TURN_USERNAME_MAX];     /* as received, NUL-terminated */
	uint64_t expiry;                      /* from the username */
	const char *user;                     /* points into username, after "expiry:" */
};

/*
 * Checks one request. Returns 0 (authenticated: r filled), or the STUN error
 * code to answer with:
 *   400 missing/malformed USERNAME, REALM or NONCE with MESSAGE-INTEGRITY;
 *   401 no MESSAGE-INTEGRITY, wrong integrity under every secret, bad realm,
 *       malformed or expired REST username (checked on every request);
 *   438 a nonce this server made that has expired (stale).
 * A forged nonce is answered with 401 as well. For 401 and 438 the caller
 * adds REALM and a fresh NONCE (turn_auth_nonce).
 */
int turn_auth_check(const struct turn_auth *a, const struct stun_msg *m,
		    const struct sotto_addr *client, uint64_t now,
		    struct turn_auth_result *r);

const char *turn_auth_realm(const struct turn_auth *a);

#endif
