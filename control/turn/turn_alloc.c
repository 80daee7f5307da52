/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Allocations (RFC 8656 §7-§12): Allocate, Refresh, CreatePermission,
 * ChannelBind and Send, per-user quotas, relayed addresses and EVEN-PORT
 * reservations. An allocation is published to the dataplane tables as a
 * struct dp_alloc embedded in our own struct turn_alloc; its permissions
 * and channels are republished as a whole peer set whenever they change.
 */
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

static const char *
addr_str(const struct sotto_addr *a, char *buf)
{
	return sotto_addr_str(a, buf, SOTTO_ADDRSTRLEN);
}

/* Runs after the RCU grace period: no worker holds dpa any more. */
void
turn_alloc_release(void *arg)
{
	struct turn_alloc *ta = arg;

	ta->dp->ops->relay_close(ta->dp, ta->dpa.relay_sock);
	free(ta->perms);
	free(ta->chans);
	free(ta);
}

void
turn_alloc_remove(struct turn_server *ts, struct turn_alloc *ta, const char *why)
{
	char r[SOTTO_ADDRSTRLEN], c[SOTTO_ADDRSTRLEN];

	TAILQ_REMOVE(&ts->allocs, ta, link);
	ta->dead = true;
	ts->n_allocs--;
	/* its unclaimed reservation ends with it: a Refresh 0 right after an
	 * EVEN-PORT Allocate must not leave the odd port held by nobody */
	if (ta->resv != NULL)
		turn_resv_drop(ts, ta->resv, true);
	user_unref(ts, ta->user);
	ta->user = NULL;
	/* the client's address only at debug (log.h) */
	log_info(MOD, "allocation removed id=%" PRIu64 " relayed=%s reason=\"%s\"",
		 ta->id, addr_str(&ta->dpa.relay, r), why);
	log_debug(MOD, "allocation removed id=%" PRIu64 " client=%s", ta->id,
		  addr_str(&ta->dpa.client, c));
	if (dp_alloc_unpublish(&ts->dp->tables, &ta->dpa, turn_alloc_release,
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
		turn_alloc_remove(ts, ta, "expired");
		return NULL;
	}
	return ta;
}

int
turn_peers_publish(struct turn_server *ts, struct turn_alloc *ta,
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
	if (turn_peers_publish(ts, ta, np, n_perms, nc, n_chans) < 0)
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

static uint32_t
remaining_s(const struct turn_alloc *ta, uint64_t now)
{
	return ta->expires > now ? (uint32_t)((ta->expires - now + 999) / 1000)
				 : 0;
}

static int
allocate_success(struct turn_req *rq, const struct turn_alloc *ta)
{
	turn_resp_begin(rq, STUN_SUCCESS);
	stun_add_xor_addr(&rq->b, STUN_A_XOR_RELAYED_ADDRESS, &ta->dpa.relay);
	stun_add_u32(&rq->b, STUN_A_LIFETIME, remaining_s(ta, rq->now));
	stun_add_xor_addr(&rq->b, STUN_A_XOR_MAPPED_ADDRESS, rq->from);
	if (ta->has_token)
		stun_add(&rq->b, STUN_A_RESERVATION_TOKEN, ta->token,
			 sizeof(ta->token));
	turn_add_software(rq);
	return turn_resp_end(rq);
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

/* Never published, so no grace period: the socket closes at once. */
void
turn_resv_drop(struct turn_server *ts, struct turn_resv *r, bool close_sock)
{
	TAILQ_REMOVE(&ts->resvs, r, link);
	ts->n_resvs--;
	if (r->owner != NULL)
		r->owner->resv = NULL;
	if (r->user != NULL)
		user_unref(ts, r->user);
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

/* What an Allocate asks for, once its attributes are checked. */
struct alloc_ask {
	uint8_t family;                /* AF_INET or AF_INET6 */
	uint32_t lifetime;             /* s, clamped */
	const struct stun_attr *even;  /* EVEN-PORT, or NULL */
	bool reserve;                  /* its R bit: hold the next port */
	struct turn_resv *claim;       /* the reservation its token names */
};

/* RFC 8656 §7.2 steps 2-6 and the lifetime: 0, or the error code. */
static int
allocate_parse(struct turn_req *rq, struct alloc_ask *ask)
{
	struct turn_server *ts = rq->ts;
	const struct stun_msg *m = rq->m;
	const struct stun_attr *a, *raf, *lt, *rt;
	uint32_t v;

	memset(ask, 0, sizeof(*ask));
	ask->family = AF_INET;

	/* step 2 */
	a = stun_find(m, STUN_A_REQUESTED_TRANSPORT);
	if (a == NULL || stun_attr_u32(a, &v) < 0)
		return 400;
	if ((v >> 24) != IPPROTO_UDP)
		return 442;
	/* step 3: DONT-FRAGMENT is accepted and ignored */

	/* steps 4-5: RESERVATION-TOKEN claims a port an earlier EVEN-PORT
	 * Allocate held back; it goes with neither EVEN-PORT nor
	 * REQUESTED-ADDRESS-FAMILY */
	raf = stun_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	ask->even = stun_find(m, STUN_A_EVEN_PORT);
	rt = stun_find(m, STUN_A_RESERVATION_TOKEN);
	if (rt != NULL) {
		if (raf != NULL || ask->even != NULL || rt->len != 8)
			return 400;
		ask->claim = resv_find(ts, rt->val, rq->now);
		if (ask->claim == NULL)
			return 508;
		ask->family = ask->claim->relay.family;
	}
	if (ask->even != NULL && ask->even->len != 1)
		return 400;
	ask->reserve = ask->even != NULL && (ask->even->val[0] & 0x80);

	/* step 6: RFC 8656 §18.10 */
	if (raf != NULL) {
		if (raf->len != 4)
			return 400;
		if (stun_find(m, STUN_A_ADDITIONAL_ADDRESS_FAMILY) != NULL)
			return 400;
		if (raf->val[0] == 0x01)
			ask->family = AF_INET;
		else if (raf->val[0] == 0x02)
			ask->family = AF_INET6;
		else
			return 440;
	}
	if (ask->claim == NULL && !have_relay_family(ts, ask->family))
		return 440;

	lt = stun_find(m, STUN_A_LIFETIME);
	v = 0;
	if (lt != NULL && stun_attr_u32(lt, &v) < 0)
		return 400;
	ask->lifetime = lifetime_clamp(ts, lt, v);
	return 0;
}

static void
alloc_free(struct turn_alloc *ta)
{
	free(ta->dpa.peers);
	free(ta->perms);
	free(ta->chans);
	free(ta);
}

/* An allocation's memory, not yet addressed or published. */
static struct turn_alloc *
alloc_new(struct turn_server *ts)
{
	struct turn_alloc *ta;

	ta = aligned_alloc(RTE_CACHE_LINE_SIZE,
			   RTE_ALIGN_CEIL(sizeof(*ta), RTE_CACHE_LINE_SIZE));
	if (ta == NULL)
		return NULL;
	memset(ta, 0, sizeof(*ta));
	ta->perms = calloc(ts->max_perms ? ts->max_perms : 1,
			   sizeof(*ta->perms));
	ta->chans = calloc(ts->max_perms ? ts->max_perms : 1,
			   sizeof(*ta->chans));
	ta->dpa.peers = dp_peerset_new(0, 0);
	if (ta->perms == NULL || ta->chans == NULL || ta->dpa.peers == NULL) {
		alloc_free(ta);
		return NULL;
	}
	ta->dp = ts->dp;
	return ta;
}

/*
 * The relayed address: the claimed reservation's, an even/odd pair with
 * the odd port held in *resv (EVEN-PORT with R), or any (even) port.
 * 0 or -errno.
 */
static int
alloc_relay(struct turn_server *ts, struct turn_alloc *ta,
	    const struct alloc_ask *ask, struct turn_resv **resv)
{
	struct turn_resv *r;
	int rc;

	*resv = NULL;
	if (ask->claim != NULL) {
		ta->dpa.relay = ask->claim->relay;
		ta->dpa.relay_sock = ask->claim->sock;
		turn_resv_drop(ts, ask->claim, false);
		return 0;
	}
	if (ask->reserve) {
		r = calloc(1, sizeof(*r));
		if (r == NULL || RAND_bytes(r->token, 8) != 1) {
			free(r);
			return -ENOMEM;
		}
		rc = relay_open_pair(ts, ask->family, &ta->dpa.relay,
				     &ta->dpa.relay_sock, &r->relay, &r->sock);
		if (rc < 0)
			free(r);
		else
			*resv = r;
		return rc;
	}
	return relay_open(ts, ask->family,
			  ask->even ? DP_PORT_EVEN : DP_PORT_ANY,
			  &ta->dpa.relay, &ta->dpa.relay_sock);
}

int
turn_do_allocate(struct turn_req *rq)
{
	struct turn_server *ts = rq->ts;
	const struct stun_msg *m = rq->m;
	struct turn_resv *resv;
	struct alloc_ask ask;
	struct turn_alloc *ta;
	struct turn_user *u;
	uint64_t held, total, want;
	char r[SOTTO_ADDRSTRLEN], c[SOTTO_ADDRSTRLEN];
	int rc;

	/* RFC 8656 §7.2 step 1: the 5-tuple is taken, unless this is a
	 * retransmission of the Allocate that took it */
	ta = alloc_find(ts, rq->from, rq->to, rq->now);
	if (ta != NULL) {
		if (memcmp(ta->tid, m->tid, STUN_TID_LEN) == 0 &&
		    strcmp(ta->username, rq->auth->username) == 0)
			return allocate_success(rq, ta);
		return turn_resp_error(rq, 437);
	}

	/* a draining server keeps its calls and takes no new ones; 508
	 * sends a client on to its next TURN server */
	if (ts->draining) {
		ts->stats[TURN_STAT_DRAIN_REFUSED]++;
		return turn_resp_error(rq, 508);
	}

	rc = allocate_parse(rq, &ask);
	if (rc != 0)
		return turn_resp_error(rq, rc);

	/* step 7: quotas. A reservation counts as an allocation of its
	 * user and of the server; claiming one turns it into this one. */
	u = user_find(ts, rq->auth->user);
	held = u != NULL ? u->count : 0;
	total = ts->n_allocs + ts->n_resvs;
	if (ask.claim != NULL) {
		total--;
		if (ask.claim->user == u)
			held--;
	}
	want = ask.reserve ? 2 : 1;
	if (held + want > ts->max_per_user)
		return turn_resp_quota(rq, 486);
	if (total + want > ts->max_allocs)
		return turn_resp_quota(rq, 508);
	/* step 5: an R bit we cannot honour is refused, not ignored */
	if (ask.reserve && ts->n_resvs >= ts->max_resvs)
		return turn_resp_quota(rq, 508);

	ta = alloc_new(ts);
	if (ta == NULL)
		return turn_resp_error(rq, 508);
	rc = alloc_relay(ts, ta, &ask, &resv);
	if (rc < 0) {
		log_warn(MOD, "no relay address left: %s", strerror(-rc));
		alloc_free(ta);
		return turn_resp_error(rq, 508);
	}
	ta->dpa.client = *rq->from;
	ta->dpa.listener = *rq->to;
	ta->dpa.listener_sock = rq->sock;
	ta->dpa.owner = ta;
	for (int i = 0; i < 2; i++)
		dp_bucket_init(&ta->dpa.bucket[i], ts->bandwidth,
			       ts->bandwidth / 5 + 1500, rte_get_tsc_hz(),
			       rte_rdtsc());
	ta->expires = rq->now + (uint64_t)ask.lifetime * 1000;
	memcpy(ta->tid, m->tid, STUN_TID_LEN);
	snprintf(ta->username, sizeof(ta->username), "%s",
		 rq->auth->username);
	ta->user = user_ref(ts, rq->auth->user);
	if (ta->user == NULL)
		goto fail_close;
	if (resv != NULL) {
		resv->user = user_ref(ts, rq->auth->user);
		if (resv->user == NULL) {
			user_unref(ts, ta->user);
			goto fail_close;
		}
	}

	rc = dp_alloc_publish(&ts->dp->tables, &ta->dpa);
	if (rc < 0) {
		log_warn(MOD, "allocation table full: %s", strerror(-rc));
		if (resv != NULL)
			user_unref(ts, resv->user);
		user_unref(ts, ta->user);
		goto fail_close;
	}
	TAILQ_INSERT_TAIL(&ts->allocs, ta, link);
	ts->n_allocs++;
	ta->id = ++ts->next_id;
	ta->created = rq->now;
	if (resv != NULL) {
		resv->expires = rq->now + TURN_RESERVATION_MS;
		resv->owner = ta;
		ta->resv = resv;
		TAILQ_INSERT_TAIL(&ts->resvs, resv, link);
		ts->n_resvs++;
		ta->has_token = true;
		memcpy(ta->token, resv->token, sizeof(ta->token));
	}
	ts->stats[TURN_STAT_ALLOCATIONS_CREATED]++;
	log_info(MOD, "allocation created id=%" PRIu64 " relayed=%s lifetime=%u",
		 ta->id, addr_str(&ta->dpa.relay, r), ask.lifetime);
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
	alloc_free(ta);
	return turn_resp_error(rq, 508);
}

/* 437 / 441 checks shared by Refresh, CreatePermission and ChannelBind. */
static struct turn_alloc *
alloc_of_request(struct turn_req *rq, int *err)
{
	struct turn_alloc *ta = alloc_find(rq->ts, rq->from, rq->to, rq->now);

	if (ta == NULL) {
		*err = turn_resp_error(rq, 437);
		return NULL;
	}
	/* RFC 8656 §5: later requests use the credentials of the Allocate */
	if (strcmp(ta->username, rq->auth->username) != 0) {
		*err = turn_resp_error(rq, 441);
		return NULL;
	}
	return ta;
}

int
turn_do_refresh(struct turn_req *rq)
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
			return turn_resp_error(rq, 443);
	}
	lt = stun_find(rq->m, STUN_A_LIFETIME);
	if (lt != NULL && stun_attr_u32(lt, &v) < 0)
		return turn_resp_error(rq, 400);
	if (lt != NULL && v == 0) {
		turn_alloc_remove(rq->ts, ta, "refresh with lifetime 0");
		lifetime = 0;
	} else {
		lifetime = lifetime_clamp(rq->ts, lt, v);
		ta->expires = rq->now + (uint64_t)lifetime * 1000;
	}
	turn_resp_begin(rq, STUN_SUCCESS);
	stun_add_u32(&rq->b, STUN_A_LIFETIME, lifetime);
	turn_add_software(rq);
	return turn_resp_end(rq);
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

int
turn_do_create_permission(struct turn_req *rq)
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
			return turn_resp_error(rq, err);
		peers[n].port = 0;
		n++;
	}
	if (n == 0)
		return turn_resp_error(rq, 400);

	np = ts->scratch_perms;
	cnt = ta->n_perms;
	memcpy(np, ta->perms, cnt * sizeof(*np));
	for (unsigned i = 0; i < n; i++) {
		int k = perm_find(np, cnt, &peers[i]);
		if (k < 0) {
			if (cnt >= ts->max_perms)
				return turn_resp_quota(rq, 508);
			k = cnt++;
			np[k].ip = peers[i];
		}
		np[k].expires = rq->now + TURN_PERM_LIFETIME_MS;
	}
	if (peers_commit(ts, ta, np, cnt, ta->chans, ta->n_chans) < 0)
		return turn_resp_error(rq, 508);

	turn_resp_begin(rq, STUN_SUCCESS);
	turn_add_software(rq);
	return turn_resp_end(rq);
}

int
turn_do_channel_bind(struct turn_req *rq)
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
		return turn_resp_error(rq, 400);
	num = (uint16_t)(v >> 16);
	if (!turn_channel_valid(num, ts->legacy_channels))
		return turn_resp_error(rq, 400);
	pa = stun_find(rq->m, STUN_A_XOR_PEER_ADDRESS);
	if (pa == NULL)
		return turn_resp_error(rq, 400);
	err = peer_of(rq, ta, pa, true, &peer);
	if (err)
		return turn_resp_error(rq, err);

	/* a channel and its peer are bound one to one until expiry */
	for (uint16_t i = 0; i < ta->n_chans; i++) {
		if (ta->chans[i].num == num)
			ci = i;
		if (sotto_addr_eq(&ta->chans[i].peer, &peer))
			pi = i;
	}
	if (ci != pi)
		return turn_resp_error(rq, 400);

	nc = ts->scratch_chans;
	ccnt = ta->n_chans;
	memcpy(nc, ta->chans, ccnt * sizeof(*nc));
	if (ci < 0) {
		if (ccnt >= ts->max_perms)
			return turn_resp_quota(rq, 508);
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
			return turn_resp_quota(rq, 508);
		k = pcnt++;
		np[k].ip = ip;
	}
	np[k].expires = rq->now + TURN_PERM_LIFETIME_MS;

	if (peers_commit(ts, ta, np, pcnt, nc, ccnt) < 0)
		return turn_resp_error(rq, 508);

	turn_resp_begin(rq, STUN_SUCCESS);
	turn_add_software(rq);
	return turn_resp_end(rq);
}

/* RFC 8656 §10.2: a Send indication is relayed or silently dropped. */
int
turn_do_send(struct turn_server *ts, const struct stun_msg *m,
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
