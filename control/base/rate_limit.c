/* SPDX-License-Identifier: BSD-3-Clause */
#include "rate_limit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

/*
 * Rates: a set-associative table, 4 entries per bucket, the bucket chosen
 * by a keyed hash (SipHash-2-4 with a per-process random key), so a
 * spoofing attacker can neither grow the table nor aim many sources at one
 * bucket to evict a victim's entry.
 */
#define RL_WAYS 4
/* tokens are kept in 1/60000 of a request, so both n per second and n per
 * minute refill a whole number of units each millisecond */
#define RL_UNIT 60000u
#define RL_MAX_SLOTS (1u << 24)

/* A source's key: the address masked to a prefix, and the prefix length
 * (a /48 and the /64 at its start are different keys). */
struct rl_key {
	uint8_t family; /* 0 = a free entry */
	uint8_t bits;
	uint8_t ip[16];
};

struct rl_entry {
	struct rl_key k;
	uint64_t tokens; /* RL_UNITs */
	uint64_t last_ms;
};

struct rate_limit {
	uint64_t rate;  /* RL_UNITs per ms for an address or /64; 0 = unlimited */
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
 * The keys a source is limited by, without the port: its IPv4 address, or
 * its IPv6 /64 and /48 (rate_limit.h says why both). Another family (a
 * Unix socket, an unknown peer) is one key of its own, so it is limited
 * like a single address rather than not at all.
 */
static unsigned
rl_keys(const struct sotto_addr *src, struct rl_key k[2])
{
	memset(k, 0, 2 * sizeof(*k));
	if (src->family == AF_INET) {
		k[0].family = AF_INET;
		k[0].bits = 32;
		memcpy(k[0].ip, src->ip, 4);
		return 1;
	}
	if (src->family != AF_INET6) {
		k[0].family = 0xff;
		return 1;
	}
	k[0].family = k[1].family = AF_INET6;
	k[0].bits = 64;
	memcpy(k[0].ip, src->ip, 8);
	k[1].bits = 48;
	memcpy(k[1].ip, src->ip, 6);
	return 2;
}

static uint64_t
rl_hash(uint64_t k0, uint64_t k1, const struct rl_key *k)
{
	_Static_assert(sizeof(struct rl_key) == 18, "no padding in the key");
	return siphash24(k0, k1, (const uint8_t *)k, sizeof(*k));
}

static void
rl_refill(struct rl_entry *e, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
	uint64_t elapsed;

	/* a clock that goes back refills nothing and keeps last_ms */
	if (now_ms <= e->last_ms)
		return;
	elapsed = now_ms - e->last_ms;
	/* a long idle fills the bucket without multiplying (overflow) */
	if (elapsed >= burst / rate + 1) {
		e->tokens = burst;
	} else {
		e->tokens += elapsed * rate;
		if (e->tokens > burst)
			e->tokens = burst;
	}
	e->last_ms = now_ms;
}

/* k's entry, refilled; a new one (full) in place of the least recently
 * seen in its bucket, never in place of keep. */
static struct rl_entry *
rl_entry(struct rate_limit *rl, const struct rl_key *k,
	 const struct rl_entry *keep, uint64_t rate, uint64_t burst,
	 uint64_t now_ms)
{
	uint32_t h = (uint32_t)rl_hash(rl->k0, rl->k1, k);
	struct rl_entry *b = &rl->e[(size_t)(h & rl->bucket_mask) * RL_WAYS];
	struct rl_entry *victim = NULL;

	for (unsigned i = 0; i < RL_WAYS; i++) {
		if (b[i].k.family != 0 && memcmp(&b[i].k, k, sizeof(*k)) == 0) {
			rl_refill(&b[i], rate, burst, now_ms);
			return &b[i];
		}
		if (&b[i] == keep)
			continue;
		/* a free slot first, then the least recently seen */
		if (victim == NULL ||
		    (victim->k.family != 0 &&
		     (b[i].k.family == 0 || b[i].last_ms < victim->last_ms)))
			victim = &b[i];
	}
	victim->k = *k;
	victim->tokens = burst;
	victim->last_ms = now_ms;
	return victim;
}

bool
rate_limit_allow(struct rate_limit *rl, const struct sotto_addr *src,
		 uint64_t now_ms)
{
	struct rl_key k[2];
	struct rl_entry *e[2] = { NULL, NULL };
	unsigned n;

	if (rl->rate == 0)
		return true;
	n = rl_keys(src, k);
	/* the /48 first: the /64's entry may then not evict it */
	if (n == 2)
		e[1] = rl_entry(rl, &k[1], NULL, rl->rate * RL_NET48_FACTOR,
				rl->burst * RL_NET48_FACTOR, now_ms);
	e[0] = rl_entry(rl, &k[0], e[1], rl->rate, rl->burst, now_ms);
	for (unsigned i = 0; i < n; i++)
		if (e[i]->tokens < RL_UNIT)
			return false;
	for (unsigned i = 0; i < n; i++)
		e[i]->tokens -= RL_UNIT;
	return true;
}

/* ---- counts of open things ---------------------------------------------- */

/*
 * Open addressing with linear probing, at most two thirds full (a source
 * holds at most two keys, the table has three slots per thing), deletion
 * by shifting back (no tombstones to fill it up); the keyed hash keeps
 * probe sequences short whatever addresses an attacker picks.
 */
struct sc_entry {
	struct rl_key k;
	uint32_t n;
};

struct src_count {
	uint64_t k0, k1;
	uint32_t mask;
	uint32_t used, max_used;
	struct sc_entry *e;
};

struct src_count *
src_count_new(uint32_t max_open)
{
	struct src_count *sc;
	uint8_t key[16];
	uint32_t n = 16;

	if (max_open > (1u << 22)) {
		errno = EINVAL;
		return NULL;
	}
	while (n < 3 * max_open)
		n <<= 1;
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return NULL;
	sc->e = calloc(n, sizeof(*sc->e));
	if (sc->e == NULL || RAND_bytes(key, sizeof(key)) != 1) {
		free(sc->e);
		free(sc);
		errno = ENOMEM;
		return NULL;
	}
	sc->k0 = le64(key);
	sc->k1 = le64(key + 8);
	sc->mask = n - 1;
	sc->max_used = 2 * max_open;
	return sc;
}

void
src_count_free(struct src_count *sc)
{
	if (sc == NULL)
		return;
	free(sc->e);
	free(sc);
}

/* k's slot, or the free slot where it would go. */
static uint32_t
sc_find(const struct src_count *sc, const struct rl_key *k)
{
	uint32_t i = (uint32_t)rl_hash(sc->k0, sc->k1, k) & sc->mask;

	while (sc->e[i].k.family != 0 &&
	       memcmp(&sc->e[i].k, k, sizeof(*k)) != 0)
		i = (i + 1) & sc->mask;
	return i;
}

static void
sc_delete(struct src_count *sc, uint32_t hole)
{
	uint32_t j = hole;

	for (;;) {
		uint32_t home;

		j = (j + 1) & sc->mask;
		if (sc->e[j].k.family == 0)
			break;
		home = (uint32_t)rl_hash(sc->k0, sc->k1, &sc->e[j].k) & sc->mask;
		/* e[j] may fill the hole if the hole lies between its home
		 * and j (cyclically) */
		if (((j - home) & sc->mask) >= ((j - hole) & sc->mask)) {
			sc->e[hole] = sc->e[j];
			hole = j;
		}
	}
	memset(&sc->e[hole], 0, sizeof(sc->e[hole]));
	sc->used--;
}

bool
src_count_take(struct src_count *sc, const struct sotto_addr *src,
	       uint32_t cap)
{
	struct rl_key k[2];
	unsigned n, fresh = 0;

	if (src->family != AF_INET && src->family != AF_INET6)
		return true;
	n = rl_keys(src, k);
	for (unsigned i = 0; i < n; i++) {
		const struct sc_entry *e = &sc->e[sc_find(sc, &k[i])];
		uint64_t limit = (uint64_t)cap * (k[i].bits == 48 ?
						  RL_NET48_FACTOR : 1);

		if (e->k.family == 0)
			fresh++;
		else if (cap != 0 && e->n >= limit)
			return false;
	}
	if (sc->used + fresh > sc->max_used)
		return false;
	for (unsigned i = 0; i < n; i++) {
		struct sc_entry *e = &sc->e[sc_find(sc, &k[i])];

		if (e->k.family == 0) {
			e->k = k[i];
			sc->used++;
		}
		e->n++;
	}
	return true;
}

void
src_count_put(struct src_count *sc, const struct sotto_addr *src)
{
	struct rl_key k[2];
	unsigned n;

	if (src->family != AF_INET && src->family != AF_INET6)
		return;
	n = rl_keys(src, k);
	for (unsigned i = 0; i < n; i++) {
		uint32_t at = sc_find(sc, &k[i]);

		if (sc->e[at].k.family == 0)
			continue; /* never taken: nothing to give back */
		if (--sc->e[at].n == 0)
			sc_delete(sc, at);
	}
}

uint32_t
src_count_of(const struct src_count *sc, const struct sotto_addr *src)
{
	struct rl_key k[2];

	if (src->family != AF_INET && src->family != AF_INET6)
		return 0;
	rl_keys(src, k);
	return sc->e[sc_find(sc, &k[0])].n;
}
