/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DP_GW_H
#define SOTTO_DP_GW_H

/*
 * Gateway mode in the dataplane (docs/architecture.md, "Gateway mode"):
 * SRTP from each leg is authenticated and decrypted, the room picks the N
 * loudest speakers from the RFC 6464 audio level, and each listener gets
 * them on its N fixed slots (one outgoing SSRC each), re-encrypted with the
 * listener's keys. Payloads are copied untouched. RTCP is terminated: the
 * gateway sends receiver reports for what it receives and sender reports
 * for each slot.
 *
 * Threading. The control thread builds legs and rooms, publishes them
 * (lock-free hash + RCU, as for TURN allocations) and frees them after a
 * grace period. Everything a packet changes (SRTP replay state, speaker
 * levels, slot sequence numbers) belongs to one worker, the room's owner:
 * a worker that receives a packet for a room it does not own passes it on
 * the owner's gw_ring. So no state has two writers and nothing locks.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "dp.h"
#include "srtp.h"

#define DP_GW_OPUS_HZ 48000     /* RTP clock of Opus (RFC 7587) */

/* Speaker selection (owner worker, at most every DP_GW_SELECT_MS). */
#define DP_GW_SELECT_MS 100
/* A challenger must be this many dB louder (smoothed) than the quietest
 * selected speaker, for DP_GW_HOLD_MS in a row, to take its place. */
#define DP_GW_HYST_DB 6
#define DP_GW_HOLD_MS 400
/* No packet for this long: not a speaker any more. */
#define DP_GW_STALE_MS 1000
/* Each leg gets an RTCP report about every this many ms (RFC 3550 §6.2
 * minimum, randomised by ±50 %). */
#define DP_GW_RTCP_MS 1000
/* What one leg may send, SRTP and SRTCP together, before its packets are
 * dropped (DP_DROP_BANDWIDTH): every packet costs a decrypt and a copy per
 * listener on its room's worker. Opus tops out at 510 kbit/s of payload;
 * the default leaves room for headers at 100 packets/s. The config's
 * gateway.leg_bandwidth replaces it. */
#define DP_GW_LEG_BYTES_PER_S 80000
#define DP_GW_LEG_BURST 16000

struct dp_gw_room;

/* An address a leg sends to; replaced whole when the leg moves (RCU). */
struct dp_gw_addr {
	struct sotto_addr remote;  /* the browser's address (its ICE pair) */
	struct sotto_addr local;   /* the gateway media address it uses */
	uint32_t sock;             /* driver socket slot of local */
};

/* One outgoing stream toward a listener; owner worker only. */
struct dp_gw_slot {
	uint32_t ssrc;             /* fixed for the leg's life (control) */
	int16_t src;               /* room leg index feeding it, -1 none */
	uint32_t src_gen;          /* that leg's gen, so a reused index is
				      not mistaken for it */
	uint32_t src_epoch;        /* the source's rx_epoch synced to */
	bool started;              /* something was sent on it */
	bool resync;               /* next packet re-bases seq and ts */
	uint16_t seq_off;          /* out seq = in seq + seq_off */
	uint32_t ts_off;           /* out ts = in ts + ts_off */
	uint16_t last_seq;         /* last sent */
	uint32_t last_ts;
	uint64_t last_tsc;         /* when last_ts was sent */
	uint32_t packets, octets;  /* for sender reports */
};

/* What the gateway knows of the stream a leg sends (owner worker). */
struct dp_gw_rx_stats {
	uint32_t ssrc;             /* media SSRC seen, 0 before any */
	bool seen;                 /* ssrc is set (0 is a valid SSRC) */
	uint16_t base_seq, max_seq;
	uint32_t bad_seq;          /* RFC 3550 A.1: restart detection */
	uint32_t cycles;           /* seq wraps << 16 */
	uint32_t received;
	uint32_t expected_prior, received_prior;
	uint32_t jitter;           /* RFC 3550 A.8, timestamp units << 4 */
	int64_t transit;
	uint32_t lsr;              /* middle 32 bits of the last SR's NTP */
	uint64_t lsr_tsc;          /* when it arrived, 0 none */
};

struct dp_gw_leg {
	/* ---- set by control before publishing, then read-only ---- */
	struct dp_gw_addr *addr;   /* RCU-published; __atomic acquire */
	struct dp_gw_room *room;
	void *owner;               /* control's leg, opaque here */
	uint32_t gen;              /* unique per leg in the process */
	uint16_t idx;              /* index in room->legs */
	uint8_t n_slots;           /* slots this listener negotiated */
	uint8_t level_id;          /* RFC 6464 extension id, 0 = none */
	uint8_t pt;                /* its Opus payload type */
	struct dp_srtp_ctx *rx;    /* unprotect: the browser's keys */
	struct dp_srtp_ctx *tx;    /* protect: ours */
	uint64_t cname_len;
	char cname[16];            /* CNAME the gateway's reports carry */

	/* ---- owner worker ---- */
	struct dp_gw_slot slot[DP_GW_MAX_SLOTS] __rte_cache_aligned;
	struct dp_gw_rx_stats rx_stats;
	uint32_t loud_ema;         /* smoothed loudness, dB << 8 (0..127) */
	uint64_t last_rx_tsc;      /* last authenticated RTP */
	uint64_t next_rtcp_tsc;
	uint64_t challenge_tsc;    /* louder than a selected one since */
	uint64_t promote_tsc;      /* selected, louder than the one ahead
				      of it in room->sel since */
	struct dp_bucket in_cap;   /* DP_GW_LEG_BYTES_PER_S */
	uint32_t sel_ver;          /* room->sel_ver the slots were made for */
	uint32_t rx_epoch;         /* +1 when its media SSRC changes */
	/* read by control for stats (plain loads are fine on x86-64) */
	uint64_t rx_packets, tx_packets, drops;
} __rte_cache_aligned;

struct dp_gw_room {
	uint16_t owner;            /* worker that runs it */
	uint8_t n_slots;           /* N: speakers each listener gets */
	uint32_t id;               /* for logs and stats */
	/* control publishes (__atomic release) and clears; NULL = free */
	struct dp_gw_leg *legs[DP_GW_MAX_LEGS];
	uint16_t n_idx;            /* legs[] used below this (__atomic) */
	uint16_t n_legs;           /* control only */

	/* ---- owner worker ---- */
	uint64_t next_select_tsc;
	uint8_t n_sel;             /* speakers selected, <= N + 1 */
	/* leg indexes, loudest first within the hysteresis: a listener
	 * outside the selection hears the first N */
	int16_t sel[DP_GW_MAX_SLOTS + 1];
	uint32_t sel_gen[DP_GW_MAX_SLOTS + 1];
	uint32_t sel_ver;          /* +1 on every change of sel */
} __rte_cache_aligned;

/* ---- control thread ---- */

/* Creates the leg table and every worker's gw_ring. 0 or -errno. */
int dp_gw_init(struct dp_ctx *dp, uint32_t max_legs);
/* After the workers stopped: wipes and frees the legs still published
 * (their pointers are dead afterwards) and the rings; frees already
 * deferred run later, from dp_tables_fini. Rooms stay the caller's
 * (dp_gw_room_free works after this). No-op without dp_gw_init. */
void dp_gw_fini(struct dp_ctx *dp);

/* A room with N slots per listener (1..DP_GW_MAX_SLOTS), owned by the
 * least loaded worker. NULL and errno. */
struct dp_gw_room *dp_gw_room_new(struct dp_ctx *dp, uint32_t id,
				  uint8_t n_slots);
/* The room must have no legs; freed after the grace period. */
void dp_gw_room_free(struct dp_ctx *dp, struct dp_gw_room *r);

struct dp_gw_leg_params {
	struct dp_gw_room *room;
	void *owner;
	struct sotto_addr remote, local;
	uint32_t sock;
	enum dp_srtp_profile profile;
	/* the browser's master key/salt (unprotect) and ours (protect) */
	const struct dp_srtp_master *remote_key, *local_key;
	/* SSRCs the browser announced (a=ssrc); none = learn them */
	const uint32_t *ssrcs;
	unsigned n_ssrcs;
	uint8_t n_slots;           /* <= room's n_slots; 0 = sends only
				      (then it gets no RTCP either) */
	const uint32_t *slot_ssrcs; /* n_slots of them, distinct, random */
	uint8_t level_id;          /* 1..14 (one-byte form), 0 = none */
	uint8_t pt;                /* 0..127 */
	const char *cname;         /* <= 15 bytes */
	uint64_t in_cap;           /* bytes/s it may send; 0: the default */
};

/*
 * Builds a leg and its SRTP contexts (in the leg's own memory, so one
 * wipe covers all key material). NULL and errno: EINVAL, ENOMEM, EIO.
 * Not visible to workers until dp_gw_leg_publish().
 */
struct dp_gw_leg *dp_gw_leg_new(struct dp_ctx *dp,
				const struct dp_gw_leg_params *p);
/* Frees a leg that was never published (wipes it first). */
void dp_gw_leg_discard(struct dp_gw_leg *l);

/* Into the table under (remote, local) and into a free room index.
 * 0, -EEXIST (that 5-tuple has a leg), -ENOSPC (room or table full). */
int dp_gw_leg_publish(struct dp_ctx *dp, struct dp_gw_leg *l);

/* The leg's browser moved to another address (a valid ICE check with
 * USE-CANDIDATE from there): rekeys the table and swaps l->addr. 0,
 * -EEXIST, -ENOMEM, -ENOSPC (table full). */
int dp_gw_leg_move(struct dp_ctx *dp, struct dp_gw_leg *l,
		   const struct sotto_addr *remote,
		   const struct sotto_addr *local, uint32_t sock);

/*
 * Out of the table and the room; after the grace period every byte of
 * the leg (SRTP contexts included) is wiped, dp_gw_wipe_hook (if set)
 * sees the wiped memory, the leg is freed and done(arg) runs (done may
 * be NULL). Without memory to defer that, it waits for the grace period
 * itself (rte_rcu_qsbr_synchronize). 0, or -EINVAL without dp_gw_init.
 */
int dp_gw_leg_unpublish(struct dp_ctx *dp, struct dp_gw_leg *l,
			void (*done)(void *), void *arg);

/* Test hook: called with a leg's memory after the wipe, before free. */
extern void (*dp_gw_wipe_hook)(const void *mem, size_t len);

/* ---- workers ---- */

/*
 * SRTP and SRTCP received on media addresses (first byte 128-191), one
 * burst: looks legs up, passes packets of rooms other workers own to their
 * gw_ring, forwards the rest. Output goes out through w->emit. Consumes
 * every packet (sent, passed on, or dropped and counted).
 */
void dp_gw_input(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
		 uint64_t now);

/* Packets other workers passed to this one; true if there were any. */
bool dp_gw_poll(struct dp_worker *w, uint64_t now);

#endif
