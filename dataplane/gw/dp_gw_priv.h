/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DP_GW_PRIV_H
#define SOTTO_DP_GW_PRIV_H

/*
 * What the two halves of gateway forwarding share: the leg table and its
 * clocks (dp_gw_table.c, control thread) and the per-packet path
 * (dp_gw_fwd.c, workers).
 */
#include <stdint.h>

#include <rte_common.h>

#include "dp.h"
#include "dp_gw.h"
#include "srtp.h"

#define GW_RING_SIZE 1024          /* without a config */
#define GW_FRAME_TICKS 960         /* 20 ms of Opus at 48 kHz */
#define GW_OUT_MAX (DP_BURST * 2)  /* emitted per w->emit call */
#define RTP_SEQ_MOD (1u << 16)
#define RTP_MAX_DROPOUT 3000       /* RFC 3550 A.1 */
#define RTP_MAX_MISORDER 100
#define NTP_UNIX_OFFSET 2208988800ull  /* 1900 → 1970, seconds */

enum { RTCP_SR = 200, RTCP_RR = 201, RTCP_SDES = 202 };

_Static_assert(DP_GW_MAX_LEGS <= 64, "selected legs are a 64-bit mask");
_Static_assert(DP_GW_MAX_SLOTS <= DP_SRTP_MAX_SSRC,
	       "every slot SSRC is a stream of the leg's tx context");
/* an SRTP error -rc maps to DP_DROP_GW_SRTP_MALFORMED + (-rc - 1) */
#define X(name, str) + (DP_DROP_GW_SRTP_##name - DP_DROP_GW_SRTP_MALFORMED == \
			DP_SRTP_ERR_##name - 1)
_Static_assert(0 DP_SRTP_FOREACH_ERR(X) == DP_SRTP_N_ERR - 1,
	       "DP_DROP_GW_SRTP_* and DP_SRTP_FOREACH_ERR differ in order");
#undef X
_Static_assert(DP_DROP_GW_SRTP_CRYPTO - DP_DROP_GW_SRTP_MALFORMED ==
	       DP_SRTP_N_ERR - 2, "one drop counter per SRTP error");

typedef unsigned __int128 gw_u128;

/* A worker's own scratch, in its own cache line. */
struct gw_worker {
	uint64_t rng;                  /* xorshift64 for RTCP intervals */
} __rte_cache_aligned;

struct dp_gw {
	struct rte_hash *by_addr;      /* dp_client_key → dp_gw_leg */
	uint32_t max_legs;
	uint32_t refs;                 /* deferred frees still to run */
	uint16_t n_workers;
	uint32_t rooms[DP_MAX_WORKERS];   /* rooms each worker owns */
	/* time: TSC ticks, 48 kHz ticks and NTP from one base */
	uint64_t hz, tsc0, ntp0;
	uint64_t mult48;               /* 48 kHz ticks per TSC tick, << 48 */
	uint64_t mult_ntp;             /* 2^-32 s per TSC tick, << 32 */
	uint64_t select_ticks, hold_ticks, stale_ticks, rtcp_ticks;
	struct gw_worker wk[DP_MAX_WORKERS];
} __rte_cache_aligned;


#endif
