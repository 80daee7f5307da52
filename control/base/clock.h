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

#endif
