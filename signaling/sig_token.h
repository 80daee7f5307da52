/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SIG_TOKEN_H
#define SOTTO_SIG_TOKEN_H

/*
 * Room tokens: HS256 JWTs (RFC 7519) in JWS compact serialization
 * (RFC 7515 §7.1), header {"alg":"HS256","typ":"JWT","kid":<key id>},
 * claims room, role, iat, exp, jti (docs/signaling.md, "Tokens").
 *
 * A token says which room it is for; sig_token_verify does not know which
 * room the caller is dealing with, so it accepts a valid token for any room.
 * Comparing c->room with the room being joined or acted on, and c->role with
 * what the request needs, is the caller's job. So is checking c->jti against
 * the room's kick list.
 */
#include <stddef.h>
#include <stdint.h>

#define SIG_ROOM_ID_HEX 32
/* Longer tokens are rejected before any decoding or HMAC work. */
#define SIG_TOKEN_MAX 2048
/* Always enough for sig_token_sign's output, NUL included. */
#define SIG_TOKEN_BUF 512
/* How far iat (and nbf) may be ahead of the verifier's clock. */
#define SIG_TOKEN_LEEWAY 60

enum sig_role {
	SIG_ROLE_MEMBER = 0,
	SIG_ROLE_CREATOR = 1,
};

/*
 * What a member token may be used for (the "use" claim; docs/signaling.md
 * "Tokens"). Absent: an invite any number of people may join with.
 */
enum sig_use {
	SIG_USE_ANY = 0,   /* no claim: a reusable invite (or the creator's) */
	SIG_USE_ONCE = 1,  /* "once": a single-use invite */
	SIG_USE_SEAT = 2,  /* "seat": one admitted participant's own token,
			    * given in "joined"; comes back into a locked room */
};

struct sig_token_key {
	char id[33];              /* kid: 1..32 chars [A-Za-z0-9._-] */
	uint8_t secret[64];
	size_t secret_len;        /* 16..64 */
};

struct sig_token_claims {
	char room[SIG_ROOM_ID_HEX + 1];  /* 32 lowercase hex */
	enum sig_role role;
	int64_t iat, exp;                /* unix seconds */
	char jti[33];                    /* 32 lowercase hex, 128 random bits */
	enum sig_use use;                /* members only; SIG_USE_ANY: no claim */
};

/*
 * Signs c with k. If c->jti is empty it is first filled with 128 bits from
 * getrandom(2). Returns the token's length (out is NUL-terminated), -ENOSPC
 * if cap is too small, -EINVAL for a bad key or bad claims (room not 32
 * lowercase hex, unknown role, iat < 0, exp <= iat, malformed jti, a use
 * on a creator token or outside enum sig_use), or the
 * -errno of getrandom.
 */
int sig_token_sign(const struct sig_token_key *k, struct sig_token_claims *c,
		   char *out, size_t cap);

/*
 * Verifies tok[0..len) (need not be NUL-terminated) against keys[0..n),
 * picking the key whose id equals the header's kid; now is unix seconds.
 * Returns 0 with *c filled, or -1 with *reason (if reason is not NULL) set
 * to a static string and *c untouched:
 *   "malformed"      size, segments, base64url, JSON, typ or crit header;
 *   "bad algorithm"  alg missing or anything but "HS256";
 *   "unknown key"    kid missing or not among keys;
 *   "bad signature"  HMAC mismatch;
 *   "missing claim"  one of room, role, iat, exp, jti absent;
 *   "bad claim"      a claim of the wrong type or format (a "use" other
 *                    than "once" or "seat", or on a creator token), iat more than
 *                    SIG_TOKEN_LEEWAY ahead of now, exp <= iat, or an nbf
 *                    (RFC 7519 §4.1.5) that is not yet reached;
 *   "expired"        exp <= now.
 * Nothing in the payload is looked at before the signature checks out.
 * A valid token for another room verifies: see the note at the top.
 */
int sig_token_verify(const struct sig_token_key *keys, unsigned n,
		     const char *tok, size_t len, int64_t now,
		     struct sig_token_claims *c, const char **reason);

/* 0 if s[0..len) is a room id (32 lowercase hex digits), else -EINVAL. */
int sig_room_id_valid(const char *s, size_t len);

/* "once" or "seat"; NULL for SIG_USE_ANY or a value outside enum sig_use. */
const char *sig_use_name(enum sig_use u);

/* "member" or "creator"; NULL for a value outside enum sig_role. */
const char *sig_role_name(enum sig_role r);

#endif
