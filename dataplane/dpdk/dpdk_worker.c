/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dpdk driver's worker loop, run to completion: RX burst on this
 * worker's queue of every port → L2/L3 → fast path → L2/L3 → TX burst.
 * No allocation (mbufs come from the pool), locks, syscalls (but the idle
 * back-off's sleep) or logging here: scripts/check-fastpath.sh checks.
 */
#include <errno.h>
#include <time.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include "dpdk_priv.h"
#include "dp_gw.h"

static inline void
txq_add(struct dp_worker *w, struct dpdk_worker *dw, unsigned port,
	struct rte_mbuf *m)
{
	if (unlikely(dw->n_txq[port] == DPDK_TXQ_MAX)) {
		w->ctr[DP_DROP_TX_FAILED]++;
		rte_pktmbuf_free(m);
		return;
	}
	dw->txq[port][dw->n_txq[port]++] = m;
}

/*
 * Sends each port's queue. What the port does not take now (its TX ring is
 * full: AF_XDP frees slots only as the kernel completes them) stays queued
 * for the next loop; txq_add drops once the queue itself is full. Returns
 * whether anything is still waiting. Sent mbufs belong to the PMD, so
 * their bytes are counted before the burst.
 */
static bool
txq_flush(struct dp_worker *w, struct dpdk_drv *d, struct dpdk_worker *dw)
{
	bool waiting = false;

	for (unsigned p = 0; p < d->n_ports; p++) {
		uint16_t n = dw->n_txq[p], sent;
		uint64_t bytes = 0;

		if (n == 0)
			continue;
		for (uint16_t i = 0; i < n; i++)
			bytes += rte_pktmbuf_pkt_len(dw->txq[p][i]);
		sent = rte_eth_tx_burst(d->ports[p].l2.port_id, w->id,
					dw->txq[p], n);
		for (uint16_t i = sent; i < n; i++)
			bytes -= rte_pktmbuf_pkt_len(dw->txq[p][i]);
		w->ctr[DP_TX_PACKETS] += sent;
		w->ctr[DP_TX_BYTES] += bytes;
		dw->n_txq[p] = (uint16_t)(n - sent);
		if (unlikely(sent < n)) {
			memmove(dw->txq[p], dw->txq[p] + sent,
				(size_t)(n - sent) * sizeof(dw->txq[p][0]));
			waiting = true;
		}
	}
	return waiting;
}

static void
solicit(struct dp_worker *w, struct dpdk_worker *dw, struct dpdk_port *port,
	unsigned pi, const struct sotto_addr *hop)
{
	struct rte_mbuf *s = rte_pktmbuf_alloc(w->dp->pool);

	if (unlikely(s == NULL)) {
		w->ctr[DP_DROP_NO_MBUF]++;
		return;
	}
	if (l2_build_solicit(&port->l2, s, hop) < 0) {
		rte_pktmbuf_free(s);
		return;
	}
	txq_add(w, dw, pi, s);
}

/* Puts a UDP payload with transmit metadata on the wire (or on hold). */
static void
output(struct dp_worker *w, struct dpdk_drv *d, struct dpdk_worker *dw,
       struct rte_mbuf *m, uint64_t now)
{
	struct dp_meta *meta = dp_meta(m);
	struct sotto_addr hop;
	struct rte_ether_addr mac;
	enum l2_drop drop;
	bool ask = false;
	int pi = dpdk_port_of_ip(d, &meta->src);

	if (unlikely(pi < 0 || l2_next_hop(&d->ports[pi].l2, &meta->dst,
					   &hop) < 0)) {
		dw->l2_ctr[L2_DROP_NO_ROUTE]++;
		rte_pktmbuf_free(m);
		return;
	}
	struct dpdk_port *port = &d->ports[pi];
	if (likely(l2_neigh_lookup(port->neigh, &hop, now, w->hz, &mac, &ask))) {
		if (unlikely(l2_encap_udp(&port->l2, m, meta, &mac, dw->ip_id++,
					  &drop) < 0)) {
			dw->l2_ctr[drop]++;
			rte_pktmbuf_free(m);
			return;
		}
		txq_add(w, dw, (unsigned)pi, m);
		if (unlikely(ask))
			solicit(w, dw, port, (unsigned)pi, &hop);
		return;
	}
	/* RFC 1122 §2.3.2.2: keep (a few) packets while resolving */
	if (unlikely(dw->n_pend == DPDK_PENDING_MAX)) {
		dw->l2_ctr[L2_DROP_NEIGH_FULL]++;
		rte_pktmbuf_free(m);
	} else {
		struct dpdk_pending *pe = &dw->pend[dw->n_pend++];
		pe->m = m;
		pe->hop = hop;
		pe->since = now;
		pe->port = (uint8_t)pi;
	}
	if (ask)
		solicit(w, dw, port, (unsigned)pi, &hop);
}

/* Packets waiting for a neighbour: send the resolved, drop the stale. */
static void
retry_pending(struct dp_worker *w, struct dpdk_drv *d, struct dpdk_worker *dw,
	      uint64_t now)
{
	uint64_t ttl = w->hz / 1000 * DPDK_PENDING_TTL_MS;
	unsigned keep = 0;

	for (unsigned i = 0; i < dw->n_pend; i++) {
		struct dpdk_pending *pe = &dw->pend[i];
		struct dpdk_port *port = &d->ports[pe->port];
		struct rte_ether_addr mac;
		enum l2_drop drop;
		bool ask = false;

		if (l2_neigh_lookup(port->neigh, &pe->hop, now, w->hz, &mac,
				    &ask)) {
			if (l2_encap_udp(&port->l2, pe->m, dp_meta(pe->m), &mac,
					 dw->ip_id++, &drop) < 0) {
				dw->l2_ctr[drop]++;
				rte_pktmbuf_free(pe->m);
			} else {
				txq_add(w, dw, pe->port, pe->m);
			}
		} else if (now - pe->since > ttl) {
			dw->l2_ctr[L2_DROP_NEIGH_TIMEOUT]++;
			rte_pktmbuf_free(pe->m);
		} else {
			if (ask)
				solicit(w, dw, port, pe->port, &pe->hop);
			dw->pend[keep++] = *pe;
		}
	}
	dw->n_pend = keep;
}

/*
 * Sends what the fast path produced. A datagram for one of our own relayed
 * addresses goes round the fast path once more, as received data from a
 * peer; only one extra round, so a loop can never spin.
 */
static void
send_burst(struct dp_worker *w, struct dpdk_drv *d, struct dpdk_worker *dw,
	   struct rte_mbuf **pkts, uint16_t n, uint64_t now, bool hairpin_ok)
{
	struct rte_mbuf *again[DP_BURST * 2], *tx2[DP_BURST * 2];
	uint16_t n_again = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct dp_meta *meta = dp_meta(pkts[i]);
		uint8_t kind;
		int64_t slot = dpdk_slot_of(d, &meta->dst, &kind);

		if (likely(slot < 0)) {
			output(w, d, dw, pkts[i], now);
		} else if (kind == DP_SOCK_RELAY && hairpin_ok) {
			/* the sender's relayed address is the source */
			meta->sock = (uint32_t)slot;
			meta->sock_kind = DP_SOCK_RELAY;
			again[n_again++] = pkts[i];
		} else {
			w->ctr[DP_DROP_HAIRPIN]++;
			rte_pktmbuf_free(pkts[i]);
		}
	}
	if (n_again) {
		uint16_t n_tx = dp_fastpath(w, again, n_again, tx2);
		send_burst(w, d, dw, tx2, n_tx, now, false);
	}
}

static uint16_t
receive(struct dp_worker *w, struct dpdk_drv *d, struct dpdk_worker *dw,
	unsigned pi, struct rte_mbuf **udp, uint64_t now)
{
	struct dpdk_port *port = &d->ports[pi];
	struct rte_mbuf *pkts[DP_BURST];
	uint16_t n, n_udp = 0;

	n = rte_eth_rx_burst(port->l2.port_id, w->id, pkts, DP_BURST);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct dp_meta *meta = dp_meta(m);
		enum l2_drop drop;
		uint8_t kind = 0;
		int64_t slot;

		meta->flags = 0;
		switch (l2_rx(&port->l2, port->neigh, m, meta, now, &drop)) {
		case L2_UDP:
			slot = dpdk_slot_of(d, &meta->dst, &kind);
			if (unlikely(slot < 0)) {
				w->ctr[DP_DROP_NO_PORT]++;
				rte_pktmbuf_free(m);
				break;
			}
			meta->sock = (uint32_t)slot;
			meta->sock_kind = kind;
			udp[n_udp++] = m;
			break;
		case L2_REPLY:
			txq_add(w, dw, pi, m);
			break;
		case L2_CONSUMED:
			break;
		case L2_DROP:
			dw->l2_ctr[drop]++;
			rte_pktmbuf_free(m);
			break;
		}
	}
	return n_udp;
}

static void
idle_backoff(struct dp_worker *w, unsigned *sleep_us)
{
	struct timespec ts = { 0, (long)*sleep_us * 1000 };

	/* offline for RCU: a sleeping worker must not hold up frees */
	if (dp_worker_sleep_begin(w))
		nanosleep(&ts, NULL); /* fastpath-allow: idle back-off only */
	dp_worker_sleep_end(w);
	if (*sleep_us < DPDK_SLEEP_MAX_US)
		*sleep_us *= 2;
}

/* w->emit: what the gateway makes. Gateway output never goes round the
 * fast path again: a leg's browser is never one of our own addresses. */
static void
dpdk_emit(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	struct dpdk_drv *d = dpdk_drv_of(w->dp);

	send_burst(w, d, &d->workers[w->id], pkts, n, rte_rdtsc(), false);
}

int
dpdk_worker_run(struct dp_worker *w)
{
	struct dp_ctx *dp = w->dp;
	struct dpdk_drv *d = dpdk_drv_of(dp);
	struct dpdk_worker *dw = &d->workers[w->id];
	struct rte_mbuf *udp[DP_BURST], *tx[DP_BURST], *ctl[DP_BURST];
	unsigned idle = 0, sleep_us = DPDK_SLEEP_MIN_US;

	w->emit = dpdk_emit;
	if (dp_worker_ready(w) < 0)
		return -EPERM;
	while (!dp_quit(dp)) {
		uint64_t now = rte_rdtsc();
		bool busy = false;

		w->ctr[DP_LOOPS]++;
		for (unsigned pi = 0; pi < d->n_ports; pi++) {
			uint16_t n = receive(w, d, dw, pi, udp, now);
			if (n) {
				uint16_t n_tx = dp_fastpath(w, udp, n, tx);
				send_burst(w, d, dw, tx, n_tx, now, true);
				busy = true;
			}
		}
		if (w->gw_ring != NULL && dp_gw_poll(w, now))
			busy = true;
		uint16_t n_ctl = dp_worker_take_tx(w, ctl, DP_BURST);
		if (n_ctl) {
			send_burst(w, d, dw, ctl, n_ctl, now, true);
			busy = true;
		}
		if (dw->n_pend)
			retry_pending(w, d, dw, now);
		if (txq_flush(w, d, dw))
			busy = true;
		dp_worker_quiescent(w);

		if (busy) {
			w->ctr[DP_BUSY_LOOPS]++;
			w->ctr[DP_BUSY_CYCLES] += rte_rdtsc() - now;
			idle = 0;
			sleep_us = DPDK_SLEEP_MIN_US;
		} else if (!dp->idle_poll && ++idle > DPDK_SPIN_LOOPS) {
			idle_backoff(w, &sleep_us);
		} else {
			rte_pause();
		}
	}
	return 0;
}

