/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lock-free tables the workers read and the control thread writes.
 *
 * rte_hash with RW_CONCURRENCY_LF lets workers look up while the single
 * writer (the control thread) adds and deletes. Nothing a worker may still
 * hold is freed at once: deletions and replaced peer sets go on a FIFO of
 * deferred work, each stamped with an rte_rcu_qsbr token, and run once every
 * worker has reported a quiescent state since.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dp.h"

struct dp_deferred {
	uint64_t token;
	void (*fn)(void *, intptr_t);
	void *arg;
	intptr_t arg2;
};

/* The FIFO of deferred work; control thread only. */
struct dp_defer_fifo {
	struct dp_deferred *items;
	size_t cap, head, count;
};

static struct dp_defer_fifo *
fifo_of(struct dp_tables *t)
{
	return (struct dp_defer_fifo *)t->dq;
}

int
dp_defer(struct dp_tables *t, void (*fn)(void *, intptr_t), void *arg,
      intptr_t arg2)
{
	struct dp_defer_fifo *f = fifo_of(t);

	if (f->count == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 1024;
		struct dp_deferred *n = malloc(ncap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < f->count; i++)
			n[i] = f->items[(f->head + i) % f->cap];
		free(f->items);
		f->items = n;
		f->cap = ncap;
		f->head = 0;
	}
	struct dp_deferred *d = &f->items[(f->head + f->count) % f->cap];
	d->token = rte_rcu_qsbr_start(t->qsv);
	d->fn = fn;
	d->arg = arg;
	d->arg2 = arg2;
	f->count++;
	return 0;
}

void
dp_tables_reclaim(struct dp_tables *t)
{
	struct dp_defer_fifo *f = fifo_of(t);

	/* tokens grow monotonically, so the first one not yet passed ends
	 * the scan */
	while (f->count > 0) {
		struct dp_deferred d = f->items[f->head];
		if (rte_rcu_qsbr_check(t->qsv, d.token, false) != 1)
			break;
		f->head = (f->head + 1) % f->cap;
		f->count--;
		d.fn(d.arg, d.arg2);
	}
}

static struct rte_hash *
make_hash(const char *name, uint32_t entries, uint32_t key_len)
{
	struct rte_hash_parameters p = {
		.name = name,
		.entries = entries,
		.key_len = key_len,
		/* CRC32 instructions: a third of jhash's cost on 48 bytes */
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	return rte_hash_create(&p);
}

int
dp_tables_init(struct dp_tables *t, uint32_t max_allocs, uint16_t n_workers)
{
	static unsigned instance;
	char name[RTE_HASH_NAMESIZE];
	size_t sz;

	memset(t, 0, sizeof(*t));
	if (max_allocs < 8)
		max_allocs = 8;
	t->max_allocs = max_allocs;

	t->dq = calloc(1, sizeof(struct dp_defer_fifo));
	if (t->dq == NULL)
		return -ENOMEM;

	sz = rte_rcu_qsbr_get_memsize(n_workers ? n_workers : 1);
	t->qsv = rte_zmalloc("dp_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (t->qsv == NULL || rte_rcu_qsbr_init(t->qsv, n_workers ? n_workers : 1))
		goto fail;

	snprintf(name, sizeof(name), "dp_client_%u", instance);
	t->by_client = make_hash(name, max_allocs, sizeof(struct dp_client_key));
	snprintf(name, sizeof(name), "dp_relay_%u", instance++);
	t->by_relay = make_hash(name, max_allocs, sizeof(struct dp_relay_key));
	if (t->by_client == NULL || t->by_relay == NULL)
		goto fail;
	return 0;
fail:
	dp_tables_fini(t);
	return -ENOMEM;
}

void
dp_tables_fini(struct dp_tables *t)
{
	struct dp_defer_fifo *f = fifo_of(t);

	/* workers are gone: whatever is deferred can run now */
	while (f != NULL && f->count > 0) {
		struct dp_deferred d = f->items[f->head];
		f->head = (f->head + 1) % f->cap;
		f->count--;
		d.fn(d.arg, d.arg2);
	}
	if (f != NULL)
		free(f->items);
	free(t->dq);
	rte_hash_free(t->by_client);
	rte_hash_free(t->by_relay);
	rte_free(t->qsv);
	memset(t, 0, sizeof(*t));
}

int
dp_alloc_publish(struct dp_tables *t, struct dp_alloc *a)
{
	struct dp_client_key ck;
	struct dp_relay_key rk;
	int32_t pos;

	dp_client_key_set(&ck, &a->client, &a->listener);
	dp_relay_key_set(&rk, &a->relay);
	a->capped = a->bucket[0].rate != 0 || a->bucket[1].rate != 0;

	if ((uint32_t)rte_hash_count(t->by_relay) >= t->max_allocs)
		return -ENOSPC;
	/* add_key_data would silently replace an existing entry */
	if (rte_hash_lookup(t->by_client, &ck) >= 0 ||
	    rte_hash_lookup(t->by_relay, &rk) >= 0)
		return -EEXIST;
	pos = rte_hash_add_key_data(t->by_client, &ck, a);
	if (pos < 0)
		return pos == -ENOSPC ? -ENOSPC : -EINVAL;
	pos = rte_hash_add_key_data(t->by_relay, &rk, a);
	if (pos < 0) {
		/* never seen by a worker through by_relay; the client key can
		 * go, but its slot still waits for the grace period */
		int32_t p = rte_hash_del_key(t->by_client, &ck);
		if (p >= 0)
			rte_hash_free_key_with_position(t->by_client, p);
		return -ENOSPC;
	}
	return 0;
}

struct unpublish_ctx {
	struct dp_tables *t;
	void (*done)(void *);
	void *arg;
};

static void
finish_unpublish(void *p, intptr_t pos_pair)
{
	struct unpublish_ctx *u = p;
	int32_t cpos = (int32_t)(pos_pair >> 32);
	int32_t rpos = (int32_t)(pos_pair & 0xffffffff);

	if (cpos >= 0)
		rte_hash_free_key_with_position(u->t->by_client, cpos);
	if (rpos >= 0)
		rte_hash_free_key_with_position(u->t->by_relay, rpos);
	if (u->done)
		u->done(u->arg);
	free(u);
}

static void
free_peerset(void *p, intptr_t unused)
{
	(void)unused;
	free(p);
}

int
dp_alloc_unpublish(struct dp_tables *t, struct dp_alloc *a,
		   void (*done)(void *), void *arg)
{
	struct dp_client_key ck;
	struct dp_relay_key rk;
	struct unpublish_ctx *u = malloc(sizeof(*u));
	int32_t cpos, rpos;

	if (u == NULL)
		return -ENOMEM;
	dp_client_key_set(&ck, &a->client, &a->listener);
	dp_relay_key_set(&rk, &a->relay);
	cpos = rte_hash_del_key(t->by_client, &ck);
	rpos = rte_hash_del_key(t->by_relay, &rk);
	u->t = t;
	u->done = done;
	u->arg = arg;
	/* the peer set goes with the allocation */
	struct dp_peerset *ps = __atomic_exchange_n(&a->peers, NULL,
						    __ATOMIC_ACQ_REL);
	if (ps != NULL && dp_defer(t, free_peerset, ps, 0) < 0) {
		rte_rcu_qsbr_synchronize(t->qsv, RTE_QSBR_THRID_INVALID);
		free(ps);
	}
	intptr_t pair = (intptr_t)(((uint64_t)(uint32_t)cpos << 32) |
				   (uint32_t)rpos);
	if (dp_defer(t, finish_unpublish, u, pair) < 0) {
		rte_rcu_qsbr_synchronize(t->qsv, RTE_QSBR_THRID_INVALID);
		finish_unpublish(u, pair);
	}
	return 0;
}

struct dp_peerset *
dp_peerset_new(uint16_t n_perms, uint16_t n_chans)
{
	size_t sz = sizeof(struct dp_peerset) +
		    n_perms * sizeof(struct sotto_addr) +
		    n_chans * sizeof(struct dp_chan);
	struct dp_peerset *ps = calloc(1, sz);

	if (ps == NULL)
		return NULL;
	ps->n_perms = n_perms;
	ps->n_chans = n_chans;
	ps->chans = (struct dp_chan *)&ps->perms[n_perms];
	return ps;
}

int
dp_peers_publish(struct dp_tables *t, struct dp_alloc *a, struct dp_peerset *ps)
{
	struct dp_peerset *old = __atomic_exchange_n(&a->peers, ps,
						     __ATOMIC_ACQ_REL);

	if (old != NULL && dp_defer(t, free_peerset, old, 0) < 0) {
		rte_rcu_qsbr_synchronize(t->qsv, RTE_QSBR_THRID_INVALID);
		free(old);
	}
	return 0;
}
