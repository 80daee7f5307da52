/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The udp port driver: kernel UDP sockets driven by io_uring.
 *
 * Each worker owns one io_uring with a provided-buffer ring whose buffers
 * are mbuf data areas, so a multishot recvmsg lands the datagram straight in
 * an mbuf and the fast path is the same as on DPDK ports. Every worker has
 * its own SO_REUSEPORT socket on each TURN listener (the kernel spreads
 * clients by 4-tuple hash); every relayed address is one bound socket whose
 * receive is armed on worker (slot % workers). Any worker may send on any
 * socket: sendmsg from io_uring takes its own file reference at submit time,
 * and a relay socket is closed only after an RCU grace period, by its owner,
 * in order with the packets queued to it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sock_diag.h>

#include <liburing.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "relay_ports.h"
#include "udp_priv.h"

/* Past net.core.rmem_max/wmem_max only with CAP_NET_ADMIN (the FORCE
 * variants); otherwise the kernel caps the plain request at the maximum. */
static void
set_buffers(int fd, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static int
open_socket(const struct sotto_addr *a, bool reuseport, int *fdp)
{
	struct sockaddr_storage ss;
	socklen_t sl = sotto_addr_to_sockaddr(a, &ss);
	int one = 1;
	int fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (reuseport)
		set_buffers(fd, UDP_LISTENER_BUF);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:;
	int err = -errno;
	close(fd);
	return err;
}

/* Every worker gets its own SO_REUSEPORT socket on a: slots
 * first + w. */
static int
open_fixed(struct dp_ctx *dp, struct udp_drv *u, uint32_t first,
	   const struct sotto_addr *a, uint8_t kind, const char *what)
{
	/* SO_REUSEPORT would let a second sottod share the port silently:
	 * first make sure nobody holds it */
	int probe;
	int ret = open_socket(a, false, &probe);

	if (ret == 0)
		close(probe);
	for (uint16_t w = 0; ret == 0 && w < dp->n_workers; w++) {
		struct udp_sock *s = &u->socks[first + w];
		ret = open_socket(a, true, &s->fd);
		if (ret == 0) {
			s->kind = kind;
			s->local = *a;
			s->state = SOCK_OPEN;
		}
	}
	if (ret < 0) {
		char b[SOTTO_ADDRSTRLEN];
		fprintf(stderr, "udp: cannot listen on %s (%s): %s\n",
			sotto_addr_str(a, b, sizeof(b)), what, strerror(-ret));
	}
	return ret;
}

static int
udp_init(struct dp_ctx *dp)
{
	const struct dp_conf *conf = &dp->conf;
	struct udp_drv *u = calloc(1, sizeof(*u));
	unsigned n_fixed = conf->n_turn_listen + conf->n_media_listen;
	uint32_t n_fixed_slots = n_fixed * dp->n_workers;
	int ret;

	if (u == NULL)
		return -ENOMEM;
	dp->drv = u;
	dp_relay_ports_init(&u->relays, conf, n_fixed_slots);
	u->n_socks = n_fixed_slots + dp_relay_ports_count(&u->relays);
	u->socks = calloc(u->n_socks, sizeof(*u->socks));
	if (u->socks == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < u->n_socks; i++)
		u->socks[i].fd = -1;

	/* fixed slot i * workers + w belongs to worker w: TURN listeners,
	 * then gateway media addresses */
	for (unsigned i = 0; i < n_fixed; i++) {
		bool turn = i < conf->n_turn_listen;
		const struct sotto_addr *a =
			turn ? &conf->turn_listen[i] :
			       &conf->media_listen[i - conf->n_turn_listen];

		ret = open_fixed(dp, u, i * dp->n_workers, a,
				 turn ? DP_SOCK_LISTENER : DP_SOCK_MEDIA,
				 turn ? "turn.listen" : "gateway.listen");
		if (ret < 0)
			return ret;
	}
	/* a relay address this host does not have would only show at the
	 * first Allocate, as 508s: find it now */
	for (unsigned k = 0; k < conf->n_relay; k++) {
		char b[SOTTO_ADDRSTRLEN];
		int fd;

		ret = open_socket(&conf->relay[k], false, &fd);
		if (ret < 0) {
			sotto_addr_str(&conf->relay[k], b, sizeof(b));
			*strrchr(b, ':') = '\0';
			fprintf(stderr, "udp: turn.relay.addresses: cannot bind %s: %s\n",
				b, strerror(-ret));
			return ret;
		}
		close(fd);
	}
	return 0;
}

static void
udp_fini(struct dp_ctx *dp)
{
	struct udp_drv *u = drv_of(dp);

	if (u == NULL)
		return;
	for (uint32_t i = 0; u->socks && i < u->n_socks; i++)
		if (u->socks[i].fd >= 0)
			close(u->socks[i].fd);
	free(u->socks);
	free(u);
	dp->drv = NULL;
}

static int
send_cmd(struct dp_ctx *dp, uint32_t slot, uint8_t flag)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);

	if (m == NULL)
		return -ENOMEM;
	struct dp_meta *meta = dp_meta(m);
	meta->flags = flag;
	meta->sock = slot;
	return dp_ctx_transmit(dp, dp_sock_worker(dp, slot), &m, 1) == 1 ? 0 : -ENOBUFS;
}

struct claim_ctx {
	struct dp_ctx *dp;
	struct udp_drv *u;
};

/* dp_relay_ports claim(): bind the slot's socket and arm its receive. */
static int
claim_socket(void *arg, uint32_t slot, const struct sotto_addr *a)
{
	struct claim_ctx *c = arg;
	struct udp_sock *s = &c->u->socks[slot];
	int fd;

	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SOCK_FREE)
		return -EADDRINUSE; /* in use, or its close is still pending */
	if (open_socket(a, false, &fd) < 0)
		return -EADDRINUSE; /* e.g. taken by another process */
	s->fd = fd;
	s->kind = DP_SOCK_RELAY;
	s->local = *a;
	__atomic_store_n(&s->state, SOCK_OPEN, __ATOMIC_RELEASE);
	if (send_cmd(c->dp, slot, DP_META_F_ARM) < 0) {
		close(fd);
		s->fd = -1;
		__atomic_store_n(&s->state, SOCK_FREE, __ATOMIC_RELEASE);
		return -ENOBUFS;
	}
	return 0;
}

static int
udp_relay_open(struct dp_ctx *dp, const struct sotto_addr *ip,
	       struct sotto_addr *relay, uint32_t *sockp)
{
	struct claim_ctx c = { .dp = dp, .u = drv_of(dp) };

	return dp_relay_ports_open(&c.u->relays, ip, claim_socket, &c, relay,
				   sockp);
}

static void
udp_relay_close(struct dp_ctx *dp, uint32_t slot)
{
	struct udp_drv *u = drv_of(dp);
	struct udp_sock *s = &u->socks[slot];

	__atomic_store_n(&s->state, SOCK_CLOSING, __ATOMIC_RELEASE);
	if (send_cmd(dp, slot, DP_META_F_CLOSE) < 0) {
		/* no mbuf to carry the command: the worker cannot be told, so
		 * shut the socket down here; its pending receive then ends
		 * and the worker closes it on that completion */
		shutdown(s->fd, SHUT_RDWR);
	}
}

/*
 * Datagrams the kernel dropped on the listener and media sockets because
 * their receive queue was full (a starved worker): SK_MEMINFO_DROPS, read
 * at scrape time. Relay sockets come and go, so their drops are not summed
 * (the total would go backwards when one closes).
 */
static void
udp_counters(struct dp_ctx *dp, void (*emit)(const char *, uint64_t, void *),
	     void *arg)
{
	struct udp_drv *u = drv_of(dp);
	uint64_t drops = 0;

	for (uint32_t i = 0; i < u->relays.base; i++) {
		uint32_t mi[SK_MEMINFO_VARS];
		socklen_t len = sizeof(mi);

		if (u->socks[i].fd >= 0 &&
		    getsockopt(u->socks[i].fd, SOL_SOCKET, SO_MEMINFO, mi,
			       &len) == 0 &&
		    len > SK_MEMINFO_DROPS * sizeof(mi[0]))
			drops += mi[SK_MEMINFO_DROPS];
	}
	emit("socket_rx_queue_full", drops, arg);
}

const struct dp_port_ops dp_udp_ops = {
	.name = "udp",
	.init = udp_init,
	.fini = udp_fini,
	.worker_run = udp_worker_run,
	.relay_open = udp_relay_open,
	.relay_close = udp_relay_close,
	.counters = udp_counters,
};
