/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The udp driver's worker loop: one io_uring per worker, receive into
 * mbufs from a provided-buffer ring, the fast path, batched sends
 * (udp_driver.c has the sockets and says who owns what).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <liburing.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dp_gw.h"
#include "udp_priv.h"


static struct io_uring_sqe *
get_sqe(struct udp_worker *uw)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&uw->ring);

	if (sqe == NULL) {
		io_uring_submit(&uw->ring);
		sqe = io_uring_get_sqe(&uw->ring);
	}
	return sqe;
}

static void
arm_recv(struct udp_worker *uw, struct udp_drv *u, uint32_t slot)
{
	struct io_uring_sqe *sqe = get_sqe(uw);

	if (sqe == NULL)
		return;
	io_uring_prep_recvmsg_multishot(sqe, u->socks[slot].fd, &uw->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UDP_BGID;
	io_uring_sqe_set_data64(sqe, ud_recv(slot));
	uw->rx_armed++;
}

static void
arm_wake(struct dp_worker *w, struct udp_worker *uw)
{
	struct io_uring_sqe *sqe = get_sqe(uw);

	if (sqe == NULL)
		return;
	io_uring_prep_read(sqe, w->wake_fd, &uw->wake_val, sizeof(uw->wake_val),
			   0);
	io_uring_sqe_set_data64(sqe, OP_WAKE);
}

static void
provide(struct udp_worker *uw, struct rte_mbuf *m, uint16_t bid, int idx)
{
	uw->bufs[bid] = m;
	io_uring_buf_ring_add(uw->br, rte_pktmbuf_mtod(m, void *),
			      rte_pktmbuf_tailroom(m), bid,
			      io_uring_buf_ring_mask(UDP_NBUFS), idx);
}

/* Gives the kernel fresh mbufs for buffers it has used. */
static void
refill(struct dp_worker *w, struct udp_worker *uw)
{
	int added = 0;

	while (uw->n_missing > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);
		if (m == NULL) {
			w->ctr[DP_DROP_NO_MBUF]++;
			break;
		}
		provide(uw, m, uw->missing[--uw->n_missing], added++);
	}
	if (added)
		io_uring_buf_ring_advance(uw->br, added);
}

static int
setup_worker(struct dp_worker *w, struct udp_worker *uw)
{
	struct io_uring_params p = {
		/* completions are run when this thread enters the kernel, not
		 * by interrupting it (kernel 6.1+) */
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 IORING_SETUP_CQSIZE,
		.cq_entries = UDP_RING_ENTRIES * 4,
	};
	struct io_uring_buf_reg reg = { 0 };
	int ret;

	ret = io_uring_queue_init_params(UDP_RING_ENTRIES, &uw->ring, &p);
	if (ret < 0)
		return ret;
	uw->br_size = UDP_NBUFS * sizeof(struct io_uring_buf);
	uw->br = mmap(NULL, uw->br_size, PROT_READ | PROT_WRITE,
		      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (uw->br == MAP_FAILED)
		return -errno;
	io_uring_buf_ring_init(uw->br);
	reg.ring_addr = (uint64_t)(uintptr_t)uw->br;
	reg.ring_entries = UDP_NBUFS;
	reg.bgid = UDP_BGID;
	ret = io_uring_register_buf_ring(&uw->ring, &reg, 0);
	if (ret < 0)
		return ret;
	for (uint16_t i = 0; i < UDP_NBUFS; i++)
		uw->missing[uw->n_missing++] = (uint16_t)(UDP_NBUFS - 1 - i);
	refill(w, uw);

	/* multishot recvmsg puts the source address ahead of the payload */
	uw->rx_msg.msg_namelen = sizeof(struct sockaddr_in6);
	uw->rx_msg.msg_controllen = 0;
	return 0;
}

static void
teardown_worker(struct udp_worker *uw)
{
	io_uring_queue_exit(&uw->ring);
	if (uw->br && uw->br != MAP_FAILED)
		munmap(uw->br, uw->br_size);
	for (unsigned i = 0; i < UDP_NBUFS; i++)
		if (uw->bufs[i])
			rte_pktmbuf_free(uw->bufs[i]);
}

static void
queue_send(struct dp_worker *w, struct udp_worker *uw, struct udp_drv *u,
	   struct rte_mbuf *m)
{
	struct dp_meta *meta = dp_meta(m);
	struct udp_tx_hdr *h = (struct udp_tx_hdr *)meta->drv;
	struct io_uring_sqe *sqe;

	if (unlikely(meta->sock >= u->n_socks || u->socks[meta->sock].fd < 0)) {
		w->ctr[DP_DROP_TX_FAILED]++;
		rte_pktmbuf_free(m);
		return;
	}
	sqe = get_sqe(uw);
	if (unlikely(sqe == NULL)) {
		w->ctr[DP_DROP_TX_FAILED]++;
		rte_pktmbuf_free(m);
		return;
	}
	h->iov.iov_base = rte_pktmbuf_mtod(m, void *);
	h->iov.iov_len = rte_pktmbuf_data_len(m);
	memset(&h->msg, 0, sizeof(h->msg));
	h->msg.msg_name = &h->to;
	h->msg.msg_namelen = sotto_addr_to_sockaddr_u(&meta->dst, &h->to);
	h->msg.msg_iov = &h->iov;
	h->msg.msg_iovlen = 1;
	io_uring_prep_sendmsg(sqe, u->socks[meta->sock].fd, &h->msg, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)m | OP_SEND);
}

/* A command from the control thread, carried in an mbuf. */
static void
run_cmd(struct udp_worker *uw, struct udp_drv *u, struct rte_mbuf *m)
{
	struct dp_meta *meta = dp_meta(m);
	uint32_t slot = meta->sock;

	if (meta->flags & DP_META_F_ARM) {
		arm_recv(uw, u, slot);
	} else if (meta->flags & DP_META_F_CLOSE) {
		struct io_uring_sqe *sqe = get_sqe(uw);
		if (sqe != NULL) {
			io_uring_prep_cancel64(sqe, ud_recv(slot), 0);
			io_uring_sqe_set_data64(sqe, OP_CANCEL);
		}
	}
	rte_pktmbuf_free(m);
}

/* The receive on slot has ended for good. */
static void
recv_ended(struct dp_worker *w, struct udp_worker *uw, struct udp_drv *u,
	   uint32_t slot, int res)
{
	struct udp_sock *s = &u->socks[slot];

	uw->rx_armed--;
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SOCK_CLOSING) {
		close(s->fd); /* fastpath-allow: the socket's last receive ended; kernel sockets are this driver's I/O */
		s->fd = -1;
		__atomic_store_n(&s->state, SOCK_FREE, __ATOMIC_RELEASE);
		return;
	}
	/* out of buffers (-ENOBUFS) or a transient error: arm again */
	(void)res;
	if (!dp_quit(w->dp))
		arm_recv(uw, u, slot);
}

static uint16_t
reap(struct dp_worker *w, struct udp_worker *uw, struct udp_drv *u,
     struct rte_mbuf **rx)
{
	struct io_uring_cqe *cqes[DP_BURST * 2];
	uint16_t n_rx = 0;
	unsigned n = io_uring_peek_batch_cqe(&uw->ring, cqes, DP_BURST * 2);


	for (unsigned i = 0; i < n; i++) {
		struct io_uring_cqe *cqe = cqes[i];
		uint64_t ud = cqe->user_data;
		int res = cqe->res;

		switch (ud & OP_MASK) {
		case OP_RECV: {
			uint32_t slot = (uint32_t)(ud >> 3);
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				uint16_t bid = (uint16_t)(cqe->flags >>
							  IORING_CQE_BUFFER_SHIFT);
				struct rte_mbuf *m = uw->bufs[bid];
				uw->bufs[bid] = NULL;
				uw->missing[uw->n_missing++] = bid;
				struct io_uring_recvmsg_out *o =
					io_uring_recvmsg_validate(
						rte_pktmbuf_mtod(m, void *), res,
						&uw->rx_msg);
				struct udp_sock *s = &u->socks[slot];
				if (o == NULL || (o->flags & MSG_TRUNC) ||
				    s->state != SOCK_OPEN) {
					w->ctr[DP_DROP_MALFORMED]++;
					rte_pktmbuf_free(m);
				} else {
					struct dp_meta *meta = dp_meta(m);
					uint8_t *pl = io_uring_recvmsg_payload(
						o, &uw->rx_msg);
					uint32_t plen =
						io_uring_recvmsg_payload_length(
							o, res, &uw->rx_msg);
					m->data_off += (uint16_t)(pl -
						rte_pktmbuf_mtod(m, uint8_t *));
					m->data_len = (uint16_t)plen;
					m->pkt_len = plen;
					sotto_addr_from_sockaddr(&meta->src,
						io_uring_recvmsg_name(o));
					meta->dst = s->local;
					meta->sock = slot;
					meta->sock_kind = s->kind;
					meta->flags = 0;
					rx[n_rx++] = m;
				}
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				recv_ended(w, uw, u, slot, res);
			break;
		}
		case OP_SEND: {
			struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)(ud & ~OP_MASK);
			if (res >= 0) {
				w->ctr[DP_TX_PACKETS]++;
				w->ctr[DP_TX_BYTES] += (uint64_t)res;
			} else {
				w->ctr[DP_DROP_TX_FAILED]++;
			}
			rte_pktmbuf_free(m);
			break;
		}
		case OP_WAKE:
			if (!dp_quit(w->dp))
				arm_wake(w, uw);
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&uw->ring, n);
	return n_rx;
}

/* w->emit: what the gateway makes (several packets out of one in). */
static void
udp_emit(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		queue_send(w, w->drv, drv_of(w->dp), pkts[i]);
}

int
udp_worker_run(struct dp_worker *w)
{
	struct dp_ctx *dp = w->dp;
	struct udp_drv *u = drv_of(dp);
	struct udp_worker *uw = rte_zmalloc("udp_worker", sizeof(*uw), /* fastpath-allow: before the loop */
					    RTE_CACHE_LINE_SIZE);
	struct rte_mbuf *rx[DP_BURST * 2], *tx[DP_BURST * 2], *ctl[DP_BURST];
	unsigned idle = 0;
	int ret;

	if (uw == NULL)
		return -ENOMEM;
	w->drv = uw;
	w->emit = udp_emit;
	ret = setup_worker(w, uw);
	if (ret < 0) {
		fprintf(stderr, /* fastpath-allow: before the loop */ "udp: worker %u: io_uring setup: %s\n", w->id,
			strerror(-ret));
		teardown_worker(uw);
		rte_free(uw); /* fastpath-allow: before the loop */
		__atomic_store_n(&dp->quit, 1, __ATOMIC_SEQ_CST);
		return ret;
	}
	/* this worker's listener sockets; relays are armed by command */
	for (uint32_t s = 0; s < u->relays.base; s++)
		if (dp_sock_worker(dp, s) == w->id && u->socks[s].state == SOCK_OPEN)
			arm_recv(uw, u, s);
	arm_wake(w, uw);
	io_uring_submit(&uw->ring);
	if (dp_worker_ready(w) < 0) {
		teardown_worker(uw);
		rte_free(uw); /* fastpath-allow: before the loop */
		w->drv = NULL;
		return -EPERM;
	}

	while (!dp_quit(dp)) {
		uint16_t n_rx, n_tx, n_ctl;
		bool gw = false;

		uint64_t t0 = rte_rdtsc();

		w->ctr[DP_LOOPS]++;
		n_rx = reap(w, uw, u, rx);
		if (uw->n_missing)
			refill(w, uw);
		n_tx = n_rx ? dp_fastpath(w, rx, n_rx, tx) : 0;
		for (uint16_t i = 0; i < n_tx; i++)
			queue_send(w, uw, u, tx[i]);

		if (w->gw_ring != NULL)
			gw = dp_gw_poll(w, t0);

		n_ctl = dp_worker_take_tx(w, ctl, DP_BURST);
		for (uint16_t i = 0; i < n_ctl; i++) {
			if (dp_meta(ctl[i])->flags)
				run_cmd(uw, u, ctl[i]);
			else
				queue_send(w, uw, u, ctl[i]);
		}
		dp_worker_quiescent(w);

		if (n_rx || n_ctl || gw) {
			w->ctr[DP_BUSY_LOOPS]++;
			idle = 0;
			io_uring_submit_and_get_events(&uw->ring);
			w->ctr[DP_BUSY_CYCLES] += rte_rdtsc() - t0;
			continue;
		}
		if (dp->idle_poll || ++idle < UDP_SPIN_LOOPS) {
			io_uring_submit_and_get_events(&uw->ring);
			continue;
		}
		/* adaptive idle: block in the kernel until a packet, a
		 * completion, or the control thread's wake-up */
		if (dp_worker_sleep_begin(w)) {
			struct io_uring_cqe *cqe;
			struct __kernel_timespec ts = { .tv_sec = 1 };
			io_uring_submit_and_wait_timeout(&uw->ring, &cqe, 1, &ts,
							 NULL);
		}
		dp_worker_sleep_end(w);
		idle = 0;
	}

	teardown_worker(uw);
	rte_free(uw); /* fastpath-allow: after the loop */
	w->drv = NULL;
	return 0;
}
