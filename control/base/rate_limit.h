/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_RATE_LIMIT_H
#define SOTTO_RATE_LIMIT_H

/*
 * Per-source limits: a request rate (STUN per second, signaling per
 * minute, TLS handshakes) and a count of things open at once (connections).
 * Both key a source by its IPv4 address, or by its IPv6 /64 AND its /48,
 * and a request or connection passes only if every key it falls under is
 * within its budget:
 *
 *  - a /64 is one subscriber (RFC 6177 hands out /64s to hosts and /48s to
 *    sites), so it gets what one IPv4 address gets;
 *  - a /48 holds 65,536 /64s and costs nothing (tunnel brokers give them
 *    away), so without a limit of its own one attacker would hold 65,536
 *    budgets. It gets RL_NET48_FACTOR budgets: the subnets of one site, or
 *    the unrelated mobile subscribers an operator numbers out of one /48,
 *    still have sixteen hosts' worth — more than the hundreds of users
 *    behind one carrier-grade IPv4 NAT share — while the attacker gets
 *    sixteen, not 65,536.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define RL_NET48_FACTOR 16

/* ---- rates -------------------------------------------------------------- */

/*
 * A fixed-size table (no growth with spoofed sources): a new source takes
 * over the least recently seen slot in its hash bucket (it comes back with
 * a full budget, so eviction only ever favours the evicted).
 */
struct rate_limit;

/* per_sec 0 = unlimited. burst: requests allowed at once (0 = per_sec).
 * An IPv6 /48 gets RL_NET48_FACTOR times both. */
struct rate_limit *rate_limit_new(uint32_t per_sec, uint32_t burst,
				  uint32_t slots);
/* count per period_ms (which must divide 60000: a second, a minute). */
struct rate_limit *rate_limit_new_period(uint32_t count, uint32_t period_ms,
					 uint32_t burst, uint32_t slots);
void rate_limit_free(struct rate_limit *rl);
/* One request from src: true if its address (/64) and, for IPv6, its /48
 * both have a request left; nothing is spent when either is empty. */
bool rate_limit_allow(struct rate_limit *rl, const struct sotto_addr *src,
		      uint64_t now_ms);

/* ---- counts of open things ---------------------------------------------- */

/*
 * Nothing is ever evicted here (a forgotten count would let a source past
 * its cap, or underflow when its things close), so the table is sized at
 * creation for the most things that can be open at once; a source holds a
 * key only while it has something open.
 */
struct src_count;

/* For at most max_open things open at once. NULL and errno. */
struct src_count *src_count_new(uint32_t max_open);
void src_count_free(struct src_count *sc);
/*
 * Counts one more thing for src if its address (/64) has fewer than cap
 * and its /48 fewer than RL_NET48_FACTOR * cap (cap 0: no cap, still
 * counted). false: at a cap (or more than max_open things), nothing counted.
 * A source of another family (Unix sockets) is not counted: always true.
 */
bool src_count_take(struct src_count *sc, const struct sotto_addr *src,
		    uint32_t cap);
/* Gives back one thing src took. */
void src_count_put(struct src_count *sc, const struct sotto_addr *src);
/* Things src's address (/64) holds now. */
uint32_t src_count_of(const struct src_count *sc, const struct sotto_addr *src);

#endif
