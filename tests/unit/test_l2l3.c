/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3 of the dpdk driver on frames crafted byte by byte: ARP, IPv4, IPv6
 * with ND, ICMP echo, UDP, VLAN, encapsulation, the neighbour table. The
 * checksums here are computed by the test's own RFC 1071 code, not DPDK's.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "check.h"
#include "dp.h"
#include "dpdk/l2l3.h"
#include "eal.h"

static struct rte_mempool *pool;
static struct l2_neigh *nt;
static struct l2_port us, peer;

#define HZ 1000000ull   /* synthetic TSC rate: 1 tick = 1 us */

static const uint8_t mac_us[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_peer[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mac_other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mac_snmc_us[6] = { 0x33, 0x33, 0xff, 0, 0, 0x01 };
static const uint8_t mac_allnodes[6] = { 0x33, 0x33, 0, 0, 0, 0x01 };

static uint8_t ip6_us[16], ip6_peer[16], ip6_ll_us[16], ip6_ll_peer[16];
static uint8_t ip6_snmc_us[16], ip6_allnodes[16], ip6_any[16];

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
static const uint32_t ip4_us = IP4(10, 0, 0, 1);
static const uint32_t ip4_peer = IP4(10, 0, 0, 2);

/* ---- byte helpers and RFC 1071 checksums ---- */

static void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void
put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static uint32_t
get32(const uint8_t *b)
{
	return ((uint32_t)get16(b) << 16) | get16(b + 2);
}

static uint32_t
sum16(const uint8_t *b, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)((b[i] << 8) | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)(b[n - 1] << 8);
	return sum;
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ~sum over data; 0 when data contains a correct checksum */
static uint16_t
csum(const uint8_t *b, size_t n)
{
	return (uint16_t)~fold(sum16(b, n, 0));
}

/* L4 checksum with pseudo-header; addrs = src||dst (8 or 32 bytes) */
static uint16_t
csum_l4(const uint8_t *addrs, size_t alen, uint8_t proto, const uint8_t *l4,
	size_t n)
{
	uint32_t s = sum16(addrs, alen, 0) + proto + (uint32_t)n;

	return (uint16_t)~fold(sum16(l4, n, s));
}

static size_t
put_eth(uint8_t *b, const uint8_t *dst, const uint8_t *src, uint16_t type,
	int vlan)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	if (vlan < 0) {
		put16(b + 12, type);
		return 14;
	}
	put16(b + 12, 0x8100);
	put16(b + 14, (uint16_t)vlan);
	put16(b + 16, type);
	return 18;
}

static void
ip4_fix(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, csum(ip, ihl));
}

/* UDP checksum over the datagram that starts after the IPv4 header */
static void
udp4_fix(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	uint8_t *udp = ip + ihl;
	uint16_t c;

	put16(udp + 6, 0);
	c = csum_l4(ip + 12, 8, 17, udp, get16(udp + 4));
	put16(udp + 6, c ? c : 0xffff);
}

/* Ethernet + IPv4 (optlen bytes of NOP options) + UDP, checksums right. */
static size_t
udp4_frame(uint8_t *b, int vlan, const uint8_t *dmac, uint32_t sip,
	   uint32_t dip, uint16_t sport, uint16_t dport, const void *pl,
	   size_t plen, size_t optlen)
{
	size_t l2 = put_eth(b, dmac, mac_peer, 0x0800, vlan);
	uint8_t *ip = b + l2;
	size_t ihl = 20 + optlen;
	uint8_t *udp = ip + ihl;

	memset(ip, 0, ihl);
	ip[0] = (uint8_t)(0x40 | (ihl / 4));
	put16(ip + 2, (uint16_t)(ihl + 8 + plen));
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 17;
	put32(ip + 12, sip);
	put32(ip + 16, dip);
	memset(ip + 20, 1, optlen);
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	memcpy(udp + 8, pl, plen);
	ip4_fix(ip);
	udp4_fix(ip);
	return l2 + ihl + 8 + plen;
}

static size_t
arp_frame(uint8_t *b, int vlan, const uint8_t *dmac, uint16_t op,
	  const uint8_t *sha, uint32_t sip, const uint8_t *tha, uint32_t tip)
{
	size_t l2 = put_eth(b, dmac, sha, 0x0806, vlan);
	uint8_t *a = b + l2;

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, sip);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tip);
	return l2 + 28;
}

static void
l4_6_fix(uint8_t *ip6, size_t csum_off)
{
	uint8_t *l4 = ip6 + 40;
	size_t n = get16(ip6 + 4);
	uint16_t c;

	put16(l4 + csum_off, 0);
	c = csum_l4(ip6 + 8, 32, ip6[6], l4, n);
	if (ip6[6] == 17 && c == 0)
		c = 0xffff;
	put16(l4 + csum_off, c);
}

/* Ethernet + IPv6 header + l4 bytes (checksum filled at csum_off) */
static size_t
ip6_frame(uint8_t *b, int vlan, const uint8_t *dmac, const uint8_t *smac,
	  const uint8_t *src, const uint8_t *dst, uint8_t proto, uint8_t hop,
	  const uint8_t *l4, size_t n, size_t csum_off)
{
	size_t l2 = put_eth(b, dmac, smac, 0x86dd, vlan);
	uint8_t *ip6 = b + l2;

	memset(ip6, 0, 40);
	ip6[0] = 0x60;
	put16(ip6 + 4, (uint16_t)n);
	ip6[6] = proto;
	ip6[7] = hop;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	memcpy(ip6 + 40, l4, n);
	l4_6_fix(ip6, csum_off);
	return l2 + 40 + n;
}

static size_t
udp6_frame(uint8_t *b, int vlan, const uint8_t *src, const uint8_t *dst,
	   uint16_t sport, uint16_t dport, const void *pl, size_t plen)
{
	uint8_t udp[256];

	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	put16(udp + 6, 0);
	memcpy(udp + 8, pl, plen);
	return ip6_frame(b, vlan, mac_us, mac_peer, src, dst, 17, 64, udp,
			 8 + plen, 6);
}

/* NS (with_sll: source link-layer option of smac) */
static size_t
ns_frame(uint8_t *b, const uint8_t *dmac, const uint8_t *smac,
	 const uint8_t *src, const uint8_t *dst, const uint8_t *target,
	 uint8_t hop, int with_sll)
{
	uint8_t nd[32] = { 135, 0 };

	memcpy(nd + 8, target, 16);
	nd[24] = 1;
	nd[25] = 1;
	memcpy(nd + 26, smac, 6);
	return ip6_frame(b, -1, dmac, smac, src, dst, 58, hop, nd,
			 with_sll ? 32 : 24, 2);
}

static struct rte_mbuf *
mk(const uint8_t *b, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *d;

	CHECK(m != NULL);
	d = rte_pktmbuf_append(m, (uint16_t)n);
	CHECK(d != NULL || n == 0);
	if (n)
		memcpy(d, b, n);
	return m;
}

static enum l2_verdict
rx_on(const struct l2_port *p, struct rte_mbuf *m, struct dp_meta *meta,
      enum l2_drop *drop)
{
	*drop = L2_N_DROPS;
	return l2_rx(p, nt, m, meta, 1000, drop);
}

/* Runs b through our port and expects a drop for why; frees the mbuf. */
#define EXPECT_DROP(p, b, n, why)                                             \
	do {                                                                  \
		struct rte_mbuf *_m = mk((b), (n));                           \
		struct dp_meta _meta;                                         \
		enum l2_drop _d;                                              \
		enum l2_verdict _v = rx_on((p), _m, &_meta, &_d);             \
		CHECK_EQ(_v, L2_DROP);                                        \
		if (_v == L2_DROP) {                                          \
			CHECK_EQ(_d, (why));                                  \
			rte_pktmbuf_free(_m);                                 \
		}                                                             \
	} while (0)

static struct sotto_addr
a4(uint32_t ip, uint16_t port)
{
	struct sotto_addr a;

	sotto_addr_v4(&a, htonl(ip), port);
	return a;
}

static struct sotto_addr
a6(const uint8_t *ip, uint16_t port)
{
	struct sotto_addr a;

	sotto_addr_v6(&a, ip, port);
	return a;
}

static int
resolves(const struct sotto_addr *ip, const uint8_t *mac)
{
	struct rte_ether_addr got;
	bool sol;

	if (l2_neigh_lookup(nt, ip, 2000, HZ, &got, &sol) != 1)
		return 0;
	return memcmp(got.addr_bytes, mac, 6) == 0;
}

static void
setup(void)
{
	CHECK(test_eal_init() == 0);
	pool = rte_pktmbuf_pool_create("l2_pool", 1023, 0, DP_MBUF_PRIV_SIZE,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	CHECK(pool != NULL);
	nt = l2_neigh_create(1024);
	CHECK(nt != NULL);

	inet_pton(AF_INET6, "2001:db8::1", ip6_us);
	inet_pton(AF_INET6, "2001:db8::2", ip6_peer);
	inet_pton(AF_INET6, "fe80::1", ip6_ll_us);
	inet_pton(AF_INET6, "fe80::2", ip6_ll_peer);
	inet_pton(AF_INET6, "ff02::1:ff00:1", ip6_snmc_us);
	inet_pton(AF_INET6, "ff02::1", ip6_allnodes);

	memcpy(us.mac.addr_bytes, mac_us, 6);
	us.has_ip4 = us.has_ip6 = true;
	us.ip4 = htonl(ip4_us);
	us.prefix4 = 24;
	us.gw4 = htonl(IP4(10, 0, 0, 254));
	memcpy(us.ip6, ip6_us, 16);
	us.prefix6 = 64;
	memcpy(us.ip6_ll, ip6_ll_us, 16);
	inet_pton(AF_INET6, "fe80::fe", us.gw6);

	peer = us;
	memcpy(peer.mac.addr_bytes, mac_peer, 6);
	peer.ip4 = htonl(ip4_peer);
	memcpy(peer.ip6, ip6_peer, 16);
	memcpy(peer.ip6_ll, ip6_ll_peer, 16);
}

/* ---- ARP ---- */

static void
test_arp(void)
{
	uint8_t b[128], zero[6] = { 0 };
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	struct sotto_addr ip;
	const uint8_t *r;
	size_t n;

	/* request for us: the frame becomes the reply, every field */
	n = arp_frame(b, -1, mac_bcast, 1, mac_peer, ip4_peer, zero, ip4_us);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(rte_pktmbuf_data_len(m), 60);      /* padded to minimum */
	CHECK_MEM(r, mac_peer, 6);
	CHECK_MEM(r + 6, mac_us, 6);
	CHECK_EQ(get16(r + 12), 0x0806);
	CHECK_EQ(get16(r + 14), 1);
	CHECK_EQ(get16(r + 16), 0x0800);
	CHECK_EQ(r[18], 6);
	CHECK_EQ(r[19], 4);
	CHECK_EQ(get16(r + 20), 2);
	CHECK_MEM(r + 22, mac_us, 6);
	CHECK_EQ(get32(r + 28), ip4_us);
	CHECK_MEM(r + 32, mac_peer, 6);
	CHECK_EQ(get32(r + 38), ip4_peer);
	CHECK_EQ(r[42], 0);
	CHECK_EQ(r[59], 0);
	rte_pktmbuf_free(m);
	ip = a4(ip4_peer, 0);
	CHECK(resolves(&ip, mac_peer));   /* the requester was learned */

	/* unicast ARP request (RFC 1122 refresh) is fine too */
	n = arp_frame(b, -1, mac_us, 1, mac_peer, ip4_peer, zero, ip4_us);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	rte_pktmbuf_free(m);

	/* request for someone else */
	n = arp_frame(b, -1, mac_bcast, 1, mac_peer, ip4_peer, zero,
		      IP4(10, 0, 0, 3));
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);

	/* reply from 10.0.0.5: learned, consumed (freed by l2_rx) */
	n = arp_frame(b, -1, mac_us, 2, mac_other, IP4(10, 0, 0, 5), mac_us,
		      ip4_us);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
	ip = a4(IP4(10, 0, 0, 5), 0);
	CHECK(resolves(&ip, mac_other));

	/* gratuitous: request with sender == target, broadcast */
	n = arp_frame(b, -1, mac_bcast, 1, mac_other, IP4(10, 0, 0, 6), zero,
		      IP4(10, 0, 0, 6));
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
	ip = a4(IP4(10, 0, 0, 6), 0);
	CHECK(resolves(&ip, mac_other));

	/* a reply about an address off our link teaches nothing */
	n = arp_frame(b, -1, mac_us, 2, mac_other, IP4(192, 0, 2, 9), mac_us,
		      ip4_us);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	ip = a4(IP4(192, 0, 2, 9), 0);
	CHECK(!resolves(&ip, mac_other));

	/* ARP to a MAC that is not ours */
	n = arp_frame(b, -1, mac_other, 1, mac_peer, ip4_peer, zero, ip4_us);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);

	/* truncated, every length */
	n = arp_frame(b, -1, mac_bcast, 1, mac_peer, ip4_peer, zero, ip4_us);
	for (size_t k = 0; k < n; k++)
		EXPECT_DROP(&us, b, k, L2_DROP_TRUNCATED);

	/* malformed: hardware length, opcode, protocol, multicast sender */
	b[18] = 8;
	EXPECT_DROP(&us, b, n, L2_DROP_ARP);
	b[18] = 6;
	put16(b + 20, 3);
	EXPECT_DROP(&us, b, n, L2_DROP_ARP);
	put16(b + 20, 1);
	put16(b + 16, 0x86dd);
	EXPECT_DROP(&us, b, n, L2_DROP_ARP);
	put16(b + 16, 0x0800);
	b[22] = 0x01;
	EXPECT_DROP(&us, b, n, L2_DROP_ARP);
}

/* ---- IPv4 ---- */

static const uint8_t payload[] = "hello, relay";
#define PLEN (sizeof(payload) - 1)

static void
test_ipv4_udp(void)
{
	uint8_t b[256];
	struct sotto_addr want;
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	size_t n;

	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 40000, 3478, payload,
		       PLEN, 0);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	want = a4(ip4_peer, 40000);
	CHECK(sotto_addr_eq(&meta.src, &want));
	want = a4(ip4_us, 3478);
	CHECK(sotto_addr_eq(&meta.dst, &want));
	CHECK_EQ(rte_pktmbuf_data_len(m), PLEN);
	CHECK_EQ(rte_pktmbuf_pkt_len(m), PLEN);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);

	/* wrong MAC, wrong IP, broadcast MAC, broadcast IP */
	n = udp4_frame(b, -1, mac_other, ip4_peer, ip4_us, 1, 2, payload, PLEN,
		       0);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	n = udp4_frame(b, -1, mac_us, ip4_peer, IP4(10, 0, 0, 3), 1, 2,
		       payload, PLEN, 0);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	n = udp4_frame(b, -1, mac_bcast, ip4_peer, ip4_us, 1, 2, payload, PLEN,
		       0);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	n = udp4_frame(b, -1, mac_us, ip4_peer, IP4(10, 0, 0, 255), 1, 2,
		       payload, PLEN, 0);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);

	/* unknown ethertype to us */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	put16(b + 12, 0x88cc);
	EXPECT_DROP(&us, b, n, L2_DROP_ETHERTYPE);

	/* bad IP checksum; the NIC's verdict wins either way */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	b[14 + 10] ^= 0x40;
	EXPECT_DROP(&us, b, n, L2_DROP_IP_CHECKSUM);
	m = mk(b, n);
	m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	rte_pktmbuf_free(m);
	b[14 + 10] ^= 0x40;
	m = mk(b, n);
	m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_DROP);
	CHECK_EQ(d, L2_DROP_IP_CHECKSUM);
	rte_pktmbuf_free(m);

	/* bad UDP checksum; NIC says good / bad */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	b[14 + 20 + 8] ^= 1;    /* payload byte */
	EXPECT_DROP(&us, b, n, L2_DROP_UDP_CHECKSUM);
	m = mk(b, n);
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	rte_pktmbuf_free(m);
	b[14 + 20 + 8] ^= 1;
	m = mk(b, n);
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_DROP);
	CHECK_EQ(d, L2_DROP_UDP_CHECKSUM);
	rte_pktmbuf_free(m);

	/* zero UDP checksum: none computed, accepted over IPv4 */
	put16(b + 14 + 20 + 6, 0);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);

	/* IP total length beyond the frame, below ihl; version; ihl */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	put16(b + 14 + 2, (uint16_t)(n - 14 + 1));
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_TRUNCATED);
	put16(b + 14 + 2, 19);
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_IP_HEADER);
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	b[14] = 0x55;
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_IP_HEADER);
	b[14] = 0x44;
	put16(b + 14 + 10, 0);
	EXPECT_DROP(&us, b, n, L2_DROP_IP_HEADER);

	/* UDP length: below 8, above the IP payload */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	put16(b + 14 + 20 + 4, 7);
	EXPECT_DROP(&us, b, n, L2_DROP_UDP_HEADER);
	put16(b + 14 + 20 + 4, (uint16_t)(8 + PLEN + 1));
	EXPECT_DROP(&us, b, n, L2_DROP_UDP_HEADER);
	/* IP payload shorter than a UDP header */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	put16(b + 14 + 2, 20 + 7);
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_UDP_HEADER);

	/* UDP shorter than the IP payload: trimmed to the UDP length */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 7, 8, payload, PLEN, 0);
	put16(b + 14 + 20 + 4, 8 + 5);
	udp4_fix(b + 14);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_EQ(rte_pktmbuf_data_len(m), 5);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, 5);
	rte_pktmbuf_free(m);

	/* every prefix of a minimal (empty-payload) UDP frame and of a
	 * tagged one is truncated; the whole one is accepted */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, 0, 0);
	CHECK_EQ(n, 42);
	for (size_t k = 0; k < n; k++)
		EXPECT_DROP(&us, b, k, L2_DROP_TRUNCATED);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_EQ(rte_pktmbuf_data_len(m), 0);
	rte_pktmbuf_free(m);
	us.vlan = 7;
	n = udp4_frame(b, 7, mac_us, ip4_peer, ip4_us, 1, 2, payload, 0, 0);
	for (size_t k = 0; k < n; k++)
		EXPECT_DROP(&us, b, k, L2_DROP_TRUNCATED);
	us.vlan = 0;

	/* a two-segment mbuf is treated as truncated */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	m = mk(b, 30);
	{
		struct rte_mbuf *m2 = mk(b + 30, n - 30);

		CHECK_EQ(rte_pktmbuf_chain(m, m2), 0);
	}
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_DROP);
	CHECK_EQ(d, L2_DROP_TRUNCATED);
	rte_pktmbuf_free(m);

	/* Ethernet padding: 60-byte frame around a 4-byte payload */
	memset(b, 0xee, sizeof(b));
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, 4, 0);
	CHECK_EQ(n, 46);
	m = mk(b, 60);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_EQ(rte_pktmbuf_data_len(m), 4);
	CHECK_EQ(rte_pktmbuf_pkt_len(m), 4);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, 4);
	rte_pktmbuf_free(m);

	/* fragments: MF, offset; DF alone is fine */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	put16(b + 14 + 6, 0x2000);
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_FRAGMENT);
	put16(b + 14 + 6, 0x0010);
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_FRAGMENT);
	put16(b + 14 + 6, 0x4000);
	ip4_fix(b + 14);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	rte_pktmbuf_free(m);

	/* options skipped (8 bytes of NOPs), and the maximum 40 */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 5, 6, payload, PLEN, 8);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_EQ(meta.src.port, 5);
	CHECK_EQ(meta.dst.port, 6);
	CHECK_EQ(rte_pktmbuf_data_len(m), PLEN);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 5, 6, payload, PLEN, 40);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);

	/* TCP */
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	b[14 + 9] = 6;
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_PROTO);
}

static size_t
icmp4_frame(uint8_t *b, uint8_t type, size_t optlen)
{
	size_t n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 0, 0, payload,
			      PLEN, optlen);
	uint8_t *ip = b + 14, *icmp = ip + 20 + optlen;

	/* reuse the UDP layout: 8-byte header, then payload */
	ip[9] = 1;
	ip4_fix(ip);
	icmp[0] = type;
	icmp[1] = 0;
	put16(icmp + 4, 0xbeef);    /* identifier */
	put16(icmp + 6, 7);         /* sequence */
	put16(icmp + 2, 0);
	put16(icmp + 2, csum(icmp, 8 + PLEN));
	return n;
}

static void
test_icmp4(void)
{
	uint8_t b[256];
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	const uint8_t *r;
	size_t n;

	for (size_t opt = 0; opt <= 8; opt += 8) {
		n = icmp4_frame(b, 8, opt);
		m = mk(b, n);
		CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
		r = rte_pktmbuf_mtod(m, const uint8_t *);
		CHECK_EQ(rte_pktmbuf_data_len(m), n - opt);
		CHECK_MEM(r, mac_peer, 6);
		CHECK_MEM(r + 6, mac_us, 6);
		CHECK_EQ(r[14], 0x45);              /* options dropped */
		CHECK_EQ(get16(r + 16), 20 + 8 + PLEN);
		CHECK_EQ(r[22], 64);
		CHECK_EQ(r[23], 1);
		CHECK_EQ(csum(r + 14, 20), 0);      /* header checksum */
		CHECK_EQ(get32(r + 26),
			 ip4_us);
		CHECK_EQ(get32(r + 30),
			 ip4_peer);
		CHECK_EQ(r[34], 0);                 /* echo reply */
		CHECK_EQ(r[35], 0);
		CHECK_EQ(get16(r + 38), 0xbeef);
		CHECK_EQ(get16(r + 40), 7);
		CHECK_MEM(r + 42, payload, PLEN);
		CHECK_EQ(csum(r + 34, 8 + PLEN), 0);
		rte_pktmbuf_free(m);
	}

	n = icmp4_frame(b, 13, 0);          /* timestamp */
	EXPECT_DROP(&us, b, n, L2_DROP_ICMP);
	n = icmp4_frame(b, 8, 0);
	b[14 + 20 + 8] ^= 1;                /* bad ICMP checksum */
	EXPECT_DROP(&us, b, n, L2_DROP_ICMP);
	n = icmp4_frame(b, 8, 0);           /* from a broadcast source */
	put32(b + 14 + 12, 0xffffffff);
	ip4_fix(b + 14);
	EXPECT_DROP(&us, b, n, L2_DROP_ICMP);
}

static void
test_vlan(void)
{
	uint8_t b[256];
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	const uint8_t *r;
	size_t n;

	us.vlan = 100;
	n = udp4_frame(b, 100, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN,
		       0);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);
	/* PCP bits do not matter */
	put16(b + 14, 0xa000 | 100);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	rte_pktmbuf_free(m);

	n = udp4_frame(b, 101, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN,
		       0);
	EXPECT_DROP(&us, b, n, L2_DROP_VLAN);
	n = udp4_frame(b, -1, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN,
		       0);
	EXPECT_DROP(&us, b, n, L2_DROP_VLAN);

	/* the NIC stripped the tag: the reply gets it back */
	{
		uint8_t zero[6] = { 0 };

		n = arp_frame(b, -1, mac_bcast, 1, mac_peer, ip4_peer, zero,
			      ip4_us);
		m = mk(b, n);
		m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
		m->vlan_tci = 100;
		CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
		r = rte_pktmbuf_mtod(m, const uint8_t *);
		CHECK_EQ(get16(r + 12), 0x8100);
		CHECK_EQ(get16(r + 14), 100);
		CHECK_EQ(get16(r + 16), 0x0806);
		CHECK_EQ(get16(r + 18 + 6), 2);
		rte_pktmbuf_free(m);
		/* ARP reply in a tag keeps the tag */
		n = arp_frame(b, 100, mac_bcast, 1, mac_peer, ip4_peer, zero,
			      ip4_us);
		m = mk(b, n);
		CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
		r = rte_pktmbuf_mtod(m, const uint8_t *);
		CHECK_EQ(get16(r + 12), 0x8100);
		CHECK_EQ(get16(r + 14), 100);
		CHECK_EQ(get16(r + 18 + 6), 2);
		CHECK_MEM(r + 18 + 8, mac_us, 6);
		rte_pktmbuf_free(m);
	}

	us.vlan = 0;
	n = udp4_frame(b, 100, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN,
		       0);
	EXPECT_DROP(&us, b, n, L2_DROP_VLAN);
	/* 802.1Q priority tag (VID 0) is untagged */
	n = udp4_frame(b, 0, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	rte_pktmbuf_free(m);
	/* QinQ, and a tag inside a tag */
	n = udp4_frame(b, 0, mac_us, ip4_peer, ip4_us, 1, 2, payload, PLEN, 0);
	put16(b + 12, 0x88a8);
	EXPECT_DROP(&us, b, n, L2_DROP_VLAN);
	put16(b + 12, 0x8100);
	put16(b + 16, 0x8100);
	EXPECT_DROP(&us, b, n, L2_DROP_VLAN);
}

/* ---- IPv6 ---- */

static void
test_ipv6_udp(void)
{
	uint8_t b[256];
	struct sotto_addr want;
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	size_t n;

	n = udp6_frame(b, -1, ip6_peer, ip6_us, 50000, 3478, payload, PLEN);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	want = a6(ip6_peer, 50000);
	CHECK(sotto_addr_eq(&meta.src, &want));
	want = a6(ip6_us, 3478);
	CHECK(sotto_addr_eq(&meta.dst, &want));
	CHECK_EQ(rte_pktmbuf_data_len(m), PLEN);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);

	/* with Ethernet padding after a short datagram */
	memset(b, 0, sizeof(b));
	n = udp6_frame(b, -1, ip6_peer, ip6_us, 1, 2, payload, 1);
	m = mk(b, n + 10);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_UDP);
	CHECK_EQ(rte_pktmbuf_data_len(m), 1);
	rte_pktmbuf_free(m);

	/* checksum zero is forbidden (RFC 8200 §8.1); wrong one too */
	n = udp6_frame(b, -1, ip6_peer, ip6_us, 1, 2, payload, PLEN);
	put16(b + 14 + 40 + 6, 0);
	EXPECT_DROP(&us, b, n, L2_DROP_UDP_CHECKSUM);
	n = udp6_frame(b, -1, ip6_peer, ip6_us, 1, 2, payload, PLEN);
	b[n - 1] ^= 0x10;
	EXPECT_DROP(&us, b, n, L2_DROP_UDP_CHECKSUM);

	/* not our address; link-local is for ND/echo only */
	n = udp6_frame(b, -1, ip6_peer, ip6_peer, 1, 2, payload, PLEN);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	n = udp6_frame(b, -1, ip6_ll_peer, ip6_ll_us, 1, 2, payload, PLEN);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);

	/* payload length beyond the frame; version */
	n = udp6_frame(b, -1, ip6_peer, ip6_us, 1, 2, payload, PLEN);
	put16(b + 14 + 4, (uint16_t)(n - 14 - 40 + 1));
	EXPECT_DROP(&us, b, n, L2_DROP_TRUNCATED);
	n = udp6_frame(b, -1, ip6_peer, ip6_us, 1, 2, payload, PLEN);
	b[14] = 0x40;
	EXPECT_DROP(&us, b, n, L2_DROP_IP_HEADER);

	/* every prefix of the IPv6 header */
	n = udp6_frame(b, -1, ip6_peer, ip6_us, 1, 2, payload, 0);
	for (size_t k = 0; k < n; k++)
		EXPECT_DROP(&us, b, k, L2_DROP_TRUNCATED);

	/* an extension header (hop-by-hop) before UDP */
	{
		uint8_t l4[16] = { 17, 0, 1, 4, 0, 0, 0, 0 };

		put16(l4 + 8, 1);
		put16(l4 + 10, 2);
		put16(l4 + 12, 8);
		n = ip6_frame(b, -1, mac_us, mac_peer, ip6_peer, ip6_us, 0, 64,
			      l4, 16, 14);
		EXPECT_DROP(&us, b, n, L2_DROP_PROTO);
		n = ip6_frame(b, -1, mac_us, mac_peer, ip6_peer, ip6_us, 44,
			      64, l4, 16, 14);
		EXPECT_DROP(&us, b, n, L2_DROP_PROTO);
	}
}

static void
check_icmp6_sum(const uint8_t *ip6)
{
	CHECK_EQ(csum_l4(ip6 + 8, 32, 58, ip6 + 40, get16(ip6 + 4)), 0);
}

static void
test_nd(void)
{
	uint8_t b[256];
	struct sotto_addr ip;
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	const uint8_t *r;
	size_t n;

	/* NS from the peer for our global address, to the solicited-node
	 * group: NA back, solicited + override, target option, checksum */
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_peer, ip6_snmc_us, ip6_us,
		     255, 1);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(rte_pktmbuf_data_len(m), 14 + 40 + 32);
	CHECK_MEM(r, mac_peer, 6);
	CHECK_MEM(r + 6, mac_us, 6);
	CHECK_EQ(get16(r + 12), 0x86dd);
	CHECK_EQ(r[14] >> 4, 6);
	CHECK_EQ(get16(r + 18), 32);
	CHECK_EQ(r[20], 58);
	CHECK_EQ(r[21], 255);
	CHECK_MEM(r + 22, ip6_us, 16);
	CHECK_MEM(r + 38, ip6_peer, 16);
	CHECK_EQ(r[54], 136);
	CHECK_EQ(r[55], 0);
	CHECK_EQ(r[58], 0x60);          /* S and O, not R */
	CHECK_EQ(r[59] | r[60] | r[61], 0);
	CHECK_MEM(r + 62, ip6_us, 16);
	CHECK_EQ(r[78], 2);
	CHECK_EQ(r[79], 1);
	CHECK_MEM(r + 80, mac_us, 6);
	check_icmp6_sum(r + 14);
	rte_pktmbuf_free(m);
	ip = a6(ip6_peer, 0);
	CHECK(resolves(&ip, mac_peer));

	/* NS for our link-local address, unicast, without an option: the
	 * answer goes to the frame's source MAC */
	n = ns_frame(b, mac_us, mac_other, ip6_ll_peer, ip6_ll_us, ip6_ll_us,
		     255, 0);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_MEM(r, mac_other, 6);
	CHECK_MEM(r + 22, ip6_ll_us, 16);
	CHECK_MEM(r + 38, ip6_ll_peer, 16);
	CHECK_MEM(r + 80, mac_us, 6);
	check_icmp6_sum(r + 14);
	rte_pktmbuf_free(m);

	/* duplicate address detection (source ::): NA to all-nodes, not
	 * solicited (RFC 4861 §7.2.4) */
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_any, ip6_snmc_us, ip6_us,
		     255, 0);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_MEM(r, mac_allnodes, 6);
	CHECK_MEM(r + 38, ip6_allnodes, 16);
	CHECK_EQ(r[58], 0x20);
	check_icmp6_sum(r + 14);
	rte_pktmbuf_free(m);
	/* ... but DAD with a source link-layer option is invalid */
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_any, ip6_snmc_us, ip6_us,
		     255, 1);
	EXPECT_DROP(&us, b, n, L2_DROP_ND);

	/* hop limit 64: maybe forwarded, so not from our link */
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_peer, ip6_snmc_us, ip6_us,
		     64, 1);
	EXPECT_DROP(&us, b, n, L2_DROP_ND);
	/* bad checksum, zero-length option, truncated NS body */
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_peer, ip6_snmc_us, ip6_us,
		     255, 1);
	b[n - 1] ^= 1;
	EXPECT_DROP(&us, b, n, L2_DROP_ND);
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_peer, ip6_snmc_us, ip6_us,
		     255, 1);
	b[14 + 40 + 25] = 0;
	l4_6_fix(b + 14, 2);
	EXPECT_DROP(&us, b, n, L2_DROP_ND);
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_peer, ip6_snmc_us, ip6_us,
		     255, 0);
	put16(b + 14 + 4, 20);
	l4_6_fix(b + 14, 2);
	EXPECT_DROP(&us, b, n - 4, L2_DROP_ND);
	/* for someone else's address (their multicast group too) */
	n = ns_frame(b, mac_snmc_us, mac_peer, ip6_peer, ip6_snmc_us, ip6_peer,
		     255, 1);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	{
		const uint8_t mac_snmc_x[6] = { 0x33, 0x33, 0xff, 0, 0, 0x42 };

		n = ns_frame(b, mac_snmc_x, mac_peer, ip6_peer, ip6_snmc_us,
			     ip6_us, 255, 1);
		EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
	}

	/* NA from 2001:db8::7 (unsolicited, to all-nodes): learned */
	{
		uint8_t na[32] = { 136, 0, 0, 0, 0x20 }, ip7[16];

		inet_pton(AF_INET6, "2001:db8::7", ip7);
		memcpy(na + 8, ip7, 16);
		na[24] = 2;
		na[25] = 1;
		memcpy(na + 26, mac_other, 6);
		n = ip6_frame(b, -1, mac_allnodes, mac_other, ip7,
			      ip6_allnodes, 58, 255, na, 32, 2);
		m = mk(b, n);
		CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
		ip = a6(ip7, 0);
		CHECK(resolves(&ip, mac_other));
		/* solicited flag on a multicast NA is invalid */
		na[4] = 0x60;
		n = ip6_frame(b, -1, mac_allnodes, mac_other, ip7,
			      ip6_allnodes, 58, 255, na, 32, 2);
		EXPECT_DROP(&us, b, n, L2_DROP_ND);
		/* hop limit */
		na[4] = 0x20;
		n = ip6_frame(b, -1, mac_us, mac_other, ip7, ip6_us, 58, 254,
			      na, 32, 2);
		EXPECT_DROP(&us, b, n, L2_DROP_ND);
	}
}

static void
test_icmp6(void)
{
	uint8_t b[256], echo[8 + PLEN] = { 128, 0, 0, 0, 0x12, 0x34, 0, 9 };
	struct rte_mbuf *m;
	struct dp_meta meta;
	enum l2_drop d;
	const uint8_t *r;
	size_t n;

	memcpy(echo + 8, payload, PLEN);
	n = ip6_frame(b, -1, mac_us, mac_peer, ip6_peer, ip6_us, 58, 64, echo,
		      sizeof(echo), 2);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_MEM(r, mac_peer, 6);
	CHECK_MEM(r + 6, mac_us, 6);
	CHECK_MEM(r + 22, ip6_us, 16);
	CHECK_MEM(r + 38, ip6_peer, 16);
	CHECK_EQ(r[54], 129);
	CHECK_EQ(get16(r + 58), 0x1234);
	CHECK_MEM(r + 62, payload, PLEN);
	check_icmp6_sum(r + 14);
	rte_pktmbuf_free(m);

	/* to our link-local address */
	n = ip6_frame(b, -1, mac_us, mac_peer, ip6_ll_peer, ip6_ll_us, 58, 64,
		      echo, sizeof(echo), 2);
	m = mk(b, n);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_REPLY);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_MEM(r + 22, ip6_ll_us, 16);
	check_icmp6_sum(r + 14);
	rte_pktmbuf_free(m);

	/* bad checksum; other types (destination unreachable) */
	n = ip6_frame(b, -1, mac_us, mac_peer, ip6_peer, ip6_us, 58, 64, echo,
		      sizeof(echo), 2);
	b[n - 1] ^= 1;
	EXPECT_DROP(&us, b, n, L2_DROP_ICMP);
	echo[0] = 1;
	n = ip6_frame(b, -1, mac_us, mac_peer, ip6_peer, ip6_us, 58, 64, echo,
		      sizeof(echo), 2);
	EXPECT_DROP(&us, b, n, L2_DROP_ICMP);
	/* echo to all-nodes is not answered */
	echo[0] = 128;
	n = ip6_frame(b, -1, mac_allnodes, mac_peer, ip6_peer, ip6_allnodes,
		      58, 64, echo, sizeof(echo), 2);
	EXPECT_DROP(&us, b, n, L2_DROP_NOT_FOR_US);
}

/* ---- transmit ---- */

static void
roundtrip(int family, uint16_t vlan)
{
	struct l2_port tx = us, rx = peer;
	struct dp_meta meta = { 0 }, got;
	struct rte_mbuf *m;
	enum l2_drop d;
	char *dst;

	tx.vlan = rx.vlan = vlan;
	if (family == AF_INET) {
		meta.src = a4(ip4_us, 3478);
		meta.dst = a4(ip4_peer, 40000);
	} else {
		meta.src = a6(ip6_us, 3478);
		meta.dst = a6(ip6_peer, 40000);
	}
	m = rte_pktmbuf_alloc(pool);
	dst = rte_pktmbuf_append(m, PLEN);
	memcpy(dst, payload, PLEN);
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 77, &d), 0);
	CHECK_EQ(m->ol_flags, 0);
	CHECK_EQ(m->l2_len, vlan ? 18 : 14);
	CHECK_EQ(m->l3_len, family == AF_INET ? 20 : 40);
	if (family == AF_INET) {
		const uint8_t *ip = rte_pktmbuf_mtod_offset(m, const uint8_t *,
							    m->l2_len);

		CHECK_EQ(ip[0], 0x45);
		CHECK_EQ(get16(ip + 4), 77);
		CHECK_EQ(get16(ip + 6), 0);     /* no DF */
		CHECK_EQ(ip[8], 64);
	}
	CHECK_EQ(rx_on(&rx, m, &got, &d), L2_UDP);
	CHECK(sotto_addr_eq(&got.src, &meta.src));
	CHECK(sotto_addr_eq(&got.dst, &meta.dst));
	CHECK_EQ(rte_pktmbuf_data_len(m), PLEN);
	CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	rte_pktmbuf_free(m);
}

static void
test_encap(void)
{
	struct l2_port tx = us;
	struct dp_meta meta = { 0 };
	struct rte_mbuf *m;
	enum l2_drop d;
	const uint8_t *f;

	roundtrip(AF_INET, 0);
	roundtrip(AF_INET, 42);
	roundtrip(AF_INET6, 0);
	roundtrip(AF_INET6, 42);

	/* offload: flags, lengths, pseudo-header sum in the UDP field */
	tx.tx_ip4_cksum = tx.tx_udp_cksum = true;
	meta.src = a4(ip4_us, 3478);
	meta.dst = a4(ip4_peer, 40000);
	m = rte_pktmbuf_alloc(pool);
	memcpy(rte_pktmbuf_append(m, PLEN), payload, PLEN);
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 1, &d), 0);
	CHECK_EQ(m->ol_flags, RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			      RTE_MBUF_F_TX_UDP_CKSUM);
	CHECK_EQ(m->l2_len, 14);
	CHECK_EQ(m->l3_len, 20);
	f = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(get16(f + 14 + 10), 0);
	{
		uint8_t ph[12];

		memcpy(ph, f + 26, 8);
		ph[8] = 0;
		ph[9] = 17;
		put16(ph + 10, 8 + PLEN);
		/* the field holds the folded, not inverted, pseudo sum */
		CHECK_EQ(get16(f + 34 + 6), fold(sum16(ph, 12, 0)));
	}
	/* what the NIC would do, then the receiver accepts it */
	put16((uint8_t *)f + 14 + 10, csum(f + 14, 20));
	{
		uint8_t *udp = (uint8_t *)f + 34;
		uint16_t c;

		put16(udp + 6, 0);
		c = csum_l4(f + 26, 8, 17, udp, 8 + PLEN);
		put16(udp + 6, c ? c : 0xffff);
	}
	{
		struct dp_meta got;

		CHECK_EQ(rx_on(&peer, m, &got, &d), L2_UDP);
		CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, PLEN);
	}
	rte_pktmbuf_free(m);

	/* only the IPv4 header offloaded: UDP checksum still in software */
	tx.tx_udp_cksum = false;
	m = rte_pktmbuf_alloc(pool);
	memcpy(rte_pktmbuf_append(m, PLEN), payload, PLEN);
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 1, &d), 0);
	CHECK_EQ(m->ol_flags, RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
	f = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(csum_l4(f + 26, 8, 17, f + 34, 8 + PLEN), 0);
	rte_pktmbuf_free(m);

	/* IPv6 with UDP offload */
	tx.tx_udp_cksum = true;
	tx.vlan = 9;
	meta.src = a6(ip6_us, 3478);
	meta.dst = a6(ip6_peer, 40000);
	m = rte_pktmbuf_alloc(pool);
	memcpy(rte_pktmbuf_append(m, PLEN), payload, PLEN);
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 1, &d), 0);
	CHECK_EQ(m->ol_flags, RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
	CHECK_EQ(m->l2_len, 18);
	CHECK_EQ(m->l3_len, 40);
	f = rte_pktmbuf_mtod(m, const uint8_t *);
	{
		uint8_t ph[40] = { 0 };

		memcpy(ph, f + 18 + 8, 32);
		put16(ph + 34, 8 + PLEN);
		ph[39] = 17;
		CHECK_EQ(get16(f + 18 + 40 + 6), fold(sum16(ph, 40, 0)));
	}
	rte_pktmbuf_free(m);

	/* no headroom: 64 bytes is not enough for VLAN + IPv6 + UDP */
	m = rte_pktmbuf_alloc(pool);
	rte_pktmbuf_prepend(m, (uint16_t)(rte_pktmbuf_headroom(m) - 64));
	rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m));
	memcpy(rte_pktmbuf_append(m, PLEN), payload, PLEN);
	d = L2_N_DROPS;
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 1, &d), -1);
	CHECK_EQ(d, L2_DROP_NO_HEADROOM);
	CHECK_EQ(rte_pktmbuf_data_len(m), PLEN);    /* untouched */
	/* ... but enough without the tag */
	tx.vlan = 0;
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 1, &d), 0);
	rte_pktmbuf_free(m);

	/* family mismatch */
	m = rte_pktmbuf_alloc(pool);
	meta.src = a4(ip4_us, 1);
	d = L2_N_DROPS;
	CHECK_EQ(l2_encap_udp(&tx, m, &meta, &peer.mac, 1, &d), -1);
	CHECK(d != L2_N_DROPS);
	rte_pktmbuf_free(m);
}

static void
test_next_hop(void)
{
	struct l2_port p = us;
	struct sotto_addr dst, hop, want;
	uint8_t ip[16];

	dst = a4(IP4(10, 0, 0, 77), 5);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	want = a4(IP4(10, 0, 0, 77), 0);
	CHECK(sotto_addr_eq(&hop, &want));
	dst = a4(IP4(192, 0, 2, 1), 5);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	want = a4(IP4(10, 0, 0, 254), 0);
	CHECK(sotto_addr_eq(&hop, &want));
	p.gw4 = 0;
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);
	p.prefix4 = 0;              /* everything on-link */
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	want = a4(IP4(192, 0, 2, 1), 0);
	CHECK(sotto_addr_eq(&hop, &want));
	p.prefix4 = 32;
	dst = a4(IP4(10, 0, 0, 2), 5);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);
	p.prefix4 = 25;             /* a prefix not on a byte boundary */
	dst = a4(IP4(10, 0, 0, 127), 5);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	dst = a4(IP4(10, 0, 0, 128), 5);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);

	inet_pton(AF_INET6, "2001:db8::99", ip);
	dst = a6(ip, 1);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	want = a6(ip, 0);
	CHECK(sotto_addr_eq(&hop, &want));
	inet_pton(AF_INET6, "2001:db9::1", ip);
	dst = a6(ip, 1);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	want = a6(us.gw6, 0);
	CHECK(sotto_addr_eq(&hop, &want));
	memset(p.gw6, 0, 16);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);
	inet_pton(AF_INET6, "fe80::abcd", ip);   /* link-local: on-link */
	dst = a6(ip, 1);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	p.prefix6 = 57;
	inet_pton(AF_INET6, "2001:db8:0:7f::1", ip);
	dst = a6(ip, 1);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), 0);
	inet_pton(AF_INET6, "2001:db8:0:80::1", ip);
	dst = a6(ip, 1);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);

	/* family not configured */
	p.has_ip6 = false;
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);
	p.has_ip4 = false;
	dst = a4(IP4(10, 0, 0, 2), 1);
	CHECK_EQ(l2_next_hop(&p, &dst, &hop), -1);
}

static void
test_solicit(void)
{
	struct sotto_addr ip;
	struct rte_mbuf *m;
	struct dp_meta meta;
	struct l2_neigh *saved = nt;
	enum l2_drop d;
	const uint8_t *r;

	nt = l2_neigh_create(64);   /* a fresh table: nothing known */

	/* ARP: we ask, the peer port answers, we learn from the answer */
	ip = a4(ip4_peer, 0);
	CHECK(!resolves(&ip, mac_peer));
	m = rte_pktmbuf_alloc(pool);
	CHECK_EQ(l2_build_solicit(&us, m, &ip), 0);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(rte_pktmbuf_data_len(m), 60);
	CHECK_MEM(r, mac_bcast, 6);
	CHECK_MEM(r + 6, mac_us, 6);
	CHECK_EQ(get16(r + 20), 1);
	CHECK_EQ(rx_on(&peer, m, &meta, &d), L2_REPLY);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
	CHECK(resolves(&ip, mac_peer));

	/* with a VLAN on both ends */
	us.vlan = peer.vlan = 3;
	ip = a4(IP4(10, 0, 0, 2), 0);
	m = rte_pktmbuf_alloc(pool);
	CHECK_EQ(l2_build_solicit(&us, m, &ip), 0);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(get16(r + 12), 0x8100);
	CHECK_EQ(rx_on(&peer, m, &meta, &d), L2_REPLY);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
	us.vlan = peer.vlan = 0;

	/* NS: to the target's solicited-node group, the peer answers */
	ip = a6(ip6_peer, 0);
	CHECK(!resolves(&ip, mac_peer));
	m = rte_pktmbuf_alloc(pool);
	CHECK_EQ(l2_build_solicit(&us, m, &ip), 0);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(r[0], 0x33);
	CHECK_EQ(r[1], 0x33);
	CHECK_EQ(r[2], 0xff);
	CHECK_MEM(r + 3, ip6_peer + 13, 3);
	CHECK_EQ(r[21], 255);
	CHECK_MEM(r + 22, ip6_us, 16);
	CHECK_EQ(r[38], 0xff);
	CHECK_EQ(r[39], 0x02);
	CHECK_MEM(r + 51, ip6_peer + 13, 3);
	CHECK_EQ(r[54], 135);
	CHECK_MEM(r + 62, ip6_peer, 16);
	CHECK_EQ(r[78], 1);
	CHECK_MEM(r + 80, mac_us, 6);
	check_icmp6_sum(r + 14);
	CHECK_EQ(rx_on(&peer, m, &meta, &d), L2_REPLY);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
	CHECK(resolves(&ip, mac_peer));

	/* link-local target: asked from our link-local address */
	ip = a6(ip6_ll_peer, 0);
	m = rte_pktmbuf_alloc(pool);
	CHECK_EQ(l2_build_solicit(&us, m, &ip), 0);
	r = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_MEM(r + 22, ip6_ll_us, 16);
	CHECK_EQ(rx_on(&peer, m, &meta, &d), L2_REPLY);
	CHECK_EQ(rx_on(&us, m, &meta, &d), L2_CONSUMED);
	CHECK(resolves(&ip, mac_peer));

	/* family not configured */
	{
		struct l2_port p = us;

		p.has_ip4 = false;
		ip = a4(ip4_peer, 0);
		m = rte_pktmbuf_alloc(pool);
		CHECK_EQ(l2_build_solicit(&p, m, &ip), -1);
		rte_pktmbuf_free(m);
	}

	l2_neigh_free(nt);
	nt = saved;
}

/* ---- neighbour table ---- */

static struct l2_neigh_entry *
find_entry(struct l2_neigh *t, uint32_t ip4_host)
{
	uint8_t key[16] = { 0 };
	uint32_t i;

	key[10] = key[11] = 0xff;
	put32(key + 12, ip4_host);
	for (i = 0; i <= t->mask; i++)
		if (memcmp(t->e[i].key, key, 16) == 0 && t->e[i].link != 0)
			return &t->e[i];
	return NULL;
}

/*
 * 512 neighbours (a /24 and 256 IPv6 addresses) in a 2048-entry table, the
 * quarter load docs/operations.md asks for: every address resolves after it
 * is learned, whatever order lookups and learning come in. A hash that lumps neighbouring addresses into a few
 * slots evicts them and re-solicits on every packet (seen as an ARP storm
 * on the veth benchmark).
 */
static void
test_neigh_many(void)
{
	struct l2_neigh *t = l2_neigh_create(2048);
	struct rte_ether_addr mac = { { 0x02, 0, 0, 0, 0, 0x42 } }, got;
	const uint64_t hz = 1000000000;
	uint64_t now = 5 * hz;
	struct sotto_addr ip;
	unsigned resolved = 0, asked_again = 0;
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0 };
	bool sol;

	for (int fam = 0; fam < 2; fam++) {
		/* first every address misses (and is asked for once) ... */
		for (unsigned i = 0; i < 256; i++) {
			if (fam == 0)
				sotto_addr_v4(&ip, rte_cpu_to_be_32(0xc6120000u | i), 0);
			else {
				v6[15] = (uint8_t)i;
				sotto_addr_v6(&ip, v6, 0);
			}
			CHECK_EQ(l2_neigh_lookup(t, &ip, now, hz, &got, &sol), 0);
			CHECK(sol);
		}
		/* ... then every answer is learned ... */
		for (unsigned i = 0; i < 256; i++) {
			if (fam == 0)
				sotto_addr_v4(&ip, rte_cpu_to_be_32(0xc6120000u | i), 0);
			else {
				v6[15] = (uint8_t)i;
				sotto_addr_v6(&ip, v6, 0);
			}
			l2_neigh_learn(t, &ip, &mac, now + 1);
		}
	}
	/* ... and all 512 resolve, none asked for again */
	for (int fam = 0; fam < 2; fam++)
		for (unsigned i = 0; i < 256; i++) {
			if (fam == 0)
				sotto_addr_v4(&ip, rte_cpu_to_be_32(0xc6120000u | i), 0);
			else {
				v6[15] = (uint8_t)i;
				sotto_addr_v6(&ip, v6, 0);
			}
			resolved += l2_neigh_lookup(t, &ip, now + 2, hz, &got, &sol) == 1;
			asked_again += sol;
		}
	CHECK_EQ(resolved, 512);
	CHECK_EQ(asked_again, 0);
	l2_neigh_free(t);
}

static void
test_neigh(void)
{
	struct l2_neigh *t = l2_neigh_create(8);
	struct rte_ether_addr mac, got;
	struct l2_neigh_entry *e;
	struct sotto_addr ip;
	bool sol;
	uint32_t i;

	CHECK(l2_neigh_create(12) == NULL);     /* not a power of two */
	CHECK(l2_neigh_create(0) == NULL);
	memcpy(mac.addr_bytes, mac_peer, 6);

	/* unknown: ask now, not again within 200 ms, again after */
	ip = a4(IP4(10, 0, 0, 20), 0);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 1 * HZ, HZ, &got, &sol), 0);
	CHECK(sol);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 1 * HZ + HZ / 10, HZ, &got, &sol), 0);
	CHECK(!sol);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 1 * HZ + HZ / 5 - 1, HZ, &got, &sol),
		 0);
	CHECK(!sol);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 1 * HZ + HZ / 5, HZ, &got, &sol), 0);
	CHECK(sol);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 1 * HZ + HZ / 4, HZ, &got, &sol), 0);
	CHECK(!sol);
	/* another address has its own throttle */
	ip = a4(IP4(10, 0, 0, 21), 0);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 1 * HZ + HZ / 4, HZ, &got, &sol), 0);
	CHECK(sol);

	/* learn resolves it; IPv4-mapped IPv6 is never a neighbour */
	ip = a4(IP4(10, 0, 0, 20), 0);
	l2_neigh_learn(t, &ip, &mac, 2 * HZ);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 2 * HZ, HZ, &got, &sol), 1);
	CHECK(!sol);
	CHECK_MEM(got.addr_bytes, mac_peer, 6);
	{
		uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 20 };

		ip = a6(mapped, 0);
		CHECK_EQ(l2_neigh_lookup(t, &ip, 2 * HZ, HZ, &got, &sol), 0);
	}
	/* a port number does not matter */
	ip = a4(IP4(10, 0, 0, 20), 3478);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 2 * HZ, HZ, &got, &sol), 1);

	/* stale after 5 minutes: still resolves, asks for a refresh,
	 * throttled; a new learn makes it fresh */
	ip = a4(IP4(10, 0, 0, 20), 0);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 302 * HZ, HZ, &got, &sol), 1);
	CHECK(sol);
	CHECK_MEM(got.addr_bytes, mac_peer, 6);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 302 * HZ + 1, HZ, &got, &sol), 1);
	CHECK(!sol);
	l2_neigh_learn(t, &ip, &mac, 303 * HZ);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 304 * HZ, HZ, &got, &sol), 1);
	CHECK(!sol);

	/* a writer in progress (odd seq): readers miss and do not ask,
	 * and a learn is a no-op instead of a wait */
	e = find_entry(t, IP4(10, 0, 0, 20));
	CHECK(e != NULL);
	if (e != NULL) {
		struct rte_ether_addr other;

		memcpy(other.addr_bytes, mac_other, 6);
		e->seq++;
		CHECK_EQ(l2_neigh_lookup(t, &ip, 305 * HZ, HZ, &got, &sol), 0);
		CHECK(!sol);
		l2_neigh_learn(t, &ip, &other, 305 * HZ);
		e->seq++;
		CHECK_EQ(l2_neigh_lookup(t, &ip, 305 * HZ, HZ, &got, &sol), 1);
		CHECK_MEM(got.addr_bytes, mac_peer, 6);
		/* with the writer gone, learning a new MAC works */
		l2_neigh_learn(t, &ip, &other, 306 * HZ);
		CHECK_EQ(l2_neigh_lookup(t, &ip, 306 * HZ, HZ, &got, &sol), 1);
		CHECK_MEM(got.addr_bytes, mac_other, 6);
		CHECK_EQ(e->seq % 2, 0);
	}
	l2_neigh_free(t);

	/* full table (8 entries, 8 probes): the oldest learned goes */
	t = l2_neigh_create(8);
	for (i = 0; i < 8; i++) {
		ip = a4(IP4(10, 0, 1, i), 0);
		l2_neigh_learn(t, &ip, &mac, 100 + i);
	}
	for (i = 0; i < 8; i++) {
		ip = a4(IP4(10, 0, 1, i), 0);
		CHECK_EQ(l2_neigh_lookup(t, &ip, 200, HZ, &got, &sol), 1);
	}
	ip = a4(IP4(10, 0, 1, 3), 0);       /* refresh: no longer oldest */
	l2_neigh_learn(t, &ip, &mac, 50);
	l2_neigh_learn(t, &ip, &mac, 300);
	ip = a4(IP4(10, 0, 1, 8), 0);
	l2_neigh_learn(t, &ip, &mac, 400);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 400, HZ, &got, &sol), 1);
	ip = a4(IP4(10, 0, 1, 0), 0);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 400, HZ, &got, &sol), 0);
	CHECK(sol);
	/* that miss left an unresolved entry in place of the now oldest
	 * (.1); everything else stays */
	for (i = 2; i < 9; i++) {
		ip = a4(IP4(10, 0, 1, i), 0);
		CHECK_EQ(l2_neigh_lookup(t, &ip, 400, HZ, &got, &sol), 1);
	}
	/* .1 misses too and takes the unresolved slot of .0, not a
	 * resolved one; the next newcomer replaces it again */
	ip = a4(IP4(10, 0, 1, 1), 0);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 400, HZ, &got, &sol), 0);
	ip = a4(IP4(10, 0, 1, 0), 0);
	CHECK(find_entry(t, IP4(10, 0, 1, 0)) == NULL);
	ip = a4(IP4(10, 0, 1, 9), 0);
	l2_neigh_learn(t, &ip, &mac, 500);
	CHECK_EQ(l2_neigh_lookup(t, &ip, 500, HZ, &got, &sol), 1);
	for (i = 2; i < 9; i++) {
		ip = a4(IP4(10, 0, 1, i), 0);
		CHECK_EQ(l2_neigh_lookup(t, &ip, 500, HZ, &got, &sol), 1);
	}
	l2_neigh_free(t);
}

/* Two writers and a reader on the same few entries: a reader never sees
 * a MAC that mixes two writes (each write uses six equal bytes). */
static struct l2_neigh *stress_t;
static volatile int stress_torn;

static void *
stress_writer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	struct rte_ether_addr mac;
	struct sotto_addr ip;
	uint32_t i;

	for (i = 0; i < 200000; i++) {
		memset(mac.addr_bytes, (int)((id * 64 + i) & 0x7e), 6);
		ip = a4(IP4(10, 0, 2, i % 4), 0);
		l2_neigh_learn(stress_t, &ip, &mac, i);
	}
	return NULL;
}

static void *
stress_reader(void *arg)
{
	struct rte_ether_addr got;
	struct sotto_addr ip;
	uint32_t i;
	bool sol;

	(void)arg;
	for (i = 0; i < 400000; i++) {
		ip = a4(IP4(10, 0, 2, i % 4), 0);
		if (l2_neigh_lookup(stress_t, &ip, i, HZ, &got, &sol) == 1 &&
		    memcmp(got.addr_bytes, got.addr_bytes + 1, 5) != 0)
			stress_torn = 1;
	}
	return NULL;
}

static void
test_neigh_concurrent(void)
{
	pthread_t w1, w2, r;

	stress_t = l2_neigh_create(8);
	CHECK(pthread_create(&w1, NULL, stress_writer, (void *)1) == 0);
	CHECK(pthread_create(&w2, NULL, stress_writer, (void *)2) == 0);
	CHECK(pthread_create(&r, NULL, stress_reader, NULL) == 0);
	pthread_join(w1, NULL);
	pthread_join(w2, NULL);
	pthread_join(r, NULL);
	CHECK(!stress_torn);
	for (uint32_t i = 0; i <= stress_t->mask; i++)
		CHECK_EQ(stress_t->e[i].seq % 2, 0);
	l2_neigh_free(stress_t);
}

int
main(void)
{
	setup();
	if (pool == NULL || nt == NULL)
		return check_done("l2l3");
	CHECK_EQ(strcmp(l2_drop_names[L2_DROP_TRUNCATED], "l2_truncated"), 0);
	CHECK_EQ(strcmp(l2_drop_names[L2_DROP_NO_HEADROOM], "l2_no_headroom"),
		 0);
	test_arp();
	test_ipv4_udp();
	test_icmp4();
	test_vlan();
	test_ipv6_udp();
	test_nd();
	test_icmp6();
	test_encap();
	test_next_hop();
	test_solicit();
	test_neigh();
	test_neigh_many();
	test_neigh_concurrent();
	CHECK_EQ(rte_mempool_in_use_count(pool), 0);   /* no mbuf leaked */
	l2_neigh_free(nt);
	return check_done("l2l3");
}
