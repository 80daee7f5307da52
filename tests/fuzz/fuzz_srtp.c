/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/wire/srtp.c with fixed keys.
 *
 * The first byte picks what to do with the rest (each in a heap buffer of
 * exactly its size, so ASan sees any read past the packet):
 *   bit 0: AES_CM_128_HMAC_SHA1_80 or AEAD_AES_128_GCM
 *   bit 1: SRTP or SRTCP
 *   bit 2: unprotect the bytes as they are (nothing may verify: only an
 *          error can come back), or protect them, flip the bit that byte 1
 *          names (or none) and unprotect: a flipped packet must be refused
 *          and an intact one must come back as it went in.
 * Contexts are rebuilt for every input so a run does not depend on the
 * inputs before it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srtp.h"

static const uint8_t master_key[16] = {
	0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
	0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};
static const uint8_t master_salt[14] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
};

static struct dp_srtp_ctx *
ctx(void *mem, enum dp_srtp_profile p, enum dp_srtp_dir dir)
{
	struct dp_srtp_session_keys k;
	struct dp_srtp_ctx *c;

	if (dp_srtp_kdf(p, master_key, 16, master_salt, dp_srtp_salt_len(p),
			&k) != 0)
		abort();
	c = dp_srtp_ctx_init(mem, dp_srtp_ctx_size(), p, dir, &k);
	if (!c)
		abort();
	return c;
}

static int
unprotect(struct dp_srtp_ctx *c, int rtcp, uint8_t *pkt, size_t len,
	  size_t *out)
{
	return rtcp ? dp_srtcp_unprotect(c, pkt, len, out) :
		      dp_srtp_unprotect(c, pkt, len, out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *mem_tx, *mem_rx;
	struct dp_srtp_ctx *tx, *rx;
	uint8_t *pkt;
	size_t out = 0, len;
	int rc;

	if (size < 2)
		return 0;
	if (!mem_tx) {
		mem_tx = aligned_alloc(DP_SRTP_CTX_ALIGN, dp_srtp_ctx_size());
		mem_rx = aligned_alloc(DP_SRTP_CTX_ALIGN, dp_srtp_ctx_size());
		if (!mem_tx || !mem_rx)
			abort();
	}
	enum dp_srtp_profile p = (data[0] & 1) ? DP_SRTP_AEAD_AES_128_GCM :
						 DP_SRTP_AES128_CM_HMAC_SHA1_80;
	int rtcp = (data[0] >> 1) & 1;
	int roundtrip = (data[0] >> 2) & 1;
	unsigned flip = data[1];
	size_t trailer = rtcp ? dp_srtp_rtcp_trailer(p) :
				dp_srtp_rtp_trailer(p);

	data += 2;
	size -= 2;
	rx = ctx(mem_rx, p, DP_SRTP_UNPROTECT);

	if (!roundtrip) {
		pkt = malloc(size ? size : 1);
		if (!pkt)
			abort();
		memcpy(pkt, data, size);
		rc = unprotect(rx, rtcp, pkt, size, &out);
		/* forging a tag for fixed keys is not something a fuzzer
		 * does; an accepted packet means a check is missing */
		if (rc == 0)
			abort();
		if (rc >= 0 || rc <= -DP_SRTP_N_ERR)
			abort();
		free(pkt);
		dp_srtp_ctx_fini(rx);
		return 0;
	}

	tx = ctx(mem_tx, p, DP_SRTP_PROTECT);
	pkt = malloc(size + trailer);
	if (!pkt)
		abort();
	memcpy(pkt, data, size);
	rc = rtcp ? dp_srtcp_protect(tx, pkt, size, size + trailer, &out) :
		    dp_srtp_protect(tx, pkt, size, size + trailer, &out);
	if (rc == 0) {
		if (out != size + trailer)
			abort();
		len = out;
		/* flip < 8 * len: that bit; otherwise leave it intact */
		int flipped = flip < 8 * len;
		if (flipped)
			pkt[flip / 8] ^= (uint8_t)(1u << (flip % 8));
		rc = unprotect(rx, rtcp, pkt, len, &out);
		if (flipped && rc == 0)
			abort();
		if (!flipped && (rc != 0 || out != size ||
				 memcmp(pkt, data, size) != 0))
			abort();
	}
	free(pkt);
	dp_srtp_ctx_fini(tx);
	dp_srtp_ctx_fini(rx);
	return 0;
}
