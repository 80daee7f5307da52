/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dpdk port driver: DPDK ethdev ports (a NIC bound to vfio-pci, or the
 * AF_XDP / AF_PACKET PMDs on hosts without one), L2/L3 in l2l3.c, and the
 * same fast path as the udp driver above it.
 *
 * Worker w polls RX queue w of every port and owns TX queue w of every
 * port, so no queue is shared. TURN listeners and relayed addresses are
 * numbers: a "socket" slot is an index into a table of addresses, with the
 * same numbering as the udp driver (listeners first, then one slot per port
 * of each relay IP), so the control side cannot tell the drivers apart.
 *
 * A datagram the fast path sends to one of our own relayed addresses (two
 * callers on this gateway) is fed back into the fast path as if it had
 * arrived: the NIC would never deliver it back to us.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dpdk_priv.h"

/* ---- control side ---- */

static void
eui64_link_local(const struct rte_ether_addr *mac, uint8_t ll[16])
{
	memset(ll, 0, 16);
	ll[0] = 0xfe;
	ll[1] = 0x80;
	ll[8] = mac->addr_bytes[0] ^ 0x02; /* RFC 4291 App. A: flip U/L */
	ll[9] = mac->addr_bytes[1];
	ll[10] = mac->addr_bytes[2];
	ll[11] = 0xff;
	ll[12] = 0xfe;
	ll[13] = mac->addr_bytes[3];
	ll[14] = mac->addr_bytes[4];
	ll[15] = mac->addr_bytes[5];
}

static int
port_setup(struct dp_ctx *dp, const struct dp_port_conf *pc,
	   struct dpdk_port *port, uint16_t n_queues, uint16_t rx_desc,
	   uint16_t tx_desc)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct l2_port *l2 = &port->l2;
	uint16_t pid, nrx = rx_desc, ntx = tx_desc;
	int ret;

	if (rte_eth_dev_get_port_by_name(pc->device, &pid) != 0) {
		fprintf(stderr, "dpdk: no DPDK port named %s (check --vdev or "
			"-a in dataplane.dpdk.eal)\n", pc->device);
		return -ENODEV;
	}
	ret = rte_eth_dev_info_get(pid, &info);
	if (ret < 0)
		return ret;
	if (n_queues > info.max_rx_queues || n_queues > info.max_tx_queues) {
		fprintf(stderr, "dpdk: %s has %u rx / %u tx queues, %u workers "
			"need one each\n", pc->device, info.max_rx_queues,
			info.max_tx_queues, n_queues);
		return -EINVAL;
	}

	memset(&conf, 0, sizeof(conf));
	if (n_queues > 1) {
		/* RSS on the 5-tuple keeps a client flow on one worker */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) &
			info.flow_type_rss_offloads;
	}
	if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM) ==
	    RTE_ETH_RX_OFFLOAD_CHECKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_CHECKSUM;
		l2->rx_cksum = true;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		l2->tx_ip4_cksum = true;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		l2->tx_udp_cksum = true;
	}
	ret = rte_eth_dev_configure(pid, n_queues, n_queues, &conf);
	if (ret < 0)
		return ret;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	if (ret < 0)
		return ret;
	for (uint16_t q = 0; q < n_queues; q++) {
		struct rte_eth_rxconf rxc = info.default_rxconf;
		struct rte_eth_txconf txc = info.default_txconf;
		rxc.offloads = conf.rxmode.offloads;
		txc.offloads = conf.txmode.offloads;
		ret = rte_eth_rx_queue_setup(pid, q, nrx,
					     rte_eth_dev_socket_id(pid), &rxc,
					     dp->pool);
		if (ret < 0)
			return ret;
		ret = rte_eth_tx_queue_setup(pid, q, ntx,
					     rte_eth_dev_socket_id(pid), &txc);
		if (ret < 0)
			return ret;
	}

	l2->port_id = pid;
	l2->vlan = pc->vlan;
	ret = rte_eth_macaddr_get(pid, &l2->mac);
	if (ret < 0)
		return ret;
	if (pc->has_ip4) {
		l2->has_ip4 = true;
		memcpy(&l2->ip4, pc->ip4.ip, 4);
		l2->prefix4 = pc->prefix4;
		if (pc->gw4.family == AF_INET)
			memcpy(&l2->gw4, pc->gw4.ip, 4);
	}
	if (pc->has_ip6) {
		l2->has_ip6 = true;
		memcpy(l2->ip6, pc->ip6.ip, 16);
		l2->prefix6 = pc->prefix6;
		if (pc->gw6.family == AF_INET6)
			memcpy(l2->gw6, pc->gw6.ip, 16);
	}
	eui64_link_local(&l2->mac, l2->ip6_ll);

	ret = rte_eth_dev_start(pid);
	if (ret < 0)
		return ret;
	/* AF_PACKET and AF_XDP see only frames for the interface's MAC
	 * anyway; a NIC must also pass solicited-node multicast for ND */
	rte_eth_allmulticast_enable(pid);
	return 0;
}

static int
dpdk_init(struct dp_ctx *dp)
{
	const struct dp_conf *conf = &dp->conf;
	const typeof(conf->dpdk) *dc = &conf->dpdk;
	struct dpdk_drv *d = rte_zmalloc("dpdk_drv", sizeof(*d),
					 RTE_CACHE_LINE_SIZE);
	int ret;

	if (d == NULL)
		return -ENOMEM;
	dp->drv = d;
	d->n_turn_listen = conf->n_turn_listen;
	d->n_listen = conf->n_turn_listen + conf->n_media_listen;
	memcpy(d->listen, conf->turn_listen,
	       conf->n_turn_listen * sizeof(d->listen[0]));
	memcpy(d->listen + conf->n_turn_listen, conf->media_listen,
	       conf->n_media_listen * sizeof(d->listen[0]));
	dp_relay_ports_init(&d->relays, conf, d->n_listen);
	d->slot_used = rte_zmalloc("dpdk_slots",
				   dp_relay_ports_count(&d->relays), 0);
	d->workers = rte_zmalloc("dpdk_workers",
				 dp->n_workers * sizeof(struct dpdk_worker),
				 RTE_CACHE_LINE_SIZE);
	if (d->slot_used == NULL || d->workers == NULL)
		return -ENOMEM;

	for (unsigned i = 0; i < dc->n_ports; i++) {
		struct dpdk_port *port = &d->ports[i];
		ret = port_setup(dp, &dc->ports[i], port, dp->n_workers,
				 dc->rx_desc, dc->tx_desc);
		if (ret < 0) {
			fprintf(stderr, "dpdk: port %s: %s\n",
				dc->ports[i].device, strerror(-ret));
			return ret;
		}
		d->started[i] = true;
		d->n_ports = i + 1;
		port->neigh = l2_neigh_create(dc->neighbours);
		if (port->neigh == NULL)
			return -ENOMEM;
	}
	/* every relay address must be one of a port's, or its Allocates
	 * would only ever get 508s */
	for (unsigned k = 0; k < conf->n_relay; k++) {
		char b[SOTTO_ADDRSTRLEN];

		if (dpdk_port_of_ip(d, &conf->relay[k]) >= 0)
			continue;
		sotto_addr_str(&conf->relay[k], b, sizeof(b));
		*strrchr(b, ':') = '\0';
		fprintf(stderr, "dpdk: turn.relay.addresses: %s is the address of no port in dataplane.dpdk.ports\n",
			b);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

static void
dpdk_fini(struct dp_ctx *dp)
{
	struct dpdk_drv *d = dpdk_drv_of(dp);

	if (d == NULL)
		return;
	for (unsigned i = 0; i < d->n_ports; i++) {
		if (d->started[i]) {
			rte_eth_dev_stop(d->ports[i].l2.port_id);
			rte_eth_dev_close(d->ports[i].l2.port_id);
		}
		l2_neigh_free(d->ports[i].neigh);
	}
	for (uint16_t w = 0; d->workers && w < dp->n_workers; w++) {
		struct dpdk_worker *dw = &d->workers[w];
		for (unsigned i = 0; i < dw->n_pend; i++)
			rte_pktmbuf_free(dw->pend[i].m);
		for (unsigned p = 0; p < DP_CONF_MAX_PORTS; p++)
			rte_pktmbuf_free_bulk(dw->txq[p], dw->n_txq[p]);
	}
	rte_free(d->workers);
	rte_free(d->slot_used);
	rte_free(d);
	dp->drv = NULL;
}

/* dp_relay_ports claim(): a relayed address is a table entry here. */
static int
claim_slot(void *arg, uint32_t slot, const struct sotto_addr *a)
{
	struct dpdk_drv *d = arg;
	uint8_t *used = &d->slot_used[slot - d->relays.base];

	(void)a;
	if (__atomic_load_n(used, __ATOMIC_ACQUIRE))
		return -EADDRINUSE;
	__atomic_store_n(used, 1, __ATOMIC_RELEASE);
	return 0;
}

static int
dpdk_relay_open(struct dp_ctx *dp, const struct sotto_addr *ip,
		struct sotto_addr *relay, uint32_t *sockp)
{
	struct dpdk_drv *d = dpdk_drv_of(dp);

	return dp_relay_ports_open(&d->relays, ip, claim_slot, d, relay, sockp);
}

static void
dpdk_relay_close(struct dp_ctx *dp, uint32_t slot)
{
	struct dpdk_drv *d = dpdk_drv_of(dp);

	if (slot >= d->relays.base &&
	    slot - d->relays.base < dp_relay_ports_count(&d->relays))
		__atomic_store_n(&d->slot_used[slot - d->relays.base], 0,
				 __ATOMIC_RELEASE);
}

static void
dpdk_counters(struct dp_ctx *dp,
	      void (*emit)(const char *name, uint64_t v, void *arg), void *arg)
{
	struct dpdk_drv *d = dpdk_drv_of(dp);
	struct rte_eth_stats st;

	for (unsigned c = 0; c < L2_N_DROPS; c++) {
		uint64_t sum = 0;
		for (uint16_t w = 0; w < dp->n_workers; w++)
			sum += __atomic_load_n(&d->workers[w].l2_ctr[c],
					       __ATOMIC_RELAXED);
		emit(l2_drop_names[c], sum, arg);
	}
	/* what the ports lost before a burst saw it, or after */
	uint64_t imissed = 0, ierrors = 0, oerrors = 0, nombuf = 0;
	for (unsigned i = 0; i < d->n_ports; i++) {
		if (rte_eth_stats_get(d->ports[i].l2.port_id, &st) != 0)
			continue;
		imissed += st.imissed;
		ierrors += st.ierrors;
		oerrors += st.oerrors;
		nombuf += st.rx_nombuf;
	}
	emit("port_rx_missed", imissed, arg);
	emit("port_rx_errors", ierrors, arg);
	emit("port_rx_no_mbuf", nombuf, arg);
	emit("port_tx_errors", oerrors, arg);
}

const struct dp_port_ops dp_dpdk_ops = {
	.name = "dpdk",
	.init = dpdk_init,
	.fini = dpdk_fini,
	.worker_run = dpdk_worker_run,
	.relay_open = dpdk_relay_open,
	.relay_close = dpdk_relay_close,
	.counters = dpdk_counters,
};
