/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the gateway's SDP side (control/gateway/gw_sdp.c): the
 * bytes are a participant's offer. An offer that parses must yield an
 * answer that keeps the promises gw_sdp.h makes: CRLF text from "v=0",
 * a=ice-lite, a=setup:passive, our fingerprint, no more slots than asked,
 * and the same answer whatever the output room (or a clean refusal when
 * it is too small).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "gw_sdp.h"

#define OUT_CAP (64 * 1024)

static char out[OUT_CAP];
static char small[OUT_CAP];

static void
check_output(const char *s, size_t n)
{
	if (strlen(s) != n || n < 5 || memcmp(s, "v=0\r\n", 5) != 0 ||
	    strstr(s, "\r\na=ice-lite\r\n") == NULL ||
	    strstr(s, "a=setup:passive\r\n") == NULL ||
	    strstr(s, "a=crypto") != NULL)
		abort();
	for (const char *p = s; p < s + n;) {
		const char *eol = memchr(p, '\r', (size_t)(s + n - p));
		if (!eol || eol[1] != '\n' || eol - p < 2 || p[1] != '=' ||
		    p[0] < 'a' || p[0] > 'z' ||
		    memchr(p, '\n', (size_t)(eol - p)))
			abort();
		for (const char *q = p; q < eol; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
				abort();
		p = eol + 2;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fp[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const uint32_t ssrcs[3] = { 0x11111111, 0x22222222, 0x33333333 };
	struct sotto_addr cand;
	struct gw_offer o;
	struct gw_answer_params ap = {
		.ice_ufrag = "abcd1234",
		.ice_pwd = "0123456789abcdefghijklmn",
		.fingerprint = fp,
		.cands = &cand,
		.n_cands = 1,
		.n_slots = 3,
		.slot_ssrcs = ssrcs,
		.cname = "sotto",
		.session_id = 42,
	};
	struct gw_answer_info info, info2;
	const char *why = NULL;
	int n, n2;

	sotto_addr_v4(&cand, 0x0100007f, 3479);
	if (gw_sdp_parse_offer((const char *)data, size, &o, &why) < 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	n = gw_sdp_build_answer(&o, &ap, out, sizeof(out), &info, &why);
	if (n < 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	check_output(out, (size_t)n);
	if (info.n_slots > ap.n_slots)
		abort();
	/* a smaller room: the same answer or a clean refusal */
	size_t cap = (size_t)n / 2 + 1;
	memset(small, 0x5a, sizeof(small));
	n2 = gw_sdp_build_answer(&o, &ap, small, cap, &info2, &why);
	if (n2 >= 0 && (n2 != n || memcmp(small, out, (size_t)n) != 0))
		abort();
	for (size_t i = cap; i < sizeof(small); i++)
		if (small[i] != 0x5a)
			abort();
	return 0;
}
