/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SIPHASH_H
#define SOTTO_SIPHASH_H

/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed hash for tables an attacker fills with keys of its choice
 * (sources it spoofs). With a random key the attacker cannot aim many keys
 * at one slot. Written out here because neither DPDK (jhash, CRC: unkeyed)
 * nor OpenSSL (EVP_MAC: a context per call) has one fit for a per-packet
 * lookup; the test vectors of the reference implementation are checked in
 * tests/unit/test_siphash.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPHASH_ROUND(v0, v1, v2, v3)                                         \
	do {                                                                  \
		v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0;                \
		v0 = SIPHASH_ROTL(v0, 32);                                    \
		v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2;                \
		v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0;                \
		v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2;                \
		v2 = SIPHASH_ROTL(v2, 32);                                    \
	} while (0)

static inline uint64_t
siphash_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* key: 16 bytes. */
static inline uint64_t
siphash24(const uint8_t *key, const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = siphash_le64(key), k1 = siphash_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = siphash_le64(in + i);
		v3 ^= m;
		SIPHASH_ROUND(v0, v1, v2, v3);
		SIPHASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#undef SIPHASH_ROUND
#undef SIPHASH_ROTL

#endif
