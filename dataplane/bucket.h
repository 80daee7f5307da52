/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_BUCKET_H
#define SOTTO_BUCKET_H

/*
 * Byte token bucket for the fast path. Time is in TSC ticks; the refill rate
 * is kept as bytes per 2^20 ticks so a take is a multiply and a shift.
 * One writer per bucket (see docs/architecture.md, "bandwidth caps").
 */
#include <stdbool.h>
#include <stdint.h>

struct dp_bucket {
	uint64_t tokens;  /* bytes, scaled by 2^20 */
	uint64_t last;    /* tick of the last refill */
	uint64_t rate;    /* bytes * 2^20 per tick, i.e. bytes/s * 2^20 / hz */
	uint64_t burst;   /* cap on tokens, scaled */
};

#define DP_BUCKET_SHIFT 20

/* rate_Bps = 0 means unlimited. burst_bytes is the most sent in one go. */
static inline void
dp_bucket_init(struct dp_bucket *b, uint64_t rate_Bps, uint64_t burst_bytes,
	       uint64_t hz, uint64_t now)
{
	b->rate = rate_Bps ? (rate_Bps << DP_BUCKET_SHIFT) / hz : 0;
	if (rate_Bps && b->rate == 0)
		b->rate = 1;
	b->burst = burst_bytes << DP_BUCKET_SHIFT;
	b->tokens = b->burst;
	b->last = now;
}

static inline bool
dp_bucket_take(struct dp_bucket *b, uint64_t now, uint32_t bytes)
{
	if (b->rate == 0)
		return true;
	uint64_t elapsed = now - b->last;
	/* a long idle period refills completely; avoids overflow below */
	if (elapsed > (b->burst / b->rate) + 1)
		b->tokens = b->burst;
	else {
		b->tokens += elapsed * b->rate;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last = now;
	uint64_t need = (uint64_t)bytes << DP_BUCKET_SHIFT;
	if (b->tokens < need)
		return false;
	b->tokens -= need;
	return true;
}

#endif
