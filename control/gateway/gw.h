/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_GW_H
#define SOTTO_GW_H

/*
 * Gateway mode, control side (docs/architecture.md, "Gateway mode"): one
 * leg per participant of a gateway room. A leg is made when the
 * participant's offer arrives (gw_offer answers it: ICE-lite, a fresh
 * certificate, a=setup:passive), learns the browser's address from a
 * valid ICE check on a media address once that address has answered the
 * gateway's own check (RFC 7675 consent: nothing but STUN goes to an
 * address before), runs the DTLS handshake, and once the SRTP keys are
 * known installs them in the dataplane (dataplane/gw/dp_gw.h). It ends
 * when the participant leaves, sends a new offer, stops sending valid ICE
 * checks or stops answering the gateway's for gateway.consent_timeout
 * (RFC 7675), or its handshake fails or times out; then its keys are wiped
 * in the control thread (DTLS) and, after an RCU grace period, in the
 * dataplane (SRTP).
 *
 * Control thread only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "metrics.h"

struct dp_ctx;
struct gw;
struct gw_room;

struct sig;       /* signaling/, the layer above */

/* What the gateway tells signaling. */
struct gw_hooks {
	/* A leg ended without signaling asking (consent lost, DTLS failed,
	 * handshake timeout). reason: a short label. */
	void (*leg_ended)(struct sig *sig, const char *room_hex,
			  const char *peer_hex, const char *reason);
	struct sig *sig;
};

/* NULL when cfg has no gateway.listen (gateway mode off) or on error
 * (errno; logged). */
struct gw *gw_new(const struct sotto_config *cfg, struct dp_ctx *dp);
void gw_set_hooks(struct gw *g, const struct gw_hooks *h);
/* Ends every leg (wiping keys) and frees; the dataplane frees its side
 * once workers pass a quiescent state (or at dp_tables_fini). */
void gw_free(struct gw *g);

unsigned gw_slots(const struct gw *g);

/* A room's dataplane side; NULL and errno. */
struct gw_room *gw_room_new(struct gw *g, const char *room_hex);
/* Ends its legs (no leg_ended calls) and frees it. */
void gw_room_free(struct gw *g, struct gw_room *r);

/*
 * The participant peer_hex offered sdp: makes its leg (ending the one it
 * had) and writes the answer into answer (NUL-terminated). Returns the
 * answer's length, or -1 with *reason for the participant.
 */
int gw_offer(struct gw *g, struct gw_room *r, const char *peer_hex,
	     const char *sdp, size_t len, char *answer, size_t cap,
	     const char **reason, uint64_t now_ms);
/* The participant left: its leg ends. */
void gw_leave(struct gw *g, struct gw_room *r, const char *peer_hex);

/* From the dataplane, on a media address: an ICE check or the answer to
 * one of the gateway's own (STUN), or a DTLS record. */
void gw_check(struct gw *g, const uint8_t *p, size_t len,
	      const struct sotto_addr *src, const struct sotto_addr *dst,
	      uint32_t sock, uint64_t now_ms);
void gw_dtls(struct gw *g, const uint8_t *p, size_t len,
	     const struct sotto_addr *src, const struct sotto_addr *dst,
	     uint64_t now_ms);

/* Timers: DTLS retransmission, handshake deadline, the gateway's consent
 * checks (sending, resending, expiry). About every 100 ms. */
void gw_tick(struct gw *g, uint64_t now_ms);

void gw_metrics(const struct gw *g, struct metrics *m);
/* For sottoctl status: rooms, legs, and legs with keys in the dataplane. */
void gw_counts(const struct gw *g, uint64_t *rooms, uint64_t *legs,
	       uint64_t *legs_up);

#endif
