/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane context: packet pool, rings, eventfds, tables and the
 * worker lcores. Everything here runs on the control thread, except
 * worker_main and the sleep helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp.h"
#include "policer.h"

const char *const dp_counter_names[DP_N_COUNTERS] = {
#define X(name, str, ...) [DP_##name] = str,
	DP_FOREACH_COUNTER(X)
#undef X
};

static void
wake(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof(one));
	(void)r; /* EAGAIN means a wake-up is pending already */
}

int
dp_ctx_init(struct dp_ctx *dp, const struct dp_conf *conf,
	    const struct dp_port_ops *ops)
{
	char name[RTE_RING_NAMESIZE];
	int ret = -ENOMEM;

	memset(dp, 0, sizeof(*dp));
	dp->conf = *conf;
	dp->ops = ops;
	dp->exc_fd = -1;
	dp->n_workers = conf->workers;
	dp->idle_poll = conf->idle == DP_IDLE_POLL;
	dp->bandwidth = conf->bandwidth;

	if (rte_lcore_count() < (unsigned)dp->n_workers + 1) {
		fprintf(stderr, "dataplane: %u workers need %u EAL lcores, "
			"have %u\n", dp->n_workers, dp->n_workers + 1,
			rte_lcore_count());
		return -EINVAL;
	}

	dp->pool = rte_pktmbuf_pool_create("dp_pool", conf->mbufs,
					   256, DP_MBUF_PRIV_SIZE,
					   RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	if (dp->pool == NULL)
		goto fail;
	dp->exc_ring = rte_ring_create("dp_exc", conf->ring_size,
				       SOCKET_ID_ANY, RING_F_SC_DEQ);
	dp->exc_new = rte_ring_create("dp_exc_new", conf->ring_size,
				      SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (dp->exc_ring == NULL || dp->exc_new == NULL)
		goto fail;
	dp->exc_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp->exc_fd < 0)
		goto fail;
	ret = dp_tables_init(&dp->tables, conf->max_allocs,
			     dp->n_workers);
	if (ret < 0)
		goto fail;

	ret = -ENOMEM;
	dp->workers = rte_zmalloc("dp_workers",
				  dp->n_workers * sizeof(struct dp_worker),
				  RTE_CACHE_LINE_SIZE);
	if (dp->workers == NULL)
		goto fail;
	for (uint16_t i = 0; i < dp->n_workers; i++) {
		struct dp_worker *w = &dp->workers[i];
		w->id = i;
		w->dp = dp;
		w->hz = rte_get_tsc_hz();
		w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		snprintf(name, sizeof(name), "dp_tx_%u", i);
		w->tx_ring = rte_ring_create(name, conf->ring_size,
					     SOCKET_ID_ANY,
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->wake_fd < 0 || w->tx_ring == NULL)
			goto fail;
		if (conf->exc_per_source > 0) {
			uint8_t key[16];

			w->pol = rte_malloc("dp_policer", sizeof(*w->pol),
					    RTE_CACHE_LINE_SIZE);
			if (w->pol == NULL ||
			    getrandom(key, sizeof(key), 0) != sizeof(key))
				goto fail;
			dp_policer_init(w->pol, key, conf->exc_per_source,
					conf->exc_burst, w->hz);
			explicit_bzero(key, sizeof(key));
		}
	}

	ret = ops->init(dp);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	dp_ctx_fini(dp);
	return ret;
}

static int
worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_rcu_qsbr *qsv = w->dp->tables.qsv;
	int ret;

	rte_rcu_qsbr_thread_register(qsv, w->id);
	rte_rcu_qsbr_thread_online(qsv, w->id);
	ret = w->dp->ops->worker_run(w);
	rte_rcu_qsbr_thread_offline(qsv, w->id);
	rte_rcu_qsbr_thread_unregister(qsv, w->id);
	return ret;
}

int
dp_ctx_start(struct dp_ctx *dp)
{
	unsigned lcore;
	uint16_t i = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == dp->n_workers)
			break;
		int ret = rte_eal_remote_launch(worker_main, &dp->workers[i],
						lcore);
		if (ret < 0)
			return ret;
		i++;
	}
	return 0;
}

void
dp_ctx_stop(struct dp_ctx *dp)
{
	__atomic_store_n(&dp->quit, 1, __ATOMIC_SEQ_CST);
	for (uint16_t i = 0; i < dp->n_workers; i++)
		wake(dp->workers[i].wake_fd);
	rte_eal_mp_wait_lcore();
}

void
dp_ctx_fini(struct dp_ctx *dp)
{
	struct rte_mbuf *m;

	if (dp->ops && dp->ops->fini && dp->pool)
		dp->ops->fini(dp);
	if (dp->workers) {
		for (uint16_t i = 0; i < dp->n_workers; i++) {
			struct dp_worker *w = &dp->workers[i];
			if (w->wake_fd > 0)
				close(w->wake_fd);
			while (w->tx_ring &&
			       rte_ring_dequeue(w->tx_ring, (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(w->tx_ring);
			rte_free(w->pol);
		}
		rte_free(dp->workers);
	}
	if (dp->tables.qsv)
		dp_tables_fini(&dp->tables);
	while (dp->exc_ring && rte_ring_dequeue(dp->exc_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (dp->exc_new && rte_ring_dequeue(dp->exc_new, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(dp->exc_ring);
	rte_ring_free(dp->exc_new);
	if (dp->exc_fd >= 0)
		close(dp->exc_fd);
	rte_mempool_free(dp->pool);
	memset(dp, 0, sizeof(*dp));
	dp->exc_fd = -1;
}

unsigned
dp_ctx_transmit(struct dp_ctx *dp, uint16_t worker, struct rte_mbuf **pkts,
		unsigned n)
{
	struct dp_worker *w = &dp->workers[worker % dp->n_workers];
	unsigned q = rte_ring_sp_enqueue_burst(w->tx_ring, (void **)pkts, n,
					       NULL);

	if (q < n) {
		dp->tx_ring_full += n - q;
		rte_pktmbuf_free_bulk(pkts + q, n - q);
	}
	/* pairs with the fence in dp_worker_sleep_begin */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q > 0 && __atomic_load_n(&w->sleeping, __ATOMIC_RELAXED))
		wake(w->wake_fd);
	return q;
}

struct rte_mbuf *
dp_ctx_packet(struct dp_ctx *dp, const struct sotto_addr *src,
	      const struct sotto_addr *dst, uint32_t sock, const void *data,
	      size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	char *p = m != NULL && len <= UINT16_MAX ?
			  rte_pktmbuf_append(m, (uint16_t)len) : NULL;
	struct dp_meta *meta;

	if (p == NULL) {
		rte_pktmbuf_free(m);
		dp->tx_ring_full++;
		return NULL;
	}
	memcpy(p, data, len);
	meta = dp_meta(m);
	meta->src = *src;
	meta->dst = *dst;
	meta->sock = sock;
	meta->flags = 0;
	return m;
}

void
dp_ctx_send_pkts(struct dp_ctx *dp, uint32_t sock, struct rte_mbuf **pkts,
		 unsigned n)
{
	if (n > 0)
		dp_ctx_transmit(dp, dp_sock_worker(dp, sock), pkts, n);
}

int
dp_ctx_send(struct dp_ctx *dp, const struct sotto_addr *src,
	    const struct sotto_addr *dst, uint32_t sock, const void *data,
	    size_t len)
{
	struct rte_mbuf *m = dp_ctx_packet(dp, src, dst, sock, data, len);

	if (m == NULL)
		return -ENOBUFS;
	return dp_ctx_transmit(dp, dp_sock_worker(dp, sock), &m, 1) == 1
		       ? 0 : -ENOBUFS;
}

void
dp_ctx_counters(const struct dp_ctx *dp, uint64_t *out)
{
	memset(out, 0, DP_N_COUNTERS * sizeof(*out));
	for (uint16_t i = 0; i < dp->n_workers; i++)
		for (unsigned c = 0; c < DP_N_COUNTERS; c++)
			out[c] += __atomic_load_n(&dp->workers[i].ctr[c],
						  __ATOMIC_RELAXED);
	out[DP_DROP_TX_FAILED] += dp->tx_ring_full;
}

bool
dp_worker_sleep_begin(struct dp_worker *w)
{
	rte_rcu_qsbr_thread_offline(w->dp->tables.qsv, w->id);
	__atomic_store_n(&w->sleeping, 1, __ATOMIC_RELAXED);
	/* pairs with the fence in dp_ctx_transmit: either the control thread
	 * sees sleeping and wakes us, or we see its packets here */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return rte_ring_empty(w->tx_ring) &&
	       (w->gw_ring == NULL || rte_ring_empty(w->gw_ring)) &&
	       !dp_quit(w->dp);
}

void
dp_worker_sleep_end(struct dp_worker *w)
{
	__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
	rte_rcu_qsbr_thread_online(w->dp->tables.qsv, w->id);
}
