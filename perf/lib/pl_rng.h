/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xorshift64*: WebSocket masks and keys, ICE credentials, SSRCs. RFC 6455
 * §5.3 wants unpredictable masks to protect proxies from a hostile page; a
 * load generator talking to its own server needs only distinct values.
 */
#ifndef PL_RNG_H
#define PL_RNG_H

#include <stdint.h>
#include <sys/random.h>

#include "pl_clock.h"

static inline uint64_t
pl_rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

/* A seed from getrandom(2), the clock if that fails; never 0. */
static inline void
pl_rng_seed(uint64_t *s)
{
	if (getrandom(s, sizeof(*s), 0) != sizeof(*s) || *s == 0)
		*s = pl_now_ns() | 1;
}

#endif
