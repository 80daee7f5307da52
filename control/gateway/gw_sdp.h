/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_GW_SDP_H
#define SOTTO_GW_SDP_H

/*
 * SDP for gateway mode: sotto is each browser's only peer. The browser
 * offers; sotto, an ICE-lite agent (RFC 8445 §2.5) and the DTLS server
 * (a=setup:passive, RFC 8842 §5.3), answers with Opus audio only. Pure C,
 * no allocation.
 *
 * The offer parser keeps what the answer and the gateway need and refuses
 * what sotto cannot serve: no usable Opus audio section, no sha-256
 * fingerprint, SDES keys, a=setup other than actpass/active, an ICE-lite
 * offerer, several usable sections not in one BUNDLE group. The offer's
 * candidates are not read: an ICE-lite agent learns the browser's address
 * from its connectivity checks.
 *
 * In the answer every usable audio section is accepted and bundled; the
 * sections that receive (offered sendrecv or recvonly) get the listener's
 * slots in order, each slot one SSRC sotto sends with. Everything else
 * (video, data, audio without Opus) is rejected with port 0 (RFC 3264 §6).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define GW_SDP_MAX_M 16     /* m= sections in one offer */
#define GW_SDP_MAX_SSRC 8   /* a=ssrc ids kept per section */
#define GW_SDP_MAX_SLOTS 8  /* slots one answer can carry */

/* Input larger than this is refused whatever the caller's cap. */
#define GW_SDP_HARD_MAX (1u << 20)

/* as the offerer says (RFC 8866 §6.7; sendrecv when none) */
enum gw_dir {
	GW_DIR_INACTIVE,
	GW_DIR_SENDONLY,
	GW_DIR_RECVONLY,
	GW_DIR_SENDRECV,
};

struct gw_offer_m {
	char mid[33];        /* "" when the section has none */
	bool audio;          /* m=audio with UDP/TLS/RTP/SAVPF */
	bool usable;         /* audio with Opus, in use: gets accepted */
	enum gw_dir dir;
	uint8_t opus_pt;     /* opus/48000/2 payload type */
	char opus_fmtp[128]; /* the offer's fmtp params for it ("" none) */
	uint8_t level_id;    /* extmap id of ssrc-audio-level (1..14), 0 none */
	uint32_t ssrcs[GW_SDP_MAX_SSRC]; /* a=ssrc and a=ssrc-group ids */
	unsigned n_ssrcs;
	char type_line[64];  /* "audio"/"video"/"application" */
	char proto[40];
	char fmts[128];      /* the format list, whole tokens ("" none) */
};

struct gw_offer {
	/* of the BUNDLE-tagged usable section (media or session level):
	 * aiortc 1.4 gives every section its own credentials in an initial
	 * offer and uses the tagged section's once the answer bundles */
	char ice_ufrag[257], ice_pwd[257];
	uint8_t fingerprint[32];   /* sha-256, required; all agree */
	bool setup_active;         /* a=setup:active; else actpass */
	bool bundle;               /* a=group:BUNDLE covering the usable ones */
	unsigned n_m;
	struct gw_offer_m m[GW_SDP_MAX_M];
	/* indices of the usable sections in BUNDLE group order (m= order
	 * when not bundled): order[0] is the tagged one */
	unsigned n_usable;
	uint8_t order[GW_SDP_MAX_M];
};

/* 0, or -1 with *reason a short static string (for the client's error
 * message). sdp need not be NUL-terminated; lines end in CRLF or LF. */
int gw_sdp_parse_offer(const char *sdp, size_t len, struct gw_offer *o,
		       const char **reason);

struct gw_answer_params {
	const char *ice_ufrag, *ice_pwd;   /* ours: ice-chars, 4+ / 22+ */
	const uint8_t *fingerprint;        /* sha-256 of our certificate */
	const struct sotto_addr *cands;    /* gateway media addresses */
	unsigned n_cands;                  /* 1.. ; the first is the default */
	unsigned n_slots;                  /* most slots to offer (<= 8) */
	const uint32_t *slot_ssrcs;        /* n_slots SSRCs */
	const char *cname;                 /* e.g. "sotto" */
	uint64_t session_id;               /* o= line */
};

struct gw_answer_info {
	unsigned n_slots;          /* slots negotiated (sections that receive) */
	uint8_t slot_m[GW_SDP_MAX_SLOTS]; /* the section index of each slot */
	uint8_t slot_pt[GW_SDP_MAX_SLOTS], slot_level_id[GW_SDP_MAX_SLOTS];
	/* the first accepted section the browser sends on (sendrecv or
	 * sendonly offered), -1 none; n_send how many such sections */
	int send_m;
	unsigned n_send;
	uint8_t send_pt;           /* PT and level id the browser sends with */
	uint8_t level_id;
	uint32_t ssrcs[GW_SDP_MAX_SSRC]; /* the browser's: sending sections first,
					    then receive-only ones (RTCP) */
	unsigned n_ssrcs;
};

/* Writes the answer into out (NUL-terminated): its length, or -1 with
 * *reason set if it does not fit in cap, the offer has nothing usable or
 * the params are bad. On failure out holds nothing useful. */
int gw_sdp_build_answer(const struct gw_offer *o,
			const struct gw_answer_params *a, char *out, size_t cap,
			struct gw_answer_info *info, const char **reason);

#endif
