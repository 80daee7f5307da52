/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane/wire/siphash.h against the reference implementation's test
 * vectors (SipHash-2-4, 64-bit output; key 00..0f, message 00..len-1;
 * vectors.h of https://github.com/veorq/SipHash), one of each message
 * length class: empty, short, one block, a block and a tail, many blocks.
 */
#include <stdint.h>

#include "check.h"
#include "siphash.h"

int
main(void)
{
	static const struct {
		size_t len;
		uint64_t out;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ull },
		{ 1, 0x74f839c593dc67fdull },
		{ 8, 0x93f5f5799a932462ull },
		{ 15, 0xa129ca6149be45e5ull },
		{ 63, 0x958a324ceb064572ull },
	};
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(siphash24(key, msg, v[i].len) == v[i].out);
	/* the key matters */
	key[0] ^= 1;
	CHECK(siphash24(key, msg, 15) != 0xa129ca6149be45e5ull);
	return check_done("siphash");
}
