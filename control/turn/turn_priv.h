/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_TURN_PRIV_H
#define SOTTO_TURN_PRIV_H

/* The TURN server's state, shared by the request dispatch and responses
 * (turn_server.c) and the allocations (turn_alloc.c). */
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "metrics.h"
#include "stun.h"
#include "turn_auth.h"
#include "turn_server.h"

#define MOD "turn"

/* RFC 8656 §9: a permission lives 300 s unless refreshed. */
#define TURN_PERM_LIFETIME_MS (300 * 1000ull)
/* RFC 8656 §12: a channel binding lives 600 s unless refreshed. */
#define TURN_CHAN_LIFETIME_MS (600 * 1000ull)
/* SOFTWARE is cut to this: a long one only helps amplification. */
#define TURN_SOFTWARE_MAX 32
#define TURN_RATE_SLOTS 65536
/* peer sets are indexed by 16 bits */
#define TURN_PERMS_LIMIT 4096


struct turn_perm {
	struct sotto_addr ip;          /* normalised, port 0 */
	uint64_t expires;              /* ms */
};

struct turn_chan {
	uint16_t num;
	struct sotto_addr peer;        /* normalised, with port */
	uint64_t expires;
};

/* Allocations and reservations per REST user ("expiry:user" → user). */
struct turn_user {
	struct turn_user *next;
	uint32_t count;
	char name[];
};

struct turn_alloc {
	/* first: it carries the cache alignment, and the tables point at it */
	struct dp_alloc dpa;
	TAILQ_ENTRY(turn_alloc) link;
	struct dp_ctx *dp;             /* for the release after the grace period */
	struct turn_user *user;
	uint64_t expires;              /* ms */
	uint8_t tid[STUN_TID_LEN];     /* of the Allocate, for retransmissions */
	bool dirty;                    /* peer set not yet published */
	bool dead;                     /* removed, waiting to leave the tables */
	uint16_t n_perms, n_chans;
	struct turn_perm *perms;       /* max_perms each */
	struct turn_chan *chans;
	bool has_token;                /* Allocate reserved the next port */
	uint8_t token[8];              /* its RESERVATION-TOKEN */
	struct turn_resv *resv;        /* that port while still held, or NULL */
	char username[TURN_USERNAME_MAX];
	uint64_t id;                   /* for operators (sottoctl) */
	uint64_t created;              /* ms */
};

TAILQ_HEAD(turn_alloc_list, turn_alloc);

/* RFC 8656 §7.2: the odd port after an EVEN-PORT allocation with the R
 * bit, held for a later Allocate that presents the token. It holds a port,
 * so it is charged like an allocation: to its user (allocations_per_user)
 * and to the server (allocations), and it ends with the allocation that
 * made it (Refresh 0, expiry, kill) if it has not been claimed or expired
 * before. turn.limits.reservations bounds how many are held at once. */
#define TURN_RESERVATION_MS 30000

struct turn_resv {
	TAILQ_ENTRY(turn_resv) link;
	uint8_t token[8];
	struct sotto_addr relay;
	uint32_t sock;
	uint64_t expires;              /* ms */
	struct turn_user *user;        /* charged to, as one allocation */
	struct turn_alloc *owner;      /* the allocation that made it */
};

TAILQ_HEAD(turn_resv_list, turn_resv);

struct turn_server {
	struct dp_ctx *dp;
	struct turn_auth *auth;
	struct peer_policy *policy;
	struct rate_limit *rl;

	struct sotto_addr relay_ip[CONFIG_MAX_ADDRS];
	unsigned n_relay;
	unsigned relay_next;           /* round robin over relay IPs */
	char software[TURN_SOFTWARE_MAX + 1];
	uint16_t software_len;
	bool legacy_channels;          /* RFC 5766 channel range too */
	uint32_t default_lifetime, max_lifetime;
	uint32_t max_allocs, max_per_user;
	uint32_t max_resvs;            /* EVEN-PORT reservations held at once */
	uint16_t max_perms;
	uint64_t bandwidth;

	struct turn_alloc_list allocs;
	struct turn_alloc_list dying;  /* unpublish failed (ENOMEM): retried */
	uint32_t n_allocs;
	struct turn_resv_list resvs;
	uint32_t n_resvs;

	struct turn_user **users;
	uint32_t user_mask;

	/* working copies for all-or-nothing updates, swapped with an
	 * allocation's arrays once the new peer set is published */
	struct turn_perm *scratch_perms;
	struct turn_chan *scratch_chans;

	uint64_t stats[TURN_N_STATS];
	uint64_t errors[TURN_N_METHODS][TURN_N_ERROR_CODES];
	uint64_t next_id;
	bool draining;                 /* refuse new allocations (508) */
	struct metrics_hist alloc_hist; /* Allocate handling time, µs */
};

/* One request being answered. */
struct turn_req {
	struct turn_server *ts;
	const struct stun_msg *m;
	const struct sotto_addr *from, *to;
	uint32_t sock;
	uint64_t now;                  /* ms, CLOCK_MONOTONIC */
	uint64_t wall_s;               /* unix time: credentials, nonces */
	size_t req_len;                /* bytes: an unauthenticated error
					* response is never larger */
	const struct turn_auth_result *auth; /* NULL until authenticated */
	struct stun_builder b;
	uint8_t *buf;
	size_t cap;
	struct turn_tx *tx;
};

/* turn_server.c: responses to the request being answered */
void turn_resp_begin(struct turn_req *rq, uint16_t cls);
int turn_resp_end(struct turn_req *rq);
int turn_resp_error(struct turn_req *rq, int code);
int turn_resp_quota(struct turn_req *rq, int code);
void turn_add_software(struct turn_req *rq);

/* turn_alloc.c: the methods that make and use allocations, and their end */
int turn_do_allocate(struct turn_req *rq);
int turn_do_refresh(struct turn_req *rq);
int turn_do_create_permission(struct turn_req *rq);
int turn_do_channel_bind(struct turn_req *rq);
int turn_do_send(struct turn_server *ts, const struct stun_msg *m,
		 const struct sotto_addr *from, const struct sotto_addr *to,
		 uint64_t now, struct turn_tx *tx);
int turn_peers_publish(struct turn_server *ts, struct turn_alloc *ta,
		       const struct turn_perm *perms, uint16_t np,
		       const struct turn_chan *chans, uint16_t nc);
void turn_alloc_remove(struct turn_server *ts, struct turn_alloc *ta,
		       const char *why);
/* after the RCU grace period of an unpublished allocation: frees it */
void turn_alloc_release(void *arg);
/* Forgets a reservation and its charge; closes its socket unless claimed. */
void turn_resv_drop(struct turn_server *ts, struct turn_resv *r,
		    bool close_sock);

#endif
