/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3 for the dpdk port driver; see l2l3.h for the contract.
 *
 * Everything above l2_neigh_create() runs on workers, per packet: no
 * allocation, locks, syscalls or logging (scripts/check-fastpath.sh).
 * Frames are single-segment mbufs; every header is bounds-checked against
 * rte_pktmbuf_data_len() before it is read.
 */
#include "l2l3.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

const char *const l2_drop_names[L2_N_DROPS] = {
#define X(name, str) [name] = str,
	L2_FOREACH_DROP(X)
#undef X
};

/* ---- wire formats DPDK 22.11 has no header for ---- */

/* RFC 4443 §4.1/§4.2 and RFC 4861 §4.3/§4.4 */
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
/* RFC 4861 §4.6.1 */
#define ND_OPT_SOURCE_LLA 1
#define ND_OPT_TARGET_LLA 2
/* RFC 4861 §4.4: NA flags, first word after the checksum */
#define ND_NA_F_ROUTER 0x80000000u
#define ND_NA_F_SOLICITED 0x40000000u
#define ND_NA_F_OVERRIDE 0x20000000u

/* NS and NA share this layout: type, code, checksum, a 32-bit word
 * (reserved in NS, flags in NA), target address, then options. */
struct nd_msg {
	uint8_t type;
	uint8_t code;
	rte_be16_t cksum;
	rte_be32_t flags;
	uint8_t target[16];
} __rte_packed __rte_aligned(2);

/* RFC 4861 §4.6.1: link-layer address option, length in units of 8 bytes */
struct nd_opt_lla {
	uint8_t type;
	uint8_t len;
	struct rte_ether_addr mac;
} __rte_packed __rte_aligned(2);

#define ND_HOP_LIMIT 255   /* RFC 4861 §7.1: not forwarded by any router */
#define L2_TTL 64
#define ETH_MIN_FRAME 60   /* without FCS */

#define ETH_LEN ((uint32_t)sizeof(struct rte_ether_hdr))
#define VLAN_LEN ((uint32_t)sizeof(struct rte_vlan_hdr))
#define ARP_LEN ((uint32_t)sizeof(struct rte_arp_hdr))
#define IP4_LEN ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define IP6_LEN ((uint32_t)sizeof(struct rte_ipv6_hdr))
#define UDP_LEN ((uint32_t)sizeof(struct rte_udp_hdr))
#define ICMP_LEN ((uint32_t)sizeof(struct rte_icmp_hdr))
#define ND_LEN ((uint32_t)sizeof(struct nd_msg))
#define OPT_LEN ((uint32_t)sizeof(struct nd_opt_lla))

/* ff02::1:ff00:0/104, RFC 4291 §2.7.1; the last 24 bits are the address'. */
static const uint8_t snmc_prefix[13] = {
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff,
};
static const uint8_t all_nodes[16] = {
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
};
static const uint8_t in6_any[16];

/* ---- small helpers ---- */

static inline uint16_t
cksum_fold(uint32_t sum)
{
	sum = (sum >> 16) + (sum & 0xffff);
	sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

/*
 * One's-complement sum of an upper-layer message with its pseudo-header
 * (RFC 768, RFC 8200 §8.1). len is the L4 length as the L4 header states
 * it, which can be shorter than the IP payload, so the pseudo-header is
 * built here rather than from the IP header's length field. A message
 * whose checksum field is correct sums to 0xffff.
 */
static inline uint16_t
l4_sum(const void *addrs, uint32_t addrs_len, uint8_t proto, const void *l4,
       uint32_t len)
{
	uint32_t sum = rte_raw_cksum(addrs, addrs_len);

	sum += rte_raw_cksum(l4, len);
	sum += rte_cpu_to_be_16((uint16_t)proto);
	sum += rte_cpu_to_be_16((uint16_t)len);
	return cksum_fold(sum);
}

static inline bool
ip6_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16) == 0;
}

static inline bool
ip6_is_multicast(const uint8_t *a)
{
	return a[0] == 0xff;
}

static inline bool
ip6_is_linklocal(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;   /* fe80::/10 */
}

static inline bool
ip6_is_snmc_of(const uint8_t *dst, const uint8_t *addr)
{
	return memcmp(dst, snmc_prefix, sizeof(snmc_prefix)) == 0 &&
	       memcmp(dst + 13, addr + 13, 3) == 0;
}

static inline void
ip6_snmc(uint8_t *dst, const uint8_t *addr)
{
	memcpy(dst, snmc_prefix, sizeof(snmc_prefix));
	memcpy(dst + 13, addr + 13, 3);
}

/* Neither unspecified, broadcast, multicast (class D) nor class E. */
static inline bool
ip4_is_unicast(uint32_t ip_be)
{
	uint32_t ip = rte_be_to_cpu_32(ip_be);

	return ip != 0 && (ip >> 28) < 0xe && (ip >> 24) != 0;
}

static inline bool
ip4_on_link(const struct l2_port *p, uint32_t ip_be)
{
	uint32_t mask;

	if (p->prefix4 == 0)
		return true;
	mask = p->prefix4 >= 32 ? UINT32_MAX : ~(UINT32_MAX >> p->prefix4);
	return ((rte_be_to_cpu_32(ip_be) ^ rte_be_to_cpu_32(p->ip4)) &
		mask) == 0;
}

static inline bool
ip6_on_link(const struct l2_port *p, const uint8_t *ip)
{
	unsigned bits = p->prefix6 > 128 ? 128 : p->prefix6;
	unsigned full = bits / 8, rest = bits % 8;

	if (ip6_is_linklocal(ip))
		return true;
	if (memcmp(ip, p->ip6, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((ip[full] ^ p->ip6[full]) & (uint8_t)(0xff << (8 - rest))) ==
	       0;
}

/* Addresses worth a neighbour entry: on our link, or the gateway (which
 * some hosting setups put outside the prefix, reachable "on-link"). */
static inline bool
ip4_learnable(const struct l2_port *p, uint32_t ip_be)
{
	return ip4_is_unicast(ip_be) && ip_be != p->ip4 &&
	       (ip4_on_link(p, ip_be) || ip_be == p->gw4);
}

static inline bool
ip6_learnable(const struct l2_port *p, const uint8_t *ip)
{
	return !ip6_is_multicast(ip) && !ip6_eq(ip, in6_any) &&
	       !ip6_eq(ip, p->ip6) && !ip6_eq(ip, p->ip6_ll) &&
	       (ip6_on_link(p, ip) || ip6_eq(ip, p->gw6));
}

/* Sets the frame to exactly len bytes; bytes added at the end are zero. */
static inline int
frame_set_len(struct rte_mbuf *m, uint32_t len)
{
	uint32_t cur = rte_pktmbuf_data_len(m);
	char *tail;

	if (len <= cur)
		return rte_pktmbuf_trim(m, (uint16_t)(cur - len));
	tail = rte_pktmbuf_append(m, (uint16_t)(len - cur));
	if (tail == NULL)
		return -1;
	memset(tail, 0, len - cur);
	return 0;
}

/*
 * Final touches on a frame turned into a reply in place: no offloads are
 * asked for (checksums were done in software), and a VLAN tag the NIC
 * stripped on receive is put back.
 */
static inline enum l2_verdict
reply_ready(struct rte_mbuf *m, bool vlan_stripped, enum l2_drop *drop)
{
	m->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
	if (vlan_stripped) {
		m->ol_flags |= RTE_MBUF_F_RX_VLAN_STRIPPED;
		if (rte_vlan_insert(&m) != 0) {
			*drop = L2_DROP_NO_HEADROOM;
			return L2_DROP;
		}
	}
	return L2_REPLY;
}

static inline void
eth_reply(const struct l2_port *p, struct rte_ether_hdr *eth,
	  const struct rte_ether_addr *to)
{
	rte_ether_addr_copy(to, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
}

/* ---- ARP (RFC 826) ---- */

static enum l2_verdict
rx_arp(const struct l2_port *p, struct l2_neigh *nt, struct rte_mbuf *m,
       uint32_t l2len, bool vlan_stripped, uint64_t now, enum l2_drop *drop)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp;
	struct rte_arp_ipv4 *a;
	struct rte_ether_addr sha;
	struct sotto_addr sender;
	uint32_t sip, tip;
	uint16_t op;
	bool learn;

	if (rte_pktmbuf_data_len(m) < l2len + ARP_LEN) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, l2len);
	a = &arp->arp_data;
	op = rte_be_to_cpu_16(arp->arp_opcode);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
	    (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
	    !rte_is_unicast_ether_addr(&a->arp_sha) ||
	    rte_is_zero_ether_addr(&a->arp_sha)) {
		*drop = L2_DROP_ARP;
		return L2_DROP;
	}
	if (!p->has_ip4) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	sip = a->arp_sip;
	tip = a->arp_tip;
	rte_ether_addr_copy(&a->arp_sha, &sha);
	/* sip 0 is an RFC 5227 probe: nothing to learn, but still answer */
	learn = ip4_learnable(p, sip);

	if (op == RTE_ARP_OP_REQUEST && tip == p->ip4) {
		if (learn) {
			sotto_addr_v4(&sender, sip, 0);
			l2_neigh_learn(nt, &sender, &sha, now);
		}
		/* RFC 826 "Packet Reception": swap sender and target,
		 * put in our addresses, set the opcode to reply. */
		arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
		rte_ether_addr_copy(&sha, &a->arp_tha);
		a->arp_tip = sip;
		rte_ether_addr_copy(&p->mac, &a->arp_sha);
		a->arp_sip = p->ip4;
		eth_reply(p, eth, &sha);
		if (frame_set_len(m, RTE_MAX(l2len + ARP_LEN,
					     (uint32_t)ETH_MIN_FRAME)) < 0) {
			*drop = L2_DROP_TRUNCATED;
			return L2_DROP;
		}
		return reply_ready(m, vlan_stripped, drop);
	}
	/* A reply, or a gratuitous request (sender == target IP) announcing
	 * a binding: learn it. Requests for other hosts teach nothing we
	 * need (RFC 826 learns them only to refresh existing entries). */
	if (op == RTE_ARP_OP_REPLY || sip == tip) {
		if (!learn) {
			*drop = L2_DROP_NOT_FOR_US;
			return L2_DROP;
		}
		sotto_addr_v4(&sender, sip, 0);
		l2_neigh_learn(nt, &sender, &sha, now);
		rte_pktmbuf_free(m);
		return L2_CONSUMED;
	}
	*drop = L2_DROP_NOT_FOR_US;
	return L2_DROP;
}

/* ---- IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768) ---- */

static enum l2_verdict
rx_icmp4(const struct l2_port *p, struct rte_mbuf *m, uint32_t l2len,
	 uint32_t ihl, bool vlan_stripped, enum l2_drop *drop)
{
	struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2len);
	uint32_t len = rte_be_to_cpu_16(ip->total_length) - ihl;
	struct rte_ether_hdr *eth;
	struct rte_icmp_hdr *icmp;
	struct rte_ether_addr to;
	uint32_t src;

	if (len < ICMP_LEN) {
		*drop = L2_DROP_ICMP;
		return L2_DROP;
	}
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, l2len + ihl);
	/* RFC 792 echo: answer only unicast sources with a valid message */
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
	    icmp->icmp_code != 0 || !ip4_is_unicast(ip->src_addr) ||
	    ip->src_addr == p->ip4 || rte_raw_cksum(icmp, len) != 0xffff) {
		*drop = L2_DROP_ICMP;
		return L2_DROP;
	}
	/* The reply carries no IP options (RFC 1122 §3.2.2.6 allows
	 * dropping them): slide the Ethernet and base IP headers up. */
	if (ihl > IP4_LEN) {
		char *base = rte_pktmbuf_mtod(m, char *);

		memmove(base + (ihl - IP4_LEN), base, l2len + IP4_LEN);
		rte_pktmbuf_adj(m, (uint16_t)(ihl - IP4_LEN));
		ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2len);
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(IP4_LEN + len));
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	src = ip->src_addr;
	ip->src_addr = p->ip4;
	ip->dst_addr = src;
	ip->time_to_live = L2_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, len);
	rte_ether_addr_copy(&eth->src_addr, &to);
	eth_reply(p, eth, &to);
	return reply_ready(m, vlan_stripped, drop);
}

static enum l2_verdict
rx_ipv4(const struct l2_port *p, struct rte_mbuf *m, struct dp_meta *meta,
	uint32_t l2len, bool vlan_stripped, enum l2_drop *drop)
{
	uint32_t avail = rte_pktmbuf_data_len(m) - l2len;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	uint32_t ihl, tot, ulen;
	uint64_t ck;

	if (avail < IP4_LEN) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2len);
	ihl = rte_ipv4_hdr_len(ip);
	tot = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < IP4_LEN) {
		*drop = L2_DROP_IP_HEADER;
		return L2_DROP;
	}
	if (avail < ihl) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	if (tot < ihl) {
		*drop = L2_DROP_IP_HEADER;
		return L2_DROP;
	}
	if (tot > avail) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
	     rte_raw_cksum(ip, ihl) != 0xffff)) {
		*drop = L2_DROP_IP_CHECKSUM;
		return L2_DROP;
	}
	if (!p->has_ip4 || ip->dst_addr != p->ip4) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	/* We do not reassemble: media never needs it, and reassembly
	 * state is an easy target (RFC 791 §3.2 fragmentation). */
	if (ip->fragment_offset &
	    rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		*drop = L2_DROP_FRAGMENT;
		return L2_DROP;
	}
	/* Ethernet padding after the datagram (short frames) */
	if (tot < avail)
		rte_pktmbuf_trim(m, (uint16_t)(avail - tot));

	if (ip->next_proto_id == IPPROTO_ICMP)
		return rx_icmp4(p, m, l2len, ihl, vlan_stripped, drop);
	if (ip->next_proto_id != IPPROTO_UDP) {
		*drop = L2_DROP_PROTO;
		return L2_DROP;
	}

	if (tot - ihl < UDP_LEN) {
		*drop = L2_DROP_UDP_HEADER;
		return L2_DROP;
	}
	udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, l2len + ihl);
	ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < UDP_LEN || ulen > tot - ihl) {
		*drop = L2_DROP_UDP_HEADER;
		return L2_DROP;
	}
	/* RFC 768: a zero checksum means the sender computed none */
	ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (udp->dgram_cksum != 0 &&
	    (ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	     (ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
	      l4_sum(&ip->src_addr, 8, IPPROTO_UDP, udp, ulen) != 0xffff))) {
		*drop = L2_DROP_UDP_CHECKSUM;
		return L2_DROP;
	}
	sotto_addr_v4(&meta->src, ip->src_addr,
		      rte_be_to_cpu_16(udp->src_port));
	sotto_addr_v4(&meta->dst, ip->dst_addr,
		      rte_be_to_cpu_16(udp->dst_port));
	if (ulen < tot - ihl)
		rte_pktmbuf_trim(m, (uint16_t)(tot - ihl - ulen));
	rte_pktmbuf_adj(m, (uint16_t)(l2len + ihl + UDP_LEN));
	return L2_UDP;
}

/* ---- IPv6 (RFC 8200), ICMPv6 (RFC 4443), ND (RFC 4861) ---- */

/*
 * RFC 4861 §7.1.1/§7.1.2: every option has a non-zero length and fits.
 * Returns the link-layer address option of type want, or NULL; *bad set
 * on malformed options.
 */
static const struct nd_opt_lla *
nd_find_lla(const uint8_t *opts, uint32_t len, uint8_t want, bool *bad)
{
	const struct nd_opt_lla *found = NULL;
	uint32_t off = 0, olen;

	*bad = false;
	while (off < len) {
		if (len - off < 2) {
			*bad = true;
			return NULL;
		}
		olen = (uint32_t)opts[off + 1] * 8;
		if (olen == 0 || olen > len - off) {
			*bad = true;
			return NULL;
		}
		if (opts[off] == want && olen >= OPT_LEN && found == NULL)
			found = (const struct nd_opt_lla *)(opts + off);
		off += olen;
	}
	return found;
}

static enum l2_verdict
rx_ns(const struct l2_port *p, struct l2_neigh *nt, struct rte_mbuf *m,
      uint32_t l2len, bool vlan_stripped, uint64_t now, enum l2_drop *drop)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip6 =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2len);
	uint32_t len = rte_be_to_cpu_16(ip6->payload_len);
	struct nd_msg *nd = (struct nd_msg *)(ip6 + 1);
	const struct nd_opt_lla *sll;
	struct rte_ether_addr to;
	struct nd_opt_lla *tll;
	struct sotto_addr who;
	uint8_t target[16];
	bool unspec, bad;

	sll = nd_find_lla((const uint8_t *)(nd + 1), len - ND_LEN,
			  ND_OPT_SOURCE_LLA, &bad);
	unspec = ip6_eq(ip6->src_addr, in6_any);
	/* RFC 4861 §7.1.1: from :: only to a solicited-node address and
	 * without a source link-layer option (duplicate address detection) */
	if (bad || ip6_is_multicast(nd->target) ||
	    (unspec && (!ip6_is_snmc_of(ip6->dst_addr, nd->target) ||
			sll != NULL)) ||
	    (sll != NULL && !rte_is_unicast_ether_addr(&sll->mac))) {
		*drop = L2_DROP_ND;
		return L2_DROP;
	}
	if (!ip6_eq(nd->target, p->ip6) && !ip6_eq(nd->target, p->ip6_ll)) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	memcpy(target, nd->target, 16);
	if (sll != NULL)
		rte_ether_addr_copy(&sll->mac, &to);
	else if (unspec)
		rte_ether_addr_copy(&(const struct rte_ether_addr){
			.addr_bytes = { 0x33, 0x33, 0, 0, 0, 1 } }, &to);
	else
		rte_ether_addr_copy(&eth->src_addr, &to);
	if (sll != NULL && ip6_learnable(p, ip6->src_addr)) {
		sotto_addr_v6(&who, ip6->src_addr, 0);
		l2_neigh_learn(nt, &who, &sll->mac, now);
	}

	/* RFC 4861 §7.2.4: the advertisement, sent from the target */
	if (frame_set_len(m, l2len + IP6_LEN + ND_LEN + OPT_LEN) < 0) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	ip6 = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2len);
	nd = (struct nd_msg *)(ip6 + 1);
	tll = (struct nd_opt_lla *)(nd + 1);
	ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip6->payload_len = rte_cpu_to_be_16((uint16_t)(ND_LEN + OPT_LEN));
	ip6->proto = IPPROTO_ICMPV6;
	ip6->hop_limits = ND_HOP_LIMIT;
	if (unspec)
		memcpy(ip6->dst_addr, all_nodes, 16);
	else
		memcpy(ip6->dst_addr, ip6->src_addr, 16);
	memcpy(ip6->src_addr, target, 16);
	nd->type = ND_NEIGHBOR_ADVERT;
	nd->code = 0;
	/* Solicited only when answering a unicast-able source */
	nd->flags = rte_cpu_to_be_32(ND_NA_F_OVERRIDE |
				     (unspec ? 0 : ND_NA_F_SOLICITED));
	memcpy(nd->target, target, 16);
	tll->type = ND_OPT_TARGET_LLA;
	tll->len = 1;
	rte_ether_addr_copy(&p->mac, &tll->mac);
	nd->cksum = 0;
	nd->cksum = rte_ipv6_udptcp_cksum(ip6, nd);
	eth_reply(p, eth, &to);
	return reply_ready(m, vlan_stripped, drop);
}

static enum l2_verdict
rx_na(const struct l2_port *p, struct l2_neigh *nt, struct rte_mbuf *m,
      uint32_t l2len, uint64_t now, enum l2_drop *drop)
{
	struct rte_ipv6_hdr *ip6 =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2len);
	uint32_t len = rte_be_to_cpu_16(ip6->payload_len);
	struct nd_msg *nd = (struct nd_msg *)(ip6 + 1);
	const struct nd_opt_lla *tll;
	struct sotto_addr who;
	bool bad;

	tll = nd_find_lla((const uint8_t *)(nd + 1), len - ND_LEN,
			  ND_OPT_TARGET_LLA, &bad);
	/* RFC 4861 §7.1.2 */
	if (bad || ip6_is_multicast(nd->target) ||
	    (ip6_is_multicast(ip6->dst_addr) &&
	     (nd->flags & rte_cpu_to_be_32(ND_NA_F_SOLICITED))) ||
	    (tll != NULL && !rte_is_unicast_ether_addr(&tll->mac))) {
		*drop = L2_DROP_ND;
		return L2_DROP;
	}
	if (!ip6_learnable(p, nd->target) ||
	    (ip6_is_multicast(ip6->dst_addr) &&
	     !ip6_eq(ip6->dst_addr, all_nodes))) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	/* Without the option there is no address to learn (RFC 4861
	 * §7.2.5); still ours to consume. */
	if (tll != NULL) {
		sotto_addr_v6(&who, nd->target, 0);
		l2_neigh_learn(nt, &who, &tll->mac, now);
	}
	rte_pktmbuf_free(m);
	return L2_CONSUMED;
}

static enum l2_verdict
rx_echo6(const struct l2_port *p, struct rte_mbuf *m, uint32_t l2len,
	 bool vlan_stripped, enum l2_drop *drop)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip6 =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2len);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip6 + 1);
	struct rte_ether_addr to;
	uint8_t tmp[16];

	/* RFC 4443 §4.2: no replies to multicast from here (we join none
	 * but the ND groups) nor to unspecified or multicast sources */
	if (ip6_is_multicast(ip6->dst_addr)) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	if (ip6_is_multicast(ip6->src_addr) ||
	    ip6_eq(ip6->src_addr, in6_any)) {
		*drop = L2_DROP_ICMP;
		return L2_DROP;
	}
	memcpy(tmp, ip6->src_addr, 16);
	memcpy(ip6->src_addr, ip6->dst_addr, 16);
	memcpy(ip6->dst_addr, tmp, 16);
	ip6->hop_limits = L2_TTL;
	icmp->icmp_type = ICMP6_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = rte_ipv6_udptcp_cksum(ip6, icmp);
	rte_ether_addr_copy(&eth->src_addr, &to);
	eth_reply(p, eth, &to);
	return reply_ready(m, vlan_stripped, drop);
}

static enum l2_verdict
rx_icmp6(const struct l2_port *p, struct l2_neigh *nt, struct rte_mbuf *m,
	 uint32_t l2len, bool vlan_stripped, uint64_t now,
	 enum l2_drop *drop)
{
	struct rte_ipv6_hdr *ip6 =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2len);
	uint32_t len = rte_be_to_cpu_16(ip6->payload_len);
	const uint8_t *icmp = (const uint8_t *)(ip6 + 1);
	bool nd, sum_ok;
	uint8_t type;

	if (len < ICMP_LEN) {
		*drop = L2_DROP_ICMP;
		return L2_DROP;
	}
	type = icmp[0];
	nd = type == ND_NEIGHBOR_SOLICIT || type == ND_NEIGHBOR_ADVERT;
	sum_ok = l4_sum(ip6->src_addr, 32, IPPROTO_ICMPV6, icmp, len) ==
		 0xffff;
	if (nd) {
		/* RFC 4861 §7.1: hop limit 255 proves the sender is on
		 * the link; code 0; at least the fixed part. */
		if (ip6->hop_limits != ND_HOP_LIMIT || icmp[1] != 0 ||
		    len < ND_LEN || !sum_ok) {
			*drop = L2_DROP_ND;
			return L2_DROP;
		}
		if (type == ND_NEIGHBOR_SOLICIT)
			return rx_ns(p, nt, m, l2len, vlan_stripped, now,
				     drop);
		return rx_na(p, nt, m, l2len, now, drop);
	}
	if (type != ICMP6_ECHO_REQUEST || icmp[1] != 0 || !sum_ok) {
		*drop = L2_DROP_ICMP;
		return L2_DROP;
	}
	return rx_echo6(p, m, l2len, vlan_stripped, drop);
}

static enum l2_verdict
rx_ipv6(const struct l2_port *p, struct l2_neigh *nt, struct rte_mbuf *m,
	struct dp_meta *meta, uint32_t l2len, bool eth_mcast,
	bool vlan_stripped, uint64_t now, enum l2_drop *drop)
{
	uint32_t avail = rte_pktmbuf_data_len(m) - l2len;
	struct rte_ipv6_hdr *ip6;
	struct rte_udp_hdr *udp;
	uint32_t plen, ulen;
	bool to_us, to_ll, to_mc;
	uint64_t ck;

	if (avail < IP6_LEN) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	ip6 = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2len);
	if ((rte_be_to_cpu_32(ip6->vtc_flow) >> 28) != 6 ||
	    ip6_is_multicast(ip6->src_addr)) {
		*drop = L2_DROP_IP_HEADER;
		return L2_DROP;
	}
	plen = rte_be_to_cpu_16(ip6->payload_len);
	if (plen > avail - IP6_LEN) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	if (!p->has_ip6) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	to_us = ip6_eq(ip6->dst_addr, p->ip6);
	to_ll = ip6_eq(ip6->dst_addr, p->ip6_ll);
	to_mc = ip6_eq(ip6->dst_addr, all_nodes) ||
		ip6_is_snmc_of(ip6->dst_addr, p->ip6) ||
		ip6_is_snmc_of(ip6->dst_addr, p->ip6_ll);
	/* A frame to a multicast MAC must carry a multicast IPv6 dst */
	if ((!to_us && !to_ll && !to_mc) || (eth_mcast && !to_mc)) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	if (plen < avail - IP6_LEN)
		rte_pktmbuf_trim(m, (uint16_t)(avail - IP6_LEN - plen));

	/* RFC 8200 §4: extension headers would come first; we take none
	 * (fragments included), so anything but UDP/ICMPv6 is dropped. */
	if (ip6->proto == IPPROTO_ICMPV6)
		return rx_icmp6(p, nt, m, l2len, vlan_stripped, now, drop);
	if (ip6->proto != IPPROTO_UDP) {
		*drop = L2_DROP_PROTO;
		return L2_DROP;
	}
	if (!to_us) {
		*drop = L2_DROP_NOT_FOR_US;
		return L2_DROP;
	}
	if (plen < UDP_LEN) {
		*drop = L2_DROP_UDP_HEADER;
		return L2_DROP;
	}
	udp = (struct rte_udp_hdr *)(ip6 + 1);
	ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < UDP_LEN || ulen > plen) {
		*drop = L2_DROP_UDP_HEADER;
		return L2_DROP;
	}
	/* RFC 8200 §8.1: the UDP checksum is mandatory over IPv6 */
	ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (udp->dgram_cksum == 0 || ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	    (ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
	     l4_sum(ip6->src_addr, 32, IPPROTO_UDP, udp, ulen) != 0xffff)) {
		*drop = L2_DROP_UDP_CHECKSUM;
		return L2_DROP;
	}
	sotto_addr_v6(&meta->src, ip6->src_addr,
		      rte_be_to_cpu_16(udp->src_port));
	sotto_addr_v6(&meta->dst, ip6->dst_addr,
		      rte_be_to_cpu_16(udp->dst_port));
	if (ulen < plen)
		rte_pktmbuf_trim(m, (uint16_t)(plen - ulen));
	rte_pktmbuf_adj(m, (uint16_t)(l2len + IP6_LEN + UDP_LEN));
	return L2_UDP;
}

/* ---- Ethernet, 802.1Q ---- */

enum eth_dst { ETH_DST_OTHER, ETH_DST_US, ETH_DST_BCAST, ETH_DST_MCAST };

static inline enum eth_dst
eth_dst_kind(const struct l2_port *p, const struct rte_ether_addr *d)
{
	const uint8_t *b = d->addr_bytes;

	if (rte_is_same_ether_addr(d, &p->mac))
		return ETH_DST_US;
	if (rte_is_broadcast_ether_addr(d))
		return ETH_DST_BCAST;
	/* RFC 2464 §7: 33:33 + the low 32 bits of the IPv6 group */
	if (p->has_ip6 && b[0] == 0x33 && b[1] == 0x33) {
		if (b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 1)
			return ETH_DST_MCAST;
		if (b[2] == 0xff && (memcmp(b + 3, p->ip6 + 13, 3) == 0 ||
				     memcmp(b + 3, p->ip6_ll + 13, 3) == 0))
			return ETH_DST_MCAST;
	}
	return ETH_DST_OTHER;
}

enum l2_verdict
l2_rx(const struct l2_port *p, struct l2_neigh *nt, struct rte_mbuf *m,
      struct dp_meta *meta, uint64_t now_tsc, enum l2_drop *drop)
{
	uint32_t len = rte_pktmbuf_data_len(m), l2len = ETH_LEN;
	bool stripped = (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) != 0;
	struct rte_ether_hdr *eth;
	struct rte_vlan_hdr *vh;
	enum eth_dst kind;
	uint16_t type, vid = 0;
	bool tagged = stripped;

	if (m->nb_segs != 1 || len < ETH_LEN) {
		*drop = L2_DROP_TRUNCATED;
		return L2_DROP;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	type = rte_be_to_cpu_16(eth->ether_type);
	if (stripped)
		vid = m->vlan_tci & 0xfff;
	if (type == RTE_ETHER_TYPE_VLAN && !stripped) {
		if (len < ETH_LEN + VLAN_LEN) {
			*drop = L2_DROP_TRUNCATED;
			return L2_DROP;
		}
		vh = (struct rte_vlan_hdr *)(eth + 1);
		vid = rte_be_to_cpu_16(vh->vlan_tci) & 0xfff;
		type = rte_be_to_cpu_16(vh->eth_proto);
		l2len += VLAN_LEN;
		tagged = true;
	}
	/* IEEE 802.1Q: VID 0 is a priority tag, i.e. untagged. QinQ and a
	 * second tag are never ours. */
	if (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ ||
	    type == RTE_ETHER_TYPE_QINQ1 || vid != p->vlan ||
	    (p->vlan != 0 && !tagged)) {
		*drop = L2_DROP_VLAN;
		return L2_DROP;
	}
	kind = eth_dst_kind(p, &eth->dst_addr);
	switch (type) {
	case RTE_ETHER_TYPE_ARP:
		if (kind != ETH_DST_US && kind != ETH_DST_BCAST)
			break;
		return rx_arp(p, nt, m, l2len, stripped, now_tsc, drop);
	case RTE_ETHER_TYPE_IPV4:
		if (kind != ETH_DST_US)
			break;
		return rx_ipv4(p, m, meta, l2len, stripped, drop);
	case RTE_ETHER_TYPE_IPV6:
		if (kind != ETH_DST_US && kind != ETH_DST_MCAST)
			break;
		return rx_ipv6(p, nt, m, meta, l2len, kind == ETH_DST_MCAST,
			       stripped, now_tsc, drop);
	default:
		if (kind == ETH_DST_OTHER)
			break;
		*drop = L2_DROP_ETHERTYPE;
		return L2_DROP;
	}
	*drop = L2_DROP_NOT_FOR_US;
	return L2_DROP;
}

/* ---- transmit ---- */

int
l2_next_hop(const struct l2_port *p, const struct sotto_addr *dst,
	    struct sotto_addr *hop)
{
	uint32_t ip4;

	if (dst->family == AF_INET && p->has_ip4) {
		memcpy(&ip4, dst->ip, 4);
		if (ip4_on_link(p, ip4))
			sotto_addr_v4(hop, ip4, 0);
		else if (p->gw4 != 0)
			sotto_addr_v4(hop, p->gw4, 0);
		else
			return -1;
		return 0;
	}
	if (dst->family == AF_INET6 && p->has_ip6) {
		if (ip6_on_link(p, dst->ip))
			sotto_addr_v6(hop, dst->ip, 0);
		else if (!ip6_eq(p->gw6, in6_any))
			sotto_addr_v6(hop, p->gw6, 0);
		else
			return -1;
		return 0;
	}
	return -1;
}

/* Ethernet (+ 802.1Q) header at the front of m; returns what follows. */
static inline void *
eth_push(const struct l2_port *p, struct rte_mbuf *m,
	 const struct rte_ether_addr *dmac, uint16_t type)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_vlan_hdr *vh;

	rte_ether_addr_copy(dmac, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	if (p->vlan == 0) {
		eth->ether_type = rte_cpu_to_be_16(type);
		return eth + 1;
	}
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
	vh = (struct rte_vlan_hdr *)(eth + 1);
	vh->vlan_tci = rte_cpu_to_be_16(p->vlan & 0xfff);
	vh->eth_proto = rte_cpu_to_be_16(type);
	return vh + 1;
}

int
l2_encap_udp(const struct l2_port *p, struct rte_mbuf *m,
	     const struct dp_meta *meta, const struct rte_ether_addr *dmac,
	     uint16_t ip_id, enum l2_drop *drop)
{
	uint32_t l2len = ETH_LEN + (p->vlan ? VLAN_LEN : 0);
	uint32_t plen = rte_pktmbuf_pkt_len(m), ulen = plen + UDP_LEN;
	bool v4 = meta->dst.family == AF_INET;
	uint32_t l3len = v4 ? IP4_LEN : IP6_LEN;
	uint64_t ol = 0;
	struct rte_udp_hdr *udp;
	void *l3;

	if (meta->src.family != meta->dst.family ||
	    (meta->dst.family != AF_INET && meta->dst.family != AF_INET6) ||
	    ulen + (v4 ? IP4_LEN : 0) > UINT16_MAX) {
		*drop = L2_DROP_NO_ROUTE;
		return -1;
	}
	/* Software checksums need the datagram in one piece */
	if (m->nb_segs != 1 ||
	    rte_pktmbuf_headroom(m) < l2len + l3len + UDP_LEN) {
		*drop = L2_DROP_NO_HEADROOM;
		return -1;
	}
	rte_pktmbuf_prepend(m, (uint16_t)(l2len + l3len + UDP_LEN));
	l3 = eth_push(p, m, dmac,
		      v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	udp = (struct rte_udp_hdr *)((char *)l3 + l3len);
	udp->src_port = rte_cpu_to_be_16(meta->src.port);
	udp->dst_port = rte_cpu_to_be_16(meta->dst.port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)ulen);
	udp->dgram_cksum = 0;

	if (v4) {
		struct rte_ipv4_hdr *ip = l3;

		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = 0;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(IP4_LEN + ulen));
		ip->packet_id = rte_cpu_to_be_16(ip_id);
		/* No DF: a relay cannot act on ICMP "too big" it never sees */
		ip->fragment_offset = 0;
		ip->time_to_live = L2_TTL;
		ip->next_proto_id = IPPROTO_UDP;
		ip->hdr_checksum = 0;
		memcpy(&ip->src_addr, meta->src.ip, 4);
		memcpy(&ip->dst_addr, meta->dst.ip, 4);
		if (p->tx_ip4_cksum || p->tx_udp_cksum)
			ol |= RTE_MBUF_F_TX_IPV4;
		if (p->tx_ip4_cksum)
			ol |= RTE_MBUF_F_TX_IP_CKSUM;
		else
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		if (p->tx_udp_cksum) {
			ol |= RTE_MBUF_F_TX_UDP_CKSUM;
			/* the NIC expects the pseudo-header sum seeded */
			udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, ol);
		} else {
			udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
		}
	} else {
		struct rte_ipv6_hdr *ip6 = l3;

		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)ulen);
		ip6->proto = IPPROTO_UDP;
		ip6->hop_limits = L2_TTL;
		memcpy(ip6->src_addr, meta->src.ip, 16);
		memcpy(ip6->dst_addr, meta->dst.ip, 16);
		if (p->tx_udp_cksum) {
			ol |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
			udp->dgram_cksum = rte_ipv6_phdr_cksum(ip6, ol);
		} else {
			udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, udp);
		}
	}
	m->l2_len = l2len;
	m->l3_len = l3len;
	m->ol_flags = (m->ol_flags &
		       (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT)) | ol;
	return 0;
}

int
l2_build_solicit(const struct l2_port *p, struct rte_mbuf *m,
		 const struct sotto_addr *ip)
{
	uint32_t l2len = ETH_LEN + (p->vlan ? VLAN_LEN : 0);
	struct rte_ether_addr dmac;
	char *frame;

	if (ip->family == AF_INET && p->has_ip4) {
		struct rte_arp_hdr *arp;
		uint32_t len = RTE_MAX(l2len + ARP_LEN,
				       (uint32_t)ETH_MIN_FRAME);

		frame = rte_pktmbuf_append(m, (uint16_t)len);
		if (frame == NULL)
			return -1;
		memset(frame, 0, len);
		memset(&dmac, 0xff, sizeof(dmac));
		arp = eth_push(p, m, &dmac, RTE_ETHER_TYPE_ARP);
		/* RFC 826: who has ip? tell p->ip4; target MAC unknown (0) */
		arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
		arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		arp->arp_hlen = RTE_ETHER_ADDR_LEN;
		arp->arp_plen = 4;
		arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
		rte_ether_addr_copy(&p->mac, &arp->arp_data.arp_sha);
		arp->arp_data.arp_sip = p->ip4;
		memcpy(&arp->arp_data.arp_tip, ip->ip, 4);
	} else if (ip->family == AF_INET6 && p->has_ip6) {
		uint32_t len = l2len + IP6_LEN + ND_LEN + OPT_LEN;
		struct rte_ipv6_hdr *ip6;
		struct nd_opt_lla *sll;
		struct nd_msg *nd;

		frame = rte_pktmbuf_append(m, (uint16_t)len);
		if (frame == NULL)
			return -1;
		memset(frame, 0, len);
		/* RFC 2464 §7: 33:33:ff + last 3 bytes of the target */
		dmac.addr_bytes[0] = 0x33;
		dmac.addr_bytes[1] = 0x33;
		dmac.addr_bytes[2] = 0xff;
		memcpy(&dmac.addr_bytes[3], ip->ip + 13, 3);
		ip6 = eth_push(p, m, &dmac, RTE_ETHER_TYPE_IPV6);
		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(ND_LEN + OPT_LEN));
		ip6->proto = IPPROTO_ICMPV6;
		ip6->hop_limits = ND_HOP_LIMIT;
		/* A link-local target is asked from our link-local address,
		 * so the answer stays link-local too. */
		if (ip6_is_linklocal(ip->ip) && !ip6_eq(p->ip6_ll, in6_any))
			memcpy(ip6->src_addr, p->ip6_ll, 16);
		else
			memcpy(ip6->src_addr, p->ip6, 16);
		ip6_snmc(ip6->dst_addr, ip->ip);
		nd = (struct nd_msg *)(ip6 + 1);
		nd->type = ND_NEIGHBOR_SOLICIT;
		memcpy(nd->target, ip->ip, 16);
		sll = (struct nd_opt_lla *)(nd + 1);
		sll->type = ND_OPT_SOURCE_LLA;
		sll->len = 1;
		rte_ether_addr_copy(&p->mac, &sll->mac);
		nd->cksum = rte_ipv6_udptcp_cksum(ip6, nd);
	} else {
		return -1;
	}
	m->l2_len = l2len;
	m->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
	return 0;
}

/* ---- neighbour table ---- */

/*
 * Open addressing over a power-of-two array, L2_NEIGH_PROBES slots per
 * key. Entries are never emptied, only replaced, so a free slot ends a
 * probe. Each entry is a seqlock: a writer takes it by moving seq from even
 * to odd with a CAS and gives up if that fails (another worker is writing
 * the same slot: its update is as good as ours); readers retry once and
 * then treat the slot as busy. Fields are 64-bit words accessed with
 * relaxed atomics so that torn reads are impossible and the races are
 * defined behaviour.
 *
 * Lifetime: a resolved entry is fresh for L2_NEIGH_STALE_S seconds after
 * it was last learned. A stale one still resolves (the MAC is most likely
 * right and dropping traffic would be worse), but lookup also asks for a
 * solicitation, throttled like an unresolved one, so the answer refreshes
 * it; a neighbour that changed MAC is corrected by its reply.
 */
#define NEIGH_FREE 0
#define NEIGH_INCOMPLETE 1
#define NEIGH_REACHABLE 2

#define NEIGH_BUSY -2
#define NEIGH_MISS -1

struct neigh_snap {
	uint32_t seq;
	uint64_t key[2];
	uint64_t link;
	uint64_t last_update;
	uint64_t last_solicit;
};

static inline uint8_t
link_state(uint64_t link)
{
	uint8_t b[8];

	memcpy(b, &link, 8);
	return b[6];
}

static inline uint64_t
link_make(const struct rte_ether_addr *mac, uint8_t state)
{
	uint8_t b[8] = { 0 };
	uint64_t link;

	if (mac != NULL)
		memcpy(b, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	b[6] = state;
	memcpy(&link, b, 8);
	return link;
}

static inline void
link_mac(uint64_t link, struct rte_ether_addr *mac)
{
	memcpy(mac->addr_bytes, &link, RTE_ETHER_ADDR_LEN);
}

/* IPv4 keys are the IPv4-mapped form (RFC 4291 §2.5.5.2), which no IPv6
 * neighbour can have (such IPv6 addresses are refused), so one 16-byte key
 * covers both families. */
static inline bool
neigh_key(const struct sotto_addr *ip, uint64_t key[2])
{
	uint8_t b[16] = { 0 };

	if (ip->family == AF_INET) {
		b[10] = 0xff;
		b[11] = 0xff;
		memcpy(b + 12, ip->ip, 4);
	} else if (ip->family == AF_INET6) {
		memcpy(b, ip->ip, 16);
		if (memcmp(b, (const uint8_t[12]){ [10] = 0xff, [11] = 0xff },
			   12) == 0)
			return false;
	} else {
		return false;
	}
	memcpy(key, b, 16);
	return true;
}

static inline uint32_t
neigh_hash(const uint64_t key[2])
{
	/* Both words through a full 64-bit finaliser (MurmurHash3's fmix64):
	 * an IPv4 key differs only in its last bytes, which a plain multiply
	 * never carries down to the low bits the table index uses. */
	uint64_t h = key[1];

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h ^= key[0];
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static inline bool
neigh_read(const struct l2_neigh_entry *e, struct neigh_snap *s)
{
	uint32_t s1, s2;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		s->key[0] = __atomic_load_n(&e->key[0], __ATOMIC_RELAXED);
		s->key[1] = __atomic_load_n(&e->key[1], __ATOMIC_RELAXED);
		s->link = __atomic_load_n(&e->link, __ATOMIC_RELAXED);
		s->last_update = __atomic_load_n(&e->last_update,
						 __ATOMIC_RELAXED);
		s->last_solicit = __atomic_load_n(&e->last_solicit,
						  __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
		if (s1 == s2) {
			s->seq = s1;
			return true;
		}
	}
	return false;
}

/* Takes e if nobody wrote it since it read as seq. */
static inline bool
neigh_claim(struct l2_neigh_entry *e, uint32_t seq)
{
	if (!__atomic_compare_exchange_n(&e->seq, &seq, seq + 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	/* orders the odd seq before the field stores for readers */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return true;
}

static inline void
neigh_release(struct l2_neigh_entry *e, uint32_t seq)
{
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

static inline void
neigh_store(uint64_t *field, uint64_t v)
{
	__atomic_store_n(field, v, __ATOMIC_RELAXED);
}

/*
 * Finds key. Returns the slot index (snapshot in *s), NEIGH_MISS with
 * *victim the slot to fill (snapshot in *s), or NEIGH_BUSY when a slot on
 * the way was being written (then the key might be there: do nothing).
 * Victims: a free slot, else the oldest unresolved entry, else the entry
 * learned longest ago.
 */
static int
neigh_probe(const struct l2_neigh *nt, const uint64_t key[2],
	    struct neigh_snap *s, uint32_t *victim)
{
	uint32_t h = neigh_hash(key), i, idx, best = UINT32_MAX;
	struct neigh_snap cur, vs = { 0 };
	uint8_t st, best_st = 0;

	for (i = 0; i < nt->probes; i++) {
		idx = (h + i) & nt->mask;
		if (!neigh_read(&nt->e[idx], &cur))
			return NEIGH_BUSY;
		st = link_state(cur.link);
		if (st == NEIGH_FREE) {
			*victim = idx;
			*s = cur;
			return NEIGH_MISS;
		}
		if (cur.key[0] == key[0] && cur.key[1] == key[1]) {
			*s = cur;
			return (int)idx;
		}
		if (best == UINT32_MAX ||
		    (st == NEIGH_INCOMPLETE && best_st != NEIGH_INCOMPLETE) ||
		    (st == best_st && cur.last_update < vs.last_update)) {
			best = idx;
			best_st = st;
			vs = cur;
		}
	}
	*victim = best;
	*s = vs;
	return NEIGH_MISS;
}

/* RFC 4861 §7.2.2 / RFC 1122 §2.3.2.1: rate-limit solicitations */
static inline bool
neigh_solicit_due(struct l2_neigh_entry *e, const struct neigh_snap *s,
		  uint64_t now, uint64_t hz)
{
	uint64_t iv = hz / (1000 / L2_NEIGH_SOLICIT_MS);

	if (now < s->last_solicit + iv && now >= s->last_solicit)
		return false;
	if (!neigh_claim(e, s->seq))
		return false;   /* another worker is on it */
	neigh_store(&e->last_solicit, now);
	neigh_release(e, s->seq);
	return true;
}

int
l2_neigh_lookup(struct l2_neigh *nt, const struct sotto_addr *ip,
		uint64_t now_tsc, uint64_t hz, struct rte_ether_addr *mac,
		bool *should_solicit)
{
	struct l2_neigh_entry *e;
	struct neigh_snap s;
	uint64_t key[2];
	uint32_t victim;
	int r;

	*should_solicit = false;
	if (!neigh_key(ip, key))
		return 0;
	r = neigh_probe(nt, key, &s, &victim);
	if (r == NEIGH_BUSY)
		return 0;
	if (r >= 0) {
		e = &nt->e[r];
		if (link_state(s.link) == NEIGH_REACHABLE) {
			link_mac(s.link, mac);
			if (now_tsc - s.last_update >= hz * L2_NEIGH_STALE_S &&
			    now_tsc > s.last_update)
				*should_solicit =
					neigh_solicit_due(e, &s, now_tsc, hz);
			return 1;
		}
		*should_solicit = neigh_solicit_due(e, &s, now_tsc, hz);
		return 0;
	}
	/* New unresolved address: remember when we asked */
	e = &nt->e[victim];
	if (!neigh_claim(e, s.seq))
		return 0;
	neigh_store(&e->key[0], key[0]);
	neigh_store(&e->key[1], key[1]);
	neigh_store(&e->link, link_make(NULL, NEIGH_INCOMPLETE));
	neigh_store(&e->last_update, now_tsc);
	neigh_store(&e->last_solicit, now_tsc);
	neigh_release(e, s.seq);
	*should_solicit = true;
	return 0;
}

void
l2_neigh_learn(struct l2_neigh *nt, const struct sotto_addr *ip,
	       const struct rte_ether_addr *mac, uint64_t now_tsc)
{
	struct l2_neigh_entry *e;
	struct neigh_snap s;
	uint64_t key[2];
	uint32_t victim;
	int r;

	if (!neigh_key(ip, key))
		return;
	r = neigh_probe(nt, key, &s, &victim);
	if (r == NEIGH_BUSY)
		return;
	e = &nt->e[r >= 0 ? (uint32_t)r : victim];
	if (!neigh_claim(e, s.seq))
		return;
	if (r < 0) {
		neigh_store(&e->key[0], key[0]);
		neigh_store(&e->key[1], key[1]);
		neigh_store(&e->last_solicit, 0);
	}
	neigh_store(&e->link, link_make(mac, NEIGH_REACHABLE));
	neigh_store(&e->last_update, now_tsc);
	neigh_release(e, s.seq);
}

/* ---- control thread only: start and stop ---- */

struct l2_neigh *
l2_neigh_create(unsigned entries)
{
	struct l2_neigh *nt;

	if (entries == 0 || !rte_is_power_of_2(entries)) {
		errno = EINVAL;
		return NULL;
	}
	nt = rte_zmalloc("l2_neigh", sizeof(*nt) + /* fastpath-allow: control thread, start/stop */
			 (size_t)entries * sizeof(nt->e[0]),
			 RTE_CACHE_LINE_SIZE);
	if (nt == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	nt->mask = entries - 1;
	nt->probes = RTE_MIN(entries, (unsigned)L2_NEIGH_PROBES);
	return nt;
}

void
l2_neigh_free(struct l2_neigh *nt)
{
	rte_free(nt); /* fastpath-allow: control thread, start/stop */
}
