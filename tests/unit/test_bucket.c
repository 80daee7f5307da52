/* SPDX-License-Identifier: BSD-3-Clause */
/* dataplane/bucket.h: byte token bucket with synthetic TSC ticks. */
#include "bucket.h"
#include "check.h"

#define HZ 1000000000ull /* 1 GHz synthetic TSC */

static void
test_burst(void)
{
	struct dp_bucket b;

	dp_bucket_init(&b, 1000, 3000, HZ, 0);
	/* the whole burst at once, then nothing at the same tick */
	CHECK(dp_bucket_take(&b, 0, 1000));
	CHECK(dp_bucket_take(&b, 0, 2000));
	CHECK(!dp_bucket_take(&b, 0, 1));
	/* a packet larger than the burst never passes */
	dp_bucket_init(&b, 1000, 3000, HZ, 0);
	CHECK(!dp_bucket_take(&b, 0, 3001));
	CHECK(dp_bucket_take(&b, 0, 3000));
}

static void
test_refill(void)
{
	struct dp_bucket b;
	uint64_t t = 12345;
	uint64_t sent = 0;

	/* 1 MB/s, 1500 B burst */
	dp_bucket_init(&b, 1000000, 1500, HZ, t);
	CHECK(dp_bucket_take(&b, t, 1500));
	CHECK(!dp_bucket_take(&b, t, 100));
	/* 100 bytes take 100 us = 100000 ticks (rounding down the rate
	 * may need a tick or two more) */
	CHECK(!dp_bucket_take(&b, t + 90000, 100));
	CHECK(dp_bucket_take(&b, t + 100100, 100));
	/* over one simulated second, sending 100 B whenever allowed every
	 * 10 us, the total is the rate plus at most the burst */
	t += 100100;
	for (uint64_t i = 1; i <= 100000; i++)
		if (dp_bucket_take(&b, t + i * 10000, 100))
			sent += 100;
	CHECK(sent <= 1000000 + 1500);
	CHECK(sent >= 1000000 - 1000000 / 100); /* within 1% */
	/* refill never exceeds the burst */
	t += 100000ull * 10000;
	CHECK(dp_bucket_take(&b, t + HZ * 10, 1500));
	CHECK(!dp_bucket_take(&b, t + HZ * 10, 1));
}

static void
test_slow_rate(void)
{
	struct dp_bucket b;

	/* a rate below 1 scaled byte per tick still refills (rate >= 1) */
	dp_bucket_init(&b, 1, 10, 4000000000ull, 0);
	CHECK(b.rate >= 1);
	CHECK(dp_bucket_take(&b, 0, 10));
	CHECK(!dp_bucket_take(&b, 1, 1));
}

static void
test_unlimited(void)
{
	struct dp_bucket b;

	dp_bucket_init(&b, 0, 0, HZ, 0);
	for (int i = 0; i < 1000; i++)
		CHECK(dp_bucket_take(&b, 0, 65535));
}

static void
test_long_idle(void)
{
	struct dp_bucket b;

	/* 10 Gbit/s-ish rate: elapsed * rate would overflow 64 bits */
	dp_bucket_init(&b, 1250000000ull, 100000, HZ, 0);
	CHECK(dp_bucket_take(&b, 0, 100000));
	CHECK(!dp_bucket_take(&b, 0, 1));
	uint64_t later = UINT64_MAX / 2;
	CHECK(dp_bucket_take(&b, later, 100000));
	CHECK(!dp_bucket_take(&b, later, 1));
	CHECK(b.tokens <= b.burst);
	/* the TSC wrapping around is still "a long time later" */
	CHECK(dp_bucket_take(&b, 5, 100000));
	CHECK(b.tokens <= b.burst);
	/* exactly at the idle threshold: no overflow, capped */
	dp_bucket_init(&b, 1000, 1000, HZ, 0);
	CHECK(dp_bucket_take(&b, 0, 1000));
	uint64_t thr = b.burst / b.rate + 1;
	CHECK(dp_bucket_take(&b, thr, 1000));
	CHECK(b.tokens <= b.burst);
}

int
main(void)
{
	test_burst();
	test_refill();
	test_slow_rate();
	test_unlimited();
	test_long_idle();
	return check_done("bucket");
}
