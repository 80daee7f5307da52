/* SPDX-License-Identifier: BSD-3-Clause */
#include "ctl_loop.h"

#include <stdio.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "clock.h"
#include "ctl_priv.h"
#include "gw.h"
#include "log.h"

enum { UD_EXC = 1, UD_SIGNAL, UD_TICK };

#define TICK_MS 100
/* A turn of the loop serves at most this many exception packets from
 * known addresses, then new work, in at most CTL_TURN_US (issue 21); new
 * work comes a few at a time, since one (a DTLS ClientHello, an Allocate)
 * can cost a millisecond. */
#define CTL_TURN_KNOWN 256
#define CTL_TURN_NEW 64
#define CTL_NEW_BURST 8
#define CTL_TURN_US 2000


/* A slot for one of the loop's own operations; the connections may have
 * filled the SQ, so hand it to the kernel until one is free. */
static struct io_uring_sqe *
loop_sqe(struct ctl_loop *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	for (int i = 0; sqe == NULL && i < 3; i++) {
		io_uring_submit(&c->ring);
		sqe = io_uring_get_sqe(&c->ring);
	}
	return sqe;
}

/* The loop's own operations; one that finds no slot is retried at the
 * top of the next iteration (rearm_pending), after completions are
 * consumed. */
static void
arm_read(struct ctl_loop *c, int fd, void *buf, unsigned len, uint64_t ud)
{
	struct io_uring_sqe *sqe = loop_sqe(c);

	if (sqe == NULL) {
		c->rearm |= 1u << ud;
		return;
	}
	io_uring_prep_read(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data64(sqe, ud);
}

static void
arm_tick(struct ctl_loop *c)
{
	struct io_uring_sqe *sqe = loop_sqe(c);

	if (sqe == NULL) {
		c->rearm |= 1u << UD_TICK;
		return;
	}
	io_uring_prep_timeout(sqe, &c->tick, 0, 0);
	io_uring_sqe_set_data64(sqe, UD_TICK);
}

static void
rearm_pending(struct ctl_loop *c)
{
	unsigned r = c->rearm;

	c->rearm = 0;
	if (r & (1u << UD_EXC))
		arm_read(c, c->dp->exc_fd, &c->exc_val, sizeof(c->exc_val),
			 UD_EXC);
	if (r & (1u << UD_SIGNAL))
		arm_read(c, c->sig_fd, &c->si, sizeof(c->si), UD_SIGNAL);
	if (r & (1u << UD_TICK))
		arm_tick(c);
}

/* One exception packet: a STUN message for the TURN server, or an ICE
 * check or DTLS record for the gateway. */
static void
handle_exception(struct ctl_loop *c, struct rte_mbuf *m,
		 const struct clock_now *now)
{
	struct dp_meta *meta = dp_meta(m);
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	uint8_t buf[2048];
	struct turn_tx tx;

	if (!rte_pktmbuf_is_contiguous(m))
		goto out;
	switch (meta->cls) {
	case DP_CLS_STUN:
		if (turn_server_handle(c->ts, p, len, &meta->src, &meta->dst,
				       meta->sock, now, buf, sizeof(buf),
				       &tx) == 1)
			dp_ctx_send(c->dp, &tx.src, &tx.dst, tx.sock, tx.data,
				    tx.len);
		break;
	case DP_CLS_ICE:
		if (c->hooks.gw != NULL)
			gw_check(c->hooks.gw, p, len, &meta->src, &meta->dst,
				 meta->sock, now->mono_ms);
		break;
	case DP_CLS_DTLS:
		if (c->hooks.gw != NULL)
			gw_dtls(c->hooks.gw, p, len, &meta->src, &meta->dst,
				now->mono_ms);
		break;
	}
out:
	rte_pktmbuf_free(m);
}

/*
 * One turn's share of a ring: up to max packets, burst at a time, until
 * the turn's deadline passes (checked after each burst, so every turn
 * serves at least one burst of each ring).
 */
static void
drain_ring(struct ctl_loop *c, struct rte_ring *ring, unsigned max,
	   unsigned burst, const struct clock_now *now, uint64_t deadline_us)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned total = 0, n;

	while (total < max) {
		n = rte_ring_sc_dequeue_burst(ring, (void **)pkts,
					      RTE_MIN(burst, max - total), NULL);
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++)
			handle_exception(c, pkts[i], now);
		total += n;
		if (clock_mono_us() >= deadline_us)
			break;
	}
}

/*
 * A bounded share of the exception rings per turn of the loop, what keeps
 * calls up (exc_ring) before new work (exc_new); then the connections'
 * completions and the timers get their turn. Workers that keep the rings
 * full cost the control loop at most CTL_TURN_US of every turn, not the
 * loop. True if packets are still waiting.
 */
static bool
drain_exceptions(struct ctl_loop *c)
{
	struct clock_now now = clock_now();
	uint64_t deadline = now.mono_ms * 1000 + CTL_TURN_US;

	drain_ring(c, c->dp->exc_ring, CTL_TURN_KNOWN, DP_BURST, &now,
		   deadline);
	drain_ring(c, c->dp->exc_new, CTL_TURN_NEW, CTL_NEW_BURST, &now,
		   deadline);
	return !rte_ring_empty(c->dp->exc_ring) ||
	       !rte_ring_empty(c->dp->exc_new);
}

/* Per-worker rates over the last second, for sottoctl workers. */
static void
sample_workers(struct ctl_loop *c, uint64_t now)
{
	double dt = (double)(now - c->last_sample_ms) / 1000.0;

	if (c->rates == NULL || dt <= 0)
		return;
	for (uint16_t i = 0; i < c->dp->n_workers; i++) {
		const struct dp_worker *w = &c->dp->workers[i];
		struct ctl_worker_rate *r = &c->rates[i];
		uint64_t rx = __atomic_load_n(&w->ctr[DP_RX_PACKETS], __ATOMIC_RELAXED);
		uint64_t tx = __atomic_load_n(&w->ctr[DP_TX_PACKETS], __ATOMIC_RELAXED);
		uint64_t busy = __atomic_load_n(&w->ctr[DP_BUSY_CYCLES], __ATOMIC_RELAXED);

		r->rx_pps = (double)(rx - r->rx) / dt;
		r->tx_pps = (double)(tx - r->tx) / dt;
		r->busy_ratio = w->hz ? (double)(busy - r->busy) / ((double)w->hz * dt) : 0;
		if (r->busy_ratio > 1)
			r->busy_ratio = 1;
		r->rx = rx;
		r->tx = tx;
		r->busy = busy;
	}
	c->last_sample_ms = now;
}

static void
on_tick(struct ctl_loop *c)
{
	uint64_t now = clock_mono_ms();

	dp_tables_reclaim(&c->dp->tables);
	if (c->hooks.gw != NULL)
		gw_tick(c->hooks.gw, now);
	if (now - c->last_turn_tick >= 1000) {
		turn_server_tick(c->ts, now);
		c->last_turn_tick = now;
	}
	if (now - c->last_sec_tick >= 1000) {
		c->http_srv.now_ms = c->metrics_srv.now_ms = now;
		net_tick(c->net, now);
		if (c->hooks.tick != NULL)
			c->hooks.tick(c->hooks.sig, now);
		sample_workers(c, now);
		c->last_sec_tick = now;
	}
}

const struct sotto_config *
ctl_config(const struct ctl_loop *c)
{
	return c->hooks.config != NULL ? c->hooks.config(c->hooks.daemon)
				       : c->cfg;
}

int
ctl_reload(struct ctl_loop *c, FILE *errs)
{
	int ret;

	if (c->hooks.reload == NULL) {
		if (errs != NULL)
			fprintf(errs, "reload is not available\n");
		return -ENOTSUP;
	}
	ret = c->hooks.reload(c->hooks.daemon, errs);
	if (ret < 0)
		c->reload_failures++;
	else
		c->reloads++;
	return ret;
}

void
ctl_set_draining(struct ctl_loop *c, bool on)
{
	turn_server_set_draining(c->ts, on);
	if (c->hooks.set_draining != NULL)
		c->hooks.set_draining(c->hooks.sig, on);
	log_info("control", "%s", on ? "draining: no new allocations or rooms"
				     : "drain ended: accepting new allocations and rooms");
}

static int
listen_http(struct ctl_loop *c)
{
	const struct sotto_config *cfg = c->cfg;
	char a[SOTTO_ADDRSTRLEN], err[256];
	int ret;

	if (cfg->http.n_listen == 0 || c->hooks.http_handle == NULL)
		return 0;
	if (cfg->http.tls_cert[0] != '\0') {
		c->tls = net_tls_ctx_new(cfg->http.tls_cert, cfg->http.tls_key,
					 err, sizeof(err));
		if (c->tls == NULL) {
			log_err("control", "http.tls: %s", err);
			return -EINVAL;
		}
	}
	c->http_srv.handle = c->hooks.http_handle;
	c->http_srv.arg = c->hooks.sig;
	for (unsigned i = 0; i < cfg->http.n_listen; i++) {
		sotto_addr_str(&cfg->http.listen[i], a, sizeof(a));
		ret = net_listen_tcp(c->net, &cfg->http.listen[i], c->tls,
				     http_accept, &c->http_srv);
		if (ret < 0) {
			log_err("control", "http.listen %s: %s", a,
				strerror(-ret));
			return ret;
		}
		log_info("control", "HTTP API and signaling on %s (%s)", a,
			 c->tls ? "TLS" : "plain HTTP, loopback only");
	}
	return 0;
}

struct ctl_loop *
ctl_loop_new(struct dp_ctx *dp, struct turn_server *ts,
	     const struct sotto_config *cfg, const struct ctl_hooks *hooks)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE,
				     .cq_entries = 8192 };
	struct ctl_loop *c = calloc(1, sizeof(*c));
	sigset_t mask;
	int ret;

	if (c == NULL)
		return NULL;
	c->dp = dp;
	c->ts = ts;
	c->cfg = cfg;
	c->sig_fd = -1;
	c->started_ms = clock_mono_ms();
	c->started_wall_ms = clock_realtime_ms();
	if (hooks != NULL)
		c->hooks = *hooks;
	c->rates = calloc(dp->n_workers ? dp->n_workers : 1, sizeof(*c->rates));
	if (c->rates == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	c->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sig_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = io_uring_queue_init_params(512, &c->ring, &p);
	if (ret < 0)
		goto fail;
	c->ring_ok = true;
	c->net = net_new(&c->ring, cfg->http.max_connections);
	if (c->net == NULL) {
		ret = -errno;
		goto fail;
	}
	/* per source: http.* cannot change on reload, so once is enough */
	ret = net_set_limits(c->net, &(struct net_limits){
		.conns_per_ip = cfg->http.max_connections_per_ip,
		.tls_handshakes_per_ip = cfg->http.tls_handshakes_per_ip_per_second,
	});
	if (ret < 0)
		goto fail;
	c->http_srv.now_ms = c->metrics_srv.now_ms = c->started_ms;
	ret = listen_http(c);
	if (ret < 0)
		goto fail;
	return c;
fail:
	ctl_loop_free(c);
	errno = -ret;
	return NULL;
}

void
ctl_loop_free(struct ctl_loop *c)
{
	if (c == NULL)
		return;
	/* the ring first: its exit ends every send and receive still in
	 * flight, so net_free can free their buffers */
	if (c->ring_ok)
		io_uring_queue_exit(&c->ring);
	net_free(c->net);
	SSL_CTX_free(c->tls);
	if (c->sig_fd >= 0)
		close(c->sig_fd);
	free(c->rates);
	free(c);
}

static void
on_signal(struct ctl_loop *c)
{
	if (c->si.ssi_signo == SIGHUP) {
		/* SIGHUP = sottoctl reload; errors go to the log */
		char *buf = NULL;
		size_t len = 0;
		FILE *errs = open_memstream(&buf, &len);
		int ret = ctl_reload(c, errs);

		if (errs != NULL)
			fclose(errs);
		if (ret < 0)
			log_err("control", "SIGHUP: reload refused, the running configuration stays:\n%s",
				buf ? buf : "");
		else
			log_info("control", "SIGHUP: configuration reloaded");
		free(buf);
		return;
	}
	log_info("control", "%s received, stopping",
		 strsignal((int)c->si.ssi_signo));
	c->stop = 1;
}

int
ctl_loop_run(struct ctl_loop *c)
{
	struct dp_ctx *dp = c->dp;
	int ret;

	c->tick.tv_nsec = TICK_MS * 1000000LL;
	c->last_turn_tick = c->last_sec_tick = c->last_sample_ms = clock_mono_ms();

	arm_read(c, dp->exc_fd, &c->exc_val, sizeof(c->exc_val), UD_EXC);
	arm_read(c, c->sig_fd, &c->si, sizeof(c->si), UD_SIGNAL);
	arm_tick(c);

	while (!c->stop) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		if (drain_exceptions(c)) {
			/* more waiting: reap what is ready, do not sleep */
			ret = io_uring_submit(&c->ring);
		} else {
			/* pairs with the fence in the fast path's
			 * dp_to_control(): a worker either sees ctl_sleeping
			 * and kicks the eventfd, or its packets are already
			 * in a ring here */
			__atomic_store_n(&dp->ctl_sleeping, 1, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (!rte_ring_empty(dp->exc_ring) ||
			    !rte_ring_empty(dp->exc_new))
				ret = io_uring_submit(&c->ring);
			else
				ret = io_uring_submit_and_wait(&c->ring, 1);
			__atomic_store_n(&dp->ctl_sleeping, 0, __ATOMIC_RELAXED);
		}
		if (ret < 0 && ret != -EINTR) {
			log_err("control", "io_uring wait: %s", strerror(-ret));
			break;
		}
		c->http_srv.now_ms = c->metrics_srv.now_ms = clock_mono_ms();
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			n++;
			if (net_owns(cqe->user_data)) {
				net_complete(c->net, cqe);
				continue;
			}
			switch (cqe->user_data) {
			case UD_EXC:
				arm_read(c, dp->exc_fd, &c->exc_val,
					 sizeof(c->exc_val), UD_EXC);
				break;
			case UD_SIGNAL:
				if (cqe->res == sizeof(c->si))
					on_signal(c);
				if (!c->stop)
					arm_read(c, c->sig_fd, &c->si,
						 sizeof(c->si), UD_SIGNAL);
				break;
			case UD_TICK:
				on_tick(c);
				arm_tick(c);
				break;
			}
		}
		io_uring_cq_advance(&c->ring, n);
		net_reap(c->net);
		rearm_pending(c);
	}

	drain_exceptions(c);
	net_stop_listening(c->net);
	return 0;
}
