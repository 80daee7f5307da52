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
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "chandata.h"
#include "dp.h"
#include "policer.h"
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

/* Client → peer: ChannelData arriving at a TURN listener; a is the
 * allocation of (client, listener), or NULL. */
static inline int
from_client(struct dp_worker *w, struct rte_mbuf *m, struct dp_meta *meta,
	    struct dp_alloc *a, uint64_t now)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	uint16_t num;
	int dlen;

	dlen = chandata_parse(p, len, &num);
	if (unlikely(dlen < 0))
		return DP_DROP_MALFORMED;
	if (unlikely(a == NULL))
		return DP_DROP_NO_ALLOCATION;
	struct dp_peerset *ps = peers_of(a);
	if (unlikely(ps == NULL))
		return DP_DROP_NO_ALLOCATION;
	const struct dp_chan *ch = chan_by_num(ps, num);
	if (unlikely(ch == NULL))
		return DP_DROP_NO_CHANNEL;
	if (unlikely(!perm_ok(ps, &ch->peer)))
		return DP_DROP_NO_PERMISSION;
	if (unlikely(a->capped &&
		     !dp_bucket_take(&a->bucket[DP_DIR_TO_PEER], now,
				     (uint32_t)dlen)))
		return DP_DROP_BANDWIDTH;

	rte_pktmbuf_adj(m, CHANDATA_HDR_LEN);
	rte_pktmbuf_trim(m, (uint16_t)(len - CHANDATA_HDR_LEN - (uint32_t)dlen));
	meta->src = a->relay;
	meta->dst = ch->peer;
	meta->sock = a->relay_sock;
	w->ctr[DP_RELAY_TO_PEER]++;
	w->ctr[DP_RELAY_BYTES_TO_PEER] += (uint32_t)dlen;
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

/* Peer → client: anything arriving at a relayed address; a is the
 * allocation holding it, or NULL. */
static inline int
from_peer(struct dp_worker *w, struct rte_mbuf *m, struct dp_meta *meta,
	  struct dp_alloc *a, uint64_t now)
{
	uint32_t len = rte_pktmbuf_data_len(m);

	if (unlikely(a == NULL))
		return DP_DROP_NO_ALLOCATION;
	struct dp_peerset *ps = peers_of(a);
	if (unlikely(ps == NULL))
		return DP_DROP_NO_ALLOCATION;
	/* RFC 8656 §11.3: no permission for the source IP → discard */
	if (unlikely(!perm_ok(ps, &meta->src)))
		return DP_DROP_NO_PERMISSION;
	if (unlikely(len > 0xffff - 64))
		return DP_DROP_MALFORMED;
	if (unlikely(a->capped &&
		     !dp_bucket_take(&a->bucket[DP_DIR_TO_CLIENT], now, len)))
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
	w->ctr[DP_RELAY_BYTES_TO_CLIENT] += len;
	return -1;
}

/*
 * A Send indication (RFC 8656 §11.2) from a client with an allocation
 * takes its bytes from the same to-peer bucket as ChannelData, here where
 * that bucket's one writer is: the worker that receives the client's
 * 5-tuple. Charged whole (STUN header and attributes too): a little
 * stricter than ChannelData, never looser. True if it may go on.
 */
static inline bool
send_within_cap(struct dp_alloc *a, const uint8_t *p, uint32_t len,
		uint64_t now)
{
	if (len < STUN_HDR_LEN || p[0] != 0 ||
	    p[1] != (stun_type(TURN_SEND, STUN_INDICATION) & 0xff))
		return true;
	return !a->capped ||
	       dp_bucket_take(&a->bucket[DP_DIR_TO_PEER], now, len);
}

void
dp_to_control(struct dp_worker *w, struct rte_mbuf **exc, unsigned n,
	      bool known, uint64_t now)
{
	struct dp_ctx *dp = w->dp;
	struct rte_ring *ring = known ? dp->exc_ring : dp->exc_new;
	unsigned q, k = 0;

	if (w->pol != NULL) {
		for (unsigned i = 0; i < n; i++) {
			if (likely(dp_policer_allow(w->pol,
						    &dp_meta(exc[i])->src, now))) {
				exc[k++] = exc[i];
			} else {
				w->ctr[DP_DROP_EXCEPTION_POLICED]++;
				rte_pktmbuf_free(exc[i]);
			}
		}
		n = k;
	}
	if (n == 0)
		return;
	q = rte_ring_mp_enqueue_burst(ring, (void **)exc, n, NULL);
	if (unlikely(q < n)) {
		w->ctr[DP_DROP_EXCEPTION_FULL] += n - q;
		rte_pktmbuf_free_bulk(exc + q, n - q);
	}
	w->ctr[DP_EXCEPTIONS] += q;
	if (!known)
		w->ctr[DP_EXCEPTIONS_NEW] += q;
	/* pairs with the fence in the control loop before it sleeps */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q && __atomic_load_n(&dp->ctl_sleeping, __ATOMIC_RELAXED)) {
		uint64_t one = 1;
		/* once a burst, only while the control thread sleeps */
		ssize_t r = write(dp->exc_fd, &one, 8); /* fastpath-allow: wake */
		(void)r;
	}
}

/*
 * One burst of at most RTE_HASH_LOOKUP_BULK_MAX packets, in three passes
 * so memory latency overlaps across packets instead of adding up (DPDK
 * l3fwd does the same): classify and gather keys; bulk hash lookups, which
 * prefetch buckets and keys, then prefetch the allocations and their peer
 * sets; then relay packet by packet.
 */
static uint16_t
burst(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
      struct rte_mbuf **tx, uint64_t now)
{
	struct dp_client_key ckeys[RTE_HASH_LOOKUP_BULK_MAX];
	struct dp_relay_key rkeys[RTE_HASH_LOOKUP_BULK_MAX];
	const void *ckp[RTE_HASH_LOOKUP_BULK_MAX], *rkp[RTE_HASH_LOOKUP_BULK_MAX];
	void *cdata[RTE_HASH_LOOKUP_BULK_MAX], *rdata[RTE_HASH_LOOKUP_BULK_MAX];
	struct dp_alloc *alloc[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t kind[RTE_HASH_LOOKUP_BULK_MAX], slot[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *exc[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *exc_new[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *gw[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t chit = 0, rhit = 0;
	unsigned nc = 0, nr = 0, n_exc = 0, n_new = 0, n_gw = 0;
	uint16_t n_tx = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct dp_meta *meta = dp_meta(m);
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(m);

		w->ctr[DP_RX_PACKETS]++;
		w->ctr[DP_RX_BYTES] += len;
		meta->worker = w->id;
		kind[i] = meta->cls = dp_classify(meta->sock_kind, p, len);
		if (kind[i] == DP_CLS_PEER) {
			slot[i] = (uint8_t)nr;
			dp_relay_key_set(&rkeys[nr], &meta->dst);
			rkp[nr] = &rkeys[nr];
			nr++;
		} else if (likely(kind[i] == DP_CLS_CHANDATA) ||
			   kind[i] == DP_CLS_STUN) {
			/* STUN too: from an allocation's client it is that
			 * allocation's (Refresh, ChannelBind, Send) */
			slot[i] = (uint8_t)nc;
			dp_client_key_set(&ckeys[nc], &meta->src, &meta->dst);
			ckp[nc] = &ckeys[nc];
			nc++;
		}
	}

	if (nc)
		rte_hash_lookup_bulk_data(w->dp->tables.by_client, ckp, nc,
					  &chit, cdata);
	if (nr)
		rte_hash_lookup_bulk_data(w->dp->tables.by_relay, rkp, nr,
					  &rhit, rdata);
	for (uint16_t i = 0; i < n; i++) {
		struct dp_alloc *a = NULL;
		if ((kind[i] == DP_CLS_CHANDATA || kind[i] == DP_CLS_STUN) &&
		    (chit >> slot[i]) & 1)
			a = cdata[slot[i]];
		else if (kind[i] == DP_CLS_PEER && (rhit >> slot[i]) & 1)
			a = rdata[slot[i]];
		alloc[i] = a;
		if (a != NULL) {
			rte_prefetch0(a);
			if (kind[i] == DP_CLS_PEER)
				rte_prefetch0(&a->client);
		}
	}
	for (uint16_t i = 0; i < n; i++)
		if (alloc[i] != NULL)
			rte_prefetch0(peers_of(alloc[i]));

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		int drop;

		switch (kind[i]) {
		case DP_CLS_CHANDATA:
			drop = from_client(w, m, dp_meta(m), alloc[i], now);
			break;
		case DP_CLS_PEER:
			drop = from_peer(w, m, dp_meta(m), alloc[i], now);
			break;
		case DP_CLS_STUN:
			if (alloc[i] == NULL) {
				exc_new[n_new++] = m;
				continue;
			}
			if (unlikely(!send_within_cap(alloc[i],
					rte_pktmbuf_mtod(m, const uint8_t *),
					rte_pktmbuf_data_len(m), now))) {
				drop = DP_DROP_BANDWIDTH;
				break;
			}
			exc[n_exc++] = m;
			continue;
		case DP_CLS_ICE:
		case DP_CLS_DTLS:
		case DP_CLS_SRTP:
			/* the gateway knows its legs: it sorts checks and
			 * DTLS into known and new for dp_to_control */
			gw[n_gw++] = m;
			continue;
		case DP_CLS_MALFORMED:
			drop = DP_DROP_MALFORMED;
			break;
		default:
			drop = DP_DROP_UNKNOWN_CLASS;
			break;
		}
		if (likely(drop < 0)) {
			tx[n_tx++] = m;
		} else {
			w->ctr[drop]++;
			rte_pktmbuf_free(m);
		}
	}
	if (n_exc)
		dp_to_control(w, exc, n_exc, true, now);
	if (n_new)
		dp_to_control(w, exc_new, n_new, false, now);
	if (n_gw) {
		if (likely(w->dp->media_input != NULL)) {
			w->dp->media_input(w, gw, (uint16_t)n_gw, now);
		} else {
			w->ctr[DP_DROP_GW_NO_LEG] += n_gw;
			rte_pktmbuf_free_bulk(gw, n_gw);
		}
	}
	return n_tx;
}

uint16_t
dp_fastpath(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
	    struct rte_mbuf **tx)
{
	uint64_t now = rte_rdtsc();
	uint16_t n_tx = 0;

	for (uint16_t off = 0; off < n; off += RTE_HASH_LOOKUP_BULK_MAX) {
		uint16_t k = (uint16_t)RTE_MIN(n - off, RTE_HASH_LOOKUP_BULK_MAX);
		n_tx += burst(w, pkts + off, k, tx + n_tx, now);
	}
	return n_tx;
}
