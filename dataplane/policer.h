/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_POLICER_H
#define SOTTO_POLICER_H

/*
 * Packets per second per source prefix (an IPv4 address, an IPv6 /64), for
 * what the workers hand the control thread. One table per worker, so one
 * writer and no atomics: a source that hashes to several workers gets a
 * budget on each (at most workers × the rate). A fixed number of slots in
 * sets of DP_POLICER_WAYS, indexed by a SipHash of the prefix under a key
 * drawn at start: spoofed sources cannot grow the table, nor aim at a set.
 * A source new to the table takes the set's least recently seen slot and
 * starts with DP_POLICER_NEW packets, not the whole burst, so sources that
 * push each other out gain little by it; a flood from more sources than
 * the table holds is bounded by the exception rings and the control loop's
 * turns instead (docs/architecture.md, "The control loop").
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "siphash.h"

#define DP_POLICER_SLOTS 4096      /* per worker, a power of 2 */
#define DP_POLICER_WAYS 4          /* slots a prefix may take */
#define DP_POLICER_NEW 8           /* packets a newcomer starts with */
/* token fixed point: 32 bits of fraction, so that 100 packets/s at a
 * 3 GHz TSC is still 143 units per tick (within 1 %) */
#define DP_POLICER_SHIFT 32

struct dp_policer_slot {
	uint64_t tag;              /* the prefix's hash; 0: free */
	uint64_t last;             /* TSC of the last refill */
	uint64_t tokens;           /* packets << DP_POLICER_SHIFT */
};

struct dp_policer {
	uint8_t key[16];
	uint64_t rate;             /* packets << SHIFT per TSC tick */
	uint64_t burst;            /* packets << SHIFT */
	uint64_t fill_ticks;       /* from empty to burst (no overflow past) */
	struct dp_policer_slot slot[DP_POLICER_SLOTS];
};

/* rate 0: everything passes. */
static inline void
dp_policer_init(struct dp_policer *p, const uint8_t key[16], uint32_t per_sec,
		uint32_t burst, uint64_t hz)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, sizeof(p->key));
	p->rate = per_sec ? (uint64_t)(((unsigned __int128)per_sec
					<< DP_POLICER_SHIFT) / hz) : 0;
	if (per_sec && p->rate == 0)
		p->rate = 1;
	p->burst = (uint64_t)(burst ? burst : 1) << DP_POLICER_SHIFT;
	p->fill_ticks = p->rate ? p->burst / p->rate + 1 : 0;
}

static inline bool
dp_policer_allow(struct dp_policer *p, const struct sotto_addr *src,
		 uint64_t now)
{
	struct dp_policer_slot *set, *s = NULL;
	uint8_t k[9];
	uint64_t tag;

	if (p->rate == 0)
		return true;
	/* the prefix: IPv4 /32, IPv6 /64 */
	k[0] = src->family;
	memcpy(k + 1, src->ip, 8);
	tag = siphash24(p->key, k, src->family == AF_INET ? 5 : 9) | 1;
	set = &p->slot[(tag * DP_POLICER_WAYS) & (DP_POLICER_SLOTS - 1)];
	for (unsigned i = 0; i < DP_POLICER_WAYS; i++) {
		if (set[i].tag == tag) {
			s = &set[i];
			break;
		}
		if (s == NULL || set[i].last < s->last)
			s = &set[i];   /* the least recently seen, so far */
	}
	if (s->tag != tag) {
		uint64_t start = (uint64_t)DP_POLICER_NEW << DP_POLICER_SHIFT;

		s->tag = tag;
		s->tokens = start < p->burst ? start : p->burst;
		s->last = now;
	} else if (now > s->last) {
		uint64_t dt = now - s->last;
		uint64_t add = dt >= p->fill_ticks ? p->burst : dt * p->rate;

		s->tokens = add >= p->burst - s->tokens ? p->burst
							: s->tokens + add;
		s->last = now;
	}
	if (s->tokens < (1ull << DP_POLICER_SHIFT))
		return false;
	s->tokens -= 1ull << DP_POLICER_SHIFT;
	return true;
}

#endif
