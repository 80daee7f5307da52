/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CHANDATA_H
#define SOTTO_CHANDATA_H

/* TURN ChannelData framing, RFC 8656 §12.4. */
#include <stddef.h>
#include <stdint.h>

#define CHANDATA_HDR_LEN 4
#define TURN_CHANNEL_MIN 0x4000
#define TURN_CHANNEL_MAX 0x4FFF          /* RFC 8656 §12 */
#define TURN_CHANNEL_MAX_RFC5766 0x7FFF  /* RFC 5766 §11, older clients */

/* May a ChannelBind use ch? legacy: accept the RFC 5766 range. */
static inline int turn_channel_valid(uint16_t ch, int legacy)
{
	return ch >= TURN_CHANNEL_MIN &&
	       ch <= (legacy ? TURN_CHANNEL_MAX_RFC5766 : TURN_CHANNEL_MAX);
}

/*
 * Parses a ChannelData message received over UDP: the datagram may carry up
 * to 3 padding bytes after the data (RFC 8656 §12.5), never less data than
 * the length field says. Any number a ChannelBind may have made (either
 * range) is framing-valid; whether it is bound is the tables' business.
 * Returns the data length, or -1.
 */
static inline int chandata_parse(const uint8_t *p, size_t len, uint16_t *chan)
{
	if (len < CHANDATA_HDR_LEN)
		return -1;
	uint16_t ch = (uint16_t)(p[0] << 8 | p[1]);
	uint16_t dlen = (uint16_t)(p[2] << 8 | p[3]);
	if (!turn_channel_valid(ch, 1))
		return -1;
	if ((size_t)dlen + CHANDATA_HDR_LEN > len ||
	    len - dlen - CHANDATA_HDR_LEN > 3)
		return -1;
	*chan = ch;
	return dlen;
}

static inline void chandata_write_hdr(uint8_t *p, uint16_t chan, uint16_t dlen)
{
	p[0] = (uint8_t)(chan >> 8);
	p[1] = (uint8_t)chan;
	p[2] = (uint8_t)(dlen >> 8);
	p[3] = (uint8_t)dlen;
}

#endif
