/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway mode, the workers' half: SRTP in from each leg, the N loudest
 * speakers out to every listener on its fixed slots, RTCP terminated.
 * Written like fastpath.c: bulk lookups, prefetch, counters by drop
 * reason, and no allocation (other than mbufs), lock, syscall (except the
 * eventfd kick of a sleeping owner) or logging.
 */
#include <string.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "bytes.h"
#include "dp.h"
#include "dp_gw.h"
#include "dp_gw_priv.h"

/* ---- workers: helpers ---- */

/* TSC ticks → 48 kHz RTP ticks */
static inline uint64_t
ticks48(const struct dp_gw *gw, uint64_t tsc)
{
	return (uint64_t)(((gw_u128)tsc * gw->mult48) >> 48);
}

/* RFC 3550 §4: NTP timestamp of a TSC value, no syscall */
static inline uint64_t
ntp_of(const struct dp_gw *gw, uint64_t now)
{
	return gw->ntp0 +
	       (uint64_t)(((gw_u128)(now - gw->tsc0) * gw->mult_ntp) >> 32);
}

static inline uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static inline struct dp_gw_leg *
room_leg(struct dp_gw_room *r, unsigned i)
{
	return __atomic_load_n(&r->legs[i], __ATOMIC_ACQUIRE);
}

/* One call of dp_gw_input / dp_gw_poll. */
struct gw_run {
	struct dp_worker *w;
	struct dp_gw *gw;
	uint64_t now;
	uint16_t n_out;
	struct rte_mbuf *out[GW_OUT_MAX];
};

static void
out_flush(struct gw_run *r)
{
	struct dp_worker *w = r->w;

	if (r->n_out == 0)
		return;
	if (likely(w->emit != NULL)) {
		w->emit(w, r->out, r->n_out);
	} else {
		w->ctr[DP_DROP_TX_FAILED] += r->n_out;
		rte_pktmbuf_free_bulk(r->out, r->n_out);
	}
	r->n_out = 0;
}

static inline void
out_push(struct gw_run *r, struct rte_mbuf *m, const struct dp_gw_leg *to)
{
	const struct dp_gw_addr *a = __atomic_load_n(&to->addr,
						     __ATOMIC_ACQUIRE);
	struct dp_meta *meta = dp_meta(m);

	meta->src = a->local;
	meta->dst = a->remote;
	meta->sock = a->sock;
	meta->worker = r->w->id;
	meta->sock_kind = DP_SOCK_MEDIA;
	meta->flags = 0;
	if (r->n_out == GW_OUT_MAX)
		out_flush(r);
	r->out[r->n_out++] = m;
}

static inline void
drop(struct gw_run *r, struct rte_mbuf *m, unsigned reason)
{
	r->w->ctr[reason]++;
	rte_pktmbuf_free(m);
}

static inline unsigned
srtp_drop(int rc)
{
	return DP_DROP_GW_SRTP_MALFORMED + (unsigned)(-rc - 1);
}

/* What the owner learnt from one authenticated RTP packet. */
struct rtp_in {
	const uint8_t *payload;        /* after header and extension */
	uint16_t payload_len;          /* padding included */
	uint16_t pad_len;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	bool marker, padding;
	int16_t level;                 /* RFC 6464 byte (V | level), -1 */
};

/*
 * RFC 3550 §5.1 header, §5.3.1 and RFC 8285 §4.2 extension: the audio
 * level element (RFC 6464) if the one-byte form carries id. len is what
 * unprotect left, which it checked holds the header and extension.
 */
static inline int
rtp_parse(const uint8_t *p, size_t len, uint8_t level_id, struct rtp_in *in)
{
	size_t h = 12 + 4 * (size_t)(p[0] & 0x0f);

	in->level = -1;
	if (p[0] & 0x10) {
		if (unlikely(h + 4 > len))
			return -1;
		uint16_t prof = rd16(p + h);
		size_t elen = 4 * (size_t)rd16(p + h + 2);
		const uint8_t *e = p + h + 4;

		h += 4 + elen;
		if (unlikely(h > len))
			return -1;
		/* the two-byte form (0x100x) and others are skipped whole */
		if (prof == 0xBEDE && level_id != 0) {
			for (size_t i = 0; i < elen;) {
				uint8_t b = e[i];
				if (b == 0) {          /* padding */
					i++;
					continue;
				}
				unsigned id = b >> 4, l = (b & 0x0f) + 1u;
				if (id == 15 || i + 1 + l > elen)
					break;         /* §4.2: stop */
				if (id == level_id)
					in->level = e[i + 1];
				i += 1 + l;
			}
		}
	}
	if (unlikely(h > len))
		return -1;
	in->padding = p[0] & 0x20;
	in->pad_len = 0;
	if (in->padding) {
		/* §5.1: the last octet counts the padding, itself included */
		uint8_t pad = p[len - 1];
		if (unlikely(pad == 0 || h + pad > len))
			return -1;
		in->pad_len = pad;
	}
	in->marker = p[1] & 0x80;
	in->seq = rd16(p + 2);
	in->ts = rd32(p + 4);
	in->ssrc = rd32(p + 8);
	in->payload = p + h;
	in->payload_len = (uint16_t)(len - h);
	return 0;
}

/* RFC 3550 A.1 */
static void
seq_init(struct dp_gw_rx_stats *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1;
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
}

/* A.1 without the probation: the packet authenticated, so it is no
 * stray. false: a jump that waits for a second packet to confirm it. */
static bool
seq_update(struct dp_gw_rx_stats *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if (udelta < RTP_MAX_DROPOUT) {
		if (seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD;
		s->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - RTP_MAX_MISORDER) {
		if (seq == s->bad_seq) {
			/* two in a row: the sender restarted */
			seq_init(s, seq);
		} else {
			s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
			return false;
		}
	}
	/* else duplicate or reordered */
	s->received++;
	return true;
}

static void
rx_stats_update(struct gw_run *r, struct dp_gw_leg *S, const struct rtp_in *in)
{
	struct dp_gw_rx_stats *s = &S->rx_stats;
	uint32_t arrival = (uint32_t)ticks48(r->gw, r->now - r->gw->tsc0);
	int32_t transit = (int32_t)(arrival - in->ts);

	if (unlikely(!s->seen || s->ssrc != in->ssrc)) {
		/* a new media source: new statistics, and listeners' slots
		 * re-base their sequence and timestamp (rx_epoch); an SR
		 * that came before any RTP still counts */
		uint32_t lsr = s->seen ? 0 : s->lsr;
		uint64_t lsr_tsc = s->seen ? 0 : s->lsr_tsc;

		memset(s, 0, sizeof(*s));
		s->lsr = lsr;
		s->lsr_tsc = lsr_tsc;
		s->seen = true;
		s->ssrc = in->ssrc;
		seq_init(s, in->seq);
		s->received = 1;
		s->transit = transit;
		S->rx_epoch++;
		return;
	}
	if (!seq_update(s, in->seq))
		return;
	/* A.8: J += (|D| - J) / 16, J kept << 4 */
	int32_t d = transit - (int32_t)s->transit;
	s->transit = transit;
	if (d < 0)
		d = -d;
	s->jitter += (uint32_t)d - ((s->jitter + 8) >> 4);
}

/* ---- speaker selection (owner) ---- */

static inline bool
fresh(const struct gw_run *r, const struct dp_gw_leg *l)
{
	return l->last_rx_tsc != 0 &&
	       r->now - l->last_rx_tsc <= r->gw->stale_ticks;
}

static inline bool
selected(const struct dp_gw_room *room, const struct dp_gw_leg *l)
{
	for (unsigned j = 0; j < room->n_sel; j++)
		if (room->sel[j] == (int16_t)l->idx && room->sel_gen[j] == l->gen)
			return true;
	return false;
}

/* S is not selected but could be at once: a position is free, or held
 * by a leg that left the room */
static inline bool
sel_has_room_for(struct dp_gw_room *room, const struct dp_gw_leg *S)
{
	bool gone = room->n_sel <= room->n_slots;

	for (unsigned j = 0; j < room->n_sel; j++) {
		const struct dp_gw_leg *l = room_leg(room,
						     (unsigned)room->sel[j]);
		if (l == S && l->gen == room->sel_gen[j])
			return false;
		if (l == NULL || l->gen != room->sel_gen[j])
			gone = true;
	}
	return gone;
}

/* Puts l into sl[0..*n] before the first speaker it is louder than. */
static inline void
sel_insert(struct dp_gw_leg **sl, unsigned *n, struct dp_gw_leg *l)
{
	unsigned k = *n;

	for (; k > 0 && sl[k - 1]->loud_ema < l->loud_ema; k--)
		sl[k] = sl[k - 1];
	sl[k] = l;
	l->promote_tsc = 0;
	(*n)++;
}

/*
 * The order of the selection, which decides what a listener outside it
 * (and one with fewer slots than N) hears: a speaker moves ahead of the
 * one before it only when it has been DP_GW_HYST_DB louder for
 * DP_GW_HOLD_MS, the same bar a challenger from outside must clear. One
 * place per hold time: a speaker that joined quietly (its loudness built
 * from one packet) and turns out the loudest reaches the first N within
 * a hold time of its loudness settling. True if the order changed.
 */
static bool
sel_reorder(struct gw_run *r, struct dp_gw_leg **sl, unsigned n)
{
	bool changed = false;

	for (unsigned j = 1; j < n; j++) {
		struct dp_gw_leg *l = sl[j], *ahead = sl[j - 1];

		if (l->loud_ema < ahead->loud_ema + (DP_GW_HYST_DB << 8)) {
			l->promote_tsc = 0;
			continue;
		}
		if (l->promote_tsc == 0) {
			l->promote_tsc = r->now;
			continue;
		}
		if (r->now - l->promote_tsc < r->gw->hold_ticks)
			continue;
		sl[j - 1] = l;
		sl[j] = ahead;
		l->promote_tsc = 0;
		ahead->promote_tsc = 0;
		changed = true;
	}
	return changed;
}

/*
 * Drops stale and removed speakers, fills free positions with the
 * loudest candidates, lets a challenger that stayed DP_GW_HYST_DB louder
 * than the quietest selected one for DP_GW_HOLD_MS replace it, then keeps
 * the selection ordered (sel_reorder). Newcomers go in by their loudness;
 * speakers already selected keep their order unless sel_reorder moves
 * them, so slots do not flap between speakers of about the same level.
 */
static void
select_speakers(struct gw_run *r, struct dp_gw_room *room)
{
	struct dp_gw_leg *sl[DP_GW_MAX_SLOTS + 1];
	unsigned cap = room->n_slots + 1u, n = 0, n_idx;
	uint64_t mask = 0;
	bool changed = false;

	for (unsigned j = 0; j < room->n_sel; j++) {
		struct dp_gw_leg *l = room_leg(room, (unsigned)room->sel[j]);
		if (l != NULL && l->gen == room->sel_gen[j] && fresh(r, l)) {
			sl[n++] = l;
			mask |= 1ull << l->idx;
		} else {
			changed = true;
		}
	}
	n_idx = __atomic_load_n(&room->n_idx, __ATOMIC_ACQUIRE);

	/* free positions: the loudest candidates, at once */
	while (n < cap) {
		struct dp_gw_leg *best = NULL;
		for (unsigned i = 0; i < n_idx; i++) {
			struct dp_gw_leg *l = room_leg(room, i);
			if (l == NULL || (mask >> i) & 1 || !fresh(r, l))
				continue;
			if (best == NULL || l->loud_ema > best->loud_ema)
				best = l;
		}
		if (best == NULL)
			break;
		best->challenge_tsc = 0;
		sel_insert(sl, &n, best);
		mask |= 1ull << best->idx;
		r->w->ctr[DP_GW_SELECT_CHANGES]++;
		changed = true;
	}

	/* challengers, only when every position is taken */
	for (unsigned round = 0; n == cap && round < cap; round++) {
		struct dp_gw_leg *best = NULL;
		unsigned q = 0;

		for (unsigned j = 1; j < n; j++)
			if (sl[j]->loud_ema < sl[q]->loud_ema)
				q = j;
		uint32_t bar = sl[q]->loud_ema + (DP_GW_HYST_DB << 8);
		for (unsigned i = 0; i < n_idx; i++) {
			struct dp_gw_leg *l = room_leg(room, i);
			if (l == NULL || (mask >> i) & 1)
				continue;
			if (!fresh(r, l) || l->loud_ema < bar) {
				l->challenge_tsc = 0;
				continue;
			}
			if (l->challenge_tsc == 0)
				l->challenge_tsc = r->now;
			else if (r->now - l->challenge_tsc >= r->gw->hold_ticks &&
				 (best == NULL || l->loud_ema > best->loud_ema))
				best = l;
		}
		if (best == NULL)
			break;
		mask &= ~(1ull << sl[q]->idx);
		sl[q]->challenge_tsc = 0;
		best->challenge_tsc = 0;
		memmove(&sl[q], &sl[q + 1], (n - q - 1) * sizeof(sl[0]));
		n--;
		sel_insert(sl, &n, best);
		mask |= 1ull << best->idx;
		r->w->ctr[DP_GW_SELECT_CHANGES]++;
		changed = true;
	}

	if (sel_reorder(r, sl, n))
		changed = true;
	if (!changed)
		return;
	for (unsigned j = 0; j < n; j++) {
		room->sel[j] = (int16_t)sl[j]->idx;
		room->sel_gen[j] = sl[j]->gen;
	}
	room->n_sel = (uint8_t)n;
	if (++room->sel_ver == 0)
		room->sel_ver = 1;
}

/*
 * Listener L's slots after sel changed: the first L->n_slots selected
 * speakers other than L. A source keeps its slot (sticky); a new one
 * takes a free slot and re-bases it; the rest are freed.
 */
static void
assign_slots(const struct dp_gw_room *room, struct dp_gw_leg *L)
{
	int16_t want[DP_GW_MAX_SLOTS];
	uint32_t want_gen[DP_GW_MAX_SLOTS];
	bool taken[DP_GW_MAX_SLOTS] = { false };
	unsigned nw = 0;

	for (unsigned j = 0; j < room->n_sel && nw < L->n_slots; j++) {
		if (room->sel[j] == (int16_t)L->idx && room->sel_gen[j] == L->gen)
			continue;
		want[nw] = room->sel[j];
		want_gen[nw++] = room->sel_gen[j];
	}
	for (unsigned k = 0; k < L->n_slots; k++) {
		struct dp_gw_slot *s = &L->slot[k];
		unsigned j;

		if (s->src < 0)
			continue;
		for (j = 0; j < nw; j++)
			if (!taken[j] && want[j] == s->src &&
			    want_gen[j] == s->src_gen)
				break;
		if (j < nw)
			taken[j] = true;
		else
			s->src = -1;
	}
	for (unsigned j = 0, k = 0; j < nw; j++) {
		if (taken[j])
			continue;
		while (k < L->n_slots && L->slot[k].src >= 0)
			k++;
		if (k == L->n_slots)
			break;
		L->slot[k].src = want[j];
		L->slot[k].src_gen = want_gen[j];
		L->slot[k].resync = true;
	}
	L->sel_ver = room->sel_ver;
}

/* ---- forwarding (owner) ---- */

/* One copy of S's packet to listener L on slot s. */
static void
send_copy(struct gw_run *r, struct dp_gw_leg *L, struct dp_gw_slot *s,
	  const struct dp_gw_leg *S, const struct rtp_in *in)
{
	struct dp_worker *w = r->w;
	bool ext = L->level_id != 0 && in->level >= 0;
	size_t hlen = 12 + (ext ? 8 : 0), len = hlen + in->payload_len, olen;
	uint16_t seq_off = s->seq_off, out_seq;
	uint32_t ts_off = s->ts_off, out_ts;
	bool marker = in->marker, resync = s->resync;
	struct rte_mbuf *m;
	uint8_t *p;

	if (s->started && !resync && s->src_epoch == S->rx_epoch) {
		int16_t d = (int16_t)(uint16_t)(in->seq + seq_off - s->last_seq);
		if (unlikely(d <= 0)) {
			if (d > -(int16_t)RTP_MAX_MISORDER) {
				/* late or repeated: its index is used */
				w->ctr[DP_GW_FWD_DROPPED]++;
				return;
			}
			/* far behind: the source jumped (a 16-bit view
			 * of a big step forward); re-base the slot */
			resync = true;
		}
	}
	if (!s->started) {
		seq_off = 0;
		ts_off = 0;
		marker = true;
	} else if (resync || s->src_epoch != S->rx_epoch) {
		/* continue the slot's own sequence and clock */
		uint64_t el = ticks48(r->gw, r->now - s->last_tsc);
		if (el < GW_FRAME_TICKS)
			el = GW_FRAME_TICKS;
		seq_off = (uint16_t)(s->last_seq + 1u - in->seq);
		ts_off = (uint32_t)(s->last_ts + (uint32_t)el - in->ts);
		marker = true;
	}
	out_seq = (uint16_t)(in->seq + seq_off);
	out_ts = in->ts + ts_off;

	m = rte_pktmbuf_alloc(w->dp->pool);
	if (unlikely(m == NULL)) {
		w->ctr[DP_GW_FWD_DROPPED]++;
		return;
	}
	size_t cap = rte_pktmbuf_tailroom(m);
	if (unlikely(len > cap)) {
		w->ctr[DP_GW_FWD_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	p = rte_pktmbuf_mtod(m, uint8_t *);
	p[0] = (uint8_t)(0x80 | (in->padding ? 0x20 : 0) | (ext ? 0x10 : 0));
	p[1] = (uint8_t)((marker ? 0x80 : 0) | L->pt);
	wr16(p + 2, out_seq);
	wr32(p + 4, out_ts);
	wr32(p + 8, s->ssrc);
	if (ext) {
		/* RFC 8285 §4.2: one element, one byte of data, padded */
		p[12] = 0xBE;
		p[13] = 0xDE;
		p[14] = 0;
		p[15] = 1;
		p[16] = (uint8_t)(L->level_id << 4);
		p[17] = (uint8_t)in->level;
		p[18] = 0;
		p[19] = 0;
	}
	memcpy(p + hlen, in->payload, in->payload_len);
	int rc = dp_srtp_protect(L->tx, p, len, cap, &olen);
	if (unlikely(rc < 0)) {
		w->ctr[DP_GW_FWD_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_append(m, (uint16_t)olen);

	s->started = true;
	s->resync = false;
	s->src_epoch = S->rx_epoch;
	s->seq_off = seq_off;
	s->ts_off = ts_off;
	s->last_seq = out_seq;
	s->last_ts = out_ts;
	s->last_tsc = r->now;
	s->packets++;
	/* RFC 3550 §6.4.1: payload octets, no header or padding */
	s->octets += (uint32_t)(in->payload_len - in->pad_len);
	L->tx_packets++;
	w->ctr[DP_GW_FORWARDED]++;
	w->ctr[DP_GW_FORWARDED_BYTES] += olen;
	out_push(r, m, L);
}

static void
forward(struct gw_run *r, struct dp_gw_room *room, struct dp_gw_leg *S,
	const struct rtp_in *in)
{
	unsigned n_idx = __atomic_load_n(&room->n_idx, __ATOMIC_ACQUIRE);

	if (!selected(room, S))
		return;
	for (unsigned i = 0; i < n_idx; i++) {
		struct dp_gw_leg *L = room_leg(room, i);

		if (L == NULL || L == S)
			continue;
		if (unlikely(L->sel_ver != room->sel_ver))
			assign_slots(room, L);
		for (unsigned k = 0; k < L->n_slots; k++) {
			struct dp_gw_slot *s = &L->slot[k];
			if (s->src == (int16_t)S->idx && s->src_gen == S->gen) {
				send_copy(r, L, s, S, in);
				break;
			}
		}
	}
}

/* ---- RTCP the gateway sends (owner) ---- */

/* RFC 3550 §6.4.1 report block about L's inbound stream, A.3 loss */
static uint8_t *
put_report_block(struct gw_run *r, struct dp_gw_leg *L, uint8_t *p)
{
	struct dp_gw_rx_stats *s = &L->rx_stats;
	uint32_t ext_max = s->cycles + s->max_seq;
	uint32_t expected = ext_max - s->base_seq + 1;
	int64_t lost = (int64_t)expected - s->received;
	uint32_t exp_int = expected - s->expected_prior;
	uint32_t rec_int = s->received - s->received_prior;
	int64_t lost_int = (int64_t)exp_int - rec_int;
	uint32_t fraction = 0, dlsr = 0;

	if (lost > 0x7fffff)
		lost = 0x7fffff;
	else if (lost < -0x800000)
		lost = -0x800000;
	s->expected_prior = expected;
	s->received_prior = s->received;
	if (exp_int != 0 && lost_int > 0)
		fraction = (uint32_t)((lost_int << 8) / exp_int);
	if (s->lsr_tsc != 0)
		dlsr = (uint32_t)(((gw_u128)(r->now - s->lsr_tsc) << 16) /
				  r->gw->hz);

	wr32(p, s->ssrc);
	wr32(p + 4, (fraction > 255 ? 255 : fraction) << 24 |
		    ((uint32_t)lost & 0xffffff));
	wr32(p + 8, ext_max);
	wr32(p + 12, s->jitter >> 4);
	wr32(p + 16, s->lsr);
	wr32(p + 20, dlsr);
	return p + 24;
}

static inline void
put_rtcp_hdr(uint8_t *p, unsigned count, uint8_t pt, size_t len)
{
	p[0] = (uint8_t)(0x80 | count);
	p[1] = pt;
	wr16(p + 2, (uint16_t)(len / 4 - 1));
}

/*
 * RFC 3550 §6.1 compound packet to L: an SR per started slot (the first
 * with a report block about what L sends us), or an RR from slot 0 if
 * nothing was sent yet, then SDES with a CNAME for every SSRC used.
 */
static void
send_rtcp(struct gw_run *r, struct dp_gw_leg *L)
{
	struct dp_worker *w = r->w;
	uint32_t ssrcs[DP_GW_MAX_SLOTS];
	unsigned n_ssrc = 0, blocks = L->rx_stats.seen ? 1 : 0;
	struct rte_mbuf *m;
	uint8_t *p, *q;
	size_t olen;

	L->next_rtcp_tsc = r->now + r->gw->rtcp_ticks / 2 +
			   xorshift(&r->gw->wk[w->id].rng) % r->gw->rtcp_ticks;
	if (L->n_slots == 0)
		return; /* no SSRC to send from */
	m = rte_pktmbuf_alloc(w->dp->pool);
	if (unlikely(m == NULL)) {
		w->ctr[DP_GW_FWD_DROPPED]++;
		return;
	}
	p = q = rte_pktmbuf_mtod(m, uint8_t *);
	uint64_t ntp = ntp_of(r->gw, r->now);
	for (unsigned k = 0; k < L->n_slots; k++) {
		struct dp_gw_slot *s = &L->slot[k];
		uint8_t *h = q;

		if (!s->started)
			continue;
		unsigned rc = n_ssrc == 0 ? blocks : 0;
		uint32_t ts = s->last_ts +
			      (uint32_t)ticks48(r->gw, r->now - s->last_tsc);
		wr32(q + 4, s->ssrc);
		wr32(q + 8, (uint32_t)(ntp >> 32));
		wr32(q + 12, (uint32_t)ntp);
		wr32(q + 16, ts);
		wr32(q + 20, s->packets);
		wr32(q + 24, s->octets);
		q += 28;
		if (rc)
			q = put_report_block(r, L, q);
		put_rtcp_hdr(h, rc, RTCP_SR, (size_t)(q - h));
		ssrcs[n_ssrc++] = s->ssrc;
	}
	if (n_ssrc == 0) {
		uint8_t *h = q;
		wr32(q + 4, L->slot[0].ssrc);
		q += 8;
		if (blocks)
			q = put_report_block(r, L, q);
		put_rtcp_hdr(h, blocks, RTCP_RR, (size_t)(q - h));
		ssrcs[n_ssrc++] = L->slot[0].ssrc;
	}
	/* §6.5: SSRC, CNAME item, END, padded to 32 bits */
	uint8_t *h = q;
	q += 4;
	for (unsigned i = 0; i < n_ssrc; i++) {
		uint8_t *c = q;
		wr32(q, ssrcs[i]);
		q[4] = 1;
		q[5] = (uint8_t)L->cname_len;
		memcpy(q + 6, L->cname, L->cname_len);
		q += 6 + L->cname_len;
		do
			*q++ = 0;
		while ((q - c) & 3);
	}
	put_rtcp_hdr(h, n_ssrc, RTCP_SDES, (size_t)(q - h));

	int rc = dp_srtcp_protect(L->tx, p, (size_t)(q - p),
				  rte_pktmbuf_tailroom(m), &olen);
	if (unlikely(rc < 0)) {
		w->ctr[DP_GW_FWD_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_append(m, (uint16_t)olen);
	w->ctr[DP_GW_RTCP_SENT]++;
	out_push(r, m, L);
}

static inline void
rtcp_due(struct gw_run *r, struct dp_gw_leg *L)
{
	if (unlikely(L->next_rtcp_tsc == 0))
		L->next_rtcp_tsc = r->now + r->gw->rtcp_ticks / 2;
	else if (unlikely(r->now >= L->next_rtcp_tsc))
		send_rtcp(r, L);
}

/* ---- packets from a leg (owner) ---- */

static void
from_leg_rtp(struct gw_run *r, struct dp_gw_leg *S, struct rte_mbuf *m)
{
	struct dp_worker *w = r->w;
	struct dp_gw_room *room = S->room;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rtp_in in;
	size_t len;
	int rc;

	rc = dp_srtp_unprotect(S->rx, p, rte_pktmbuf_data_len(m), &len);
	if (unlikely(rc < 0)) {
		S->drops++;
		drop(r, m, srtp_drop(rc));
		return;
	}
	if (unlikely(rtp_parse(p, len, S->level_id, &in) < 0)) {
		S->drops++;
		drop(r, m, DP_DROP_MALFORMED);
		return;
	}
	w->ctr[DP_GW_RX_RTP]++;
	S->rx_packets++;
	rx_stats_update(r, S, &in);
	S->last_rx_tsc = r->now;
	/* RFC 6464: 0 is the loudest, 127 silence; EMA, alpha 1/4 */
	uint32_t loud = in.level >= 0 ? 127u - (uint32_t)(in.level & 0x7f) : 0;
	S->loud_ema = (3 * S->loud_ema + (loud << 8)) >> 2;

	if (r->now >= room->next_select_tsc) {
		room->next_select_tsc = r->now + r->gw->select_ticks;
		select_speakers(r, room);
	} else if (unlikely(sel_has_room_for(room, S))) {
		select_speakers(r, room);  /* a free position: at once */
	}
	forward(r, room, S, &in);
	rte_pktmbuf_free(m);
	rtcp_due(r, S);
}

static void
from_leg_rtcp(struct gw_run *r, struct dp_gw_leg *S, struct rte_mbuf *m)
{
	struct dp_gw_rx_stats *s = &S->rx_stats;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	size_t len, off = 0;
	int rc;

	rc = dp_srtcp_unprotect(S->rx, p, rte_pktmbuf_data_len(m), &len);
	if (unlikely(rc < 0)) {
		S->drops++;
		drop(r, m, srtp_drop(rc));
		return;
	}
	r->w->ctr[DP_GW_RX_RTCP]++;
	/* RFC 3550 §6.1: walk the compound; only SRs tell us anything (the
	 * LSR and DLSR of our reports), the rest ends here */
	while (off + 4 <= len && (p[off] >> 6) == 2) {
		size_t plen = 4 * ((size_t)rd16(p + off + 2) + 1);
		if (plen > len - off)
			break;
		if (p[off + 1] == RTCP_SR && plen >= 28) {
			uint32_t ssrc = rd32(p + off + 4);
			if (!s->seen || ssrc == s->ssrc) {
				/* §6.4.1: the middle 32 bits of the NTP */
				s->lsr = rd32(p + off + 8) << 16 |
					 rd32(p + off + 12) >> 16;
				s->lsr_tsc = r->now;
			}
		}
		off += plen;
	}
	rte_pktmbuf_free(m);
	rtcp_due(r, S);
}

static inline void
from_leg(struct gw_run *r, struct dp_gw_leg *S, struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

	if (unlikely(!dp_bucket_take(&S->in_cap, r->now,
				     rte_pktmbuf_data_len(m)))) {
		S->drops++;
		drop(r, m, DP_DROP_BANDWIDTH);
		return;
	}
	/* RFC 5761 §4: 192-223 in the second byte is RTCP */
	if (p[1] >= 192 && p[1] <= 223)
		from_leg_rtcp(r, S, m);
	else
		from_leg_rtp(r, S, m);
}

/* ---- handoff to the room's owner ---- */

static void
handoff(struct gw_run *r, struct rte_mbuf **pkts, uint16_t *owner, unsigned n)
{
	struct dp_worker *w = r->w;
	struct dp_ctx *dp = w->dp;
	struct rte_mbuf *batch[RTE_HASH_LOOKUP_BULK_MAX];

	/* one enqueue per owner: packets grouped by it, order kept */
	for (unsigned i = 0; i < n; i++) {
		uint16_t o = owner[i];
		unsigned nb = 0;

		if (o == UINT16_MAX)
			continue;
		for (unsigned j = i; j < n; j++)
			if (owner[j] == o) {
				batch[nb++] = pkts[j];
				owner[j] = UINT16_MAX;
			}
		struct dp_worker *ow = &dp->workers[o];
		unsigned q = rte_ring_mp_enqueue_burst(ow->gw_ring,
						       (void **)batch, nb,
						       NULL);
		if (unlikely(q < nb)) {
			w->ctr[DP_DROP_GW_HANDOFF_FULL] += nb - q;
			rte_pktmbuf_free_bulk(batch + q, nb - q);
		}
		w->ctr[DP_GW_HANDOFF] += q;
		/* pairs with the fence in dp_worker_sleep_begin */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (q && __atomic_load_n(&ow->sleeping, __ATOMIC_RELAXED)) {
			uint64_t one = 1;
			/* once a burst, only while the owner sleeps */
			ssize_t rc = write(ow->wake_fd, &one, 8); /* fastpath-allow: wake */
			(void)rc;
		}
	}
}

/*
 * One burst of at most RTE_HASH_LOOKUP_BULK_MAX packets, in passes as in
 * fastpath.c: gather keys, bulk lookup, prefetch legs and rooms, then
 * packet by packet. ICE checks and DTLS records go to the control thread:
 * ahead of new work when they come from a leg's own address (consent
 * and handshakes of legs that exist), as new work otherwise.
 */
static void
gw_burst(struct gw_run *r, struct rte_mbuf **pkts, uint16_t n)
{
	struct dp_client_key keys[RTE_HASH_LOOKUP_BULK_MAX];
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	struct dp_gw_leg *legs[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t slot[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *hand[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *ctl[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *ctl_new[RTE_HASH_LOOKUP_BULK_MAX];
	uint16_t hown[RTE_HASH_LOOKUP_BULK_MAX];
	bool to_ctl[RTE_HASH_LOOKUP_BULK_MAX];
	struct dp_worker *w = r->w;
	uint64_t hit = 0;
	unsigned nk = 0, nh = 0, nc = 0, nn = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct dp_meta *meta = dp_meta(m);
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(m);

		to_ctl[i] = meta->cls == DP_CLS_ICE || meta->cls == DP_CLS_DTLS;
		if (unlikely(!to_ctl[i] &&
			     (len < 12 || p[0] < 128 || p[0] > 191 ||
			      !rte_pktmbuf_is_contiguous(m)))) {
			slot[i] = UINT8_MAX;
			continue;
		}
		slot[i] = (uint8_t)nk;
		dp_client_key_set(&keys[nk], &meta->src, &meta->dst);
		kp[nk] = &keys[nk];
		nk++;
	}
	if (nk)
		rte_hash_lookup_bulk_data(r->gw->by_addr, kp, nk, &hit, data);
	for (uint16_t i = 0; i < n; i++) {
		struct dp_gw_leg *l = NULL;
		if (slot[i] != UINT8_MAX && (hit >> slot[i]) & 1)
			l = data[slot[i]];
		legs[i] = l;
		if (l != NULL)
			rte_prefetch0(l);
	}
	for (uint16_t i = 0; i < n; i++)
		if (legs[i] != NULL) {
			rte_prefetch0(legs[i]->room);
			rte_prefetch0(legs[i]->rx);
		}

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct dp_gw_leg *l = legs[i];

		if (unlikely(slot[i] == UINT8_MAX)) {
			drop(r, m, DP_DROP_GW_NOT_RTP);
			continue;
		}
		if (unlikely(to_ctl[i])) {
			if (l != NULL)
				ctl[nc++] = m;
			else
				ctl_new[nn++] = m;
			continue;
		}
		if (unlikely(l == NULL)) {
			drop(r, m, DP_DROP_GW_NO_LEG);
			continue;
		}
		uint16_t owner = l->room->owner;
		if (owner != w->id) {
			/* the leg pointer stays here: the owner looks it up
			 * again, within its own grace period */
			hand[nh] = m;
			hown[nh++] = owner;
			continue;
		}
		from_leg(r, l, m);
	}
	if (nh)
		handoff(r, hand, hown, nh);
	if (nc)
		dp_to_control(w, ctl, nc, true, r->now);
	if (nn)
		dp_to_control(w, ctl_new, nn, false, r->now);
}

void
dp_gw_input(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
	    uint64_t now)
{
	struct gw_run r = { .w = w, .gw = w->dp->gw, .now = now };

	for (uint16_t off = 0; off < n; off += RTE_HASH_LOOKUP_BULK_MAX) {
		uint16_t k = (uint16_t)RTE_MIN(n - off, RTE_HASH_LOOKUP_BULK_MAX);
		gw_burst(&r, pkts + off, k);
	}
	out_flush(&r);
}

bool
dp_gw_poll(struct dp_worker *w, uint64_t now)
{
	struct rte_mbuf *pkts[RTE_HASH_LOOKUP_BULK_MAX];
	struct gw_run r = { .w = w, .gw = w->dp->gw, .now = now };
	unsigned n;

	if (w->gw_ring == NULL)
		return false;
	n = rte_ring_sc_dequeue_burst(w->gw_ring, (void **)pkts,
				      RTE_HASH_LOOKUP_BULK_MAX, NULL);
	if (n == 0)
		return false;
	gw_burst(&r, pkts, (uint16_t)n);
	out_flush(&r);
	return true;
}
