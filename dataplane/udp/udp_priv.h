/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_UDP_PRIV_H
#define SOTTO_UDP_PRIV_H

/* State shared by the udp driver's control side (udp_driver.c) and its
 * worker loop (udp_worker.c). */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <liburing.h>

#include "dp.h"
#include "relay_ports.h"

#define UDP_RING_ENTRIES 4096
#define UDP_NBUFS 2048          /* provided buffers per worker */
#define UDP_BGID 1
/* A TURN listener carries every client's packets: the default ~200 KB
 * holds a few ms of them and overflows on any scheduling hiccup. Much more
 * only trades loss for delay: 2 MB is ~2000 voice packets, ~30 ms at
 * 60 kpps, about what a jitter buffer still absorbs (docs/perf.md). */
#define UDP_LISTENER_BUF (2 << 20)
/* adaptive idle: empty loops before blocking. Each empty loop is an
 * io_uring_enter, so spinning long only burns the core the kernel needs
 * for the sockets' softirq work. */
#define UDP_SPIN_LOOPS 4

/* user_data: low 3 bits say what completed */
enum { OP_RECV = 1, OP_SEND = 2, OP_WAKE = 3, OP_CANCEL = 4 };
#define OP_MASK 7ull

enum { SOCK_FREE = 0, SOCK_OPEN = 1, SOCK_CLOSING = 2 };

struct udp_sock {
	int fd;
	uint8_t kind;       /* enum dp_sock_kind */
	uint32_t state;     /* SOCK_*; __atomic */
	struct sotto_addr local;
};

struct udp_drv {
	struct udp_sock *socks;
	uint32_t n_socks;
	struct dp_relay_ports relays; /* slots after the listeners' */
};

struct udp_tx_hdr {
	struct msghdr msg;
	struct iovec iov;
	union sotto_sockaddr to;
};
_Static_assert(sizeof(struct udp_tx_hdr) <= sizeof(((struct dp_meta *)0)->drv),
	       "udp tx header must fit the mbuf metadata scratch area");
_Static_assert(offsetof(struct dp_meta, drv) % _Alignof(struct udp_tx_hdr) == 0,
	       "the scratch area must be aligned for the udp tx header");

struct udp_worker {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	size_t br_size;
	struct rte_mbuf *bufs[UDP_NBUFS];
	uint16_t missing[UDP_NBUFS];  /* bids waiting for an mbuf */
	unsigned n_missing;
	struct msghdr rx_msg;         /* multishot recvmsg layout */
	uint64_t wake_val;
	unsigned rx_armed;            /* sockets with receive armed */
};

static inline uint64_t
ud_recv(uint32_t slot)
{
	return ((uint64_t)slot << 3) | OP_RECV;
}

static inline struct udp_drv *
drv_of(struct dp_ctx *dp)
{
	return dp->drv;
}

/* udp_worker.c: the worker loop (dp_port_ops.worker_run) */
int udp_worker_run(struct dp_worker *w);

#endif
