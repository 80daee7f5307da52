/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SIG_PRIV_H
#define SOTTO_SIG_PRIV_H

/* Shared by sig_api.c (HTTP) and sig_ws.c (WebSocket rooms). */

#include <jansson.h>

#include "rate_limit.h"
#include "rooms.h"
#include "sdp_policy.h"
#include "sig.h"
#include "sig_token.h"

#define SIG_JOIN_TIMEOUT_MS 10000
#define SIG_EMPTY_ROOM_MS (5 * 60 * 1000)
#define SIG_MSG_PER_SEC 20
#define SIG_MSG_BURST 60
/* dropped in a row before the connection is closed */
#define SIG_MSG_FLOOD_CLOSE 600
#define SIG_RL_SLOTS 65536

struct sig {
	const struct sotto_config *cfg;
	struct sig_token_key keys[CONFIG_MAX_TOKEN_KEYS];
	unsigned n_keys;
	struct room_table rooms;
	struct rate_limit *rooms_rl;    /* room creation per IP per minute */
	struct rate_limit *joins_rl;    /* joins per IP per minute */
	struct rate_limit *creds_rl;    /* TURN credentials per IP per minute */
	uint8_t turn_user_key[32];      /* names TURN users (credentials()) */
	uint64_t join_tokens;           /* global joins, in 1/1000 joins */
	uint64_t join_last_ms;
	struct sdp_policy policy;
	struct sig_stats st;
	bool draining;
	uint64_t now_ms;                /* CLOCK_MONOTONIC, ms: timers, limits */
	struct sig_peer *dead;          /* peers to free on the next tick */
	struct gw *gw;                  /* NULL: no gateway mode */
	char *sdp_out;                  /* rewritten SDP scratch */
	size_t sdp_out_cap;
};

/* sig_api.c */
int sig_mint(struct sig *s, const struct room *room, enum sig_role role,
	     enum sig_use use, int64_t ttl, char *out, size_t cap,
	     struct sig_token_claims *claims);

/* sig_ws.c */
/*
 * Whether a holder of c may join r now: NULL, or the error code the join
 * gets ("invite_used", "room_full", "room_locked"). *again (if not NULL)
 * gets the participant holding the same seat, whom the join replaces.
 */
const char *sig_admission(const struct room *r,
			  const struct sig_token_claims *c,
			  struct sig_peer **again);
/* Refused joins (and pre-join checks, POST /v1/check) are told to the
 * room's creator ({"type":"join-refused"}) at most once a second; the
 * tick sends what waited. code: a static string. */
void sig_tell_refused(struct sig *s, struct room *r, const char *code);
void sig_refusals_flush(struct sig *s, struct room *r);
void sig_ws_upgrade(struct sig *s, struct http_req *r);
/* Tells everyone in r why (error code), disconnects them, frees r. */
void sig_room_shut(struct sig *s, struct room *r, const char *code,
		   const char *reason);
/* Disconnects one participant with an error (kick). */
void sig_peer_remove(struct sig *s, struct sig_peer *p, const char *code,
		     const char *reason);
void sig_ws_free_dead(struct sig *s);

#endif
