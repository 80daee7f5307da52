/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the SDP policy. The same bytes go to
 * sdp_policy_apply, as an offer or answer, and to the trickle functions,
 * as a candidate. What is accepted must keep the promises the policy
 * makes: CRLF text, only relay candidates with masked related addresses,
 * a sha-256 fingerprint, a verdict that does not depend on the output
 * room, and a second pass that changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp_policy.h"

#define OUT_CAP (32 * 1024)

static char out[OUT_CAP];
static char again[OUT_CAP];
static char small[OUT_CAP];

static void
check_output(const char *s, size_t n)
{
	if (strlen(s) != n || n < 5 || memcmp(s, "v=0\r\n", 5) != 0)
		abort();
	for (const char *p = s; p < s + n;) {
		const char *eol = memchr(p, '\r', (size_t)(s + n - p));
		if (!eol || eol[1] != '\n' || eol - p < 2 || p[1] != '=' ||
		    p[0] < 'a' || p[0] > 'z' ||
		    memchr(p, '\n', (size_t)(eol - p)))
			abort();
		if (eol - p >= 12 && memcmp(p, "a=candidate:", 12) == 0) {
			size_t len = (size_t)(eol - p);
			char cand[1024];
			bool masked;
			if (sdp_policy_candidate(p, len) != 1)
				abort();
			/* a kept candidate has nothing left to mask */
			if (sdp_policy_candidate_rewrite(p, len, cand,
							 sizeof(cand),
							 &masked) == 1 &&
			    (masked || strlen(cand) != len ||
			     memcmp(cand, p, len) != 0))
				abort();
		}
		p = eol + 2;
	}
}

static void
fuzz_apply(const uint8_t *data, size_t size)
{
	/* the policy comes from the length, so seeds stay as they are */
	const struct sdp_policy pol = {
		.max_bytes = SDP_POLICY_HARD_MAX,
		.allow_dtmf = size & 1,
		.allow_video = size & 2,
		.allow_data = size & 4,
	};
	const char *sdp = (const char *)data;
	struct sdp_policy_result res, res2;
	int n = sdp_policy_apply(&pol, sdp, size, out, sizeof(out), &res);

	if (n == -1) {
		if (!res.reason || sdp_policy_apply(&pol, sdp, size, small, 16,
						    &res2) != -1 ||
		    strcmp(res.reason, res2.reason) != 0)
			abort();
		return;
	}
	if (n == -2)
		return;
	/* the bound sdp_policy.h promises */
	if (n < 0 || (size_t)n >= sizeof(out) || (size_t)n > 3 * size ||
	    res.reason || strlen(res.fingerprint) != 95)
		abort();
	check_output(out, (size_t)n);

	/* exactly n + 1 bytes suffice, n do not */
	if (sdp_policy_apply(&pol, sdp, size, small, (size_t)n + 1,
			     &res2) != n ||
	    memcmp(small, out, (size_t)n + 1) != 0 ||
	    sdp_policy_apply(&pol, sdp, size, small, (size_t)n, &res2) != -2)
		abort();

	int n2 = sdp_policy_apply(&pol, out, (size_t)n, again, sizeof(again),
				  &res2);
	if (n2 != n || memcmp(out, again, (size_t)n) != 0 ||
	    res2.candidates_removed || res2.codecs_removed ||
	    res2.sections_disabled || res2.addresses_masked ||
	    strcmp(res.fingerprint, res2.fingerprint) != 0)
		abort();
}

static void
fuzz_candidate(const uint8_t *data, size_t size)
{
	const char *c = (const char *)data;
	char buf[1024], buf2[1024];
	bool masked;
	int keep = sdp_policy_candidate(c, size);
	int r = sdp_policy_candidate_rewrite(c, size, buf, sizeof(buf),
					     &masked);

	if (keep < -1 || keep > 1)
		abort();
	if (r == -2) {
		if (keep != 1 || size < sizeof(buf) / 2)
			abort();
		return;
	}
	if (r != keep)
		abort();
	if (r != 1)
		return;
	size_t n = strlen(buf);
	if (sdp_policy_candidate(buf, n) != 1 ||
	    sdp_policy_candidate_rewrite(buf, n, buf2, sizeof(buf2),
					 &masked) != 1 ||
	    masked || strcmp(buf, buf2) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_apply(data, size);
	fuzz_candidate(data, size);
	return 0;
}
