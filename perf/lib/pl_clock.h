/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Clocks of the load generators. Sender and receiver are one process on
 * one host, so a send time carried in a payload and read back at the
 * receiver gives the one-way latency directly.
 */
#ifndef PL_CLOCK_H
#define PL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define PL_NS_PER_S 1000000000ull
#define PL_NS_PER_MS 1000000ull

static inline uint64_t
pl_clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * PL_NS_PER_S + (uint64_t)t.tv_nsec;
}

/* CLOCK_MONOTONIC: schedules, timeouts, latency within the process */
static inline uint64_t
pl_now_ns(void)
{
	return pl_clock_ns(CLOCK_MONOTONIC);
}

/* CLOCK_REALTIME: what SO_TIMESTAMPNS stamps datagrams with */
static inline uint64_t
pl_now_rt_ns(void)
{
	return pl_clock_ns(CLOCK_REALTIME);
}

#endif
