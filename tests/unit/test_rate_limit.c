/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-source limits: request rates (token buckets, bounded table) and
 * counts of open connections, per IPv4 address and per IPv6 /64 and /48. */
#include <arpa/inet.h>

#include "check.h"
#include "rate_limit.h"

static struct sotto_addr
A(const char *s)
{
	struct sotto_addr a;

	if (sotto_addr_parse(&a, s, 0) != 0)
		exit(2);
	return a;
}

static unsigned
count_allowed(struct rate_limit *rl, const struct sotto_addr *a, uint64_t t,
	      unsigned tries)
{
	unsigned n = 0;

	for (unsigned i = 0; i < tries; i++)
		n += rate_limit_allow(rl, a, t);
	return n;
}

static void
test_burst_refill(void)
{
	struct rate_limit *rl = rate_limit_new(10, 5, 64);
	struct sotto_addr a = A("203.0.113.1:1000");
	uint64_t t = 1000000;

	CHECK(rl != NULL);
	/* burst, then deny */
	CHECK_EQ(count_allowed(rl, &a, t, 20), 5);
	/* 10/s: one request per 100 ms, not before */
	CHECK(!rate_limit_allow(rl, &a, t + 99));
	CHECK(rate_limit_allow(rl, &a, t + 100));
	CHECK(!rate_limit_allow(rl, &a, t + 100));
	/* 1 s refills 10 but the cap is the burst */
	CHECK_EQ(count_allowed(rl, &a, t + 1100, 20), 5);
	/* fractional refill accumulates across calls */
	t += 1100;
	for (int i = 1; i <= 9; i++)
		CHECK(!rate_limit_allow(rl, &a, t + (uint64_t)i * 10));
	CHECK(rate_limit_allow(rl, &a, t + 100));
	/* very long idle: full, no overflow */
	CHECK_EQ(count_allowed(rl, &a, UINT64_MAX - 1, 20), 5);
	CHECK_EQ(count_allowed(rl, &a, UINT64_MAX, 20), 0);
	/* clock going back: no refill, no wrap */
	CHECK_EQ(count_allowed(rl, &a, 5, 20), 0);
	rate_limit_free(rl);
}

static void
test_per_ip(void)
{
	struct rate_limit *rl = rate_limit_new(1, 3, 64);
	struct sotto_addr a1 = A("203.0.113.1:1000");
	struct sotto_addr a2 = A("203.0.113.1:2000"); /* same IP */
	struct sotto_addr b = A("203.0.113.2:1000");
	struct sotto_addr v6a = A("[2001:db8:0:1::1]:1000");
	struct sotto_addr v6b = A("[2001:db8:0:1::2]:1000"); /* same /64 */
	struct sotto_addr v6c = A("[2001:db8:0:2::1]:1000");

	CHECK_EQ(count_allowed(rl, &a1, 10, 2), 2);
	CHECK_EQ(count_allowed(rl, &a2, 10, 5), 1); /* port ignored */
	CHECK_EQ(count_allowed(rl, &b, 10, 5), 3);
	CHECK_EQ(count_allowed(rl, &v6a, 10, 2), 2);
	CHECK_EQ(count_allowed(rl, &v6b, 10, 5), 1);
	CHECK_EQ(count_allowed(rl, &v6c, 10, 5), 3);
	rate_limit_free(rl);
}

static void
test_unlimited(void)
{
	struct rate_limit *rl = rate_limit_new(0, 0, 4);
	struct sotto_addr a = A("203.0.113.1:1");

	CHECK_EQ(count_allowed(rl, &a, 0, 100000), 100000);
	rate_limit_free(rl);

	/* burst 0 means one second's worth */
	rl = rate_limit_new(4, 0, 4);
	CHECK_EQ(count_allowed(rl, &a, 0, 10), 4);
	rate_limit_free(rl);
}

static void
test_bounded(void)
{
	/* 16 slots; 100000 spoofed sources cannot grow it (no allocation
	 * after rate_limit_new; ASan would see a leak or overflow) */
	struct rate_limit *rl = rate_limit_new(1, 2, 10);
	struct sotto_addr victim = A("198.51.100.1:1");
	uint64_t t = 1000;
	unsigned extra = 0;

	CHECK(rl != NULL);
	CHECK_EQ(count_allowed(rl, &victim, t, 5), 2);
	for (uint32_t i = 0; i < 100000; i++) {
		struct sotto_addr s;
		sotto_addr_v4(&s, htonl(0x0a000000u + i), 1);
		CHECK_EQ(rate_limit_allow(rl, &s, t + 1), 1);
		CHECK_EQ(rate_limit_allow(rl, &s, t + 1), 1);
		extra += rate_limit_allow(rl, &s, t + 1); /* burst is 2 */
	}
	CHECK_EQ(extra, 0);
	/* the drained victim was the least recently seen in its bucket:
	 * evicted, it comes back with a full bucket */
	CHECK_EQ(count_allowed(rl, &victim, t + 1, 5), 2);
	rate_limit_free(rl);

	/* one bucket (4 ways): the oldest of five sources is evicted */
	rl = rate_limit_new(1, 1, 1);
	struct sotto_addr s[5];
	for (int i = 0; i < 5; i++) {
		sotto_addr_v4(&s[i], htonl(0xcb007100u + (uint32_t)i), 1);
		CHECK(rate_limit_allow(rl, &s[i], 100 + (uint64_t)i));
	}
	/* s[1..4] are remembered (and empty); s[0] was evicted by s[4] */
	for (int i = 1; i < 5; i++)
		CHECK(!rate_limit_allow(rl, &s[i], 200));
	CHECK(rate_limit_allow(rl, &s[0], 200));
	rate_limit_free(rl);
}

/* 2001:db8:<net48>:<sub>::<host> */
static struct sotto_addr
v6(uint16_t net48, uint16_t sub, uint16_t host)
{
	char s[64];

	snprintf(s, sizeof(s), "[2001:db8:%x:%x::%x]:1000", net48, sub, host);
	return A(s);
}

static void
test_v6_48(void)
{
	/* burst 5: a /64 gets 5 at once, a /48 RL_NET48_FACTOR * 5 */
	const unsigned burst = 5, net = RL_NET48_FACTOR * burst;
	struct rate_limit *rl = rate_limit_new(10, burst, 1u << 16);
	struct sotto_addr a;
	unsigned n = 0;
	uint64_t t = 5000;

	CHECK(rl != NULL);
	/* ten times the /48's budget, every request from a /64 of its own
	 * inside one /48: the old per-/64 table let all of them through */
	for (unsigned i = 0; i < 10 * net; i++) {
		a = v6(0xaa, (uint16_t)i, 1);
		n += rate_limit_allow(rl, &a, t);
	}
	CHECK_EQ(n, net);
	/* a /64 of that /48 never seen before is refused too */
	a = v6(0xaa, 0xfffe, 7);
	CHECK(!rate_limit_allow(rl, &a, t));
	/* another /48 (and an IPv4 address) is untouched */
	a = v6(0xab, 0, 1);
	CHECK_EQ(count_allowed(rl, &a, t, 10), burst);
	a = A("198.51.100.9:1");
	CHECK_EQ(count_allowed(rl, &a, t, 10), burst);
	/* the /48 refills at RL_NET48_FACTOR times the rate: 10/s * 16 is
	 * one request per 6.25 ms; after 100 ms, 16 more */
	n = 0;
	for (unsigned i = 0; i < 10 * net; i++) {
		a = v6(0xaa, (uint16_t)(1000 + i), 1);
		n += rate_limit_allow(rl, &a, t + 100);
	}
	CHECK_EQ(n, 16);
	/* and a full second fills it to its burst, not beyond */
	n = 0;
	for (unsigned i = 0; i < 10 * net; i++) {
		a = v6(0xaa, (uint16_t)(3000 + i), 1);
		n += rate_limit_allow(rl, &a, t + 5000);
	}
	CHECK_EQ(n, net);
	/* a request the /48 refuses spends nothing of its /64: drain a
	 * /48 from other /64s, knock ten times from a new one, and 100 ms
	 * later (16 back in the /48, 1 in a /64) that /64 has its burst */
	for (unsigned i = 0; i < net; i++) {
		a = v6(0xad, (uint16_t)(100 + i), 1);
		CHECK(rate_limit_allow(rl, &a, t));
	}
	a = v6(0xad, 1, 1);
	CHECK_EQ(count_allowed(rl, &a, t, 10), 0);
	CHECK_EQ(count_allowed(rl, &a, t + 100, 10), burst);
	rate_limit_free(rl);

	/* per minute, as signaling uses it: 30 joins per minute per /64,
	 * 480 per /48, at ten times that over 65,536 /64s */
	rl = rate_limit_new_period(30, 60000, 0, 1u << 16);
	n = 0;
	for (unsigned i = 0; i < 10 * RL_NET48_FACTOR * 30; i++) {
		a = v6(0x1, (uint16_t)(i * 13), (uint16_t)i);
		n += rate_limit_allow(rl, &a, t);
	}
	CHECK_EQ(n, RL_NET48_FACTOR * 30);
	rate_limit_free(rl);
}

static void
test_count(void)
{
	const uint32_t cap = 4;
	struct src_count *sc = src_count_new(20000);
	struct sotto_addr a = A("203.0.113.7:1"), b = A("203.0.113.8:1");
	struct sotto_addr a2 = A("203.0.113.7:2"), u = { 0 };
	unsigned n = 0;

	CHECK(sc != NULL);
	/* ten times the cap from one address: cap of them */
	for (unsigned i = 0; i < 10 * cap; i++)
		n += src_count_take(sc, i % 2 ? &a : &a2, cap);
	CHECK_EQ(n, cap);
	CHECK_EQ(src_count_of(sc, &a), cap);
	/* another address still gets in */
	CHECK(src_count_take(sc, &b, cap));
	/* one closes: one more may open */
	src_count_put(sc, &a);
	CHECK_EQ(src_count_of(sc, &a), cap - 1);
	CHECK(src_count_take(sc, &a, cap));
	CHECK(!src_count_take(sc, &a, cap));
	/* cap 0: counted, never refused */
	CHECK(src_count_take(sc, &a, 0));
	CHECK_EQ(src_count_of(sc, &a), cap + 1);
	/* not an IP source (a Unix socket): not counted */
	CHECK(src_count_take(sc, &u, 1));
	CHECK(src_count_take(sc, &u, 1));
	CHECK_EQ(src_count_of(sc, &u), 0);

	/* IPv6: a /64 holds cap, whatever its host part */
	n = 0;
	for (unsigned i = 0; i < 10 * cap; i++) {
		struct sotto_addr x = v6(0x77, 1, (uint16_t)(i + 1));
		n += src_count_take(sc, &x, cap);
	}
	CHECK_EQ(n, cap);
	/* a /48 holds RL_NET48_FACTOR * cap: ten times that, each from its
	 * own /64, and the /64s already there count towards it */
	n = 0;
	for (unsigned i = 0; i < 10 * RL_NET48_FACTOR * cap; i++) {
		struct sotto_addr x = v6(0x77, (uint16_t)(2 + i), 1);
		n += src_count_take(sc, &x, cap);
	}
	CHECK_EQ(n, RL_NET48_FACTOR * cap - cap);
	/* another /48 still gets in */
	{
		struct sotto_addr x = v6(0x78, 1, 1);
		CHECK(src_count_take(sc, &x, cap));
		src_count_put(sc, &x);
	}
	/* everything given back: the counts are gone and the caps apply
	 * afresh */
	for (unsigned i = 0; i < cap; i++) {
		struct sotto_addr x = v6(0x77, 1, (uint16_t)(i + 1));
		src_count_put(sc, &x);
	}
	for (unsigned i = 0; i < RL_NET48_FACTOR * cap - cap; i++) {
		struct sotto_addr x = v6(0x77, (uint16_t)(2 + i), 1);
		src_count_put(sc, &x);
	}
	{
		struct sotto_addr x = v6(0x77, 1, 1);
		CHECK_EQ(src_count_of(sc, &x), 0);
		CHECK(src_count_take(sc, &x, cap));
	}
	src_count_free(sc);
}

/* Many takes and puts over few slots (collisions, shifting deletes)
 * against a plain array of counts. */
static void
test_count_churn(void)
{
	enum { N = 12 };
	struct src_count *sc = src_count_new(8); /* 32 slots, 16 keys */
	struct sotto_addr s[N];
	uint32_t want[N] = { 0 }, net[3] = { 0 }, keys = 0;
	uint32_t x = 12345;

	CHECK(sc != NULL);
	for (unsigned i = 0; i < N; i++)
		s[i] = v6((uint16_t)(i % 3), (uint16_t)i, 1);
	for (unsigned step = 0; step < 20000; step++) {
		unsigned i;

		x = x * 1103515245u + 12345u;
		i = (x >> 16) % N;
		if ((x >> 8) & 1) {
			/* keys: this /64 and its /48, if not held yet */
			uint32_t fresh = (want[i] == 0) + (net[i % 3] == 0);
			bool ok = src_count_take(sc, &s[i], 0);

			CHECK_EQ(ok, keys + fresh <= 16);
			if (ok) {
				keys += fresh;
				want[i]++;
				net[i % 3]++;
			}
		} else if (want[i] > 0) {
			src_count_put(sc, &s[i]);
			keys -= (want[i] == 1) + (net[i % 3] == 1);
			want[i]--;
			net[i % 3]--;
		}
		for (unsigned j = 0; j < N; j++)
			if (src_count_of(sc, &s[j]) != want[j]) {
				CHECK_EQ(src_count_of(sc, &s[j]), want[j]);
				step = 20000;
				break;
			}
	}
	src_count_free(sc);
}

int
main(void)
{
	test_burst_refill();
	test_per_ip();
	test_unlimited();
	test_bounded();
	test_v6_48();
	test_count();
	test_count_churn();
	return check_done("rate_limit");
}
