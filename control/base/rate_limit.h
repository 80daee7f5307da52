/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_RATE_LIMIT_H
#define SOTTO_RATE_LIMIT_H

/*
 * Requests per source IP per second (STUN) or per minute (signaling). A fixed-size table (no growth with
 * spoofed sources): a new source takes over the least recently seen slot in
 * its hash bucket.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct rate_limit;

/* per_sec 0 = unlimited. burst: requests allowed at once (0 = per_sec).
 * An IPv6 source is keyed by its /64. */
struct rate_limit *rate_limit_new(uint32_t per_sec, uint32_t burst,
				  uint32_t slots);
/* count per period_ms (which must divide 60000: a second, a minute). */
struct rate_limit *rate_limit_new_period(uint32_t count, uint32_t period_ms,
					 uint32_t burst, uint32_t slots);
void rate_limit_free(struct rate_limit *rl);
bool rate_limit_allow(struct rate_limit *rl, const struct sotto_addr *src,
		      uint64_t now_ms);

#endif
