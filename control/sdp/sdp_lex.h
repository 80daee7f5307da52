/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SDP_LEX_H
#define SOTTO_SDP_LEX_H

/*
 * SDP lexing (RFC 8866) shared by the gateway's offer parser
 * (control/gateway/gw_sdp.c) and the SDP policy (signaling/sdp_policy.c): spans
 * of the input, character classes, fields and lines. Nothing here
 * allocates or decides; the callers own what is accepted and why.
 * Private to those two files: the names are short and unprefixed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RFC 7230 tchar: what attribute names, mids and group tokens are made of */
#define TCHARS "!#$%&'*+-.^_`{|}~"

struct span {
	const char *p;
	size_t n;
};

static inline int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline bool
span_eq(struct span a, const char *lit)
{
	size_t n = strlen(lit);

	return a.n == n && memcmp(a.p, lit, n) == 0;
}

static inline bool
span_ieq_span(struct span a, struct span b)
{
	if (a.n != b.n)
		return false;
	for (size_t i = 0; i < a.n; i++)
		if (lower((unsigned char)a.p[i]) !=
		    lower((unsigned char)b.p[i]))
			return false;
	return true;
}

static inline bool
span_ieq(struct span a, const char *lit)
{
	return span_ieq_span(a, (struct span){ lit, strlen(lit) });
}

static inline bool
span_same(struct span a, struct span b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alnum(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 to max_digits decimal digits, value at most max. */
static inline bool
parse_uint(struct span s, size_t max_digits, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (s.n == 0 || s.n > max_digits)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit((unsigned char)s.p[i]))
			return false;
		x = x * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (x > max)
		return false;
	if (v)
		*v = x;
	return true;
}

/* Fields are separated by exactly one SP (RFC 8866 §9). */
struct toks {
	const char *p;
	const char *end;
	bool bad;
};

static inline struct toks
toks_init(struct span s)
{
	return (struct toks){ s.p, s.p + s.n, false };
}

/* Next field; false when there is none. An empty field (leading,
 * trailing or doubled SP, or an empty value) sets bad. */
static inline bool
tok_next(struct toks *t, struct span *f)
{
	if (t->p == NULL)
		return false;
	const char *sp = memchr(t->p, ' ', (size_t)(t->end - t->p));
	const char *e = sp ? sp : t->end;

	f->p = t->p;
	f->n = (size_t)(e - t->p);
	if (f->n == 0)
		t->bad = true;
	t->p = sp ? sp + 1 : NULL;
	return true;
}

/* The rest of the fields, from the current one on. */
static inline struct span
tok_rest(const struct toks *t)
{
	if (t->p == NULL)
		return (struct span){ t->end, 0 };
	return (struct span){ t->p, (size_t)(t->end - t->p) };
}

/* 1 to max characters, each alphanumeric or in extra. */
static inline bool
tok_chars(struct span s, const char *extra, size_t max)
{
	if (s.n == 0 || s.n > max)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		int c = (unsigned char)s.p[i];
		/* strchr finds the terminating NUL too */
		if (c == 0 || (!is_alnum(c) && !strchr(extra, c)))
			return false;
	}
	return true;
}

/* Payload type sets: two 64-bit words, 0 to 127. */
static inline bool
pt_test(const uint64_t *set, unsigned pt)
{
	return set[pt >> 6] & (UINT64_C(1) << (pt & 63));
}

static inline void
pt_set(uint64_t *set, unsigned pt)
{
	set[pt >> 6] |= UINT64_C(1) << (pt & 63);
}

/* RFC 8866 §9: the whole description is text lines ending in CRLF (LF
 * tolerated); no other control characters than TAB. NULL if so, else
 * why not. */
static inline const char *
sdp_scan_bytes(const char *sdp, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)sdp[i];
		if (c == '\0')
			return "SDP contains a NUL byte";
		if (c == '\r' && (i + 1 == len || sdp[i + 1] != '\n'))
			return "CR not followed by LF";
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
		    c == 0x7f)
			return "SDP contains a control character";
	}
	/* a truncated SDP usually ends mid-line */
	if (sdp[len - 1] != '\n')
		return "SDP does not end with a line break";
	return NULL;
}

struct sdp_line {
	char type;                 /* 0 unless the line starts "x=" */
	size_t n;                  /* without CRLF */
	struct span v;             /* after "x=" */
};

/* Lines of a buffer already checked by sdp_scan_bytes. */
static inline bool
line_next(const char *sdp, size_t len, size_t *pos, struct sdp_line *l)
{
	if (*pos >= len)
		return false;
	const char *s = sdp + *pos;
	const char *lf = memchr(s, '\n', len - *pos);
	size_t n = (size_t)(lf - s);

	*pos += n + 1;
	if (n && s[n - 1] == '\r')
		n--;
	l->n = n;
	l->type = n >= 2 && s[1] == '=' ? s[0] : 0;
	l->v.p = s + 2;
	l->v.n = n >= 2 ? n - 2 : 0;
	return true;
}

/* Splits "name[:value]". */
static inline void
attr_split(struct span v, struct span *name, struct span *val)
{
	const char *colon = memchr(v.p, ':', v.n);

	name->p = v.p;
	name->n = colon ? (size_t)(colon - v.p) : v.n;
	val->p = colon ? colon + 1 : v.p + v.n;
	val->n = colon ? v.n - name->n - 1 : 0;
}

/* "<pt> <rest>" of a=rtpmap, a=fmtp, a=rtcp-fb; with wildcard, "*" (any
 * payload type, RFC 4585 §4.2) gives 128. */
static inline bool
pt_attr(struct span v, bool wildcard, unsigned *pt, struct span *rest)
{
	const char *sp = memchr(v.p, ' ', v.n);
	struct span f = { v.p, sp ? (size_t)(sp - v.p) : v.n };
	uint64_t x;

	rest->p = sp ? sp + 1 : v.p + v.n;
	rest->n = sp ? v.n - f.n - 1 : 0;
	if (wildcard && span_eq(f, "*")) {
		*pt = 128;
		return true;
	}
	if (!parse_uint(f, 3, 127, &x))
		return false;
	*pt = (unsigned)x;
	return true;
}

/* RFC 8866 §6.6 a=rtpmap value: <pt> <encoding>/<clock>[/<params>].
 * params.p is NULL when there are no params; false if malformed. */
static inline bool
rtpmap_split(struct span v, unsigned *pt, struct span *name,
	     struct span *clock, struct span *params)
{
	struct span rest;

	*params = (struct span){ NULL, 0 };
	if (!pt_attr(v, false, pt, &rest) || memchr(rest.p, ' ', rest.n))
		return false;
	const char *slash = memchr(rest.p, '/', rest.n);
	if (!slash)
		return false;
	*name = (struct span){ rest.p, (size_t)(slash - rest.p) };
	clock->p = slash + 1;
	clock->n = rest.n - name->n - 1;
	slash = memchr(clock->p, '/', clock->n);
	if (slash) {
		params->p = slash + 1;
		params->n = (size_t)(clock->p + clock->n - params->p);
		clock->n = (size_t)(slash - clock->p);
	}
	return tok_chars(*name, "-_.+", 64) &&
	       parse_uint(*clock, 10, UINT32_MAX, NULL) &&
	       (!slash || parse_uint(*params, 3, 255, NULL));
}

/* The fields of an m= line. */
struct sdp_mline {
	struct span media;
	struct span port_tok;      /* <port>[/<number of ports>] */
	struct span proto;
	struct span fmts;          /* the format list, as on the line */
	unsigned port;
	bool rtp;                  /* an RTP profile: fmts are payload types */
};

/* RFC 8866 §5.14 m=<media> <port>[/<number of ports>] <proto> <fmt> ...,
 * with proto at most proto_max characters. The payload types of an RTP
 * profile are added to listed. NULL, or why the line is refused. */
static inline const char *
sdp_mline_split(struct span v, size_t proto_max, struct sdp_mline *m,
		uint64_t *listed)
{
	struct toks t = toks_init(v);
	struct span f, port, n;
	uint64_t x;

	if (!tok_next(&t, &m->media) || !tok_next(&t, &m->port_tok) ||
	    !tok_next(&t, &m->proto) || t.p == NULL)
		return "malformed m= line";
	m->fmts = tok_rest(&t);
	if (!tok_chars(m->media, "-_", 32) ||
	    !tok_chars(m->proto, "/-_.", proto_max))
		return "malformed m= line";
	port = m->port_tok;
	const char *slash = memchr(port.p, '/', port.n);
	if (slash) {
		port.n = (size_t)(slash - port.p);
		n.p = slash + 1;
		n.n = m->port_tok.n - port.n - 1;
		if (!parse_uint(n, 5, 65535, NULL))
			return "malformed m= line";
	}
	if (!parse_uint(port, 5, 65535, &x))
		return "malformed m= line";
	m->port = (unsigned)x;
	/* RTP profiles (RTP/AVP, UDP/TLS/RTP/SAVPF, ...) list payload
	 * types */
	m->rtp = false;
	for (size_t i = 0; i + 4 <= m->proto.n; i++)
		if (memcmp(m->proto.p + i, "RTP/", 4) == 0)
			m->rtp = true;
	while (tok_next(&t, &f)) {
		if (!m->rtp) {
			if (!tok_chars(f, "-_.", 64))
				return "malformed m= line";
			continue;
		}
		if (!parse_uint(f, 3, 127, &x))
			return "malformed m= line";
		if (pt_test(listed, (unsigned)x))
			return "duplicate payload type on m= line";
		pt_set(listed, (unsigned)x);
	}
	if (t.bad)
		return "malformed m= line";
	return NULL;
}

#endif
