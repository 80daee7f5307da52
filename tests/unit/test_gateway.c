/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane/gw/dp_gw_fwd.c on SRTP the test makes itself: each browser is a
 * pair of dp_srtp contexts (it protects with the keys the leg unprotects
 * with, and unprotects what the gateway sends with the gateway's keys).
 * dp_ctx is built by hand as in test_fastpath.c, once with one worker and
 * once with two (handoff); w->emit collects what the gateway sends.
 *
 * Covered, for both profiles where it matters: who hears whom, payloads,
 * rewritten PT/SSRC/seq/ts/level, a speaker switch, the N-loudest rule
 * with its hysteresis, every drop reason a leg's packet can get, the
 * handoff to the room's worker, RTCP both ways, the key wipe after the
 * grace period, a leg moving to another address, and the per-leg input
 * cap (DP_DROP_BANDWIDTH).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "check.h"
#include "dp.h"
#include "eal.h"
#include "dp_gw.h"
#include "srtp.h"

#define GCM DP_SRTP_AEAD_AES_128_GCM
#define CM DP_SRTP_AES128_CM_HMAC_SHA1_80
#define PAYLOAD 100
#define MAX_B 32
#define MAX_ROOMS 32
#define MAX_OUT 8192

/* ---- a dataplane with 1 or 2 workers ---- */

struct tctx {
	struct dp_ctx dp;
	struct dp_worker workers[2];
	uint64_t hz, t0;
};

static struct tctx c1, c2;

static int
ctx_setup(struct tctx *c, const char *name, uint16_t n_workers)
{
	char pname[32];

	memset(c, 0, sizeof(*c));
	snprintf(pname, sizeof(pname), "%s_pool", name);
	c->dp.pool = rte_pktmbuf_pool_create(pname, 4095, 0, DP_MBUF_PRIV_SIZE,
					     RTE_MBUF_DEFAULT_BUF_SIZE,
					     SOCKET_ID_ANY);
	if (c->dp.pool == NULL)
		return -1;
	if (dp_tables_init(&c->dp.tables, 64, n_workers) < 0)
		return -1;
	c->dp.n_workers = n_workers;
	c->dp.workers = c->workers;
	for (uint16_t i = 0; i < n_workers; i++) {
		struct dp_worker *w = &c->workers[i];
		w->id = i;
		w->dp = &c->dp;
		w->hz = rte_get_tsc_hz();
		w->wake_fd = eventfd(0, EFD_NONBLOCK);
		/* a worker holds table pointers until it says otherwise */
		rte_rcu_qsbr_thread_register(c->dp.tables.qsv, i);
		rte_rcu_qsbr_thread_online(c->dp.tables.qsv, i);
	}
	if (dp_gw_init(&c->dp, 256) < 0)
		return -1;
	c->hz = rte_get_tsc_hz();
	c->t0 = rte_rdtsc() + c->hz; /* all test times lie after init */
	return 0;
}

/* every worker passes a quiescent state; then due frees run */
static void
grace(struct tctx *c)
{
	for (uint16_t i = 0; i < c->dp.n_workers; i++)
		rte_rcu_qsbr_quiescent(c->dp.tables.qsv, i);
	dp_tables_reclaim(&c->dp.tables);
}

static uint64_t
at(const struct tctx *c, uint64_t ms)
{
	return c->t0 + ms * c->hz / 1000;
}

/* ---- what the gateway emits ---- */

static struct rte_mbuf *outq[MAX_OUT];
static uint16_t outq_worker[MAX_OUT];
static unsigned n_outq;

static void
collect(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (n_outq == MAX_OUT) {
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		outq_worker[n_outq] = w->id;
		outq[n_outq++] = pkts[i];
	}
}

/* ---- browsers ---- */

struct browser {
	int id;
	struct tctx *c;
	struct dp_gw_leg *leg;
	struct dp_srtp_ctx *tx;    /* what it sends: the leg's remote_key */
	struct dp_srtp_ctx *rx;    /* what it gets: the leg's local_key */
	struct dp_srtp_master rk, lk;
	struct sotto_addr remote, local;
	enum dp_srtp_profile prof;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	uint32_t slot_ssrc[DP_GW_MAX_SLOTS];
	uint8_t n_slots, level_id, pt;
	char cname[16];
};

static struct browser br[MAX_B];
static int n_br;

/* rooms of this round, freed at its end */
static struct {
	struct tctx *c;
	struct dp_gw_room *r;
} rooms[MAX_ROOMS];
static int n_rooms;

static struct dp_gw_room *
room_new(struct tctx *c, uint32_t id, uint8_t n)
{
	struct dp_gw_room *r = dp_gw_room_new(&c->dp, id, n);

	CHECK(r != NULL);
	if (r != NULL && n_rooms < MAX_ROOMS) {
		rooms[n_rooms].c = c;
		rooms[n_rooms++].r = r;
	}
	return r;
}

static uint32_t
rd32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static struct sotto_addr
v4(uint32_t ip, uint16_t port)
{
	struct sotto_addr a;
	sotto_addr_v4(&a, htonl(ip), port);
	return a;
}

static uint64_t seed = 0x1234567887654321ull;

static uint32_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed >> 16);
}

static void
fill_master(struct dp_srtp_master *m, enum dp_srtp_profile p)
{
	m->key_len = (uint8_t)dp_srtp_key_len(p);
	m->salt_len = (uint8_t)dp_srtp_salt_len(p);
	for (unsigned i = 0; i < sizeof(m->key); i++)
		m->key[i] = (uint8_t)rnd();
	for (unsigned i = 0; i < sizeof(m->salt); i++)
		m->salt[i] = (uint8_t)rnd();
}

struct leg_opts {
	uint8_t n_slots;
	uint8_t level_id;
	uint8_t pt;
	bool announce_ssrc;        /* give the leg its SSRC (no learning) */
};

static struct browser *
add_browser(struct tctx *c, struct dp_gw_room *room, enum dp_srtp_profile p,
	    const struct leg_opts *o)
{
	struct browser *b = &br[n_br];
	struct dp_gw_leg_params lp;
	int ret;

	if (n_br == MAX_B - 1)
		abort();
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->id = n_br++;
	b->prof = p;
	fill_master(&b->rk, p);
	fill_master(&b->lk, p);
	b->remote = v4(0x0a000000u + (uint32_t)b->id, (uint16_t)(40000 + b->id));
	b->local = v4(0x7f000001u, 3479);
	b->ssrc = rnd() | 1;
	b->seq = (uint16_t)rnd();
	b->ts = rnd();
	b->n_slots = o->n_slots;
	b->level_id = o->level_id;
	b->pt = o->pt;
	snprintf(b->cname, sizeof(b->cname), "gw-cname-%d", b->id);
	for (unsigned k = 0; k < o->n_slots; k++)
		b->slot_ssrc[k] = rnd() | 2;

	memset(&lp, 0, sizeof(lp));
	lp.room = room;
	lp.remote = b->remote;
	lp.local = b->local;
	lp.sock = 100u + (uint32_t)b->id;
	lp.profile = p;
	lp.remote_key = &b->rk;
	lp.local_key = &b->lk;
	lp.ssrcs = o->announce_ssrc ? &b->ssrc : NULL;
	lp.n_ssrcs = o->announce_ssrc ? 1 : 0;
	lp.n_slots = o->n_slots;
	lp.slot_ssrcs = b->slot_ssrc;
	lp.level_id = o->level_id;
	lp.pt = o->pt;
	lp.cname = b->cname;
	b->leg = dp_gw_leg_new(&c->dp, &lp);
	CHECK(b->leg != NULL);
	if (b->leg == NULL)
		return b;
	ret = dp_gw_leg_publish(&c->dp, b->leg);
	CHECK_EQ(ret, 0);
	b->tx = dp_srtp_ctx_new(p, DP_SRTP_PROTECT, b->rk.key, b->rk.key_len,
				b->rk.salt, b->rk.salt_len);
	b->rx = dp_srtp_ctx_new(p, DP_SRTP_UNPROTECT, b->lk.key, b->lk.key_len,
				b->lk.salt, b->lk.salt_len);
	CHECK(b->tx != NULL && b->rx != NULL);
	return b;
}

static void
payload_of(uint8_t *p, int tag, uint16_t seq)
{
	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(seq >> 8);
	p[2] = (uint8_t)seq;
	for (unsigned i = 3; i < PAYLOAD; i++)
		p[i] = (uint8_t)(i * 31 + (unsigned)tag * 7 + seq);
}

static struct rte_mbuf *
mbuf_of(struct tctx *c, const uint8_t *data, size_t len,
	const struct sotto_addr *src, const struct sotto_addr *dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->dp.pool);
	struct dp_meta *meta = dp_meta(m);

	memcpy(rte_pktmbuf_append(m, (uint16_t)len), data, len);
	meta->src = *src;
	meta->dst = *dst;
	meta->sock = 7;
	meta->sock_kind = DP_SOCK_MEDIA;
	meta->flags = 0;
	return m;
}

struct rtp_opts {
	int level;                 /* RFC 6464 level, -1: no extension */
	bool two_byte_ext;         /* a 0x1000 block instead */
	bool csrc_pad;             /* one CSRC, 3 padding bytes */
	uint32_t ssrc;             /* 0: the browser's */
	bool marker;
};

/* An SRTP packet from b in buf; returns its length. Advances seq/ts. */
static size_t
make_rtp(struct browser *b, const struct rtp_opts *o, uint8_t *buf)
{
	size_t h = 12, len, olen = 0;
	uint8_t pad = o->csrc_pad ? 3 : 0;

	buf[0] = (uint8_t)(0x80 | (o->csrc_pad ? 0x21 : 0));
	buf[1] = (uint8_t)((o->marker ? 0x80 : 0) | 111);
	buf[2] = (uint8_t)(b->seq >> 8);
	buf[3] = (uint8_t)b->seq;
	uint32_t ssrc = o->ssrc ? o->ssrc : b->ssrc;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)(b->ts >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	if (o->csrc_pad) {
		memcpy(buf + h, "\x01\x02\x03\x04", 4);
		h += 4;
	}
	if (o->two_byte_ext) {
		buf[0] |= 0x10;
		/* 0x1000 | appbits, 1 word: id 1 len 1 level, padding */
		memcpy(buf + h, "\x10\x00\x00\x01", 4);
		buf[h + 4] = b->level_id;
		buf[h + 5] = 1;
		buf[h + 6] = 5;
		buf[h + 7] = 0;
		h += 8;
	} else if (o->level >= 0) {
		buf[0] |= 0x10;
		/* a foreign element first (id 2, 2 bytes), then the level */
		memcpy(buf + h, "\xBE\xDE\x00\x02", 4);
		buf[h + 4] = 0x21;
		buf[h + 5] = 0xAA;
		buf[h + 6] = 0xBB;
		buf[h + 7] = (uint8_t)(b->level_id << 4);
		buf[h + 8] = (uint8_t)(0x80 | o->level); /* V=1 */
		buf[h + 9] = 0;
		buf[h + 10] = 0;
		buf[h + 11] = 0;
		h += 12;
	}
	payload_of(buf + h, b->id, b->seq);
	len = h + PAYLOAD;
	if (pad) {
		memset(buf + len, 0, pad);
		len += pad;
		buf[len - 1] = pad;
	}
	CHECK_EQ(dp_srtp_protect(b->tx, buf, len, 1500, &olen), 0);
	b->seq++;
	b->ts += 960;
	return olen;
}

static void
input(struct tctx *c, uint16_t worker, const uint8_t *data, size_t len,
      const struct sotto_addr *src, const struct sotto_addr *dst, uint64_t now)
{
	struct rte_mbuf *m = mbuf_of(c, data, len, src, dst);
	dp_gw_input(&c->workers[worker], &m, 1, now);
}

static void
send_rtp(struct tctx *c, struct browser *b, int level, uint64_t now)
{
	uint8_t buf[1600];
	struct rtp_opts o = { .level = level };
	size_t len = make_rtp(b, &o, buf);

	input(c, 0, buf, len, &b->remote, &b->local, now);
}

/* ---- what the browsers get ---- */

struct rx_pkt {
	int to;                    /* browser index */
	uint16_t worker;
	bool rtcp;
	struct sotto_addr src, dst;
	uint32_t sock;
	size_t len;                /* decrypted */
	uint8_t d[1500];
	/* RTP */
	uint8_t pt, cc;
	bool marker, ext, padding;
	uint16_t seq;
	uint32_t ts, ssrc;
	int ext_id, level;         /* one-byte element, -1 none */
	const uint8_t *payload;
	size_t payload_len;
};

static struct rx_pkt rxq[MAX_OUT];
static unsigned n_rxq;
static int undecodable;

static int
browser_at(const struct sotto_addr *a)
{
	for (int i = 0; i < n_br; i++)
		if (sotto_addr_eq(&br[i].remote, a))
			return i;
	return -1;
}

/* Decrypts everything emitted since the last drain into rxq. */
static unsigned
drain(void)
{
	n_rxq = 0;
	for (unsigned i = 0; i < n_outq; i++) {
		struct rte_mbuf *m = outq[i];
		struct dp_meta *meta = dp_meta(m);
		struct rx_pkt *r = &rxq[n_rxq];
		size_t len = rte_pktmbuf_data_len(m), out = 0;
		int to = browser_at(&meta->dst), rc;

		memset(r, 0, offsetof(struct rx_pkt, d));
		r->to = to;
		r->worker = outq_worker[i];
		r->src = meta->src;
		r->dst = meta->dst;
		r->sock = meta->sock;
		memcpy(r->d, rte_pktmbuf_mtod(m, void *), len);
		rte_pktmbuf_free(m);
		if (to < 0) {
			undecodable++;
			continue;
		}
		r->rtcp = r->d[1] >= 192 && r->d[1] <= 223;
		rc = r->rtcp ? dp_srtcp_unprotect(br[to].rx, r->d, len, &out) :
			       dp_srtp_unprotect(br[to].rx, r->d, len, &out);
		if (rc != 0) {
			undecodable++;
			continue;
		}
		r->len = out;
		if (!r->rtcp) {
			const uint8_t *p = r->d;
			size_t h;
			r->padding = p[0] & 0x20;
			r->ext = p[0] & 0x10;
			r->cc = p[0] & 0x0f;
			r->marker = p[1] & 0x80;
			r->pt = p[1] & 0x7f;
			r->seq = (uint16_t)(p[2] << 8 | p[3]);
			r->ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
				(uint32_t)p[6] << 8 | p[7];
			r->ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
				  (uint32_t)p[10] << 8 | p[11];
			h = 12 + 4u * r->cc;
			r->ext_id = r->level = -1;
			if (r->ext) {
				size_t el = 4u * (size_t)(p[h + 2] << 8 | p[h + 3]);
				if (p[h] == 0xBE && p[h + 1] == 0xDE && el >= 2) {
					r->ext_id = p[h + 4] >> 4;
					r->level = p[h + 5];
				}
				h += 4 + el;
			}
			r->payload = p + h;
			r->payload_len = out - h;
		}
		n_rxq++;
	}
	n_outq = 0;
	return n_rxq;
}

static unsigned
count_rtp(int to)
{
	unsigned n = 0;
	for (unsigned i = 0; i < n_rxq; i++)
		if (!rxq[i].rtcp && (to < 0 || rxq[i].to == to))
			n++;
	return n;
}

static uint64_t
ctr(struct tctx *c, enum dp_counter k)
{
	uint64_t v = 0;
	for (uint16_t i = 0; i < c->dp.n_workers; i++)
		v += c->workers[i].ctr[k];
	return v;
}

/* per (listener, source): what it got on which SSRC */
struct flow {
	uint32_t ssrc;
	unsigned n;
	uint16_t last_seq;
	uint32_t last_ts;
	int src_seq_off_bad;       /* seq or ts not a constant offset */
	int32_t seq_delta;
	uint32_t ts_delta;
};

/* Checks every RTP packet in rxq is a faithful copy of its source's. */
static void
check_copies(struct flow fl[MAX_B][MAX_B])
{
	for (unsigned i = 0; i < n_rxq; i++) {
		struct rx_pkt *r = &rxq[i];
		if (r->rtcp)
			continue;
		struct browser *L = &br[r->to];
		int src = r->payload_len >= 3 ? r->payload[0] : -1;
		CHECK(src >= 0 && src < n_br && src != r->to);
		if (src < 0 || src >= n_br || src == r->to)
			continue;
		uint16_t in_seq = (uint16_t)(r->payload[1] << 8 | r->payload[2]);
		uint8_t want[PAYLOAD];
		payload_of(want, src, in_seq);
		CHECK_EQ(r->payload_len, PAYLOAD);
		CHECK_MEM(r->payload, want, PAYLOAD);
		CHECK_EQ(r->pt, L->pt);
		CHECK_EQ(r->cc, 0);
		bool slot = false;
		for (unsigned k = 0; k < L->n_slots; k++)
			slot |= L->slot_ssrc[k] == r->ssrc;
		CHECK(slot);
		CHECK(sotto_addr_eq(&r->src, &L->local));
		CHECK_EQ(r->sock, 100u + (uint32_t)L->id);
		struct flow *f = &fl[r->to][src];
		if (f->n == 0) {
			f->ssrc = r->ssrc;
		} else {
			CHECK_EQ(r->ssrc, f->ssrc);
			CHECK_EQ((uint16_t)(r->seq - f->last_seq), 1);
			CHECK_EQ(r->ts - f->last_ts, 960);
		}
		f->n++;
		f->last_seq = r->seq;
		f->last_ts = r->ts;
	}
}

/* ---- tests ---- */

/* 3 legs all talking: each hears the other two, never itself. */
static void
test_three(enum dp_srtp_profile prof)
{
	struct tctx *c = &c1;
	struct dp_gw_room *room = room_new(c, 1, 3);
	struct flow fl[MAX_B][MAX_B];
	struct browser *b[3];
	uint8_t buf[1600];
	uint64_t before;
	int base = n_br;

	CHECK(room != NULL);
	memset(fl, 0, sizeof(fl));
	for (int i = 0; i < 3; i++) {
		struct leg_opts o = { .n_slots = 3,
				      .level_id = (uint8_t)(1 + 2 * i),
				      .pt = (uint8_t)(96 + i),
				      .announce_ssrc = i == 0 };
		b[i] = add_browser(c, room, prof, &o);
	}
	/* the same 5-tuple cannot have two legs */
	struct dp_gw_leg_params dup = {
		.room = room, .remote = b[0]->remote, .local = b[0]->local,
		.profile = prof, .remote_key = &b[0]->rk,
		.local_key = &b[0]->lk, .pt = 96,
	};
	struct dp_gw_leg *dl = dp_gw_leg_new(&c->dp, &dup);
	CHECK(dl != NULL);
	CHECK_EQ(dp_gw_leg_publish(&c->dp, dl), -EEXIST);
	dp_gw_leg_discard(dl);
	/* parameters it refuses */
	dup.n_slots = 4;  /* more than the room's N */
	errno = 0;
	CHECK(dp_gw_leg_new(&c->dp, &dup) == NULL && errno == EINVAL);
	dup.n_slots = 0;
	dup.level_id = 15;
	CHECK(dp_gw_leg_new(&c->dp, &dup) == NULL && errno == EINVAL);

	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 3; i++)
			send_rtp(c, b[i], 10 + 10 * i, at(c, 20 * (uint64_t)round));
	drain();
	CHECK_EQ(undecodable, 0);
	check_copies(fl);
	for (int l = 0; l < 3; l++) {
		CHECK_EQ(count_rtp(base + l), 40);
		for (int s = 0; s < 3; s++) {
			if (s == l) {
				CHECK_EQ(fl[base + l][base + s].n, 0);
				continue;
			}
			CHECK_EQ(fl[base + l][base + s].n, 20);
		}
		/* the two sources on two different SSRCs */
		int o1 = (l + 1) % 3, o2 = (l + 2) % 3;
		CHECK(fl[base + l][base + o1].ssrc != fl[base + l][base + o2].ssrc);
	}
	/* levels: rewritten to the listener's id, value kept */
	for (unsigned i = 0; i < n_rxq; i++) {
		struct rx_pkt *r = &rxq[i];
		if (r->rtcp || r->payload_len < 1)
			continue;
		int src = r->payload[0] - base;
		CHECK(r->ext);
		CHECK_EQ(r->ext_id, br[r->to].level_id);
		CHECK_EQ(r->level & 0x7f, 10 + 10 * src);
	}
	CHECK_EQ(ctr(c, DP_GW_RX_RTP) >= 60, 1);

	uint64_t t = at(c, 400);
	/* a flipped bit: auth fails, nothing goes out */
	struct rtp_opts ro = { .level = 20 };
	size_t len = make_rtp(b[1], &ro, buf);
	buf[len - 20] ^= 0x01;
	before = ctr(c, DP_DROP_GW_SRTP_AUTH);
	input(c, 0, buf, len, &b[1]->remote, &b[1]->local, t);
	CHECK_EQ(ctr(c, DP_DROP_GW_SRTP_AUTH), before + 1);
	CHECK_EQ(drain(), 0);
	send_rtp(c, b[1], 20, t);
	drain();
	CHECK_EQ(count_rtp(-1), 2);

	/* a replay: the same packet twice */
	len = make_rtp(b[1], &ro, buf);
	input(c, 0, buf, len, &b[1]->remote, &b[1]->local, t);
	drain();
	CHECK_EQ(count_rtp(-1), 2);
	before = ctr(c, DP_DROP_GW_SRTP_REPLAY);
	input(c, 0, buf, len, &b[1]->remote, &b[1]->local, t);
	CHECK_EQ(ctr(c, DP_DROP_GW_SRTP_REPLAY), before + 1);
	CHECK_EQ(drain(), 0);
	send_rtp(c, b[1], 20, t);
	drain();
	CHECK_EQ(count_rtp(-1), 2);

	/* a late packet (authentic, inside the replay window) cannot be
	 * sent on: its slot's index is used already */
	uint16_t skipped = b[1]->seq++;
	send_rtp(c, b[1], 20, t);
	drain();
	CHECK_EQ(count_rtp(-1), 2);
	before = ctr(c, DP_GW_FWD_DROPPED);
	uint16_t next = b[1]->seq;
	b[1]->seq = skipped;
	send_rtp(c, b[1], 20, t);
	b[1]->seq = next;
	CHECK_EQ(ctr(c, DP_GW_FWD_DROPPED), before + 2);
	CHECK_EQ(drain(), 0);
	send_rtp(c, b[1], 20, t);
	drain();
	CHECK_EQ(count_rtp(-1), 2);

	/* a 5-tuple with no leg */
	struct sotto_addr stranger = v4(0x0b000001, 5555);
	len = make_rtp(b[1], &ro, buf);
	before = ctr(c, DP_DROP_GW_NO_LEG);
	input(c, 0, buf, len, &stranger, &b[1]->local, t);
	CHECK_EQ(ctr(c, DP_DROP_GW_NO_LEG), before + 1);
	CHECK_EQ(drain(), 0);

	/* an SSRC leg 0 did not announce (same keys) */
	ro.ssrc = b[0]->ssrc ^ 0x100;
	len = make_rtp(b[0], &ro, buf);
	before = ctr(c, DP_DROP_GW_SRTP_SSRC);
	input(c, 0, buf, len, &b[0]->remote, &b[0]->local, t);
	CHECK_EQ(ctr(c, DP_DROP_GW_SRTP_SSRC), before + 1);
	CHECK_EQ(drain(), 0);
	CHECK(b[0]->leg->drops >= 1);
	send_rtp(c, b[0], 10, t);
	drain();
	CHECK_EQ(count_rtp(-1), 2);

	/* not RTP at all */
	before = ctr(c, DP_DROP_GW_NOT_RTP);
	input(c, 0, (const uint8_t *)"\x80\x00\x00", 3, &b[0]->remote,
	      &b[0]->local, t);
	CHECK_EQ(ctr(c, DP_DROP_GW_NOT_RTP), before + 1);

	/* CSRCs and padding: dropped and kept; a two-byte extension block
	 * is skipped (no level to pass on) */
	ro = (struct rtp_opts){ .level = 30, .csrc_pad = true };
	len = make_rtp(b[2], &ro, buf);
	input(c, 0, buf, len, &b[2]->remote, &b[2]->local, t);
	ro = (struct rtp_opts){ .level = -1, .two_byte_ext = true };
	len = make_rtp(b[2], &ro, buf);
	input(c, 0, buf, len, &b[2]->remote, &b[2]->local, t + c->hz / 50);
	drain();
	CHECK_EQ(count_rtp(-1), 4);
	for (unsigned i = 0; i < n_rxq; i++) {
		struct rx_pkt *r = &rxq[i];
		uint8_t want[PAYLOAD];
		if (r->rtcp)
			continue;
		uint16_t s = (uint16_t)(r->payload[1] << 8 | r->payload[2]);
		payload_of(want, b[2]->id, s);
		CHECK_EQ(r->cc, 0);
		if (r->padding) {
			CHECK_EQ(r->payload_len, PAYLOAD + 3);
			CHECK_EQ(r->payload[r->payload_len - 1], 3);
			CHECK(r->ext && r->level == (0x80 | 30));
		} else {
			CHECK_EQ(r->payload_len, PAYLOAD);
			CHECK(!r->ext);
		}
		CHECK_MEM(r->payload, want, PAYLOAD);
	}
}

/* Five speakers, N = 3, and one listener who never talks. */
static void
test_loudest(enum dp_srtp_profile prof)
{
	struct tctx *c = &c1;
	struct dp_gw_room *room = room_new(c, 2, 3);
	static const int lvl[5] = { 10, 20, 30, 60, 90 };
	struct browser *b[6];
	uint64_t ms = 0;
	int base = n_br;

	for (int i = 0; i < 6; i++) {
		struct leg_opts o = { .n_slots = 3, .level_id = 1, .pt = 111 };
		b[i] = add_browser(c, room, prof, &o);
	}
	struct browser *F = b[5];
	/* which sources F hears over a number of 20 ms rounds */
	unsigned heard[5];
	uint32_t last_ts_of_ssrc[DP_GW_MAX_SLOTS];
	uint16_t last_seq_of_ssrc[DP_GW_MAX_SLOTS];
	bool seen_ssrc[DP_GW_MAX_SLOTS] = { false };
	int src_of_ssrc[DP_GW_MAX_SLOTS];
	int bad_seq = 0, bad_ts = 0, switches = 0;

#define ROUNDS(n, elevel)                                                     \
	do {                                                                  \
		memset(heard, 0, sizeof(heard));                              \
		for (int r_ = 0; r_ < (n); r_++, ms += 20) {                  \
			for (int i = 0; i < 5; i++)                           \
				send_rtp(c, b[i], i == 4 ? (elevel) : lvl[i], \
					 at(c, ms));                          \
			drain();                                              \
			for (unsigned j = 0; j < n_rxq; j++) {                \
				struct rx_pkt *r = &rxq[j];                   \
				if (r->rtcp || r->to != F->id)                \
					continue;                             \
				int s = r->payload[0] - base;                 \
				heard[s]++;                                   \
				int k = 0;                                    \
				while (k < F->n_slots &&                      \
				       F->slot_ssrc[k] != r->ssrc)            \
					k++;                                  \
				if (k == F->n_slots)                          \
					continue;                             \
				if (seen_ssrc[k]) {                           \
					bad_seq += (uint16_t)(r->seq -        \
						last_seq_of_ssrc[k]) != 1;    \
					if (src_of_ssrc[k] != s) {            \
						switches++;                   \
						bad_ts += r->ts -             \
						last_ts_of_ssrc[k] < 960;     \
					} else {                              \
						bad_ts += r->ts -             \
						last_ts_of_ssrc[k] != 960;    \
					}                                     \
				}                                             \
				seen_ssrc[k] = true;                          \
				src_of_ssrc[k] = s;                           \
				last_seq_of_ssrc[k] = r->seq;                 \
				last_ts_of_ssrc[k] = r->ts;                   \
			}                                                     \
		}                                                             \
	} while (0)

	/* a second for the levels to settle */
	ROUNDS(50, lvl[4]);
	ROUNDS(10, lvl[4]);
	CHECK(heard[0] == 10 && heard[1] == 10 && heard[2] == 10);
	CHECK(heard[3] == 0 && heard[4] == 0);

	/* 100 ms of shouting from the quietest is not enough */
	uint64_t changes = ctr(c, DP_GW_SELECT_CHANGES);
	ROUNDS(5, 0);
	CHECK(heard[4] == 0);
	ROUNDS(30, lvl[4]);
	CHECK(heard[0] == 30 && heard[1] == 30 && heard[2] == 30);
	CHECK(heard[3] == 0 && heard[4] == 0);
	CHECK_EQ(ctr(c, DP_GW_SELECT_CHANGES), changes);
	CHECK_EQ(switches, 0);
	/* nor 300 ms: louder for less than DP_GW_HOLD_MS all along */
	ROUNDS(15, 0);
	CHECK(heard[4] == 0);
	ROUNDS(30, lvl[4]);
	CHECK(heard[3] == 0 && heard[4] == 0);
	CHECK_EQ(ctr(c, DP_GW_SELECT_CHANGES), changes);
	CHECK_EQ(switches, 0);

	/* 4 dB louder than the quietest selected (D), for a second: less
	 * than DP_GW_HYST_DB, so no change either */
	ROUNDS(50, lvl[3] - 4);
	CHECK(heard[3] == 0 && heard[4] == 0);
	CHECK_EQ(ctr(c, DP_GW_SELECT_CHANGES), changes);

	/* sustained, it takes the slot of the quietest F hears (C) */
	ROUNDS(40, 0);
	CHECK(heard[4] > 0);
	CHECK(ctr(c, DP_GW_SELECT_CHANGES) > changes);
	ROUNDS(10, 0);
	CHECK(heard[0] == 10 && heard[1] == 10 && heard[4] == 10);
	CHECK(heard[2] == 0 && heard[3] == 0);
	/* the slot went on without a break in seq, and ts moved on */
	CHECK_EQ(switches, 1);
	CHECK_EQ(bad_seq, 0);
	CHECK_EQ(bad_ts, 0);
	/* nobody ever heard themselves */
	CHECK_EQ(undecodable, 0);
#undef ROUNDS
}

/*
 * Issue 20: what each listener hears must not depend on the order the
 * speakers joined in, nor on loudness moving among the selected ones. A
 * scenario puts nb speakers into a room of N slots one after another, each
 * at its own level, then checks over half a second that every listener
 * hears exactly the N loudest other speakers, every packet of each.
 */
#define SC_MAX 5
static uint64_t sc_ms = 100000;   /* scenarios run one after another */

struct scenario {
	struct tctx *c;
	struct dp_gw_room *room;
	int nb, n_slots, base;
	struct browser *b[SC_MAX];
	bool joined[SC_MAX];
	int lvl[SC_MAX];              /* RFC 6464 -dBov: lower is louder */
	unsigned heard[SC_MAX][SC_MAX];
	char name[64];
};

static void
sc_begin(struct scenario *sc, int nb, int n_slots, const int *lvl)
{
	memset(sc, 0, sizeof(*sc));
	sc->c = &c1;
	sc->nb = nb;
	sc->n_slots = n_slots;
	sc->base = n_br;
	sc->room = dp_gw_room_new(&sc->c->dp, 7, (uint8_t)n_slots);
	CHECK(sc->room != NULL);
	memcpy(sc->lvl, lvl, (size_t)nb * sizeof(lvl[0]));
}

static void
sc_join(struct scenario *sc, int i)
{
	struct leg_opts o = { .n_slots = (uint8_t)sc->n_slots, .level_id = 1,
			      .pt = 111 };

	sc->b[i] = add_browser(sc->c, sc->room, GCM, &o);
	sc->joined[i] = true;
}

/* The scenario's speaker with browser id, or -1 (ids go by join order). */
static int
sc_index(const struct scenario *sc, int id)
{
	for (int i = 0; i < sc->nb; i++)
		if (sc->joined[i] && sc->b[i]->id == id)
			return i;
	return -1;
}

/* 20 ms rounds: everyone who joined sends one packet; heard[][] counts
 * what each listener got from whom. */
static void
sc_rounds(struct scenario *sc, int rounds)
{
	memset(sc->heard, 0, sizeof(sc->heard));
	for (int r = 0; r < rounds; r++, sc_ms += 20) {
		for (int i = 0; i < sc->nb; i++)
			if (sc->joined[i])
				send_rtp(sc->c, sc->b[i], sc->lvl[i],
					 at(sc->c, sc_ms));
		drain();
		for (unsigned j = 0; j < n_rxq; j++) {
			struct rx_pkt *p = &rxq[j];
			int to = sc_index(sc, p->to), from;

			if (p->rtcp || to < 0)
				continue;
			from = sc_index(sc, p->payload[0]);
			if (from >= 0)
				sc->heard[to][from]++;
		}
	}
}

/* Every listener heard exactly the N loudest others, each every round. */
static void
sc_check(struct scenario *sc, int rounds)
{
	for (int L = 0; L < sc->nb; L++) {
		bool bad = false;

		for (int S = 0; S < sc->nb; S++) {
			int louder = 0;   /* other speakers louder than S */

			if (S == L) {
				bad |= sc->heard[L][S] != 0;
				continue;
			}
			for (int k = 0; k < sc->nb; k++)
				louder += k != L && k != S &&
					  sc->lvl[k] < sc->lvl[S];
			unsigned want = louder < sc->n_slots ? (unsigned)rounds : 0;
			bad |= sc->heard[L][S] != want;
		}
		CHECK(!bad);
		if (bad) {
			fprintf(stderr, "  %s: listener %d (-%d dBov) heard",
				sc->name, L, sc->lvl[L]);
			for (int S = 0; S < sc->nb; S++)
				fprintf(stderr, " %d:%u", S, sc->heard[L][S]);
			fprintf(stderr, " of %d rounds\n", rounds);
		}
	}
}

static void
sc_end(struct scenario *sc)
{
	for (int i = 0; i < sc->nb; i++) {
		if (!sc->joined[i])
			continue;
		CHECK_EQ(dp_gw_leg_unpublish(&sc->c->dp, sc->b[i]->leg, NULL,
					     NULL), 0);
		dp_srtp_ctx_free(sc->b[i]->tx);
		dp_srtp_ctx_free(sc->b[i]->rx);
	}
	dp_gw_room_free(&sc->c->dp, sc->room);
	n_br = sc->base;
	grace(sc->c);
}

/* Next permutation of p[0..n) in lexicographic order; false after the
 * last. */
static bool
next_perm(int *p, int n)
{
	int i = n - 2, j = n - 1;

	while (i >= 0 && p[i] >= p[i + 1])
		i--;
	if (i < 0)
		return false;
	while (p[j] <= p[i])
		j--;
	int t = p[i]; p[i] = p[j]; p[j] = t;
	for (int a = i + 1, b = n - 1; a < b; a++, b--) {
		t = p[a]; p[a] = p[b]; p[b] = t;
	}
	return true;
}

/* Every join order of 4 and 5 speakers, 10 dB apart, with N = 2 and 3:
 * 300 ms between joins, 2 s to settle after the last, then 25 rounds. */
static void
test_join_orders(void)
{
	static const int lvl[SC_MAX] = { 10, 20, 30, 40, 50 };
	struct scenario sc;
	int scenarios = 0;

	for (int nb = 4; nb <= 5; nb++) {
		for (int n = 2; n <= 3; n++) {
			int p[SC_MAX];

			for (int i = 0; i < nb; i++)
				p[i] = i;
			do {
				sc_begin(&sc, nb, n, lvl);
				int o = snprintf(sc.name, sizeof(sc.name),
						 "N=%d join order", n);
				for (int i = 0; i < nb; i++) {
					o += snprintf(sc.name + o,
						      sizeof(sc.name) - (size_t)o,
						      " %c", 'A' + p[i]);
					sc_join(&sc, p[i]);
					sc_rounds(&sc, 15);
				}
				sc_rounds(&sc, 100);
				sc_rounds(&sc, 25);
				sc_check(&sc, 25);
				sc_end(&sc);
				scenarios++;
			} while (next_perm(p, nb));
		}
	}
	CHECK_EQ(scenarios, 2 * 24 + 2 * 120);
	CHECK_EQ(undecodable, 0);
}

/* Loudness moving among the selected speakers, and across the edge of
 * the selection: after the hold time everyone hears the new N loudest. */
static void
test_loudness_swaps(void)
{
	static const int lvl[4] = { 10, 20, 30, 50 };
	struct scenario sc;

	/* joined quietest first: the order issue 20 was found with */
	sc_begin(&sc, 4, 2, lvl);
	snprintf(sc.name, sizeof(sc.name), "N=2 swaps");
	sc_join(&sc, 2);
	sc_rounds(&sc, 15);
	sc_join(&sc, 1);
	sc_rounds(&sc, 15);
	sc_join(&sc, 0);
	sc_rounds(&sc, 15);
	sc_join(&sc, 3);
	sc_rounds(&sc, 100);
	sc_rounds(&sc, 25);
	sc_check(&sc, 25);

	/* A and C trade places: both stay selected (N + 1 = 3), but D, the
	 * one listener outside, must now hear C and B */
	sc.lvl[0] = 30;
	sc.lvl[2] = 10;
	sc_rounds(&sc, 100);
	sc_rounds(&sc, 25);
	sc_check(&sc, 25);

	/* B and D trade: D comes in from outside, B drops out */
	sc.lvl[1] = 50;
	sc.lvl[3] = 20;
	sc_rounds(&sc, 100);
	sc_rounds(&sc, 25);
	sc_check(&sc, 25);

	/* two selected speakers 4 dB apart (under DP_GW_HYST_DB) do not
	 * trade places for the listener outside: it keeps what it heard */
	sc.lvl[0] = 24;   /* A, third of the selected, now 4 dB under C... */
	sc.lvl[3] = 28;   /* ...and D 4 dB under A */
	sc_rounds(&sc, 100);
	unsigned b_heard_c = sc.heard[1][2], b_heard_d = sc.heard[1][3];
	sc_rounds(&sc, 25);
	CHECK_EQ(sc.heard[1][2], 25);     /* B, outside: C, the loudest */
	CHECK(b_heard_c == 100);
	CHECK_EQ(sc.heard[1][3] + sc.heard[1][0], 25); /* and one of D, A */
	CHECK(sc.heard[1][3] == 0 || sc.heard[1][3] == 25);
	(void)b_heard_d;
	sc_end(&sc);
	CHECK_EQ(undecodable, 0);
}

/* RTCP both ways, and the RR a leg gets before anything was sent to it. */
static void
test_rtcp(enum dp_srtp_profile prof)
{
	struct tctx *c = &c1;
	struct dp_gw_room *room = room_new(c, 3, 2);
	struct browser *A, *B;
	struct leg_opts o = { .n_slots = 2, .level_id = 1, .pt = 111 };
	uint8_t buf[256];
	size_t len;

	A = add_browser(c, room, prof, &o);
	/* alone: nothing to forward, so its first report is an RR */
	send_rtp(c, A, 10, at(c, 0));
	CHECK(A->leg->next_rtcp_tsc > at(c, 0));
	uint64_t due = A->leg->next_rtcp_tsc;
	CHECK(due - at(c, 0) <= c->hz * DP_GW_RTCP_MS / 1000);
	send_rtp(c, A, 10, due);
	drain();
	CHECK_EQ(n_rxq, 1);
	CHECK(n_rxq == 1 && rxq[0].rtcp && rxq[0].to == A->id);
	if (n_rxq == 1 && rxq[0].rtcp) {
		const uint8_t *p = rxq[0].d;
		CHECK_EQ(p[1], 201);
		CHECK_EQ(p[0] & 0x1f, 1);
		CHECK_EQ(rd32be(p + 4), A->slot_ssrc[0]);
		CHECK_EQ(rd32be(p + 8), A->ssrc);       /* about A's stream */
		CHECK_EQ(rd32be(p + 4 + 4 + 8) & 0xffff, (uint16_t)(A->seq - 1));
		size_t rr = 4u * (size_t)((p[2] << 8 | p[3]) + 1);
		CHECK_EQ(rr, 32);
		CHECK_EQ(p[rr + 1], 202);
		CHECK_EQ(rd32be(p + rr + 4), A->slot_ssrc[0]);
		CHECK_EQ(p[rr + 8], 1);
		CHECK_EQ(p[rr + 9], strlen(A->cname));
		CHECK_MEM(p + rr + 10, A->cname, strlen(A->cname));
		/* CNAME, END, padded: 4 + 4 + 2 + 11 + 1 → 24 */
		CHECK_EQ(rxq[0].len, rr + 4u * ((p[rr + 2] << 8 | p[rr + 3]) + 1));
		CHECK_EQ(rxq[0].len, rr + 24);
	}
	CHECK(A->leg->next_rtcp_tsc >= due + c->hz * DP_GW_RTCP_MS / 2000);
	CHECK(A->leg->next_rtcp_tsc <= due + c->hz * DP_GW_RTCP_MS * 3 / 2000);

	/* B joins and talks, A hears it; B's SR sets B's LSR, which the
	 * next report to B echoes */
	B = add_browser(c, room, prof, &o);
	uint64_t t = due + c->hz / 50;
	for (int i = 0; i < 5; i++, t += c->hz / 50) {
		send_rtp(c, A, 10, t);
		send_rtp(c, B, 20, t);
	}
	drain();
	CHECK_EQ(count_rtp(A->id), 5);
	CHECK_EQ(count_rtp(B->id), 5);

	/* RFC 3550 §6.4.1 SR from B: NTP 0x11223344.55667788 */
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	buf[1] = 200;
	buf[3] = 6;
	for (int i = 0; i < 4; i++)
		buf[4 + i] = (uint8_t)(B->ssrc >> (24 - 8 * i));
	memcpy(buf + 8, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	CHECK_EQ(dp_srtcp_protect(B->tx, buf, 28, sizeof(buf), &len), 0);
	uint64_t before = ctr(c, DP_GW_RX_RTCP);
	input(c, 0, buf, len, &B->remote, &B->local, t);
	CHECK_EQ(ctr(c, DP_GW_RX_RTCP), before + 1);
	CHECK_EQ(B->leg->rx_stats.lsr, 0x33445566);
	CHECK_EQ(drain(), 0); /* terminated here */
	/* tampered SRTCP is refused (a fresh index, or it is a replay) */
	buf[1] = 200;
	buf[3] = 6;
	for (int i = 0; i < 4; i++)
		buf[4 + i] = (uint8_t)(B->ssrc >> (24 - 8 * i));
	memcpy(buf + 8, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	memset(buf + 16, 0, 12);
	buf[0] = 0x80;
	CHECK_EQ(dp_srtcp_protect(B->tx, buf, 28, sizeof(buf), &len), 0);
	buf[10] ^= 1;
	before = ctr(c, DP_DROP_GW_SRTP_AUTH);
	input(c, 0, buf, len, &B->remote, &B->local, t);
	CHECK_EQ(ctr(c, DP_DROP_GW_SRTP_AUTH), before + 1);

	/* B's next report: an SR from the slot A is on, with B's LSR */
	uint64_t t2 = B->leg->next_rtcp_tsc;
	CHECK(t2 > t);
	uint64_t dl_ticks = t2 - t;
	send_rtp(c, B, 20, t2);
	drain();
	int found = 0;
	for (unsigned i = 0; i < n_rxq; i++) {
		struct rx_pkt *r = &rxq[i];
		if (!r->rtcp || r->to != B->id)
			continue;
		const uint8_t *p = r->d;
		found++;
		CHECK_EQ(p[1], 200);
		CHECK_EQ(p[0] & 0x1f, 1);
		uint32_t sender = rd32be(p + 4);
		CHECK(sender == B->slot_ssrc[0] || sender == B->slot_ssrc[1]);
		CHECK_EQ(rd32be(p + 20), 5);             /* packets sent */
		CHECK_EQ(rd32be(p + 24), 5 * PAYLOAD);    /* octets */
		/* NTP now, within a second of the clock */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint32_t ntp_s = rd32be(p + 8);
		long diff = (long)ntp_s - (long)((uint64_t)ts.tv_sec + 2208988800u);
		CHECK(diff >= -5 && diff <= 60);
		const uint8_t *rb = p + 28;
		CHECK_EQ(rd32be(rb), B->ssrc);
		CHECK_EQ(rd32be(rb + 4) >> 24, 0);        /* nothing lost */
		CHECK_EQ(rd32be(rb + 8) & 0xffff, (uint16_t)(B->seq - 1));
		CHECK_EQ(rd32be(rb + 16), 0x33445566);
		uint32_t dlsr = rd32be(rb + 20);
		uint64_t want = dl_ticks * 65536 / c->hz;
		CHECK(dlsr + 2 >= want && dlsr <= want + 2);
		size_t sr = 4u * (size_t)((p[2] << 8 | p[3]) + 1);
		CHECK_EQ(sr, 52);
		CHECK_EQ(p[sr + 1], 202);
		CHECK_EQ(p[sr] & 0x1f, 1);
		CHECK_EQ(rd32be(p + sr + 4), sender);
		CHECK_EQ(p[sr + 8], 1);
		CHECK_MEM(p + sr + 10, B->cname, strlen(B->cname));
	}
	CHECK_EQ(found, 1);
	CHECK(ctr(c, DP_GW_RTCP_SENT) >= 2);
}

/* A room on worker 1, its packets received by worker 0. */
static void
test_handoff(enum dp_srtp_profile prof)
{
	struct tctx *c = &c2;
	struct dp_gw_room *r0 = room_new(c, 10, 2);
	struct dp_gw_room *r1 = room_new(c, 11, 2);
	struct leg_opts o = { .n_slots = 2, .level_id = 1, .pt = 111 };
	struct browser *X, *Y;
	uint8_t buf[1600];
	uint64_t v = 0;

	CHECK(r0 != NULL && r1 != NULL);
	if (!r0 || !r1)
		return;
	CHECK_EQ(r0->owner, 0);
	CHECK_EQ(r1->owner, 1);
	X = add_browser(c, r1, prof, &o);
	Y = add_browser(c, r1, prof, &o);

	/* counters carry over from the other profile's round */
	uint64_t *c0 = c->workers[0].ctr, *c1w = c->workers[1].ctr;
	uint64_t hand0 = c0[DP_GW_HANDOFF], rx0 = c0[DP_GW_RX_RTP];
	uint64_t rx1 = c1w[DP_GW_RX_RTP], hand1 = c1w[DP_GW_HANDOFF];
	uint64_t full0 = c0[DP_DROP_GW_HANDOFF_FULL];
	struct rtp_opts ro = { .level = 10 };
	size_t len = make_rtp(X, &ro, buf);
	__atomic_store_n(&c->workers[1].sleeping, 1, __ATOMIC_RELAXED);
	input(c, 0, buf, len, &X->remote, &X->local, at(c, 0));
	CHECK_EQ(c0[DP_GW_HANDOFF], hand0 + 1);
	CHECK_EQ(rte_ring_count(c->workers[1].gw_ring), 1);
	CHECK_EQ(c0[DP_GW_RX_RTP], rx0);
	CHECK_EQ(n_outq, 0);
	/* the sleeping owner was woken */
	CHECK_EQ(read(c->workers[1].wake_fd, &v, 8), 8);
	CHECK_EQ(v, 1);
	__atomic_store_n(&c->workers[1].sleeping, 0, __ATOMIC_RELAXED);

	CHECK(!dp_gw_poll(&c->workers[0], at(c, 0)));
	CHECK(dp_gw_poll(&c->workers[1], at(c, 0)));
	CHECK_EQ(c1w[DP_GW_RX_RTP], rx1 + 1);
	drain();
	CHECK_EQ(n_rxq, 1);
	if (n_rxq == 1) {
		CHECK_EQ(rxq[0].to, Y->id);
		CHECK_EQ(rxq[0].worker, 1);
		CHECK(!rxq[0].rtcp);
	}
	CHECK(!dp_gw_poll(&c->workers[1], at(c, 0)));
	/* the owner's own packets need no handoff */
	len = make_rtp(Y, &ro, buf);
	input(c, 1, buf, len, &Y->remote, &Y->local, at(c, 20));
	CHECK_EQ(c1w[DP_GW_HANDOFF], hand1);
	CHECK_EQ(c1w[DP_GW_RX_RTP], rx1 + 2);
	drain();
	CHECK_EQ(count_rtp(X->id), 1);
	/* a full ring drops and counts */
	struct rte_ring *ring = c->workers[1].gw_ring;
	unsigned free_n = rte_ring_free_count(ring);
	void *dummy[1024];
	struct rte_mbuf *fill = rte_pktmbuf_alloc(c->dp.pool);
	for (unsigned i = 0; i < free_n && i < 1024; i++)
		dummy[i] = fill;
	CHECK_EQ(rte_ring_enqueue_burst(ring, dummy, free_n, NULL), free_n);
	len = make_rtp(X, &ro, buf);
	input(c, 0, buf, len, &X->remote, &X->local, at(c, 40));
	CHECK_EQ(c0[DP_DROP_GW_HANDOFF_FULL], full0 + 1);
	while (rte_ring_dequeue(ring, dummy) == 0)
		;
	rte_pktmbuf_free(fill);
	(void)r0;
}

/* The key wipe after the grace period. */
static const uint8_t *wiped;
static size_t wiped_len;
static int wipe_calls, done_calls;

static void
wipe_hook(const void *mem, size_t len)
{
	uint8_t *copy = malloc(len);
	memcpy(copy, mem, len);
	free((void *)wiped);
	wiped = copy;
	wiped_len = len;
	wipe_calls++;
}

static void
done_cb(void *arg)
{
	(void)arg;
	done_calls++;
}

static void
test_wipe(enum dp_srtp_profile prof)
{
	struct tctx *c = &c1;
	struct dp_gw_room *room = room_new(c, 4, 1);
	struct leg_opts o = { .n_slots = 1, .level_id = 1, .pt = 111 };
	struct dp_srtp_session_keys rks, lks;
	struct browser *A, *B;

	A = add_browser(c, room, prof, &o);
	B = add_browser(c, room, prof, &o);
	send_rtp(c, A, 10, at(c, 0));
	send_rtp(c, B, 10, at(c, 0));
	drain();
	CHECK_EQ(count_rtp(-1), 2);
	CHECK_EQ(dp_srtp_kdf(prof, A->rk.key, A->rk.key_len, A->rk.salt,
			     A->rk.salt_len, &rks), 0);
	CHECK_EQ(dp_srtp_kdf(prof, A->lk.key, A->lk.key_len, A->lk.salt,
			     A->lk.salt_len, &lks), 0);
	size_t sl = prof == GCM ? 12 : 14;
	/* before the wipe the leg's memory holds its session salts (the
	 * contexts keep them in place), so the search below can fail */
	const uint8_t *mem = (const uint8_t *)A->leg;
	size_t span = sizeof(struct dp_gw_leg) + 2 * dp_srtp_ctx_size();
	CHECK(memmem(mem, span, rks.rtp_salt, sl) != NULL);
	CHECK(memmem(mem, span, lks.rtp_salt, sl) != NULL);

	dp_gw_wipe_hook = wipe_hook;
	wipe_calls = done_calls = 0;
	CHECK_EQ(dp_gw_leg_unpublish(&c->dp, A->leg, done_cb, NULL), 0);
	/* out of the table at once */
	uint64_t before = ctr(c, DP_DROP_GW_NO_LEG);
	send_rtp(c, A, 10, at(c, 20));
	CHECK_EQ(ctr(c, DP_DROP_GW_NO_LEG), before + 1);
	/* B talks on; nobody hears it (A left) */
	send_rtp(c, B, 10, at(c, 20));
	CHECK_EQ(drain(), 0);
	/* the worker has not passed a quiescent state: nothing freed */
	dp_tables_reclaim(&c->dp.tables);
	CHECK_EQ(wipe_calls, 0);
	CHECK_EQ(done_calls, 0);
	grace(c);
	CHECK_EQ(wipe_calls, 1);
	CHECK_EQ(done_calls, 1);
	CHECK(wiped != NULL && wiped_len >= sizeof(struct dp_gw_leg) +
					    2 * dp_srtp_ctx_size());
	if (wiped != NULL) {
		bool zero = true;
		for (size_t i = 0; i < wiped_len; i++)
			zero &= wiped[i] == 0;
		CHECK(zero);
		const uint8_t *secrets[] = {
			A->rk.key, A->rk.salt, A->lk.key, A->lk.salt,
			rks.rtp_key, rks.rtp_salt, rks.rtcp_key, rks.rtcp_salt,
			lks.rtp_key, lks.rtp_salt, lks.rtcp_key, lks.rtcp_salt,
		};
		size_t lens[] = { 16, sl, 16, sl, 16, sl, 16, sl, 16, sl, 16, sl };
		for (unsigned i = 0; i < RTE_DIM(secrets); i++)
			CHECK(memmem(wiped, wiped_len, secrets[i], lens[i]) == NULL);
		if (prof == CM) {
			CHECK(memmem(wiped, wiped_len, rks.rtp_auth, 20) == NULL);
			CHECK(memmem(wiped, wiped_len, lks.rtp_auth, 20) == NULL);
		}
	}
	dp_gw_wipe_hook = NULL;
	A->leg = NULL;
	explicit_bzero(&rks, sizeof(rks));
	explicit_bzero(&lks, sizeof(lks));

	/* an index freed in the room is reused by the next leg, which B
	 * then hears as a new source */
	struct browser *C = add_browser(c, room, prof, &o);
	CHECK_EQ(C->leg->idx, 0);
	send_rtp(c, C, 10, at(c, 40));
	send_rtp(c, B, 10, at(c, 40));
	drain();
	CHECK_EQ(count_rtp(B->id), 1);
	CHECK_EQ(count_rtp(C->id), 1);
}

/* A leg whose browser moved to another address. */
static void
test_move(enum dp_srtp_profile prof)
{
	struct tctx *c = &c1;
	struct dp_gw_room *room = room_new(c, 5, 2);
	struct leg_opts o = { .n_slots = 2, .level_id = 1, .pt = 111 };
	struct browser *A = add_browser(c, room, prof, &o);
	struct browser *B = add_browser(c, room, prof, &o);
	struct sotto_addr old = A->remote;
	struct sotto_addr moved = v4(0x0c000001, 6000);

	send_rtp(c, A, 10, at(c, 0));
	send_rtp(c, B, 10, at(c, 0));
	drain();
	CHECK_EQ(count_rtp(-1), 2);
	/* onto B's 5-tuple: refused */
	CHECK_EQ(dp_gw_leg_move(&c->dp, A->leg, &B->remote, &B->local, 1),
		 -EEXIST);
	CHECK_EQ(dp_gw_leg_move(&c->dp, A->leg, &moved, &A->local, 555), 0);
	A->remote = moved;
	send_rtp(c, A, 10, at(c, 20));
	send_rtp(c, B, 10, at(c, 20));
	drain();
	CHECK_EQ(count_rtp(B->id), 1);
	CHECK_EQ(count_rtp(A->id), 1);
	for (unsigned i = 0; i < n_rxq; i++)
		if (rxq[i].to == A->id) {
			CHECK(sotto_addr_eq(&rxq[i].dst, &moved));
			CHECK_EQ(rxq[i].sock, 555);
		}
	/* the old address has no leg any more */
	uint8_t buf[1600];
	struct rtp_opts ro = { .level = 10 };
	size_t len = make_rtp(A, &ro, buf);
	uint64_t before = ctr(c, DP_DROP_GW_NO_LEG);
	input(c, 0, buf, len, &old, &A->local, at(c, 40));
	CHECK_EQ(ctr(c, DP_DROP_GW_NO_LEG), before + 1);
	CHECK_EQ(drain(), 0);
	grace(c); /* the old address and key slot are freed */
	send_rtp(c, A, 10, at(c, 60));
	drain();
	CHECK_EQ(count_rtp(B->id), 1);
	/* unpublishing a moved leg removes its new key */
	CHECK_EQ(dp_gw_leg_unpublish(&c->dp, A->leg, NULL, NULL), 0);
	before = ctr(c, DP_DROP_GW_NO_LEG);
	send_rtp(c, A, 10, at(c, 80));
	CHECK_EQ(ctr(c, DP_DROP_GW_NO_LEG), before + 1);
	grace(c);
	A->leg = NULL;
}

/* The per-leg input cap (DP_GW_LEG_BYTES_PER_S, DP_GW_LEG_BURST), taken
 * before the decrypt: a leg far over it gets DP_DROP_BANDWIDTH drops and
 * those packets go nowhere; one at a voice rate never does; and a leg's
 * cap is its own. */
static void
test_in_cap(enum dp_srtp_profile prof)
{
	struct tctx *c = &c1;
	struct dp_gw_room *room = room_new(c, 6, 2);
	struct leg_opts o = { .n_slots = 2, .level_id = 1, .pt = 111 };
	struct browser *A = add_browser(c, room, prof, &o);
	struct browser *B = add_browser(c, room, prof, &o);
	/* dp_gw_leg_new started each leg's bucket at the real rte_rdtsc(),
	 * so this test's clock starts at the real clock too, after both (the
	 * harness's at() may lie before or after it: a bucket sees a clock
	 * going back as a long idle time, i.e. full) */
	uint64_t t0 = rte_rdtsc(), hz = c->hz;
	uint8_t buf[1600];
	struct rtp_opts ro = { .level = 10 };
	size_t len = make_rtp(A, &ro, buf); /* what send_rtp(A) sends */
	uint64_t bw = ctr(c, DP_DROP_BANDWIDTH);
	uint64_t a_drops = A->leg->drops, b_drops = B->leg->drops;
	unsigned heard_a = 0, heard_b = 0;

	CHECK(len >= 130 && len <= 160); /* an Opus packet's size */

	/* 5 s at 50 packets/s each: more than twice the burst in all, so the
	 * bucket must refill at its rate for none to be dropped */
	CHECK(250 * len > 2 * DP_GW_LEG_BURST);
	for (uint64_t i = 0; i < 250; i++) {
		uint64_t t = t0 + i * hz / 50;
		if (i == 0)
			input(c, 0, buf, len, &A->remote, &A->local, t);
		else
			send_rtp(c, A, 10, t);
		send_rtp(c, B, 20, t);
		if (i % 50 == 49) {
			drain();
			heard_a += count_rtp(A->id);
			heard_b += count_rtp(B->id);
		}
	}
	CHECK_EQ(ctr(c, DP_DROP_BANDWIDTH), bw);
	CHECK_EQ(A->leg->drops, a_drops);
	CHECK_EQ(B->leg->drops, b_drops);
	CHECK_EQ(heard_a, 250);
	CHECK_EQ(heard_b, 250);

	/* A floods: 400 packets within 10 ms, 3.5 bursts; B talks on */
	uint64_t t1 = t0 + 5 * hz;
	for (uint64_t k = 0; k < 400; k++) {
		send_rtp(c, A, 10, t1 + k * hz / 40000);
		if (k % 200 == 0)
			send_rtp(c, B, 20, t1 + k * hz / 40000);
	}
	drain();
	uint64_t dropped = ctr(c, DP_DROP_BANDWIDTH) - bw;
	unsigned fwd = count_rtp(B->id);
	CHECK(dropped > 0);
	CHECK_EQ(fwd + dropped, 400);
	/* what got through: the burst, and what 10 ms refilled */
	CHECK(fwd * len + len > DP_GW_LEG_BURST);
	CHECK(fwd * len <= DP_GW_LEG_BURST + DP_GW_LEG_BYTES_PER_S / 100);
	CHECK_EQ(A->leg->drops, a_drops + dropped);
	/* B's cap is its own: its packets all went on */
	CHECK_EQ(count_rtp(A->id), 2);
	CHECK_EQ(B->leg->drops, b_drops);
	CHECK_EQ(undecodable, 0);

	/* a second at twice the rate: about the rate gets through, no more
	 * (the bucket is empty at its start) */
	uint64_t t2 = t1 + hz / 100, bw2 = ctr(c, DP_DROP_BANDWIDTH);
	unsigned n2 = (unsigned)(2 * DP_GW_LEG_BYTES_PER_S / len);
	fwd = 0;
	for (uint64_t k = 1; k <= n2; k++) {
		send_rtp(c, A, 10, t2 + k * hz / n2);
		if (k % 500 == 0 || k == n2) {
			drain();
			fwd += count_rtp(B->id);
		}
	}
	dropped = ctr(c, DP_DROP_BANDWIDTH) - bw2;
	CHECK_EQ(fwd + dropped, n2);
	/* (the bucket keeps its rate in whole bytes * 2^20 per tick: a few
	 * per cent less than asked for at GHz clocks) */
	CHECK(fwd * len >= DP_GW_LEG_BYTES_PER_S * 9 / 10);
	CHECK(fwd * len <= DP_GW_LEG_BYTES_PER_S * 101 / 100 + 2 * len);

	/* after 300 ms of quiet the bucket is full again: a voice rate goes
	 * through whole */
	uint64_t t3 = t2 + hz + 3 * hz / 10;
	bw = ctr(c, DP_DROP_BANDWIDTH);
	for (uint64_t i = 0; i < 50; i++)
		send_rtp(c, A, 10, t3 + i * hz / 50);
	drain();
	CHECK_EQ(count_rtp(B->id), 50);
	CHECK_EQ(ctr(c, DP_DROP_BANDWIDTH), bw);
}

int
main(void)
{
	static const enum dp_srtp_profile profs[2] = { GCM, CM };

	CHECK(test_eal_init() == 0);
	CHECK_EQ(ctx_setup(&c1, "gw1", 1), 0);
	CHECK_EQ(ctx_setup(&c2, "gw2", 2), 0);
	c1.workers[0].emit = collect;
	c2.workers[0].emit = collect;
	c2.workers[1].emit = collect;

	for (int i = 0; i < 2; i++) {
		bool last = i == 1;

		test_three(profs[i]);
		test_loudest(profs[i]);
		test_rtcp(profs[i]);
		test_handoff(profs[i]);
		test_wipe(profs[i]);
		test_move(profs[i]);
		test_in_cap(profs[i]);
		if (i == 0) {
			/* the selection does not depend on the profile */
			test_join_orders();
			test_loudness_swaps();
		}
		CHECK_EQ(undecodable, 0);
		/* the round's legs and rooms go; in the last round c2's wait
		 * past dp_gw_fini (dp_tables_fini runs them) */
		done_calls = 0;
		int pending = 0, live = 0;
		for (int j = 0; j < n_br; j++) {
			if (br[j].leg != NULL) {
				live++;
				CHECK_EQ(dp_gw_leg_unpublish(&br[j].c->dp,
							     br[j].leg, done_cb,
							     NULL), 0);
				pending += br[j].c == &c2;
			}
			dp_srtp_ctx_free(br[j].tx);
			dp_srtp_ctx_free(br[j].rx);
		}
		for (int j = 0; j < n_rooms; j++)
			dp_gw_room_free(&rooms[j].c->dp, rooms[j].r);
		n_br = n_rooms = 0;
		grace(&c1);
		if (!last)
			grace(&c2);
		CHECK_EQ(done_calls + (last ? pending : 0), live);
		CHECK(live > 0);
	}

	/* fini with frees still deferred (c2), or a leg still published
	 * (c1: wiped at fini, no grace period needed) */
	struct leg_opts o = { .n_slots = 1, .level_id = 1, .pt = 111 };
	struct dp_gw_room *last_room = dp_gw_room_new(&c1.dp, 99, 1);
	struct browser *lb = add_browser(&c1, last_room, GCM, &o);
	send_rtp(&c1, lb, 10, at(&c1, 0));
	dp_gw_wipe_hook = wipe_hook;
	wipe_calls = 0;
	int before_fini = done_calls;
	for (int k = 0; k < 2; k++) {
		struct tctx *c = k ? &c1 : &c2;
		int wipes = wipe_calls;
		dp_gw_fini(&c->dp);
		CHECK(c->dp.gw == NULL);
		CHECK(c->workers[0].gw_ring == NULL);
		dp_gw_fini(&c->dp);  /* twice, or never initialised: no-op */
		if (c == &c1) {
			CHECK_EQ(wipe_calls, wipes + 1);
			bool zero = wiped != NULL;
			for (size_t i = 0; zero && i < wiped_len; i++)
				zero = wiped[i] == 0;
			CHECK(zero);
			dp_gw_room_free(&c->dp, last_room);
		}
		else
			CHECK_EQ(wipe_calls, wipes); /* deferred: not yet */
		dp_tables_fini(&c->dp.tables);
	}
	CHECK_EQ(wipe_calls, 1 + 2);  /* c2's two deferred legs, then c1's */
	CHECK(done_calls > before_fini);
	dp_srtp_ctx_free(lb->tx);
	dp_srtp_ctx_free(lb->rx);
	dp_gw_wipe_hook = NULL;
	free((void *)wiped);
	return check_done("gateway");
}
