/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for ChannelData framing: whatever is accepted must lie
 * inside the datagram, and writing the header back must give the same
 * bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chandata.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[CHANDATA_HDR_LEN];
	uint16_t ch = 0;
	int n = chandata_parse(data, size, &ch);

	if (n < 0)
		return 0;
	if (!turn_channel_valid(ch, 1) || (size_t)n + CHANDATA_HDR_LEN > size ||
	    size - (size_t)n - CHANDATA_HDR_LEN > 3)
		abort();

	volatile uint8_t sink = 0;
	for (int i = 0; i < n; i++)
		sink ^= data[CHANDATA_HDR_LEN + i];
	(void)sink;

	chandata_write_hdr(hdr, ch, (uint16_t)n);
	if (memcmp(hdr, data, CHANDATA_HDR_LEN) != 0)
		abort();
	return 0;
}
