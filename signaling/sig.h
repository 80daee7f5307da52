/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SIG_H
#define SOTTO_SIG_H

/*
 * The signaling service: the HTTP API (rooms, invites, TURN credentials,
 * health, the web client) and WebSocket rooms, on the control thread's
 * io_uring loop through control/net/http.c. docs/signaling.md is the protocol.
 */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "gw.h"
#include "http.h"
#include "metrics.h"

struct sig;

/* Counters for metrics and sottoctl; the X-macro keeps names in one place. */
#define SIG_FOREACH_COUNTER(X)                                                \
	X(rooms_created)                                                      \
	X(rooms_closed)                                                       \
	X(rooms_expired)                                                      \
	X(room_create_refused)   /* rate limit, api key, draining, full */    \
	X(tokens_issued)                                                      \
	X(credentials_issued)                                                 \
	X(ws_connections)                                                     \
	X(joins)                                                              \
	X(join_failed_token)                                                  \
	X(join_failed_full)                                                   \
	X(join_failed_locked)                                                 \
	X(join_failed_used)      /* a single-use invite used again */        \
	X(join_failed_rate)                                                   \
	X(join_failed_timeout)   /* connected, never joined in time */        \
	X(messages_relayed)                                                   \
	X(messages_rejected)     /* bad message, unknown peer, too large */   \
	X(messages_rate_limited)                                              \
	X(sdp_rejected)                                                       \
	X(candidates_dropped)    /* non-relay trickle candidates */          \
	X(origin_rejected)                                                    \
	X(auth_failed)           /* bad or missing token/API key on the API */ \
	X(api_rate_limited)      /* room creation per IP */                   \
	X(creds_rate_limited)    /* TURN credentials per IP */                \
	X(invites_rate_limited)  /* invites per room (= per creator token) */ \
	X(kicks)                                                              \
	X(kick_refused)          /* kick list at the room's cap, or no memory */

struct sig_stats {
#define SIG_X(name) uint64_t name;
	SIG_FOREACH_COUNTER(SIG_X)
#undef SIG_X
	uint64_t rooms_current;
	uint64_t peers_current;       /* joined participants */
	uint64_t ws_current;          /* open signaling WebSockets */
	/* join latency: token check to "joined" sent, in µs */
	struct metrics_hist join_us;
};

/* cfg must outlive sig (it is re-read on reload). NULL and errno. */
struct sig *sig_new(const struct sotto_config *cfg);
void sig_free(struct sig *s);

/* The HTTP handler for the API listener(s). */
void sig_http_handle(struct http_req *r, void *sig);

/*
 * Gateway mode (control/gateway/gw.h): rooms created with "mode":
 * "gateway" get a gateway room, a participant's offer is answered by the
 * gateway, and leaving ends the participant's leg. NULL: gateway mode off.
 */
#define SIG_GATEWAY_ROOM_MAX DP_GW_MAX_LEGS
void sig_set_gateway(struct sig *s, struct gw *gw);
/* The gateway ended a participant's leg on its own (consent lost, DTLS
 * failure): tells the participant, who may offer again. */
void sig_gateway_leg_ended(struct sig *s, const char *room_hex,
			   const char *peer_hex, const char *reason);

/* Once a second: room expiry, join deadlines, deferred frees. */
void sig_tick(struct sig *s, uint64_t now_ms);

/* Draining: no new rooms (503), joins to existing rooms still allowed. */
void sig_set_draining(struct sig *s, bool on);
bool sig_draining(const struct sig *s);

/* New limits, origins, keys from a reloaded config (the same struct,
 * re-filled). Rooms and connections stay; tokens signed with a key that is
 * no longer listed stop working. 0 or -errno. */
int sig_reload(struct sig *s);

/* For sottoctl status: rooms, joined participants, open WebSockets. */
void sig_counts(const struct sig *s, uint64_t *rooms, uint64_t *participants,
		uint64_t *websockets);
/* The sotto_signaling_* families for /metrics. */
void sig_metrics(const struct sig *s, struct metrics *m);

/* For sottoctl: rooms as a JSON array string (caller frees), and closing
 * one by id. */
char *sig_rooms_json(const struct sig *s);
char *sig_room_json(const struct sig *s, const char *id);
int sig_room_close(struct sig *s, const char *id);

#endif
