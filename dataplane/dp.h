/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DP_H
#define SOTTO_DP_H

/*
 * The dataplane: packet metadata, the lock-free tables workers read, the
 * rings between workers and the control thread, per-worker counters, and the
 * port driver ops table. See docs/architecture.md.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_rcu_qsbr.h>

#include "addr.h"
#include "bucket.h"
#include "dp_conf.h"

#define DP_BURST 32

/*
 * Counters, per worker, summed by the control thread. Each is described
 * once, here, for logs and /metrics (control/ops/ctl_metrics.c exports the
 * lists in loops). Drops: X(name, reason), one family
 * sotto_dataplane_drops_total with a reason label.
 */
#define DP_FOREACH_DROP(X)                                                    \
	X(DROP_MALFORMED, "malformed")                                        \
	X(DROP_UNKNOWN_CLASS, "unknown_class")                                \
	X(DROP_NO_ALLOCATION, "no_allocation")                                \
	X(DROP_NO_CHANNEL, "no_channel")                                      \
	X(DROP_NO_PERMISSION, "no_permission")                                \
	X(DROP_BANDWIDTH, "bandwidth")                                        \
	X(DROP_EXCEPTION_FULL, "exception_ring_full")                         \
	X(DROP_EXCEPTION_POLICED, "exception_policed") /* per source prefix */ \
	X(DROP_NO_MBUF, "no_mbuf")                                            \
	X(DROP_NO_ROOM, "no_headroom")                                        \
	X(DROP_TX_FAILED, "tx_failed")                                        \
	X(DROP_NO_PORT, "no_port")                                            \
	X(DROP_HAIRPIN, "hairpin_loop")                                       \
	X(DROP_GW_NO_LEG, "gw_unknown_leg")                                   \
	X(DROP_GW_HANDOFF_FULL, "gw_handoff_full")                            \
	X(DROP_GW_NOT_RTP, "gw_not_rtp")                                      \
	X(DROP_GW_SRTP_MALFORMED, "srtp_malformed")                           \
	X(DROP_GW_SRTP_SSRC, "srtp_unknown_ssrc")                             \
	X(DROP_GW_SRTP_REPLAY, "srtp_replay")                                 \
	X(DROP_GW_SRTP_OLD, "srtp_too_old")                                   \
	X(DROP_GW_SRTP_AUTH, "srtp_auth")                                     \
	X(DROP_GW_SRTP_NOSPACE, "srtp_no_tailroom")                           \
	X(DROP_GW_SRTP_EXHAUSTED, "srtp_index_exhausted")                     \
	X(DROP_GW_SRTP_INVAL, "srtp_invalid_use")                             \
	X(DROP_GW_SRTP_CRYPTO, "srtp_crypto")

/*
 * The rest: X(name, label, family, labels, help). A family's help sits on
 * its first entry; entries with the same family and labels are summed;
 * family NULL is not exported as a total. Traffic counters carry the
 * driver's label as well; gateway ones are exported in gateway mode only.
 */
#define DP_FOREACH_TRAFFIC(X)                                                 \
	X(RELAY_TO_PEER, "relayed_to_peer", "sotto_relayed_packets_total",    \
	  "direction=\"to_peer\"",                                            \
	  "Packets relayed by the fast path, by direction.")                  \
	X(RELAY_TO_CLIENT, "relayed_to_client", "sotto_relayed_packets_total", \
	  "direction=\"to_client\"", NULL)                                    \
	X(RELAY_BYTES_TO_PEER, "relayed_bytes_to_peer",                       \
	  "sotto_relayed_bytes_total", "direction=\"to_peer\"",               \
	  "Application payload bytes relayed, by direction.")                 \
	X(RELAY_BYTES_TO_CLIENT, "relayed_bytes_to_client",                   \
	  "sotto_relayed_bytes_total", "direction=\"to_client\"", NULL)       \
	X(RX_PACKETS, "rx_packets", "sotto_dataplane_packets_total",          \
	  "direction=\"rx\"", "Packets received and sent by the workers.")    \
	X(TX_PACKETS, "tx_packets", "sotto_dataplane_packets_total",          \
	  "direction=\"tx\"", NULL)                                           \
	X(RX_BYTES, "rx_bytes", "sotto_dataplane_bytes_total",                \
	  "direction=\"rx\"",                                                 \
	  "Bytes received and sent by the workers (UDP payload).")            \
	X(TX_BYTES, "tx_bytes", "sotto_dataplane_bytes_total",                \
	  "direction=\"tx\"", NULL)

#define DP_FOREACH_GW(X)                                                      \
	X(GW_RX_RTP, "gw_rx_rtp", "sotto_gateway_rtp_packets_total",          \
	  "kind=\"rtp_in\"",  /* authenticated, from a leg */                 \
	  "Gateway SRTP/SRTCP packets: authenticated in, forwarded out, reports sent.") \
	X(GW_RX_RTCP, "gw_rx_rtcp", "sotto_gateway_rtp_packets_total",        \
	  "kind=\"rtcp_in\"", NULL)                                           \
	X(GW_FORWARDED, "gw_forwarded", "sotto_gateway_rtp_packets_total",    \
	  "kind=\"forwarded\"", NULL) /* RTP packets sent to listeners */     \
	X(GW_RTCP_SENT, "gw_rtcp_sent", "sotto_gateway_rtp_packets_total",    \
	  "kind=\"rtcp_out\"", NULL)                                          \
	X(GW_HANDOFF, "gw_handoff", "sotto_gateway_rtp_packets_total",        \
	  "kind=\"handoff\"", NULL)   /* passed to the room's worker */       \
	X(GW_FWD_DROPPED, "gw_forward_dropped",                               \
	  "sotto_gateway_rtp_packets_total", "kind=\"forward_dropped\"",      \
	  NULL)                       /* a copy not sent (no mbuf,            \
					 out-of-order index) */               \
	X(GW_FORWARDED_BYTES, "gw_forwarded_bytes",                           \
	  "sotto_gateway_forwarded_bytes_total", NULL,                        \
	  "SRTP bytes the gateway sent to listeners.")                        \
	X(GW_SELECT_CHANGES, "gw_speaker_changes",                            \
	  "sotto_gateway_speaker_changes_total", NULL,                        \
	  "Changes to the rooms' selected speakers.")

#define DP_FOREACH_WORK(X)                                                    \
	X(EXCEPTIONS, "exceptions", "sotto_exception_packets_total", NULL,    \
	  "Packets the workers passed to the control thread (STUN/TURN requests).") \
	X(EXCEPTIONS_NEW, "exceptions_new",                                   \
	  "sotto_exception_new_packets_total", NULL,                          \
	  "Of those, from addresses with no allocation or leg (new work, served after the rest).") \
	X(LOOPS, "loops", NULL, NULL, NULL)                                   \
	X(BUSY_LOOPS, "busy_loops", NULL, NULL, NULL)                         \
	/* TSC ticks in loops that did work (per-worker families) */          \
	X(BUSY_CYCLES, "busy_cycles", NULL, NULL, NULL)

#define DP_FOREACH_COUNTER(X)                                                 \
	DP_FOREACH_DROP(X)                                                    \
	DP_FOREACH_TRAFFIC(X)                                                 \
	DP_FOREACH_GW(X)                                                      \
	DP_FOREACH_WORK(X)

enum dp_counter {
#define X(name, ...) DP_##name,
	DP_FOREACH_COUNTER(X)
#undef X
	DP_N_COUNTERS
};

/* How many of each list, and where each starts in ctr[] */
#define DP_COUNT(...) +1
enum {
	DP_N_DROPS = 0 DP_FOREACH_DROP(DP_COUNT),
	DP_N_TRAFFIC = 0 DP_FOREACH_TRAFFIC(DP_COUNT),
	DP_N_GW_STATS = 0 DP_FOREACH_GW(DP_COUNT),
	DP_N_WORK = 0 DP_FOREACH_WORK(DP_COUNT),
	DP_FIRST_TRAFFIC = DP_N_DROPS,
	DP_FIRST_GW = DP_FIRST_TRAFFIC + DP_N_TRAFFIC,
	DP_FIRST_WORK = DP_FIRST_GW + DP_N_GW_STATS,
};
#undef DP_COUNT
_Static_assert(DP_FIRST_WORK + DP_N_WORK == DP_N_COUNTERS,
	       "every counter is in one list");

extern const char *const dp_counter_names[DP_N_COUNTERS];

/* What a socket (udp driver) or local address (dpdk driver) is for. */
enum dp_sock_kind {
	DP_SOCK_LISTENER = 1,   /* TURN: STUN and ChannelData from clients */
	DP_SOCK_RELAY = 2,      /* TURN: a relayed transport address */
	DP_SOCK_MEDIA = 3,      /* gateway: ICE, DTLS and SRTP of all legs */
};

/*
 * What a received packet is: the kind of local address it arrived on and
 * its first byte (RFC 7983 demultiplexing). The fast path decides it once,
 * in dp_classify, and carries it in dp_meta.cls to whoever handles it.
 */
enum dp_class {
	DP_CLS_MALFORMED = 0,  /* empty: dropped */
	DP_CLS_UNKNOWN,        /* no class here: dropped */
	DP_CLS_STUN,           /* TURN listener, 0-3: STUN/TURN → control */
	DP_CLS_CHANDATA,       /* TURN listener, 64-127 (RFC 5766 range too) */
	DP_CLS_PEER,           /* a relayed address: anything a peer sends */
	DP_CLS_ICE,            /* media address, 0-3: ICE check → control */
	DP_CLS_DTLS,           /* media address, 20-63: DTLS → control */
	DP_CLS_SRTP,           /* media address, 128-191: SRTP/SRTCP → gateway */
};

static inline uint8_t
dp_classify(uint8_t sock_kind, const uint8_t *p, uint32_t len)
{
	if (sock_kind == DP_SOCK_RELAY)
		return DP_CLS_PEER;
	if (unlikely(len == 0))
		return DP_CLS_MALFORMED;
	if (unlikely(sock_kind == DP_SOCK_MEDIA)) {
		if (p[0] >= 128 && p[0] <= 191)
			return DP_CLS_SRTP;
		if (p[0] <= 3)
			return DP_CLS_ICE;
		if (p[0] >= 20 && p[0] <= 63)
			return DP_CLS_DTLS;
		return DP_CLS_UNKNOWN;
	}
	/* a TURN listener carries no RTP or DTLS to confuse ChannelData with */
	if (p[0] >= 64 && p[0] <= 127)
		return DP_CLS_CHANDATA;
	if (p[0] <= 3)
		return DP_CLS_STUN;
	return DP_CLS_UNKNOWN;
}

/*
 * Per-packet metadata in the mbuf private area. Addresses are as on the
 * wire: on receive src is the remote end and dst the local address; on
 * transmit src is the local address to send from and dst the remote end.
 */
struct dp_meta {
	struct sotto_addr src;
	struct sotto_addr dst;
	uint32_t sock;       /* udp driver: socket slot in/out */
	uint16_t worker;     /* worker that received it / is to send it */
	uint8_t sock_kind;   /* enum dp_sock_kind of the receiving socket */
	uint8_t cls;         /* enum dp_class, set by the fast path */
	uint8_t flags;       /* DP_META_F_* */
	/* driver scratch (udp: msghdr, iovec, sockaddr), aligned for them */
	uint8_t drv[160] __attribute__((aligned(8)));
};

/* Control → worker packets that are driver commands, not data (udp driver:
 * arm receive on a new socket, or cancel it and close). They travel in the
 * worker's tx ring so they stay in order with the packets before them. */
#define DP_META_F_ARM 0x01
#define DP_META_F_CLOSE 0x02

#define DP_MBUF_PRIV_SIZE RTE_ALIGN(sizeof(struct dp_meta), RTE_MBUF_PRIV_ALIGN)

static inline struct dp_meta *
dp_meta(struct rte_mbuf *m)
{
	return (struct dp_meta *)rte_mbuf_to_priv(m);
}

/* ---- allocation state, as workers see it ---- */

struct dp_chan {
	uint16_t num;
	struct sotto_addr peer;
};

/* Permissions and channels of one allocation, replaced as a whole (RCU). */
struct dp_peerset {
	uint16_t n_perms;
	uint16_t n_chans;
	struct dp_chan *chans;         /* points after perms[] */
	struct sotto_addr perms[];     /* IPs (port 0), normalised */
};

enum { DP_DIR_TO_PEER, DP_DIR_TO_CLIENT };

/*
 * Laid out by direction: client → peer reads only the first cache line,
 * peer → client the first two; the buckets are read only when capped.
 */
struct dp_alloc {
	struct dp_peerset *peers;      /* RCU-published; __atomic acquire */
	struct sotto_addr relay;       /* relayed transport address */
	uint32_t relay_sock;           /* driver socket slot */
	uint32_t capped;               /* a bandwidth cap is set (publish) */

	struct sotto_addr client __rte_cache_aligned; /* client's 5-tuple */
	struct sotto_addr listener;    /* server address the client uses */
	uint32_t listener_sock;
	void *owner;                   /* control's state, opaque here */

	/* one writer each: the worker that receives that direction */
	struct dp_bucket bucket[2] __rte_cache_aligned;
};

/* Hash keys, padded to sizes rte_hash compares with vector code. */
struct dp_client_key {
	struct sotto_addr client;
	struct sotto_addr listener;
	uint8_t zero[8];
};

struct dp_relay_key {
	struct sotto_addr relay;
	uint8_t zero[12];
};

static inline void
dp_client_key_set(struct dp_client_key *k, const struct sotto_addr *client,
		  const struct sotto_addr *listener)
{
	k->client = *client;
	k->listener = *listener;
	memset(k->zero, 0, sizeof(k->zero));
}

static inline void
dp_relay_key_set(struct dp_relay_key *k, const struct sotto_addr *relay)
{
	k->relay = *relay;
	memset(k->zero, 0, sizeof(k->zero));
}

struct rte_hash;
struct rte_rcu_qsbr_dq;
struct dp_policer;

struct dp_tables {
	struct rte_hash *by_client;    /* dp_client_key → dp_alloc */
	struct rte_hash *by_relay;     /* dp_relay_key → dp_alloc */
	struct rte_rcu_qsbr *qsv;
	struct rte_rcu_qsbr_dq *dq;
	uint32_t max_allocs;
};

/* ---- workers and rings ---- */

struct dp_ctx;

struct dp_worker {
	uint16_t id;
	struct dp_ctx *dp;
	struct rte_ring *tx_ring;      /* control → worker: to transmit (SP/SC) */
	int wake_fd;                   /* eventfd: wakes a sleeping worker */
	uint32_t sleeping;             /* set while blocked; __atomic */
	void *drv;                     /* driver per-worker state */
	uint64_t hz;                   /* TSC ticks per second */
	uint64_t tid_seq;              /* Data indication transaction ids */
	struct dp_policer *pol;        /* exceptions per source; NULL = none */
	/* gateway: packets other workers pass to this one, the owner of
	 * their room (MP/SC; NULL without gateway mode) */
	struct rte_ring *gw_ring;
	/* gateway: the driver's transmit for packets the gateway makes
	 * (one packet in, several out); meta src/dst/sock are set */
	void (*emit)(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n);
	void *emit_arg;                /* driver's, for emit */
	uint64_t ctr[DP_N_COUNTERS] __rte_cache_aligned;
} __rte_cache_aligned;

struct dp_port_ops {
	const char *name;
	/* control thread, before workers start: open listeners etc. from
	 * dp->conf */
	int (*init)(struct dp_ctx *dp);
	void (*fini)(struct dp_ctx *dp);
	/* the worker's whole loop; returns when dp->quit is set */
	int (*worker_run)(struct dp_worker *w);
	/* control: reserve a relayed address on ip. ip->port says which
	 * port: DP_PORT_ANY, DP_PORT_EVEN (RFC 8656 EVEN-PORT), or exactly
	 * that one. 0, -EINVAL (not a relay IP), -EADDRINUSE, -ENOSPC. */
	int (*relay_open)(struct dp_ctx *dp, const struct sotto_addr *ip,
			  struct sotto_addr *relay, uint32_t *sock);
	/* control: release it; called only after an RCU grace period since
	 * the allocation left the tables. */
	void (*relay_close)(struct dp_ctx *dp, uint32_t sock);
	/* control: the driver's own counters, summed over workers (may be
	 * NULL): emit(name, value, arg) once each */
	void (*counters)(struct dp_ctx *dp,
			 void (*emit)(const char *name, uint64_t v, void *arg),
			 void *arg);
};

#define DP_PORT_ANY 0
#define DP_PORT_EVEN 1

struct dp_ctx {
	struct dp_tables tables;
	struct dp_conf conf;           /* as given to dp_ctx_init */
	struct rte_mempool *pool;
	/* workers → control (MP/SC), two classes: exc_ring from a known
	 * allocation's client or leg's address (Refresh, ChannelBind,
	 * consent, a leg's DTLS: what keeps calls up), served first;
	 * exc_new for new work (Allocate, anything unauthenticated, new
	 * legs' checks and handshakes) */
	struct rte_ring *exc_ring;
	struct rte_ring *exc_new;
	int exc_fd;                    /* eventfd the control loop waits on */
	uint32_t ctl_sleeping;         /* control is blocked; __atomic */
	uint16_t n_workers;
	struct dp_worker *workers;
	const struct dp_port_ops *ops;
	void *drv;
	uint32_t quit;                 /* __atomic */
	int idle_poll;                 /* 1 = busy poll, 0 = adaptive */
	uint64_t bandwidth;            /* per-direction cap, bytes/s (0 = none) */
	uint64_t tx_ring_full;         /* control's packets a worker ring refused */
	struct dp_gw *gw;              /* gateway tables; NULL = no gateway */
	/* gateway forwarding's entry (dataplane/gw/, set by dp_gw_init):
	 * the fast path hands it SRTP/SRTCP from media addresses */
	void (*media_input)(struct dp_worker *w, struct rte_mbuf **pkts,
			    uint16_t n, uint64_t now);
	/* the daemon's, run by each worker once its driver is set up, just
	 * before its loop (a seccomp filter of the worker's own); <0 stops
	 * the dataplane. NULL: none */
	int (*worker_ready)(struct dp_worker *w);
};

/* ---- control-side API (one thread) ---- */

int dp_tables_init(struct dp_tables *t, uint32_t max_allocs,
		   uint16_t n_workers);
void dp_tables_fini(struct dp_tables *t);

/* Inserts a into both tables. 0, -EEXIST, -ENOSPC. */
int dp_alloc_publish(struct dp_tables *t, struct dp_alloc *a);
/* Removes a from the tables; after the grace period done(arg) runs (the
 * caller frees a there, and closes its relay). */
int dp_alloc_unpublish(struct dp_tables *t, struct dp_alloc *a,
		       void (*done)(void *), void *arg);
/* Replaces a's peer set; the old one is freed after the grace period. */
int dp_peers_publish(struct dp_tables *t, struct dp_alloc *a,
		     struct dp_peerset *ps);
struct dp_peerset *dp_peerset_new(uint16_t n_perms, uint16_t n_chans);
/* Runs fn(arg, arg2) once every worker has passed a quiescent state
 * since the call (control thread). 0 or -ENOMEM. */
int dp_defer(struct dp_tables *t, void (*fn)(void *, intptr_t), void *arg,
	     intptr_t arg2);
/* Runs due deferred work; called from the control loop's timer. */
void dp_tables_reclaim(struct dp_tables *t);

/* Creates mempool, rings, eventfds, tables; then ops->init. */
int dp_ctx_init(struct dp_ctx *dp, const struct dp_conf *conf,
		const struct dp_port_ops *ops);
int dp_ctx_start(struct dp_ctx *dp);   /* launches the workers */
void dp_ctx_stop(struct dp_ctx *dp);   /* sets quit, wakes, joins */
void dp_ctx_fini(struct dp_ctx *dp);

/* Control → worker: queue packets for transmit and wake the worker.
 * Takes ownership; returns how many were queued (the rest are freed). */
unsigned dp_ctx_transmit(struct dp_ctx *dp, uint16_t worker,
			 struct rte_mbuf **pkts, unsigned n);

/* The worker that sends for socket slot sock, and so receives its driver
 * commands (udp driver): commands and data for a socket stay in order. */
static inline uint16_t
dp_sock_worker(const struct dp_ctx *dp, uint32_t sock)
{
	return (uint16_t)(sock % dp->n_workers);
}

/*
 * The control thread's transmit, the only one: dp_ctx_packet copies len
 * bytes into a new mbuf addressed src → dst on socket slot sock (NULL when
 * the pool is dry, counted as tx_failed); dp_ctx_send_pkts queues such
 * packets of one socket to its worker; dp_ctx_send does both. 0, -ENOBUFS.
 */
struct rte_mbuf *dp_ctx_packet(struct dp_ctx *dp, const struct sotto_addr *src,
			       const struct sotto_addr *dst, uint32_t sock,
			       const void *data, size_t len);
void dp_ctx_send_pkts(struct dp_ctx *dp, uint32_t sock, struct rte_mbuf **pkts,
		      unsigned n);
int dp_ctx_send(struct dp_ctx *dp, const struct sotto_addr *src,
		const struct sotto_addr *dst, uint32_t sock, const void *data,
		size_t len);
/* Sums counters over workers into out[DP_N_COUNTERS]. */
void dp_ctx_counters(const struct dp_ctx *dp, uint64_t *out);

/* ---- worker-side helpers, used by drivers' loops ---- */

/*
 * The fast path over one received burst. Packets it relays are put in
 * tx[] (meta src/dst/sock set for transmit), packets for the control thread
 * go to the exception ring, the rest are dropped and counted. Returns the
 * number of packets in tx.
 */
uint16_t dp_fastpath(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
		     struct rte_mbuf **tx);

/*
 * Hands packets to the control thread (exception rings), after the
 * per-source policer: known says they come from a known allocation's
 * client or leg's address (exc_ring) rather than new work (exc_new).
 * Consumes every packet (queued, or dropped and counted).
 */
void dp_to_control(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n,
		   bool known, uint64_t now);

/* Dequeues control's packets for this worker into tx; returns count. */
static inline uint16_t
dp_worker_take_tx(struct dp_worker *w, struct rte_mbuf **tx, uint16_t n)
{
	return (uint16_t)rte_ring_sc_dequeue_burst(w->tx_ring, (void **)tx, n,
						   NULL);
}

/* Drivers call this between their set-up and their loop. */
static inline int
dp_worker_ready(struct dp_worker *w)
{
	int rc = w->dp->worker_ready != NULL ? w->dp->worker_ready(w) : 0;

	if (rc < 0)
		__atomic_store_n(&w->dp->quit, 1, __ATOMIC_SEQ_CST);
	return rc;
}

/* Reports a quiescent state: the worker holds no table pointers now. */
static inline void
dp_worker_quiescent(struct dp_worker *w)
{
	rte_rcu_qsbr_quiescent(w->dp->tables.qsv, w->id);
}

/*
 * Before and after blocking in the kernel. sleep_begin takes the worker
 * offline for RCU and tells the control thread to wake it; it returns false
 * if packets are already waiting (then call sleep_end and do not block).
 */
bool dp_worker_sleep_begin(struct dp_worker *w);
void dp_worker_sleep_end(struct dp_worker *w);

static inline bool
dp_quit(const struct dp_ctx *dp)
{
	return __atomic_load_n(&dp->quit, __ATOMIC_RELAXED) != 0;
}

extern const struct dp_port_ops dp_udp_ops;
extern const struct dp_port_ops dp_dpdk_ops;

#endif
