/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_TURN_SERVER_H
#define SOTTO_TURN_SERVER_H

/*
 * STUN/TURN request logic (RFC 8489, RFC 8656), run on the control thread.
 * It owns allocations, permissions and channels and publishes what the fast
 * path needs into the dataplane tables (dp.h). It never touches the wire:
 * the control loop hands it a message and sends what it returns.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "clock.h"
#include "config.h"
#include "dp.h"
#include "metrics.h"

struct turn_server;

/* A packet to send: a response to the client, or a Send indication's data
 * relayed to its peer. */
struct turn_tx {
	struct sotto_addr src;   /* local address to send from */
	struct sotto_addr dst;
	uint32_t sock;           /* udp driver socket slot */
	const uint8_t *data;
	size_t len;
};

/*
 * The TURN server's counters, each described once: X(name, label, family,
 * labels, help) as for the dataplane's (dataplane/dp.h): a family's help on
 * its first entry, entries with the same family and labels summed, family
 * NULL not exported.
 */
#define TURN_FOREACH_STAT(X)                                                  \
	X(REQUESTS, "requests", NULL, NULL, NULL)                             \
	X(BINDING, "binding", "sotto_turn_requests_total",                    \
	  "method=\"binding\"",                                               \
	  "STUN/TURN requests by method (after the per-source rate limit).")  \
	X(ALLOCATE, "allocate", "sotto_turn_requests_total",                  \
	  "method=\"allocate\"", NULL)                                        \
	X(REFRESH, "refresh", "sotto_turn_requests_total",                    \
	  "method=\"refresh\"", NULL)                                         \
	X(CREATE_PERMISSION, "create_permission", "sotto_turn_requests_total", \
	  "method=\"create_permission\"", NULL)                               \
	X(CHANNEL_BIND, "channel_bind", "sotto_turn_requests_total",          \
	  "method=\"channel_bind\"", NULL)                                    \
	X(SEND_INDICATION, "send_indication",                                 \
	  "sotto_turn_send_indications_total", NULL,                          \
	  "Send indications handled by the control thread.")                  \
	X(AUTH_CHALLENGE, "auth_challenge", "sotto_turn_auth_failures_total", \
	  "reason=\"no_credentials\"",                                        \
	  "Requests that failed authentication, by reason.")                  \
	X(AUTH_FAILED, "auth_failed", "sotto_turn_auth_failures_total",       \
	  "reason=\"bad_credentials\"", NULL)                                 \
	X(STALE_NONCE, "stale_nonce", "sotto_turn_auth_failures_total",       \
	  "reason=\"stale_nonce\"", NULL)                                     \
	X(RATE_LIMITED, "rate_limited", "sotto_rate_limit_hits_total",        \
	  "limit=\"stun_requests_per_source\"",                               \
	  "Requests refused by a rate limit, by limit.")                      \
	X(PEER_DENIED, "peer_denied", "sotto_turn_peer_denied_total", NULL,   \
	  "Permissions and channels refused by the peer address policy.")     \
	X(QUOTA, "quota", "sotto_turn_quota_refusals_total", NULL,            \
	  "Requests refused by an allocation or permission quota.")           \
	X(MALFORMED, "malformed", "sotto_turn_malformed_total", NULL,         \
	  "STUN messages dropped as malformed or with a bad FINGERPRINT.")    \
	X(BAD_FINGERPRINT, "bad_fingerprint", "sotto_turn_malformed_total",   \
	  NULL, NULL)                                                         \
	X(ERRORS, "error_responses", NULL, NULL, NULL) /* by code: below */   \
	X(UNSENT, "unsent_amplification", "sotto_turn_responses_unsent_total", \
	  "reason=\"larger_than_request\"",                                   \
	  "Error responses to unauthenticated requests not sent because they would have been larger than the request.") \
	X(ALLOCATIONS_CREATED, "allocations_created",                         \
	  "sotto_turn_allocations_created_total", NULL, "Allocations created.") \
	X(ALLOCATIONS_EXPIRED, "allocations_expired",                         \
	  "sotto_turn_allocations_ended_total", "reason=\"expired\"",         \
	  "Allocations that ended other than by the client's Refresh 0, by reason.") \
	X(KILLED, "allocations_killed", "sotto_turn_allocations_ended_total", \
	  "reason=\"killed\"", NULL)                                          \
	X(PERMISSIONS_EXPIRED, "permissions_expired", NULL, NULL, NULL)       \
	X(CHANNELS_EXPIRED, "channels_expired", NULL, NULL, NULL)             \
	X(DRAIN_REFUSED, "drain_refused", "sotto_turn_drain_refusals_total",  \
	  NULL, "Allocate requests refused (508) while draining.")            \
	X(PERMISSIONS_CREATED, "permissions_created",                         \
	  "sotto_turn_permissions_created_total", NULL, "Permissions created.") \
	X(CHANNELS_CREATED, "channels_created",                               \
	  "sotto_turn_channels_created_total", NULL, "Channel bindings created.")

enum turn_stat {
#define X(name, ...) TURN_STAT_##name,
	TURN_FOREACH_STAT(X)
#undef X
	TURN_N_STATS
};
extern const char *const turn_stat_names[TURN_N_STATS];

struct turn_server *turn_server_new(const struct sotto_config *cfg,
				    struct dp_ctx *dp);
/* Releases every allocation (unpublish + relay_close after grace). */
void turn_server_free(struct turn_server *ts);

/*
 * One datagram that arrived at a TURN listener (to, sock) from a client
 * (from). Writes at most one packet to send into *tx, its bytes in buf.
 * Returns 1 if *tx is to be sent, 0 if nothing is (dropped and counted).
 * now: lifetimes and rate limits run on now->mono_ms; REST credential
 * expiry and nonces on now->wall_ms (unix time).
 */
int turn_server_handle(struct turn_server *ts, const uint8_t *pkt, size_t len,
		       const struct sotto_addr *from,
		       const struct sotto_addr *to, uint32_t sock,
		       const struct clock_now *now, uint8_t *buf, size_t cap,
		       struct turn_tx *tx);

/* Expires permissions (300 s), channels (600 s) and allocations;
 * mono_ms: CLOCK_MONOTONIC in ms. */
void turn_server_tick(struct turn_server *ts, uint64_t mono_ms);

uint32_t turn_server_allocations(const struct turn_server *ts);
/* EVEN-PORT reservations held (each holds one relayed port). */
uint32_t turn_server_reservations(const struct turn_server *ts);

/* Allocate requests, from parse to response built, in µs. */
const struct metrics_hist *turn_server_alloc_hist(const struct turn_server *ts);

/* Error responses by method and code (code 0: any other code). */
#define TURN_N_METHODS 6
#define TURN_N_ERROR_CODES 13
extern const char *const turn_method_names[TURN_N_METHODS];
void turn_server_errors(const struct turn_server *ts,
			void (*emit)(const char *method, int code, uint64_t n,
				     void *arg),
			void *arg);

/* For operators (sottoctl, metrics). */
struct turn_alloc_info {
	uint64_t id;
	const char *user;              /* REST username's user part */
	struct sotto_addr client, relay;
	uint64_t created_ms, expires_ms;
	unsigned permissions, channels;
};
typedef void (*turn_alloc_fn)(const struct turn_alloc_info *ai, void *arg);
void turn_server_foreach(const struct turn_server *ts, turn_alloc_fn fn,
			 void *arg);
/* One allocation and its peers: permission IPs (port 0) into perms and
 * channels' numbers and peers into chan_num/chan_peer, up to max each.
 * 0 or -ENOENT. */
int turn_server_alloc_show(const struct turn_server *ts, uint64_t id,
			   struct turn_alloc_info *ai, struct sotto_addr *perms,
			   uint16_t *chan_num, struct sotto_addr *chan_peer,
			   unsigned max);
/* Removes an allocation now (its relayed port stops). 0 or -ENOENT. */
int turn_server_kill(struct turn_server *ts, uint64_t id);
/* Totals of live permissions and channels. */
void turn_server_peer_counts(const struct turn_server *ts, uint64_t *perms,
			     uint64_t *chans);

void turn_server_set_draining(struct turn_server *ts, bool on);
bool turn_server_draining(const struct turn_server *ts);

/* Takes secrets, limits, lifetimes, SOFTWARE and the peer policy from a
 * reloaded cfg (listeners, relay addresses and ports are not reloadable:
 * they are checked equal by the caller). Existing allocations keep their
 * bandwidth cap; new ones get the new one. 0, or -errno and nothing
 * changed. */
int turn_server_reload(struct turn_server *ts, const struct sotto_config *cfg);
void turn_server_stats(const struct turn_server *ts,
		       uint64_t out[TURN_N_STATS]);

#endif
