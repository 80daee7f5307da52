/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway mode, the control thread's half: rooms, legs and their SRTP
 * contexts, the leg table and RCU-deferred frees (dp_gw.h says who owns
 * what; dp_gw_fwd.c is the workers' half).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dp.h"
#include "dp_gw.h"
#include "dp_gw_priv.h"

void (*dp_gw_wipe_hook)(const void *mem, size_t len);

static void leg_wipe_free(struct dp_gw_leg *l);

/* a unique name for each instance's hash and rings */
static unsigned gw_instance;
/* leg generations, never 0 */
static uint32_t leg_gen;

static size_t
leg_head_len(void)
{
	return RTE_ALIGN_CEIL(sizeof(struct dp_gw_leg), DP_SRTP_CTX_ALIGN);
}

static size_t
leg_ctx_len(void)
{
	return RTE_ALIGN_CEIL(dp_srtp_ctx_size(), DP_SRTP_CTX_ALIGN);
}

static size_t
leg_mem_len(void)
{
	return leg_head_len() + 2 * leg_ctx_len();
}

static uint64_t
ntp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + NTP_UNIX_OFFSET) << 32 |
	       (uint64_t)(((gw_u128)ts.tv_nsec << 32) / 1000000000u);
}

int
dp_gw_init(struct dp_ctx *dp, uint32_t max_legs)
{
	char name[RTE_RING_NAMESIZE];
	unsigned inst = gw_instance++;
	uint32_t ring_size = GW_RING_SIZE;
	struct dp_gw *gw;

	if (dp->gw != NULL)
		return -EEXIST;
	if (dp->n_workers == 0 || dp->n_workers > DP_MAX_WORKERS)
		return -EINVAL;
	if (dp->conf.ring_size >= 64)
		ring_size = dp->conf.ring_size;
	if (max_legs < 8)
		max_legs = 8;

	gw = rte_zmalloc("dp_gw", sizeof(*gw), RTE_CACHE_LINE_SIZE);
	if (gw == NULL)
		return -ENOMEM;
	dp->gw = gw;
	dp->media_input = dp_gw_input;
	gw->max_legs = max_legs;
	gw->n_workers = dp->n_workers;
	gw->hz = rte_get_tsc_hz();
	gw->mult48 = (uint64_t)(((gw_u128)DP_GW_OPUS_HZ << 48) / gw->hz);
	gw->mult_ntp = (uint64_t)(((gw_u128)1 << 64) / gw->hz);
	gw->select_ticks = gw->hz * DP_GW_SELECT_MS / 1000;
	gw->hold_ticks = gw->hz * DP_GW_HOLD_MS / 1000;
	gw->stale_ticks = gw->hz * DP_GW_STALE_MS / 1000;
	gw->rtcp_ticks = gw->hz * DP_GW_RTCP_MS / 1000;
	gw->tsc0 = rte_rdtsc();
	gw->ntp0 = ntp_now();
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
		gw->wk[i].rng = (gw->tsc0 ^ gw->ntp0) * 0x9E3779B97F4A7C15ull +
				i + 1;

	snprintf(name, sizeof(name), "dp_gw_%u", inst);
	struct rte_hash_parameters hp = {
		.name = name,
		/* a moved leg holds its old entry until the grace period */
		.entries = 2 * max_legs,
		.key_len = sizeof(struct dp_client_key),
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	gw->by_addr = rte_hash_create(&hp);
	if (gw->by_addr == NULL)
		goto fail;
	for (uint16_t i = 0; i < dp->n_workers; i++) {
		snprintf(name, sizeof(name), "dp_gw_%u_%u", inst, i);
		dp->workers[i].gw_ring = rte_ring_create(name, ring_size,
							 SOCKET_ID_ANY,
							 RING_F_SC_DEQ);
		if (dp->workers[i].gw_ring == NULL)
			goto fail;
	}
	return 0;
fail:
	dp_gw_fini(dp);
	return -ENOMEM;
}

static void
gw_unref(struct dp_gw *gw)
{
	if (--gw->refs == 0 && gw->by_addr == NULL)
		rte_free(gw);
}

void
dp_gw_fini(struct dp_ctx *dp)
{
	struct dp_gw *gw = dp->gw;
	struct rte_mbuf *m;

	if (gw == NULL)
		return;
	/* legs still published: no worker runs, so no grace period to
	 * wait for; their keys are wiped like any other leg's */
	if (gw->by_addr != NULL) {
		const void *key;
		void *data;
		uint32_t next = 0;

		while (rte_hash_iterate(gw->by_addr, &key, &data, &next) >= 0) {
			struct dp_gw_leg *l = data;
			if (l->room->legs[l->idx] == l)
				l->room->legs[l->idx] = NULL;
			leg_wipe_free(l);
		}
	}
	for (uint16_t i = 0; dp->workers != NULL && i < gw->n_workers; i++) {
		struct dp_worker *w = &dp->workers[i];
		while (w->gw_ring != NULL &&
		       rte_ring_dequeue(w->gw_ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->gw_ring);
		w->gw_ring = NULL;
	}
	rte_hash_free(gw->by_addr);
	gw->by_addr = NULL;
	dp->gw = NULL;
	dp->media_input = NULL;
	/* deferred frees still queued run later (dp_tables_fini) and free
	 * gw after the last of them */
	if (gw->refs == 0)
		rte_free(gw);
}

struct dp_gw_room *
dp_gw_room_new(struct dp_ctx *dp, uint32_t id, uint8_t n_slots)
{
	struct dp_gw *gw = dp->gw;
	struct dp_gw_room *r;
	uint16_t owner = 0;

	if (gw == NULL || n_slots == 0 || n_slots > DP_GW_MAX_SLOTS) {
		errno = EINVAL;
		return NULL;
	}
	r = rte_zmalloc("dp_gw_room", sizeof(*r), RTE_CACHE_LINE_SIZE);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	for (uint16_t i = 1; i < gw->n_workers; i++)
		if (gw->rooms[i] < gw->rooms[owner])
			owner = i;
	gw->rooms[owner]++;
	r->owner = owner;
	r->n_slots = n_slots;
	r->id = id;
	r->sel_ver = 1; /* a new leg (sel_ver 0) makes its slots at once */
	return r;
}

static void
room_release(void *p, intptr_t unused)
{
	(void)unused;
	rte_free(p);
}

void
dp_gw_room_free(struct dp_ctx *dp, struct dp_gw_room *r)
{
	if (r == NULL)
		return;
	if (dp->gw != NULL && dp->gw->rooms[r->owner] > 0)
		dp->gw->rooms[r->owner]--;
	if (dp_defer(&dp->tables, room_release, r, 0) < 0) {
		rte_rcu_qsbr_synchronize(dp->tables.qsv, RTE_QSBR_THRID_INVALID);
		room_release(r, 0);
	}
}

static bool
master_ok(enum dp_srtp_profile p, const struct dp_srtp_master *m)
{
	return m != NULL && m->key_len == dp_srtp_key_len(p) &&
	       m->salt_len == dp_srtp_salt_len(p);
}

static bool
params_ok(const struct dp_gw_leg_params *p)
{
	size_t cname_len;

	if (p->room == NULL || !dp_srtp_profile_ok((int)p->profile) ||
	    !master_ok(p->profile, p->remote_key) ||
	    !master_ok(p->profile, p->local_key) ||
	    p->n_slots > p->room->n_slots ||
	    (p->n_slots && p->slot_ssrcs == NULL) ||
	    p->n_ssrcs > DP_SRTP_MAX_SSRC ||
	    (p->n_ssrcs && p->ssrcs == NULL) ||
	    p->level_id > 14 || p->pt > 127)
		return false;
	cname_len = p->cname ? strlen(p->cname) : 0;
	if (cname_len > 15)
		return false;
	for (unsigned i = 0; i < p->n_slots; i++)
		for (unsigned j = 0; j < i; j++)
			if (p->slot_ssrcs[i] == p->slot_ssrcs[j])
				return false;
	return true;
}

/* The end of every leg: SRTP contexts, then every byte, wiped. */
static void
leg_wipe_free(struct dp_gw_leg *l)
{
	struct dp_gw_addr *a = l->addr;
	size_t len = leg_mem_len();

	dp_srtp_ctx_fini(l->rx);
	dp_srtp_ctx_fini(l->tx);
	explicit_bzero(l, len);
	if (dp_gw_wipe_hook != NULL)
		dp_gw_wipe_hook(l, len);
	rte_free(l);
	rte_free(a);
}

/* a context in the leg's memory, from a master key and salt */
static struct dp_srtp_ctx *
leg_ctx(void *mem, enum dp_srtp_profile p, enum dp_srtp_dir dir,
	const struct dp_srtp_master *m)
{
	struct dp_srtp_session_keys k;
	struct dp_srtp_ctx *c;
	int rc;

	rc = dp_srtp_kdf(p, m->key, m->key_len, m->salt, m->salt_len, &k);
	if (rc < 0) {
		explicit_bzero(&k, sizeof(k));
		errno = -rc;
		return NULL;
	}
	c = dp_srtp_ctx_init(mem, leg_ctx_len(), p, dir, &k);
	explicit_bzero(&k, sizeof(k));
	return c;
}

struct dp_gw_leg *
dp_gw_leg_new(struct dp_ctx *dp, const struct dp_gw_leg_params *p)
{
	struct dp_gw_leg *l;
	uint8_t *mem;
	int err;

	if (dp->gw == NULL || p == NULL || !params_ok(p)) {
		errno = EINVAL;
		return NULL;
	}
	mem = rte_zmalloc("dp_gw_leg", leg_mem_len(), RTE_CACHE_LINE_SIZE);
	if (mem == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	l = (struct dp_gw_leg *)mem;
	l->addr = rte_zmalloc("dp_gw_addr", sizeof(*l->addr), RTE_CACHE_LINE_SIZE);
	if (l->addr == NULL) {
		err = ENOMEM;
		goto fail;
	}
	l->addr->remote = p->remote;
	l->addr->local = p->local;
	l->addr->sock = p->sock;
	l->room = p->room;
	l->owner = p->owner;
	if (++leg_gen == 0)
		leg_gen = 1;
	l->gen = leg_gen;
	l->n_slots = p->n_slots;
	l->level_id = p->level_id;
	l->pt = p->pt;
	if (p->cname != NULL) {
		l->cname_len = strlen(p->cname);
		memcpy(l->cname, p->cname, l->cname_len);
	}
	uint64_t cap = p->in_cap ? p->in_cap : DP_GW_LEG_BYTES_PER_S;
	/* a fifth of a second at the cap, never less than the default burst */
	dp_bucket_init(&l->in_cap, cap,
		       cap / 5 > DP_GW_LEG_BURST ? cap / 5 : DP_GW_LEG_BURST,
		       rte_get_tsc_hz(), rte_rdtsc());
	for (unsigned k = 0; k < DP_GW_MAX_SLOTS; k++)
		l->slot[k].src = -1;
	for (unsigned k = 0; k < p->n_slots; k++)
		l->slot[k].ssrc = p->slot_ssrcs[k];

	l->rx = leg_ctx(mem + leg_head_len(), p->profile, DP_SRTP_UNPROTECT,
			p->remote_key);
	if (l->rx == NULL) {
		err = errno == ENOMEM ? ENOMEM : errno == EINVAL ? EINVAL : EIO;
		goto fail;
	}
	l->tx = leg_ctx(mem + leg_head_len() + leg_ctx_len(), p->profile,
			DP_SRTP_PROTECT, p->local_key);
	if (l->tx == NULL) {
		err = errno == ENOMEM ? ENOMEM : errno == EINVAL ? EINVAL : EIO;
		goto fail;
	}
	for (unsigned i = 0; i < p->n_ssrcs; i++)
		if (dp_srtp_ctx_add_ssrc(l->rx, p->ssrcs[i], 0) == -ENOSPC) {
			err = EINVAL;
			goto fail;
		}
	if (p->n_ssrcs)
		dp_srtp_ctx_set_learning(l->rx, false);
	for (unsigned k = 0; k < p->n_slots; k++)
		if (dp_srtp_ctx_add_ssrc(l->tx, p->slot_ssrcs[k], 0) < 0) {
			err = EINVAL;
			goto fail;
		}
	return l;
fail:
	leg_wipe_free(l);
	errno = err;
	return NULL;
}

void
dp_gw_leg_discard(struct dp_gw_leg *l)
{
	if (l != NULL)
		leg_wipe_free(l);
}

int
dp_gw_leg_publish(struct dp_ctx *dp, struct dp_gw_leg *l)
{
	struct dp_gw *gw = dp->gw;
	struct dp_gw_room *r = l->room;
	struct dp_client_key k;
	int32_t pos;
	int idx = -1;

	if (gw == NULL)
		return -EINVAL;
	for (int i = 0; i < DP_GW_MAX_LEGS; i++)
		if (r->legs[i] == NULL) {
			idx = i;
			break;
		}
	if (idx < 0)
		return -ENOSPC;
	dp_client_key_set(&k, &l->addr->remote, &l->addr->local);
	/* add_key_data would silently replace an existing entry */
	if (rte_hash_lookup(gw->by_addr, &k) >= 0)
		return -EEXIST;
	l->idx = (uint16_t)idx;
	l->sel_ver = 0;
	pos = rte_hash_add_key_data(gw->by_addr, &k, l);
	if (pos < 0)
		return pos == -ENOSPC ? -ENOSPC : -EINVAL;
	/* in the room only once it is in the table: nothing can have used
	 * it if the add failed */
	__atomic_store_n(&r->legs[idx], l, __ATOMIC_RELEASE);
	if (idx + 1 > r->n_idx)
		__atomic_store_n(&r->n_idx, (uint16_t)(idx + 1),
				 __ATOMIC_RELEASE);
	r->n_legs++;
	return 0;
}

/* What waits for a grace period: a leg, an old address, a key slot. */
struct gw_reclaim {
	struct dp_gw *gw;
	struct dp_gw_leg *leg;
	struct dp_gw_addr *addr;
	int32_t pos;
	void (*done)(void *);
	void *arg;
};

static void
reclaim(void *p, intptr_t unused)
{
	struct gw_reclaim *c = p;

	(void)unused;
	/* after dp_gw_fini the table is gone, and its slots with it */
	if (c->pos >= 0 && c->gw->by_addr != NULL)
		rte_hash_free_key_with_position(c->gw->by_addr, c->pos);
	if (c->leg != NULL)
		leg_wipe_free(c->leg);
	rte_free(c->addr);
	if (c->done != NULL)
		c->done(c->arg);
	gw_unref(c->gw);
	free(c);
}

static struct gw_reclaim *
reclaim_new(struct dp_gw *gw)
{
	struct gw_reclaim *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->gw = gw;
		c->pos = -1;
	}
	return c;
}

static void
reclaim_later(struct dp_ctx *dp, struct gw_reclaim *c)
{
	c->gw->refs++;
	if (dp_defer(&dp->tables, reclaim, c, 0) < 0) {
		rte_rcu_qsbr_synchronize(dp->tables.qsv, RTE_QSBR_THRID_INVALID);
		reclaim(c, 0);
	}
}

int
dp_gw_leg_move(struct dp_ctx *dp, struct dp_gw_leg *l,
	       const struct sotto_addr *remote, const struct sotto_addr *local,
	       uint32_t sock)
{
	struct dp_gw *gw = dp->gw;
	struct dp_gw_addr *old = l->addr, *a;
	struct dp_client_key ok, nk;
	struct gw_reclaim *c;
	bool same;
	int32_t pos;

	if (gw == NULL)
		return -EINVAL;
	dp_client_key_set(&ok, &old->remote, &old->local);
	dp_client_key_set(&nk, remote, local);
	same = memcmp(&ok, &nk, sizeof(ok)) == 0;
	if (same && old->sock == sock)
		return 0;
	if (!same && rte_hash_lookup(gw->by_addr, &nk) >= 0)
		return -EEXIST;
	a = rte_zmalloc("dp_gw_addr", sizeof(*a), RTE_CACHE_LINE_SIZE);
	c = reclaim_new(gw);
	if (a == NULL || c == NULL) {
		rte_free(a);
		free(c);
		return -ENOMEM;
	}
	a->remote = *remote;
	a->local = *local;
	a->sock = sock;
	if (!same) {
		pos = rte_hash_add_key_data(gw->by_addr, &nk, l);
		if (pos < 0) {
			rte_free(a);
			free(c);
			return pos == -ENOSPC ? -ENOSPC : -EINVAL;
		}
	}
	__atomic_store_n(&l->addr, a, __ATOMIC_RELEASE);
	if (!same)
		c->pos = rte_hash_del_key(gw->by_addr, &ok);
	c->addr = old;
	reclaim_later(dp, c);
	return 0;
}

int
dp_gw_leg_unpublish(struct dp_ctx *dp, struct dp_gw_leg *l,
		    void (*done)(void *), void *arg)
{
	struct dp_gw *gw = dp->gw;
	struct dp_gw_room *r = l->room;
	struct dp_client_key k;
	struct gw_reclaim *c;

	if (gw == NULL)
		return -EINVAL;
	c = reclaim_new(gw);
	dp_client_key_set(&k, &l->addr->remote, &l->addr->local);
	int32_t pos = rte_hash_del_key(gw->by_addr, &k);
	if (r->legs[l->idx] == l) {
		__atomic_store_n(&r->legs[l->idx], NULL, __ATOMIC_RELEASE);
		r->n_legs--;
	}
	if (c == NULL) {
		/* no memory to defer it: wait for the grace period here, so
		 * the keys are still wiped and nothing is left published */
		rte_rcu_qsbr_synchronize(dp->tables.qsv, RTE_QSBR_THRID_INVALID);
		if (pos >= 0)
			rte_hash_free_key_with_position(gw->by_addr, pos);
		leg_wipe_free(l);
		if (done != NULL)
			done(arg);
		return 0;
	}
	c->pos = pos;
	c->leg = l;
	c->done = done;
	c->arg = arg;
	reclaim_later(dp, c);
	return 0;
}
