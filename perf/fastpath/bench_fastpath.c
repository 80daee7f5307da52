/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cost of dp_fastpath with no kernel and no NIC in the way: tables filled
 * with many allocations, bursts of pre-built ChannelData and peer packets
 * for allocations picked at random, and only the dp_fastpath call timed.
 *
 * Refilling an mbuf (dp_fastpath moves data_off and rewrites the metadata)
 * happens outside the timed region, standing in for the driver's receive.
 * Allocations are picked at random over all of them so the hash buckets,
 * keys, dp_alloc and peer sets are as cold as with real traffic; the mbufs
 * themselves are warm, as they are after a driver has filled them.
 *
 * Under valgrind --tool=callgrind --toggle-collect=dp_fastpath the program
 * dumps the counts after the warm-up and after each mode, named with the
 * mode and its packet count, so run.sh can divide Ir by packets.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "chandata.h"
#include "dp.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND 1
#endif
#endif
#ifndef BENCH_HAVE_CALLGRIND
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#define RUNNING_ON_VALGRIND 0
#endif

/* a voice packet: 12-byte RTP header + 160 bytes of G.711 (20 ms) */
#define BENCH_PAYLOAD 172
#define BENCH_MAX_REPS 32

enum bench_mode {
	BENCH_C2P,       /* ChannelData client → peer */
	BENCH_P2C,       /* peer → client on a channel */
	BENCH_DI,        /* peer → client as a Data indication */
	BENCH_MIXED,     /* alternating client → peer and peer → client */
	BENCH_N_MODES
};

static const char *const mode_names[BENCH_N_MODES] = {
	[BENCH_C2P] = "c2p",
	[BENCH_P2C] = "p2c_chan",
	[BENCH_DI] = "p2c_di",
	[BENCH_MIXED] = "mixed",
};

/* Addresses of allocation i, kept apart from the tables so refilling an
 * mbuf does not warm the cache lines dp_fastpath is about to look up. */
struct bench_addrs {
	struct sotto_addr client;
	struct sotto_addr relay;
	struct sotto_addr peer;
};

struct bench_opts {
	uint32_t allocs;
	uint64_t packets;        /* per mode and repetition */
	uint64_t warmup;
	unsigned reps;
	uint64_t seed;
	uint64_t rate;           /* bytes/s per allocation and direction */
	uint64_t burst;          /* bucket depth, bytes */
	unsigned lcore;
	unsigned mem_mb;
	unsigned modes;          /* bit per enum bench_mode */
};

struct bench_run {
	uint64_t packets;
	uint64_t cycles;         /* in dp_fastpath, timer overhead removed */
	uint64_t relayed;
	uint64_t wrong;          /* relayed, but not as expected */
};

static struct dp_ctx dp;
static struct dp_worker worker;
static struct bench_addrs *addrs;
static struct dp_alloc *allocs;
static struct sotto_addr listener;
static uint8_t payload[BENCH_PAYLOAD];
static uint64_t rng_state;
static uint64_t timer_overhead;  /* cycles of one rdtsc_precise pair */

/* xorshift64*: fixed seed, so every run sends the same sequence */
static inline uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static inline uint16_t
chan_of(uint32_t k)
{
	return (uint16_t)(TURN_CHANNEL_MIN + (k & 0xfff));
}

static void
v4(struct sotto_addr *a, uint32_t ip, uint16_t port)
{
	sotto_addr_v4(a, rte_cpu_to_be_32(ip), port);
}

static int
eal_start(const struct bench_opts *o)
{
	char mem[16], lcore[16];
	/* as the udp driver and the unit tests: no hugepages, no PCI, no
	 * shared config, so it runs unprivileged and under valgrind */
	char *argv[] = {
		"bench_fastpath", "--no-huge", "--no-pci", "--no-shconf",
		"-m", mem, "-l", lcore, "--log-level", "*:error", NULL,
	};
	int argc = (int)RTE_DIM(argv) - 1;

	snprintf(mem, sizeof(mem), "%u", o->mem_mb);
	snprintf(lcore, sizeof(lcore), "%u", o->lcore);
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
setup(const struct bench_opts *o)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t now = rte_rdtsc();
	uint32_t n = o->allocs;
	int ret;

	/* a few bursts in flight plus the per-lcore cache */
	dp.pool = rte_pktmbuf_pool_create("bench_pool", 4095, 256,
					  DP_MBUF_PRIV_SIZE,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	dp.exc_ring = rte_ring_create("bench_exc", 1024, SOCKET_ID_ANY,
				      RING_F_SC_DEQ);
	dp.exc_new = rte_ring_create("bench_exc_new", 1024, SOCKET_ID_ANY,
				     RING_F_SC_DEQ);
	dp.exc_fd = eventfd(0, EFD_NONBLOCK);
	if (dp.pool == NULL || dp.exc_ring == NULL || dp.exc_new == NULL ||
	    dp.exc_fd < 0) {
		fprintf(stderr, "pool/ring/eventfd: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	ret = dp_tables_init(&dp.tables, n, 1);
	if (ret < 0) {
		fprintf(stderr, "dp_tables_init(%u): %s\n", n, strerror(-ret));
		return -1;
	}
	dp.n_workers = 1;
	dp.workers = &worker;
	worker.id = 0;
	worker.dp = &dp;
	worker.hz = hz;

	addrs = calloc(n, sizeof(*addrs));
	allocs = rte_zmalloc("bench_allocs", (size_t)n * sizeof(*allocs),
			     RTE_CACHE_LINE_SIZE);
	if (addrs == NULL || allocs == NULL) {
		fprintf(stderr, "no memory for %u allocations\n", n);
		return -1;
	}
	v4(&listener, 0x7f000001, 3478);

	for (uint32_t i = 0; i < n; i++) {
		struct bench_addrs *ad = &addrs[i];
		struct dp_alloc *a = &allocs[i];
		struct dp_peerset *ps;

		/* clients over 10/8, relays over 127/8 with 50000 ports an
		 * IP, peers over 198.18/15; nothing is ever sent */
		v4(&ad->client, 0x0a000000 + i, (uint16_t)(1024 + i % 60000));
		v4(&ad->relay, 0x7f010000 + i / 50000,
		   (uint16_t)(10000 + i % 50000));
		v4(&ad->peer, 0xc6120000 + i, (uint16_t)(20000 + i % 40000));

		a->relay = ad->relay;
		a->client = ad->client;
		a->listener = listener;
		a->relay_sock = i;
		a->listener_sock = 0;
		for (int d = 0; d < 2; d++)
			dp_bucket_init(&a->bucket[d], o->rate, o->burst, hz,
				       now);

		ps = dp_peerset_new(1, 1);
		if (ps == NULL)
			return -1;
		ps->perms[0] = ad->peer;
		ps->perms[0].port = 0;
		ps->chans[0].num = chan_of(i);
		ps->chans[0].peer = ad->peer;
		a->peers = ps;
		ret = dp_alloc_publish(&dp.tables, a);
		if (ret < 0) {
			fprintf(stderr, "publish allocation %u: %s\n", i,
				strerror(-ret));
			return -1;
		}
	}
	for (unsigned i = 0; i < BENCH_PAYLOAD; i++)
		payload[i] = (uint8_t)(i * 13 + 5);
	payload[0] = 0x80; /* RTP v2 */
	payload[1] = 0x00; /* PCMU */
	return 0;
}

/* What the driver would have done: data at the default headroom, the
 * addresses and socket kind in the metadata. Returns the allocation. */
static inline uint32_t
fill(struct rte_mbuf *m, enum bench_mode kind, uint32_t n_allocs)
{
	uint32_t k = (uint32_t)(rng_next() % n_allocs);
	struct dp_meta *meta = dp_meta(m);
	uint8_t *p;

	meta->sock = 0;
	meta->worker = 0;
	meta->flags = 0;
	if (kind == BENCH_C2P) {
		p = (uint8_t *)rte_pktmbuf_append(m, CHANDATA_HDR_LEN +
						  BENCH_PAYLOAD);
		chandata_write_hdr(p, chan_of(k), BENCH_PAYLOAD);
		memcpy(p + CHANDATA_HDR_LEN, payload, BENCH_PAYLOAD);
		meta->src = addrs[k].client;
		meta->dst = listener;
		meta->sock_kind = DP_SOCK_LISTENER;
	} else {
		p = (uint8_t *)rte_pktmbuf_append(m, BENCH_PAYLOAD);
		memcpy(p, payload, BENCH_PAYLOAD);
		meta->src = addrs[k].peer;
		/* same IP, another port: permitted but no channel */
		if (kind == BENCH_DI)
			meta->src.port++;
		meta->dst = addrs[k].relay;
		meta->sock_kind = DP_SOCK_RELAY;
	}
	return k;
}

/* Is m what dp_fastpath should have made of a packet for allocation k? */
static bool
relayed_ok(struct rte_mbuf *m, enum bench_mode kind, uint32_t k)
{
	const struct dp_meta *meta = dp_meta(m);
	uint16_t len = rte_pktmbuf_data_len(m);

	switch (kind) {
	case BENCH_C2P:
		return len == BENCH_PAYLOAD &&
		       sotto_addr_eq(&meta->dst, &addrs[k].peer) &&
		       sotto_addr_eq(&meta->src, &addrs[k].relay);
	case BENCH_P2C:
		return len == CHANDATA_HDR_LEN + BENCH_PAYLOAD &&
		       sotto_addr_eq(&meta->dst, &addrs[k].client);
	case BENCH_DI:
		/* 20 header + XOR-PEER-ADDRESS (4+8) + DATA header (4) */
		return len == 36 + BENCH_PAYLOAD &&
		       sotto_addr_eq(&meta->dst, &addrs[k].client);
	default:
		return false;
	}
}

static int
run_mode(enum bench_mode mode, uint64_t packets, uint32_t n_allocs,
	 struct bench_run *r)
{
	struct rte_mbuf *pkts[DP_BURST], *tx[DP_BURST];
	enum bench_mode kinds[DP_BURST];
	uint32_t ks[DP_BURST];
	uint64_t bursts = packets / DP_BURST, seq = 0;

	memset(r, 0, sizeof(*r));
	for (uint64_t b = 0; b < bursts; b++) {
		uint64_t t0, t1;
		uint16_t n_tx, j = 0;

		if (rte_pktmbuf_alloc_bulk(dp.pool, pkts, DP_BURST) != 0) {
			fprintf(stderr, "mbuf pool empty\n");
			return -1;
		}
		for (unsigned i = 0; i < DP_BURST; i++, seq++) {
			kinds[i] = mode != BENCH_MIXED ? mode :
				   (seq & 1) ? BENCH_P2C : BENCH_C2P;
			ks[i] = fill(pkts[i], kinds[i], n_allocs);
		}

		t0 = rte_rdtsc_precise();
		n_tx = dp_fastpath(&worker, pkts, DP_BURST, tx);
		t1 = rte_rdtsc_precise();

		r->cycles += t1 - t0 > timer_overhead ?
			     t1 - t0 - timer_overhead : 0;
		r->packets += DP_BURST;
		r->relayed += n_tx;
		/* tx[] keeps the input order, minus the drops: match each
		 * relayed packet with the allocation it was built for */
		for (unsigned i = 0; i < DP_BURST && j < n_tx; i++) {
			if (pkts[i] != tx[j])
				continue;
			if (!relayed_ok(tx[j], kinds[i], ks[i]))
				r->wrong++;
			j++;
		}
		rte_pktmbuf_free_bulk(tx, n_tx);
	}
	return 0;
}

/* What a back-to-back pair of rte_rdtsc_precise costs, so it can be taken
 * off each burst's count. The minimum: the pair can only add, not save. */
static uint64_t
measure_timer_overhead(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 100000; i++) {
		uint64_t t0 = rte_rdtsc_precise();
		uint64_t t1 = rte_rdtsc_precise();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return best;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [options]\n"
		"  -n ALLOCS   allocations in the tables (100000)\n"
		"  -p PACKETS  packets per mode and repetition (1000000)\n"
		"  -w PACKETS  warm-up packets, mixed (262144)\n"
		"  -r REPS     repetitions of each mode; median reported (5)\n"
		"  -m MODES    comma list of c2p,p2c_chan,p2c_di,mixed (all)\n"
		"  -b BPS      bandwidth cap per allocation and direction,\n"
		"              bytes/s; 0 = unlimited (0)\n"
		"  -B BYTES    bucket depth with -b (65536)\n"
		"  -s SEED     random seed (1)\n"
		"  -l LCORE    core to run on (0)\n"
		"  -M MB       EAL memory, MB (1024)\n", prog);
}

static int
parse_modes(const char *s, unsigned *modes)
{
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", s);
	*modes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		int m;
		for (m = 0; m < BENCH_N_MODES; m++)
			if (strcmp(tok, mode_names[m]) == 0)
				break;
		if (m == BENCH_N_MODES)
			return -1;
		*modes |= 1u << m;
	}
	return *modes ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct bench_opts o = {
		.allocs = 100000, .packets = 1000000, .warmup = 262144,
		.reps = 5, .seed = 1, .rate = 0, .burst = 65536, .lcore = 0,
		.mem_mb = 1024, .modes = (1u << BENCH_N_MODES) - 1,
	};
	double cpp[BENCH_N_MODES][BENCH_MAX_REPS];
	uint64_t pk[BENCH_N_MODES] = { 0 }, cy[BENCH_N_MODES] = { 0 };
	uint64_t wrong = 0, dropped = 0, fp_packets = 0;
	struct bench_run r;
	char desc[96];
	int c;

	while ((c = getopt(argc, argv, "n:p:w:r:m:b:B:s:l:M:h")) != -1) {
		switch (c) {
		case 'n': o.allocs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': o.packets = strtoull(optarg, NULL, 0); break;
		case 'w': o.warmup = strtoull(optarg, NULL, 0); break;
		case 'r': o.reps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'b': o.rate = strtoull(optarg, NULL, 0); break;
		case 'B': o.burst = strtoull(optarg, NULL, 0); break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'l': o.lcore = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'M': o.mem_mb = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm':
			if (parse_modes(optarg, &o.modes) < 0) {
				usage(argv[0]);
				return 2;
			}
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (o.allocs == 0 || o.packets < DP_BURST || o.reps == 0 ||
	    o.reps > BENCH_MAX_REPS || o.seed == 0) {
		usage(argv[0]);
		return 2;
	}
	rng_state = o.seed;

	if (eal_start(&o) < 0 || setup(&o) < 0)
		return 1;
	timer_overhead = measure_timer_overhead();

	/* code, branch predictors and the mempool cache warm; the tables
	 * stay mostly cold, as random picks over them keep them */
	if (run_mode(BENCH_MIXED, o.warmup, o.allocs, &r) < 0)
		return 1;
	fp_packets += r.packets;
	snprintf(desc, sizeof(desc), "mode=warmup packets=%" PRIu64,
		 r.packets);
	CALLGRIND_DUMP_STATS_AT(desc);

	for (int m = 0; m < BENCH_N_MODES; m++) {
		if (!(o.modes & (1u << m)))
			continue;
		for (unsigned rep = 0; rep < o.reps; rep++) {
			if (run_mode((enum bench_mode)m, o.packets, o.allocs,
				     &r) < 0)
				return 1;
			cpp[m][rep] = (double)r.cycles / (double)r.packets;
			pk[m] += r.packets;
			cy[m] += r.cycles;
			wrong += r.wrong;
			dropped += r.packets - r.relayed;
			fp_packets += r.packets;
		}
		snprintf(desc, sizeof(desc), "mode=%s packets=%" PRIu64,
			 mode_names[m], pk[m]);
		CALLGRIND_DUMP_STATS_AT(desc);
	}

	double hz = (double)rte_get_tsc_hz();
	char result[1024];
	int len = snprintf(result, sizeof(result),
			   "RESULT allocs=%u reps=%u tsc_hz=%.0f "
			   "timer_overhead=%" PRIu64 " bw_cap=%" PRIu64,
			   o.allocs, o.reps, hz, timer_overhead, o.rate);

	printf("dp_fastpath, %u allocations, bursts of %u, %u-byte payload, "
	       "TSC %.3f GHz%s\n", o.allocs, DP_BURST, BENCH_PAYLOAD, hz / 1e9,
	       RUNNING_ON_VALGRIND ? " (under valgrind: times meaningless)" :
	       "");
	printf("%-10s %12s %16s %10s %10s %10s %12s\n", "mode", "packets",
	       "cycles", "cyc/pkt", "min", "ns/pkt", "Mpps/worker");
	for (int m = 0; m < BENCH_N_MODES; m++) {
		if (!(o.modes & (1u << m)))
			continue;
		qsort(cpp[m], o.reps, sizeof(double), cmp_double);
		double med = o.reps & 1 ? cpp[m][o.reps / 2] :
			     (cpp[m][o.reps / 2 - 1] + cpp[m][o.reps / 2]) / 2;
		double ns = med * 1e9 / hz;
		printf("%-10s %12" PRIu64 " %16" PRIu64 " %10.1f %10.1f "
		       "%10.1f %12.2f\n", mode_names[m], pk[m], cy[m], med,
		       cpp[m][0], ns, 1e3 / ns);
		len += snprintf(result + len, sizeof(result) - (size_t)len,
				" %s_cycles=%.1f %s_ns=%.2f %s_mpps=%.3f",
				mode_names[m], med, mode_names[m], ns,
				mode_names[m], 1e3 / ns);
	}
	for (int i = 0; i < DP_N_DROPS; i++)
		if (worker.ctr[i])
			printf("dropped %s: %" PRIu64 "\n", dp_counter_names[i],
			       worker.ctr[i]);
	printf("%s dropped=%" PRIu64 " wrong=%" PRIu64
	       " fastpath_packets=%" PRIu64 "\n", result, dropped, wrong,
	       fp_packets);

	/* wrong output, or drops with no cap to explain them, is a bug */
	return wrong || (o.rate == 0 && dropped) ? 1 : 0;
}
