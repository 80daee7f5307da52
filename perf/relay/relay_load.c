/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay_load: real-time media load through a TURN server over UDP.
 *
 * Opens n allocations with TURN REST credentials, pairs them (2k, 2k+1),
 * gives each the other's relayed address as its peer (CreatePermission,
 * then ChannelBind), and sends one constant-rate stream per allocation
 * through its channel. Each payload carries a stream id, a sequence number
 * and a CLOCK_MONOTONIC send time; sender and receiver share the host, so
 * the one-way latency through the relay is measured directly.
 *
 * One thread: non-blocking sockets (one per allocation, since the server
 * tells allocations apart by client 5-tuple), epoll + recvmmsg to receive,
 * and a phase-spread schedule to send: stream c of m sends at
 * T0 + k*P + c*P/m, so the due packets are always a contiguous run of a
 * cyclic cursor and no priority queue is needed. Due packets are sent in
 * batches (io_uring when built with liburing, one send() each otherwise).
 *
 * Traffic goes only to the one server address given with -s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#ifdef SOTTO_HAVE_LIBURING
#include <liburing.h>
#endif

#include "addr.h"
#include "pl_clock.h"
#include "pl_proc.h"
#include "pl_stats.h"
#include "stun.h"

#define LG_MAX_ALLOCS 65536
#define LG_NONCE_MAX 256
#define LG_USER_MAX 64
#define LG_CHANNEL 0x4000      /* channels are per allocation: one each */
#define LG_HDR_LEN 24          /* our payload header, see struct lg_payload */
#define LG_MAX_PAYLOAD 1400
#define LG_RTO_NS 250000000ull /* first retransmit; loopback RTT is tiny */
#define LG_RTO_MAX_NS 1000000000ull
#define LG_MAX_TRIES 7         /* RFC 8489 §6.2.1 Rc */
#define LG_BATCH 64
#define LG_TICK_NS 100000ull   /* send schedule granularity */
#define LG_RX_BATCH 16
#define LG_PAYLOAD_MAGIC 0x534f544cu /* "SOTL" */

enum lg_state {
	ST_IDLE,      /* not started */
	ST_ALLOC0,    /* Allocate without credentials, expecting 401 */
	ST_ALLOC1,    /* Allocate with credentials */
	ST_ALLOCATED, /* waiting for the pair barrier */
	ST_PERM,      /* CreatePermission for the peer's relayed address */
	ST_BIND,      /* ChannelBind to the peer's relayed address */
	ST_READY,
	ST_FREE,      /* Refresh LIFETIME=0 */
	ST_DONE,      /* freed, or unused because the pair failed */
	ST_FAILED,
};

struct lg_alloc {
	int fd;
	enum lg_state state;
	bool inflight;
	bool queued;
	uint8_t tries;
	uint8_t auth_tries;
	uint16_t nonce_len;
	int last_error;
	uint64_t deadline;        /* retransmit time when inflight */
	uint64_t rto;
	uint8_t tid[STUN_TID_LEN];
	uint8_t key[16];
	char user[LG_USER_MAX];
	uint8_t nonce[LG_NONCE_MAX];
	struct sotto_addr local;
	struct sotto_addr relayed;

	/* stream this allocation sends */
	uint32_t tx_seq;
	uint64_t tx_win;

	/* stream this allocation receives (sent by its peer) */
	uint64_t rx_win;
	uint64_t rx_all;
	uint64_t reorder;
	uint32_t rx_max_seq;
	bool rx_have;
	int64_t last_transit;
	double jitter_ns;         /* RFC 3550 §6.4.1 J, in ns */
};

/* First LG_HDR_LEN bytes of each ChannelData payload; rest is filler. */
struct lg_payload {
	uint32_t magic;
	uint32_t stream;
	uint32_t seq;
	uint32_t pad;
	uint64_t sent_ns;
} __attribute__((packed));

/* Latency histogram in µs: exact below 2048 µs, then 64 steps per octave. */
#define LG_HIST_LIN 2048
#define LG_HIST_SUB 64
#define LG_HIST_OCT 32

struct lg {
	/* options */
	struct sotto_addr server;
	const char *secret;
	unsigned n;
	unsigned rate;            /* packets/s per stream; 0 = hold only */
	unsigned len;             /* ChannelData payload bytes */
	unsigned duration;        /* measured seconds */
	unsigned warmup;
	unsigned setup_rate;      /* new requests/s */
	unsigned window;          /* requests in flight */
	unsigned sources;         /* source addresses to spread over */
	uint32_t source_base;     /* first source (host order); 0 = 127.0.0.2 */
	int server_pid;           /* for CPU and RSS, 0 = none */
	bool quiet;

	/* state */
	int ep;
	char realm[128];
	struct lg_alloc *a;
	unsigned *queue;          /* FIFO of allocations with a request to send */
	unsigned qhead, qtail;
	unsigned inflight;
	double tokens;
	uint64_t tokens_at;
	struct pl_hist hist;

	/* counters */
	uint64_t req_sent, req_retx, resp_bad;
	uint64_t tx_late;         /* sent > 1 ms after due: generator behind */
	uint64_t tx_err;
	uint64_t rx_stray;
	uint64_t win_start, win_end;

#ifdef SOTTO_HAVE_LIBURING
	struct io_uring ring;
	bool have_ring;
#endif
};

/* TURN REST (draft-uberti-behave-turn-rest): password = b64(HMAC-SHA1). */
static void
rest_password(const char *secret, const char *user, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	HMAC(EVP_sha1(), secret, (int)strlen(secret),
	     (const unsigned char *)user, strlen(user), mac, &maclen);
	if (outlen < 4 * ((maclen + 2) / 3) + 1) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
}

/* ---- sockets ---- */

static int
open_client_socket(struct lg *g, unsigned i, struct lg_alloc *a)
{
	struct sockaddr_storage ss;
	struct sotto_addr local;
	struct epoll_event ev;
	socklen_t sl;
	int fd;

	fd = socket(g->server.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (g->server.family == AF_INET) {
		/* spread clients over 127.0.0.2.. (or -B BASE..) so
		 * per-source limits see many users, as they would in
		 * production */
		uint32_t ip;

		if (g->source_base)
			ip = g->source_base + i % g->sources;
		else
			ip = g->sources > 1 ? 0x7f000002u + i % g->sources :
					      0x7f000001u;

		sotto_addr_v4(&local, htonl(ip), 0);
	} else {
		sotto_addr_v6(&local, in6addr_loopback.s6_addr, 0);
	}
	sl = sotto_addr_to_sockaddr(&local, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	/* connected: the kernel drops anything not from the server */
	sl = sotto_addr_to_sockaddr(&g->server, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto fail;
	sotto_addr_from_sockaddr(&a->local, (struct sockaddr *)&ss);
	ev.events = EPOLLIN;
	ev.data.u32 = i;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	a->fd = fd;
	return 0;
fail:
	i = (unsigned)errno;
	close(fd);
	return -(int)i;
}

/* ---- STUN requests ---- */

static void
enqueue(struct lg *g, unsigned i)
{
	if (g->a[i].queued)
		return;
	g->a[i].queued = true;
	g->queue[g->qtail] = i;
	g->qtail = (g->qtail + 1) % (g->n + 1);
}

static size_t
build_request(struct lg *g, struct lg_alloc *a, uint8_t *buf, size_t cap)
{
	const struct lg_alloc *peer;
	struct stun_builder b;
	uint16_t method;
	bool auth = true;

	peer = &g->a[(a - g->a) ^ 1];
	switch (a->state) {
	case ST_ALLOC0:
		auth = false;
		/* fall through */
	case ST_ALLOC1:
		method = TURN_ALLOCATE;
		break;
	case ST_PERM:
		method = TURN_CREATE_PERMISSION;
		break;
	case ST_BIND:
		method = TURN_CHANNEL_BIND;
		break;
	case ST_FREE:
		method = TURN_REFRESH;
		break;
	default:
		return 0;
	}
	stun_build(&b, buf, cap, method, STUN_REQUEST, a->tid);
	switch (a->state) {
	case ST_ALLOC0:
	case ST_ALLOC1:
		/* RFC 8656 §7.1: UDP = protocol 17 in the first byte */
		stun_add_u32(&b, STUN_A_REQUESTED_TRANSPORT, 17u << 24);
		break;
	case ST_PERM:
		stun_add_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &peer->relayed);
		break;
	case ST_BIND:
		stun_add_u32(&b, STUN_A_CHANNEL_NUMBER,
			     (uint32_t)LG_CHANNEL << 16);
		stun_add_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &peer->relayed);
		break;
	case ST_FREE:
		stun_add_u32(&b, STUN_A_LIFETIME, 0);
		break;
	default:
		break;
	}
	if (auth) {
		stun_add(&b, STUN_A_USERNAME, a->user, (uint16_t)strlen(a->user));
		stun_add(&b, STUN_A_REALM, g->realm, (uint16_t)strlen(g->realm));
		stun_add(&b, STUN_A_NONCE, a->nonce, a->nonce_len);
		stun_add_integrity(&b, a->key, sizeof(a->key));
	}
	stun_add_fingerprint(&b);
	return stun_finish(&b);
}

static void
send_request(struct lg *g, unsigned i, bool retransmit)
{
	struct lg_alloc *a = &g->a[i];
	uint8_t buf[1024];
	size_t len;

	if (!retransmit) {
		RAND_bytes(a->tid, sizeof(a->tid));
		a->tries = 0;
		a->rto = LG_RTO_NS;
		if (!a->inflight)
			g->inflight++;
		a->inflight = true;
		g->req_sent++;
	} else {
		g->req_retx++;
	}
	len = build_request(g, a, buf, sizeof(buf));
	if (len == 0) {
		fprintf(stderr, "relay_load: request %u does not fit\n", i);
		exit(2);
	}
	/* a full socket buffer is just a loss: the retransmit covers it */
	(void)send(a->fd, buf, len, 0);
	a->tries++;
	a->deadline = pl_now_ns() + a->rto;
	/* RFC 8489 doubles without bound; a cap keeps a dead server from
	 * holding the run for half a minute */
	if (a->rto < LG_RTO_MAX_NS)
		a->rto *= 2;
}

static void
finish_request(struct lg *g, struct lg_alloc *a)
{
	if (a->inflight) {
		a->inflight = false;
		g->inflight--;
	}
}

static void
fail_alloc(struct lg *g, struct lg_alloc *a, int code)
{
	finish_request(g, a);
	a->state = ST_FAILED;
	a->last_error = code;
}

static int
error_code(const struct stun_msg *m)
{
	const struct stun_attr *e = stun_find(m, STUN_A_ERROR_CODE);

	if (!e || e->len < 4)
		return 0;
	return (e->val[2] & 7) * 100 + e->val[3];
}

static void
take_nonce(struct lg *g, struct lg_alloc *a, const struct stun_msg *m)
{
	const struct stun_attr *n = stun_find(m, STUN_A_NONCE);
	const struct stun_attr *r = stun_find(m, STUN_A_REALM);

	if (r && !g->realm[0] && r->len < sizeof(g->realm)) {
		memcpy(g->realm, r->val, r->len);
		g->realm[r->len] = '\0';
	}
	if (n && n->len <= LG_NONCE_MAX) {
		memcpy(a->nonce, n->val, n->len);
		a->nonce_len = n->len;
	}
}

static void
on_stun(struct lg *g, unsigned i, const uint8_t *buf, size_t len)
{
	struct lg_alloc *a = &g->a[i];
	struct stun_msg m;
	int code;

	if (stun_parse(&m, buf, len) < 0 || !a->inflight ||
	    memcmp(m.tid, a->tid, STUN_TID_LEN) != 0) {
		g->resp_bad++;
		return;
	}
	/*
	 * Responses are not integrity-checked: the client socket is
	 * connected to the server on loopback and only counts, it never
	 * acts on anything a forged response could make worse.
	 */
	if (m.cls == STUN_ERROR) {
		code = error_code(&m);
		finish_request(g, a);
		if ((code == 401 && a->state == ST_ALLOC0) || code == 438) {
			take_nonce(g, a, &m);
			if (!g->realm[0] || a->nonce_len == 0 ||
			    ++a->auth_tries > 3) {
				fail_alloc(g, a, code);
				return;
			}
			if (a->state == ST_ALLOC0) {
				char pass[64];

				rest_password(g->secret, a->user, pass,
					      sizeof(pass));
				stun_lt_key(a->user, g->realm, pass, a->key);
				a->state = ST_ALLOC1;
			}
			enqueue(g, i);
			return;
		}
		fail_alloc(g, a, code ? code : -1);
		return;
	}
	if (m.cls != STUN_SUCCESS) {
		g->resp_bad++;
		return;
	}
	finish_request(g, a);
	switch (a->state) {
	case ST_ALLOC0:
	case ST_ALLOC1: {
		const struct stun_attr *r =
			stun_find(&m, STUN_A_XOR_RELAYED_ADDRESS);

		if (!r || stun_attr_xor_addr(&m, r, &a->relayed) < 0) {
			fail_alloc(g, a, -2);
			return;
		}
		a->state = ST_ALLOCATED;
		break;
	}
	case ST_PERM:
		a->state = ST_BIND;
		enqueue(g, i);
		break;
	case ST_BIND:
		a->state = ST_READY;
		break;
	case ST_FREE:
		a->state = ST_DONE;
		break;
	default:
		break;
	}
}

/* ---- receive ---- */

static void
on_data(struct lg *g, unsigned i, const uint8_t *buf, size_t len,
	uint64_t now)
{
	struct lg_alloc *a = &g->a[i];
	struct lg_payload p;
	uint16_t dlen;
	int64_t transit, d;

	if (len < 4 + LG_HDR_LEN) {
		g->rx_stray++;
		return;
	}
	dlen = (uint16_t)(buf[2] << 8 | buf[3]);
	if (dlen + 4u > len) {
		g->rx_stray++;
		return;
	}
	memcpy(&p, buf + 4, sizeof(p));
	if (p.magic != LG_PAYLOAD_MAGIC || p.stream != (i ^ 1)) {
		g->rx_stray++;
		return;
	}
	a->rx_all++;
	if (a->rx_have && p.seq < a->rx_max_seq)
		a->reorder++;
	if (!a->rx_have || p.seq > a->rx_max_seq)
		a->rx_max_seq = p.seq;
	if (p.sent_ns < g->win_start || p.sent_ns >= g->win_end)
		return;
	a->rx_win++;
	pl_hist_add(&g->hist, now > p.sent_ns ? (now - p.sent_ns) / 1000 : 0);
	/* RFC 3550 §6.4.1, with both clocks in ns */
	transit = (int64_t)(now - p.sent_ns);
	if (a->rx_have) {
		d = transit - a->last_transit;
		if (d < 0)
			d = -d;
		a->jitter_ns += ((double)d - a->jitter_ns) / 16.0;
	}
	a->last_transit = transit;
	a->rx_have = true;
}

static void
drain_socket(struct lg *g, unsigned i)
{
	uint8_t bufs[LG_RX_BATCH][1600];
	struct mmsghdr msgs[LG_RX_BATCH];
	struct iovec iov[LG_RX_BATCH];
	uint64_t now;
	int r, k;

	for (k = 0; k < LG_RX_BATCH; k++) {
		iov[k].iov_base = bufs[k];
		iov[k].iov_len = sizeof(bufs[k]);
		memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		r = recvmmsg(g->a[i].fd, msgs, LG_RX_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;
		now = pl_now_ns();
		for (k = 0; k < r; k++) {
			const uint8_t *b = bufs[k];
			size_t len = msgs[k].msg_len;

			if (len >= 4 && b[0] >= 0x40 && b[0] <= 0x4f)
				on_data(g, i, b, len, now);
			else if (len >= STUN_HDR_LEN && b[0] < 4)
				on_stun(g, i, b, len);
			else
				g->rx_stray++;
		}
		if (r < LG_RX_BATCH)
			return;
	}
}

/* Waits up to timeout_ns for input and handles it. */
static void
poll_rx(struct lg *g, uint64_t timeout_ns)
{
	struct epoll_event ev[256];
	struct timespec ts;
	int r, k;

	ts.tv_sec = (time_t)(timeout_ns / PL_NS_PER_S);
	ts.tv_nsec = (long)(timeout_ns % PL_NS_PER_S);
	r = epoll_pwait2(g->ep, ev, 256, &ts, NULL);
	for (k = 0; k < r; k++)
		drain_socket(g, ev[k].data.u32);
}

/* ---- set-up and tear-down: paced requests with retransmission ---- */

static bool
pending(const struct lg_alloc *a)
{
	switch (a->state) {
	case ST_ALLOC0:
	case ST_ALLOC1:
	case ST_PERM:
	case ST_BIND:
	case ST_FREE:
		return true;
	default:
		return false;
	}
}

/* Runs requests until no allocation has one pending or timeout. */
static void
run_requests(struct lg *g, uint64_t timeout_ns)
{
	uint64_t end = pl_now_ns() + timeout_ns, last_scan = 0, now;
	unsigned i, busy;

	g->tokens = 0;
	g->tokens_at = pl_now_ns();
	while (!pl_stop) {
		now = pl_now_ns();
		if (now >= end)
			break;
		g->tokens += (double)(now - g->tokens_at) * g->setup_rate / 1e9;
		if (g->tokens > 64)
			g->tokens = 64;
		g->tokens_at = now;
		while (g->qhead != g->qtail && g->tokens >= 1 &&
		       g->inflight < g->window) {
			i = g->queue[g->qhead];
			g->qhead = (g->qhead + 1) % (g->n + 1);
			g->a[i].queued = false;
			if (!pending(&g->a[i]))
				continue;
			send_request(g, i, false);
			g->tokens -= 1;
		}
		if (now - last_scan > 5000000) {
			busy = 0;
			for (i = 0; i < g->n; i++) {
				struct lg_alloc *a = &g->a[i];

				if (pending(a))
					busy++;
				if (!a->inflight || a->deadline > now)
					continue;
				if (a->tries >= LG_MAX_TRIES)
					fail_alloc(g, a, -ETIMEDOUT);
				else
					send_request(g, i, true);
			}
			last_scan = now;
			if (busy == 0)
				break;
		}
		poll_rx(g, 1000000);
	}
}

static void
setup(struct lg *g)
{
	unsigned i;

	for (i = 0; i < g->n; i++) {
		g->a[i].state = ST_ALLOC0;
		enqueue(g, i);
	}
	run_requests(g, 30 * PL_NS_PER_S + (uint64_t)g->n * 4 * PL_NS_PER_S /
					     g->setup_rate);
	/* pair barrier: a stream needs both ends allocated */
	for (i = 0; i < g->n; i += 2) {
		struct lg_alloc *x = &g->a[i], *y = &g->a[i + 1];

		if (x->state == ST_ALLOCATED && y->state == ST_ALLOCATED) {
			x->state = y->state = ST_PERM;
			enqueue(g, i);
			enqueue(g, i + 1);
		}
	}
	run_requests(g, 30 * PL_NS_PER_S + (uint64_t)g->n * 4 * PL_NS_PER_S /
					     g->setup_rate);
}

static void
teardown(struct lg *g)
{
	unsigned i;

	for (i = 0; i < g->n; i++) {
		struct lg_alloc *a = &g->a[i];

		if (a->relayed.family && a->state != ST_FAILED) {
			finish_request(g, a);
			a->state = ST_FREE;
			enqueue(g, i);
		}
	}
	run_requests(g, 10 * PL_NS_PER_S);
}

/* ---- streams ---- */

struct lg_txbatch {
	unsigned n;
	int fd[LG_BATCH];
	uint8_t buf[LG_BATCH][4 + LG_MAX_PAYLOAD];
	uint16_t len[LG_BATCH];
};

static void
tx_flush(struct lg *g, struct lg_txbatch *t)
{
	unsigned k;

	if (t->n == 0)
		return;
#ifdef SOTTO_HAVE_LIBURING
	if (g->have_ring) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		for (k = 0; k < t->n; k++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&g->ring);

			io_uring_prep_send(sqe, t->fd[k], t->buf[k], t->len[k],
					   0);
		}
		/* the buffers are reused next batch: wait for all of them */
		io_uring_submit_and_wait(&g->ring, t->n);
		io_uring_for_each_cqe(&g->ring, head, cqe) {
			if (cqe->res < 0)
				g->tx_err++;
			seen++;
		}
		io_uring_cq_advance(&g->ring, seen);
		t->n = 0;
		return;
	}
#endif
	for (k = 0; k < t->n; k++)
		if (send(t->fd[k], t->buf[k], t->len[k], 0) < 0)
			g->tx_err++;
	t->n = 0;
}

static void
run_streams(struct lg *g, unsigned *active, unsigned m)
{
	static struct lg_txbatch t;
	uint64_t period = PL_NS_PER_S / g->rate, t0, send_end, end, now, due;
	unsigned cursor = 0;
	uint64_t round = 0;

	t0 = pl_now_ns() + 10000000;
	g->win_start = t0 + (uint64_t)g->warmup * PL_NS_PER_S;
	g->win_end = g->win_start + (uint64_t)g->duration * PL_NS_PER_S;
	send_end = g->win_end;
	/* let the last packets in flight land before counting them lost */
	end = send_end + 500000000;
	while (!pl_stop) {
		now = pl_now_ns();
		if (now >= end)
			break;
		while (now < send_end) {
			struct lg_alloc *a;
			struct lg_payload p;
			uint8_t *b;

			due = t0 + round * period + cursor * period / m;
			/* sending up to one tick early batches the syscalls;
			 * the payload carries the real send time */
			if (due > now + LG_TICK_NS || t.n == LG_BATCH)
				break;
			a = &g->a[active[cursor]];
			if (now > due + 1000000)
				g->tx_late++;
			b = t.buf[t.n];
			b[0] = LG_CHANNEL >> 8;
			b[1] = LG_CHANNEL & 0xff;
			b[2] = (uint8_t)(g->len >> 8);
			b[3] = (uint8_t)g->len;
			p.magic = LG_PAYLOAD_MAGIC;
			p.stream = active[cursor];
			p.seq = a->tx_seq++;
			p.pad = 0;
			p.sent_ns = pl_now_ns();
			memcpy(b + 4, &p, sizeof(p));
			if (p.sent_ns >= g->win_start && p.sent_ns < g->win_end)
				a->tx_win++;
			t.fd[t.n] = a->fd;
			t.len[t.n] = (uint16_t)(4 + g->len);
			t.n++;
			if (++cursor == m) {
				cursor = 0;
				round++;
			}
		}
		tx_flush(g, &t);
		due = t0 + round * period + cursor * period / m;
		now = pl_now_ns();
		/* sleep until the next tick (input wakes us earlier); never
		 * spin, the server may share this core */
		if (now >= send_end)
			poll_rx(g, 1000000);
		else if (due > now + LG_TICK_NS)
			poll_rx(g, due - now - LG_TICK_NS);
		else
			poll_rx(g, 0);
	}
}

/* ---- main: options, set-up, the load, the report ---- */

/* what a run measured besides the allocations' own counters */
struct lg_run {
	unsigned *active;         /* allocations of the pairs that stream */
	unsigned m;               /* how many */
	unsigned ready, failed;
	uint64_t t_setup;         /* ns */
	long rss0, rss1;
	double cpu_s;             /* server, warm-up + window + drain */
	long long srv_drops, lg_drops;
};

static void
usage(void)
{
	fprintf(stderr,
		"usage: relay_load -S secret [-s ip] [-p port] [-6] [-n allocs]\n"
		"         [-r pps] [-l bytes] [-d s] [-w s] [-R setup req/s]\n"
		"         [-W in-flight] [-b sources] [-B first-source]\n"
		"         [-P server-pid] [-q]\n"
		"  -r 0 opens and holds the allocations for -d seconds, no media\n"
		"  -b n spreads the clients over n IPv4 source addresses:\n"
		"       127.0.0.2.. (n <= 249; n = 1: 127.0.0.1), or with -B ip\n"
		"       ip .. ip+n-1 (n <= 65536), which must be local addresses\n");
	exit(2);
}

static void
parse_options(int argc, char **argv, struct lg *g)
{
	const char *ip = NULL;
	unsigned port = 3478;
	bool v6 = false;
	struct in_addr base4;
	struct in6_addr a6;
	struct in_addr a4;
	int c;

	g->n = 100;
	g->rate = 50;
	g->len = 172;
	g->duration = 10;
	g->warmup = 2;
	g->setup_rate = 2000;
	g->window = 256;
	g->sources = 249;
	while ((c = getopt(argc, argv, "s:p:S:n:r:l:d:w:R:W:b:B:P:6qh")) != -1) {
		switch (c) {
		case 's': ip = optarg; break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'S': g->secret = optarg; break;
		case 'n': g->n = (unsigned)atoi(optarg); break;
		case 'r': g->rate = (unsigned)atoi(optarg); break;
		case 'l': g->len = (unsigned)atoi(optarg); break;
		case 'd': g->duration = (unsigned)atoi(optarg); break;
		case 'w': g->warmup = (unsigned)atoi(optarg); break;
		case 'R': g->setup_rate = (unsigned)atoi(optarg); break;
		case 'W': g->window = (unsigned)atoi(optarg); break;
		case 'b': g->sources = (unsigned)atoi(optarg); break;
		case 'B':
			if (inet_pton(AF_INET, optarg, &base4) != 1 ||
			    base4.s_addr == 0) {
				fprintf(stderr, "relay_load: bad source address %s\n",
					optarg);
				exit(2);
			}
			g->source_base = ntohl(base4.s_addr);
			break;
		case 'P': g->server_pid = atoi(optarg); break;
		case '6': v6 = true; break;
		case 'q': g->quiet = true; break;
		default: usage();
		}
	}
	if (!g->secret || port == 0 || port > 65535 || g->n < 2 ||
	    g->n > LG_MAX_ALLOCS || g->len < LG_HDR_LEN ||
	    g->len > LG_MAX_PAYLOAD || g->rate > 10000 || g->setup_rate == 0 ||
	    g->window == 0 || g->duration == 0 || g->duration > 3600 ||
	    g->sources == 0 ||
	    (!g->source_base && g->sources > 249) ||
	    (g->source_base &&
	     (g->sources > 65536 ||
	      (uint64_t)g->source_base + g->sources - 1 > UINT32_MAX)))
		usage();
	if (g->source_base && v6) {
		fprintf(stderr, "relay_load: -B is for IPv4 only\n");
		exit(2);
	}
	g->n &= ~1u; /* pairs */
	if (!ip)
		ip = v6 ? "::1" : "127.0.0.1";
	if (!v6 && inet_pton(AF_INET, ip, &a4) == 1) {
		sotto_addr_v4(&g->server, a4.s_addr, (uint16_t)port);
	} else if (v6 && inet_pton(AF_INET6, ip, &a6) == 1) {
		sotto_addr_v6(&g->server, a6.s6_addr, (uint16_t)port);
	} else {
		fprintf(stderr, "relay_load: bad server address %s\n", ip);
		exit(2);
	}
}

/* Tables, the histogram and one socket per allocation; 0 or -errno (the
 * reason printed). */
static int
init(struct lg *g, struct lg_run *r)
{
	time_t expiry = time(NULL) + 3600;

	/* one socket per allocation, plus the server's side: raise the fd
	 * limit as far as we are allowed */
	pl_proc_raise_nofile();
	pl_proc_catch_stop();

	g->a = calloc(g->n, sizeof(*g->a));
	g->queue = calloc(g->n + 1, sizeof(*g->queue));
	r->active = calloc(g->n, sizeof(*r->active));
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!g->a || !g->queue || !r->active || g->ep < 0 ||
	    pl_hist_init(&g->hist, LG_HIST_LIN, LG_HIST_SUB, LG_HIST_OCT) < 0) {
		perror("relay_load: init");
		return -ENOMEM;
	}
#ifdef SOTTO_HAVE_LIBURING
	g->have_ring = io_uring_queue_init(2 * LG_BATCH, &g->ring, 0) == 0;
#endif
	for (unsigned i = 0; i < g->n; i++) {
		int err;

		g->a[i].fd = -1;
		snprintf(g->a[i].user, sizeof(g->a[i].user),
			 "%lld:loadgen%u", (long long)expiry, i);
		err = open_client_socket(g, i, &g->a[i]);
		if (err < 0) {
			fprintf(stderr, "relay_load: socket %u: %s\n", i,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Allocations, permissions and channels; the pairs that stream. */
static void
set_up_streams(struct lg *g, struct lg_run *r)
{
	unsigned i;

	r->rss0 = pl_proc_rss_kb(g->server_pid);
	r->t_setup = pl_now_ns();
	setup(g);
	r->t_setup = pl_now_ns() - r->t_setup;
	for (i = 0; i < g->n; i++) {
		if (g->a[i].state == ST_READY)
			r->ready++;
		else if (g->a[i].state == ST_FAILED)
			r->failed++;
	}
	/* a pair streams only when both directions are bound */
	for (i = 0; i < g->n; i += 2)
		if (g->a[i].state == ST_READY && g->a[i + 1].state == ST_READY) {
			r->active[r->m++] = i;
			r->active[r->m++] = i + 1;
		}
	if (!g->quiet) {
		fprintf(stderr,
			"relay_load: %u/%u allocations ready in %.2f s (%u failed, "
			"%" PRIu64 " requests, %" PRIu64 " retransmits)\n",
			r->ready, g->n, (double)r->t_setup / 1e9, r->failed,
			g->req_sent, g->req_retx);
		for (i = 0; i < g->n && r->failed; i++)
			if (g->a[i].state == ST_FAILED) {
				fprintf(stderr, "relay_load: first failure: "
					"allocation %u, error %d\n", i,
					g->a[i].last_error);
				break;
			}
	}
	printf("READY allocations=%u\n", r->ready);
	fflush(stdout);
}

/* The streams (or, with -r 0, the allocations held), the server's cost,
 * both sides' socket drops. */
static void
run_load(struct lg *g, struct lg_run *r)
{
	r->rss1 = -1;
	r->cpu_s = -1;
	if (g->rate == 0) {
		/* hold: let the server settle, then take its memory */
		uint64_t until = pl_now_ns() +
				 (uint64_t)g->duration * PL_NS_PER_S;

		while (!pl_stop && pl_now_ns() < until)
			poll_rx(g, 100000000);
		r->rss1 = pl_proc_rss_kb(g->server_pid);
	} else if (r->m > 0) {
		double cpu0 = pl_proc_cpu_s(g->server_pid), cpu1;

		run_streams(g, r->active, r->m);
		cpu1 = pl_proc_cpu_s(g->server_pid);
		if (cpu0 >= 0 && cpu1 >= 0)
			r->cpu_s = cpu1 - cpu0;
	}
	r->srv_drops = pl_proc_udp_drops(g->server_pid);
	r->lg_drops = pl_proc_udp_drops(getpid());
}

static void
report(const struct lg *g, const struct lg_run *r)
{
	uint64_t tx = 0, rx = 0, lost, reorder = 0, rx_all = 0;
	uint64_t t_win = (uint64_t)g->duration;
	unsigned m = r->m;
	double jit = 0, cpu_per_m = -1, loss_pct;

	for (unsigned i = 0; i < m; i++) {
		const struct lg_alloc *s = &g->a[r->active[i]];
		const struct lg_alloc *d = &g->a[r->active[i] ^ 1];

		tx += s->tx_win;
		rx += d->rx_win < s->tx_win ? d->rx_win : s->tx_win;
		reorder += d->reorder;
		jit += d->jitter_ns;
		rx_all += s->rx_all;
	}
	lost = tx - rx;
	if (m)
		jit /= m;
	/*
	 * cpu_s covers warm-up + window + drain, so it is divided by every
	 * packet delivered in that time, not only the window's.
	 */
	if (r->cpu_s >= 0 && rx_all > 0)
		cpu_per_m = r->cpu_s / ((double)rx_all / 1e6);
	loss_pct = tx ? 100.0 * (double)lost / (double)tx : 0;
	if (g->rate == 0)
		loss_pct = 0;

	if (!g->quiet) {
		printf("\n  streams            %u (of %u requested)\n", m, g->n);
		printf("  rate               %u pps x %u B payload\n",
		       g->rate, g->len);
		printf("  setup              %.2f s, %u failed\n",
		       (double)r->t_setup / 1e9, r->failed);
		if (g->rate) {
			printf("  window             %" PRIu64 " s after %u s warm-up\n",
			       t_win, g->warmup);
			printf("  sent / received    %" PRIu64 " / %" PRIu64 "\n",
			       tx, rx);
			printf("  lost               %" PRIu64 " (%.4f %%)\n",
			       lost, loss_pct);
			printf("  reordered          %" PRIu64 "\n", reorder);
			printf("  latency p50/p90/p99/max  %" PRIu64 " / %" PRIu64
			       " / %" PRIu64 " / %" PRIu64 " us\n",
			       pl_hist_pct(&g->hist, 50), pl_hist_pct(&g->hist, 90),
			       pl_hist_pct(&g->hist, 99), g->hist.max);
			printf("  jitter (RFC 3550)  %.1f us mean over streams\n",
			       jit / 1000.0);
			printf("  sends > 1 ms late  %" PRIu64 "\n", g->tx_late);
		}
		if (r->cpu_s >= 0)
			printf("  server CPU         %.2f s, %.2f s per million delivered\n",
			       r->cpu_s, cpu_per_m);
		if (r->rss1 >= 0)
			printf("  server RSS         %ld -> %ld kB\n", r->rss0,
			       r->rss1);
		printf("\n");
	}
	printf("RESULT streams=%u requested=%u ready=%u failed=%u setup_s=%.2f "
	       "rate=%u len=%u window_s=%" PRIu64 " sent=%" PRIu64
	       " recv=%" PRIu64 " lost=%" PRIu64 " loss_pct=%.4f "
	       "reorder=%" PRIu64 " p50_us=%" PRIu64 " p90_us=%" PRIu64
	       " p99_us=%" PRIu64 " max_us=%" PRIu64 " jitter_us=%.1f "
	       "tx_late=%" PRIu64 " tx_err=%" PRIu64 " recv_all=%" PRIu64
	       " cpu_s=%.2f cpu_s_per_mpkt=%.3f rss0_kb=%ld rss_kb=%ld"
	       " loadgen_cpu_s=%.2f srv_rx_drops=%lld lg_rx_drops=%lld\n",
	       m, g->n, r->ready, r->failed, (double)r->t_setup / 1e9, g->rate,
	       g->len, t_win, tx, rx, lost, loss_pct, reorder,
	       pl_hist_pct(&g->hist, 50), pl_hist_pct(&g->hist, 90),
	       pl_hist_pct(&g->hist, 99), g->hist.max, jit / 1000.0,
	       g->tx_late, g->tx_err, rx_all, r->cpu_s, cpu_per_m, r->rss0,
	       r->rss1, pl_self_cpu_s(), r->srv_drops, r->lg_drops);
}

int
main(int argc, char **argv)
{
	struct lg *g = calloc(1, sizeof(*g));
	struct lg_run r = { 0 };

	if (!g)
		return 1;
	parse_options(argc, argv, g);
	if (init(g, &r) < 0)
		return 1;
	set_up_streams(g, &r);
	run_load(g, &r);
	teardown(g);
	report(g, &r);
	return (g->rate == 0 ? r.ready > 0 : r.m > 0) ? 0 : 1;
}
