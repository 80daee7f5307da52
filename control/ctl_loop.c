/* SPDX-License-Identifier: BSD-3-Clause */
#include "ctl_loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "log.h"

enum { UD_EXC = 1, UD_SIGNAL, UD_TICK };

#define TICK_MS 100

struct ctl_loop {
	struct io_uring ring;
	struct dp_ctx *dp;
	struct turn_server *ts;
	int sig_fd;
	uint64_t exc_val;
	struct signalfd_siginfo si;
	struct __kernel_timespec tick;
	uint64_t last_turn_tick;
	int stop;
};

static uint64_t
realtime_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void
arm_read(struct ctl_loop *c, int fd, void *buf, unsigned len, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	io_uring_prep_read(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data64(sqe, ud);
}

static void
arm_tick(struct ctl_loop *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	io_uring_prep_timeout(sqe, &c->tick, 0, 0);
	io_uring_sqe_set_data64(sqe, UD_TICK);
}

/* One exception packet: a STUN message for the TURN server. */
static void
handle_exception(struct ctl_loop *c, struct rte_mbuf *m, uint64_t now_ms)
{
	struct dp_meta *meta = dp_meta(m);
	uint8_t buf[2048];
	struct turn_tx tx;

	if (rte_pktmbuf_is_contiguous(m) &&
	    turn_server_handle(c->ts, rte_pktmbuf_mtod(m, const uint8_t *),
			       rte_pktmbuf_data_len(m), &meta->src, &meta->dst,
			       meta->sock, now_ms, buf, sizeof(buf), &tx) == 1) {
		struct rte_mbuf *out = rte_pktmbuf_alloc(c->dp->pool);
		char *p = out ? rte_pktmbuf_append(out, (uint16_t)tx.len) : NULL;

		if (p != NULL) {
			struct dp_meta *om = dp_meta(out);
			memcpy(p, tx.data, tx.len);
			om->src = tx.src;
			om->dst = tx.dst;
			om->sock = tx.sock;
			om->flags = 0;
			/* packets for socket s go through worker s % workers
			 * (dp.h), in order with that socket's commands */
			dp_ctx_transmit(c->dp, (uint16_t)(tx.sock % c->dp->n_workers),
					&out, 1);
		} else {
			rte_pktmbuf_free(out);
			c->dp->tx_ring_full++;
		}
	}
	rte_pktmbuf_free(m);
}

static unsigned
drain_exceptions(struct ctl_loop *c)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned total = 0, n;
	uint64_t now = realtime_ms();

	while ((n = rte_ring_sc_dequeue_burst(c->dp->exc_ring, (void **)pkts,
					      DP_BURST, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++)
			handle_exception(c, pkts[i], now);
		total += n;
	}
	return total;
}

static void
on_tick(struct ctl_loop *c)
{
	uint64_t now = realtime_ms();

	dp_tables_reclaim(&c->dp->tables);
	if (now - c->last_turn_tick >= 1000) {
		turn_server_tick(c->ts, now);
		c->last_turn_tick = now;
	}
}

int
ctl_loop_run(struct dp_ctx *dp, struct turn_server *ts)
{
	struct ctl_loop c = { .dp = dp, .ts = ts };
	sigset_t mask;
	int ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	c.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c.sig_fd < 0)
		return -errno;
	ret = io_uring_queue_init(64, &c.ring, 0);
	if (ret < 0) {
		close(c.sig_fd);
		return ret;
	}
	c.tick.tv_nsec = TICK_MS * 1000000LL;
	c.last_turn_tick = realtime_ms();

	arm_read(&c, dp->exc_fd, &c.exc_val, sizeof(c.exc_val), UD_EXC);
	arm_read(&c, c.sig_fd, &c.si, sizeof(c.si), UD_SIGNAL);
	arm_tick(&c);

	while (!c.stop) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		drain_exceptions(&c);
		/* pairs with the fence in the fast path's to_control(): a
		 * worker either sees ctl_sleeping and kicks the eventfd, or
		 * its packets are already in the ring here */
		__atomic_store_n(&dp->ctl_sleeping, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!rte_ring_empty(dp->exc_ring)) {
			__atomic_store_n(&dp->ctl_sleeping, 0, __ATOMIC_RELAXED);
			continue;
		}
		ret = io_uring_submit_and_wait(&c.ring, 1);
		__atomic_store_n(&dp->ctl_sleeping, 0, __ATOMIC_RELAXED);
		if (ret < 0 && ret != -EINTR) {
			log_err("control", "io_uring wait: %s", strerror(-ret));
			break;
		}
		io_uring_for_each_cqe(&c.ring, head, cqe) {
			n++;
			switch (cqe->user_data) {
			case UD_EXC:
				arm_read(&c, dp->exc_fd, &c.exc_val,
					 sizeof(c.exc_val), UD_EXC);
				break;
			case UD_SIGNAL:
				if (cqe->res == sizeof(c.si)) {
					log_info("control", "%s received, stopping",
						 strsignal((int)c.si.ssi_signo));
					c.stop = 1;
				} else {
					arm_read(&c, c.sig_fd, &c.si,
						 sizeof(c.si), UD_SIGNAL);
				}
				break;
			case UD_TICK:
				on_tick(&c);
				arm_tick(&c);
				break;
			}
		}
		io_uring_cq_advance(&c.ring, n);
	}

	drain_exceptions(&c);
	io_uring_queue_exit(&c.ring);
	close(c.sig_fd);
	return 0;
}
