/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway-mode SDP: the browser's offer in, sotto's answer out. The parser
 * reads the offer once, line by line, keeping per level (session, each
 * m= section) what the answer needs; a section's own faults only matter if
 * the section is accepted, so they are kept and reported at its end. The
 * transport attributes are then taken from the BUNDLE-tagged section
 * (RFC 8843 §7.3.1), the one whose ICE and DTLS transport a bundling
 * offerer keeps.
 */
#include "gw_sdp.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dtls.h"
#include "sdp_lex.h"

static bool
cstr_chars(const char *s, const char *extra, size_t min, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	return n >= min && tok_chars((struct span){ s, n }, extra, max);
}

/* Copies s into dst (cap bytes with the NUL); false if it does not fit. */
static bool
span_copy(char *dst, size_t cap, struct span s)
{
	if (s.n >= cap)
		return false;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return true;
}

/* RFC 8839 §5.4 ice-char */
#define ICE_CHARS "+/"

#define LEVEL_URI "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define MAX_BUNDLE 4

/* ---- the offer ---- */

enum setup {
	SETUP_NONE,
	SETUP_ACTPASS,
	SETUP_ACTIVE,
};

/* What one level (the session, or an m= section) says about transport. */
struct level {
	struct span ufrag, pwd;  /* p NULL when absent */
	unsigned n_fp, n_fp256;
	uint8_t fp[DTLS_FP_LEN]; /* the sha-256 one */
	enum setup setup;
	int dir;                 /* enum gw_dir, -1 when absent */
	bool rtcp_mux;
	bool bundle_only;
	bool has_mid;
	struct span mid;
	bool live;               /* port != 0 or bundle-only */
	/* the first fault at this level: refused at once at session level,
	 * for a section only if it is accepted */
	const char *err;
	const char *why;         /* why an audio section is not usable */
};

/* Payload types of the section being read. */
struct pts {
	uint64_t listed[2];
	uint64_t opus[2];
	struct span fmtp[128];
	struct span fmts;
	bool rtp;
};

struct gw_parse {
	struct gw_offer *o;
	struct level sess;
	struct level sec[GW_SDP_MAX_M];
	struct pts cur;
	struct span bundle[MAX_BUNDLE]; /* mid lists of a=group:BUNDLE */
	unsigned n_bundle;
};

/* RFC 8122 §5: hash-func SP 2UHEX *(":" 2UHEX) */
static const char *
attr_fingerprint(struct level *lv, struct span v)
{
	struct toks t = toks_init(v);
	struct span hash, fp, extra;
	uint8_t bytes[DTLS_FP_LEN];
	char buf[3 * DTLS_FP_LEN + 1];

	if (!tok_next(&t, &hash) || !tok_next(&t, &fp) ||
	    tok_next(&t, &extra) || t.bad || !tok_chars(hash, "-_", 32) ||
	    !tok_chars(fp, ":", 3 * 64 - 1))
		return "malformed a=fingerprint";
	lv->n_fp++;
	if (!span_ieq(hash, "sha-256"))
		return NULL;
	if (!span_copy(buf, sizeof(buf), fp) ||
	    dtls_fingerprint_parse(buf, bytes) < 0)
		return "malformed a=fingerprint";
	if (lv->n_fp256++ == 0)
		memcpy(lv->fp, bytes, sizeof(bytes));
	else if (memcmp(lv->fp, bytes, sizeof(bytes)) != 0)
		return "conflicting sha-256 fingerprints";
	return NULL;
}

/* RFC 4145 §4; sotto is always the DTLS server (passive) */
static const char *
attr_setup(struct level *lv, struct span v)
{
	if (lv->setup != SETUP_NONE)
		return "duplicate a=setup";
	if (span_eq(v, "actpass"))
		lv->setup = SETUP_ACTPASS;
	else if (span_eq(v, "active"))
		lv->setup = SETUP_ACTIVE;
	else if (span_eq(v, "passive"))
		return "a=setup:passive not allowed";
	else if (span_eq(v, "holdconn"))
		return "a=setup:holdconn not allowed";
	else
		return "malformed a=setup";
	return NULL;
}

/* RFC 8839 §5.4: ice-ufrag 4*256ice-char, ice-pwd 22*256ice-char */
static const char *
attr_ice(struct span *dst, struct span v, size_t min, const char *bad)
{
	if (dst->p || v.n < min || !tok_chars(v, ICE_CHARS, 256))
		return bad;
	*dst = v;
	return NULL;
}

/* RFC 8866 §6.6 rtpmap: <pt> <encoding>/<clock>[/<channels>] */
static const char *
attr_rtpmap(struct pts *c, struct span v)
{
	struct span name, clock, params;
	unsigned pt;

	if (!rtpmap_split(v, &pt, &name, &clock, &params))
		return "malformed a=rtpmap";
	/* RFC 7587 §7: Opus is always opus/48000/2 */
	if (span_ieq(name, "opus") && span_eq(clock, "48000") && params.p &&
	    span_eq(params, "2"))
		pt_set(c->opus, pt);
	return NULL;
}

/* RFC 8285 §7: extmap:<id>[/<direction>] <URI> [<attributes>] */
static const char *
attr_extmap(struct gw_offer_m *m, struct span v)
{
	struct toks t = toks_init(v);
	struct span id, uri;
	uint64_t x;

	if (!tok_next(&t, &id) || !tok_next(&t, &uri))
		return "malformed a=extmap";
	const char *slash = memchr(id.p, '/', id.n);
	if (slash)
		id.n = (size_t)(slash - id.p);
	if (!parse_uint(id, 3, 255, &x) || x == 0)
		return "malformed a=extmap";
	/* one-byte header ids only (RFC 8285 §4.2): the gateway rewrites
	 * the level in place */
	if (span_eq(uri, LEVEL_URI) && x <= 14 && !m->level_id)
		m->level_id = (uint8_t)x;
	return NULL;
}

static const char *
ssrc_add(struct gw_offer_m *m, struct span f)
{
	uint64_t x;

	if (!parse_uint(f, 10, UINT32_MAX, &x))
		return "malformed a=ssrc";
	for (unsigned i = 0; i < m->n_ssrcs; i++)
		if (m->ssrcs[i] == x)
			return NULL;
	if (m->n_ssrcs == GW_SDP_MAX_SSRC)
		return "too many SSRCs";
	m->ssrcs[m->n_ssrcs++] = (uint32_t)x;
	return NULL;
}

/* RFC 5576 §4.1 ssrc:<id> <attribute>[:<value>], §4.2 ssrc-group:<sem>
 * <id>... */
static const char *
attr_ssrc(struct gw_offer_m *m, struct span v, bool group)
{
	struct toks t = toks_init(v);
	struct span f;
	const char *err;

	if (!tok_next(&t, &f))
		return "malformed a=ssrc";
	if (!group)
		return ssrc_add(m, f);
	if (!tok_chars(f, TCHARS, 32))
		return "malformed a=ssrc-group";
	while (tok_next(&t, &f))
		if ((err = ssrc_add(m, f)) != NULL)
			return err;
	return t.bad ? "malformed a=ssrc-group" : NULL;
}

static const char *
attr_group(struct gw_parse *st, struct span val)
{
	struct toks t = toks_init(val);
	struct span sem, f;

	if (!tok_next(&t, &sem) || !tok_chars(sem, TCHARS, 32))
		return "malformed a=group";
	struct span mids = tok_rest(&t);
	while (tok_next(&t, &f))
		if (!tok_chars(f, TCHARS, 32))
			return "malformed a=group";
	if (t.bad)
		return "malformed a=group";
	if (!span_eq(sem, "BUNDLE"))
		return NULL;
	if (st->n_bundle == MAX_BUNDLE)
		return "too many BUNDLE groups";
	st->bundle[st->n_bundle++] = mids;
	return NULL;
}

static int
dir_of(struct span name)
{
	if (span_eq(name, "sendrecv"))
		return GW_DIR_SENDRECV;
	if (span_eq(name, "sendonly"))
		return GW_DIR_SENDONLY;
	if (span_eq(name, "recvonly"))
		return GW_DIR_RECVONLY;
	if (span_eq(name, "inactive"))
		return GW_DIR_INACTIVE;
	return -1;
}

/* a= lines. lv is the session or the section; m NULL at session level.
 * Returns a reason to refuse the whole offer now. */
static const char *
attr(struct gw_parse *st, struct level *lv, struct gw_offer_m *m,
     struct span v)
{
	struct span name, val, rest;
	const char *err = NULL;
	unsigned pt;
	int d;

	attr_split(v, &name, &val);
	if (!tok_chars(name, TCHARS, 64))
		return "malformed a= line";
	/* RFC 8827 §6.5: DTLS-SRTP only; SDES would hand the media keys to
	 * the signaling path */
	if (span_ieq(name, "crypto"))
		return "SDES keys not allowed";
	/* RFC 8445 §2.5: two lite agents cannot connect; sotto is lite */
	if (span_ieq(name, "ice-lite"))
		return "ICE-lite offer not supported";
	if (span_ieq(name, "mid")) {
		if (!m)
			return "a=mid outside a media section";
		if (lv->has_mid)
			return "duplicate a=mid";
		/* RFC 5888 §4: identification-tag is a token */
		if (!tok_chars(val, TCHARS, 32))
			return "malformed a=mid";
		for (const struct level *o = st->sec; o < lv; o++)
			if (o->has_mid && span_same(o->mid, val))
				return "duplicate a=mid";
		lv->has_mid = true;
		lv->mid = val;
		span_copy(m->mid, sizeof(m->mid), val);
		return NULL;
	}
	if (span_ieq(name, "group"))
		return m ? NULL : attr_group(st, val);
	if ((d = dir_of(name)) >= 0) {
		if (lv->dir >= 0)
			err = "conflicting direction attributes";
		else
			lv->dir = d;
	} else if (span_ieq(name, "fingerprint")) {
		err = attr_fingerprint(lv, val);
	} else if (span_ieq(name, "setup")) {
		err = attr_setup(lv, val);
	} else if (span_ieq(name, "ice-ufrag")) {
		err = attr_ice(&lv->ufrag, val, 4, "malformed a=ice-ufrag");
	} else if (span_ieq(name, "ice-pwd")) {
		err = attr_ice(&lv->pwd, val, 22, "malformed a=ice-pwd");
	} else if (span_ieq(name, "rtcp-mux")) {
		lv->rtcp_mux = true;
	} else if (span_ieq(name, "bundle-only")) {
		lv->bundle_only = true;
	} else if (m && m->audio) {
		if (span_ieq(name, "rtpmap")) {
			err = attr_rtpmap(&st->cur, val);
		} else if (span_ieq(name, "fmtp")) {
			if (!pt_attr(val, false, &pt, &rest))
				err = "malformed a=fmtp";
			else if (!st->cur.fmtp[pt].p)
				st->cur.fmtp[pt] = rest;
		} else if (span_ieq(name, "extmap")) {
			err = attr_extmap(m, val);
		} else if (span_ieq(name, "ssrc")) {
			err = attr_ssrc(m, val, false);
		} else if (span_ieq(name, "ssrc-group")) {
			err = attr_ssrc(m, val, true);
		}
	}
	/* anything else (candidates included) is not needed */
	if (!err)
		return NULL;
	if (!m)
		return err;
	if (!lv->err)
		lv->err = err;
	return NULL;
}

/* RFC 8866 §5.14 m=<media> <port>[/<n>] <proto> <fmt> ... */
static const char *
m_line(struct gw_parse *st, struct level *lv, struct gw_offer_m *m,
       struct span v)
{
	struct sdp_mline ml;
	struct pts *c = &st->cur;
	struct toks t;
	struct span f;
	const char *err;

	if ((err = sdp_mline_split(v, 39, &ml, c->listed)) != NULL)
		return err;
	c->fmts = ml.fmts;
	lv->live = ml.port != 0;
	c->rtp = ml.rtp;
	span_copy(m->type_line, sizeof(m->type_line), ml.media);
	span_copy(m->proto, sizeof(m->proto), ml.proto);
	/* the format list for a rejection line, in whole tokens */
	t = toks_init(c->fmts);
	while (tok_next(&t, &f)) {
		size_t at = strlen(m->fmts);
		if (at + (at != 0) + f.n >= sizeof(m->fmts))
			break;
		if (at)
			m->fmts[at++] = ' ';
		span_copy(m->fmts + at, sizeof(m->fmts) - at, f);
	}
	if (!m->fmts[0])
		return "malformed m= line";
	m->audio = span_eq(ml.media, "audio") &&
		   span_eq(ml.proto, "UDP/TLS/RTP/SAVPF");
	if (span_eq(ml.media, "audio") && !m->audio)
		lv->why = "media not protected by DTLS";
	return NULL;
}

/* End of a section: is it usable. */
static const char *
sec_finish(struct gw_parse *st, struct level *lv, struct gw_offer_m *m)
{
	struct pts *c = &st->cur;
	struct toks t = toks_init(c->fmts);
	struct span f;
	uint64_t x = 0;
	bool opus = false;

	/* RFC 8843 §6: a bundle-only section is in use despite port 0 */
	lv->live |= lv->bundle_only;
	m->dir = (enum gw_dir)(lv->dir >= 0	   ? lv->dir
			       : st->sess.dir >= 0 ? st->sess.dir
						   : GW_DIR_SENDRECV);
	if (m->audio) {
		/* the offerer's most preferred Opus payload type */
		while (!opus && tok_next(&t, &f)) {
			parse_uint(f, 3, 127, &x);
			if (pt_test(c->opus, (unsigned)x)) {
				opus = true;
				m->opus_pt = (uint8_t)x;
			}
		}
		if (!opus)
			lv->why = "audio section without Opus";
	}
	m->usable = m->audio && opus && lv->live;
	if (!m->usable)
		return NULL;
	if (lv->err)
		return lv->err;
	if (!lv->has_mid)
		return "missing a=mid";
	if (c->fmtp[m->opus_pt].p &&
	    !span_copy(m->opus_fmtp, sizeof(m->opus_fmtp), c->fmtp[m->opus_pt]))
		return "malformed a=fmtp";
	return NULL;
}

static int
find_mid(const struct gw_parse *st, struct span mid)
{
	for (unsigned i = 0; i < st->o->n_m; i++)
		if (st->sec[i].has_mid && span_same(st->sec[i].mid, mid))
			return (int)i;
	return -1;
}

/* Is every usable section in one BUNDLE group; the usable ones in the
 * group's order (its first is the offerer-tagged one). */
static const char *
bundle_finish(struct gw_parse *st)
{
	struct gw_offer *o = st->o;
	unsigned n_usable = 0;

	for (unsigned i = 0; i < o->n_m; i++)
		n_usable += o->m[i].usable;
	for (unsigned g = 0; g < st->n_bundle; g++) {
		struct toks t = toks_init(st->bundle[g]);
		struct span f;
		unsigned n = 0;
		int i;

		while (tok_next(&t, &f)) {
			i = find_mid(st, f);
			if (i >= 0 && o->m[i].usable && n < GW_SDP_MAX_M) {
				/* a mid listed twice counts once */
				bool dup = false;
				for (unsigned k = 0; k < n; k++)
					dup |= o->order[k] == i;
				if (!dup)
					o->order[n++] = (uint8_t)i;
			}
		}
		if (n == n_usable) {
			o->bundle = true;
			o->n_usable = n;
			return NULL;
		}
		if (n)
			break;
	}
	/* RFC 8843: without BUNDLE each section would need its own
	 * transport; sotto gives one per participant */
	if (n_usable > 1)
		return "usable m= lines not in one BUNDLE group";
	for (unsigned i = 0; i < o->n_m; i++)
		if (o->m[i].usable)
			o->order[o->n_usable++] = (uint8_t)i;
	return NULL;
}

/* A section's own value, else the session's, else (bundled) the tag's. */
static const struct level *
fp_level(const struct gw_parse *st, const struct level *lv,
	 const struct level *tag)
{
	if (lv->n_fp)
		return lv;
	if (st->sess.n_fp)
		return &st->sess;
	return tag;
}

static const char *
transport_finish(struct gw_parse *st)
{
	struct gw_offer *o = st->o;
	const struct level *tag = &st->sec[o->order[0]];
	const struct level *fp = fp_level(st, tag, tag);
	struct span ufrag = tag->ufrag.p ? tag->ufrag : st->sess.ufrag;
	struct span pwd = tag->pwd.p ? tag->pwd : st->sess.pwd;
	enum setup setup = tag->setup ? tag->setup : st->sess.setup;

	/* RFC 8842 §5: the certificate and the role, RFC 8839 §5.4: the
	 * credentials the browser's checks must carry */
	if (!fp->n_fp)
		return "missing a=fingerprint";
	if (!fp->n_fp256)
		return "no sha-256 a=fingerprint";
	for (unsigned k = 1; k < o->n_usable; k++) {
		const struct level *f = fp_level(st, &st->sec[o->order[k]], fp);
		if (!f->n_fp256)
			return "no sha-256 a=fingerprint";
		if (memcmp(f->fp, fp->fp, DTLS_FP_LEN) != 0)
			return "conflicting sha-256 fingerprints";
	}
	if (st->sess.n_fp256 && memcmp(st->sess.fp, fp->fp, DTLS_FP_LEN) != 0)
		return "conflicting sha-256 fingerprints";
	memcpy(o->fingerprint, fp->fp, DTLS_FP_LEN);
	if (setup == SETUP_NONE)
		return "missing a=setup";
	o->setup_active = setup == SETUP_ACTIVE;
	if (!ufrag.p)
		return "missing a=ice-ufrag";
	if (!pwd.p)
		return "missing a=ice-pwd";
	span_copy(o->ice_ufrag, sizeof(o->ice_ufrag), ufrag);
	span_copy(o->ice_pwd, sizeof(o->ice_pwd), pwd);
	/* RFC 8843 §9.3: rtcp-mux is what a bundled transport does; the
	 * gateway has no RTCP port */
	if (!tag->rtcp_mux && !st->sess.rtcp_mux)
		return "missing a=rtcp-mux";
	return NULL;
}

static const char *
offer_scan(struct gw_parse *st, const char *sdp, size_t len)
{
	struct gw_offer *o = st->o;
	struct level *lv = &st->sess;
	struct gw_offer_m *m = NULL;
	struct sdp_line l;
	unsigned lineno = 0, n_usable = 0;
	size_t pos = 0;
	const char *err;
	const char *why = NULL;

	while (line_next(sdp, len, &pos, &l)) {
		if (++lineno == 1) {
			if (l.type != 'v' || !span_eq(l.v, "0"))
				return "SDP does not start with v=0";
			continue;
		}
		if (l.type < 'a' || l.type > 'z')
			return l.n == 0 ? "empty line" : "malformed line";
		switch (l.type) {
		case 'v':
			return "unexpected v= line";
		case 'k':
			/* RFC 8866 §5.12: obsolete, and a key in the clear */
			return "k= keys not allowed";
		case 'm':
			if (m && (err = sec_finish(st, lv, m)) != NULL)
				return err;
			if (o->n_m == GW_SDP_MAX_M)
				return "too many m= lines";
			lv = &st->sec[o->n_m];
			m = &o->m[o->n_m++];
			memset(&st->cur, 0, sizeof(st->cur));
			lv->dir = -1;
			if ((err = m_line(st, lv, m, l.v)) != NULL)
				return err;
			continue;
		case 'a':
			if ((err = attr(st, lv, m, l.v)) != NULL)
				return err;
			continue;
		case 's':
		case 't':
		case 'u':
		case 'e':
		case 'p':
		case 'r':
		case 'z':
			if (m)
				return "line not allowed in a media section";
			continue;
		default:
			/* o=, c=, i=, b=, and letters sotto does not need */
			continue;
		}
	}
	if (m && (err = sec_finish(st, lv, m)) != NULL)
		return err;
	for (unsigned i = 0; i < o->n_m; i++) {
		n_usable += o->m[i].usable;
		if (!why && st->sec[i].live)
			why = st->sec[i].why;
	}
	/* the first audio section's fault says more than "nothing usable" */
	if (!n_usable)
		return why ? why : "no usable audio m= line";
	if ((err = bundle_finish(st)) != NULL)
		return err;
	return transport_finish(st);
}

int
gw_sdp_parse_offer(const char *sdp, size_t len, struct gw_offer *o,
		   const char **reason)
{
	struct gw_parse st;
	const char *err;

	memset(&st, 0, sizeof(st));
	memset(o, 0, sizeof(*o));
	st.o = o;
	st.sess.dir = -1;
	if (len == 0)
		err = "empty SDP";
	else if (len > GW_SDP_HARD_MAX)
		err = "SDP too large";
	else if ((err = sdp_scan_bytes(sdp, len)) == NULL)
		err = offer_scan(&st, sdp, len);
	if (reason)
		*reason = err;
	if (!err)
		return 0;
	memset(o, 0, sizeof(*o));
	return -1;
}

/* ---- the answer ---- */

struct out {
	char *p;
	size_t cap;
	size_t n;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void
out_fmt(struct out *w, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->full)
		return;
	va_start(ap, fmt);
	k = vsnprintf(w->p + w->n, w->cap - w->n, fmt, ap);
	va_end(ap);
	/* the NUL must fit too */
	if (k < 0 || (size_t)k >= w->cap - w->n) {
		w->full = true;
		return;
	}
	w->n += (size_t)k;
}

static const char *const dir_name[] = {
	[GW_DIR_INACTIVE] = "inactive",
	[GW_DIR_SENDONLY] = "sendonly",
	[GW_DIR_RECVONLY] = "recvonly",
	[GW_DIR_SENDRECV] = "sendrecv",
};

/* RFC 3264 §6.1: the answer's direction from the offer's and whether
 * sotto sends (a slot) on the section. */
static enum gw_dir
answer_dir(enum gw_dir offer, bool slot)
{
	switch (offer) {
	case GW_DIR_SENDRECV:
		return slot ? GW_DIR_SENDRECV : GW_DIR_RECVONLY;
	case GW_DIR_RECVONLY:
		return slot ? GW_DIR_SENDONLY : GW_DIR_INACTIVE;
	case GW_DIR_SENDONLY:
		return GW_DIR_RECVONLY;
	default:
		return GW_DIR_INACTIVE;
	}
}

static const char *
addr_text(const struct sotto_addr *a, char *buf, size_t cap)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return NULL;
	return inet_ntop(a->family, a->ip, buf, (socklen_t)cap);
}

static const char *
params_check(const struct gw_answer_params *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (!cstr_chars(a->ice_ufrag, ICE_CHARS, 4, 256) ||
	    !cstr_chars(a->ice_pwd, ICE_CHARS, 22, 256))
		return "bad ICE credentials";
	if (!a->fingerprint)
		return "no fingerprint";
	if (!a->cands || !a->n_cands)
		return "no gateway address";
	for (unsigned i = 0; i < a->n_cands; i++)
		if (!a->cands[i].port ||
		    !addr_text(&a->cands[i], ip, sizeof(ip)))
			return "bad gateway address";
	if (a->n_slots > GW_SDP_MAX_SLOTS || (a->n_slots && !a->slot_ssrcs))
		return "bad slots";
	/* RFC 3550 §6.5.1 CNAME, kept to characters that need no care */
	if (!cstr_chars(a->cname, "-_.+/=@", 1, 255))
		return "bad cname";
	return NULL;
}

static void
put_rejected(struct out *w, const struct gw_offer_m *m)
{
	/* RFC 3264 §6, RFC 8843 §7.3.3: port 0, out of the BUNDLE group */
	out_fmt(w, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->type_line,
		m->proto, m->fmts);
	if (m->mid[0])
		out_fmt(w, "a=mid:%s\r\n", m->mid);
}

static void
put_accepted(struct out *w, const struct gw_offer_m *m,
	     const struct gw_answer_params *a, enum gw_dir dir, int slot)
{
	const struct sotto_addr *c0 = &a->cands[0];
	char ip[INET6_ADDRSTRLEN];
	const char *v = c0->family == AF_INET6 ? "IP6" : "IP4";

	addr_text(c0, ip, sizeof(ip));
	out_fmt(w, "m=audio %u UDP/TLS/RTP/SAVPF %u\r\n", c0->port,
		m->opus_pt);
	out_fmt(w, "c=IN %s %s\r\n", v, ip);
	out_fmt(w, "a=rtcp:%u IN %s %s\r\n", c0->port, v, ip);
	for (unsigned i = 0; i < a->n_cands; i++) {
		/* RFC 8445 §5.1.2.1: host type preference 126, the first
		 * address the most preferred, component 1 */
		uint32_t prio = (126u << 24) | ((65535u - i) << 8) | 255u;
		addr_text(&a->cands[i], ip, sizeof(ip));
		out_fmt(w, "a=candidate:%u 1 udp %" PRIu32 " %s %u typ host\r\n",
			i + 1, prio, ip, a->cands[i].port);
	}
	out_fmt(w, "a=end-of-candidates\r\n");
	out_fmt(w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", a->ice_ufrag,
		a->ice_pwd);
	out_fmt(w, "a=fingerprint:sha-256 ");
	for (unsigned i = 0; i < DTLS_FP_LEN; i++)
		out_fmt(w, "%02X%s", a->fingerprint[i],
			i + 1 < DTLS_FP_LEN ? ":" : "\r\n");
	out_fmt(w, "a=setup:passive\r\n");
	out_fmt(w, "a=mid:%s\r\n", m->mid);
	/* only the audio level: the gateway rewrites the other header
	 * fields and demuxes by SSRC, so no mid, transport-cc, abs-send-time */
	if (m->level_id)
		out_fmt(w, "a=extmap:%u " LEVEL_URI "\r\n", m->level_id);
	out_fmt(w, "a=%s\r\n", dir_name[dir]);
	if (slot >= 0)
		out_fmt(w, "a=msid:sotto slot%d\r\n", slot);
	out_fmt(w, "a=rtcp-mux\r\n");
	out_fmt(w, "a=rtpmap:%u opus/48000/2\r\n", m->opus_pt);
	/* mono decoding, as the mixer makes it (no stereo=1) */
	out_fmt(w, "a=fmtp:%u minptime=10;useinbandfec=1\r\n", m->opus_pt);
	if (slot >= 0) {
		out_fmt(w, "a=ssrc:%" PRIu32 " cname:%s\r\n",
			a->slot_ssrcs[slot], a->cname);
		out_fmt(w, "a=ssrc:%" PRIu32 " msid:sotto slot%d\r\n",
			a->slot_ssrcs[slot], slot);
	}
}

static void
info_add_ssrcs(struct gw_answer_info *info, const struct gw_offer_m *m)
{
	for (unsigned i = 0; i < m->n_ssrcs; i++) {
		bool dup = false;
		for (unsigned k = 0; k < info->n_ssrcs; k++)
			dup |= info->ssrcs[k] == m->ssrcs[i];
		if (!dup && info->n_ssrcs < GW_SDP_MAX_SSRC)
			info->ssrcs[info->n_ssrcs++] = m->ssrcs[i];
	}
}

int
gw_sdp_build_answer(const struct gw_offer *o,
		    const struct gw_answer_params *a, char *out, size_t cap,
		    struct gw_answer_info *info, const char **reason)
{
	struct out w = { out, cap, 0, cap == 0 };
	struct gw_answer_info inf;
	int slot_of[GW_SDP_MAX_M];
	const char *err = params_check(a);

	memset(&inf, 0, sizeof(inf));
	inf.send_m = -1;
	if (!err && (!o->n_usable || o->n_usable > GW_SDP_MAX_M ||
		     o->n_m > GW_SDP_MAX_M))
		err = "no usable audio m= line";
	if (err)
		goto fail;
	/* slots to the sections the browser receives on, in m= order */
	for (unsigned i = 0; i < o->n_m; i++) {
		const struct gw_offer_m *m = &o->m[i];
		slot_of[i] = -1;
		if (!m->usable)
			continue;
		if ((m->dir == GW_DIR_SENDRECV || m->dir == GW_DIR_RECVONLY) &&
		    inf.n_slots < a->n_slots) {
			slot_of[i] = (int)inf.n_slots;
			inf.slot_m[inf.n_slots] = (uint8_t)i;
			inf.slot_pt[inf.n_slots] = m->opus_pt;
			inf.slot_level_id[inf.n_slots] = m->level_id;
			inf.n_slots++;
		}
		if (m->dir == GW_DIR_SENDRECV || m->dir == GW_DIR_SENDONLY) {
			if (inf.send_m < 0) {
				inf.send_m = (int)i;
				inf.send_pt = m->opus_pt;
				inf.level_id = m->level_id;
			}
			inf.n_send++;
			info_add_ssrcs(&inf, m);
		}
	}
	/* then the SSRCs of the sections the browser only receives on: it
	 * sends its receiver reports from those (aiortc does) */
	for (unsigned i = 0; i < o->n_m; i++) {
		const struct gw_offer_m *m = &o->m[i];
		if (m->usable && m->dir == GW_DIR_RECVONLY)
			info_add_ssrcs(&inf, m);
	}

	out_fmt(&w, "v=0\r\no=- %" PRIu64 " 2 IN IP4 0.0.0.0\r\n",
		a->session_id);
	out_fmt(&w, "s=-\r\nt=0 0\r\na=ice-lite\r\n");
	if (o->bundle) {
		/* RFC 8843 §7.3: the accepted mids, the tagged one first */
		out_fmt(&w, "a=group:BUNDLE");
		for (unsigned k = 0; k < o->n_usable; k++)
			out_fmt(&w, " %s", o->m[o->order[k]].mid);
		out_fmt(&w, "\r\n");
	}
	if (inf.n_slots)
		out_fmt(&w, "a=msid-semantic: WMS sotto\r\n");
	for (unsigned i = 0; i < o->n_m; i++) {
		const struct gw_offer_m *m = &o->m[i];
		if (!m->usable)
			put_rejected(&w, m);
		else
			put_accepted(&w, m, a, answer_dir(m->dir, slot_of[i] >= 0),
				     slot_of[i]);
	}
	if (w.full) {
		err = "answer does not fit";
		goto fail;
	}
	if (info)
		*info = inf;
	if (reason)
		*reason = NULL;
	return (int)w.n;
fail:
	if (reason)
		*reason = err;
	if (cap)
		out[0] = '\0';
	return -1;
}
