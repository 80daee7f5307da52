/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DPDK_PRIV_H
#define SOTTO_DPDK_PRIV_H

/* State shared by the dpdk driver's control side (dpdk_driver.c) and its
 * worker loop (dpdk_worker.c). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "l2l3.h"
#include "relay_ports.h"

#define DPDK_PENDING_MAX 256     /* packets waiting for ARP/ND, per worker */
#define DPDK_PENDING_TTL_MS 1000
#define DPDK_TXQ_MAX (DP_BURST * 4)
#define DPDK_SPIN_LOOPS 256      /* adaptive idle: empty loops before backing off */
#define DPDK_SLEEP_MIN_US 10
#define DPDK_SLEEP_MAX_US 1000

struct dpdk_port {
	struct l2_port l2;
	struct l2_neigh *neigh;
};

struct dpdk_pending {
	struct rte_mbuf *m;
	struct sotto_addr hop;
	uint64_t since;
	uint8_t port;
};

struct dpdk_worker {
	struct rte_mbuf *txq[DP_CONF_MAX_PORTS][DPDK_TXQ_MAX];
	uint16_t n_txq[DP_CONF_MAX_PORTS];
	struct dpdk_pending pend[DPDK_PENDING_MAX];
	unsigned n_pend;
	uint16_t ip_id;
	uint64_t l2_ctr[L2_N_DROPS];
} __rte_cache_aligned;

struct dpdk_drv {
	struct dpdk_port ports[DP_CONF_MAX_PORTS];
	unsigned n_ports;
	/* fixed slots: TURN listeners, then gateway media addresses */
	struct sotto_addr listen[2 * DP_CONF_MAX_ADDRS];
	unsigned n_listen;               /* both */
	unsigned n_turn_listen;          /* the first ones */
	struct dp_relay_ports relays;    /* slots after the listeners' */
	uint8_t *slot_used;              /* per relayed address; __atomic */
	struct dpdk_worker *workers;
	bool started[DP_CONF_MAX_PORTS];
};

static inline struct dpdk_drv *
dpdk_drv_of(const struct dp_ctx *dp)
{
	return dp->drv;
}

/* ---- where an address lives ---- */

/* The port that owns local address ip, or -1. */
static inline int
dpdk_port_of_ip(const struct dpdk_drv *d, const struct sotto_addr *ip)
{
	for (unsigned i = 0; i < d->n_ports; i++) {
		const struct l2_port *p = &d->ports[i].l2;
		if (ip->family == AF_INET && p->has_ip4 &&
		    memcmp(ip->ip, &p->ip4, 4) == 0)
			return (int)i;
		if (ip->family == AF_INET6 && p->has_ip6 &&
		    memcmp(ip->ip, p->ip6, 16) == 0)
			return (int)i;
	}
	return -1;
}

/* Socket slot of a local transport address, and what it is; -1 if none. */
static inline int64_t
dpdk_slot_of(const struct dpdk_drv *d, const struct sotto_addr *a, uint8_t *kind)
{
	for (unsigned i = 0; i < d->n_listen; i++)
		if (sotto_addr_eq(&d->listen[i], a)) {
			*kind = i < d->n_turn_listen ? DP_SOCK_LISTENER :
						       DP_SOCK_MEDIA;
			return i;
		}
	*kind = DP_SOCK_RELAY;
	return dp_relay_ports_slot(&d->relays, a);
}

int dpdk_worker_run(struct dp_worker *w);

#endif
