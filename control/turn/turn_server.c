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
#include "turn_priv.h"

const char *const turn_stat_names[TURN_N_STATS] = {
#define X(name, str, ...) [TURN_STAT_##name] = str,
	TURN_FOREACH_STAT(X)
#undef X
};

static const uint64_t alloc_hist_bounds_us[] = {
	25, 50, 100, 250, 500, 1000, 5000,
};

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

void
turn_resp_begin(struct turn_req *rq, uint16_t cls)
{
	stun_build(&rq->b, rq->buf, rq->cap, rq->m->method, cls, rq->m->tid);
}

/* RFC 8489 §9.2.4: responses to authenticated requests carry
 * MESSAGE-INTEGRITY; §14.7: FINGERPRINT if the request had one.
 * The response's length, or 0 if it did not fit. */
static size_t
resp_finish(struct turn_req *rq)
{
	if (rq->auth != NULL)
		stun_add_integrity(&rq->b, rq->auth->key,
				   sizeof(rq->auth->key));
	if (rq->m->fingerprint >= 0)
		stun_add_fingerprint(&rq->b);
	return stun_finish(&rq->b);
}

static int
resp_send(struct turn_req *rq, size_t n)
{
	rq->tx->src = *rq->to;
	rq->tx->dst = *rq->from;
	rq->tx->sock = rq->sock;
	rq->tx->data = rq->buf;
	rq->tx->len = n;
	return 1;
}

int
turn_resp_end(struct turn_req *rq)
{
	size_t n = resp_finish(rq);

	if (n == 0) {
		log_debug(MOD, "response does not fit in %zu bytes", rq->cap);
		return 0;
	}
	return resp_send(rq, n);
}

void
turn_add_software(struct turn_req *rq)
{
	if (rq->ts->software_len > 0)
		stun_add(&rq->b, STUN_A_SOFTWARE, rq->ts->software,
			 rq->ts->software_len);
}

/*
 * An error response, with one more attribute if type is not 0. To an
 * unauthenticated request (no MESSAGE-INTEGRITY to answer with) it is never
 * larger than the request, or a spoofed source turns us into an amplifier:
 * built to fit the request's length, without the reason phrase if that is
 * what it takes (RFC 8489 §14.8 allows an empty one), else not sent and
 * counted. The 401/438 challenge is the exception (resp_challenge).
 */
static int
resp_error_attr(struct turn_req *rq, int code, uint16_t type,
		const void *val, uint16_t len)
{
	bool capped = rq->auth == NULL;
	size_t cap = capped && rq->req_len < rq->cap ? rq->req_len : rq->cap;
	size_t n = 0;

	for (int pass = 0; pass < (capped ? 2 : 1) && n == 0; pass++) {
		stun_build(&rq->b, rq->buf, cap, rq->m->method, STUN_ERROR,
			   rq->m->tid);
		stun_add_error(&rq->b, code, pass == 0 ? reason_phrase(code)
							 : "");
		if (type != 0)
			stun_add(&rq->b, type, val, len);
		n = resp_finish(rq);
	}
	if (n == 0) {
		if (capped)
			rq->ts->stats[TURN_STAT_UNSENT]++;
		else
			log_debug(MOD, "response does not fit in %zu bytes",
				  rq->cap);
		return 0;
	}
	count_error(rq, code);
	return resp_send(rq, n);
}

int
turn_resp_error(struct turn_req *rq, int code)
{
	return resp_error_attr(rq, code, 0, NULL, 0);
}

int
turn_resp_quota(struct turn_req *rq, int code)
{
	rq->ts->stats[TURN_STAT_QUOTA]++;
	return turn_resp_error(rq, code);
}

/* 401 and 438: REALM and a fresh NONCE, never MESSAGE-INTEGRITY
 * (RFC 8489 §9.2.4). The only response allowed to outgrow its request. */
static int
resp_challenge(struct turn_req *rq, int code)
{
	char nonce[TURN_NONCE_MAX];
	const char *realm = turn_auth_realm(rq->ts->auth);
	size_t nlen = turn_auth_nonce(rq->ts->auth, rq->from, rq->wall_s,
				      nonce);

	count_error(rq, code);
	turn_resp_begin(rq, STUN_ERROR);
	stun_add_error(&rq->b, code, reason_phrase(code));
	stun_add(&rq->b, STUN_A_REALM, realm, (uint16_t)strlen(realm));
	stun_add(&rq->b, STUN_A_NONCE, nonce, (uint16_t)nlen);
	return turn_resp_end(rq);
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
	return resp_error_attr(rq, 420, STUN_A_UNKNOWN_ATTRIBUTES, v,
			       (uint16_t)(2 * n));
}

/* ---- methods ---- */

static int
do_binding(struct turn_req *rq)
{
	if (rq->m->n_unknown)
		return resp_unknown(rq);
	/* RFC 8489 §7.3.1. No SOFTWARE: a Binding is unauthenticated and
	 * may come from a spoofed source, so it gets nothing extra. */
	turn_resp_begin(rq, STUN_SUCCESS);
	stun_add_xor_addr(&rq->b, STUN_A_XOR_MAPPED_ADDRESS, rq->from);
	return turn_resp_end(rq);
}

int
turn_server_handle(struct turn_server *ts, const uint8_t *pkt, size_t len,
		   const struct sotto_addr *from,
		   const struct sotto_addr *to, uint32_t sock,
		   const struct clock_now *now, uint8_t *buf, size_t cap,
		   struct turn_tx *tx)
{
	uint64_t now_ms = now->mono_ms;
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
	if (m.cls == STUN_REQUEST)
		ts->stats[TURN_STAT_REQUESTS]++;
	/* indications too: a Send indication costs the control thread as
	 * much as a request (and is relayed), so it may not go around the
	 * limit; media goes over channels, which never come here */
	if (!rate_limit_allow(ts->rl, from, now_ms)) {
		ts->stats[TURN_STAT_RATE_LIMITED]++;
		return 0;
	}
	if (m.cls == STUN_INDICATION) {
		/* Binding indications are keepalives; anything else is
		 * ignored (RFC 8489 §6.3.2) */
		if (m.method == TURN_SEND)
			return turn_do_send(ts, &m, from, to, now_ms, tx);
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
	rq.wall_s = now->wall_ms / 1000;
	rq.req_len = len;
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
		return turn_resp_error(&rq, 400);
	}

	/* RFC 8656 §5: every TURN request uses long-term credentials */
	rc = turn_auth_check(ts->auth, &m, from, rq.wall_s, &ar);
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
		return turn_resp_error(&rq, 400);
	rq.auth = &ar;

	/* RFC 8489 §6.3.1.1: unknown attributes are looked at once the
	 * request is authenticated, so the 420 carries integrity */
	if (m.n_unknown) {
		rc = resp_unknown(&rq);
	} else {
		switch (m.method) {
		case TURN_ALLOCATE:
			rc = turn_do_allocate(&rq);
			metrics_hist_add(&ts->alloc_hist, clock_mono_us() - t0);
			break;
		case TURN_REFRESH:
			rc = turn_do_refresh(&rq);
			break;
		case TURN_CREATE_PERMISSION:
			rc = turn_do_create_permission(&rq);
			break;
		default:
			rc = turn_do_channel_bind(&rq);
			break;
		}
	}
	/* the long-term key: no copy outlives the request */
	explicit_bzero(&ar, sizeof(ar));
	return rc;
}

void
turn_server_tick(struct turn_server *ts, uint64_t now_ms)
{
	struct turn_alloc *ta, *next;
	struct turn_resv *r, *rnext;

	for (r = TAILQ_FIRST(&ts->resvs); r != NULL; r = rnext) {
		rnext = TAILQ_NEXT(r, link);
		if (now_ms >= r->expires)
			turn_resv_drop(ts, r, true);
	}

	for (ta = TAILQ_FIRST(&ts->dying); ta != NULL; ta = next) {
		next = TAILQ_NEXT(ta, link);
		if (dp_alloc_unpublish(&ts->dp->tables, &ta->dpa,
				       turn_alloc_release, ta) == 0)
			TAILQ_REMOVE(&ts->dying, ta, link);
	}

	for (ta = TAILQ_FIRST(&ts->allocs); ta != NULL; ta = next) {
		bool changed = ta->dirty;
		uint16_t n;

		next = TAILQ_NEXT(ta, link);
		if (now_ms >= ta->expires) {
			ts->stats[TURN_STAT_ALLOCATIONS_EXPIRED]++;
			turn_alloc_remove(ts, ta, "expired");
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
			ta->dirty = turn_peers_publish(ts, ta, ta->perms,
						  ta->n_perms, ta->chans,
						  ta->n_chans) < 0;
	}
}

uint32_t
turn_server_allocations(const struct turn_server *ts)
{
	return ts->n_allocs;
}

uint32_t
turn_server_reservations(const struct turn_server *ts)
{
	return ts->n_resvs;
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

/* The peer policy of cfg: its lists and this gateway's own addresses.
 * NULL with *err set on failure. */
static struct peer_policy *
policy_new(const struct sotto_config *cfg, int *err)
{
	const typeof(cfg->turn) *t = &cfg->turn;
	struct peer_policy *p;

	*err = ENOMEM;
	p = peer_policy_new(t->allow, t->n_allow, t->deny, t->n_deny);
	if (p == NULL)
		return NULL;
	if (peer_policy_set_allow_own(p, t->allow_own, t->n_allow_own) < 0)
		goto fail;
	*err = ENOSPC;
	for (unsigned i = 0; i < t->n_listen; i++)
		if (peer_policy_add_listener(p, &t->listen[i]) < 0)
			goto fail;
	/* the gateway's media ports are ours too: never a peer */
	for (unsigned i = 0; i < cfg->gateway.n_listen; i++)
		if (peer_policy_add_listener(p, &cfg->gateway.listen[i]) < 0)
			goto fail;
	for (unsigned i = 0; i < t->n_relay; i++)
		if (peer_policy_add_relay_ip(p, &t->relay[i], t->port_min,
					     t->port_max) < 0)
			goto fail;
	return p;
fail:
	peer_policy_free(p);
	return NULL;
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

	ts->policy = policy_new(cfg, &err);
	if (ts->policy == NULL)
		goto fail;
	for (unsigned i = 0; i < t->n_relay; i++) {
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
	ts->max_resvs = t->max_reservations;
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
		turn_resv_drop(ts, r, true);
	while ((ta = TAILQ_FIRST(&ts->allocs)) != NULL)
		turn_alloc_remove(ts, ta, "shutdown");
	while ((ta = TAILQ_FIRST(&ts->dying)) != NULL) {
		TAILQ_REMOVE(&ts->dying, ta, link);
		if (dp_alloc_unpublish(&ts->dp->tables, &ta->dpa,
				       turn_alloc_release, ta) < 0)
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
	turn_alloc_remove(ts, ta, "killed by the operator");
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
	int ret, err;

	policy = policy_new(cfg, &err);
	if (policy == NULL)
		return -err;
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
	/* reservations already held stay until claimed or expired */
	ts->max_resvs = t->max_reservations;
	ts->bandwidth = t->bandwidth;
	/* max_perms sizes the per-allocation arrays: not reloadable */
	return 0;
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
