/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SDP policy against real Chromium offers and answers
 * (fixtures/sdp/README.md says how they were captured), hand-made
 * negative fixtures, and small SDPs built here for one rule each.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sdp_policy.h"

#define OUT_CAP 65536

static char out[OUT_CAP];
static char out2[OUT_CAP];

static const struct sdp_policy pol_default = { 16384, false, false, false };

/* ---- helpers ---- */

static char *
fixture(const char *name, size_t *len)
{
	const char *dir = getenv("SOTTO_FIXTURES");
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/sdp/%s",
		 dir && *dir ? dir : "tests/unit/fixtures", name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open fixture %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* s with the first occurrence of from replaced; a missing from is a
 * broken test, not a failed check. */
static char *
subst(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *r;

	if (!at) {
		fprintf(stderr, "test bug: \"%s\" not in the SDP\n", from);
		exit(1);
	}
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	memcpy(r, s, (size_t)(at - s));
	strcpy(r + (at - s), to);
	strcat(r, at + strlen(from));
	return r;
}

/* Is line (without CRLF) a whole line of sdp? */
static bool
has_line(const char *sdp, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = sdp; (p = strstr(p, line)) != NULL; p++)
		if ((p == sdp || p[-1] == '\n') && strncmp(p + n, "\r\n", 2) == 0)
			return true;
	return false;
}

static unsigned
count_prefix(const char *sdp, const char *prefix)
{
	unsigned n = 0;
	size_t k = strlen(prefix);

	for (const char *p = sdp; *p;) {
		if (strncmp(p, prefix, k) == 0)
			n++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

/* What every accepted output must look like, whatever the input. */
static void
check_shape(const char *sdp, int n)
{
	CHECK_EQ(strlen(sdp), n);
	CHECK(strncmp(sdp, "v=0\r\n", 5) == 0);
	for (const char *p = sdp; *p;) {
		const char *eol = strstr(p, "\r\n");
		CHECK(eol != NULL);
		if (!eol)
			return;
		CHECK(eol - p >= 2 && p[0] >= 'a' && p[0] <= 'z' &&
		      p[1] == '=');
		CHECK(memchr(p, '\n', (size_t)(eol - p)) == NULL);
		if (strncmp(p, "a=candidate:", 12) == 0) {
			char line[1024];
			size_t k = (size_t)(eol - p);
			if (k > sizeof(line) - 1)
				k = sizeof(line) - 1;
			memcpy(line, p, k);
			line[k] = '\0';
			CHECK(strstr(line, " typ relay") != NULL);
			CHECK(!strstr(line, " raddr ") ||
			      strstr(line, " raddr 0.0.0.0 rport 0") ||
			      strstr(line, " raddr :: rport 0"));
		}
		p = eol + 2;
	}
}

/* Accepts, has the shape, and a second pass changes nothing. */
static int
apply_ok(const struct sdp_policy *p, const char *sdp, size_t len,
	 struct sdp_policy_result *r)
{
	struct sdp_policy_result r2;
	int n = sdp_policy_apply(p, sdp, len, out, sizeof(out), r);

	CHECK(n > 0);
	if (n <= 0) {
		fprintf(stderr, "  rejected: %s\n", r->reason ? r->reason : "?");
		return n;
	}
	CHECK(r->reason == NULL);
	check_shape(out, n);
	int n2 = sdp_policy_apply(p, out, (size_t)n, out2, sizeof(out2), &r2);
	CHECK_EQ(n2, n);
	CHECK(n2 == n && memcmp(out, out2, (size_t)n) == 0);
	CHECK_EQ(r2.candidates_removed, 0);
	CHECK_EQ(r2.codecs_removed, 0);
	CHECK_EQ(r2.sections_disabled, 0);
	CHECK_EQ(r2.addresses_masked, 0);
	CHECK(strcmp(r2.fingerprint, r->fingerprint) == 0);
	return n;
}

#define EXPECT_REJECT(pol, sdp, len, why)                                     \
	do {                                                                  \
		struct sdp_policy_result _r;                                  \
		int _n = sdp_policy_apply((pol), (sdp), (len), out,          \
					  sizeof(out), &_r);                  \
		CHECK_EQ(_n, -1);                                             \
		CHECK(_r.reason && strcmp(_r.reason, (why)) == 0);            \
		if (_n != -1 || !_r.reason || strcmp(_r.reason, (why)))       \
			fprintf(stderr, "  expected \"%s\", got %d \"%s\"\n", \
				(why), _n, _r.reason ? _r.reason : "");       \
		/* the verdict does not depend on the output room */          \
		_n = sdp_policy_apply((pol), (sdp), (len), out, 0, &_r);      \
		CHECK_EQ(_n, -1);                                             \
	} while (0)

#define EXPECT_REJECT_STR(pol, s, why) EXPECT_REJECT(pol, s, strlen(s), why)

/* ---- the Chromium fixtures ---- */

#define FP_AUDIO_OFFER "15:49:0C:78:4D:9E:F0:61:FC:D9:1A:8C:40:97:0A:29:" \
		       "A2:88:58:51:FE:8D:14:5D:46:6D:21:86:18:98:CD:F1"

static void
test_audio_offer(void)
{
	struct sdp_policy_result r;
	struct sdp_policy dtmf = pol_default;
	size_t len;
	char *sdp = fixture("chromium_audio_offer.sdp", &len);

	apply_ok(&pol_default, sdp, len, &r);
	/* udp and tcp host candidates, IPv4 and IPv6 */
	CHECK_EQ(r.candidates_removed, 4);
	/* red, G722, PCMU, PCMA, CN and both telephone-events */
	CHECK_EQ(r.codecs_removed, 7);
	CHECK_EQ(r.sections_disabled, 0);
	/* the relay candidate's raddr */
	CHECK_EQ(r.addresses_masked, 1);
	CHECK(strcmp(r.fingerprint, FP_AUDIO_OFFER) == 0);
	CHECK(has_line(out, "m=audio 51168 UDP/TLS/RTP/SAVPF 111"));
	CHECK(has_line(out, "c=IN IP4 127.0.0.1"));
	CHECK(has_line(out, "a=rtpmap:111 opus/48000/2"));
	CHECK(has_line(out, "a=fmtp:111 minptime=10;useinbandfec=1"));
	CHECK(has_line(out, "a=rtcp-fb:111 transport-cc"));
	CHECK(!strstr(out, "red/48000"));
	CHECK(!strstr(out, "a=fmtp:63"));
	CHECK(!strstr(out, "G722"));
	CHECK(!strstr(out, "PCMU"));
	CHECK(!strstr(out, "PCMA"));
	CHECK(!strstr(out, "CN/8000"));
	CHECK(!strstr(out, "telephone-event"));
	CHECK_EQ(count_prefix(out, "a=candidate:"), 1);
	CHECK(has_line(out, "a=candidate:3209461369 1 udp 58597375 127.0.0.1 "
			    "51168 typ relay raddr 0.0.0.0 rport 0 generation 0 "
			    "network-id 1"));
	CHECK(!strstr(out, "192.0.2.2"));
	CHECK(!strstr(out, "fd00::2"));
	CHECK(has_line(out, "a=fingerprint:sha-256 " FP_AUDIO_OFFER));
	CHECK(has_line(out, "a=setup:actpass"));
	CHECK(has_line(out, "a=group:BUNDLE 0"));
	CHECK(has_line(out, "a=mid:0"));
	CHECK(has_line(out, "a=ice-ufrag:8LIx"));
	CHECK(has_line(out, "a=rtcp-mux"));
	CHECK(has_line(out, "a=ssrc:1005023390 cname:Lx8RbGBOlVYTZ1Cq"));

	dtmf.allow_dtmf = true;
	apply_ok(&dtmf, sdp, len, &r);
	CHECK_EQ(r.codecs_removed, 5);
	CHECK(has_line(out, "m=audio 51168 UDP/TLS/RTP/SAVPF 111 110 126"));
	CHECK(has_line(out, "a=rtpmap:110 telephone-event/48000"));
	CHECK(has_line(out, "a=rtpmap:126 telephone-event/8000"));
	CHECK(!strstr(out, "red/48000"));
	free(sdp);
}

static void
test_audio_answer(void)
{
	struct sdp_policy_result r;
	size_t len;
	char *sdp = fixture("chromium_audio_answer.sdp", &len);

	apply_ok(&pol_default, sdp, len, &r);
	CHECK_EQ(r.candidates_removed, 4);
	CHECK_EQ(r.codecs_removed, 7);
	CHECK_EQ(r.sections_disabled, 0);
	CHECK(strcmp(r.fingerprint,
		     "FA:31:97:9A:17:7E:50:EF:EC:FF:19:95:98:67:58:85:"
		     "DD:82:3F:95:EA:19:4F:65:7C:C6:94:0E:6E:E7:12:2E") == 0);
	CHECK(has_line(out, "a=setup:active"));
	CHECK(has_line(out, "m=audio 51169 UDP/TLS/RTP/SAVPF 111"));
	CHECK_EQ(count_prefix(out, "a=candidate:"), 1);
	CHECK(!strstr(out, "192.0.2.2"));
	free(sdp);
}

#define FP_AV_OFFER "46:6A:93:D9:96:F5:0A:E2:12:8D:DB:24:01:D1:9D:1E:" \
		    "07:F4:90:B8:47:78:04:02:02:FC:C4:C5:3F:BB:A4:61"

static void
test_av_data_offer(void)
{
	struct sdp_policy_result r;
	struct sdp_policy p = pol_default;
	size_t len;
	char *sdp = fixture("chromium_av_data_offer.sdp", &len);

	apply_ok(&pol_default, sdp, len, &r);
	/* 4 per section: 2 udp and 2 tcp host */
	CHECK_EQ(r.candidates_removed, 12);
	CHECK_EQ(r.codecs_removed, 7);
	CHECK_EQ(r.sections_disabled, 2);
	CHECK(strcmp(r.fingerprint, FP_AV_OFFER) == 0);
	CHECK(has_line(out, "a=group:BUNDLE 0"));
	/* RFC 3264 §6: port 0, c= and the mid, nothing else */
	CHECK(strstr(out, "m=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 "
			  "108 109 114 115 116 117 39 40 45 46 98 99 100 101 "
			  "118 119 120\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
			  "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
			  "c=IN IP4 0.0.0.0\r\na=mid:2\r\n") != NULL);
	CHECK(!strstr(out, "VP8"));
	CHECK(!strstr(out, "a=sctp-port"));
	CHECK(!strstr(out, "a=rtcp-fb:96"));
	CHECK_EQ(count_prefix(out, "m="), 3);
	CHECK_EQ(count_prefix(out, "a=candidate:"), 1);
	CHECK_EQ(count_prefix(out, "a=fingerprint:"), 1);
	CHECK_EQ(count_prefix(out, "a=setup:"), 1);
	/* what stays of the output ends with the data section's mid */
	CHECK(strcmp(out + strlen(out) - 9, "a=mid:2\r\n") == 0);

	p.allow_video = true;
	apply_ok(&p, sdp, len, &r);
	CHECK_EQ(r.sections_disabled, 1);
	CHECK(has_line(out, "a=group:BUNDLE 0 1"));
	CHECK(has_line(out, "a=rtpmap:96 VP8/90000"));
	CHECK(has_line(out, "a=rtcp-fb:96 nack pli"));
	CHECK(has_line(out, "a=rtpmap:120 ulpfec/90000"));
	CHECK(has_line(out, "m=video 51172 UDP/TLS/RTP/SAVPF 96 97 102 103 104 "
			    "107 108 109 114 115 116 117 39 40 45 46 98 99 100 "
			    "101 118 119 120"));
	CHECK(strstr(out, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
			  "c=IN IP4 0.0.0.0\r\na=mid:2\r\n") != NULL);

	p.allow_data = true;
	apply_ok(&p, sdp, len, &r);
	CHECK_EQ(r.sections_disabled, 0);
	CHECK_EQ(r.candidates_removed, 12);
	CHECK(has_line(out, "a=group:BUNDLE 0 1 2"));
	CHECK(has_line(out, "m=application 51173 UDP/DTLS/SCTP webrtc-datachannel"));
	CHECK(has_line(out, "a=sctp-port:5000"));
	CHECK_EQ(count_prefix(out, "a=candidate:"), 3);

	p.allow_video = false;
	apply_ok(&p, sdp, len, &r);
	CHECK(has_line(out, "a=group:BUNDLE 0 2"));
	free(sdp);
}

static void
test_av_data_answer(void)
{
	struct sdp_policy_result r;
	size_t len;
	char *sdp = fixture("chromium_av_data_answer.sdp", &len);

	apply_ok(&pol_default, sdp, len, &r);
	CHECK_EQ(r.sections_disabled, 2);
	CHECK(has_line(out, "a=group:BUNDLE 0"));
	CHECK(has_line(out, "a=setup:active"));
	CHECK_EQ(count_prefix(out, "a=candidate:"), 1);
	CHECK(has_line(out, "m=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 "
			    "108 109 114 115 116 117 39 40 45 46 98 99 100 101 "
			    "118 119 120"));
	free(sdp);
}

static void
test_ice_restart_offer(void)
{
	struct sdp_policy_result r;
	size_t len;
	char *sdp = fixture("chromium_ice_restart_offer.sdp", &len);

	apply_ok(&pol_default, sdp, len, &r);
	CHECK_EQ(r.candidates_removed, 4);
	CHECK(strcmp(r.fingerprint, FP_AUDIO_OFFER) == 0);
	CHECK(has_line(out, "a=candidate:3209461369 1 udp 58597375 127.0.0.1 "
			    "51170 typ relay raddr 0.0.0.0 rport 0 generation 1 "
			    "network-id 1"));
	CHECK(has_line(out, "a=ice-ufrag:5Jqu"));
	free(sdp);
}

static void
test_mdns_offer(void)
{
	struct sdp_policy_result r;
	size_t len;
	char *sdp = fixture("chromium_mdns_audio_offer.sdp", &len);

	apply_ok(&pol_default, sdp, len, &r);
	/* two .local host candidates and a srflx */
	CHECK_EQ(r.candidates_removed, 3);
	CHECK(!strstr(out, ".local"));
	CHECK(!strstr(out, "typ srflx"));
	/* this relay candidate's raddr was 127.0.0.1 rport 55935 */
	CHECK(has_line(out, "a=candidate:1532722174 1 udp 50339839 127.0.0.1 "
			    "51175 typ relay raddr 0.0.0.0 rport 0 generation 0 "
			    "network-cost 999"));
	CHECK_EQ(r.addresses_masked, 1);
	free(sdp);
}

/* LF line ends are tolerated; the output is the same CRLF text. */
static void
test_lf_only(void)
{
	static const char *names[] = {
		"chromium_audio_offer.sdp", "chromium_av_data_offer.sdp",
		"chromium_av_data_answer.sdp",
	};
	struct sdp_policy_result r;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len, k = 0;
		char *sdp = fixture(names[i], &len);
		char *lf = malloc(len + 1);
		for (size_t j = 0; j < len; j++)
			if (sdp[j] != '\r')
				lf[k++] = sdp[j];
		CHECK(k < len);
		int n = apply_ok(&pol_default, sdp, len, &r);
		static char crlf_out[OUT_CAP];
		memcpy(crlf_out, out, (size_t)n + 1);
		int n2 = apply_ok(&pol_default, lf, k, &r);
		CHECK_EQ(n2, n);
		CHECK(strcmp(out, crlf_out) == 0);
		free(lf);
		free(sdp);
	}
}

static void
test_output_room(void)
{
	struct sdp_policy_result r;
	static char small[OUT_CAP + 16];
	size_t len;
	char *sdp = fixture("chromium_av_data_offer.sdp", &len);
	int n = sdp_policy_apply(&pol_default, sdp, len, out, sizeof(out), &r);

	CHECK(n > 0);
	/* every cap short of n + 1 (the NUL) is -2, and nothing is written
	 * past cap */
	for (size_t cap = 0; cap <= (size_t)n + 1; cap++) {
		memset(small, 0x5a, sizeof(small));
		int k = sdp_policy_apply(&pol_default, sdp, len, small, cap,
					 &r);
		if (cap <= (size_t)n) {
			CHECK_EQ(k, -2);
			CHECK(r.reason != NULL);
		} else {
			CHECK_EQ(k, n);
			CHECK(memcmp(small, out, (size_t)n + 1) == 0);
		}
		for (size_t j = cap; j < cap + 16; j++)
			if (small[j] != 0x5a) {
				CHECK(small[j] == 0x5a);
				break;
			}
	}
	CHECK_EQ(sdp_policy_apply(&pol_default, sdp, len, NULL, 0, &r), -2);
	free(sdp);
}

static void
test_max_bytes(void)
{
	struct sdp_policy_result r;
	struct sdp_policy p = pol_default;
	size_t len;
	char *sdp = fixture("chromium_audio_offer.sdp", &len);

	p.max_bytes = len;
	CHECK(sdp_policy_apply(&p, sdp, len, out, sizeof(out), &r) > 0);
	p.max_bytes = len - 1;
	EXPECT_REJECT(&p, sdp, len, "SDP too large");
	p.max_bytes = (size_t)-1;
	EXPECT_REJECT(&p, sdp, SDP_POLICY_HARD_MAX + 1, "SDP too large");
	EXPECT_REJECT(&pol_default, sdp, 0, "empty SDP");
	free(sdp);
}

/* ---- the negative fixtures ---- */

static void
test_negative_fixtures(void)
{
	static const struct {
		const char *file;
		const char *reason;
	} cases[] = {
		{ "neg_sha1_only.sdp", "no sha-256 a=fingerprint" },
		{ "neg_no_fingerprint.sdp", "missing a=fingerprint" },
		{ "neg_fingerprint_short.sdp", "malformed a=fingerprint" },
		{ "neg_fingerprint_bad_hex.sdp", "malformed a=fingerprint" },
		{ "neg_crypto.sdp", "SDES keys not allowed" },
		{ "neg_no_setup.sdp", "missing a=setup" },
		{ "neg_setup_holdconn.sdp", "a=setup:holdconn not allowed" },
		{ "neg_no_opus.sdp", "audio section without Opus" },
		{ "neg_opus_mono.sdp", "audio section without Opus" },
		{ "neg_truncated.sdp", "SDP does not end with a line break" },
		{ "neg_plain_rtp.sdp", "media not protected by DTLS" },
		{ "neg_k_line.sdp", "k= keys not allowed" },
		{ "neg_nul.sdp", "SDP contains a NUL byte" },
		{ "neg_no_version.sdp", "SDP does not start with v=0" },
		{ "neg_bad_m_port.sdp", "malformed m= line" },
	};
	struct sdp_policy all = { 16384, true, true, true };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *sdp = fixture(cases[i].file, &len);
		EXPECT_REJECT(&pol_default, sdp, len, cases[i].reason);
		/* allowing more never lets these through */
		EXPECT_REJECT(&all, sdp, len, cases[i].reason);
		free(sdp);
	}
}

/* ---- one rule at a time, on a small SDP ---- */

#define FP "E7:3B:38:46:1A:5D:88:B0:C4:2E:15:F9:DF:6F:97:6A:" \
	   "61:8E:4C:6B:2F:3A:C0:51:8E:3F:27:49:B4:0D:C1:AA"

static const char base_sdp[] =
	"v=0\r\n"
	"o=- 1 2 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE a\r\n"
	"m=audio 50000 UDP/TLS/RTP/SAVPF 111 0\r\n"
	"c=IN IP4 203.0.113.7\r\n"
	"a=mid:a\r\n"
	"a=fingerprint:sha-256 " FP "\r\n"
	"a=setup:actpass\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=candidate:1 1 udp 41885439 203.0.113.7 50000 typ relay raddr 198.51.100.2 rport 41000\r\n";

static void
test_base(void)
{
	struct sdp_policy_result r;

	apply_ok(&pol_default, base_sdp, strlen(base_sdp), &r);
	CHECK_EQ(r.codecs_removed, 1);
	CHECK_EQ(r.candidates_removed, 0);
	CHECK_EQ(r.addresses_masked, 1);
	CHECK(strcmp(out,
		     "v=0\r\n"
		     "o=- 1 2 IN IP4 127.0.0.1\r\n"
		     "s=-\r\n"
		     "t=0 0\r\n"
		     "a=group:BUNDLE a\r\n"
		     "m=audio 50000 UDP/TLS/RTP/SAVPF 111\r\n"
		     "c=IN IP4 203.0.113.7\r\n"
		     "a=mid:a\r\n"
		     "a=fingerprint:sha-256 " FP "\r\n"
		     "a=setup:actpass\r\n"
		     "a=rtpmap:111 opus/48000/2\r\n"
		     "a=candidate:1 1 udp 41885439 203.0.113.7 50000 typ relay raddr 0.0.0.0 rport 0\r\n") == 0);
}

/* The lines that grow most, with LF ends: 3 * len + 1 is room enough. */
static void
test_growth(void)
{
	static char worst[8192];
	static char room[3 * sizeof(worst) + 1];
	struct sdp_policy big = { sizeof(worst), false, false, false };
	struct sdp_policy_result r;
	size_t len = 0;

	for (const char *p = base_sdp; *p; p++)
		if (*p != '\r')
			worst[len++] = *p;
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(worst + len, sizeof(worst) - len,
					"a=rtcp:1\n");
	/* disabled: each gains a c= line */
	for (int i = 0; i < 50; i++)
		len += (size_t)snprintf(worst + len, sizeof(worst) - len,
					"m=x 1 y z\na=mid:%d\n", i);
	int n = sdp_policy_apply(&big, worst, len, room, 3 * len + 1, &r);
	CHECK(n > 0);
	CHECK((size_t)n > 2 * len);
	CHECK((size_t)n <= 3 * len);
}

static void
test_line_syntax(void)
{
	static const struct {
		const char *from, *to, *reason;
	} cases[] = {
		{ "s=-\r\n", "s=-\r\n\r\n", "empty line" },
		{ "s=-\r\n", "s=-\r\nfoo\r\n", "malformed line" },
		{ "s=-\r\n", "s=-\r\nS=x\r\n", "malformed line" },
		{ "s=-\r\n", "s=-\r\n=x\r\n", "malformed line" },
		{ "s=-\r\n", "s=-\r\nx=1\r\n", "unknown line type" },
		{ "s=-\r\n", "s=-\r\nv=0\r\n", "unexpected v= line" },
		{ "s=-\r\n", "s=-\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "unexpected o= line" },
		{ "o=- 1 2 IN IP4 127.0.0.1\r\n", "", "missing o= line" },
		{ "s=-\r\n", "", "missing s= line" },
		{ "t=0 0\r\n", "", "missing t= line" },
		{ "s=-\r\n", "s=-\r\ns=again\r\n", "duplicate s= line" },
		{ "a=mid:a\r\n", "a=mid:a\r\nt=0 0\r\n", "line not allowed in a media section" },
		{ "v=0\r\n", "v=1\r\n", "SDP does not start with v=0" },
		{ "o=- 1 2 IN IP4 127.0.0.1", "o=- 1 2 IN IP4", "malformed o= line" },
		{ "o=- 1 2 IN IP4 127.0.0.1", "o=- x 2 IN IP4 127.0.0.1", "malformed o= line" },
		{ "o=- 1 2 IN IP4 127.0.0.1", "o=- 1 2 ATM NSAP 127.0.0.1", "malformed o= line" },
		{ "o=- 1 2 IN IP4 127.0.0.1", "o=-  1 2 IN IP4 127.0.0.1", "malformed o= line" },
		{ "c=IN IP4 203.0.113.7", "c=IN IP4", "malformed c= line" },
		{ "c=IN IP4 203.0.113.7", "c=IN IP4 224.2.1.1/127", "malformed c= line" },
		{ "c=IN IP4 203.0.113.7\r\n", "c=IN IP4 203.0.113.7\r\nc=IN IP4 203.0.113.7\r\n", "duplicate c= line" },
		{ "s=-\r\n", "s=-\r\nk=prompt\r\n", "k= keys not allowed" },
		{ "a=mid:a\r\n", "a=mid:a\r\na=:x\r\n", "malformed a= line" },
		{ "a=mid:a\r\n", "a=mid:a\r\na=rtcp:x\r\n", "malformed a=rtcp" },
		{ "a=mid:a\r\n", "a=mid:a\r\na=rtcp:9 IN IP4\r\n", "malformed a=rtcp" },
		{ "a=mid:a\r\n", "a=mid:a b\r\n", "malformed a=mid" },
		{ "a=mid:a\r\n", "a=mid:\r\n", "malformed a=mid" },
		{ "a=mid:a\r\n", "a=mid:a\r\na=mid:b\r\n", "duplicate a=mid" },
		{ "t=0 0\r\n", "t=0 0\r\na=mid:x\r\n", "a=mid outside a media section" },
		{ "a=group:BUNDLE a", "a=group:BUNDLE  a", "malformed a=group" },
		{ "s=-\r\n", "s=\t-\x01\r\n", "SDP contains a control character" },
		{ "s=-\r\n", "s=-\x7f\r\n", "SDP contains a control character" },
		{ "s=-\r\n", "s=-\rx\r\n", "CR not followed by LF" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = subst(base_sdp, cases[i].from, cases[i].to);
		EXPECT_REJECT_STR(&pol_default, s, cases[i].reason);
		free(s);
	}
	/* TAB and UTF-8 are text */
	char *s = subst(base_sdp, "s=-\r\n", "s=caf\xc3\xa9\tcall\r\n");
	struct sdp_policy_result r;
	apply_ok(&pol_default, s, strlen(s), &r);
	free(s);
	/* the last line without its line break */
	EXPECT_REJECT(&pol_default, base_sdp, strlen(base_sdp) - 2,
		      "SDP does not end with a line break");
	EXPECT_REJECT(&pol_default, base_sdp, strlen(base_sdp) - 1,
		      "CR not followed by LF");
	EXPECT_REJECT_STR(&pol_default, "v=0\r\n", "missing o= line");
	EXPECT_REJECT_STR(&pol_default, "\n", "empty line");
}

static void
test_m_line(void)
{
	static const struct {
		const char *to, *reason;
	} cases[] = {
		{ "m=audio 50000 UDP/TLS/RTP/SAVPF", "malformed m= line" },
		{ "m=audio 50000 UDP/TLS/RTP/SAVPF ", "malformed m= line" },
		{ "m=audio 50000", "malformed m= line" },
		{ "m=audio", "malformed m= line" },
		{ "m=", "malformed m= line" },
		{ "m=audio x UDP/TLS/RTP/SAVPF 111 0", "malformed m= line" },
		{ "m=audio 65536 UDP/TLS/RTP/SAVPF 111 0", "malformed m= line" },
		{ "m=audio 50000/x UDP/TLS/RTP/SAVPF 111 0", "malformed m= line" },
		{ "m=audio 50000 UDP/TLS/RTP/SAVPF 111 128", "malformed m= line" },
		{ "m=audio 50000 UDP/TLS/RTP/SAVPF 111 x", "malformed m= line" },
		{ "m=audio 50000 UDP/TLS/RTP/SAVPF 111  0", "malformed m= line" },
		{ "m=audio 50000 UDP/TLS/RTP/SAVPF 111 0 111", "duplicate payload type on m= line" },
		{ "m=audio 50000 UDP/TLS/RTP/SAVP 111 0", NULL },
		{ "m=audio 50000/2 UDP/TLS/RTP/SAVPF 111 0", NULL },
		{ "m=audio 50000 RTP/SAVPF 111 0", "media not protected by DTLS" },
		{ "m=audio 50000 RTP/AVP 111 0", "media not protected by DTLS" },
		{ "m=audio 50000 UDP/DTLS/SCTP webrtc-datachannel", "media not protected by DTLS" },
	};
	struct sdp_policy_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = subst(base_sdp, "m=audio 50000 UDP/TLS/RTP/SAVPF 111 0",
				cases[i].to);
		if (cases[i].reason)
			EXPECT_REJECT_STR(&pol_default, s, cases[i].reason);
		else
			apply_ok(&pol_default, s, strlen(s), &r);
		free(s);
	}

	/* more sections than the table holds */
	static char many[SDP_POLICY_MAX_SECTIONS * 40 + 256];
	size_t n = (size_t)snprintf(many, sizeof(many), "%s", base_sdp);
	for (int i = 0; i < SDP_POLICY_MAX_SECTIONS - 1; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n,
				      "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n");
	struct sdp_policy big = { sizeof(many), false, false, false };
	CHECK(sdp_policy_apply(&big, many, n, out, sizeof(out), &r) > 0);
	n += (size_t)snprintf(many + n, sizeof(many) - n,
			      "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n");
	EXPECT_REJECT(&big, many, n, "too many media sections");
}

static void
test_fingerprint(void)
{
	struct sdp_policy_result r;
	char *s, *t;

	/* hash names are case-insensitive, hex may come in lower case; it
	 * is reported in upper case */
	s = subst(base_sdp, "sha-256 E7:3B:38:46:1A", "SHA-256 e7:3b:38:46:1a");
	apply_ok(&pol_default, s, strlen(s), &r);
	CHECK(strcmp(r.fingerprint, FP) == 0);
	CHECK(strstr(out, "a=fingerprint:SHA-256 e7:3b:38:46:1a") != NULL);
	free(s);

	/* sha-1 next to sha-256: accepted, and only sha-256 is relayed */
	s = subst(base_sdp, "a=setup:actpass\r\n", "a=setup:actpass\r\n"
		  "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n");
	apply_ok(&pol_default, s, strlen(s), &r);
	CHECK(!strstr(out, "sha-1"));
	CHECK(has_line(out, "a=fingerprint:sha-256 " FP));
	free(s);

	/* unknown hash names are kept apart, not misread */
	s = subst(base_sdp, "a=fingerprint:sha-256", "a=fingerprint:sha3-256");
	EXPECT_REJECT_STR(&pol_default, s, "no sha-256 a=fingerprint");
	free(s);

	/* session level serves every section without its own */
	s = subst(base_sdp, "a=fingerprint:sha-256 " FP "\r\n", "");
	t = subst(s, "t=0 0\r\n", "t=0 0\r\na=fingerprint:sha-256 " FP "\r\n");
	apply_ok(&pol_default, t, strlen(t), &r);
	CHECK(strcmp(r.fingerprint, FP) == 0);
	free(t);
	/* a media-level sha-1 replaces the session's sha-256 (RFC 8122 §5) */
	t = subst(s, "t=0 0\r\n", "t=0 0\r\na=fingerprint:sha-256 " FP "\r\n");
	char *u = subst(t, "a=setup:actpass\r\n", "a=setup:actpass\r\n"
			"a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n");
	EXPECT_REJECT_STR(&pol_default, u, "no sha-256 a=fingerprint");
	free(u);
	free(t);
	free(s);

	static const struct {
		const char *to, *reason;
	} bad[] = {
		{ "a=fingerprint:sha-256", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-256 ", "malformed a=fingerprint" },
		{ "a=fingerprint:", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-256 E7:3B", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-256 " FP ":00", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-256 " FP " x", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-256 E73B3846:1A:5D:88:B0:C4:2E:15:F9:DF:6F:97:6A:"
		  "61:8E:4C:6B:2F:3A:C0:51:8E:3F:27:49:B4:0D:C1:AA:00", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-1 E7:3B:38", "malformed a=fingerprint" },
		{ "a=fingerprint:sha-256  " FP, "malformed a=fingerprint" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = subst(base_sdp, "a=fingerprint:sha-256 " FP, bad[i].to);
		EXPECT_REJECT_STR(&pol_default, s, bad[i].reason);
		free(s);
	}

	/* two certificates in one SDP: which one would the code show? */
	s = subst(base_sdp, "a=setup:actpass\r\n", "a=setup:actpass\r\n"
		  "a=fingerprint:sha-256 00:3B:38:46:1A:5D:88:B0:C4:2E:15:F9:DF:6F:97:6A:"
		  "61:8E:4C:6B:2F:3A:C0:51:8E:3F:27:49:B4:0D:C1:AA\r\n");
	EXPECT_REJECT_STR(&pol_default, s, "conflicting sha-256 fingerprints");
	free(s);
	s = subst(base_sdp, "t=0 0\r\n", "t=0 0\r\n"
		  "a=fingerprint:sha-256 00:3B:38:46:1A:5D:88:B0:C4:2E:15:F9:DF:6F:97:6A:"
		  "61:8E:4C:6B:2F:3A:C0:51:8E:3F:27:49:B4:0D:C1:AA\r\n");
	EXPECT_REJECT_STR(&pol_default, s, "conflicting sha-256 fingerprints");
	free(s);
	/* the same one twice is fine */
	s = subst(base_sdp, "a=setup:actpass\r\n",
		  "a=setup:actpass\r\na=fingerprint:sha-256 " FP "\r\n");
	apply_ok(&pol_default, s, strlen(s), &r);
	free(s);
}

static void
test_setup(void)
{
	static const struct {
		const char *to, *reason;
	} cases[] = {
		{ "a=setup:active", NULL },
		{ "a=setup:passive", NULL },
		{ "a=setup:holdconn", "a=setup:holdconn not allowed" },
		{ "a=setup:ACTPASS", "malformed a=setup" },
		{ "a=setup:", "malformed a=setup" },
		{ "a=setup", "malformed a=setup" },
		{ "a=setup:actpass\r\na=setup:active", "duplicate a=setup" },
		{ "a=SETUP:holdconn", "a=setup:holdconn not allowed" },
	};
	struct sdp_policy_result r;
	char *s, *t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = subst(base_sdp, "a=setup:actpass", cases[i].to);
		if (cases[i].reason)
			EXPECT_REJECT_STR(&pol_default, s, cases[i].reason);
		else
			apply_ok(&pol_default, s, strlen(s), &r);
		free(s);
	}
	/* session level */
	s = subst(base_sdp, "a=setup:actpass\r\n", "");
	EXPECT_REJECT_STR(&pol_default, s, "missing a=setup");
	t = subst(s, "t=0 0\r\n", "t=0 0\r\na=setup:passive\r\n");
	apply_ok(&pol_default, t, strlen(t), &r);
	free(t);
	t = subst(s, "t=0 0\r\n", "t=0 0\r\na=setup:holdconn\r\n");
	EXPECT_REJECT_STR(&pol_default, t, "a=setup:holdconn not allowed");
	free(t);
	free(s);
}

static void
test_crypto(void)
{
	static const char *lines[] = {
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
		"a=crypto:",
		"a=CRYPTO:1 x",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "a=mid:a\r\n%s\r\n", lines[i]);
		char *s = subst(base_sdp, "a=mid:a\r\n", buf);
		EXPECT_REJECT_STR(&pol_default, s, "SDES keys not allowed");
		free(s);
		/* at session level, and in a section that is off anyway */
		snprintf(buf, sizeof(buf), "t=0 0\r\n%s\r\n", lines[i]);
		s = subst(base_sdp, "t=0 0\r\n", buf);
		EXPECT_REJECT_STR(&pol_default, s, "SDES keys not allowed");
		free(s);
		snprintf(buf, sizeof(buf), "%sm=video 0 RTP/SAVP 96\r\n%s\r\n",
			 base_sdp, lines[i]);
		EXPECT_REJECT_STR(&pol_default, buf, "SDES keys not allowed");
	}
}

static void
test_audio_codecs(void)
{
	struct sdp_policy_result r;
	struct sdp_policy dtmf = pol_default;
	char *s;

	dtmf.allow_dtmf = true;
	/* names are case-insensitive; rtpmap/fmtp/rtcp-fb of removed types
	 * go, those of kept ones and wildcards stay */
	s = subst(base_sdp, "a=rtpmap:0 PCMU/8000\r\n",
		  "a=rtpmap:0 PCMU/8000\r\n"
		  "a=fmtp:111 minptime=10\r\n"
		  "a=rtcp-fb:111 transport-cc\r\n"
		  "a=rtcp-fb:* nack\r\n"
		  "a=fmtp:0 x=1\r\n"
		  "a=rtcp-fb:0 nack\r\n"
		  "a=rtpmap:96 opus/48000/2\r\n"
		  "a=fmtp:96 stereo=1\r\n");
	char *t = subst(s, "opus/48000/2", "OPUS/48000/2");
	apply_ok(&pol_default, t, strlen(t), &r);
	CHECK(has_line(out, "m=audio 50000 UDP/TLS/RTP/SAVPF 111"));
	CHECK(has_line(out, "a=rtpmap:111 OPUS/48000/2"));
	CHECK(has_line(out, "a=fmtp:111 minptime=10"));
	CHECK(has_line(out, "a=rtcp-fb:111 transport-cc"));
	CHECK(has_line(out, "a=rtcp-fb:* nack"));
	CHECK(!strstr(out, "a=fmtp:0"));
	CHECK(!strstr(out, "a=rtcp-fb:0"));
	/* 96 has an rtpmap but is not on the m= line */
	CHECK(!strstr(out, ":96"));
	free(t);
	free(s);

	static const struct {
		const char *m, *maps;
		bool dtmf;
		const char *m_out;  /* NULL: rejected for no Opus */
		unsigned removed;
	} cases[] = {
		/* static types without rtpmap: PCMU, PCMA, G722, CN */
		{ "111 0 8 9 13", "", false, "111", 4 },
		{ "0 111", "", false, "111", 1 },
		{ "0 8", "", false, NULL, 0 },
		{ "111 101", "a=rtpmap:101 telephone-event/8000\r\n", true, "111 101", 0 },
		{ "111 101", "a=rtpmap:101 telephone-event/8000\r\n", false, "111", 1 },
		{ "111 101", "a=rtpmap:101 telephone-event/48000\r\n", true, "111 101", 0 },
		{ "111 101", "a=rtpmap:101 telephone-event/16000\r\n", true, "111", 1 },
		{ "111 101", "a=rtpmap:101 telephone-event/8000/1\r\n", true, "111 101", 0 },
		{ "111 101", "a=rtpmap:101 telephone-event/8000/2\r\n", true, "111", 1 },
		{ "101", "a=rtpmap:101 telephone-event/8000\r\n", true, NULL, 0 },
		{ "111 63", "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n", false, "111", 1 },
		{ "111 100", "a=rtpmap:100 opus/48000\r\n", false, "111", 1 },
		{ "111 100", "a=rtpmap:100 opus/16000/2\r\n", false, "111", 1 },
		{ "111 100", "a=rtpmap:100 ISAC/16000\r\n", false, "111", 1 },
		{ "100 111", "a=rtpmap:100 opus/48000/2\r\n", false, "100 111", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char m[128], want[160], maps[256];
		snprintf(m, sizeof(m), "m=audio 50000 UDP/TLS/RTP/SAVPF %s",
			 cases[i].m);
		snprintf(maps, sizeof(maps), "a=rtpmap:111 opus/48000/2\r\n%s",
			 cases[i].maps);
		s = subst(base_sdp, "m=audio 50000 UDP/TLS/RTP/SAVPF 111 0", m);
		t = subst(s, "a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n",
			  maps);
		const struct sdp_policy *p = cases[i].dtmf ? &dtmf
							   : &pol_default;
		if (!cases[i].m_out) {
			EXPECT_REJECT_STR(p, t, "audio section without Opus");
		} else {
			apply_ok(p, t, strlen(t), &r);
			snprintf(want, sizeof(want),
				 "m=audio 50000 UDP/TLS/RTP/SAVPF %s",
				 cases[i].m_out);
			CHECK(has_line(out, want));
			if (!has_line(out, want))
				fprintf(stderr, "  case %zu: want %s\n", i, want);
			CHECK_EQ(r.codecs_removed, cases[i].removed);
		}
		free(t);
		free(s);
	}

	static const struct {
		const char *line, *reason;
	} bad[] = {
		{ "a=rtpmap:111 opus/48000/2", "duplicate a=rtpmap" },
		{ "a=rtpmap:x opus/48000/2", "malformed a=rtpmap" },
		{ "a=rtpmap:128 opus/48000/2", "malformed a=rtpmap" },
		{ "a=rtpmap:1 opus", "malformed a=rtpmap" },
		{ "a=rtpmap:1 opus/", "malformed a=rtpmap" },
		{ "a=rtpmap:1 /48000", "malformed a=rtpmap" },
		{ "a=rtpmap:1 opus/48000/", "malformed a=rtpmap" },
		{ "a=rtpmap:1 opus/48000/2 x", "malformed a=rtpmap" },
		{ "a=rtpmap:1", "malformed a=rtpmap" },
		{ "a=fmtp:x minptime=10", "malformed a=fmtp" },
		{ "a=fmtp:*", "malformed a=fmtp" },
		{ "a=rtcp-fb:x nack", "malformed a=rtcp-fb" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "a=rtpmap:0 PCMU/8000\r\n%s\r\n",
			 bad[i].line);
		s = subst(base_sdp, "a=rtpmap:0 PCMU/8000\r\n", buf);
		EXPECT_REJECT_STR(&pol_default, s, bad[i].reason);
		free(s);
	}
}

static void
test_candidates_in_sdp(void)
{
	struct sdp_policy_result r;
	char *s;

	s = subst(base_sdp, "a=mid:a\r\n",
		  "a=mid:a\r\n"
		  "a=candidate:2 1 udp 2122194687 192.168.1.20 40000 typ host generation 0\r\n"
		  "a=candidate:3 1 udp 1686052607 198.51.100.2 41000 typ srflx raddr 192.168.1.20 rport 40000\r\n"
		  "a=candidate:4 1 udp 1845501695 198.51.100.2 41001 typ prflx raddr 192.168.1.20 rport 40000\r\n"
		  "a=candidate:5 1 udp 2122262783 2001:db8::5 40002 typ host\r\n"
		  "a=candidate:6 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active\r\n"
		  "a=candidate:7 1 udp 2122262783 0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.local 40003 typ host\r\n"
		  "a=candidate:8 1 udp 41885439 2001:db8::7 50002 typ relay raddr 2001:db8::5 rport 40002\r\n"
		  "a=candidate:9 1 tcp 25108223 203.0.113.7 50003 typ relay raddr 198.51.100.2 rport 41000 tcptype passive\r\n"
		  "a=candidate:10 1 udp 41885439 203.0.113.8 50004 typ relay\r\n"
		  "a=end-of-candidates\r\n");
	char *t = subst(s, "t=0 0\r\n", "t=0 0\r\n"
			"a=candidate:11 1 udp 2122194687 192.168.1.21 40000 typ host\r\n");
	apply_ok(&pol_default, t, strlen(t), &r);
	CHECK_EQ(r.candidates_removed, 7);
	CHECK(!strstr(out, "192.168.1."));
	CHECK(!strstr(out, "198.51.100.2"));
	CHECK(!strstr(out, "2001:db8::5"));
	CHECK(!strstr(out, ".local"));
	CHECK(has_line(out, "a=candidate:8 1 udp 41885439 2001:db8::7 50002 typ relay raddr :: rport 0"));
	CHECK(has_line(out, "a=candidate:9 1 tcp 25108223 203.0.113.7 50003 typ relay raddr 0.0.0.0 rport 0 tcptype passive"));
	CHECK(has_line(out, "a=candidate:10 1 udp 41885439 203.0.113.8 50004 typ relay"));
	CHECK(has_line(out, "a=end-of-candidates"));
	CHECK_EQ(count_prefix(out, "a=candidate:"), 4);
	/* raddr of candidates 1, 8 and 9 */
	CHECK_EQ(r.addresses_masked, 3);
	free(t);
	free(s);

	static const char *bad[] = {
		"a=candidate:",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 relay",
		"a=candidate:1 1 udp 1 203.0.113.7 70000 typ relay",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay raddr",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ host generation",
		"a=candidate:1 1 udp 1 203.0.113.7 50000  typ relay",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay ",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay rport x",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay raddr a_b rport 1",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay network-id 1\t",
		"a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay ufrag caf\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "a=mid:a\r\n%s\r\n", bad[i]);
		s = subst(base_sdp, "a=mid:a\r\n", buf);
		EXPECT_REJECT_STR(&pol_default, s, "malformed a=candidate");
		free(s);
	}
}

/* The other places a host address shows. */
static void
test_address_masking(void)
{
	struct sdp_policy_result r;
	char *s, *t, *u;

	/* the default candidate is a host one: c=, m= port and a=rtcp point
	 * at the caller; the o= line is someone's real address */
	s = subst(base_sdp, "c=IN IP4 203.0.113.7", "c=IN IP4 192.168.1.20");
	t = subst(s, "o=- 1 2 IN IP4 127.0.0.1", "o=- 1 2 IN IP6 2001:db8::5");
	u = subst(t, "a=mid:a\r\n", "a=mid:a\r\na=rtcp:40001 IN IP4 192.168.1.20\r\n"
		  "a=candidate:2 1 udp 2122194687 192.168.1.20 50000 typ host\r\n");
	apply_ok(&pol_default, u, strlen(u), &r);
	CHECK(has_line(out, "o=- 1 2 IN IP4 127.0.0.1"));
	CHECK(has_line(out, "m=audio 9 UDP/TLS/RTP/SAVPF 111"));
	CHECK(has_line(out, "c=IN IP4 0.0.0.0"));
	CHECK(has_line(out, "a=rtcp:9 IN IP4 0.0.0.0"));
	CHECK(!strstr(out, "192.168.1.20"));
	CHECK(!strstr(out, "2001:db8::5"));
	/* o=, m= port, c=, a=rtcp and the relay raddr */
	CHECK_EQ(r.addresses_masked, 5);
	free(u);
	free(t);
	free(s);

	/* session-level c= is kept only when it is a relay address */
	s = subst(base_sdp, "c=IN IP4 203.0.113.7\r\n", "");
	t = subst(s, "t=0 0\r\n", "t=0 0\r\nc=IN IP4 203.0.113.7\r\n");
	apply_ok(&pol_default, t, strlen(t), &r);
	CHECK(has_line(out, "c=IN IP4 203.0.113.7"));
	CHECK(has_line(out, "m=audio 50000 UDP/TLS/RTP/SAVPF 111"));
	free(t);
	t = subst(s, "t=0 0\r\n", "t=0 0\r\nc=IN IP6 fd00::2\r\n");
	apply_ok(&pol_default, t, strlen(t), &r);
	CHECK(has_line(out, "c=IN IP4 0.0.0.0"));
	CHECK(has_line(out, "m=audio 9 UDP/TLS/RTP/SAVPF 111"));
	CHECK(!strstr(out, "fd00::2"));
	free(t);
	free(s);

	/* a relay candidate that goes with its disabled section does not
	 * vouch for the session c= */
	s = subst(base_sdp, "c=IN IP4 203.0.113.7\r\n", "");
	t = subst(s, "t=0 0\r\n", "t=0 0\r\nc=IN IP4 203.0.113.9\r\n");
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s"
		 "m=video 50000 UDP/TLS/RTP/SAVPF 96\r\n"
		 "a=mid:v\r\n"
		 "a=candidate:1 1 udp 41885439 203.0.113.9 50000 typ relay\r\n", t);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK(has_line(out, "c=IN IP4 0.0.0.0"));
	CHECK(!strstr(out, "203.0.113.9"));
	free(t);
	free(s);

	/* placeholders stay as they are */
	s = subst(base_sdp, "c=IN IP4 203.0.113.7", "c=IN IP6 ::");
	t = subst(s, "m=audio 50000", "m=audio 9");
	u = subst(t, "a=mid:a\r\n", "a=mid:a\r\na=rtcp:9\r\n");
	apply_ok(&pol_default, u, strlen(u), &r);
	CHECK(has_line(out, "c=IN IP6 ::"));
	CHECK(has_line(out, "a=rtcp:9"));
	CHECK_EQ(r.addresses_masked, 1);
	free(u);
	free(t);
	free(s);
}

static void
test_disabled_sections(void)
{
	struct sdp_policy_result r;
	struct sdp_policy all = { 16384, false, true, true };
	char buf[4096];
	char *s;

	/* any media sotto does not carry is disabled, whatever the policy */
	s = subst(base_sdp, "a=group:BUNDLE a", "a=group:BUNDLE a t v");
	snprintf(buf, sizeof(buf), "%s"
		 "m=text 50000 UDP/TLS/RTP/SAVPF 98\r\n"
		 "c=IN IP4 192.168.1.20\r\n"
		 "a=rtpmap:98 t140/1000\r\n"
		 "a=mid:t\r\n"
		 "a=candidate:2 1 udp 2122194687 192.168.1.20 50000 typ host\r\n"
		 "m=video 50000 RTP/AVP 96\r\n"
		 "a=bundle-only\r\n"
		 "a=mid:v\r\n", s);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK_EQ(r.sections_disabled, 2);
	CHECK_EQ(r.candidates_removed, 1);
	CHECK(has_line(out, "a=group:BUNDLE a"));
	CHECK(strstr(out, "m=text 0 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\n"
			  "a=mid:t\r\nm=video 0 RTP/AVP 96\r\n"
			  "c=IN IP4 0.0.0.0\r\na=mid:v\r\n") != NULL);
	CHECK(!strstr(out, "192.168.1.20"));
	/* allowed video is still DTLS-SRTP only; text stays off */
	EXPECT_REJECT_STR(&all, buf, "media not protected by DTLS");
	char *t = subst(buf, "m=video 50000 RTP/AVP 96", "m=video 50000 UDP/TLS/RTP/SAVPF 96");
	apply_ok(&all, t, strlen(t), &r);
	CHECK_EQ(r.sections_disabled, 1);
	CHECK(has_line(out, "a=group:BUNDLE a v"));
	CHECK(has_line(out, "a=bundle-only"));
	free(t);
	free(s);

	/* every mid gone from BUNDLE drops the line */
	snprintf(buf, sizeof(buf),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		 "a=group:BUNDLE v\r\n"
		 "a=fingerprint:sha-256 " FP "\r\na=setup:actpass\r\n"
		 "m=video 50000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
		 "a=mid:v\r\na=rtpmap:96 VP8/90000\r\n"
		 "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n"
		 "a=mid:a\r\n");
	EXPECT_REJECT_STR(&pol_default, buf, "no media section in use");
	s = subst(buf, "m=audio 0 UDP/TLS/RTP/SAVPF 0",
		  "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2");
	apply_ok(&pol_default, s, strlen(s), &r);
	CHECK(!strstr(out, "a=group"));
	CHECK(strstr(out, "m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
			  "a=mid:v\r\nm=audio 9") != NULL);
	free(s);

	/* no m= at all */
	EXPECT_REJECT_STR(&pol_default,
			  "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
			  "no media section in use");
}

/* RFC 3264 §6: a section already at port 0 is left alone, but a
 * bundle-only one is in use (RFC 8843 §6) and gets the whole policy. */
static void
test_port_zero(void)
{
	struct sdp_policy_result r;
	char buf[4096];
	const char *off =
		"m=audio 0 RTP/AVP 0 8\r\n"
		"c=IN IP4 0.0.0.0\r\n"
		"a=mid:b\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n"
		"a=setup:holdconn\r\n"
		"a=sendrecv\r\n";

	snprintf(buf, sizeof(buf), "%s%s", base_sdp, off);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK(strstr(out, off) != NULL);
	CHECK_EQ(r.sections_disabled, 0);
	CHECK_EQ(r.codecs_removed, 1);

	/* but its candidates still go */
	snprintf(buf, sizeof(buf), "%s%s"
		 "a=candidate:2 1 udp 2122194687 192.168.1.20 50000 typ host\r\n",
		 base_sdp, off);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK_EQ(r.candidates_removed, 1);
	CHECK(!strstr(out, "192.168.1.20"));

	/* bundle-only: live despite port 0; its transport is the tagged
	 * section's (RFC 8843 §7.2) */
	char *b = subst(base_sdp, "a=group:BUNDLE a", "a=group:BUNDLE a b");
	snprintf(buf, sizeof(buf), "%s%sa=bundle-only\r\n", b, off);
	EXPECT_REJECT_STR(&pol_default, buf, "a=setup:holdconn not allowed");
	snprintf(buf, sizeof(buf), "%s"
		 "m=audio 0 UDP/TLS/RTP/SAVPF 111 0\r\n"
		 "a=bundle-only\r\n"
		 "a=mid:b\r\n"
		 "a=rtpmap:111 opus/48000/2\r\n", b);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK(has_line(out, "m=audio 0 UDP/TLS/RTP/SAVPF 111"));
	CHECK_EQ(r.codecs_removed, 2);
	CHECK(has_line(out, "a=group:BUNDLE a b"));
	/* outside the group it has no transport to share */
	snprintf(buf, sizeof(buf), "%s"
		 "m=audio 0 UDP/TLS/RTP/SAVPF 111 0\r\n"
		 "a=bundle-only\r\n"
		 "a=mid:b\r\n"
		 "a=rtpmap:111 opus/48000/2\r\n", base_sdp);
	EXPECT_REJECT_STR(&pol_default, buf, "missing a=fingerprint");
	free(b);
	snprintf(buf, sizeof(buf), "%s"
		 "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
		 "a=bundle-only\r\n"
		 "a=mid:v\r\n"
		 "a=rtpmap:96 VP8/90000\r\n", base_sdp);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK_EQ(r.sections_disabled, 1);
	CHECK(!strstr(out, "bundle-only"));
	CHECK(!strstr(out, "VP8"));
}

/* RFC 8843 §7.3: an answerer may put transport attributes in the tagged
 * section only. */
static void
test_bundle_transport(void)
{
	struct sdp_policy_result r;
	struct sdp_policy video = pol_default;
	char buf[4096];
	const char *second =
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
		"c=IN IP4 0.0.0.0\r\n"
		"a=mid:b\r\n"
		"a=rtpmap:111 opus/48000/2\r\n";

	char *b = subst(base_sdp, "a=group:BUNDLE a", "a=group:BUNDLE a b");
	snprintf(buf, sizeof(buf), "%s%s", b, second);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK(strcmp(r.fingerprint, FP) == 0);
	/* not bundled: nothing to inherit */
	snprintf(buf, sizeof(buf), "%s%s", base_sdp, second);
	EXPECT_REJECT_STR(&pol_default, buf, "missing a=fingerprint");
	/* the tag carries no setup either */
	char *c = subst(b, "a=setup:actpass\r\n", "");
	snprintf(buf, sizeof(buf), "%s%s", c, second);
	EXPECT_REJECT_STR(&pol_default, buf, "missing a=setup");
	free(c);
	free(b);

	/* when the policy disables the tagged section, the next one in the
	 * group is the tag, and it has to carry the transport itself */
	snprintf(buf, sizeof(buf),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		 "a=group:BUNDLE v b\r\n"
		 "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
		 "a=mid:v\r\na=rtpmap:96 VP8/90000\r\n"
		 "a=fingerprint:sha-256 " FP "\r\na=setup:active\r\n"
		 "%s", second);
	EXPECT_REJECT_STR(&pol_default, buf, "missing a=fingerprint");
	video.allow_video = true;
	apply_ok(&video, buf, strlen(buf), &r);
	CHECK(has_line(out, "a=group:BUNDLE v b"));
}

/* Structure around the sections: mids, groups, other line types. */
static void
test_structure(void)
{
	struct sdp_policy_result r;
	char buf[4096];
	char *s;
	const char *second =
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
		"i=second line\r\n"
		"c=IN IP4 0.0.0.0\r\n"
		"b=AS:64\r\n"
		"a=mid:%s\r\n"
		"a=rtpmap:111 %s/48000/2\r\n"
		"a=fingerprint:sha-256 " FP "\r\n"
		"a=setup:actpass\r\n";
	char sec[512];

	/* i= and b= belong in sections; other groups pass as they are; a
	 * BUNDLE mid without a section stays */
	snprintf(sec, sizeof(sec), second, "b", "opus");
	s = subst(base_sdp, "a=group:BUNDLE a", "a=group:BUNDLE a b x\r\na=group:LS a b");
	snprintf(buf, sizeof(buf), "%s%s", s, sec);
	apply_ok(&pol_default, buf, strlen(buf), &r);
	CHECK(has_line(out, "a=group:BUNDLE a b x"));
	CHECK(has_line(out, "a=group:LS a b"));
	CHECK(has_line(out, "i=second line"));
	CHECK(has_line(out, "b=AS:64"));
	free(s);

	/* the same mid twice */
	snprintf(sec, sizeof(sec), second, "a", "opus");
	snprintf(buf, sizeof(buf), "%s%s", base_sdp, sec);
	EXPECT_REJECT_STR(&pol_default, buf, "duplicate a=mid");

	/* the second section fails on its own */
	snprintf(sec, sizeof(sec), second, "b", "ISAC");
	snprintf(buf, sizeof(buf), "%s%s", base_sdp, sec);
	EXPECT_REJECT_STR(&pol_default, buf, "audio section without Opus");

	/* more BUNDLE groups than browsers ever send */
	s = subst(base_sdp, "a=group:BUNDLE a\r\n",
		  "a=group:BUNDLE a\r\na=group:BUNDLE b\r\na=group:BUNDLE c\r\n"
		  "a=group:BUNDLE d\r\na=group:BUNDLE e\r\na=group:BUNDLE f\r\n"
		  "a=group:BUNDLE g\r\na=group:BUNDLE h\r\n");
	apply_ok(&pol_default, s, strlen(s), &r);
	char *t = subst(s, "a=group:BUNDLE h\r\n", "a=group:BUNDLE h\r\na=group:BUNDLE i\r\n");
	EXPECT_REJECT_STR(&pol_default, t, "too many BUNDLE groups");
	free(t);
	free(s);
	s = subst(base_sdp, "a=group:BUNDLE a", "a=group:");
	EXPECT_REJECT_STR(&pol_default, s, "malformed a=group");
	free(s);

	/* no hash has more than 64 octets */
	s = subst(base_sdp, "a=fingerprint:sha-256 " FP,
		  "a=fingerprint:sha-256 " FP "\r\na=fingerprint:x-long "
		  FP ":" FP ":00");
	EXPECT_REJECT_STR(&pol_default, s, "malformed a=fingerprint");
	free(s);
}

/* ---- trickle ---- */

static void
test_trickle_captured(void)
{
	size_t len;
	char *all = fixture("candidates.txt", &len);
	unsigned relay = 0, other = 0, empty = 0;

	for (char *line = all; line < all + len;) {
		char *nl = memchr(line, '\n', (size_t)(all + len - line));
		size_t n = (size_t)((nl ? nl : all + len) - line);
		char save = line[n];
		line[n] = '\0';
		int want = n == 0 || strstr(line, " typ relay ") != NULL ? 1 : 0;
		int got = sdp_policy_candidate(line, n);
		CHECK_EQ(got, want);
		if (got != want)
			fprintf(stderr, "  %s\n", line);
		if (n == 0)
			empty++;
		else if (want)
			relay++;
		else
			other++;
		line[n] = save;
		line += n + 1;
	}
	/* the capture has every kind */
	CHECK(relay >= 5);
	CHECK(other >= 20);
	CHECK(empty >= 5);
	free(all);
}

static void
test_trickle_forms(void)
{
	static const struct {
		const char *c;
		int want;
	} cases[] = {
		{ "", 1 },
		{ "candidate:1 1 udp 41885439 203.0.113.7 50000 typ relay raddr 0.0.0.0 rport 0", 1 },
		{ "a=candidate:1 1 udp 41885439 203.0.113.7 50000 typ relay raddr 0.0.0.0 rport 0", 1 },
		{ "candidate:1 1 UDP 41885439 203.0.113.7 50000 typ relay", 1 },
		{ "CANDIDATE:1 1 udp 41885439 203.0.113.7 50000 typ relay", 1 },
		{ "candidate:1 1 udp 41885439 2001:db8::7 50000 typ relay raddr 2001:db8::5 rport 1 generation 0", 1 },
		{ "candidate:1 2 tcp 25108223 203.0.113.7 50000 typ relay raddr 0.0.0.0 rport 0 tcptype passive", 1 },
		{ "candidate:a+b/c 256 udp 4294967295 relay.example.com 0 typ relay", 1 },
		{ "candidate:1 1 udp 2122194687 192.168.1.20 40000 typ host", 0 },
		{ "candidate:1 1 udp 2122194687 192.168.1.20 40000 typ host generation 0 ufrag x network-id 1", 0 },
		{ "candidate:1 1 udp 2113937151 0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.local 55935 typ host generation 0 network-cost 999", 0 },
		{ "candidate:1 1 udp 2122262783 fe80::1 40000 typ host", 0 },
		{ "candidate:1 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active", 0 },
		{ "candidate:1 1 udp 1686052607 198.51.100.2 41000 typ srflx raddr 192.168.1.20 rport 40000", 0 },
		{ "candidate:1 1 udp 1845501695 198.51.100.2 41001 typ prflx raddr 192.168.1.20 rport 40000", 0 },
		{ "candidate:1 1 udp 1 198.51.100.2 41001 typ RELAY", 0 },
		{ "candidate:1 1 udp 1 198.51.100.2 41001 typ carrier-pigeon", 0 },
		{ "a=", -1 },
		{ "candidate", -1 },
		{ "candidate:", -1 },
		{ "a=end-of-candidates", -1 },
		{ "foo", -1 },
		{ "x=candidate:1 1 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "a=a=candidate:1 1 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 type relay", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay raddr", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay raddr 1.2.3.4 rport", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay raddr 1.2.3.4 raddr 1.2.3.4", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay rport 70000", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay generation", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay ", -1 },
		{ " candidate:1 1 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1  1 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 65536 typ relay", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 -1 typ relay", -1 },
		{ "candidate:1 0 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 257 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 1 udp 4294967296 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 1 udp x 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7/24 50000 typ relay", -1 },
		{ "candidate:1 1 udp 1 [::1] 50000 typ relay", -1 },
		{ "candidate:1 1 u\"p 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:abcdefghijklmnopqrstuvwxyz0123456 1 udp 1 203.0.113.7 50000 typ relay", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay\r\n", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay\tx 1", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay x 1\t", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay x \x7f", -1 },
		{ "candidate:1 1 udp 1 203.0.113.7 50000 typ relay x \xff", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = sdp_policy_candidate(cases[i].c, strlen(cases[i].c));
		CHECK_EQ(got, cases[i].want);
		if (got != cases[i].want)
			fprintf(stderr, "  \"%s\"\n", cases[i].c);
	}
	/* length, not NUL, ends the string */
	static const char nul[] = "candidate:1 1 udp 1 203.0.113.7 50000 typ relay\0 x";
	CHECK_EQ(sdp_policy_candidate(nul, sizeof(nul) - 1), -1);
	CHECK_EQ(sdp_policy_candidate(nul, strlen(nul)), 1);
	CHECK_EQ(sdp_policy_candidate(nul, strlen(nul) - 6), -1);
	CHECK_EQ(sdp_policy_candidate(NULL, 0), 1);
}

static void
test_trickle_rewrite(void)
{
	static const struct {
		const char *in, *out;
		bool masked;
	} cases[] = {
		{ "candidate:1 1 udp 58597375 127.0.0.1 51155 typ relay raddr 192.0.2.2 rport 56024 generation 0 ufrag wEkP network-id 1",
		  "candidate:1 1 udp 58597375 127.0.0.1 51155 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag wEkP network-id 1", true },
		{ "a=candidate:1 1 udp 1 2001:db8::7 5 typ relay raddr 2001:db8::5 rport 4",
		  "a=candidate:1 1 udp 1 2001:db8::7 5 typ relay raddr :: rport 0", true },
		{ "candidate:1 1 udp 1 203.0.113.7 5 typ relay rport 4 raddr 10.0.0.1",
		  "candidate:1 1 udp 1 203.0.113.7 5 typ relay rport 0 raddr 0.0.0.0", true },
		{ "candidate:1 1 udp 1 203.0.113.7 5 typ relay rport 4",
		  "candidate:1 1 udp 1 203.0.113.7 5 typ relay rport 0", true },
		{ "candidate:1 1 udp 1 203.0.113.7 5 typ relay raddr 10.0.0.1 x 1",
		  "candidate:1 1 udp 1 203.0.113.7 5 typ relay raddr 0.0.0.0 x 1", true },
		{ "candidate:1 1 udp 1 203.0.113.7 5 typ relay raddr 0.0.0.0 rport 0",
		  "candidate:1 1 udp 1 203.0.113.7 5 typ relay raddr 0.0.0.0 rport 0", false },
		{ "candidate:1 1 udp 1 203.0.113.7 5 typ relay",
		  "candidate:1 1 udp 1 203.0.113.7 5 typ relay", false },
		{ "", "", false },
	};
	char buf[512];
	bool masked;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);
		memset(buf, 'z', sizeof(buf));
		CHECK_EQ(sdp_policy_candidate_rewrite(cases[i].in, n, buf,
						      sizeof(buf), &masked), 1);
		CHECK(strcmp(buf, cases[i].out) == 0);
		CHECK_EQ(masked, cases[i].masked);
		/* a rewritten candidate is kept as it is */
		CHECK_EQ(sdp_policy_candidate_rewrite(buf, strlen(buf),
						      buf + 256, 256, &masked),
			 1);
		CHECK(strcmp(buf + 256, cases[i].out) == 0);
		CHECK(!masked);
		/* room for the string and its NUL, not one byte less */
		size_t need = strlen(cases[i].out) + 1;
		CHECK_EQ(sdp_policy_candidate_rewrite(cases[i].in, n, buf, need,
						      NULL), 1);
		CHECK_EQ(sdp_policy_candidate_rewrite(cases[i].in, n, buf,
						      need - 1, NULL), -2);
	}
	CHECK_EQ(sdp_policy_candidate_rewrite(
			 "candidate:1 1 udp 1 192.168.1.2 5 typ host", 41, buf,
			 sizeof(buf), &masked), 0);
	CHECK_EQ(sdp_policy_candidate_rewrite("candidate:1", 11, buf,
					      sizeof(buf), &masked), -1);
}

int
main(void)
{
	test_audio_offer();
	test_audio_answer();
	test_av_data_offer();
	test_av_data_answer();
	test_ice_restart_offer();
	test_mdns_offer();
	test_lf_only();
	test_output_room();
	test_max_bytes();
	test_negative_fixtures();
	test_base();
	test_growth();
	test_line_syntax();
	test_m_line();
	test_fingerprint();
	test_setup();
	test_crypto();
	test_audio_codecs();
	test_candidates_in_sdp();
	test_address_masking();
	test_disabled_sections();
	test_port_zero();
	test_bundle_transport();
	test_structure();
	test_trickle_captured();
	test_trickle_forms();
	test_trickle_rewrite();
	return check_done("test_sdp_policy");
}
