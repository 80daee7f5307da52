/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for room token verification: arbitrary bytes as a
 * bearer token, against two keys (rotation). Nothing may crash, and a token
 * that verifies must carry well-formed claims.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sig_token.h"

static const struct sig_token_key keys[2] = {
	{ .id = "k2", .secret = "fuzz-key-two-0123456789abcdef", .secret_len = 29 },
	{ .id = "k1", .secret = "fuzz-key-one-0123456789abcdef", .secret_len = 29 },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sig_token_claims c;
	const char *why = NULL;

	if (sig_token_verify(keys, 2, (const char *)data, size, 1700000000, &c,
			     &why) == 0) {
		if (sig_room_id_valid(c.room, strlen(c.room)) != 0 ||
		    strlen(c.jti) != 32 || c.exp <= 1700000000)
			abort();
	} else if (why == NULL) {
		abort();
	}
	return 0;
}
