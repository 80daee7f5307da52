/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cost of dp_gw_input with no kernel and no NIC in the way: rooms of 3, 10
 * and 50 legs, everyone sending 20 ms Opus-sized packets (100-byte payload,
 * RFC 6464 audio level) of which 3 per room are loud, N = 3 slots per
 * listener, for both SRTP profiles. Only the dp_gw_input call is timed;
 * it unprotects, picks speakers, and makes and protects every copy, and
 * w->emit (inside it) frees the copies as a driver would hand them on.
 *
 * The browsers' side (building and protecting the input, refilling mbufs)
 * runs outside the timed region. Time in the gateway is simulated: `now`
 * moves 20 ms per round, so speaker selection and RTCP run as in a real
 * call, whatever the benchmark's own speed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dp_gw.h"
#include "srtp.h"

#define BENCH_PAYLOAD 100          /* Opus, ~40 kb/s at 20 ms */
#define BENCH_SLOTS 3
#define BENCH_LOUD 3               /* loud speakers per room */
#define BENCH_MAX_REPS 32
#define BENCH_LEVEL_ID 1

static const unsigned room_sizes[] = { 3, 10, 50 };
static const enum dp_srtp_profile profiles[] = {
	DP_SRTP_AEAD_AES_128_GCM, DP_SRTP_AES128_CM_HMAC_SHA1_80,
};

struct bench_opts {
	unsigned legs;             /* participants per configuration */
	uint64_t packets;          /* input packets per repetition */
	unsigned reps;
	unsigned warmup_rounds;
	unsigned lcore, mem_mb;
	uint64_t seed;
};

/* One browser: what the gateway sees of it, and its sending side. */
struct bench_leg {
	struct dp_gw_leg *leg;
	struct dp_srtp_ctx *tx;
	struct sotto_addr remote, local;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	uint8_t level;
};

struct bench_result {
	uint64_t in, out, rtcp, cycles;
	double trimmed;            /* cycles per input, preempted bursts out */
	double excluded;           /* share of bursts left out of trimmed */
};

static struct dp_ctx dp;
static struct dp_worker worker;
static struct bench_leg *blegs;
static struct dp_gw_room **brooms;
static uint64_t rng_state, timer_overhead, emitted, emitted_rtcp;
static double *burst_cost;

static inline uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* the driver's transmit, minus the transmit */
static void
emit_discard(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	(void)w;
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		emitted_rtcp += p[1] >= 200 && p[1] <= 204;
	}
	emitted += n;
	rte_pktmbuf_free_bulk(pkts, n);
}

static int
eal_start(const struct bench_opts *o)
{
	char mem[16], lcore[16];
	char *argv[] = {
		"bench_gateway", "--no-huge", "--no-pci", "--no-shconf",
		"-m", mem, "-l", lcore, "--log-level", "*:error", NULL,
	};

	snprintf(mem, sizeof(mem), "%u", o->mem_mb);
	snprintf(lcore, sizeof(lcore), "%u", o->lcore);
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
setup(const struct bench_opts *o)
{
	int ret;

	dp.pool = rte_pktmbuf_pool_create("bench_pool", 8191, 256,
					  DP_MBUF_PRIV_SIZE,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	if (dp.pool == NULL) {
		fprintf(stderr, "pool: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	ret = dp_tables_init(&dp.tables, 64, 1);
	if (ret < 0)
		return -1;
	dp.n_workers = 1;
	dp.workers = &worker;
	worker.id = 0;
	worker.dp = &dp;
	worker.hz = rte_get_tsc_hz();
	worker.emit = emit_discard;
	ret = dp_gw_init(&dp, o->legs * 2);
	if (ret < 0) {
		fprintf(stderr, "dp_gw_init: %s\n", strerror(-ret));
		return -1;
	}
	blegs = calloc(o->legs, sizeof(*blegs));
	brooms = calloc(o->legs, sizeof(*brooms));
	burst_cost = calloc(o->packets / DP_BURST + 1, sizeof(double));
	return blegs && brooms && burst_cost ? 0 : -1;
}

static void
random_master(struct dp_srtp_master *m, enum dp_srtp_profile p)
{
	m->key_len = (uint8_t)dp_srtp_key_len(p);
	m->salt_len = (uint8_t)dp_srtp_salt_len(p);
	for (unsigned i = 0; i < sizeof(m->key); i++)
		m->key[i] = (uint8_t)rng_next();
	for (unsigned i = 0; i < sizeof(m->salt); i++)
		m->salt[i] = (uint8_t)rng_next();
}

/* n legs in rooms of size; returns the number of rooms */
static int
build(enum dp_srtp_profile prof, unsigned size, unsigned n, unsigned *n_rooms)
{
	*n_rooms = n / size;
	for (unsigned r = 0; r < *n_rooms; r++) {
		brooms[r] = dp_gw_room_new(&dp, r, BENCH_SLOTS);
		if (brooms[r] == NULL)
			return -1;
	}
	for (unsigned i = 0; i < *n_rooms * size; i++) {
		struct bench_leg *b = &blegs[i];
		struct dp_srtp_master rk, lk;
		uint32_t slots[BENCH_SLOTS];
		char cname[16];
		unsigned pos = i % size;

		memset(b, 0, sizeof(*b));
		random_master(&rk, prof);
		random_master(&lk, prof);
		sotto_addr_v4(&b->remote, htonl(0x0a000000u + i),
			      (uint16_t)(1024 + i % 60000));
		sotto_addr_v4(&b->local, htonl(0x7f000001u), 3479);
		b->ssrc = (uint32_t)rng_next() | 1;
		b->seq = (uint16_t)rng_next();
		b->ts = (uint32_t)rng_next();
		/* 3 loud speakers (levels 10..30), the rest near silence */
		b->level = pos < BENCH_LOUD ? (uint8_t)(10 + 10 * pos) :
			   (uint8_t)(90 + rng_next() % 37);
		for (unsigned k = 0; k < BENCH_SLOTS; k++)
			slots[k] = (uint32_t)rng_next() | 2;
		snprintf(cname, sizeof(cname), "bench%u", i);
		struct dp_gw_leg_params lp = {
			.room = brooms[i / size],
			.remote = b->remote,
			.local = b->local,
			.sock = i,
			.profile = prof,
			.remote_key = &rk,
			.local_key = &lk,
			.ssrcs = &b->ssrc,
			.n_ssrcs = 1,
			.n_slots = BENCH_SLOTS,
			.slot_ssrcs = slots,
			.level_id = BENCH_LEVEL_ID,
			.pt = 111,
			.cname = cname,
		};
		b->leg = dp_gw_leg_new(&dp, &lp);
		if (b->leg == NULL || dp_gw_leg_publish(&dp, b->leg) < 0)
			return -1;
		b->tx = dp_srtp_ctx_new(prof, DP_SRTP_PROTECT, rk.key,
					rk.key_len, rk.salt, rk.salt_len);
		if (b->tx == NULL)
			return -1;
	}
	return 0;
}

static void
teardown(unsigned n_legs, unsigned n_rooms)
{
	for (unsigned i = 0; i < n_legs; i++) {
		dp_gw_leg_unpublish(&dp, blegs[i].leg, NULL, NULL);
		dp_srtp_ctx_free(blegs[i].tx);
	}
	for (unsigned r = 0; r < n_rooms; r++)
		dp_gw_room_free(&dp, brooms[r]);
	/* no worker is registered for RCU: everything is due */
	dp_tables_reclaim(&dp.tables);
}

/* The browser's packet: RTP, one-byte extension with the level, SRTP. */
static void
fill(struct rte_mbuf *m, struct bench_leg *b)
{
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 12 + 8 + BENCH_PAYLOAD);
	struct dp_meta *meta = dp_meta(m);
	size_t len = 12 + 8 + BENCH_PAYLOAD, olen;

	p[0] = 0x90;
	p[1] = 111;
	p[2] = (uint8_t)(b->seq >> 8);
	p[3] = (uint8_t)b->seq;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(b->ts >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(b->ssrc >> (24 - 8 * i));
	}
	p[12] = 0xBE;
	p[13] = 0xDE;
	p[14] = 0;
	p[15] = 1;
	p[16] = BENCH_LEVEL_ID << 4;
	p[17] = (uint8_t)(0x80 | b->level);
	p[18] = p[19] = 0;
	memset(p + 20, (uint8_t)b->seq, BENCH_PAYLOAD);
	rte_pktmbuf_append(m, (uint16_t)dp_srtp_rtp_trailer(
				      dp_srtp_ctx_profile(b->tx)));
	if (dp_srtp_protect(b->tx, p, len, len + DP_SRTP_MAX_TRAILER,
			    &olen) != 0)
		abort();
	b->seq++;
	b->ts += 960;
	meta->src = b->remote;
	meta->dst = b->local;
	meta->sock = 0;
	meta->sock_kind = DP_SOCK_MEDIA;
	meta->worker = 0;
	meta->flags = 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * Rounds of 20 ms: every leg sends one packet, in a random order over all
 * rooms, in bursts of DP_BURST. Times only dp_gw_input when timed.
 */
static int
run(unsigned n_legs, uint64_t packets, uint64_t *now, bool timed,
    struct bench_result *r)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint32_t *order = malloc(n_legs * sizeof(*order));
	uint64_t round_ticks = rte_get_tsc_hz() / 50, sent = 0, nb = 0;
	unsigned pos = n_legs;

	if (order == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	emitted = emitted_rtcp = 0;
	while (sent < packets) {
		unsigned n = 0;

		if (rte_pktmbuf_alloc_bulk(dp.pool, pkts, DP_BURST) != 0) {
			fprintf(stderr, "mbuf pool empty\n");
			free(order);
			return -1;
		}
		while (n < DP_BURST) {
			if (pos == n_legs) {
				/* a new round: shuffle (Fisher-Yates) */
				for (unsigned i = 0; i < n_legs; i++)
					order[i] = i;
				for (unsigned i = n_legs - 1; i > 0; i--) {
					unsigned j = (unsigned)(rng_next() %
								(i + 1));
					uint32_t t = order[i];
					order[i] = order[j];
					order[j] = t;
				}
				pos = 0;
				*now += round_ticks;
			}
			fill(pkts[n++], &blegs[order[pos++]]);
		}
		uint64_t t0 = rte_rdtsc_precise();
		dp_gw_input(&worker, pkts, DP_BURST, *now);
		uint64_t t1 = rte_rdtsc_precise();
		uint64_t c = t1 - t0 > timer_overhead ? t1 - t0 - timer_overhead
						      : 0;
		if (timed)
			burst_cost[nb++] = (double)c;
		r->cycles += c;
		sent += DP_BURST;
	}
	free(order);
	r->in = sent;
	r->out = emitted;
	r->rtcp = emitted_rtcp;
	if (timed && nb) {
		/* A burst the scheduler interrupted costs milliseconds, 30×
		 * and more a normal one; the work itself varies by a few × at
		 * most (how many of the 32 are selected speakers). So bursts
		 * over 10× the median are preemptions and left out. */
		qsort(burst_cost, nb, sizeof(double), cmp_double);
		double lim = 10 * burst_cost[nb / 2], sum = 0;
		uint64_t kept = 0;
		for (uint64_t i = 0; i < nb && burst_cost[i] <= lim; i++, kept++)
			sum += burst_cost[i];
		r->trimmed = sum / (double)(kept * DP_BURST);
		r->excluded = (double)(nb - kept) / (double)nb;
	}
	return 0;
}

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

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [options]\n"
		"  -n LEGS     participants per configuration (600)\n"
		"  -p PACKETS  input packets per repetition (200000)\n"
		"  -r REPS     repetitions; median reported (5)\n"
		"  -w ROUNDS   20 ms warm-up rounds (100)\n"
		"  -s SEED     random seed (1)\n"
		"  -l LCORE    core to run on (0)\n"
		"  -M MB       EAL memory, MB (512)\n", prog);
}

int
main(int argc, char **argv)
{
	struct bench_opts o = {
		.legs = 600, .packets = 200000, .reps = 5, .warmup_rounds = 100,
		.lcore = 0, .mem_mb = 512, .seed = 1,
	};
	uint64_t bad = 0;
	int c;

	while ((c = getopt(argc, argv, "n:p:r:w:s:l:M:h")) != -1) {
		switch (c) {
		case 'n': o.legs = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': o.packets = strtoull(optarg, NULL, 0); break;
		case 'r': o.reps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'w': o.warmup_rounds = (unsigned)strtoul(optarg, NULL, 0);
			  break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'l': o.lcore = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'M': o.mem_mb = (unsigned)strtoul(optarg, NULL, 0); break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (o.legs < 50 || o.packets < DP_BURST || o.reps == 0 ||
	    o.reps > BENCH_MAX_REPS || o.seed == 0) {
		usage(argv[0]);
		return 2;
	}
	rng_state = o.seed;
	if (eal_start(&o) < 0 || setup(&o) < 0)
		return 1;
	timer_overhead = measure_timer_overhead();

	double hz = (double)rte_get_tsc_hz();
	char result[2048];
	int rlen = snprintf(result, sizeof(result),
			    "RESULT legs=%u reps=%u tsc_hz=%.0f", o.legs,
			    o.reps, hz);
	printf("dp_gw_input, %u legs per configuration, N=%u slots, %u loud "
	       "per room, %u-byte payload, bursts of %u, TSC %.3f GHz\n",
	       o.legs, BENCH_SLOTS, BENCH_LOUD, BENCH_PAYLOAD, DP_BURST,
	       hz / 1e9);
	printf("%-5s %4s %5s %6s %5s %8s %8s %6s %8s %10s %10s\n", "prof",
	       "room", "rooms", "out/in", "rtcp%", "mean/in", "cyc/in",
	       "cut%", "cyc/out", "Mpps_in/w", "Mpps_out/w");

	for (unsigned pi = 0; pi < RTE_DIM(profiles); pi++) {
		const char *pname = profiles[pi] == DP_SRTP_AEAD_AES_128_GCM ?
				    "gcm" : "cm";
		for (unsigned si = 0; si < RTE_DIM(room_sizes); si++) {
			unsigned size = room_sizes[si], n_rooms;
			double cpp[BENCH_MAX_REPS], mean[BENCH_MAX_REPS];
			double cut = 0;
			struct bench_result r, last = { 0 };
			uint64_t now = rte_rdtsc();

			if (build(profiles[pi], size, o.legs, &n_rooms) < 0) {
				fprintf(stderr, "building rooms of %u failed\n",
					size);
				return 1;
			}
			unsigned n_legs = n_rooms * size;
			memset(worker.ctr, 0, sizeof(worker.ctr));
			/* levels settle, speakers get picked */
			if (run(n_legs, (uint64_t)o.warmup_rounds * n_legs,
				&now, false, &r) < 0)
				return 1;
			for (unsigned rep = 0; rep < o.reps; rep++) {
				if (run(n_legs, o.packets, &now, true, &r) < 0)
					return 1;
				cpp[rep] = r.trimmed;
				mean[rep] = (double)r.cycles / (double)r.in;
				cut = r.excluded > cut ? r.excluded : cut;
				last = r;
			}
			qsort(cpp, o.reps, sizeof(double), cmp_double);
			qsort(mean, o.reps, sizeof(double), cmp_double);
			double med = o.reps & 1 ? cpp[o.reps / 2] :
				     (cpp[o.reps / 2 - 1] + cpp[o.reps / 2]) / 2;
			double fan = (double)last.out / (double)last.in;
			double rtcp = 100.0 * (double)last.rtcp /
				      (double)last.out;
			double mpps_in = hz / med / 1e6;
			printf("%-5s %4u %5u %6.2f %5.2f %8.0f %8.0f %6.2f "
			       "%8.0f %10.3f %10.3f\n", pname, size, n_rooms,
			       fan, rtcp, mean[o.reps / 2], med, 100 * cut,
			       med / fan, mpps_in, mpps_in * fan);
			rlen += snprintf(result + rlen, sizeof(result) -
					 (size_t)rlen,
					 " %s_%u_cyc_in=%.0f %s_%u_out_per_in=%.3f"
					 " %s_%u_mpps_in=%.3f %s_%u_mpps_out=%.3f",
					 pname, size, med, pname, size, fan,
					 pname, size, mpps_in, pname, size,
					 mpps_in * fan);
			/* every room forwards its loudest: per round of n
			 * legs 2n copies in rooms of 3, 3n in larger ones */
			double want = size == 3 ? 2.0 : 3.0;
			double rtp_fan = (double)(last.out - last.rtcp) /
					 (double)last.in;
			if (rtp_fan < want - 0.01 || rtp_fan > want + 0.01) {
				fprintf(stderr, "rooms of %u: %.3f RTP copies "
					"per packet, expected %.0f\n", size,
					rtp_fan, want);
				bad++;
			}
			for (int d = 0; d < DP_N_DROPS; d++)
				if (worker.ctr[d]) {
					fprintf(stderr, "dropped %s: %" PRIu64
						"\n", dp_counter_names[d],
						worker.ctr[d]);
					bad++;
				}
			if (worker.ctr[DP_GW_FWD_DROPPED]) {
				fprintf(stderr, "copies not sent: %" PRIu64 "\n",
					worker.ctr[DP_GW_FWD_DROPPED]);
				bad++;
			}
			teardown(n_legs, n_rooms);
		}
	}
	printf("%s bad=%" PRIu64 "\n", result, bad);
	return bad ? 1 : 0;
}
