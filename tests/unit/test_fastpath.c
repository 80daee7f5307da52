/* SPDX-License-Identifier: BSD-3-Clause */
/* The fast path on crafted packets, with tables filled by hand. */
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "chandata.h"
#include "check.h"
#include "dp.h"
#include "policer.h"
#include "eal.h"
#include "stun.h"

static struct dp_ctx dp;
static struct dp_worker *w;

static struct sotto_addr
v4(const char *ip, uint16_t port)
{
	struct sotto_addr a;
	struct in_addr in;
	inet_pton(AF_INET, ip, &in);
	sotto_addr_v4(&a, in.s_addr, port);
	return a;
}

static struct sotto_addr
v6(const char *ip, uint16_t port)
{
	struct sotto_addr a;
	uint8_t b[16];
	inet_pton(AF_INET6, ip, b);
	sotto_addr_v6(&a, b, port);
	return a;
}

static void
setup(void)
{
	static struct dp_worker workers[1];

	CHECK(test_eal_init() == 0);
	dp.pool = rte_pktmbuf_pool_create("fp_pool", 1023, 0, DP_MBUF_PRIV_SIZE,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	CHECK(dp.pool != NULL);
	dp.exc_ring = rte_ring_create("fp_exc", 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
	dp.exc_new = rte_ring_create("fp_exc_new", 64, SOCKET_ID_ANY,
				     RING_F_SC_DEQ);
	dp.exc_fd = eventfd(0, EFD_NONBLOCK);
	CHECK_EQ(dp_tables_init(&dp.tables, 64, 1), 0);
	dp.n_workers = 1;
	dp.workers = workers;
	w = &workers[0];
	w->dp = &dp;
	w->hz = rte_get_tsc_hz();
	w->tx_ring = rte_ring_create("fp_tx", 64, SOCKET_ID_ANY, 0);
}

static struct rte_mbuf *
pkt(const struct sotto_addr *src, const struct sotto_addr *dst, uint8_t kind,
    const void *data, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
	struct dp_meta *meta = dp_meta(m);

	memcpy(rte_pktmbuf_append(m, len), data, len);
	meta->src = *src;
	meta->dst = *dst;
	meta->sock = 99;
	meta->sock_kind = kind;
	meta->flags = 0;
	return m;
}

/* Runs one packet through the fast path; returns it if it was relayed. */
static struct rte_mbuf *
run1(struct rte_mbuf *m)
{
	struct rte_mbuf *tx[DP_BURST];
	uint16_t n = dp_fastpath(w, &m, 1, tx);
	return n == 1 ? tx[0] : NULL;
}

/* empties both exception rings */
static void
drain_exc(void)
{
	struct rte_mbuf *m;

	while (rte_ring_dequeue(dp.exc_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue(dp.exc_new, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

static int done_calls;
static void
done_cb(void *arg)
{
	(void)arg;
	done_calls++;
}

int
main(void)
{
	struct sotto_addr client = v4("127.0.0.1", 40000);
	struct sotto_addr listener = v4("127.0.0.1", 3478);
	struct sotto_addr relay = v4("127.0.0.1", 50000);
	struct sotto_addr peer = v4("127.0.0.2", 6000);
	struct sotto_addr peer_nochan = v4("127.0.0.2", 7000);
	struct sotto_addr stranger = v4("127.0.0.3", 6000);
	uint8_t buf[1500], payload[200];
	struct rte_mbuf *m;
	uint64_t before;

	setup();
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);

	struct dp_alloc *a = rte_zmalloc(NULL, sizeof(*a), 64);
	a->relay = relay;
	a->client = client;
	a->listener = listener;
	a->relay_sock = 7;
	a->listener_sock = 3;
	struct dp_peerset *ps = dp_peerset_new(1, 1);
	ps->perms[0] = peer;
	ps->perms[0].port = 0;
	ps->chans[0].num = 0x4000;
	ps->chans[0].peer = peer;
	a->peers = ps;
	CHECK_EQ(dp_alloc_publish(&dp.tables, a), 0);
	CHECK_EQ(dp_alloc_publish(&dp.tables, a), -EEXIST);

	/* client → peer over a bound channel */
	chandata_write_hdr(buf, 0x4000, 100);
	memcpy(buf + 4, payload, 100);
	m = run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 104));
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ(rte_pktmbuf_data_len(m), 100);
		CHECK_MEM(rte_pktmbuf_mtod(m, void *), payload, 100);
		CHECK(sotto_addr_eq(&dp_meta(m)->src, &relay));
		CHECK(sotto_addr_eq(&dp_meta(m)->dst, &peer));
		CHECK_EQ(dp_meta(m)->sock, 7);
		rte_pktmbuf_free(m);
	}
	CHECK_EQ(w->ctr[DP_RELAY_TO_PEER], 1);

	/* RFC 8656 §12.5: up to 3 padding bytes are tolerated and cut */
	chandata_write_hdr(buf, 0x4000, 5);
	m = run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 12));
	CHECK(m != NULL && rte_pktmbuf_data_len(m) == 5);
	rte_pktmbuf_free(m);

	/* drops, each counted under its reason */
	chandata_write_hdr(buf, 0x4001, 10);
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 14)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_NO_CHANNEL], 1);
	struct sotto_addr other_client = v4("127.0.0.1", 40001);
	chandata_write_hdr(buf, 0x4000, 10);
	CHECK(run1(pkt(&other_client, &listener, DP_SOCK_LISTENER, buf, 14)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_NO_ALLOCATION], 1);
	chandata_write_hdr(buf, 0x4000, 50);
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 14)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_MALFORMED], 1);
	buf[0] = 0x80; /* RTP: not for a TURN listener */
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 14)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_UNKNOWN_CLASS], 1);
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 0)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_MALFORMED], 2);

	/* STUN goes to the control thread, untouched */
	memset(buf, 0, 20);
	buf[1] = 0x01;
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 20)) == NULL);
	CHECK_EQ(rte_ring_count(dp.exc_ring), 1);
	CHECK_EQ(w->ctr[DP_EXCEPTIONS], 1);
	if (rte_ring_dequeue(dp.exc_ring, (void **)&m) == 0) {
		CHECK_EQ(rte_pktmbuf_data_len(m), 20);
		CHECK(sotto_addr_eq(&dp_meta(m)->src, &client));
		rte_pktmbuf_free(m);
	}

	/* peer → client on a channel: 4-byte header, no padding over UDP */
	m = run1(pkt(&peer, &relay, DP_SOCK_RELAY, payload, 101));
	CHECK(m != NULL);
	if (m) {
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		uint16_t ch = 0;
		CHECK_EQ(rte_pktmbuf_data_len(m), 105);
		CHECK_EQ(chandata_parse(p, 105, &ch), 101);
		CHECK_EQ(ch, 0x4000);
		CHECK_MEM(p + 4, payload, 101);
		CHECK(sotto_addr_eq(&dp_meta(m)->src, &listener));
		CHECK(sotto_addr_eq(&dp_meta(m)->dst, &client));
		CHECK_EQ(dp_meta(m)->sock, 3);
		rte_pktmbuf_free(m);
	}

	/* peer with a permission but no channel: Data indication */
	m = run1(pkt(&peer_nochan, &relay, DP_SOCK_RELAY, payload, 101));
	CHECK(m != NULL);
	if (m) {
		struct stun_msg sm;
		struct sotto_addr got;
		const struct stun_attr *d;
		CHECK_EQ(stun_parse(&sm, rte_pktmbuf_mtod(m, uint8_t *),
				    rte_pktmbuf_data_len(m)), 0);
		CHECK_EQ(sm.method, TURN_DATA);
		CHECK_EQ(sm.cls, STUN_INDICATION);
		CHECK_EQ(stun_attr_xor_addr(&sm, stun_find(&sm,
				STUN_A_XOR_PEER_ADDRESS), &got), 0);
		CHECK(sotto_addr_eq(&got, &peer_nochan));
		d = stun_find(&sm, STUN_A_DATA);
		CHECK(d != NULL && d->len == 101);
		if (d)
			CHECK_MEM(d->val, payload, 101);
		rte_pktmbuf_free(m);
	}

	/* no permission for the source IP (RFC 8656 §11.3) */
	before = w->ctr[DP_DROP_NO_PERMISSION];
	CHECK(run1(pkt(&stranger, &relay, DP_SOCK_RELAY, payload, 10)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_NO_PERMISSION], before + 1);
	/* to a relayed address nobody holds */
	struct sotto_addr other_relay = v4("127.0.0.1", 50001);
	CHECK(run1(pkt(&peer, &other_relay, DP_SOCK_RELAY, payload, 10)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_NO_ALLOCATION], 2);

	/* the bandwidth cap, per direction */
	dp_bucket_init(&a->bucket[DP_DIR_TO_CLIENT], 1000, 150, w->hz, rte_rdtsc());
	a->capped = 1; /* dp_alloc_publish sets this from the buckets */
	m = run1(pkt(&peer, &relay, DP_SOCK_RELAY, payload, 150));
	CHECK(m != NULL);
	rte_pktmbuf_free(m);
	CHECK(run1(pkt(&peer, &relay, DP_SOCK_RELAY, payload, 150)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_BANDWIDTH], 1);
	chandata_write_hdr(buf, 0x4000, 150);
	memcpy(buf + 4, payload, 150);
	m = run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 154));
	CHECK(m != NULL); /* the other direction has its own bucket */
	rte_pktmbuf_free(m);

	dp_bucket_init(&a->bucket[DP_DIR_TO_CLIENT], 0, 0, w->hz, rte_rdtsc());
	a->capped = 0;

	/* issue 21: what goes to the control thread is sorted by who sends
	 * it — an allocation's own client first (exc_ring), new work
	 * behind (exc_new) — and policed per source prefix */
	memset(buf, 0, 20);
	buf[1] = 0x01;
	before = w->ctr[DP_EXCEPTIONS_NEW];
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 20)) == NULL);
	CHECK(run1(pkt(&other_client, &listener, DP_SOCK_LISTENER, buf, 20)) == NULL);
	CHECK_EQ(rte_ring_count(dp.exc_ring), 1);
	CHECK_EQ(rte_ring_count(dp.exc_new), 1);
	CHECK_EQ(w->ctr[DP_EXCEPTIONS_NEW], before + 1);
	drain_exc();

	/* a Send indication takes from the same to-peer bucket as
	 * ChannelData: 150 bytes of burst, then nothing at 1 kB/s */
	dp_bucket_init(&a->bucket[DP_DIR_TO_PEER], 1000, 150, w->hz, rte_rdtsc());
	a->capped = 1;
	memset(buf, 0, 100);
	buf[1] = 0x16;                 /* Send indication */
	before = w->ctr[DP_DROP_BANDWIDTH];
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 100)) == NULL);
	CHECK_EQ(rte_ring_count(dp.exc_ring), 1);
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 100)) == NULL);
	CHECK_EQ(rte_ring_count(dp.exc_ring), 1);
	CHECK_EQ(w->ctr[DP_DROP_BANDWIDTH], before + 1);
	chandata_write_hdr(buf, 0x4000, 40);
	m = run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 44));
	CHECK(m != NULL);              /* 50 left: 40 go */
	rte_pktmbuf_free(m);
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 44)) == NULL);
	CHECK_EQ(w->ctr[DP_DROP_BANDWIDTH], before + 2);
	/* other STUN of the allocation (a Refresh) is not charged */
	memset(buf, 0, 20);
	buf[1] = 0x04;
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 20)) == NULL);
	CHECK_EQ(rte_ring_count(dp.exc_ring), 2);
	drain_exc();
	dp_bucket_init(&a->bucket[DP_DIR_TO_PEER], 0, 0, w->hz, rte_rdtsc());
	a->capped = 0;

	/* the policer: 10/s, 5 at once, per IPv4 address and IPv6 /64; ten
	 * times the burst from one source gets the burst through, and a
	 * second source its own */
	static struct dp_policer pol;
	static const uint8_t pkey[16] = { 1, 2, 3 };
	dp_policer_init(&pol, pkey, 10, 5, w->hz);
	w->pol = &pol;
	before = w->ctr[DP_DROP_EXCEPTION_POLICED];
	buf[1] = 0x01;
	struct sotto_addr flooders[4] = {
		v4("127.0.0.9", 1000), v4("127.0.0.10", 1000),
		v6("2001:db8:0:1::1", 1000), v6("2001:db8:0:2::1", 1000),
	};
	struct sotto_addr same64 = v6("2001:db8:0:1::ffff", 2000);
	for (int f = 0; f < 4; f++) {
		unsigned passed = 0;

		for (int i = 0; i < 50; i++) {
			m = pkt(&flooders[f], &listener, DP_SOCK_LISTENER, buf, 20);
			dp_fastpath(w, &m, 1, NULL);
			passed += rte_ring_count(dp.exc_new);
			drain_exc();
		}
		CHECK_EQ(passed, 5);
		if (f == 2) {
			/* the same /64: the budget is spent */
			m = pkt(&same64, &listener, DP_SOCK_LISTENER, buf, 20);
			dp_fastpath(w, &m, 1, NULL);
			CHECK_EQ(rte_ring_count(dp.exc_new), 0);
		}
	}
	CHECK_EQ(w->ctr[DP_DROP_EXCEPTION_POLICED], before + 4 * 45 + 1);
	w->pol = NULL;

	/* sources that share a set do not push each other out into fresh
	 * budgets: 64 sources at ten times the rate for a second get 64 x
	 * (8 + 100) through, whatever their hashes */
	dp_policer_init(&pol, pkey, 100, 50, w->hz);
	{
		uint64_t t = 5000, passed = 0;

		for (int r = 0; r < 1000; r++, t += w->hz / 1000)
			for (int f = 0; f < 64; f++) {
				struct sotto_addr src = v4("127.1.0.1", 1000);

				src.ip[3] = (uint8_t)f;
				passed += dp_policer_allow(&pol, &src, t);
			}
		CHECK(passed >= 64 * 107 && passed <= 64 * 109);
	}

	/* the rate, on a simulated clock: 100/s with a burst of 50, over
	 * ten seconds at ten times the rate, lets a newcomer's 8 + 1000
	 * through, less the rate's rounding to whole units per tick (under
	 * 1 %), whatever the TSC's frequency */
	static const uint64_t hzs[] = { 1000000000ull, 2600000000ull,
					4000000000ull };
	for (unsigned h = 0; h < 3; h++) {
		struct sotto_addr src = v4("127.0.0.11", 1000);
		uint64_t t = 1000, passed = 0;

		dp_policer_init(&pol, pkey, 100, 50, hzs[h]);
		for (int i = 0; i < 10000; i++, t += hzs[h] / 1000)
			passed += dp_policer_allow(&pol, &src, t);
		CHECK(passed >= 998 && passed <= 1009);
		/* a long pause fills the bucket, no more (no overflow) */
		t += hzs[h] * 86400 * 365;
		passed = 0;
		for (int i = 0; i < 200; i++)
			passed += dp_policer_allow(&pol, &src, t);
		CHECK_EQ(passed, 50);
	}

	/* a new peer set replaces the old one; the old is freed later */
	struct dp_peerset *ps2 = dp_peerset_new(1, 0);
	ps2->perms[0] = stranger;
	ps2->perms[0].port = 0;
	dp_peers_publish(&dp.tables, a, ps2);
	m = run1(pkt(&stranger, &relay, DP_SOCK_RELAY, payload, 10));
	CHECK(m != NULL); /* Data indication now */
	rte_pktmbuf_free(m);
	CHECK(run1(pkt(&client, &listener, DP_SOCK_LISTENER, buf, 154)) == NULL);
	dp_tables_reclaim(&dp.tables);

	/* IPv6: Data indication XORs the address with cookie and tid */
	struct dp_alloc *a6 = rte_zmalloc(NULL, sizeof(*a6), 64);
	struct sotto_addr peer6 = v6("2001:db8::1234:5678", 4242);
	a6->relay = v6("::1", 50002);
	a6->client = v6("::1", 40002);
	a6->listener = v6("::1", 3478);
	struct dp_peerset *ps6 = dp_peerset_new(1, 0);
	ps6->perms[0] = peer6;
	ps6->perms[0].port = 0;
	a6->peers = ps6;
	CHECK_EQ(dp_alloc_publish(&dp.tables, a6), 0);
	m = run1(pkt(&peer6, &a6->relay, DP_SOCK_RELAY, payload, 20));
	CHECK(m != NULL);
	if (m) {
		struct stun_msg sm;
		struct sotto_addr got;
		CHECK_EQ(stun_parse(&sm, rte_pktmbuf_mtod(m, uint8_t *),
				    rte_pktmbuf_data_len(m)), 0);
		CHECK_EQ(stun_attr_xor_addr(&sm, stun_find(&sm,
				STUN_A_XOR_PEER_ADDRESS), &got), 0);
		CHECK(sotto_addr_eq(&got, &peer6));
		rte_pktmbuf_free(m);
	}

	/* unpublished: gone for the fast path, freed after the grace period */
	CHECK_EQ(dp_alloc_unpublish(&dp.tables, a, done_cb, a), 0);
	CHECK(run1(pkt(&peer, &relay, DP_SOCK_RELAY, payload, 10)) == NULL);
	dp_tables_reclaim(&dp.tables);
	CHECK_EQ(done_calls, 1);
	rte_free(a);
	/* the same addresses can be published again */
	struct dp_alloc *b = rte_zmalloc(NULL, sizeof(*b), 64);
	*b = (struct dp_alloc){ .relay = relay, .client = client,
				.listener = listener };
	b->peers = dp_peerset_new(0, 0);
	CHECK_EQ(dp_alloc_publish(&dp.tables, b), 0);
	CHECK_EQ(dp_alloc_unpublish(&dp.tables, b, done_cb, b), 0);
	CHECK_EQ(dp_alloc_unpublish(&dp.tables, a6, done_cb, a6), 0);
	dp_tables_reclaim(&dp.tables);
	CHECK_EQ(done_calls, 3);
	rte_free(b);
	rte_free(a6);

	dp_tables_fini(&dp.tables);
	return check_done("fastpath");
}
