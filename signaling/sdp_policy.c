/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SDP policy (docs/signaling.md, "SDP policy"). Two passes over the
 * input: the first parses and checks everything and decides what each
 * m= section becomes, the second writes the result. Every rejection is
 * decided in the first pass, so a too small output buffer never changes
 * the verdict.
 */
#include "sdp_policy.h"

#include <stdint.h>
#include <string.h>

#include "sdp_lex.h"

/* IPv4, IPv6 or a host name (RFC 8839 §5.1 connection-address; the
 * mDNS names of draft-ietf-mmusic-mdns-ice-candidates are host names). */
static bool
addr_ok(struct span a)
{
	return tok_chars(a, ".:-", 253);
}

static bool
port_ok(struct span s, unsigned *port)
{
	uint64_t v;

	if (!parse_uint(s, 5, 65535, &v))
		return false;
	if (port)
		*port = (unsigned)v;
	return true;
}

/* Addresses that say nothing about the caller. */
static bool
addr_dummy(struct span a)
{
	return span_eq(a, "0.0.0.0") || span_eq(a, "::") ||
	       span_eq(a, "127.0.0.1") || span_eq(a, "::1");
}

/* ---- candidates, RFC 8839 §5.1 ---- */

enum cand_type {
	CAND_HOST,
	CAND_SRFLX,
	CAND_PRFLX,
	CAND_RELAY,
	CAND_OTHER,
};

struct cand {
	enum cand_type type;
	struct span addr;
	unsigned port;
	struct span raddr;   /* the values; p == NULL when absent */
	struct span rport;
};

/* v: the attribute value after "candidate:". 0 or -1. */
static int
cand_parse(struct span v, struct cand *c)
{
	struct toks t = toks_init(v);
	struct span f[8], name, val;
	uint64_t x;

	memset(c, 0, sizeof(*c));
	/* every field is printable ASCII (extension values are VCHAR), so a
	 * candidate reads the same in an SDP and trickled */
	for (size_t i = 0; i < v.n; i++) {
		unsigned char ch = (unsigned char)v.p[i];
		if (ch < 0x20 || ch > 0x7e)
			return -1;
	}
	for (int i = 0; i < 8; i++)
		if (!tok_next(&t, &f[i]))
			return -1;
	if (!tok_chars(f[0], "+/", 32) ||
	    !parse_uint(f[1], 3, 256, &x) || x == 0 ||
	    !tok_chars(f[2], "-_.", 16) ||
	    !parse_uint(f[3], 10, UINT32_MAX, NULL) ||
	    !addr_ok(f[4]) || !port_ok(f[5], &c->port) ||
	    !span_eq(f[6], "typ") || !tok_chars(f[7], "-_", 16))
		return -1;
	c->addr = f[4];
	if (span_eq(f[7], "relay"))
		c->type = CAND_RELAY;
	else if (span_eq(f[7], "host"))
		c->type = CAND_HOST;
	else if (span_eq(f[7], "srflx"))
		c->type = CAND_SRFLX;
	else if (span_eq(f[7], "prflx"))
		c->type = CAND_PRFLX;
	else
		c->type = CAND_OTHER;
	/* rel-addr, rel-port, then name/value extensions; Chromium adds
	 * generation, ufrag, network-id, network-cost, tcptype */
	while (tok_next(&t, &name)) {
		if (!tok_next(&t, &val) || !tok_chars(name, TCHARS, 64))
			return -1;
		if (span_eq(name, "raddr")) {
			if (c->raddr.p || !addr_ok(val))
				return -1;
			c->raddr = val;
		} else if (span_eq(name, "rport")) {
			if (c->rport.p || !port_ok(val, NULL))
				return -1;
			c->rport = val;
		}
	}
	return t.bad ? -1 : 0;
}

/* A relay candidate's related address is the caller's host or
 * server-reflexive address; Chromium, when it hides host addresses
 * behind mDNS names, sends 0.0.0.0 / 0 instead. */
static bool
cand_needs_mask(const struct cand *c)
{
	return (c->raddr.p && !(span_eq(c->raddr, "0.0.0.0") ||
				span_eq(c->raddr, "::"))) ||
	       (c->rport.p && !span_eq(c->rport, "0"));
}

/* ---- output ---- */

struct sdp_out {
	char *p;
	size_t cap;
	size_t n;
	bool full;
};

static void
out_put(struct sdp_out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->n) {
		o->full = true;
		return;
	}
	if (n)
		memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
out_span(struct sdp_out *o, struct span s)
{
	out_put(o, s.p, s.n);
}

static void
out_str(struct sdp_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* Writes the candidate value v (parsed into c) with raddr/rport masked. */
static void
out_cand(struct sdp_out *o, struct span v, const struct cand *c)
{
	const char *at = v.p, *end = v.p + v.n;
	bool v6 = memchr(c->addr.p, ':', c->addr.n) != NULL;
	/* raddr comes first on the line when both are present, but
	 * cand_parse accepts either order */
	struct span first = c->raddr, second = c->rport;
	const char *mfirst = v6 ? "::" : "0.0.0.0", *msecond = "0";

	if (first.p && second.p && second.p < first.p) {
		first = c->rport;
		second = c->raddr;
		mfirst = "0";
		msecond = v6 ? "::" : "0.0.0.0";
	} else if (!first.p) {
		first = c->rport;
		mfirst = "0";
		second.p = NULL;
	}
	if (first.p) {
		out_put(o, at, (size_t)(first.p - at));
		out_str(o, mfirst);
		at = first.p + first.n;
	}
	if (second.p) {
		out_put(o, at, (size_t)(second.p - at));
		out_str(o, msecond);
		at = second.p + second.n;
	}
	out_put(o, at, (size_t)(end - at));
}

/* ---- trickle ---- */

static int
trickle_parse(const char *cand, size_t len, struct span *v, struct cand *c)
{
	struct span s = { cand, len };

	if (s.n >= 2 && s.p[0] == 'a' && s.p[1] == '=') {
		s.p += 2;
		s.n -= 2;
	}
	if (s.n < 10 || !span_ieq((struct span){ s.p, 10 }, "candidate:"))
		return -1;
	v->p = s.p + 10;
	v->n = s.n - 10;
	return cand_parse(*v, c);
}

int
sdp_policy_candidate(const char *cand, size_t len)
{
	struct span v;
	struct cand c;

	/* W3C WebRTC: an RTCIceCandidate with an empty candidate string
	 * marks the end of candidates; it reveals nothing */
	if (len == 0)
		return 1;
	if (trickle_parse(cand, len, &v, &c) < 0)
		return -1;
	return c.type == CAND_RELAY;
}

int
sdp_policy_candidate_rewrite(const char *cand, size_t len, char *out,
			     size_t cap, bool *masked)
{
	struct sdp_out o = { out, cap, 0, false };
	struct span v;
	struct cand c;

	if (masked)
		*masked = false;
	if (len == 0) {
		if (cap < 1)
			return -2;
		out[0] = '\0';
		return 1;
	}
	if (trickle_parse(cand, len, &v, &c) < 0)
		return -1;
	if (c.type != CAND_RELAY)
		return 0;
	out_put(&o, cand, (size_t)(v.p - cand));
	out_cand(&o, v, &c);
	if (o.full || o.n >= cap)
		return -2;
	out[o.n] = '\0';
	if (masked)
		*masked = cand_needs_mask(&c);
	return 1;
}

/* ---- SDP ---- */

enum media_kind {
	MEDIA_AUDIO,
	MEDIA_VIDEO,
	MEDIA_APPLICATION,
	MEDIA_OTHER,
};

/* BUNDLE groups one SDP may have; browsers send one. */
#define SDP_MAX_BUNDLE 8

/* What the first pass learns about the session level or one m= section. */
struct sdp_section {
	enum media_kind kind;
	struct span media;
	struct span port_tok;
	struct span proto;
	struct span fmts;          /* the format list, as on the m= line */
	struct span mid;
	struct span c_addr;        /* media-level c= address, if any */
	unsigned port;
	bool rtp;
	bool has_mid;
	bool has_c;
	bool bundle_only;
	bool live;                 /* port != 0 or bundle-only */
	bool disable;              /* live, and the policy disables it */
	bool kept;                 /* live, and the policy keeps it */
	bool default_relay;        /* c= and port are a relay candidate */
	bool sess_c_relay;         /* the session c= is one of its relays */
	unsigned n_fp;             /* a=fingerprint lines, any hash */
	unsigned n_fp256;
	struct span fp256;         /* the first sha-256 value */
	unsigned n_setup;
	bool has_opus;
	uint64_t pt_listed[2];     /* payload types on the m= line */
	uint64_t pt_keep[2];
	uint64_t pt_mapped[2];     /* a=rtpmap seen */
	/* the first reason this section is refused, should it stay live */
	const char *err;
};

struct sdp_state {
	const struct sdp_policy *pol;
	struct sdp_policy_result *res;
	struct sdp_section sess;
	struct sdp_section sec[SDP_POLICY_MAX_SECTIONS];
	unsigned n_sec;
	bool sess_c;
	struct span sess_c_addr;
	struct span fp;            /* the SDP's sha-256 fingerprint */
	unsigned n_kept;           /* sections in use after the policy */
	struct span bundle[SDP_MAX_BUNDLE]; /* mid lists of a=group:BUNDLE */
	unsigned n_bundle;
};

/* RFC 8122 §5: hash-func SP fingerprint, 2UHEX *(":" 2UHEX). Lower-case
 * hex is accepted (and upper-cased where it is reported). Returns the
 * number of octets, 0 if malformed. */
static unsigned
fp_parse(struct span v, struct span *hash, struct span *fp)
{
	struct toks t = toks_init(v);
	struct span extra;

	if (!tok_next(&t, hash) || !tok_next(&t, fp) || tok_next(&t, &extra) ||
	    t.bad || !tok_chars(*hash, "-_", 32))
		return 0;
	if (fp->n % 3 != 2 || fp->n > 3 * 64 - 1)
		return 0;
	for (size_t i = 0; i < fp->n; i++) {
		int c = (unsigned char)fp->p[i];
		if (i % 3 == 2 ? c != ':' : !is_hex(c))
			return 0;
	}
	return (unsigned)(fp->n + 1) / 3;
}

static const struct {
	const char *name;
	unsigned octets;
} fp_hashes[] = {
	/* RFC 8122 §5, the IANA "Hash Function Textual Names" */
	{ "md2", 16 },
	{ "md5", 16 },
	{ "sha-1", 20 },
	{ "sha-224", 28 },
	{ "sha-256", 32 },
	{ "sha-384", 48 },
	{ "sha-512", 64 },
};

static const char *
check_fingerprint(struct sdp_section *s, struct span v)
{
	struct span hash, fp;
	unsigned octets = fp_parse(v, &hash, &fp);

	if (!octets)
		return "malformed a=fingerprint";
	for (size_t i = 0; i < sizeof(fp_hashes) / sizeof(fp_hashes[0]); i++)
		if (span_ieq(hash, fp_hashes[i].name) &&
		    octets != fp_hashes[i].octets)
			return "malformed a=fingerprint";
	s->n_fp++;
	if (!span_ieq(hash, "sha-256"))
		return NULL;
	if (s->n_fp256++ == 0)
		s->fp256 = fp;
	else if (!span_ieq_span(s->fp256, fp))
		return "conflicting sha-256 fingerprints";
	return NULL;
}

/* RFC 4145 §4 */
static const char *
check_setup(struct sdp_section *s, struct span v)
{
	if (s->n_setup++)
		return "duplicate a=setup";
	if (span_eq(v, "actpass") || span_eq(v, "active") ||
	    span_eq(v, "passive"))
		return NULL;
	if (span_eq(v, "holdconn"))
		return "a=setup:holdconn not allowed";
	return "malformed a=setup";
}

/* RFC 8866 §6.6 rtpmap: <pt> <encoding>/<clock>[/<params>] */
static const char *
check_rtpmap(const struct sdp_policy *pol, struct sdp_section *s,
	     struct span v)
{
	struct span name, clock, params;
	unsigned pt;

	if (!rtpmap_split(v, &pt, &name, &clock, &params))
		return "malformed a=rtpmap";
	if (pt_test(s->pt_mapped, pt))
		return "duplicate a=rtpmap";
	pt_set(s->pt_mapped, pt);
	if (!pt_test(s->pt_listed, pt))
		return NULL;
	/* RFC 7587 §7: Opus is always opus/48000/2 */
	if (span_ieq(name, "opus") && span_eq(clock, "48000") && params.p &&
	    span_eq(params, "2")) {
		pt_set(s->pt_keep, pt);
		s->has_opus = true;
	} else if (pol->allow_dtmf && span_ieq(name, "telephone-event") &&
		   (span_eq(clock, "8000") || span_eq(clock, "48000")) &&
		   (!params.p || span_eq(params, "1"))) {
		/* RFC 4733 events, at the clock rates browsers offer */
		pt_set(s->pt_keep, pt);
	}
	return NULL;
}

static const char *
parse_m_line(struct sdp_section *s, struct span v)
{
	struct sdp_mline ml;
	const char *err;

	if ((err = sdp_mline_split(v, 64, &ml, s->pt_listed)) != NULL)
		return err;
	s->media = ml.media;
	s->port_tok = ml.port_tok;
	s->proto = ml.proto;
	s->fmts = ml.fmts;
	s->port = ml.port;
	s->rtp = ml.rtp;
	if (span_eq(s->media, "audio"))
		s->kind = MEDIA_AUDIO;
	else if (span_eq(s->media, "video"))
		s->kind = MEDIA_VIDEO;
	else if (span_eq(s->media, "application"))
		s->kind = MEDIA_APPLICATION;
	else
		s->kind = MEDIA_OTHER;
	return NULL;
}

static bool
digits_only(struct span s, size_t max)
{
	if (s.n == 0 || s.n > max)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!is_digit((unsigned char)s.p[i]))
			return false;
	return true;
}

/* RFC 8866 §5.2 o=<username> <sess-id> <sess-version> IN <addrtype>
 * <unicast-address>, into f[0] to f[5]. */
static bool
parse_o(struct span v, struct span *f)
{
	struct toks t = toks_init(v);
	struct span extra;

	for (int i = 0; i < 6; i++)
		if (!tok_next(&t, &f[i]))
			return false;
	return !tok_next(&t, &extra) && !t.bad && digits_only(f[1], 20) &&
	       digits_only(f[2], 20) && span_eq(f[3], "IN") &&
	       (span_eq(f[4], "IP4") || span_eq(f[4], "IP6")) && addr_ok(f[5]);
}

/* RFC 8866 §5.7 c=IN <addrtype> <address>; no multicast in WebRTC */
static bool
parse_c(struct span v, struct span *addr)
{
	struct toks t = toks_init(v);
	struct span nt, at, extra;

	return tok_next(&t, &nt) && tok_next(&t, &at) && tok_next(&t, addr) &&
	       !tok_next(&t, &extra) && !t.bad && span_eq(nt, "IN") &&
	       (span_eq(at, "IP4") || span_eq(at, "IP6")) && addr_ok(*addr);
}

/* RFC 3605 §2.1 a=rtcp:<port>[ IN <addrtype> <address>] */
static bool
parse_rtcp(struct span v, unsigned *port, struct span *addr)
{
	struct toks t = toks_init(v);
	struct span p, nt, at, extra;

	addr->p = NULL;
	addr->n = 0;
	if (!tok_next(&t, &p) || !port_ok(p, port))
		return false;
	if (!tok_next(&t, &nt))
		return !t.bad;
	return tok_next(&t, &at) && tok_next(&t, addr) &&
	       !tok_next(&t, &extra) && !t.bad && span_eq(nt, "IN") &&
	       (span_eq(at, "IP4") || span_eq(at, "IP6")) && addr_ok(*addr);
}

static bool
rtcp_needs_mask(unsigned port, struct span addr)
{
	return port != 9 || (addr.p && !addr_dummy(addr));
}

static bool
proto_srtp(struct span p)
{
	/* RFC 5764 §8, RFC 7850 §3 */
	return span_eq(p, "UDP/TLS/RTP/SAVPF") ||
	       span_eq(p, "UDP/TLS/RTP/SAVP") ||
	       span_eq(p, "TCP/DTLS/RTP/SAVPF") ||
	       span_eq(p, "TCP/DTLS/RTP/SAVP");
}

static bool
proto_sctp(struct span p)
{
	/* RFC 8841 §4.1; DTLS/SCTP is the draft name older browsers send */
	return span_eq(p, "UDP/DTLS/SCTP") || span_eq(p, "TCP/DTLS/SCTP") ||
	       span_eq(p, "DTLS/SCTP");
}

/* End of the session part: what every section falls back on. */
static const char *
sess_finish(struct sdp_state *st, unsigned n_s, unsigned n_t)
{
	if (n_s == 0)
		return "missing s= line";
	if (n_t == 0)
		return "missing t= line";
	if (st->sess.n_fp256)
		st->fp = st->sess.fp256;
	return NULL;
}

static const char *
sec_finish(struct sdp_state *st, struct sdp_section *s)
{
	const struct sdp_policy *pol = st->pol;

	for (const struct sdp_section *o = st->sec; o < s; o++)
		if (s->has_mid && o->has_mid && span_same(o->mid, s->mid))
			return "duplicate a=mid";
	/* RFC 8843 §6: a bundle-only section is in use despite port 0 */
	s->live = s->port != 0 || s->bundle_only;
	if (!s->live) {
		st->sess.sess_c_relay |= s->sess_c_relay;
		return NULL;
	}
	s->disable = (s->kind == MEDIA_VIDEO && !pol->allow_video) ||
		     (s->kind == MEDIA_APPLICATION && !pol->allow_data) ||
		     s->kind == MEDIA_OTHER;
	if (s->disable) {
		st->res->sections_disabled++;
		return NULL;
	}
	if (s->err)
		return s->err;
	st->sess.sess_c_relay |= s->sess_c_relay;
	if (s->kind == MEDIA_APPLICATION ? !proto_sctp(s->proto)
					 : !proto_srtp(s->proto))
		return "media not protected by DTLS";
	s->kept = true;
	if (s->kind == MEDIA_AUDIO) {
		if (!s->has_opus)
			return "audio section without Opus";
		for (unsigned pt = 0; pt < 128; pt++)
			if (pt_test(s->pt_listed, pt) &&
			    !pt_test(s->pt_keep, pt))
				st->res->codecs_removed++;
	}
	return NULL;
}

static const struct sdp_section *
find_mid(const struct sdp_state *st, struct span mid)
{
	for (unsigned i = 0; i < st->n_sec; i++)
		if (st->sec[i].has_mid && span_same(st->sec[i].mid, mid))
			return &st->sec[i];
	return NULL;
}

/* RFC 8843 §7.2 and §7.3: a section in a BUNDLE group may leave its
 * transport attributes (fingerprint, setup) to the group's tagged section,
 * the first one still in use once the policy is done. */
static const struct sdp_section *
bundle_tag(const struct sdp_state *st, const struct sdp_section *s)
{
	for (unsigned g = 0; s->has_mid && g < st->n_bundle; g++) {
		struct toks t = toks_init(st->bundle[g]);
		const struct sdp_section *tag = NULL, *o;
		bool member = false;
		struct span f;

		while (tok_next(&t, &f)) {
			o = find_mid(st, f);
			if (!tag && o && o->kept)
				tag = o;
			member |= span_same(f, s->mid);
		}
		if (member)
			return tag;
	}
	return NULL;
}

/* Once every section is known: each one in use must name the DTLS
 * certificate and role (RFC 8842 §5), and there is one certificate. */
static const char *
transport_finish(struct sdp_state *st)
{
	for (unsigned i = 0; i < st->n_sec; i++) {
		const struct sdp_section *s = &st->sec[i];
		if (!s->kept)
			continue;
		const struct sdp_section *tag = bundle_tag(st, s);
		/* RFC 8122 §5: media-level fingerprints replace
		 * session-level ones */
		const struct sdp_section *fp = s->n_fp ? s
					       : tag && tag->n_fp ? tag
					       : &st->sess;
		if (!fp->n_fp)
			return "missing a=fingerprint";
		if (!fp->n_fp256)
			return "no sha-256 a=fingerprint";
		if (!st->fp.p)
			st->fp = fp->fp256;
		else if (!span_ieq_span(st->fp, fp->fp256))
			return "conflicting sha-256 fingerprints";
		if (!s->n_setup && !(tag && tag->n_setup) && !st->sess.n_setup)
			return "missing a=setup";
		st->n_kept++;
	}
	return NULL;
}

/* a= lines, first pass. s is NULL at session level. */
static const char *
scan_attr(struct sdp_state *st, struct sdp_section *s, struct span v)
{
	struct sdp_section *lvl = s ? s : &st->sess;
	struct span name, val;
	const char *err = NULL;
	struct cand c;
	unsigned pt;
	struct span rest, addr;

	attr_split(v, &name, &val);
	if (!tok_chars(name, TCHARS, 64))
		return "malformed a= line";
	/* RFC 8827 §6.5: WebRTC keys media with DTLS-SRTP only; SDES keys
	 * would hand the media keys to the signaling server */
	if (span_ieq(name, "crypto"))
		return "SDES keys not allowed";
	if (span_ieq(name, "candidate")) {
		if (cand_parse(val, &c) < 0)
			return "malformed a=candidate";
		if (c.type != CAND_RELAY) {
			st->res->candidates_removed++;
			return NULL;
		}
		if (s && c.port == s->port &&
		    ((s->has_c && span_same(c.addr, s->c_addr)) ||
		     (!s->has_c && st->sess_c &&
		      span_same(c.addr, st->sess_c_addr))))
			s->default_relay = true;
		/* a disabled section's candidates do not reach the peer, so
		 * they count once the section is known to stay */
		if (st->sess_c && span_same(c.addr, st->sess_c_addr))
			lvl->sess_c_relay = true;
		return NULL;
	}
	if (span_ieq(name, "rtcp"))
		return parse_rtcp(val, &pt, &addr) ? NULL : "malformed a=rtcp";
	if (span_ieq(name, "mid")) {
		if (!s)
			return "a=mid outside a media section";
		if (s->has_mid)
			return "duplicate a=mid";
		/* RFC 5888 §4: identification-tag is a token */
		if (!tok_chars(val, TCHARS, 32))
			return "malformed a=mid";
		s->has_mid = true;
		s->mid = val;
		return NULL;
	}
	if (span_ieq(name, "group")) {
		struct toks t = toks_init(val);
		struct span sem, f;
		unsigned n = 0;
		if (!tok_next(&t, &sem) || !tok_chars(sem, TCHARS, 32))
			return "malformed a=group";
		while (tok_next(&t, &f))
			if (!tok_chars(f, TCHARS, 32) ||
			    ++n > SDP_POLICY_MAX_SECTIONS)
				return "malformed a=group";
		if (t.bad)
			return "malformed a=group";
		if (s || !span_eq(sem, "BUNDLE"))
			return NULL;
		if (st->n_bundle == SDP_MAX_BUNDLE)
			return "too many BUNDLE groups";
		/* the mids after "BUNDLE " */
		f.p = sem.p + sem.n;
		f.n = val.n - sem.n;
		if (f.n) {
			f.p++;
			f.n--;
		}
		st->bundle[st->n_bundle++] = f;
		return NULL;
	}
	if (span_ieq(name, "bundle-only")) {
		if (s)
			s->bundle_only = true;
		return NULL;
	}
	if (span_ieq(name, "fingerprint"))
		err = check_fingerprint(lvl, val);
	else if (span_ieq(name, "setup"))
		err = check_setup(lvl, val);
	else if (s && s->kind == MEDIA_AUDIO && span_ieq(name, "rtpmap"))
		err = check_rtpmap(st->pol, s, val);
	else if (s && s->kind == MEDIA_AUDIO && span_ieq(name, "fmtp") &&
		 !pt_attr(val, false, &pt, &rest))
		err = "malformed a=fmtp";
	else if (s && s->kind == MEDIA_AUDIO && span_ieq(name, "rtcp-fb") &&
		 !pt_attr(val, true, &pt, &rest))
		err = "malformed a=rtcp-fb";
	if (!err)
		return NULL;
	/* session-level faults concern every section; a section's own only
	 * matter if it stays in use */
	if (!s)
		return err;
	if (!s->err)
		s->err = err;
	return NULL;
}

static const char *
sdp_scan(struct sdp_state *st, const char *sdp, size_t len)
{
	struct sdp_section *s = NULL;
	struct sdp_line l;
	struct span addr, of[6];
	unsigned lineno = 0, n_s = 0, n_t = 0;
	size_t pos = 0;
	const char *err;

	while (line_next(sdp, len, &pos, &l)) {
		lineno++;
		if (l.type < 'a' || l.type > 'z')
			return l.n == 0 ? "empty line" : "malformed line";
		if (lineno == 1) {
			if (l.type != 'v' || !span_eq(l.v, "0"))
				return "SDP does not start with v=0";
			continue;
		}
		if (lineno == 2 && l.type != 'o')
			return "missing o= line";
		switch (l.type) {
		case 'v':
			return "unexpected v= line";
		case 'o':
			if (lineno != 2)
				return "unexpected o= line";
			if (!parse_o(l.v, of))
				return "malformed o= line";
			continue;
		case 'k':
			/* RFC 8866 §5.12: obsolete, and a key in the clear */
			return "k= keys not allowed";
		case 'm':
			if (s) {
				err = sec_finish(st, s);
				if (err)
					return err;
			} else {
				err = sess_finish(st, n_s, n_t);
				if (err)
					return err;
			}
			if (st->n_sec == SDP_POLICY_MAX_SECTIONS)
				return "too many media sections";
			s = &st->sec[st->n_sec++];
			err = parse_m_line(s, l.v);
			if (err)
				return err;
			continue;
		case 'c':
			if (!parse_c(l.v, &addr))
				return "malformed c= line";
			if (s ? s->has_c : st->sess_c)
				return "duplicate c= line";
			if (s) {
				s->has_c = true;
				s->c_addr = addr;
			} else {
				st->sess_c = true;
				st->sess_c_addr = addr;
			}
			continue;
		case 'a':
			err = scan_attr(st, s, l.v);
			if (err)
				return err;
			continue;
		case 'i':
		case 'b':
			continue;
		case 's':
		case 't':
		case 'u':
		case 'e':
		case 'p':
		case 'r':
		case 'z':
			/* RFC 8866 §5: these belong to the session part */
			if (s)
				return "line not allowed in a media section";
			if (l.type == 's' && n_s++)
				return "duplicate s= line";
			if (l.type == 't')
				n_t++;
			continue;
		default:
			/* RFC 8866 §5: a type letter the parser does not know
			 * means the whole description is not understood */
			return "unknown line type";
		}
	}
	if (lineno < 2)
		return "missing o= line";
	err = s ? sec_finish(st, s) : sess_finish(st, n_s, n_t);
	return err ? err : transport_finish(st);
}

/* ---- second pass ---- */

static void
out_line(struct sdp_out *o, const struct sdp_line *l)
{
	out_put(o, l->v.p - 2, l->v.n + 2);
	out_put(o, "\r\n", 2);
}

static void
emit_m(struct sdp_state *st, struct sdp_out *o, const struct sdp_section *s,
       const struct sdp_line *l)
{
	if (s->disable) {
		/* RFC 3264 §6 and RFC 8843 §7.3: a rejected section keeps
		 * its m= line with port 0, c= and its mid, nothing else */
		out_str(o, "m=");
		out_span(o, s->media);
		out_str(o, " 0 ");
		out_span(o, s->proto);
		out_str(o, " ");
		out_span(o, s->fmts);
		out_str(o, "\r\nc=IN IP4 0.0.0.0\r\n");
		if (s->has_mid) {
			out_str(o, "a=mid:");
			out_span(o, s->mid);
			out_str(o, "\r\n");
		}
		return;
	}
	if (!s->live) {
		out_line(o, l);
		return;
	}
	out_str(o, "m=");
	out_span(o, s->media);
	out_str(o, " ");
	if (s->port == 0 || s->port == 9 || s->default_relay) {
		out_span(o, s->port_tok);
	} else {
		/* the default candidate is not a relay one; port 9 and
		 * c=IN IP4 0.0.0.0 are what JSEP (RFC 8829 §5.2.1) writes
		 * before there is any candidate */
		out_str(o, "9");
		st->res->addresses_masked++;
	}
	out_str(o, " ");
	out_span(o, s->proto);
	if (s->kind != MEDIA_AUDIO) {
		out_str(o, " ");
		out_span(o, s->fmts);
	} else {
		struct toks t = toks_init(s->fmts);
		struct span f;
		uint64_t pt = 0;
		while (tok_next(&t, &f)) {
			parse_uint(f, 3, 127, &pt);
			if (!pt_test(s->pt_keep, (unsigned)pt))
				continue;
			out_str(o, " ");
			out_span(o, f);
		}
	}
	out_str(o, "\r\n");
}

/* RFC 8843 §7.3: a rejected section leaves the BUNDLE group. */
static void
emit_group(struct sdp_state *st, struct sdp_out *o, const struct sdp_line *l,
	   struct span val)
{
	struct toks t = toks_init(val);
	struct span sem, f;
	bool any = false;

	if (!tok_next(&t, &sem) || !span_eq(sem, "BUNDLE")) {
		out_line(o, l);
		return;
	}
	struct toks t2 = t;
	while (tok_next(&t2, &f)) {
		bool gone = false;
		for (unsigned i = 0; i < st->n_sec && !gone; i++)
			gone = st->sec[i].disable && st->sec[i].has_mid &&
			       span_same(st->sec[i].mid, f);
		if (gone)
			continue;
		if (!any) {
			out_str(o, "a=group:");
			out_span(o, sem);
		}
		any = true;
		out_str(o, " ");
		out_span(o, f);
	}
	if (any)
		out_str(o, "\r\n");
}

static void
emit_attr(struct sdp_state *st, struct sdp_out *o,
	  const struct sdp_section *s, const struct sdp_line *l)
{
	struct span name, val, rest, addr, hash, fp;
	struct cand c;
	unsigned pt;

	attr_split(l->v, &name, &val);
	if (span_ieq(name, "candidate")) {
		cand_parse(val, &c);
		if (c.type != CAND_RELAY)
			return;
		if (cand_needs_mask(&c))
			st->res->addresses_masked++;
		out_put(o, l->v.p - 2, (size_t)(val.p - l->v.p) + 2);
		out_cand(o, val, &c);
		out_str(o, "\r\n");
		return;
	}
	if (span_ieq(name, "rtcp")) {
		parse_rtcp(val, &pt, &addr);
		if (!rtcp_needs_mask(pt, addr)) {
			out_line(o, l);
			return;
		}
		out_str(o, "a=rtcp:9 IN IP4 0.0.0.0\r\n");
		st->res->addresses_masked++;
		return;
	}
	if (!s && span_ieq(name, "group")) {
		emit_group(st, o, l, val);
		return;
	}
	if (s && !s->live) {
		out_line(o, l);
		return;
	}
	/* only the hash the verification code is made of reaches the peer */
	if (span_ieq(name, "fingerprint")) {
		fp_parse(val, &hash, &fp);
		if (span_ieq(hash, "sha-256"))
			out_line(o, l);
		return;
	}
	if (s && s->kind == MEDIA_AUDIO &&
	    ((span_ieq(name, "rtpmap") && pt_attr(val, false, &pt, &rest)) ||
	     (span_ieq(name, "fmtp") && pt_attr(val, false, &pt, &rest)) ||
	     (span_ieq(name, "rtcp-fb") && pt_attr(val, true, &pt, &rest))) &&
	    pt != 128 && !pt_test(s->pt_keep, pt))
		return;
	out_line(o, l);
}

static void
sdp_emit(struct sdp_state *st, const char *sdp, size_t len, struct sdp_out *o)
{
	const struct sdp_section *s = NULL;
	struct sdp_line l;
	struct span f[6], addr;
	size_t pos = 0;

	while (line_next(sdp, len, &pos, &l)) {
		if (l.type == 'm')
			s = s ? s + 1 : st->sec;
		else if (s && s->disable)
			continue;
		switch (l.type) {
		case 'm':
			emit_m(st, o, s, &l);
			break;
		case 'o':
			parse_o(l.v, f);
			if (addr_dummy(f[5])) {
				out_line(o, &l);
				break;
			}
			out_str(o, "o=");
			out_put(o, f[0].p, (size_t)(f[2].p + f[2].n - f[0].p));
			out_str(o, " IN IP4 127.0.0.1\r\n");
			st->res->addresses_masked++;
			break;
		case 'c':
			parse_c(l.v, &addr);
			if (addr_dummy(addr) ||
			    (s ? s->default_relay : st->sess.sess_c_relay)) {
				out_line(o, &l);
				break;
			}
			out_str(o, "c=IN IP4 0.0.0.0\r\n");
			st->res->addresses_masked++;
			break;
		case 'a':
			emit_attr(st, o, s, &l);
			break;
		default:
			out_line(o, &l);
			break;
		}
	}
}

int
sdp_policy_apply(const struct sdp_policy *p, const char *sdp, size_t len,
		 char *out, size_t cap, struct sdp_policy_result *res)
{
	struct sdp_state st;
	struct sdp_out o = { out, cap, 0, false };

	memset(res, 0, sizeof(*res));
	if (len > p->max_bytes || len > SDP_POLICY_HARD_MAX) {
		res->reason = "SDP too large";
		return -1;
	}
	if (len == 0) {
		res->reason = "empty SDP";
		return -1;
	}
	res->reason = sdp_scan_bytes(sdp, len);
	if (res->reason)
		return -1;
	memset(&st, 0, sizeof(st));
	st.pol = p;
	st.res = res;
	res->reason = sdp_scan(&st, sdp, len);
	if (res->reason)
		return -1;
	/* nothing left to call with: every section was disabled or had
	 * port 0 already */
	if (!st.n_kept) {
		res->reason = "no media section in use";
		return -1;
	}
	sdp_emit(&st, sdp, len, &o);
	if (o.full || o.n >= cap) {
		res->reason = "output buffer too small";
		return -2;
	}
	out[o.n] = '\0';
	for (size_t i = 0; i < st.fp.n; i++) {
		char c = st.fp.p[i];
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		res->fingerprint[i] = c;
	}
	res->fingerprint[st.fp.n] = '\0';
	return (int)o.n;
}
