/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_L2L3_H
#define SOTTO_L2L3_H

/*
 * L2/L3 for the dpdk port driver: Ethernet (optionally one VLAN tag), ARP,
 * IPv4, IPv6 with neighbour discovery, ICMP/ICMPv6 echo, UDP, checksums.
 * Runs on workers, per packet: no allocation, locks, syscalls or logging.
 * Everything is on mbufs; nothing here knows TURN.
 */
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "addr.h"
#include "dp.h"

/* Drop reasons of the L2/L3 layer (counted per worker by the driver). */
#define L2_FOREACH_DROP(X)                                                    \
	X(L2_DROP_TRUNCATED, "l2_truncated")                                  \
	X(L2_DROP_NOT_FOR_US, "l2_not_for_us")        /* dst MAC / IP */     \
	X(L2_DROP_VLAN, "l2_vlan")                    /* other VLAN, QinQ */ \
	X(L2_DROP_ETHERTYPE, "l2_ethertype")                                  \
	X(L2_DROP_ARP, "l2_arp_invalid")                                      \
	X(L2_DROP_IP_HEADER, "l3_bad_header")         /* version, ihl, len */\
	X(L2_DROP_IP_CHECKSUM, "l3_bad_checksum")                             \
	X(L2_DROP_FRAGMENT, "l3_fragment")                                    \
	X(L2_DROP_PROTO, "l3_protocol")               /* not UDP/ICMP */     \
	X(L2_DROP_ICMP, "l3_icmp_other")              /* not echo request */ \
	X(L2_DROP_ND, "l3_nd_invalid")                                        \
	X(L2_DROP_UDP_HEADER, "l4_bad_udp")                                   \
	X(L2_DROP_UDP_CHECKSUM, "l4_bad_checksum")                            \
	X(L2_DROP_NO_ROUTE, "l3_no_route")                                    \
	X(L2_DROP_NEIGH_FULL, "neigh_queue_full")                             \
	X(L2_DROP_NEIGH_TIMEOUT, "neigh_timeout")                             \
	X(L2_DROP_NO_HEADROOM, "l2_no_headroom")

enum l2_drop {
#define X(name, str) name,
	L2_FOREACH_DROP(X)
#undef X
	L2_N_DROPS
};
extern const char *const l2_drop_names[L2_N_DROPS];

/* One DPDK port's link and network identity (read-only after start). */
struct l2_port {
	uint16_t port_id;
	uint16_t vlan;                 /* 0 = untagged */
	struct rte_ether_addr mac;
	bool has_ip4, has_ip6;
	uint32_t ip4;                  /* network byte order */
	uint8_t prefix4;
	uint32_t gw4;                  /* network byte order, 0 = none */
	uint8_t ip6[16];
	uint8_t prefix6;
	uint8_t ip6_ll[16];            /* fe80::/64 EUI-64 from mac */
	uint8_t gw6[16];               /* all-zero = none */
	bool tx_ip4_cksum;             /* NIC computes the IPv4 header checksum */
	bool tx_udp_cksum;             /* NIC computes UDP checksums */
	bool rx_cksum;                 /* NIC validates checksums (ol_flags) */
};

/* ---- neighbour table (ARP / ND), shared by all workers of a port ---- */

struct l2_neigh;

/* entries: power of two. Lives in rte_zmalloc'ed memory. */
struct l2_neigh *l2_neigh_create(unsigned entries);
void l2_neigh_free(struct l2_neigh *nt);

/*
 * Lookup: 1 and *mac set if resolved; 0 if not (then *should_solicit says
 * whether to send an ARP request / NS now: at most one per address per
 * 200 ms). Lock-free; any worker.
 */
int l2_neigh_lookup(struct l2_neigh *nt, const struct sotto_addr *ip,
		    uint64_t now_tsc, uint64_t hz, struct rte_ether_addr *mac,
		    bool *should_solicit);
/* Learn or refresh (from ARP, NS, NA). Best effort: a concurrent writer of
 * the same slot makes this a no-op rather than a wait. */
void l2_neigh_learn(struct l2_neigh *nt, const struct sotto_addr *ip,
		    const struct rte_ether_addr *mac, uint64_t now_tsc);

/* ---- receive ---- */

enum l2_verdict {
	L2_UDP,        /* a UDP datagram for one of our addresses: m now
	                * starts at the UDP payload; meta->src/dst set */
	L2_REPLY,      /* m was turned into a reply (ARP reply, NA, echo
	                * reply) ready for the wire: transmit it as is */
	L2_CONSUMED,   /* learned from it (ARP reply, NA); m freed */
	L2_DROP,       /* *drop says why; m NOT freed (the caller counts,
	                * frees) */
};

/*
 * Classifies one received frame. Checks: Ethernet dst is our MAC,
 * broadcast, or (IPv6) the solicited-node multicast of our addresses; VLAN
 * tag matches p->vlan; IPv4 header (version, ihl, total length vs frame,
 * checksum unless rx_cksum says good), fragments (MF or offset) dropped;
 * IPv6 header (payload length), no extension headers; UDP length and
 * checksum (IPv6: mandatory non-zero; IPv4: zero allowed). Our addresses:
 * ip4, ip6 (and ip6_ll for ND). Learns the sender of ARP requests/replies
 * and NS/NA into nt.
 */
enum l2_verdict l2_rx(const struct l2_port *p, struct l2_neigh *nt,
		      struct rte_mbuf *m, struct dp_meta *meta, uint64_t now_tsc,
		      enum l2_drop *drop);

/* ---- transmit ---- */

/*
 * Which L2 neighbour a datagram to dst goes to: dst itself when on-link
 * (inside p's prefix), else the gateway. 0, or -1 (no route: no gateway,
 * or family not configured on p).
 */
int l2_next_hop(const struct l2_port *p, const struct sotto_addr *dst,
		struct sotto_addr *hop);

/*
 * Prepends UDP + IPv4/IPv6 (+ VLAN) + Ethernet headers in front of the UDP
 * payload in m, from meta->src (our address) to meta->dst, Ethernet dst
 * dmac. Checksums: offload flags set where p says the NIC does them,
 * software otherwise. IPv4: DF not set, TTL 64, id from a per-call counter
 * the caller passes. 0, or -1 (no headroom: *drop set).
 */
int l2_encap_udp(const struct l2_port *p, struct rte_mbuf *m,
		 const struct dp_meta *meta, const struct rte_ether_addr *dmac,
		 uint16_t ip_id, enum l2_drop *drop);

/* Builds an ARP request (IPv4) or neighbour solicitation (IPv6) for ip
 * into the empty mbuf m. 0 or -1. */
int l2_build_solicit(const struct l2_port *p, struct rte_mbuf *m,
		     const struct sotto_addr *ip);


/* ---- neighbour table internals (appended; for tests and diagnostics) ----
 *
 * Open addressing over a power-of-two array, L2_NEIGH_PROBES slots per
 * address; one seqlock per entry (seq odd while a writer owns it). All
 * fields are accessed with __atomic builtins. IPv4 keys are stored in the
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d). Lookup of a resolved entry older
 * than L2_NEIGH_STALE_S returns 1 with the MAC and may also set
 * *should_solicit (a throttled refresh): the driver should look at
 * should_solicit after either return value.
 */
#define L2_NEIGH_PROBES 8
#define L2_NEIGH_SOLICIT_MS 200        /* per address, RFC 1122 §2.3.2.1 */
#define L2_NEIGH_STALE_S 300

struct l2_neigh_entry {
	uint32_t seq;                  /* seqlock: odd = being written */
	uint32_t reserved;
	uint64_t key[2];               /* IPv6, or IPv4-mapped */
	uint64_t link;                 /* bytes 0-5 MAC, byte 6 state */
	uint64_t last_update;          /* tsc of the last learn (or create) */
	uint64_t last_solicit;         /* tsc of the last solicitation */
} __rte_cache_aligned;

struct l2_neigh {
	uint32_t mask;                 /* entries - 1 */
	uint32_t probes;               /* min(entries, L2_NEIGH_PROBES) */
	struct l2_neigh_entry e[] __rte_cache_aligned;
};

#endif
