/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway-mode SDP (control/gateway/gw_sdp.c): offers captured from Chromium and
 * aiortc (fixtures/sdp/README.md), the hand-made negatives, small edits of
 * them for one rule each, and the answer line by line.
 *
 * `test_gw_sdp --answer N` reads an offer on stdin and writes the answer
 * (N slots, the parameters below) on stdout: gw_sdp_peers.py feeds it to
 * aiortc and Chromium.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtls.h"
#include "gw_sdp.h"

#define OUT_CAP 65536

static char out[OUT_CAP];

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

/* s with the first occurrence of from replaced (all of them with all);
 * a missing from is a broken test, not a failed check. */
static char *
subst_n(const char *s, const char *from, const char *to, bool all)
{
	const char *at = strstr(s, from);
	char *r, *rest;

	if (!at) {
		fprintf(stderr, "test bug: \"%s\" not in the SDP\n", from);
		exit(1);
	}
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	memcpy(r, s, (size_t)(at - s));
	strcpy(r + (at - s), to);
	strcat(r, at + strlen(from));
	if (all && strstr(at + strlen(from), from)) {
		rest = subst_n(r, from, to, true);
		free(r);
		r = rest;
	}
	return r;
}

static char *
subst(const char *s, const char *from, const char *to)
{
	return subst_n(s, from, to, false);
}

static char *
subst_all(const char *s, const char *from, const char *to)
{
	return subst_n(s, from, to, true);
}

/* Parses exactly len bytes from a buffer of that size, so a read past the
 * end is an ASan report. */
static int
parse(const char *sdp, size_t len, struct gw_offer *o, const char **why)
{
	char *copy = malloc(len ? len : 1);
	int r;

	memcpy(copy, sdp, len);
	r = gw_sdp_parse_offer(copy, len, o, why);
	free(copy);
	return r;
}

static struct gw_offer offer;

static void
parse_ok(const char *sdp, size_t len, struct gw_offer *o)
{
	const char *why = "unset";
	int r = parse(sdp, len, o, &why);

	CHECK_EQ(r, 0);
	CHECK(why == NULL);
	if (r)
		fprintf(stderr, "  refused: %s\n", why ? why : "?");
}

#define EXPECT_REFUSE(sdp, len, reason)                                       \
	do {                                                                  \
		const char *_why = NULL;                                      \
		int _r = parse((sdp), (len), &offer, &_why);                  \
		CHECK_EQ(_r, -1);                                             \
		CHECK(_why && strcmp(_why, (reason)) == 0);                   \
		if (_r != -1 || !_why || strcmp(_why, (reason)))              \
			fprintf(stderr, "  expected \"%s\", got %d \"%s\"\n", \
				(reason), _r, _why ? _why : "");              \
		CHECK_EQ(offer.n_m, 0);                                       \
	} while (0)

#define EXPECT_REFUSE_STR(s, reason) EXPECT_REFUSE(s, strlen(s), reason)

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

/* The first line starting "m=" at or after p (a line start), or NULL. */
static const char *
next_m(const char *p)
{
	while (p && *p && strncmp(p, "m=", 2) != 0) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return p && *p ? p : NULL;
}

static const char *
after_line(const char *p)
{
	const char *lf = strchr(p, '\n');

	return lf ? lf + 1 : p + strlen(p);
}

/* The i-th m= section of sdp (from its m= line to the next), or the
 * session part for i == -1, in a static buffer. */
static const char *
section(const char *sdp, int i)
{
	static char buf[OUT_CAP];
	const char *p = sdp, *end;

	if (i >= 0) {
		p = next_m(sdp);
		for (int k = 0; k < i && p; k++)
			p = next_m(after_line(p));
		if (!p)
			return "";
		end = next_m(after_line(p));
	} else {
		end = next_m(p);
	}
	if (!end)
		end = p + strlen(p);
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return buf;
}

/* What every answer must look like. */
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
		CHECK(eol - p >= 2 && eol - p < 1000);
		CHECK(p[0] >= 'a' && p[0] <= 'z' && p[1] == '=');
		for (const char *c = p; c < eol; c++)
			CHECK(*c >= 0x20 && *c < 0x7f);
		p = eol + 2;
	}
}

/* ---- the answer's parameters ---- */

#define OUR_UFRAG "sottoGW1"
#define OUR_PWD "0123456789abcdefABCDEF+/"

static uint8_t our_fp[DTLS_FP_LEN];
static char our_fp_line[200];
static struct sotto_addr cands[2];
static const uint32_t slot_ssrcs[GW_SDP_MAX_SLOTS] = {
	0x50000001, 0x50000002, 0x50000003, 0x50000004,
	0x50000005, 0x50000006, 0x50000007, 0x50000008,
};

static struct gw_answer_params
params(unsigned slots)
{
	static bool init;

	if (!init) {
		uint32_t v4;
		uint8_t v6[16];
		size_t at;

		strcpy(our_fp_line, "a=fingerprint:sha-256 ");
		for (unsigned i = 0; i < DTLS_FP_LEN; i++) {
			our_fp[i] = (uint8_t)(0xa0 + i);
			at = strlen(our_fp_line);
			snprintf(our_fp_line + at, sizeof(our_fp_line) - at,
				 "%02X%s", our_fp[i],
				 i + 1 < DTLS_FP_LEN ? ":" : "");
		}
		inet_pton(AF_INET, "203.0.113.7", &v4);
		inet_pton(AF_INET6, "2001:db8::7", v6);
		sotto_addr_v4(&cands[0], v4, 40000);
		sotto_addr_v6(&cands[1], v6, 40002);
		init = true;
	}
	return (struct gw_answer_params){
		.ice_ufrag = OUR_UFRAG,
		.ice_pwd = OUR_PWD,
		.fingerprint = our_fp,
		.cands = cands,
		.n_cands = 2,
		.n_slots = slots,
		.slot_ssrcs = slot_ssrcs,
		.cname = "sotto",
		.session_id = 4242,
	};
}

static int
build_ok(const struct gw_offer *o, const struct gw_answer_params *a,
	 struct gw_answer_info *info)
{
	const char *why = "unset";
	int n = gw_sdp_build_answer(o, a, out, sizeof(out), info, &why);

	CHECK(n > 0);
	CHECK(why == NULL);
	if (n <= 0) {
		fprintf(stderr, "  answer refused: %s\n", why ? why : "?");
		out[0] = '\0';
		return n;
	}
	check_shape(out, n);
	return n;
}

/* What an accepted section always has. */
static void
check_accepted(const char *sec, unsigned pt, unsigned level_id,
	       const char *mid, const char *dir)
{
	char line[256];

	snprintf(line, sizeof(line), "m=audio 40000 UDP/TLS/RTP/SAVPF %u", pt);
	CHECK(strncmp(sec, line, strlen(line)) == 0 &&
	      sec[strlen(line)] == '\r');
	CHECK(has_line(sec, "c=IN IP4 203.0.113.7"));
	CHECK(has_line(sec, "a=rtcp:40000 IN IP4 203.0.113.7"));
	snprintf(line, sizeof(line), "a=mid:%s", mid);
	CHECK(has_line(sec, line));
	CHECK(has_line(sec, "a=ice-ufrag:" OUR_UFRAG));
	CHECK(has_line(sec, "a=ice-pwd:" OUR_PWD));
	CHECK(has_line(sec, our_fp_line));
	CHECK_EQ(count_prefix(sec, "a=fingerprint:"), 1);
	CHECK(has_line(sec, "a=setup:passive"));
	CHECK(has_line(sec, "a=rtcp-mux"));
	snprintf(line, sizeof(line), "a=rtpmap:%u opus/48000/2", pt);
	CHECK(has_line(sec, line));
	snprintf(line, sizeof(line), "a=fmtp:%u minptime=10;useinbandfec=1",
		 pt);
	CHECK(has_line(sec, line));
	CHECK_EQ(count_prefix(sec, "a=rtpmap:"), 1);
	CHECK_EQ(count_prefix(sec, "a=fmtp:"), 1);
	/* RFC 8445 §5.1.2.1 host priorities, the IPv4 address first */
	CHECK(has_line(sec, "a=candidate:1 1 udp 2130706431 203.0.113.7 40000 "
			    "typ host"));
	CHECK(has_line(sec, "a=candidate:2 1 udp 2130706175 2001:db8::7 40002 "
			    "typ host"));
	CHECK_EQ(count_prefix(sec, "a=candidate:"), 2);
	CHECK(has_line(sec, "a=end-of-candidates"));
	snprintf(line, sizeof(line), "a=%s", dir);
	CHECK(has_line(sec, line));
	CHECK_EQ(count_prefix(sec, "a=sendrecv") + count_prefix(sec, "a=sendonly") +
		 count_prefix(sec, "a=recvonly") + count_prefix(sec, "a=inactive"),
		 1);
	/* the audio level only: no mid, transport-cc, abs-send-time */
	if (level_id) {
		snprintf(line, sizeof(line),
			 "a=extmap:%u urn:ietf:params:rtp-hdrext:ssrc-audio-level",
			 level_id);
		CHECK(has_line(sec, line));
	}
	CHECK_EQ(count_prefix(sec, "a=extmap:"), level_id ? 1 : 0);
	CHECK(!strstr(sec, "stereo"));
	CHECK(!strstr(sec, "transport-cc"));
	CHECK(!strstr(sec, "a=crypto"));
}

static void
check_slot(const char *sec, int slot)
{
	char line[128];

	if (slot < 0) {
		CHECK_EQ(count_prefix(sec, "a=msid:"), 0);
		CHECK_EQ(count_prefix(sec, "a=ssrc:"), 0);
		return;
	}
	snprintf(line, sizeof(line), "a=msid:sotto slot%d", slot);
	CHECK(has_line(sec, line));
	snprintf(line, sizeof(line), "a=ssrc:%" PRIu32 " cname:sotto",
		 slot_ssrcs[slot]);
	CHECK(has_line(sec, line));
	snprintf(line, sizeof(line), "a=ssrc:%" PRIu32 " msid:sotto slot%d",
		 slot_ssrcs[slot], slot);
	CHECK(has_line(sec, line));
	CHECK_EQ(count_prefix(sec, "a=ssrc:"), 2);
}

static void
check_session(const char *sdp, const char *group)
{
	const char *s = section(sdp, -1);
	const char *head = "v=0\r\no=- 4242 2 IN IP4 0.0.0.0\r\ns=-\r\n"
			   "t=0 0\r\n";

	CHECK(strncmp(s, head, strlen(head)) == 0);
	CHECK(has_line(s, "a=ice-lite"));
	if (group)
		CHECK(has_line(s, group));
	else
		CHECK_EQ(count_prefix(s, "a=group:"), 0);
}

/* ---- offers ---- */

#define CHROMIUM_GW_FP                                                        \
	"46:45:78:F0:7D:88:68:DE:F9:3F:87:75:4E:17:BA:63:51:E8:4B:54:B5:A5:" \
	"88:2D:0E:26:44:F4:2E:7B:6F:86"
#define AIORTC_GW_FP                                                          \
	"06:43:A2:8A:D7:C5:09:AE:34:69:14:F3:14:94:67:72:BB:6C:66:F7:9D:63:" \
	"E1:2A:23:B0:34:69:C9:ED:46:B7"

static void
check_fp(const struct gw_offer *o, const char *fp)
{
	uint8_t want[DTLS_FP_LEN];

	CHECK_EQ(dtls_fingerprint_parse(fp, want), 0);
	CHECK_MEM(o->fingerprint, want, DTLS_FP_LEN);
}

static void
test_chromium_gateway(void)
{
	size_t len;
	char *sdp = fixture("chromium_gateway_offer.sdp", &len);
	struct gw_answer_info info;
	struct gw_answer_params a = params(2);
	struct gw_offer *o = &offer;
	int n;

	parse_ok(sdp, len, o);
	CHECK(strcmp(o->ice_ufrag, "XDEt") == 0);
	CHECK(strcmp(o->ice_pwd, "OAgxoxkgQGZizP8ProXtYN3m") == 0);
	check_fp(o, CHROMIUM_GW_FP);
	CHECK(!o->setup_active);
	CHECK(o->bundle);
	CHECK_EQ(o->n_m, 3);
	CHECK_EQ(o->n_usable, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct gw_offer_m *m = &o->m[i];
		char mid[4];
		snprintf(mid, sizeof(mid), "%u", i);
		CHECK_EQ(o->order[i], i);
		CHECK(strcmp(m->mid, mid) == 0);
		CHECK(m->audio && m->usable);
		CHECK_EQ(m->dir, i ? GW_DIR_RECVONLY : GW_DIR_SENDRECV);
		CHECK_EQ(m->opus_pt, 111);
		CHECK(strcmp(m->opus_fmtp, "minptime=10;useinbandfec=1") == 0);
		CHECK_EQ(m->level_id, 1);
		CHECK(strcmp(m->type_line, "audio") == 0);
		CHECK(strcmp(m->proto, "UDP/TLS/RTP/SAVPF") == 0);
		CHECK(strcmp(m->fmts, "111 63 9 0 8 13 110 126") == 0);
	}
	/* Chromium gives recvonly transceivers no SSRC */
	CHECK_EQ(o->m[0].n_ssrcs, 1);
	CHECK_EQ(o->m[0].ssrcs[0], 4141816185u);
	CHECK_EQ(o->m[1].n_ssrcs, 0);
	CHECK_EQ(o->m[2].n_ssrcs, 0);

	/* two slots: the sendrecv section and the first recvonly one */
	n = build_ok(o, &a, &info);
	check_session(out, "a=group:BUNDLE 0 1 2");
	CHECK(has_line(section(out, -1), "a=msid-semantic: WMS sotto"));
	CHECK_EQ(count_prefix(out, "m="), 3);
	check_accepted(section(out, 0), 111, 1, "0", "sendrecv");
	check_slot(section(out, 0), 0);
	check_accepted(section(out, 1), 111, 1, "1", "sendonly");
	check_slot(section(out, 1), 1);
	check_accepted(section(out, 2), 111, 1, "2", "inactive");
	check_slot(section(out, 2), -1);
	CHECK_EQ(info.n_slots, 2);
	CHECK_EQ(info.slot_m[0], 0);
	CHECK_EQ(info.slot_m[1], 1);
	CHECK_EQ(info.slot_pt[0], 111);
	CHECK_EQ(info.slot_pt[1], 111);
	CHECK_EQ(info.slot_level_id[0], 1);
	CHECK_EQ(info.slot_level_id[1], 1);
	CHECK_EQ(info.send_m, 0);
	CHECK_EQ(info.n_send, 1);
	CHECK_EQ(info.send_pt, 111);
	CHECK_EQ(info.level_id, 1);
	CHECK_EQ(info.n_ssrcs, 1);
	CHECK_EQ(info.ssrcs[0], 4141816185u);
	CHECK(!strstr(out, "urn:ietf:params:rtp-hdrext:sdes:mid"));
	CHECK(!strstr(out, "abs-send-time"));

	/* too small a buffer, any size: refused, nothing written past cap */
	static char small[OUT_CAP + 64];
	unsigned bad = 0;
	for (size_t cap = 0; cap <= (size_t)n; cap++) {
		const char *why = NULL;
		memset(small, 0x5a, cap + 64);
		int r = gw_sdp_build_answer(o, &a, small, cap, &info, &why);
		bool past = false;
		for (size_t k = cap; k < cap + 64; k++)
			past |= small[k] != 0x5a;
		if (r != -1 || !why || strcmp(why, "answer does not fit") ||
		    past)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(gw_sdp_build_answer(o, &a, small, (size_t)n + 1, &info, NULL),
		 n);
	CHECK(strcmp(small, out) == 0);

	/* no slots (a listener that only speaks), three, more than offered */
	a = params(0);
	build_ok(o, &a, &info);
	CHECK(!has_line(section(out, -1), "a=msid-semantic: WMS sotto"));
	check_accepted(section(out, 0), 111, 1, "0", "recvonly");
	check_accepted(section(out, 1), 111, 1, "1", "inactive");
	check_accepted(section(out, 2), 111, 1, "2", "inactive");
	for (int i = 0; i < 3; i++)
		check_slot(section(out, i), -1);
	CHECK_EQ(info.n_slots, 0);
	CHECK_EQ(info.send_m, 0);
	for (unsigned slots = 3; slots <= GW_SDP_MAX_SLOTS; slots += 5) {
		a = params(slots);
		build_ok(o, &a, &info);
		check_accepted(section(out, 0), 111, 1, "0", "sendrecv");
		check_accepted(section(out, 1), 111, 1, "1", "sendonly");
		check_accepted(section(out, 2), 111, 1, "2", "sendonly");
		for (int i = 0; i < 3; i++)
			check_slot(section(out, i), i);
		CHECK_EQ(info.n_slots, 3);
		CHECK_EQ(info.slot_m[2], 2);
	}

	/* IPv6 as the default address */
	struct sotto_addr c6[2] = { cands[1], cands[0] };
	a = params(1);
	a.cands = c6;
	build_ok(o, &a, &info);
	CHECK(has_line(section(out, 0), "m=audio 40002 UDP/TLS/RTP/SAVPF 111"));
	CHECK(has_line(section(out, 0), "c=IN IP6 2001:db8::7"));
	CHECK(has_line(section(out, 0), "a=rtcp:40002 IN IP6 2001:db8::7"));
	CHECK(has_line(section(out, 0),
		       "a=candidate:2 1 udp 2130706175 203.0.113.7 40000 typ host"));
	free(sdp);
}

static void
test_aiortc_gateway(void)
{
	size_t len;
	char *sdp = fixture("aiortc_gateway_offer.sdp", &len);
	static const uint32_t ssrcs[3] = { 440693403u, 1639652847u,
					   1517396691u };
	struct gw_answer_info info;
	struct gw_answer_params a = params(3);
	struct gw_offer *o = &offer;

	parse_ok(sdp, len, o);
	/* every section has its own credentials; the tagged one's count */
	CHECK(strcmp(o->ice_ufrag, "IG7T") == 0);
	CHECK(strcmp(o->ice_pwd, "f8dglZJIgSjuj7FsEWzS9y") == 0);
	check_fp(o, AIORTC_GW_FP);
	CHECK(!o->setup_active);
	CHECK(o->bundle);
	CHECK_EQ(o->n_m, 3);
	CHECK_EQ(o->n_usable, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct gw_offer_m *m = &o->m[i];
		char mid[4];
		snprintf(mid, sizeof(mid), "%u", i);
		CHECK(strcmp(m->mid, mid) == 0);
		CHECK(m->usable);
		CHECK_EQ(m->dir, i ? GW_DIR_RECVONLY : GW_DIR_SENDRECV);
		CHECK_EQ(m->opus_pt, 96);
		CHECK(strcmp(m->opus_fmtp, "") == 0);
		CHECK_EQ(m->level_id, 2);
		/* aiortc gives recvonly transceivers an SSRC too (for RTCP) */
		CHECK_EQ(m->n_ssrcs, 1);
		CHECK_EQ(m->ssrcs[0], ssrcs[i]);
		CHECK(strcmp(m->fmts, "96 0 8") == 0);
	}
	build_ok(o, &a, &info);
	check_session(out, "a=group:BUNDLE 0 1 2");
	check_accepted(section(out, 0), 96, 2, "0", "sendrecv");
	check_accepted(section(out, 1), 96, 2, "1", "sendonly");
	check_accepted(section(out, 2), 96, 2, "2", "sendonly");
	for (int i = 0; i < 3; i++)
		check_slot(section(out, i), i);
	CHECK_EQ(info.n_slots, 3);
	CHECK_EQ(info.send_pt, 96);
	CHECK_EQ(info.level_id, 2);
	CHECK_EQ(info.slot_pt[2], 96);
	CHECK_EQ(info.slot_level_id[2], 2);
	/* the sender's SSRC first, then the receive-only sections' (aiortc
	 * sends its receiver reports from those) */
	CHECK_EQ(info.n_ssrcs, 3);
	CHECK_EQ(info.ssrcs[0], ssrcs[0]);

	/* the audio level not offered: not answered */
	char *nolevel = subst_all(sdp,
		"a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", "");
	parse_ok(nolevel, strlen(nolevel), o);
	CHECK_EQ(o->m[0].level_id, 0);
	build_ok(o, &a, &info);
	check_accepted(section(out, 0), 96, 0, "0", "sendrecv");
	CHECK_EQ(info.level_id, 0);
	CHECK_EQ(info.slot_level_id[1], 0);
	free(nolevel);
	free(sdp);
}

static void
test_chromium_relay_fixtures(void)
{
	struct gw_answer_info info;
	struct gw_answer_params a = params(4);
	struct gw_offer *o = &offer;
	size_t len;
	char *sdp;

	sdp = fixture("chromium_audio_offer.sdp", &len);
	parse_ok(sdp, len, o);
	CHECK_EQ(o->n_m, 1);
	CHECK(strcmp(o->ice_ufrag, "8LIx") == 0);
	CHECK(strcmp(o->ice_pwd, "3uq8IIZIKHIcg3r/iDm+feWo") == 0);
	check_fp(o, "15:49:0C:78:4D:9E:F0:61:FC:D9:1A:8C:40:97:0A:29:"
		    "A2:88:58:51:FE:8D:14:5D:46:6D:21:86:18:98:CD:F1");
	CHECK(o->bundle);
	CHECK_EQ(o->m[0].opus_pt, 111);
	CHECK_EQ(o->m[0].level_id, 1);
	CHECK_EQ(o->m[0].n_ssrcs, 1);
	CHECK_EQ(o->m[0].ssrcs[0], 1005023390u);
	build_ok(o, &a, &info);
	check_session(out, "a=group:BUNDLE 0");
	check_accepted(section(out, 0), 111, 1, "0", "sendrecv");
	check_slot(section(out, 0), 0);
	CHECK_EQ(info.n_slots, 1);

	/* the offer's direction sendonly: sotto only receives; inactive
	 * stays inactive */
	char *s2 = subst(sdp, "a=sendrecv\r\n", "a=sendonly\r\n");
	parse_ok(s2, strlen(s2), o);
	CHECK_EQ(o->m[0].dir, GW_DIR_SENDONLY);
	build_ok(o, &a, &info);
	check_accepted(section(out, 0), 111, 1, "0", "recvonly");
	check_slot(section(out, 0), -1);
	CHECK_EQ(info.n_slots, 0);
	CHECK_EQ(info.send_m, 0);
	free(s2);
	s2 = subst(sdp, "a=sendrecv\r\n", "a=inactive\r\n");
	parse_ok(s2, strlen(s2), o);
	build_ok(o, &a, &info);
	check_accepted(section(out, 0), 111, 1, "0", "inactive");
	CHECK_EQ(info.n_slots, 0);
	CHECK_EQ(info.send_m, -1);
	CHECK_EQ(info.n_ssrcs, 0);
	free(s2);
	/* no direction attribute: sendrecv (RFC 8866 §6.7) */
	s2 = subst(sdp, "a=sendrecv\r\n", "");
	parse_ok(s2, strlen(s2), o);
	CHECK_EQ(o->m[0].dir, GW_DIR_SENDRECV);
	free(s2);
	/* a=setup:active: the browser is the DTLS client either way */
	s2 = subst(sdp, "a=setup:actpass", "a=setup:active");
	parse_ok(s2, strlen(s2), o);
	CHECK(o->setup_active);
	build_ok(o, &a, &info);
	CHECK(has_line(out, "a=setup:passive"));
	free(s2);
	/* no BUNDLE group with a single section: none in the answer */
	s2 = subst(sdp, "a=group:BUNDLE 0\r\n", "");
	parse_ok(s2, strlen(s2), o);
	CHECK(!o->bundle);
	build_ok(o, &a, &info);
	check_session(out, NULL);
	free(s2);
	/* LF only */
	s2 = subst_all(sdp, "\r\n", "\n");
	parse_ok(s2, strlen(s2), o);
	CHECK(strcmp(o->ice_pwd, "3uq8IIZIKHIcg3r/iDm+feWo") == 0);
	CHECK_EQ(o->m[0].level_id, 1);
	free(s2);
	/* transport at session level (RFC 8839 §5.4, RFC 8122 §5) */
	s2 = subst(sdp, "a=ice-ufrag:8LIx\r\n", "");
	char *s3 = subst(s2, "t=0 0\r\n", "t=0 0\r\na=ice-ufrag:8LIx\r\n");
	parse_ok(s3, strlen(s3), o);
	CHECK(strcmp(o->ice_ufrag, "8LIx") == 0);
	free(s2);
	free(s3);
	/* sha-1 next to sha-256 is fine */
	s2 = subst(sdp, "a=setup:actpass\r\n",
		   "a=setup:actpass\r\na=fingerprint:sha-1 "
		   "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\n");
	parse_ok(s2, strlen(s2), o);
	free(s2);
	/* a second Opus payload type: the first on the m= line */
	s2 = subst(sdp, "a=rtpmap:63 red/48000/2", "a=rtpmap:63 opus/48000/2");
	s3 = subst(s2, "111 63 9", "63 111 9");
	parse_ok(s3, strlen(s3), o);
	CHECK_EQ(o->m[0].opus_pt, 63);
	CHECK(strcmp(o->m[0].opus_fmtp, "111/111") == 0);
	free(s2);
	free(s3);
	free(sdp);

	sdp = fixture("chromium_av_data_offer.sdp", &len);
	parse_ok(sdp, len, o);
	CHECK_EQ(o->n_m, 3);
	CHECK_EQ(o->n_usable, 1);
	CHECK(o->m[0].usable);
	CHECK(!o->m[1].usable && !o->m[1].audio);
	CHECK(!o->m[2].usable && !o->m[2].audio);
	CHECK(strcmp(o->m[1].type_line, "video") == 0);
	CHECK(strcmp(o->m[2].type_line, "application") == 0);
	CHECK(strcmp(o->m[2].proto, "UDP/DTLS/SCTP") == 0);
	CHECK(strcmp(o->m[2].fmts, "webrtc-datachannel") == 0);
	CHECK(strcmp(o->m[1].mid, "1") == 0);
	CHECK_EQ(o->m[0].n_ssrcs, 1);
	CHECK_EQ(o->m[0].ssrcs[0], 30422615u);
	build_ok(o, &a, &info);
	/* video and data rejected: port 0, not in the group */
	check_session(out, "a=group:BUNDLE 0");
	check_accepted(section(out, 0), 111, 1, "0", "sendrecv");
	check_slot(section(out, 0), 0);
	CHECK(strcmp(section(out, 1),
		     "m=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 "
		     "114 115 116 117 39 40 45 46 98 99 100 101 118 119 120\r\n"
		     "c=IN IP4 0.0.0.0\r\na=mid:1\r\n") == 0);
	CHECK(strcmp(section(out, 2),
		     "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
		     "c=IN IP4 0.0.0.0\r\na=mid:2\r\n") == 0);
	CHECK_EQ(info.n_slots, 1);
	free(sdp);

	sdp = fixture("chromium_ice_restart_offer.sdp", &len);
	parse_ok(sdp, len, o);
	CHECK(strcmp(o->ice_ufrag, "8LIx") != 0);
	free(sdp);
	sdp = fixture("chromium_mdns_audio_offer.sdp", &len);
	parse_ok(sdp, len, o);
	CHECK_EQ(o->m[0].ssrcs[0], 3731435434u);
	free(sdp);
}

/* A section's ssrc-group ids count, and at most GW_SDP_MAX_SSRC of them. */
static void
test_ssrcs(void)
{
	size_t len;
	char *sdp = fixture("chromium_audio_offer.sdp", &len);
	char *s2 = subst(sdp, "a=ssrc:1005023390 cname",
			 "a=ssrc-group:FID 1005023390 77\r\n"
			 "a=ssrc:77 cname:x\r\na=ssrc:1005023390 cname");

	parse_ok(s2, strlen(s2), &offer);
	CHECK_EQ(offer.m[0].n_ssrcs, 2);
	CHECK_EQ(offer.m[0].ssrcs[0], 1005023390u);
	CHECK_EQ(offer.m[0].ssrcs[1], 77);
	free(s2);
	s2 = subst(sdp, "a=ssrc:1005023390 cname",
		   "a=ssrc-group:SIM 1 2 3 4 5 6 7 8\r\na=ssrc:1005023390 cname");
	EXPECT_REFUSE_STR(s2, "too many SSRCs");
	free(s2);
	s2 = subst(sdp, "a=ssrc:1005023390 cname", "a=ssrc:4294967296 cname");
	EXPECT_REFUSE_STR(s2, "malformed a=ssrc");
	free(s2);
	free(sdp);
}

/* ---- refusals ---- */

static void
test_neg_fixtures(void)
{
	static const struct {
		const char *file, *reason;
	} neg[] = {
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

	for (size_t i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
		size_t len;
		char *sdp = fixture(neg[i].file, &len);
		fprintf(stderr, "%s\n", neg[i].file);
		EXPECT_REFUSE(sdp, len, neg[i].reason);
		free(sdp);
	}
}

static void
test_refusals(void)
{
	size_t len;
	char *sdp = fixture("chromium_audio_offer.sdp", &len);
	char *gw = fixture("chromium_gateway_offer.sdp", &len);
	char big[300], *s, *s2;

	EXPECT_REFUSE("", 0, "empty SDP");
	EXPECT_REFUSE_STR("o=- 1 2 IN IP4 0.0.0.0\r\nv=0\r\n",
			  "SDP does not start with v=0");
	EXPECT_REFUSE_STR("v=1\r\n", "SDP does not start with v=0");
	EXPECT_REFUSE_STR("v=0\r\n", "no usable audio m= line");
	EXPECT_REFUSE_STR("v=0\r\nm=audio 9\r\n", "malformed m= line");

	/* RFC 8445 §2.5: two lite agents */
	s = subst(sdp, "t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n");
	EXPECT_REFUSE_STR(s, "ICE-lite offer not supported");
	free(s);
	s = subst(sdp, "a=ice-options:trickle\r\n", "a=ice-lite\r\n");
	EXPECT_REFUSE_STR(s, "ICE-lite offer not supported");
	free(s);
	/* sotto is the DTLS server */
	s = subst(sdp, "a=setup:actpass", "a=setup:passive");
	EXPECT_REFUSE_STR(s, "a=setup:passive not allowed");
	free(s);
	s = subst(sdp, "a=setup:actpass", "a=setup:client");
	EXPECT_REFUSE_STR(s, "malformed a=setup");
	free(s);
	/* SDES at session level too */
	s = subst(sdp, "t=0 0\r\n",
		  "t=0 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n");
	EXPECT_REFUSE_STR(s, "SDES keys not allowed");
	free(s);

	/* RFC 8839 §5.4 ice-ufrag 4..256, ice-pwd 22..256 ice-char */
	s = subst(sdp, "a=ice-ufrag:8LIx", "a=ice-ufrag:8LI");
	EXPECT_REFUSE_STR(s, "malformed a=ice-ufrag");
	free(s);
	s = subst(sdp, "a=ice-ufrag:8LIx", "a=ice-ufrag:8L_x");
	EXPECT_REFUSE_STR(s, "malformed a=ice-ufrag");
	free(s);
	memset(big, 'u', sizeof(big));
	memcpy(big, "a=ice-ufrag:", 12);
	big[12 + 257] = '\0';
	s = subst(sdp, "a=ice-ufrag:8LIx", big);
	EXPECT_REFUSE_STR(s, "malformed a=ice-ufrag");
	free(s);
	big[12 + 256] = '\0';
	s = subst(sdp, "a=ice-ufrag:8LIx", big);
	parse_ok(s, strlen(s), &offer);
	CHECK_EQ(strlen(offer.ice_ufrag), 256);
	free(s);
	s = subst(sdp, "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+feWo",
		  "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+f");
	EXPECT_REFUSE_STR(s, "malformed a=ice-pwd");
	free(s);
	s = subst(sdp, "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+feWo",
		  "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+fe");
	parse_ok(s, strlen(s), &offer);
	free(s);
	s = subst(sdp, "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+feWo",
		  "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+fe=W");
	EXPECT_REFUSE_STR(s, "malformed a=ice-pwd");
	free(s);
	memset(big, 'p', sizeof(big));
	memcpy(big, "a=ice-pwd:", 10);
	big[10 + 257] = '\0';
	s = subst(sdp, "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+feWo", big);
	EXPECT_REFUSE_STR(s, "malformed a=ice-pwd");
	free(s);
	s = subst(sdp, "a=ice-ufrag:8LIx\r\n", "");
	EXPECT_REFUSE_STR(s, "missing a=ice-ufrag");
	free(s);
	s = subst(sdp, "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+feWo\r\n", "");
	EXPECT_REFUSE_STR(s, "missing a=ice-pwd");
	free(s);

	/* one transport for the participant: several usable sections must
	 * be bundled, all of them in one group */
	s = subst(gw, "a=group:BUNDLE 0 1 2\r\n", "");
	EXPECT_REFUSE_STR(s, "usable m= lines not in one BUNDLE group");
	free(s);
	s = subst(gw, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1");
	EXPECT_REFUSE_STR(s, "usable m= lines not in one BUNDLE group");
	free(s);
	s = subst(gw, "a=group:BUNDLE 0 1 2",
		  "a=group:BUNDLE 0 1\r\na=group:BUNDLE 2");
	EXPECT_REFUSE_STR(s, "usable m= lines not in one BUNDLE group");
	free(s);
	/* the group's order picks the tagged section (RFC 8843 §7.2.1) */
	s = subst(gw, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 2 0 1");
	s2 = subst(s, "a=ice-ufrag:XDEt\r\na=ice-pwd:OAgxoxkgQGZizP8ProXtYN3m\r\n"
		      "a=ice-options:trickle\r\na=fingerprint:sha-256 "
		      CHROMIUM_GW_FP "\r\na=setup:actpass\r\na=mid:2",
		   "a=ice-ufrag:Tag2\r\na=ice-pwd:OAgxoxkgQGZizP8ProXtYN3m\r\n"
		   "a=ice-options:trickle\r\na=fingerprint:sha-256 "
		   CHROMIUM_GW_FP "\r\na=setup:actpass\r\na=mid:2");
	parse_ok(s2, strlen(s2), &offer);
	CHECK(strcmp(offer.ice_ufrag, "Tag2") == 0);
	CHECK_EQ(offer.order[0], 2);
	CHECK_EQ(offer.order[1], 0);
	{
		struct gw_answer_params a = params(3);
		build_ok(&offer, &a, NULL);
		check_session(out, "a=group:BUNDLE 2 0 1");
	}
	free(s);
	free(s2);
	/* one certificate */
	s = subst(gw, "a=setup:actpass\r\na=mid:1",
		  "a=setup:actpass\r\na=mid:1\r\na=fingerprint:sha-256 "
		  AIORTC_GW_FP);
	EXPECT_REFUSE_STR(s, "conflicting sha-256 fingerprints");
	free(s);
	s = subst(sdp, "t=0 0\r\n",
		  "t=0 0\r\na=fingerprint:sha-256 " AIORTC_GW_FP "\r\n");
	EXPECT_REFUSE_STR(s, "conflicting sha-256 fingerprints");
	free(s);

	/* and the rest */
	s = subst(sdp, "a=rtcp-mux\r\n", "");
	EXPECT_REFUSE_STR(s, "missing a=rtcp-mux");
	free(s);
	s = subst(gw, "a=mid:1", "a=mid:0");
	EXPECT_REFUSE_STR(s, "duplicate a=mid");
	free(s);
	s = subst(sdp, "a=mid:0\r\n", "");
	s2 = subst(s, "a=group:BUNDLE 0\r\n", "");
	EXPECT_REFUSE_STR(s2, "missing a=mid");
	free(s);
	free(s2);
	s = subst(sdp, "a=sendrecv\r\n", "a=sendrecv\r\na=recvonly\r\n");
	EXPECT_REFUSE_STR(s, "conflicting direction attributes");
	free(s);
	s = subst(sdp, "m=audio 51168", "m=audio 0");
	EXPECT_REFUSE_STR(s, "no usable audio m= line");
	free(s);
	s = subst(sdp, "m=audio", "m=video");
	EXPECT_REFUSE_STR(s, "no usable audio m= line");
	free(s);
	s = subst(sdp, "a=fmtp:111 ", "a=fmtp:x ");
	EXPECT_REFUSE_STR(s, "malformed a=fmtp");
	free(s);
	s = subst(sdp, "a=rtpmap:9 G722/8000", "a=rtpmap:9 G722");
	EXPECT_REFUSE_STR(s, "malformed a=rtpmap");
	free(s);
	s = subst(sdp, "a=extmap:1 ", "a=extmap:0 ");
	EXPECT_REFUSE_STR(s, "malformed a=extmap");
	free(s);
	s = subst(sdp, "s=-\r\n", "s=-\r\n\r\n");
	EXPECT_REFUSE_STR(s, "empty line");
	free(s);
	s = subst(sdp, "a=rtcp-mux\r\n", "a=rtcp-mux\r\nt=0 0\r\n");
	EXPECT_REFUSE_STR(s, "line not allowed in a media section");
	free(s);
	s = subst(sdp, "a=rtcp-mux\r\n", "a=rtcp-mux\ra\r\n");
	EXPECT_REFUSE_STR(s, "CR not followed by LF");
	free(s);
	/* the faults of a rejected section do not matter */
	s = fixture("chromium_av_data_offer.sdp", &len);
	s2 = subst(s, "a=mid:2\r\n", "a=mid:2\r\na=setup:holdconn\r\n");
	parse_ok(s2, strlen(s2), &offer);
	free(s2);
	free(s);
	free(gw);
	free(sdp);
}

/* Every prefix of a real offer: refused or parsed, never read past len. */
static void
test_prefixes(void)
{
	size_t len;
	char *sdp = fixture("chromium_av_data_offer.sdp", &len);
	unsigned ok = 0, refused = 0;

	for (size_t n = 0; n <= len; n++) {
		const char *why = NULL;
		int r = parse(sdp, n, &offer, &why);
		if (r == 0)
			ok++;
		else if (why)
			refused++;
	}
	CHECK_EQ(ok + refused, len + 1);
	CHECK(ok > 0);
	free(sdp);
}

static void
test_params(void)
{
	size_t len;
	char *sdp = fixture("chromium_audio_offer.sdp", &len);
	struct gw_answer_params a;
	const char *why;
	struct sotto_addr none = { 0 };

	parse_ok(sdp, len, &offer);
#define EXPECT_PARAM_REFUSED(edit, reason)                                     \
	do {                                                                   \
		a = params(1);                                                 \
		edit;                                                          \
		why = NULL;                                                    \
		CHECK_EQ(gw_sdp_build_answer(&offer, &a, out, sizeof(out),     \
					     NULL, &why), -1);                 \
		CHECK(why && strcmp(why, reason) == 0);                        \
	} while (0)
	EXPECT_PARAM_REFUSED(a.ice_ufrag = "abc", "bad ICE credentials");
	EXPECT_PARAM_REFUSED(a.ice_ufrag = "abcd\r\na=x", "bad ICE credentials");
	EXPECT_PARAM_REFUSED(a.ice_pwd = "short", "bad ICE credentials");
	EXPECT_PARAM_REFUSED(a.fingerprint = NULL, "no fingerprint");
	EXPECT_PARAM_REFUSED(a.n_cands = 0, "no gateway address");
	EXPECT_PARAM_REFUSED(a.cands = &none; a.n_cands = 1,
			     "bad gateway address");
	EXPECT_PARAM_REFUSED(a.n_slots = GW_SDP_MAX_SLOTS + 1, "bad slots");
	EXPECT_PARAM_REFUSED(a.slot_ssrcs = NULL, "bad slots");
	EXPECT_PARAM_REFUSED(a.cname = "a b", "bad cname");
	EXPECT_PARAM_REFUSED(a.cname = "", "bad cname");
	/* an offer with nothing usable (a zeroed one) */
	struct gw_offer empty;
	memset(&empty, 0, sizeof(empty));
	a = params(1);
	CHECK_EQ(gw_sdp_build_answer(&empty, &a, out, sizeof(out), NULL, &why),
		 -1);
	CHECK(why && strcmp(why, "no usable audio m= line") == 0);
	free(sdp);
}

/* The answer to the offer on stdin, for gw_sdp_peers.py. */
static int
answer_main(const char *slots)
{
	static char in[GW_SDP_HARD_MAX];
	size_t len = fread(in, 1, sizeof(in), stdin);
	struct gw_answer_params a = params((unsigned)atoi(slots));
	struct gw_answer_info info;
	const char *why;
	int n;

	/* loopback candidates: setRemoteDescription does not connect */
	uint32_t lo = htonl(0x7f000001);
	sotto_addr_v4(&cands[0], lo, 40000);
	if (gw_sdp_parse_offer(in, len, &offer, &why) < 0) {
		fprintf(stderr, "offer refused: %s\n", why);
		return 1;
	}
	n = gw_sdp_build_answer(&offer, &a, out, sizeof(out), &info, &why);
	if (n < 0) {
		fprintf(stderr, "answer refused: %s\n", why);
		return 1;
	}
	fwrite(out, 1, (size_t)n, stdout);
	fprintf(stderr, "slots %u, browser sends on m-line %d\n", info.n_slots,
		info.send_m);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--answer") == 0)
		return answer_main(argv[2]);
	test_chromium_gateway();
	test_aiortc_gateway();
	test_chromium_relay_fixtures();
	test_ssrcs();
	test_neg_fixtures();
	test_refusals();
	test_prefixes();
	test_params();
	return check_done("gw_sdp");
}
