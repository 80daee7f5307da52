/* SPDX-License-Identifier: BSD-3-Clause */
#include "rate_limit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

/*
 * Set-associative table: 4 entries per bucket, the bucket chosen by a keyed
 * hash (SipHash-2-4 with a per-process random key), so a spoofing attacker
 * can neither grow the table nor aim many sources at one bucket to evict a
 * victim's entry.
 */
#define RL_WAYS 4
/* tokens are kept in 1/60000 of a request, so both n per second and n per
 * minute refill a whole number of units each millisecond */
#define RL_UNIT 60000u
#define RL_MAX_SLOTS (1u << 24)

struct rl_entry {
	uint8_t family; /* 0 = free */
	uint8_t ip[16];
	uint64_t tokens; /* RL_UNITs */
	uint64_t last_ms;
};

struct rate_limit {
	uint64_t rate;  /* RL_UNITs per ms; 0 = unlimited */
	uint64_t burst; /* RL_UNITs */
	uint32_t bucket_mask;
	uint64_t k0, k1;
	struct rl_entry *e;
};

static inline uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                             \
	do {                                                                  \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);     \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                        \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                        \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);     \
	} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012) */
static uint64_t
siphash24(uint64_t k0, uint64_t k1, const uint8_t *m, size_t len)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	size_t i, full = len & ~(size_t)7;
	uint64_t w;

	for (i = 0; i < full; i += 8) {
		w = le64(m + i);
		v3 ^= w;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= w;
	}
	w = (uint64_t)(len & 0xff) << 56;
	for (size_t j = 0; j < (len & 7); j++)
		w |= (uint64_t)m[full + j] << (8 * j);
	v3 ^= w;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= w;
	v2 ^= 0xff;
	for (i = 0; i < 4; i++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

struct rate_limit *
rate_limit_new(uint32_t per_sec, uint32_t burst, uint32_t slots)
{
	return rate_limit_new_period(per_sec, 1000, burst, slots);
}

struct rate_limit *
rate_limit_new_period(uint32_t count, uint32_t period_ms, uint32_t burst,
		      uint32_t slots)
{
	struct rate_limit *rl;
	uint8_t key[16];
	uint32_t n = RL_WAYS;

	if (slots > RL_MAX_SLOTS || period_ms == 0 || RL_UNIT % period_ms) {
		errno = EINVAL;
		return NULL;
	}
	while (n < slots)
		n <<= 1;

	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return NULL;
	rl->e = calloc(n, sizeof(*rl->e));
	if (rl->e == NULL) {
		free(rl);
		errno = ENOMEM;
		return NULL;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		rate_limit_free(rl);
		errno = EIO;
		return NULL;
	}
	rl->k0 = le64(key);
	rl->k1 = le64(key + 8);
	rl->rate = (uint64_t)count * (RL_UNIT / period_ms);
	/* burst 0 would deny everything forever: take one period's worth */
	rl->burst = (uint64_t)(burst ? burst : count) * RL_UNIT;
	rl->bucket_mask = n / RL_WAYS - 1;
	return rl;
}

void
rate_limit_free(struct rate_limit *rl)
{
	if (rl == NULL)
		return;
	free(rl->e);
	free(rl);
}

/*
 * The key is the source IP without the port. An IPv6 source is keyed by
 * its /64: one subscriber usually holds a whole /64 (RFC 6177), and a
 * per-address limit would give it 2^64 fresh buckets.
 */
static void
rl_key(const struct sotto_addr *src, uint8_t *family, uint8_t ip[16])
{
	*family = src->family;
	memset(ip, 0, 16);
	memcpy(ip, src->ip, src->family == AF_INET ? 4 : 8);
}

bool
rate_limit_allow(struct rate_limit *rl, const struct sotto_addr *src,
		 uint64_t now_ms)
{
	uint8_t k[17];
	struct rl_entry *b, *e = NULL, *victim;

	if (rl->rate == 0)
		return true;

	rl_key(src, &k[0], k + 1);
	uint32_t h = (uint32_t)siphash24(rl->k0, rl->k1, k, sizeof(k));
	b = &rl->e[(size_t)(h & rl->bucket_mask) * RL_WAYS];

	victim = &b[0];
	for (unsigned i = 0; i < RL_WAYS; i++) {
		if (b[i].family == k[0] && memcmp(b[i].ip, k + 1, 16) == 0) {
			e = &b[i];
			break;
		}
		/* a free slot first, then the least recently seen */
		if (victim->family != 0 &&
		    (b[i].family == 0 || b[i].last_ms < victim->last_ms))
			victim = &b[i];
	}

	if (e == NULL) {
		e = victim;
		e->family = k[0];
		memcpy(e->ip, k + 1, 16);
		e->tokens = rl->burst;
		e->last_ms = now_ms;
	} else if (now_ms > e->last_ms) {
		uint64_t elapsed = now_ms - e->last_ms;
		/* a long idle fills the bucket without multiplying
		 * (overflow) */
		if (elapsed >= rl->burst / rl->rate + 1)
			e->tokens = rl->burst;
		else {
			e->tokens += elapsed * rl->rate;
			if (e->tokens > rl->burst)
				e->tokens = rl->burst;
		}
		e->last_ms = now_ms;
	}
	/* a clock that goes back refills nothing and keeps last_ms */

	if (e->tokens < RL_UNIT)
		return false;
	e->tokens -= RL_UNIT;
	return true;
}
