/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CLOCK_H
#define SOTTO_CLOCK_H

/*
 * The control plane's clocks. Monotonic time for durations (latency
 * histograms, probes); wall-clock time where a value must match another
 * machine's idea of now (credential and token expiry, log timestamps).
 */
#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline uint64_t
clock_mono_us(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000;
}

static inline uint64_t
clock_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

static inline uint64_t
clock_realtime_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

/* Both, read once per batch of work by the control loop: timers and rate
 * limits run on mono_ms, so a stepped clock neither fires nor stalls
 * them; wall_ms is for what a peer or another process stamped (REST
 * credential and room token expiry, stateless nonces). */
struct clock_now {
	uint64_t mono_ms;
	uint64_t wall_ms;
};

static inline struct clock_now
clock_now(void)
{
	return (struct clock_now){ clock_mono_ms(), clock_realtime_ms() };
}

#endif
