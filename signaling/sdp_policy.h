/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SDP_POLICY_H
#define SOTTO_SDP_POLICY_H

/*
 * The SDP policy: every offer and answer is rewritten before signaling
 * relays it, so that a call through sotto is relay-only, DTLS-SRTP keyed,
 * Opus audio (docs/signaling.md, "SDP policy"). Pure C, no allocation: the
 * caller provides the output buffer.
 *
 * What the rewrite does, besides rejecting what the policy refuses:
 *  - drops a=candidate lines that are not typ relay, and masks the related
 *    address of relay candidates (raddr 0.0.0.0 rport 0, as Chromium itself
 *    does when it hides host addresses): a relay candidate's raddr is the
 *    caller's own, often public, address;
 *  - masks the other places a host address shows: the o= address, c= and
 *    the m= port when they are not a kept relay candidate (c=IN IP4 0.0.0.0
 *    and port 9, as JSEP writes them before there are candidates, RFC 8829
 *    §5.2.1), and a=rtcp (rtcp-mux is mandatory in WebRTC);
 *  - keeps only the sha-256 a=fingerprint lines, and requires all of them
 *    to be the same certificate, so the fingerprint the browsers check is
 *    the one the verification code is made from;
 *  - filters audio payload types and disables video, data and any other
 *    media (port 0, RFC 3264 §6), taking their mids out of a=group:BUNDLE.
 *
 * A section that already has port 0 (and no a=bundle-only, RFC 8843 §6)
 * passes through as it is, except that its candidates and addresses are
 * treated as above; a=crypto and k= are refused anywhere. A section in a
 * BUNDLE group may take its fingerprint and setup from the group's first
 * section in use (RFC 8843 §7), as bundle-only sections must.
 */
#include <stdbool.h>
#include <stddef.h>

/* Input larger than this is refused whatever max_bytes says, so every
 * length fits the int the functions return. */
#define SDP_POLICY_HARD_MAX (1u << 20)

/* m= sections one SDP may have. */
#define SDP_POLICY_MAX_SECTIONS 64

struct sdp_policy {
	size_t max_bytes;        /* reject SDP larger than this */
	bool allow_dtmf;         /* keep telephone-event payload types */
	bool allow_video;        /* keep m=video, else disable it (port 0) */
	bool allow_data;         /* keep m=application (data channels) */
};

struct sdp_policy_result {
	unsigned candidates_removed;   /* non-relay a=candidate lines dropped */
	unsigned codecs_removed;       /* payload types dropped from m=audio */
	unsigned sections_disabled;    /* m= sections set to port 0 */
	unsigned addresses_masked;     /* o=, c=, m= port, a=rtcp, raddr */
	/* the sha-256 fingerprint, "AB:CD:..." in upper case: the first one
	 * found, and the only one, since they must all agree */
	char fingerprint[100];
	const char *reason;            /* static string when rejected */
};

/*
 * Rewrites sdp (len bytes, need not be NUL-terminated) into out (cap bytes,
 * NUL-terminated on success). Returns the output length, or -1 with
 * res->reason set (rejected), or -2 when out is too small (res->reason set
 * too). Whether an SDP is rejected does not depend on cap. The output can
 * be longer than the input (LF becomes CRLF, masked addresses, a c= line
 * in each disabled section) but never more than 3 * len bytes, so a cap of
 * 3 * max_bytes + 1 never gives -2. On failure out holds nothing useful.
 */
int sdp_policy_apply(const struct sdp_policy *p, const char *sdp, size_t len,
		     char *out, size_t cap, struct sdp_policy_result *res);

/*
 * A trickled candidate attribute value ("candidate:1 1 udp 41885439 1.2.3.4
 * 5000 typ relay raddr ..." with or without a leading "a="), as carried in
 * RTCIceCandidate.candidate. Returns 1 keep (typ relay), 0 drop (host,
 * srflx, prflx or any other type), -1 malformed. Empty string
 * (end-of-candidates) → 1.
 */
int sdp_policy_candidate(const char *cand, size_t len);

/*
 * The same decision, and the candidate to relay when it is kept: cand
 * with its raddr/rport masked, NUL-terminated in out. Returns 1 keep (out
 * set), 0 drop, -1 malformed, -2 out too small. *masked (may be NULL) tells
 * whether raddr/rport were rewritten.
 */
int sdp_policy_candidate_rewrite(const char *cand, size_t len, char *out,
				 size_t cap, bool *masked);

#endif
