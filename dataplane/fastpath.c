/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay fast path (RFC 8656 §11-12): ChannelData from clients to peers,
 * and peer data back to clients as ChannelData or Data indications. It only
 * looks state up; a miss drops and counts. STUN messages go to the control
 * thread over the exception ring. No allocation, locks, syscalls (except the
 * eventfd kick when the control thread sleeps) or logging in here.
 */
#include <string.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "chandata.h"
#include "dp.h"
#include "stun.h"

static inline bool
perm_ok(const struct dp_peerset *ps, const struct sotto_addr *peer)
{
	for (uint16_t i = 0; i < ps->n_perms; i++)
		if (sotto_addr_ip_eq(&ps->perms[i], peer))
			return true;
	return false;
}

static inline const struct dp_chan *
chan_by_num(const struct dp_peerset *ps, uint16_t num)
{
	for (uint16_t i = 0; i < ps->n_chans; i++)
		if (ps->chans[i].num == num)
			return &ps->chans[i];
	return NULL;
}

static inline const struct dp_chan *
chan_by_peer(const struct dp_peerset *ps, const struct sotto_addr *peer)
{
	for (uint16_t i = 0; i < ps->n_chans; i++)
		if (sotto_addr_eq(&ps->chans[i].peer, peer))
			return &ps->chans[i];
	return NULL;
}

static inline struct dp_peerset *
peers_of(struct dp_alloc *a)
{
	return __atomic_load_n(&a->peers, __ATOMIC_ACQUIRE);
}

/* Client → peer: ChannelData arriving at a TURN listener. */
static inline int
from_client(struct dp_worker *w, struct rte_mbuf *m, struct dp_meta *meta,
	    const uint8_t *p, uint32_t len, uint64_t now)
{
	struct dp_client_key key = { .client = meta->src, .listener = meta->dst };
	struct dp_alloc *a;
	uint16_t num;
	int dlen;

	dlen = chandata_parse(p, len, &num);
	if (unlikely(dlen < 0))
		return DP_DROP_MALFORMED;
	if (unlikely(rte_hash_lookup_data(w->dp->tables.by_client, &key,
					  (void **)&a) < 0))
		return DP_DROP_NO_ALLOCATION;
	struct dp_peerset *ps = peers_of(a);
	if (unlikely(ps == NULL))
		return DP_DROP_NO_ALLOCATION;
	const struct dp_chan *ch = chan_by_num(ps, num);
	if (unlikely(ch == NULL))
		return DP_DROP_NO_CHANNEL;
	if (unlikely(!perm_ok(ps, &ch->peer)))
		return DP_DROP_NO_PERMISSION;
	if (unlikely(!dp_bucket_take(&a->bucket[DP_DIR_TO_PEER], now,
				     (uint32_t)dlen)))
		return DP_DROP_BANDWIDTH;

	rte_pktmbuf_adj(m, CHANDATA_HDR_LEN);
	rte_pktmbuf_trim(m, (uint16_t)(len - CHANDATA_HDR_LEN - (uint32_t)dlen));
	meta->src = a->relay;
	meta->dst = ch->peer;
	meta->sock = a->relay_sock;
	w->ctr[DP_RELAY_TO_PEER]++;
	return -1;
}

/* Writes an XOR-PEER-ADDRESS value (RFC 8489 §14.2). */
static inline uint16_t
put_xor_addr(uint8_t *v, const struct sotto_addr *a, const uint8_t *tid)
{
	static const uint8_t cookie[4] = { 0x21, 0x12, 0xA4, 0x42 };

	v[0] = 0;
	v[1] = a->family == AF_INET ? 0x01 : 0x02;
	v[2] = (uint8_t)(a->port >> 8) ^ cookie[0];
	v[3] = (uint8_t)a->port ^ cookie[1];
	if (a->family == AF_INET) {
		for (int i = 0; i < 4; i++)
			v[4 + i] = a->ip[i] ^ cookie[i];
		return 8;
	}
	for (int i = 0; i < 4; i++)
		v[4 + i] = a->ip[i] ^ cookie[i];
	for (int i = 4; i < 16; i++)
		v[4 + i] = a->ip[i] ^ tid[i - 4];
	return 20;
}

/* Data indication around the payload already in m (RFC 8656 §11.4). */
static inline int
wrap_data_indication(struct dp_worker *w, struct rte_mbuf *m,
		     const struct sotto_addr *peer, uint32_t len)
{
	uint16_t alen = peer->family == AF_INET ? 8 : 20;
	uint16_t hlen = (uint16_t)(STUN_HDR_LEN + 4 + alen + 4);
	uint32_t pad = (4 - (len & 3)) & 3;
	uint8_t *h, *t;

	if (unlikely(rte_pktmbuf_headroom(m) < hlen ||
		     rte_pktmbuf_tailroom(m) < pad))
		return DP_DROP_NO_ROOM;
	h = (uint8_t *)rte_pktmbuf_prepend(m, hlen);
	if (pad) {
		t = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)pad);
		memset(t, 0, pad);
	}

	uint16_t mlen = (uint16_t)(hlen - STUN_HDR_LEN + len + pad);
	uint16_t type = stun_type(TURN_DATA, STUN_INDICATION);
	uint8_t *tid = h + 8;
	uint32_t cookie = rte_cpu_to_be_32(STUN_MAGIC);

	h[0] = (uint8_t)(type >> 8);
	h[1] = (uint8_t)type;
	h[2] = (uint8_t)(mlen >> 8);
	h[3] = (uint8_t)mlen;
	memcpy(h + 4, &cookie, 4);
	/* indications need no unique id, only a fresh-looking one */
	w->tid_seq++;
	memcpy(tid, &w->tid_seq, 8);
	memcpy(tid + 8, &w->id, 2);
	tid[10] = tid[11] = 0;

	uint8_t *a = h + STUN_HDR_LEN;
	a[0] = STUN_A_XOR_PEER_ADDRESS >> 8;
	a[1] = STUN_A_XOR_PEER_ADDRESS & 0xff;
	a[2] = 0;
	a[3] = (uint8_t)alen;
	put_xor_addr(a + 4, peer, tid);
	a += 4 + alen;
	a[0] = STUN_A_DATA >> 8;
	a[1] = STUN_A_DATA & 0xff;
	a[2] = (uint8_t)(len >> 8);
	a[3] = (uint8_t)len;
	return -1;
}

/* Peer → client: anything arriving at a relayed address. */
static inline int
from_peer(struct dp_worker *w, struct rte_mbuf *m, struct dp_meta *meta,
	  uint32_t len, uint64_t now)
{
	struct dp_alloc *a;

	if (unlikely(rte_hash_lookup_data(w->dp->tables.by_relay, &meta->dst,
					  (void **)&a) < 0))
		return DP_DROP_NO_ALLOCATION;
	struct dp_peerset *ps = peers_of(a);
	if (unlikely(ps == NULL))
		return DP_DROP_NO_ALLOCATION;
	/* RFC 8656 §11.3: no permission for the source IP → discard */
	if (unlikely(!perm_ok(ps, &meta->src)))
		return DP_DROP_NO_PERMISSION;
	if (unlikely(len > 0xffff - 64))
		return DP_DROP_MALFORMED;
	if (unlikely(!dp_bucket_take(&a->bucket[DP_DIR_TO_CLIENT], now, len)))
		return DP_DROP_BANDWIDTH;

	const struct dp_chan *ch = chan_by_peer(ps, &meta->src);
	if (likely(ch != NULL)) {
		/* RFC 8656 §12.5: over UDP, no padding */
		uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(m, CHANDATA_HDR_LEN);
		if (unlikely(h == NULL))
			return DP_DROP_NO_ROOM;
		chandata_write_hdr(h, ch->num, (uint16_t)len);
	} else {
		int r = wrap_data_indication(w, m, &meta->src, len);
		if (unlikely(r >= 0))
			return r;
	}
	meta->src = a->listener;
	meta->dst = a->client;
	meta->sock = a->listener_sock;
	w->ctr[DP_RELAY_TO_CLIENT]++;
	return -1;
}

static inline void
to_control(struct dp_worker *w, struct rte_mbuf **exc, unsigned n)
{
	struct dp_ctx *dp = w->dp;
	unsigned q = rte_ring_mp_enqueue_burst(dp->exc_ring, (void **)exc, n,
					       NULL);

	if (unlikely(q < n)) {
		w->ctr[DP_DROP_EXCEPTION_FULL] += n - q;
		rte_pktmbuf_free_bulk(exc + q, n - q);
	}
	w->ctr[DP_EXCEPTIONS] += q;
	/* pairs with the fence in the control loop before it sleeps */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q && __atomic_load_n(&dp->ctl_sleeping, __ATOMIC_RELAXED)) {
		uint64_t one = 1;
		/* once a burst, only while the control thread sleeps */
		ssize_t r = write(dp->exc_fd, &one, 8); /* fastpath-allow: wake */
		(void)r;
	}
}

uint16_t
dp_fastpath(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
	    struct rte_mbuf **tx)
{
	struct rte_mbuf *exc[DP_BURST];
	uint16_t n_tx = 0;
	unsigned n_exc = 0;
	uint64_t now = rte_rdtsc();

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct dp_meta *meta = dp_meta(m);
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(m);
		int drop;

		w->ctr[DP_RX_PACKETS]++;
		w->ctr[DP_RX_BYTES] += len;
		meta->worker = w->id;

		if (meta->sock_kind == DP_SOCK_RELAY) {
			drop = from_peer(w, m, meta, len, now);
		} else if (unlikely(len == 0)) {
			drop = DP_DROP_MALFORMED;
		} else if (p[0] >= 64 && p[0] <= 127) {
			/* ChannelData: 64-79 (RFC 7983), up to 127 for the
			 * RFC 5766 channel range; a TURN listener carries no
			 * RTP or DTLS to confuse it with */
			drop = from_client(w, m, meta, p, len, now);
		} else if (p[0] <= 3) {
			if (unlikely(n_exc == DP_BURST)) {
				to_control(w, exc, n_exc);
				n_exc = 0;
			}
			exc[n_exc++] = m;
			continue;
		} else {
			drop = DP_DROP_UNKNOWN_CLASS;
		}

		if (likely(drop < 0)) {
			tx[n_tx++] = m;
		} else {
			w->ctr[drop]++;
			rte_pktmbuf_free(m);
		}
	}
	if (n_exc)
		to_control(w, exc, n_exc);
	return n_tx;
}
