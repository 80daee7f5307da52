/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN ChannelData framing, RFC 8656 §12.4 and §12.5. */
#include <stdint.h>
#include <string.h>

#include "chandata.h"
#include "check.h"

static uint8_t pkt[CHANDATA_HDR_LEN + 1500];

static int
parse(uint16_t ch, uint16_t dlen, size_t wire_len, uint16_t *out)
{
	chandata_write_hdr(pkt, ch, dlen);
	return chandata_parse(pkt, wire_len, out);
}

static void
test_channel_range(void)
{
	uint16_t ch;

	/* RFC 8656 */
	CHECK(!turn_channel_valid(0x0000, 0));
	CHECK(!turn_channel_valid(0x3fff, 0));
	CHECK(turn_channel_valid(0x4000, 0));
	CHECK(turn_channel_valid(0x4abc, 0));
	CHECK(turn_channel_valid(0x4fff, 0));
	CHECK(!turn_channel_valid(0x5000, 0));
	CHECK(!turn_channel_valid(0x7fff, 0));
	CHECK(!turn_channel_valid(0xffff, 0));
	/* RFC 5766, for older clients */
	CHECK(!turn_channel_valid(0x3fff, 1));
	CHECK(turn_channel_valid(0x4000, 1));
	CHECK(turn_channel_valid(0x5000, 1));
	CHECK(turn_channel_valid(0x7fff, 1));
	CHECK(!turn_channel_valid(0x8000, 1));
	CHECK(!turn_channel_valid(0xffff, 1));

	for (uint32_t c = 0; c <= 0xffff; c++) {
		ch = 0;
		int r = parse((uint16_t)c, 4, CHANDATA_HDR_LEN + 4, &ch);
		/* framing accepts either range; binding decides */
		if (c >= TURN_CHANNEL_MIN && c <= TURN_CHANNEL_MAX_RFC5766) {
			CHECK_EQ(r, 4);
			CHECK_EQ(ch, c);
		} else {
			CHECK_EQ(r, -1);
			CHECK_EQ(ch, 0);
		}
	}
}

/* RFC 8656 §12.5: over UDP the datagram may carry up to 3 padding bytes */
static void
test_padding(void)
{
	uint16_t ch = 0;

	CHECK_EQ(parse(0x4001, 0, CHANDATA_HDR_LEN, &ch), 0);
	CHECK_EQ(ch, 0x4001);
	for (size_t pad = 0; pad <= 3; pad++) {
		CHECK_EQ(parse(0x4001, 5, CHANDATA_HDR_LEN + 5 + pad, &ch), 5);
		CHECK_EQ(parse(0x4001, 0, CHANDATA_HDR_LEN + pad, &ch), 0);
	}
	CHECK_EQ(parse(0x4001, 5, CHANDATA_HDR_LEN + 5 + 4, &ch), -1);
	CHECK_EQ(parse(0x4001, 0, CHANDATA_HDR_LEN + 4, &ch), -1);
	CHECK_EQ(parse(0x4001, 8, CHANDATA_HDR_LEN + 8 + 100, &ch), -1);
}

static void
test_short(void)
{
	uint16_t ch = 0x1234;

	/* fewer bytes than the length field says */
	CHECK_EQ(parse(0x4000, 5, CHANDATA_HDR_LEN + 4, &ch), -1);
	CHECK_EQ(parse(0x4000, 1, CHANDATA_HDR_LEN, &ch), -1);
	CHECK_EQ(parse(0x4000, 0xffff, sizeof(pkt), &ch), -1);
	/* shorter than the header */
	for (size_t n = 0; n < CHANDATA_HDR_LEN; n++)
		CHECK_EQ(parse(0x4000, 0, n, &ch), -1);
	CHECK_EQ(ch, 0x1234);
}

static void
test_round_trip(void)
{
	uint8_t hdr[CHANDATA_HDR_LEN];
	uint16_t ch = 0;

	chandata_write_hdr(hdr, 0x4a5b, 0x0102);
	CHECK_MEM(hdr, "\x4a\x5b\x01\x02", 4);

	/* RFC 7983: the first byte of a ChannelData message is 64..79 */
	chandata_write_hdr(hdr, TURN_CHANNEL_MIN, 0);
	CHECK_EQ(hdr[0], 64);
	chandata_write_hdr(hdr, TURN_CHANNEL_MAX, 0);
	CHECK_EQ(hdr[0], 79);

	for (uint16_t dlen = 0; dlen <= 1500; dlen += 37) {
		uint16_t c = (uint16_t)(TURN_CHANNEL_MIN + dlen);
		memset(pkt, 0xa5, sizeof(pkt));
		CHECK_EQ(parse(c, dlen, CHANDATA_HDR_LEN + dlen, &ch), dlen);
		CHECK_EQ(ch, c);
		CHECK_EQ(pkt[4], 0xa5); /* header write touches 4 bytes */
	}
	CHECK_EQ(parse(0x4fff, 1500, sizeof(pkt), &ch), 1500);
	CHECK_EQ(ch, 0x4fff);
}

int
main(void)
{
	test_channel_range();
	test_padding();
	test_short();
	test_round_trip();
	return check_done("chandata");
}
