/* SPDX-License-Identifier: BSD-3-Clause */
/* STUN request rate per source IP: token bucket, bounded table. */
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

int
main(void)
{
	test_burst_refill();
	test_per_ip();
	test_unlimited();
	test_bounded();
	return check_done("rate_limit");
}
