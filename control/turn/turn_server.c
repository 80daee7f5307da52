/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN/TURN request logic (RFC 8489, RFC 8656 over UDP) on the control
 * thread. Nothing is kept for a client before its MESSAGE-INTEGRITY checks
 * out (coturn #1641): a 401 is answered from the request and a stateless
 * nonce. An allocation is published to the dataplane tables as a
 * struct dp_alloc embedded in our own struct turn_alloc; its permissions
 * and channels are republished as a whole peer set whenever they change.
 */
#include "turn_server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <openssl/rand.h>

#include "chandata.h"
#include "clock.h"
#include "log.h"
#include "peer_policy.h"
#include "rate_limit.h"
#include "stun.h"
#include "turn_auth.h"

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

const char *const turn_stat_names[TURN_N_STATS] = {
#define X(name, str, ...) [TURN_STAT_##name] = str,
	TURN_FOREACH_STAT(X)
#undef X
};

struct turn_perm {
	struct sotto_addr ip;          /* normalised, port 0 */
	uint64_t expires;              /* ms */
};

struct turn_chan {
	uint16_t num;
	struct sotto_addr peer;        /* normalised, with port */
	uint64_t expires;
};

/* Allocations per REST user ("expiry:user" → user). */
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
	char username[TURN_USERNAME_MAX];
	uint64_t id;                   /* for operators (sottoctl) */
	uint64_t created;              /* ms */
};

TAILQ_HEAD(turn_alloc_list, turn_alloc);

/* RFC 8656 §7.2: the odd port after an EVEN-PORT allocation with the R
 * bit, held for a later Allocate that presents the token. */
#define TURN_RESERVATION_MS 30000

struct turn_resv {
	TAILQ_ENTRY(turn_resv) link;
	uint8_t token[8];
	struct sotto_addr relay;
	uint32_t sock;
	uint64_t expires;              /* ms */
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
	uint64_t now;                  /* ms */
	const struct turn_auth_result *auth; /* NULL until authenticated */
	struct stun_builder b;
	uint8_t *buf;
	size_t cap;
	struct turn_tx *tx;
};

/* ---- users ---- */

static uint32_t
user_hash(const char *s)
{
	uint32_t h = 2166136261u;      /* FNV-1a: names are authenticated */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static struct turn_user *
user_find(const struct turn_server *ts, const char *name)
{
	struct turn_user *u = ts->users[user_hash(name) & ts->user_mask];

	while (u != NULL && strcmp(u->name, name) != 0)
		u = u->next;
	return u;
}

static struct turn_user *
user_ref(struct turn_server *ts, const char *name)
{
	struct turn_user *u = user_find(ts, name);

	if (u == NULL) {
		size_t n = strlen(name) + 1;
		struct turn_user **head =
			&ts->users[user_hash(name) & ts->user_mask];
		u = malloc(sizeof(*u) + n);
		if (u == NULL)
			return NULL;
		memcpy(u->name, name, n);
		u->count = 0;
		u->next = *head;
		*head = u;
	}
	u->count++;
	return u;
}

static void
user_unref(struct turn_server *ts, struct turn_user *u)
{
	struct turn_user **pp;

	if (--u->count > 0)
		return;
	pp = &ts->users[user_hash(u->name) & ts->user_mask];
	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	free(u);
}

/* ---- allocations ---- */

static const uint64_t alloc_hist_bounds_us[] = {
	25, 50, 100, 250, 500, 1000, 5000,
};

static const char *
addr_str(const struct sotto_addr *a, char *buf)
{
	return sotto_addr_str(a, buf, SOTTO_ADDRSTRLEN);
}

/* Runs after the RCU grace period: no worker holds dpa any more. */
static void
alloc_release(void *arg)
{
	struct turn_alloc *ta = arg;

	ta->dp->ops->relay_close(ta->dp, ta->dpa.relay_sock);
	free(ta->perms);
	free(ta->chans);
	free(ta);
}

static void
alloc_remove(struct turn_server *ts, struct turn_alloc *ta, const char *why)
{
	char r[SOTTO_ADDRSTRLEN], c[SOTTO_ADDRSTRLEN];

	TAILQ_REMOVE(&ts->allocs, ta, link);
	ta->dead = true;
	ts->n_allocs--;
	user_unref(ts, ta->user);
	ta->user = NULL;
	/* the client's address only at debug (log.h) */
	log_info(MOD, "allocation removed id=%" PRIu64 " relayed=%s reason=\"%s\"",
		 ta->id, addr_str(&ta->dpa.relay, r), why);
	log_debug(MOD, "allocation removed id=%" PRIu64 " client=%s", ta->id,
		  addr_str(&ta->dpa.client, c));
	if (dp_alloc_unpublish(&ts->dp->tables, &ta->dpa, alloc_release,
			       ta) < 0) {
		/* still in the tables: try again on the next tick */
		log_warn(MOD, "unpublish failed, will retry relayed=%s", r);
		TAILQ_INSERT_TAIL(&ts->dying, ta, link);
	}
}

/* The allocation of this 5-tuple, if any and not expired (RFC 8656 §5:
 * an expired allocation is gone even if the tick has not run yet). */
static struct turn_alloc *
alloc_find(struct turn_server *ts, const struct sotto_addr *from,
	   const struct sotto_addr *to, uint64_t now)
{
	struct dp_client_key k;
	struct turn_alloc *ta;
	void *data;

	dp_client_key_set(&k, from, to);
	if (rte_hash_lookup_data(ts->dp->tables.by_client, &k, &data) < 0)
		return NULL;
	ta = ((struct dp_alloc *)data)->owner;
	if (ta == NULL || ta->dead)
		return NULL;
	if (now >= ta->expires) {
		ts->stats[TURN_STAT_ALLOCATIONS_EXPIRED]++;
		alloc_remove(ts, ta, "expired");
		return NULL;
	}
	return ta;
}

static int
peers_publish(struct turn_server *ts, struct turn_alloc *ta,
	      const struct turn_perm *perms, uint16_t np,
	      const struct turn_chan *chans, uint16_t nc)
{
	struct dp_peerset *ps = dp_peerset_new(np, nc);

	if (ps == NULL)
		return -ENOMEM;
	for (uint16_t i = 0; i < np; i++)
		ps->perms[i] = perms[i].ip;
	for (uint16_t i = 0; i < nc; i++) {
		ps->chans[i].num = chans[i].num;
		ps->chans[i].peer = chans[i].peer;
	}
	return dp_peers_publish(&ts->dp->tables, &ta->dpa, ps);
}

/*
 * All-or-nothing update: publish the working copies (the server's scratch
 * arrays, or the allocation's own where unchanged), then make them the
 * allocation's and give its old arrays back as scratch. -ENOMEM leaves the
 * allocation as it was.
 */
static int
peers_commit(struct turn_server *ts, struct turn_alloc *ta,
	     struct turn_perm *np, uint16_t n_perms, struct turn_chan *nc,
	     uint16_t n_chans)
{
	if (peers_publish(ts, ta, np, n_perms, nc, n_chans) < 0)
		return -ENOMEM;
	/* entries are only appended here (expiry removes them) */
	if (n_perms > ta->n_perms)
		ts->stats[TURN_STAT_PERMISSIONS_CREATED] += n_perms - ta->n_perms;
	if (n_chans > ta->n_chans)
		ts->stats[TURN_STAT_CHANNELS_CREATED] += n_chans - ta->n_chans;
	if (np != ta->perms) {
		ts->scratch_perms = ta->perms;
		ta->perms = np;
	}
	ta->n_perms = n_perms;
	if (nc != ta->chans) {
		ts->scratch_chans = ta->chans;
		ta->chans = nc;
	}
	ta->n_chans = n_chans;
	ta->dirty = false;
	return 0;
}

static int
perm_find(const struct turn_perm *p, uint16_t n, const struct sotto_addr *ip)
{
	for (uint16_t i = 0; i < n; i++)
		if (sotto_addr_ip_eq(&p[i].ip, ip))
			return i;
	return -1;
}

/* RFC 8656 §7.2: min(requested, max); below the default → the default. */
static uint32_t
lifetime_clamp(const struct turn_server *ts, const struct stun_attr *a,
	       uint32_t requested)
{
	uint32_t l = a ? requested : ts->default_lifetime;

	if (l > ts->max_lifetime)
		l = ts->max_lifetime;
	if (l < ts->default_lifetime)
		l = ts->default_lifetime;
	if (l > ts->max_lifetime)
		l = ts->max_lifetime;  /* a config with default > max */
	return l;
}

/* ---- responses ---- */

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 420: return "Unknown Attribute";
	case 437: return "Allocation Mismatch";
	case 438: return "Stale Nonce";
	case 440: return "Address Family not Supported";
	case 441: return "Wrong Credentials";
	case 442: return "Unsupported Transport Protocol";
	case 443: return "Peer Address Family Mismatch";
	case 486: return "Allocation Quota Reached";
	case 508: return "Insufficient Capacity";
	default: return "Server Error";
	}
}

static const uint16_t error_codes[TURN_N_ERROR_CODES - 1] = {
	400, 401, 403, 420, 437, 438, 441, 442, 443, 486, 500, 508,
};

static unsigned
method_index(uint16_t method)
{
	switch (method) {
	case STUN_BINDING: return 0;
	case TURN_ALLOCATE: return 1;
	case TURN_REFRESH: return 2;
	case TURN_CREATE_PERMISSION: return 3;
	case TURN_CHANNEL_BIND: return 4;
	default: return 5;
	}
}

static void
count_error(struct turn_req *rq, int code)
{
	unsigned ci = 0;

	while (ci < TURN_N_ERROR_CODES - 1 && error_codes[ci] != code)
		ci++;
	rq->ts->stats[TURN_STAT_ERRORS]++;
	rq->ts->errors[method_index(rq->m->method)][ci]++;
}

static void
resp_begin(struct turn_req *rq, uint16_t cls)
{
	stun_build(&rq->b, rq->buf, rq->cap, rq->m->method, cls, rq->m->tid);
}

/* RFC 8489 §9.2.4: responses to authenticated requests carry
 * MESSAGE-INTEGRITY; §14.7: FINGERPRINT if the request had one. */
static int
resp_end(struct turn_req *rq)
{
	size_t n;

	if (rq->auth != NULL)
		stun_add_integrity(&rq->b, rq->auth->key,
				   sizeof(rq->auth->key));
	if (rq->m->fingerprint >= 0)
		stun_add_fingerprint(&rq->b);
	n = stun_finish(&rq->b);
	if (n == 0) {
		log_debug(MOD, "response does not fit in %zu bytes", rq->cap);
		return 0;
	}
	rq->tx->src = *rq->to;
	rq->tx->dst = *rq->from;
	rq->tx->sock = rq->sock;
	rq->tx->data = rq->buf;
	rq->tx->len = n;
	return 1;
}

static void
add_software(struct turn_req *rq)
{
	if (rq->ts->software_len > 0)
		stun_add(&rq->b, STUN_A_SOFTWARE, rq->ts->software,
			 rq->ts->software_len);
}

static int
resp_error(struct turn_req *rq, int code)
{
	count_error(rq, code);
	resp_begin(rq, STUN_ERROR);
	stun_add_error(&rq->b, code, reason_phrase(code));
	return resp_end(rq);
}

static int
resp_quota(struct turn_req *rq, int code)
{
	rq->ts->stats[TURN_STAT_QUOTA]++;
	return resp_error(rq, code);
}

/* 401 and 438: REALM and a fresh NONCE, never MESSAGE-INTEGRITY
 * (RFC 8489 §9.2.4). The only response allowed to outgrow its request. */
static int
resp_challenge(struct turn_req *rq, int code)
{
	char nonce[TURN_NONCE_MAX];
	const char *realm = turn_auth_realm(rq->ts->auth);
	size_t nlen = turn_auth_nonce(rq->ts->auth, rq->from, rq->now / 1000,
				      nonce);

	count_error(rq, code);
	resp_begin(rq, STUN_ERROR);
	stun_add_error(&rq->b, code, reason_phrase(code));
	stun_add(&rq->b, STUN_A_REALM, realm, (uint16_t)strlen(realm));
	stun_add(&rq->b, STUN_A_NONCE, nonce, (uint16_t)nlen);
	return resp_end(rq);
}

/* RFC 8489 §6.3.1.1: 420 listing what we did not understand. */
static int
resp_unknown(struct turn_req *rq)
{
	uint8_t v[sizeof(rq->m->unknown_required)];
	unsigned n = rq->m->n_unknown;

	for (unsigned i = 0; i < n; i++) {
		v[2 * i] = (uint8_t)(rq->m->unknown_required[i] >> 8);
		v[2 * i + 1] = (uint8_t)rq->m->unknown_required[i];
	}
	count_error(rq, 420);
	resp_begin(rq, STUN_ERROR);
	stun_add_error(&rq->b, 420, reason_phrase(420));
	stun_add(&rq->b, STUN_A_UNKNOWN_ATTRIBUTES, v, (uint16_t)(2 * n));
	return resp_end(rq);
}

/* ---- methods ---- */

static int
do_binding(struct turn_req *rq)
{
	if (rq->m->n_unknown)
		return resp_unknown(rq);
	/* RFC 8489 §7.3.1. No SOFTWARE: a Binding is unauthenticated and
	 * may come from a spoofed source, so it gets nothing extra. */
	resp_begin(rq, STUN_SUCCESS);
	stun_add_xor_addr(&rq->b, STUN_A_XOR_MAPPED_ADDRESS, rq->from);
	return resp_end(rq);
}

static uint32_t
remaining_s(const struct turn_alloc *ta, uint64_t now)
{
	return ta->expires > now ? (uint32_t)((ta->expires - now + 999) / 1000)
				 : 0;
}

static int
allocate_success(struct turn_req *rq, const struct turn_alloc *ta)
{
	resp_begin(rq, STUN_SUCCESS);
	stun_add_xor_addr(&rq->b, STUN_A_XOR_RELAYED_ADDRESS, &ta->dpa.relay);
	stun_add_u32(&rq->b, STUN_A_LIFETIME, remaining_s(ta, rq->now));
	stun_add_xor_addr(&rq->b, STUN_A_XOR_MAPPED_ADDRESS, rq->from);
	if (ta->has_token)
		stun_add(&rq->b, STUN_A_RESERVATION_TOKEN, ta->token,
			 sizeof(ta->token));
	add_software(rq);
	return resp_end(rq);
}

/* port: DP_PORT_ANY or DP_PORT_EVEN (dp.h) */
static int
relay_open(struct turn_server *ts, uint8_t family, uint16_t port,
	   struct sotto_addr *relay, uint32_t *sock)
{
	int rc = -EAFNOSUPPORT;

	for (unsigned k = 0; k < ts->n_relay; k++) {
		unsigned i = (ts->relay_next + k) % ts->n_relay;
		struct sotto_addr want = ts->relay_ip[i];
		if (want.family != family)
			continue;
		want.port = port;
		rc = ts->dp->ops->relay_open(ts->dp, &want, relay, sock);
		if (rc == 0) {
			ts->relay_next = i + 1;
			return 0;
		}
	}
	return rc;
}

/*
 * EVEN-PORT with the R bit (RFC 8656 §7.2 step 5): an even port whose
 * successor is free too; the successor is opened now and held for the
 * RESERVATION-TOKEN. A few tries, since the odd port may be taken.
 */
static int
relay_open_pair(struct turn_server *ts, uint8_t family,
		struct sotto_addr *relay, uint32_t *sock,
		struct sotto_addr *next, uint32_t *next_sock)
{
	for (int tries = 0; tries < 16; tries++) {
		int rc = relay_open(ts, family, DP_PORT_EVEN, relay, sock);
		if (rc < 0)
			return rc;
		struct sotto_addr want = *relay;
		want.port++;
		if (ts->dp->ops->relay_open(ts->dp, &want, next, next_sock) == 0)
			return 0;
		/* never published: no grace period needed */
		ts->dp->ops->relay_close(ts->dp, *sock);
	}
	return -ENOSPC;
}

static struct turn_resv *
resv_find(struct turn_server *ts, const uint8_t token[8], uint64_t now)
{
	struct turn_resv *r;

	TAILQ_FOREACH(r, &ts->resvs, link)
		if (now < r->expires && memcmp(r->token, token, 8) == 0)
			return r;
	return NULL;
}

/* Forgets a reservation; its socket is closed unless it was claimed. */
static void
resv_drop(struct turn_server *ts, struct turn_resv *r, bool close_sock)
{
	TAILQ_REMOVE(&ts->resvs, r, link);
	ts->n_resvs--;
	if (close_sock)
		ts->dp->ops->relay_close(ts->dp, r->sock);
	free(r);
}

static bool
have_relay_family(const struct turn_server *ts, uint8_t family)
{
	for (unsigned i = 0; i < ts->n_relay; i++)
		if (ts->relay_ip[i].family == family)
			return true;
	return false;
}

static int
do_allocate(struct turn_req *rq)
{
	struct turn_server *ts = rq->ts;
	const struct stun_msg *m = rq->m;
	const struct stun_attr *a, *raf, *lt, *ep, *rt;
	struct turn_resv *claim = NULL, *resv = NULL;
	struct turn_alloc *ta;
	struct turn_user *u;
	uint8_t family = AF_INET;
	uint32_t v, lifetime;
	char r[SOTTO_ADDRSTRLEN], c[SOTTO_ADDRSTRLEN];
	int rc;

	/* RFC 8656 §7.2 step 1: the 5-tuple is taken, unless this is a
	 * retransmission of the Allocate that took it */
	ta = alloc_find(ts, rq->from, rq->to, rq->now);
	if (ta != NULL) {
		if (memcmp(ta->tid, m->tid, STUN_TID_LEN) == 0 &&
		    strcmp(ta->username, rq->auth->username) == 0)
			return allocate_success(rq, ta);
		return resp_error(rq, 437);
	}

	/* a draining server keeps its calls and takes no new ones; 508
	 * sends a client on to its next TURN server */
	if (ts->draining) {
		ts->stats[TURN_STAT_DRAIN_REFUSED]++;
		return resp_error(rq, 508);
	}

	/* step 2 */
	a = stun_find(m, STUN_A_REQUESTED_TRANSPORT);
	if (a == NULL || stun_attr_u32(a, &v) < 0)
		return resp_error(rq, 400);
	if ((v >> 24) != IPPROTO_UDP)
		return resp_error(rq, 442);
	/* step 3: DONT-FRAGMENT is accepted and ignored */

	/* steps 4-5: RESERVATION-TOKEN claims a port an earlier EVEN-PORT
	 * Allocate held back; it goes with neither EVEN-PORT nor
	 * REQUESTED-ADDRESS-FAMILY */
	raf = stun_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	ep = stun_find(m, STUN_A_EVEN_PORT);
	rt = stun_find(m, STUN_A_RESERVATION_TOKEN);
	if (rt != NULL) {
		if (raf != NULL || ep != NULL || rt->len != 8)
			return resp_error(rq, 400);
		claim = resv_find(ts, rt->val, rq->now);
		if (claim == NULL)
			return resp_error(rq, 508);
		family = claim->relay.family;
	}
	if (ep != NULL && ep->len != 1)
		return resp_error(rq, 400);

	/* step 6: RFC 8656 §18.10 */
	if (raf != NULL) {
		if (raf->len != 4)
			return resp_error(rq, 400);
		if (stun_find(m, STUN_A_ADDITIONAL_ADDRESS_FAMILY) != NULL)
			return resp_error(rq, 400);
		if (raf->val[0] == 0x01)
			family = AF_INET;
		else if (raf->val[0] == 0x02)
			family = AF_INET6;
		else
			return resp_error(rq, 440);
	}
	if (claim == NULL && !have_relay_family(ts, family))
		return resp_error(rq, 440);

	lt = stun_find(m, STUN_A_LIFETIME);
	v = 0;
	if (lt != NULL && stun_attr_u32(lt, &v) < 0)
		return resp_error(rq, 400);
	lifetime = lifetime_clamp(ts, lt, v);

	/* step 7: quotas */
	u = user_find(ts, rq->auth->user);
	if (u != NULL && u->count >= ts->max_per_user)
		return resp_quota(rq, 486);
	if (ts->n_allocs >= ts->max_allocs)
		return resp_quota(rq, 508);

	ta = aligned_alloc(RTE_CACHE_LINE_SIZE,
			   RTE_ALIGN_CEIL(sizeof(*ta), RTE_CACHE_LINE_SIZE));
	if (ta == NULL)
		return resp_error(rq, 508);
	memset(ta, 0, sizeof(*ta));
	ta->perms = calloc(ts->max_perms ? ts->max_perms : 1,
			   sizeof(*ta->perms));
	ta->chans = calloc(ts->max_perms ? ts->max_perms : 1,
			   sizeof(*ta->chans));
	ta->dpa.peers = dp_peerset_new(0, 0);
	if (ta->perms == NULL || ta->chans == NULL || ta->dpa.peers == NULL)
		goto fail_free;

	if (claim != NULL) {
		ta->dpa.relay = claim->relay;
		ta->dpa.relay_sock = claim->sock;
		resv_drop(ts, claim, false);
		rc = 0;
	} else if (ep != NULL && (ep->val[0] & 0x80) &&
		   ts->n_resvs < ts->max_allocs) {
		resv = calloc(1, sizeof(*resv));
		if (resv == NULL || RAND_bytes(resv->token, 8) != 1) {
			free(resv);
			goto fail_free;
		}
		rc = relay_open_pair(ts, family, &ta->dpa.relay,
				     &ta->dpa.relay_sock, &resv->relay,
				     &resv->sock);
		if (rc < 0) {
			free(resv);
			resv = NULL;
		}
	} else {
		rc = relay_open(ts, family, ep ? DP_PORT_EVEN : DP_PORT_ANY,
				&ta->dpa.relay, &ta->dpa.relay_sock);
	}
	if (rc < 0) {
		log_warn(MOD, "no relay address left: %s", strerror(-rc));
		goto fail_free;
	}
	ta->dp = ts->dp;
	ta->dpa.client = *rq->from;
	ta->dpa.listener = *rq->to;
	ta->dpa.listener_sock = rq->sock;
	ta->dpa.owner = ta;
	for (int i = 0; i < 2; i++)
		dp_bucket_init(&ta->dpa.bucket[i], ts->bandwidth,
			       ts->bandwidth / 5 + 1500, rte_get_tsc_hz(),
			       rte_rdtsc());
	ta->expires = rq->now + (uint64_t)lifetime * 1000;
	memcpy(ta->tid, m->tid, STUN_TID_LEN);
	snprintf(ta->username, sizeof(ta->username), "%s",
		 rq->auth->username);
	ta->user = user_ref(ts, rq->auth->user);
	if (ta->user == NULL)
		goto fail_close;

	rc = dp_alloc_publish(&ts->dp->tables, &ta->dpa);
	if (rc < 0) {
		log_warn(MOD, "allocation table full: %s", strerror(-rc));
		user_unref(ts, ta->user);
		goto fail_close;
	}
	TAILQ_INSERT_TAIL(&ts->allocs, ta, link);
	ts->n_allocs++;
	ta->id = ++ts->next_id;
	ta->created = rq->now;
	if (resv != NULL) {
		resv->expires = rq->now + TURN_RESERVATION_MS;
		TAILQ_INSERT_TAIL(&ts->resvs, resv, link);
		ts->n_resvs++;
		ta->has_token = true;
		memcpy(ta->token, resv->token, sizeof(ta->token));
	}
	ts->stats[TURN_STAT_ALLOCATIONS_CREATED]++;
	log_info(MOD, "allocation created id=%" PRIu64 " relayed=%s lifetime=%u",
		 ta->id, addr_str(&ta->dpa.relay, r), lifetime);
	log_debug(MOD, "allocation created id=%" PRIu64 " client=%s user=%s",
		  ta->id, addr_str(&ta->dpa.client, c), rq->auth->user);
	return allocate_success(rq, ta);

fail_close:
	/* never published: no grace period needed */
	ts->dp->ops->relay_close(ts->dp, ta->dpa.relay_sock);
	if (resv != NULL) {
		ts->dp->ops->relay_close(ts->dp, resv->sock);
		free(resv);
	}
fail_free:
	free(ta->dpa.peers);
	free(ta->perms);
	free(ta->chans);
	free(ta);
	return resp_error(rq, 508);
}

/* 437 / 441 checks shared by Refresh, CreatePermission and ChannelBind. */
static struct turn_alloc *
alloc_of_request(struct turn_req *rq, int *err)
{
	struct turn_alloc *ta = alloc_find(rq->ts, rq->from, rq->to, rq->now);

	if (ta == NULL) {
		*err = resp_error(rq, 437);
		return NULL;
	}
	/* RFC 8656 §5: later requests use the credentials of the Allocate */
	if (strcmp(ta->username, rq->auth->username) != 0) {
		*err = resp_error(rq, 441);
		return NULL;
	}
	return ta;
}

static int
do_refresh(struct turn_req *rq)
{
	const struct stun_attr *raf, *lt;
	struct turn_alloc *ta;
	uint32_t v = 0, lifetime;
	int err;

	ta = alloc_of_request(rq, &err);
	if (ta == NULL)
		return err;
	/* RFC 8656 §8 */
	raf = stun_find(rq->m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	if (raf != NULL) {
		uint8_t want = ta->dpa.relay.family == AF_INET ? 0x01 : 0x02;
		if (raf->len != 4 || raf->val[0] != want)
			return resp_error(rq, 443);
	}
	lt = stun_find(rq->m, STUN_A_LIFETIME);
	if (lt != NULL && stun_attr_u32(lt, &v) < 0)
		return resp_error(rq, 400);
	if (lt != NULL && v == 0) {
		alloc_remove(rq->ts, ta, "refresh with lifetime 0");
		lifetime = 0;
	} else {
		lifetime = lifetime_clamp(rq->ts, lt, v);
		ta->expires = rq->now + (uint64_t)lifetime * 1000;
	}
	resp_begin(rq, STUN_SUCCESS);
	stun_add_u32(&rq->b, STUN_A_LIFETIME, lifetime);
	add_software(rq);
	return resp_end(rq);
}

/*
 * XOR-PEER-ADDRESS → normalised peer the relay can reach. 0, or the error
 * code: 400 malformed, 443 family other than the relay's (before and after
 * normalisation: a v4 embedding in v6 is not sent from a v6 relay), 403 the
 * peer policy says no.
 */
static int
peer_of(struct turn_req *rq, const struct turn_alloc *ta,
	const struct stun_attr *a, bool check_port, struct sotto_addr *peer)
{
	if (stun_attr_xor_addr(rq->m, a, peer) < 0)
		return 400;
	if (peer->family != ta->dpa.relay.family)
		return 443;
	if (!peer_policy_allowed(rq->ts->policy, peer, check_port)) {
		rq->ts->stats[TURN_STAT_PEER_DENIED]++;
		return 403;
	}
	if (peer->family != ta->dpa.relay.family)
		return 443;
	return 0;
}

static int
do_create_permission(struct turn_req *rq)
{
	struct turn_server *ts = rq->ts;
	struct sotto_addr peers[STUN_MAX_ATTRS];
	struct turn_perm *np;
	struct turn_alloc *ta;
	unsigned n = 0;
	uint16_t cnt;
	int err;

	ta = alloc_of_request(rq, &err);
	if (ta == NULL)
		return err;
	/* RFC 8656 §9.2: all or nothing over every XOR-PEER-ADDRESS */
	for (unsigned i = 0; i < rq->m->n_attrs; i++) {
		const struct stun_attr *a = &rq->m->attrs[i];
		if (a->type != STUN_A_XOR_PEER_ADDRESS)
			continue;
		err = peer_of(rq, ta, a, false, &peers[n]);
		if (err)
			return resp_error(rq, err);
		peers[n].port = 0;
		n++;
	}
	if (n == 0)
		return resp_error(rq, 400);

	np = ts->scratch_perms;
	cnt = ta->n_perms;
	memcpy(np, ta->perms, cnt * sizeof(*np));
	for (unsigned i = 0; i < n; i++) {
		int k = perm_find(np, cnt, &peers[i]);
		if (k < 0) {
			if (cnt >= ts->max_perms)
				return resp_quota(rq, 508);
			k = cnt++;
			np[k].ip = peers[i];
		}
		np[k].expires = rq->now + TURN_PERM_LIFETIME_MS;
	}
	if (peers_commit(ts, ta, np, cnt, ta->chans, ta->n_chans) < 0)
		return resp_error(rq, 508);

	resp_begin(rq, STUN_SUCCESS);
	add_software(rq);
	return resp_end(rq);
}

static int
do_channel_bind(struct turn_req *rq)
{
	struct turn_server *ts = rq->ts;
	const struct stun_attr *ca, *pa;
	struct turn_perm *np;
	struct turn_chan *nc;
	struct sotto_addr peer, ip;
	struct turn_alloc *ta;
	uint16_t num, pcnt, ccnt;
	int ci = -1, pi = -1, k, err;
	uint32_t v;

	ta = alloc_of_request(rq, &err);
	if (ta == NULL)
		return err;
	/* RFC 8656 §11.2 */
	ca = stun_find(rq->m, STUN_A_CHANNEL_NUMBER);
	if (ca == NULL || stun_attr_u32(ca, &v) < 0)
		return resp_error(rq, 400);
	num = (uint16_t)(v >> 16);
	if (!turn_channel_valid(num, ts->legacy_channels))
		return resp_error(rq, 400);
	pa = stun_find(rq->m, STUN_A_XOR_PEER_ADDRESS);
	if (pa == NULL)
		return resp_error(rq, 400);
	err = peer_of(rq, ta, pa, true, &peer);
	if (err)
		return resp_error(rq, err);

	/* a channel and its peer are bound one to one until expiry */
	for (uint16_t i = 0; i < ta->n_chans; i++) {
		if (ta->chans[i].num == num)
			ci = i;
		if (sotto_addr_eq(&ta->chans[i].peer, &peer))
			pi = i;
	}
	if (ci != pi)
		return resp_error(rq, 400);

	nc = ts->scratch_chans;
	ccnt = ta->n_chans;
	memcpy(nc, ta->chans, ccnt * sizeof(*nc));
	if (ci < 0) {
		if (ccnt >= ts->max_perms)
			return resp_quota(rq, 508);
		ci = ccnt++;
		nc[ci].num = num;
		nc[ci].peer = peer;
	}
	nc[ci].expires = rq->now + TURN_CHAN_LIFETIME_MS;

	/* and the binding installs or refreshes the peer's permission */
	np = ts->scratch_perms;
	pcnt = ta->n_perms;
	memcpy(np, ta->perms, pcnt * sizeof(*np));
	ip = peer;
	ip.port = 0;
	k = perm_find(np, pcnt, &ip);
	if (k < 0) {
		if (pcnt >= ts->max_perms)
			return resp_quota(rq, 508);
		k = pcnt++;
		np[k].ip = ip;
	}
	np[k].expires = rq->now + TURN_PERM_LIFETIME_MS;

	if (peers_commit(ts, ta, np, pcnt, nc, ccnt) < 0)
		return resp_error(rq, 508);

	resp_begin(rq, STUN_SUCCESS);
	add_software(rq);
	return resp_end(rq);
}

/* RFC 8656 §10.2: a Send indication is relayed or silently dropped. */
static int
do_send(struct turn_server *ts, const struct stun_msg *m,
	const struct sotto_addr *from, const struct sotto_addr *to,
	uint64_t now, struct turn_tx *tx)
{
	const struct stun_attr *pa, *da;
	struct turn_alloc *ta;
	struct sotto_addr peer;
	int k;

	ts->stats[TURN_STAT_SEND_INDICATION]++;
	ta = alloc_find(ts, from, to, now);
	if (ta == NULL)
		return 0;
	pa = stun_find(m, STUN_A_XOR_PEER_ADDRESS);
	da = stun_find(m, STUN_A_DATA);
	if (pa == NULL || da == NULL || stun_attr_xor_addr(m, pa, &peer) < 0)
		return 0;
	if (!peer_policy_allowed(ts->policy, &peer, true)) {
		ts->stats[TURN_STAT_PEER_DENIED]++;
		return 0;
	}
	k = perm_find(ta->perms, ta->n_perms, &peer);
	if (k < 0 || ta->perms[k].expires <= now)
		return 0;
	tx->src = ta->dpa.relay;
	tx->dst = peer;
	tx->sock = ta->dpa.relay_sock;
	tx->data = da->val;
	tx->len = da->len;
	return 1;
}

int
turn_server_handle(struct turn_server *ts, const uint8_t *pkt, size_t len,
		   const struct sotto_addr *from,
		   const struct sotto_addr *to, uint32_t sock,
		   uint64_t now_ms, uint8_t *buf, size_t cap,
		   struct turn_tx *tx)
{
	struct turn_auth_result ar;
	struct stun_msg m;
	struct turn_req rq;
	uint64_t t0;
	int rc;

	if (stun_parse(&m, pkt, len) < 0 ||
	    (m.cls != STUN_REQUEST && m.cls != STUN_INDICATION)) {
		ts->stats[TURN_STAT_MALFORMED]++;
		return 0;
	}
	if (stun_check_fingerprint(&m) == 0) {
		ts->stats[TURN_STAT_BAD_FINGERPRINT]++;
		return 0;
	}
	if (m.cls == STUN_INDICATION) {
		/* Binding indications are keepalives; anything else is
		 * ignored (RFC 8489 §6.3.2) */
		if (m.method == TURN_SEND)
			return do_send(ts, &m, from, to, now_ms, tx);
		return 0;
	}

	ts->stats[TURN_STAT_REQUESTS]++;
	if (!rate_limit_allow(ts->rl, from, now_ms)) {
		ts->stats[TURN_STAT_RATE_LIMITED]++;
		return 0;
	}

	t0 = clock_mono_us();
	memset(&rq, 0, sizeof(rq));
	rq.ts = ts;
	rq.m = &m;
	rq.from = from;
	rq.to = to;
	rq.sock = sock;
	rq.now = now_ms;
	rq.buf = buf;
	rq.cap = cap;
	rq.tx = tx;

	switch (m.method) {
	case STUN_BINDING:
		ts->stats[TURN_STAT_BINDING]++;
		return do_binding(&rq);
	case TURN_ALLOCATE:
		ts->stats[TURN_STAT_ALLOCATE]++;
		break;
	case TURN_REFRESH:
		ts->stats[TURN_STAT_REFRESH]++;
		break;
	case TURN_CREATE_PERMISSION:
		ts->stats[TURN_STAT_CREATE_PERMISSION]++;
		break;
	case TURN_CHANNEL_BIND:
		ts->stats[TURN_STAT_CHANNEL_BIND]++;
		break;
	default:
		/* RFC 8489 §6.3.1: a method we do not serve */
		return resp_error(&rq, 400);
	}

	/* RFC 8656 §5: every TURN request uses long-term credentials */
	rc = turn_auth_check(ts->auth, &m, from, now_ms / 1000, &ar);
	if (rc == 401) {
		ts->stats[m.integrity < 0 ? TURN_STAT_AUTH_CHALLENGE
					  : TURN_STAT_AUTH_FAILED]++;
		return resp_challenge(&rq, 401);
	}
	if (rc == 438) {
		ts->stats[TURN_STAT_STALE_NONCE]++;
		return resp_challenge(&rq, 438);
	}
	if (rc != 0)
		return resp_error(&rq, 400);
	rq.auth = &ar;

	/* RFC 8489 §6.3.1.1: unknown attributes are looked at once the
	 * request is authenticated, so the 420 carries integrity */
	if (m.n_unknown)
		return resp_unknown(&rq);

	switch (m.method) {
	case TURN_ALLOCATE:
		rc = do_allocate(&rq);
		metrics_hist_add(&ts->alloc_hist, clock_mono_us() - t0);
		return rc;
	case TURN_REFRESH:
		return do_refresh(&rq);
	case TURN_CREATE_PERMISSION:
		return do_create_permission(&rq);
	default:
		return do_channel_bind(&rq);
	}
}

void
turn_server_tick(struct turn_server *ts, uint64_t now_ms)
{
	struct turn_alloc *ta, *next;
	struct turn_resv *r, *rnext;

	for (r = TAILQ_FIRST(&ts->resvs); r != NULL; r = rnext) {
		rnext = TAILQ_NEXT(r, link);
		if (now_ms >= r->expires)
			resv_drop(ts, r, true);
	}

	for (ta = TAILQ_FIRST(&ts->dying); ta != NULL; ta = next) {
		next = TAILQ_NEXT(ta, link);
		if (dp_alloc_unpublish(&ts->dp->tables, &ta->dpa,
				       alloc_release, ta) == 0)
			TAILQ_REMOVE(&ts->dying, ta, link);
	}

	for (ta = TAILQ_FIRST(&ts->allocs); ta != NULL; ta = next) {
		bool changed = ta->dirty;
		uint16_t n;

		next = TAILQ_NEXT(ta, link);
		if (now_ms >= ta->expires) {
			ts->stats[TURN_STAT_ALLOCATIONS_EXPIRED]++;
			alloc_remove(ts, ta, "expired");
			continue;
		}
		n = 0;
		for (uint16_t i = 0; i < ta->n_perms; i++) {
			if (now_ms >= ta->perms[i].expires) {
				ts->stats[TURN_STAT_PERMISSIONS_EXPIRED]++;
				changed = true;
				continue;
			}
			ta->perms[n++] = ta->perms[i];
		}
		ta->n_perms = n;
		n = 0;
		for (uint16_t i = 0; i < ta->n_chans; i++) {
			if (now_ms >= ta->chans[i].expires) {
				ts->stats[TURN_STAT_CHANNELS_EXPIRED]++;
				changed = true;
				continue;
			}
			ta->chans[n++] = ta->chans[i];
		}
		ta->n_chans = n;
		if (changed)
			ta->dirty = peers_publish(ts, ta, ta->perms,
						  ta->n_perms, ta->chans,
						  ta->n_chans) < 0;
	}
}

uint32_t
turn_server_allocations(const struct turn_server *ts)
{
	return ts->n_allocs;
}

void
turn_server_stats(const struct turn_server *ts, uint64_t out[TURN_N_STATS])
{
	memcpy(out, ts->stats, sizeof(ts->stats));
}

static void
copy_software(struct turn_server *ts, const char *s)
{
	size_t n = strnlen(s, TURN_SOFTWARE_MAX + 1);

	if (n > TURN_SOFTWARE_MAX) {
		n = TURN_SOFTWARE_MAX;
		/* do not cut a UTF-8 sequence (RFC 8489 §14.14) */
		while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(ts->software, s, n);
	ts->software[n] = '\0';
	ts->software_len = (uint16_t)n;
}

struct turn_server *
turn_server_new(const struct sotto_config *cfg, struct dp_ctx *dp)
{
	const typeof(cfg->turn) *t = &cfg->turn;
	struct turn_server *ts;
	uint32_t nb, burst;
	int err = ENOMEM;

	if (dp == NULL || dp->ops == NULL || dp->ops->relay_open == NULL ||
	    dp->ops->relay_close == NULL || t->n_relay > CONFIG_MAX_ADDRS) {
		errno = EINVAL;
		return NULL;
	}
	ts = calloc(1, sizeof(*ts));
	if (ts == NULL)
		goto fail;
	ts->dp = dp;
	ts->alloc_hist = (struct metrics_hist)METRICS_HIST_INIT(alloc_hist_bounds_us);
	TAILQ_INIT(&ts->allocs);
	TAILQ_INIT(&ts->dying);
	TAILQ_INIT(&ts->resvs);

	ts->auth = turn_auth_new(t->secrets, t->n_secrets, t->realm,
				 t->nonce_lifetime);
	if (ts->auth == NULL) {
		err = errno ? errno : EINVAL;
		log_err(MOD, "cannot set up TURN credentials: %s",
			strerror(err));
		goto fail;
	}

	ts->policy = peer_policy_new(t->allow, t->n_allow, t->deny, t->n_deny);
	if (ts->policy == NULL)
		goto fail;
	for (unsigned i = 0; i < t->n_listen; i++)
		if (peer_policy_add_listener(ts->policy, &t->listen[i]) < 0) {
			err = ENOSPC;
			goto fail;
		}
	/* the gateway's media ports are ours too: never a peer */
	for (unsigned i = 0; i < cfg->gateway.n_listen; i++)
		if (peer_policy_add_listener(ts->policy,
					     &cfg->gateway.listen[i]) < 0) {
			err = ENOSPC;
			goto fail;
		}
	for (unsigned i = 0; i < t->n_relay; i++) {
		if (peer_policy_add_relay_ip(ts->policy, &t->relay[i],
					     t->port_min, t->port_max) < 0) {
			err = ENOSPC;
			goto fail;
		}
		ts->relay_ip[i] = t->relay[i];
		ts->relay_ip[i].port = 0;
	}
	ts->n_relay = t->n_relay;

	burst = t->requests_per_source > UINT32_MAX / 2
			? UINT32_MAX : 2 * t->requests_per_source;
	ts->rl = rate_limit_new(t->requests_per_source, burst,
				TURN_RATE_SLOTS);
	if (ts->rl == NULL)
		goto fail;

	copy_software(ts, t->software);
	ts->default_lifetime = t->default_lifetime;
	ts->max_lifetime = t->max_lifetime;
	ts->legacy_channels = t->legacy_channels;
	ts->max_allocs = t->max_allocations;
	ts->max_per_user = t->max_allocations_per_user;
	ts->max_perms = (uint16_t)(t->max_permissions > TURN_PERMS_LIMIT
					   ? TURN_PERMS_LIMIT
					   : t->max_permissions);
	ts->bandwidth = t->bandwidth;

	/* one bucket per allocation at most, so chains stay short */
	for (nb = 64; nb < ts->max_allocs && nb < (1u << 20); nb <<= 1)
		;
	ts->users = calloc(nb, sizeof(*ts->users));
	ts->user_mask = nb - 1;
	ts->scratch_perms = calloc(ts->max_perms ? ts->max_perms : 1,
				   sizeof(*ts->scratch_perms));
	ts->scratch_chans = calloc(ts->max_perms ? ts->max_perms : 1,
				   sizeof(*ts->scratch_chans));
	if (ts->users == NULL || ts->scratch_perms == NULL ||
	    ts->scratch_chans == NULL)
		goto fail;
	return ts;
fail:
	turn_server_free(ts);
	errno = err;
	return NULL;
}

void
turn_server_free(struct turn_server *ts)
{
	struct turn_alloc *ta;
	struct turn_resv *r;

	if (ts == NULL)
		return;
	while ((r = TAILQ_FIRST(&ts->resvs)) != NULL)
		resv_drop(ts, r, true);
	while ((ta = TAILQ_FIRST(&ts->allocs)) != NULL)
		alloc_remove(ts, ta, "shutdown");
	while ((ta = TAILQ_FIRST(&ts->dying)) != NULL) {
		TAILQ_REMOVE(&ts->dying, ta, link);
		if (dp_alloc_unpublish(&ts->dp->tables, &ta->dpa,
				       alloc_release, ta) < 0)
			log_err(MOD, "allocation left in the tables at exit");
	}
	if (ts->users != NULL)
		for (uint32_t i = 0; i <= ts->user_mask; i++)
			while (ts->users[i] != NULL) {
				struct turn_user *u = ts->users[i];
				ts->users[i] = u->next;
				free(u);
			}
	free(ts->users);
	free(ts->scratch_perms);
	free(ts->scratch_chans);
	rate_limit_free(ts->rl);
	peer_policy_free(ts->policy);
	if (ts->auth != NULL)
		turn_auth_free(ts->auth);
	free(ts);
}

/* ---- operators ---- */

const struct metrics_hist *
turn_server_alloc_hist(const struct turn_server *ts)
{
	return &ts->alloc_hist;
}

static void
alloc_info(const struct turn_alloc *ta, struct turn_alloc_info *ai)
{
	ai->id = ta->id;
	ai->user = ta->user != NULL ? ta->user->name : "";
	ai->client = ta->dpa.client;
	ai->relay = ta->dpa.relay;
	ai->created_ms = ta->created;
	ai->expires_ms = ta->expires;
	ai->permissions = ta->n_perms;
	ai->channels = ta->n_chans;
}

void
turn_server_foreach(const struct turn_server *ts, turn_alloc_fn fn, void *arg)
{
	const struct turn_alloc *ta;
	struct turn_alloc_info ai;

	TAILQ_FOREACH(ta, &ts->allocs, link) {
		alloc_info(ta, &ai);
		fn(&ai, arg);
	}
}

static struct turn_alloc *
alloc_by_id(const struct turn_server *ts, uint64_t id)
{
	struct turn_alloc *ta;

	TAILQ_FOREACH(ta, &ts->allocs, link)
		if (ta->id == id)
			return ta;
	return NULL;
}

int
turn_server_alloc_show(const struct turn_server *ts, uint64_t id,
		       struct turn_alloc_info *ai, struct sotto_addr *perms,
		       uint16_t *chan_num, struct sotto_addr *chan_peer,
		       unsigned max)
{
	const struct turn_alloc *ta = alloc_by_id(ts, id);

	if (ta == NULL)
		return -ENOENT;
	alloc_info(ta, ai);
	for (unsigned i = 0; i < ta->n_perms && i < max; i++)
		perms[i] = ta->perms[i].ip;
	for (unsigned i = 0; i < ta->n_chans && i < max; i++) {
		chan_num[i] = ta->chans[i].num;
		chan_peer[i] = ta->chans[i].peer;
	}
	return 0;
}

int
turn_server_kill(struct turn_server *ts, uint64_t id)
{
	struct turn_alloc *ta = alloc_by_id(ts, id);

	if (ta == NULL)
		return -ENOENT;
	ts->stats[TURN_STAT_KILLED]++;
	alloc_remove(ts, ta, "killed by the operator");
	return 0;
}

void
turn_server_peer_counts(const struct turn_server *ts, uint64_t *perms,
			uint64_t *chans)
{
	const struct turn_alloc *ta;

	*perms = *chans = 0;
	TAILQ_FOREACH(ta, &ts->allocs, link) {
		*perms += ta->n_perms;
		*chans += ta->n_chans;
	}
}

void
turn_server_set_draining(struct turn_server *ts, bool on)
{
	ts->draining = on;
}

bool
turn_server_draining(const struct turn_server *ts)
{
	return ts->draining;
}

int
turn_server_reload(struct turn_server *ts, const struct sotto_config *cfg)
{
	const typeof(cfg->turn) *t = &cfg->turn;
	struct peer_policy *policy;
	struct rate_limit *rl;
	uint32_t burst;
	int ret;

	policy = peer_policy_new(t->allow, t->n_allow, t->deny, t->n_deny);
	if (policy == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < t->n_listen; i++)
		if (peer_policy_add_listener(policy, &t->listen[i]) < 0)
			goto nospace;
	for (unsigned i = 0; i < cfg->gateway.n_listen; i++)
		if (peer_policy_add_listener(policy, &cfg->gateway.listen[i]) < 0)
			goto nospace;
	for (unsigned i = 0; i < t->n_relay; i++)
		if (peer_policy_add_relay_ip(policy, &t->relay[i], t->port_min,
					     t->port_max) < 0)
			goto nospace;
	burst = t->requests_per_source > UINT32_MAX / 2
			? UINT32_MAX : 2 * t->requests_per_source;
	rl = rate_limit_new(t->requests_per_source, burst, TURN_RATE_SLOTS);
	if (rl == NULL) {
		peer_policy_free(policy);
		return -ENOMEM;
	}
	ret = turn_auth_set_secrets(ts->auth, t->secrets, t->n_secrets);
	if (ret < 0) {
		rate_limit_free(rl);
		peer_policy_free(policy);
		return ret;
	}
	/* permissions already granted stay: the new policy applies to the
	 * next CreatePermission/ChannelBind/Send */
	peer_policy_free(ts->policy);
	ts->policy = policy;
	rate_limit_free(ts->rl);
	ts->rl = rl;
	copy_software(ts, t->software);
	ts->default_lifetime = t->default_lifetime;
	ts->max_lifetime = t->max_lifetime;
	ts->max_allocs = t->max_allocations;
	ts->max_per_user = t->max_allocations_per_user;
	ts->bandwidth = t->bandwidth;
	/* max_perms sizes the per-allocation arrays: not reloadable */
	return 0;
nospace:
	peer_policy_free(policy);
	return -ENOSPC;
}

void
turn_server_errors(const struct turn_server *ts,
		   void (*emit)(const char *method, int code, uint64_t n,
				void *arg),
		   void *arg)
{
	for (unsigned m = 0; m < TURN_N_METHODS; m++)
		for (unsigned ci = 0; ci < TURN_N_ERROR_CODES; ci++)
			if (ts->errors[m][ci])
				emit(turn_method_names[m],
				     ci < TURN_N_ERROR_CODES - 1 ? error_codes[ci] : 0,
				     ts->errors[m][ci], arg);
}

const char *const turn_method_names[TURN_N_METHODS] = {
	"binding", "allocate", "refresh", "create_permission", "channel_bind",
	"other",
};
