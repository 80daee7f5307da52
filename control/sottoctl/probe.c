/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sottoctl probe: a synthetic call through the relay.
 *
 * Two TURN clients in one process, A and B, each with a UDP socket
 * connected to the server, allocate with TURN REST credentials, give each
 * other their relayed address as peer (CreatePermission, ChannelBind), and
 * A sends a sine tone as Opus in RTP in ChannelData towards B's relayed
 * address. B takes what arrives on its channel; after the call the frames
 * are decoded in order, lost ones rebuilt from the next frame's in-band FEC
 * or concealed (PLC), so the decoded stream is as long as the one sent, and
 * the tone that comes out is compared with the tone that went in.
 *
 * One thread, one poll loop. Both ends share CLOCK_MONOTONIC, so one-way
 * latency is measured directly; send times are kept in a table indexed by
 * RTP sequence number, so the packets are plain RTP. Arrival is the
 * kernel's receive timestamp, so a late read by this process (encoding the
 * next frame, or descheduled on a busy host) is not blamed on the relay.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <opus.h>

#include "chandata.h"
#include "clock.h"
#include "stun.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

/* RFC 7587 §4.1: the Opus RTP clock is 48 kHz whatever the audio band */
#define PROBE_RATE 48000
#define PROBE_FRAME 960                 /* 20 ms */
#define PROBE_FRAME_NS (20 * NS_PER_MS)
#define PROBE_PT 111                    /* what browsers offer for Opus */
#define PROBE_RTP_HDR 12
#define PROBE_OPUS_MAX 320              /* bytes a frame may take */
#define PROBE_BITRATE 32000
#define PROBE_LOSS_HINT 10              /* % the encoder plans FEC for */
#define PROBE_SKIP (PROBE_RATE / 10)    /* the codec's first 100 ms */
#define PROBE_FFT_N 8192                /* 5.9 Hz bins */
#define PROBE_DRAIN_NS (500 * NS_PER_MS)
#define PROBE_FULL_SCALE 32768.0
#define PROBE_FLOOR_DBFS -120.0

/* RFC 8489 §6.2.1 timing with Rc = 3: a probe should fail fast */
#define PROBE_RTO_NS (500 * NS_PER_MS)
#define PROBE_TRIES 3
#define PROBE_TXN_NS (5 * NS_PER_S)
#define PROBE_STALE_MAX 2               /* 438s one request may get */
#define PROBE_NONCE_MAX 255
#define PROBE_RX_BURST 64

/* RFC 8656 §9: permissions last 300 s, so refresh well before */
#define PROBE_REFRESH_MAX_S 240

#define PROBE_CHAN_A 0x4000
#define PROBE_CHAN_B 0x4001             /* differs from A's on purpose */

#define PROBE_STEP_BIND 1u
#define PROBE_STEP_REFRESH 2u

struct probe_txn {
	bool active;
	bool done;               /* finished since the caller last looked */
	int result;              /* 0 or -errno once done */
	uint16_t method;
	uint32_t lifetime;       /* Refresh: LIFETIME to ask for */
	unsigned tries;
	unsigned stale;
	uint64_t started;
	uint64_t next;           /* retransmit time */
	uint64_t rto;
	uint8_t tid[STUN_TID_LEN];
	size_t len;
	uint8_t req[1024];
};

struct probe_end {
	const char *name;
	int fd;
	uint16_t chan;           /* bound to the peer's relayed address */
	bool authed;             /* key and nonce from a 401 */
	bool allocated;
	uint32_t lifetime;       /* granted, s */
	unsigned todo;           /* PROBE_STEP_* still to start */
	struct sotto_addr relayed;
	struct probe_end *peer;
	uint8_t key[16];
	uint8_t nonce[PROBE_NONCE_MAX];
	uint16_t nonce_len;
	int err_code;            /* STUN error code of the last failure */
	char err_reason[64];
	struct probe_txn txn;
};

/* Level and dominant frequency of a PCM stream, fed in pieces. */
struct probe_tone {
	uint64_t skip;           /* samples still to ignore */
	uint64_t n;
	double sumsq;
	unsigned fill;
	unsigned blocks;
	double re[PROBE_FFT_N];
	double im[PROBE_FFT_N];
	double psd[PROBE_FFT_N / 2 + 1];
};

struct probe {
	const struct probe_opts *o;
	struct probe_report *r;
	char username[96];
	char password[64];
	struct probe_end end[2];

	/* media, A to B */
	OpusEncoder *enc;
	double phase;
	double amp;
	unsigned n_frames;
	unsigned n_sent;
	uint16_t seq0;
	uint32_t ts0;
	uint32_t ssrc;
	uint64_t *send_ns;
	uint8_t *rx_have;
	uint16_t *rx_len;
	uint8_t *rx_buf;         /* n_frames slots of PROBE_OPUS_MAX */
	uint64_t *lat_ns;
	unsigned n_lat;
	bool jit_have;
	int64_t last_transit;
	double jitter_ns;

	double window[PROBE_FFT_N];
	struct probe_tone tone_tx;
	struct probe_tone tone_rx;
};

static const char *const probe_check_names[] = {
#define PROBE_CHECK_NAME(id, name) name,
	PROBE_CHECKS(PROBE_CHECK_NAME)
#undef PROBE_CHECK_NAME
};

static uint64_t
now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Server-supplied text goes to terminals and JSON: printable ASCII only. */
static void
copy_printable(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	size_t i;

	if (cap == 0)
		return;
	if (len > cap - 1)
		len = cap - 1;
	for (i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[len] = '\0';
}

static void
set_error(struct probe *p, bool local, const char *fmt, ...)
{
	va_list ap;

	if (p->r->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->r->error, sizeof(p->r->error), fmt, ap);
	va_end(ap);
	p->r->local_error = local;
}

static const char *
method_name(uint16_t method)
{
	switch (method) {
	case TURN_ALLOCATE: return "Allocate";
	case TURN_REFRESH: return "Refresh";
	case TURN_CREATE_PERMISSION: return "CreatePermission";
	case TURN_CHANNEL_BIND: return "ChannelBind";
	default: return "request";
	}
}

/* ---- credentials ---- */

/* TURN REST (draft-uberti-behave-turn-rest): password = b64(HMAC-SHA1). */
static int
rest_password(const char *secret, const char *user, char *out, size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
		  (const unsigned char *)user, strlen(user), mac, &maclen))
		return -EIO;
	if (cap < 4 * ((maclen + 2) / 3) + 1)
		return -ENOSPC;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
	return 0;
}

/*
 * The secret file: its first line that is neither empty nor a comment, so
 * the file sottod reads as turn.auth.secret_file works here too.
 */
static int
read_secret_file(const char *path, char *out, size_t cap)
{
	char line[512];
	int err = -ENODATA;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		char *s = line;

		line[n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			s[--n] = '\0';
		if (n == 0 || s[0] == '#')
			continue;
		if (n >= cap) {
			err = -ENAMETOOLONG;
		} else {
			memcpy(out, s, n + 1);
			err = 0;
		}
		break;
	}
	if (ferror(f))
		err = -EIO;
	fclose(f);
	explicit_bzero(line, sizeof(line));
	return err;
}

/* ---- STUN transactions, one at a time per end ---- */

static int
error_code(const struct stun_msg *m, char *reason, size_t cap)
{
	const struct stun_attr *e = stun_find(m, STUN_A_ERROR_CODE);

	reason[0] = '\0';
	if (!e || e->len < 4)
		return 0;
	/* RFC 8489 §14.8: class in the low 3 bits of byte 2, number in 3 */
	copy_printable(reason, cap, e->val + 4, e->len - 4u);
	return (e->val[2] & 7) * 100 + e->val[3];
}

static void
txn_finish(struct probe_txn *t, int result)
{
	t->active = false;
	t->done = true;
	t->result = result;
}

static void
txn_build(struct probe *p, struct probe_end *e)
{
	struct probe_txn *t = &e->txn;
	struct stun_builder b;

	stun_build(&b, t->req, sizeof(t->req), t->method, STUN_REQUEST, t->tid);
	switch (t->method) {
	case TURN_ALLOCATE:
		/* RFC 8656 §7.1: UDP = protocol 17 in the first byte */
		stun_add_u32(&b, STUN_A_REQUESTED_TRANSPORT, 17u << 24);
		break;
	case TURN_CREATE_PERMISSION:
		stun_add_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS,
				  &e->peer->relayed);
		break;
	case TURN_CHANNEL_BIND:
		stun_add_u32(&b, STUN_A_CHANNEL_NUMBER, (uint32_t)e->chan << 16);
		stun_add_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS,
				  &e->peer->relayed);
		break;
	case TURN_REFRESH:
		stun_add_u32(&b, STUN_A_LIFETIME, t->lifetime);
		break;
	default:
		break;
	}
	if (e->authed) {
		stun_add(&b, STUN_A_USERNAME, p->username,
			 (uint16_t)strlen(p->username));
		stun_add(&b, STUN_A_REALM, p->r->realm,
			 (uint16_t)strlen(p->r->realm));
		stun_add(&b, STUN_A_NONCE, e->nonce, e->nonce_len);
		stun_add_integrity(&b, e->key, sizeof(e->key));
	}
	stun_add_fingerprint(&b);
	t->len = stun_finish(&b);
}

static void
txn_send(struct probe *p, struct probe_end *e, uint64_t now)
{
	struct probe_txn *t = &e->txn;

	if (t->tries > 0)
		p->r->retransmits++;
	/* a full socket buffer is a loss the retransmit covers; a refusal
	 * (ICMP port unreachable on the connected socket) is an answer */
	if (send(e->fd, t->req, t->len, 0) < 0 && errno == ECONNREFUSED) {
		txn_finish(t, -ECONNREFUSED);
		return;
	}
	t->tries++;
	t->next = now + t->rto;
	t->rto *= 2;
}

/* A new request, or the same one again with fresh credentials. */
static void
txn_begin(struct probe *p, struct probe_end *e)
{
	struct probe_txn *t = &e->txn;
	uint64_t now = now_ns();

	if (RAND_bytes(t->tid, sizeof(t->tid)) != 1) {
		txn_finish(t, -EIO);
		return;
	}
	t->active = true;
	t->done = false;
	t->tries = 0;
	t->rto = PROBE_RTO_NS;
	t->started = now;
	txn_build(p, e);
	if (t->len == 0) {
		txn_finish(t, -EMSGSIZE);
		return;
	}
	p->r->requests++;
	txn_send(p, e, now);
}

static void
txn_start(struct probe *p, struct probe_end *e, uint16_t method,
	  uint32_t lifetime)
{
	e->txn.method = method;
	e->txn.lifetime = lifetime;
	e->txn.stale = 0;
	e->err_code = 0;
	e->err_reason[0] = '\0';
	txn_begin(p, e);
}

/* 401 to the first Allocate: realm and nonce, then the long-term key. */
static int
take_challenge(struct probe *p, struct probe_end *e, const struct stun_msg *m)
{
	const struct stun_attr *realm = stun_find(m, STUN_A_REALM);
	const struct stun_attr *nonce = stun_find(m, STUN_A_NONCE);
	char got[sizeof(p->r->realm)];

	if (!nonce || nonce->len == 0 || nonce->len > PROBE_NONCE_MAX)
		return -EPROTO;
	memcpy(e->nonce, nonce->val, nonce->len);
	e->nonce_len = nonce->len;
	if (e->authed)
		return 0; /* 438: only the nonce changes */
	if (!realm || realm->len == 0 || realm->len >= sizeof(got))
		return -EPROTO;
	copy_printable(got, sizeof(got), realm->val, realm->len);
	if (memcmp(got, realm->val, realm->len) != 0)
		return -EPROTO; /* not text we could hash as the server does */
	if (p->r->realm[0] && strcmp(p->r->realm, got) != 0) {
		set_error(p, false, "%s: the server's realm is \"%s\", "
			  "expected \"%s\"", e->name, got, p->r->realm);
		return -EACCES;
	}
	memcpy(p->r->realm, got, strlen(got) + 1);
	stun_lt_key(p->username, p->r->realm, p->password, e->key);
	e->authed = true;
	return 0;
}

static void
on_error_response(struct probe *p, struct probe_end *e,
		  const struct stun_msg *m)
{
	struct probe_txn *t = &e->txn;
	int code, err;

	code = error_code(m, e->err_reason, sizeof(e->err_reason));
	e->err_code = code;
	if (code == 401 && !e->authed && t->method == TURN_ALLOCATE) {
		err = take_challenge(p, e, m);
		if (err < 0) {
			txn_finish(t, err);
			return;
		}
		txn_begin(p, e);
		return;
	}
	/* RFC 8489 §9.2.5: after a 438, retry with the new nonce */
	if (code == 438 && e->authed && t->stale < PROBE_STALE_MAX) {
		t->stale++;
		err = take_challenge(p, e, m);
		if (err < 0) {
			txn_finish(t, err);
			return;
		}
		txn_begin(p, e);
		return;
	}
	txn_finish(t, code == 401 ? -EACCES : -EPROTO);
}

static void
on_success(struct probe_end *e, const struct stun_msg *m)
{
	struct probe_txn *t = &e->txn;
	const struct stun_attr *a;
	uint32_t lt;

	switch (t->method) {
	case TURN_ALLOCATE:
		a = stun_find(m, STUN_A_XOR_RELAYED_ADDRESS);
		if (!a || stun_attr_xor_addr(m, a, &e->relayed) < 0) {
			snprintf(e->err_reason, sizeof(e->err_reason),
				 "no XOR-RELAYED-ADDRESS in the answer");
			txn_finish(t, -EPROTO);
			return;
		}
		e->allocated = true;
		/* RFC 8656 §7.2 puts LIFETIME in every success; for a
		 * server that leaves it out, assume the default 600 s */
		e->lifetime = 600;
		a = stun_find(m, STUN_A_LIFETIME);
		if (a && stun_attr_u32(a, &lt) == 0)
			e->lifetime = lt;
		break;
	case TURN_REFRESH:
		a = stun_find(m, STUN_A_LIFETIME);
		if (a && stun_attr_u32(a, &lt) == 0)
			e->lifetime = lt;
		if (t->lifetime == 0)
			e->allocated = false;
		break;
	default:
		break;
	}
	txn_finish(t, 0);
}

static void
on_stun(struct probe *p, struct probe_end *e, const uint8_t *buf, size_t len)
{
	struct probe_txn *t = &e->txn;
	struct stun_msg m;

	if (stun_parse(&m, buf, len) < 0 || !t->active ||
	    m.method != t->method ||
	    memcmp(m.tid, t->tid, STUN_TID_LEN) != 0 ||
	    (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR) ||
	    stun_check_fingerprint(&m) == 0) {
		p->r->stray++;
		return;
	}
	if (m.cls == STUN_ERROR) {
		on_error_response(p, e, &m);
		return;
	}
	/* RFC 8489 §9.2.5: a response failing the integrity check is
	 * dropped as if it never came */
	if (!e->authed || stun_check_integrity(&m, e->key, sizeof(e->key)) != 1) {
		p->r->stray++;
		return;
	}
	on_success(e, &m);
}

/* ---- media receive (B) ---- */

static void
on_media(struct probe *p, const uint8_t *buf, size_t len, uint64_t now)
{
	const uint8_t *rtp = buf + CHANDATA_HDR_LEN;
	size_t off, end, plen;
	uint16_t ch, seq;
	uint32_t ts, ssrc;
	unsigned idx;
	int dlen;
	int64_t transit, d;

	dlen = chandata_parse(buf, len, &ch);
	if (dlen < PROBE_RTP_HDR || ch != p->end[1].chan)
		goto stray;
	/* RFC 3550 §5.1 */
	if ((rtp[0] >> 6) != 2 || (rtp[1] & 0x7f) != PROBE_PT)
		goto stray;
	end = (size_t)dlen;
	off = PROBE_RTP_HDR + 4u * (rtp[0] & 0x0f);
	if (rtp[0] & 0x10) { /* §5.3.1 header extension */
		if (off + 4 > end)
			goto stray;
		off += 4 + 4u * (size_t)(rtp[off + 2] << 8 | rtp[off + 3]);
	}
	if (rtp[0] & 0x20) { /* padding: count in the last byte */
		if (rtp[end - 1] == 0 || rtp[end - 1] > end)
			goto stray;
		end -= rtp[end - 1];
	}
	if (off >= end || end - off > PROBE_OPUS_MAX)
		goto stray;
	plen = end - off;
	seq = (uint16_t)(rtp[2] << 8 | rtp[3]);
	ts = (uint32_t)rtp[4] << 24 | (uint32_t)rtp[5] << 16 |
	     (uint32_t)rtp[6] << 8 | rtp[7];
	ssrc = (uint32_t)rtp[8] << 24 | (uint32_t)rtp[9] << 16 |
	       (uint32_t)rtp[10] << 8 | rtp[11];
	/* a call is at most 30000 frames: the 16-bit sequence never wraps
	 * onto itself */
	idx = (uint16_t)(seq - p->seq0);
	if (ssrc != p->ssrc || idx >= p->n_sent ||
	    ts != p->ts0 + (uint32_t)idx * PROBE_FRAME)
		goto stray;
	if (p->rx_have[idx]) {
		p->r->duplicates++;
		return;
	}
	p->rx_have[idx] = 1;
	p->rx_len[idx] = (uint16_t)plen;
	memcpy(p->rx_buf + (size_t)idx * PROBE_OPUS_MAX, rtp + off, plen);
	p->r->received++;
	if (now < p->send_ns[idx])
		now = p->send_ns[idx];
	/*
	 * RFC 3550 §6.4.1: D is the change in transit time. The sender's
	 * side of it is when the packet left rather than its RTP timestamp,
	 * so this process being late to send is not counted as the relay's.
	 */
	transit = (int64_t)(now - p->send_ns[idx]);
	p->lat_ns[p->n_lat++] = (uint64_t)transit;
	if (p->jit_have) {
		d = transit - p->last_transit;
		if (d < 0)
			d = -d;
		p->jitter_ns += ((double)d - p->jitter_ns) / 16.0;
	}
	p->last_transit = transit;
	p->jit_have = true;
	return;
stray:
	p->r->stray++;
}

/* ---- the loop ---- */

/*
 * When the datagram reached the socket, on CLOCK_MONOTONIC: the kernel's
 * receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) moved by how long ago
 * it was, so time this process spent descheduled before reading is not
 * counted as relay latency. A clock step inside that short wait is caught
 * by the bounds: never later than now, never before it was sent.
 */
static uint64_t
arrival_ns(struct msghdr *mh, uint64_t now)
{
	struct cmsghdr *c;
	struct timespec rx, wall;
	int64_t ago;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&rx, CMSG_DATA(c), sizeof(rx));
		clock_gettime(CLOCK_REALTIME, &wall);
		ago = (int64_t)(wall.tv_sec - rx.tv_sec) * (int64_t)NS_PER_S +
		      (wall.tv_nsec - rx.tv_nsec);
		if (ago <= 0)
			return now;
		return (uint64_t)ago < now ? now - (uint64_t)ago : 0;
	}
	return now;
}

static void
drain(struct probe *p, struct probe_end *e)
{
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct timespec)) + 64];
	} ctl;
	uint8_t buf[2048];
	struct msghdr mh;
	struct iovec iov;
	unsigned k;
	ssize_t n;

	for (k = 0; k < PROBE_RX_BURST; k++) {
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		n = recvmsg(e->fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ECONNREFUSED && e->txn.active)
				txn_finish(&e->txn, -ECONNREFUSED);
			if (errno == EINTR)
				continue;
			return;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			p->r->stray++;
			continue;
		}
		/* RFC 8656 §12: channel numbers start with 0b01, STUN with 0b00 */
		if (n >= CHANDATA_HDR_LEN && (buf[0] & 0xc0) == 0x40 &&
		    e == &p->end[1] && p->n_sent)
			on_media(p, buf, (size_t)n, arrival_ns(&mh, now_ns()));
		else if (stun_looks_like(buf, (size_t)n))
			on_stun(p, e, buf, (size_t)n);
		else
			p->r->stray++;
	}
}

static void
txn_timers(struct probe *p, uint64_t now)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		struct probe_end *e = &p->end[i];
		struct probe_txn *t = &e->txn;

		if (!t->active)
			continue;
		if (now >= t->started + PROBE_TXN_NS)
			txn_finish(t, -ETIMEDOUT);
		else if (t->tries < PROBE_TRIES && now >= t->next)
			txn_send(p, e, now);
	}
}

/* Sleeps until input, a transaction timer, or until (absolute). */
static void
probe_poll(struct probe *p, uint64_t until)
{
	struct pollfd pf[2];
	struct timespec ts;
	uint64_t now, wake = until;
	unsigned i;

	for (i = 0; i < 2; i++) {
		const struct probe_txn *t = &p->end[i].txn;
		uint64_t w;

		if (!t->active)
			continue;
		w = t->tries < PROBE_TRIES ? t->next : t->started + PROBE_TXN_NS;
		if (w < wake)
			wake = w;
	}
	now = now_ns();
	wake = wake > now ? wake - now : 0;
	ts.tv_sec = (time_t)(wake / NS_PER_S);
	ts.tv_nsec = (long)(wake % NS_PER_S);
	for (i = 0; i < 2; i++) {
		pf[i].fd = p->end[i].fd;
		pf[i].events = POLLIN;
		pf[i].revents = 0;
	}
	if (ppoll(pf, 2, &ts, NULL) > 0)
		for (i = 0; i < 2; i++)
			if (pf[i].revents)
				drain(p, &p->end[i]);
	txn_timers(p, now_ns());
}

/* Runs until neither end has a transaction in flight (each is bounded). */
static void
wait_txns(struct probe *p)
{
	while (p->end[0].txn.active || p->end[1].txn.active)
		probe_poll(p, UINT64_MAX);
}

static void
describe_failure(const struct probe_end *e, char *buf, size_t cap)
{
	const struct probe_txn *t = &e->txn;
	const char *m = method_name(t->method);

	if (e->err_code)
		snprintf(buf, cap, "%s (%s): %d %s", m, e->name, e->err_code,
			 e->err_reason);
	else if (e->err_reason[0])
		snprintf(buf, cap, "%s (%s): %s", m, e->name, e->err_reason);
	else
		snprintf(buf, cap, "%s (%s): %s", m, e->name,
			 strerror(-t->result));
}

/* Runs one step on both ends at once; 0 or the first end's error. */
static int
step_both(struct probe *p, uint16_t method)
{
	char why[160], srv[SOTTO_ADDRSTRLEN];
	unsigned i;

	for (i = 0; i < 2; i++)
		txn_start(p, &p->end[i], method, 0);
	wait_txns(p);
	for (i = 0; i < 2; i++) {
		struct probe_end *e = &p->end[i];
		int rc = e->txn.result;

		e->txn.done = false;
		if (rc == 0)
			continue;
		sotto_addr_str(&p->o->server, srv, sizeof(srv));
		describe_failure(e, why, sizeof(why));
		if (rc == -ECONNREFUSED)
			set_error(p, false, "no TURN server at %s (port "
				  "unreachable)", srv);
		else if (rc == -ETIMEDOUT)
			set_error(p, false, "no answer from %s: %s, %u tries "
				  "in %u s", srv, method_name(method),
				  PROBE_TRIES,
				  (unsigned)(PROBE_TXN_NS / NS_PER_S));
		else if (rc == -EACCES)
			set_error(p, false, "authentication failed at %s: %s "
				  "(wrong secret or realm, or the clocks "
				  "disagree on the expiry)", srv, why);
		else
			set_error(p, false, "%s refused the call: %s", srv, why);
		return rc;
	}
	return 0;
}

/* RFC 8656 §8: LIFETIME 0 deletes. Best effort, bounded like any request. */
static void
teardown(struct probe *p)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		if (p->end[i].allocated)
			txn_start(p, &p->end[i], TURN_REFRESH, 0);
	wait_txns(p);
}

/* ---- tone analysis ---- */

/* In place, radix 2, n a power of two. */
static void
fft(double *re, double *im, unsigned n)
{
	unsigned i, j, k, len, bit;

	for (i = 1, j = 0; i < n; i++) {
		for (bit = n >> 1; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i];

			re[i] = re[j];
			re[j] = t;
			t = im[i];
			im[i] = im[j];
			im[j] = t;
		}
	}
	for (len = 2; len <= n; len <<= 1) {
		double a = -2.0 * M_PI / len;

		for (k = 0; k < len / 2; k++) {
			double wr = cos(a * k), wi = sin(a * k);

			for (i = k; i < n; i += len) {
				unsigned h = i + len / 2;
				double vr = re[h] * wr - im[h] * wi;
				double vi = re[h] * wi + im[h] * wr;

				re[h] = re[i] - vr;
				im[h] = im[i] - vi;
				re[i] += vr;
				im[i] += vi;
			}
		}
	}
}

static void
tone_init(struct probe_tone *t)
{
	memset(t, 0, sizeof(*t));
	t->skip = PROBE_SKIP;
}

/* Level over every sample after the first 100 ms; spectrum averaged over
 * whole Hann-windowed blocks (Welch). */
static void
tone_feed(struct probe *p, struct probe_tone *t, const int16_t *pcm,
	  unsigned n)
{
	unsigned i, k;

	for (i = 0; i < n; i++) {
		double x = pcm[i] / PROBE_FULL_SCALE;

		if (t->skip) {
			t->skip--;
			continue;
		}
		t->n++;
		t->sumsq += x * x;
		t->re[t->fill] = x * p->window[t->fill];
		t->im[t->fill] = 0;
		if (++t->fill < PROBE_FFT_N)
			continue;
		fft(t->re, t->im, PROBE_FFT_N);
		for (k = 0; k <= PROBE_FFT_N / 2; k++)
			t->psd[k] += t->re[k] * t->re[k] + t->im[k] * t->im[k];
		t->blocks++;
		t->fill = 0;
	}
}

static void
tone_result(const struct probe_tone *t, double *hz, double *dbfs)
{
	unsigned k, best = 2;
	double rms;

	rms = t->n ? sqrt(t->sumsq / (double)t->n) : 0;
	/* AES17: a full-scale sine is 0 dBFS, so peak = rms * sqrt(2) */
	*dbfs = rms > 0 ? 20.0 * log10(rms * M_SQRT2) : PROBE_FLOOR_DBFS;
	if (*dbfs < PROBE_FLOOR_DBFS)
		*dbfs = PROBE_FLOOR_DBFS;
	*hz = 0;
	/* bins 0 and 1 carry DC and the window's spread of it */
	for (k = 3; k < PROBE_FFT_N / 2; k++)
		if (t->psd[k] > t->psd[best])
			best = k;
	if (t->psd[best] <= 0)
		return;
	{
		/* parabola through the log power of the peak and its
		 * neighbours: a fraction of a bin for a Hann window */
		double a = log(t->psd[best - 1] + 1e-300);
		double b = log(t->psd[best]);
		double c = log(t->psd[best + 1] + 1e-300);
		double den = a - 2 * b + c, delta = 0;

		if (den < 0)
			delta = 0.5 * (a - c) / den;
		if (delta > 0.5 || delta < -0.5)
			delta = 0;
		*hz = ((double)best + delta) * PROBE_RATE / PROBE_FFT_N;
	}
}

/* ---- media send (A) ---- */

static int
send_frame(struct probe *p)
{
	uint8_t pkt[CHANDATA_HDR_LEN + PROBE_RTP_HDR + PROBE_OPUS_MAX];
	uint8_t *rtp = pkt + CHANDATA_HDR_LEN;
	unsigned k = p->n_sent, i;
	int16_t pcm[PROBE_FRAME];
	uint32_t ts = p->ts0 + k * PROBE_FRAME;
	uint16_t seq = (uint16_t)(p->seq0 + k);
	double step = 2.0 * M_PI * p->o->tone_hz / PROBE_RATE;
	int n;

	for (i = 0; i < PROBE_FRAME; i++) {
		pcm[i] = (int16_t)lrint(p->amp * sin(p->phase));
		p->phase += step;
		if (p->phase >= 2.0 * M_PI)
			p->phase -= 2.0 * M_PI;
	}
	tone_feed(p, &p->tone_tx, pcm, PROBE_FRAME);
	n = opus_encode(p->enc, pcm, PROBE_FRAME, rtp + PROBE_RTP_HDR,
			PROBE_OPUS_MAX);
	if (n < 0) {
		set_error(p, true, "opus_encode: %s", opus_strerror(n));
		return -EIO;
	}
	/* RFC 3550 §5.1; RFC 3551 §4.1: the marker starts a talkspurt */
	rtp[0] = 0x80;
	rtp[1] = (uint8_t)((k == 0 ? 0x80 : 0) | PROBE_PT);
	rtp[2] = (uint8_t)(seq >> 8);
	rtp[3] = (uint8_t)seq;
	rtp[4] = (uint8_t)(ts >> 24);
	rtp[5] = (uint8_t)(ts >> 16);
	rtp[6] = (uint8_t)(ts >> 8);
	rtp[7] = (uint8_t)ts;
	rtp[8] = (uint8_t)(p->ssrc >> 24);
	rtp[9] = (uint8_t)(p->ssrc >> 16);
	rtp[10] = (uint8_t)(p->ssrc >> 8);
	rtp[11] = (uint8_t)p->ssrc;
	chandata_write_hdr(pkt, p->end[0].chan, (uint16_t)(PROBE_RTP_HDR + n));
	p->send_ns[k] = now_ns();
	p->n_sent++;
	/* RFC 8656 §12.5: over UDP the padding to 4 bytes may be left out */
	if (send(p->end[0].fd, pkt, CHANDATA_HDR_LEN + PROBE_RTP_HDR + (size_t)n,
		 0) < 0)
		p->r->tx_errors++;
	return 0;
}

/* Starts the next refresh step of each end that is idle; records the
 * first one that failed. */
static void
maintain(struct probe *p)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		struct probe_end *e = &p->end[i];

		if (e->txn.done) {
			e->txn.done = false;
			if (e->txn.result < 0) {
				char why[160];

				describe_failure(e, why, sizeof(why));
				p->r->failed_mask |= 1u << PROBE_CHECK_REFRESH;
				if (!p->r->refresh_error[0])
					snprintf(p->r->refresh_error,
						 sizeof(p->r->refresh_error),
						 "%s", why);
			}
		}
		if (e->txn.active || !e->todo)
			continue;
		/* RFC 8656 §12.2: a ChannelBind refreshes the binding and
		 * the permission; §8: a Refresh keeps the allocation */
		if (e->todo & PROBE_STEP_BIND) {
			e->todo &= ~PROBE_STEP_BIND;
			txn_start(p, e, TURN_CHANNEL_BIND, 0);
		} else {
			e->todo &= ~PROBE_STEP_REFRESH;
			txn_start(p, e, TURN_REFRESH, e->lifetime);
		}
	}
}

static int
run_media(struct probe *p)
{
	uint64_t t0, interval, next_maint, end_send, end, due, now;
	uint32_t lt;
	unsigned i;

	/* refresh at least twice per allocation lifetime */
	lt = p->end[0].lifetime < p->end[1].lifetime ? p->end[0].lifetime :
						       p->end[1].lifetime;
	interval = p->o->refresh_s;
	if (interval > PROBE_REFRESH_MAX_S)
		interval = PROBE_REFRESH_MAX_S;
	if (lt / 2 < interval)
		interval = lt / 2 ? lt / 2 : 1;
	interval *= NS_PER_S;

	t0 = now_ns() + PROBE_FRAME_NS;
	next_maint = t0 + interval;
	end_send = t0 + (uint64_t)p->n_frames * PROBE_FRAME_NS;
	end = end_send + PROBE_DRAIN_NS;
	for (;;) {
		now = now_ns();
		if (p->n_sent < p->n_frames) {
			due = t0 + (uint64_t)p->n_sent * PROBE_FRAME_NS;
			if (now >= due) {
				if (send_frame(p) < 0)
					return -EIO;
				continue;
			}
		} else {
			due = end;
			/* everything in: no need to wait out the drain */
			if (p->r->received == p->n_sent || now >= end)
				break;
		}
		if (now >= next_maint && now < end_send) {
			for (i = 0; i < 2; i++)
				p->end[i].todo |= PROBE_STEP_BIND |
						  PROBE_STEP_REFRESH;
			next_maint += interval;
		}
		maintain(p);
		if (next_maint < end_send && next_maint < due)
			due = next_maint;
		probe_poll(p, due);
	}
	/* let a refresh in flight finish, so its outcome is known */
	wait_txns(p);
	for (i = 0; i < 2; i++)
		p->end[i].todo = 0;
	maintain(p);
	return 0;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int
decode(struct probe *p)
{
	int16_t pcm[PROBE_FRAME];
	OpusDecoder *dec;
	unsigned i;
	int err, n;

	dec = opus_decoder_create(PROBE_RATE, 1, &err);
	if (!dec) {
		set_error(p, true, "opus_decoder_create: %s", opus_strerror(err));
		return -ENOMEM;
	}
	for (i = 0; i < p->n_sent; i++) {
		const uint8_t *pl = p->rx_buf + (size_t)i * PROBE_OPUS_MAX;

		if (p->rx_have[i]) {
			n = opus_decode(dec, pl, p->rx_len[i], pcm, PROBE_FRAME,
					0);
		} else if (i + 1 < p->n_sent && p->rx_have[i + 1]) {
			/* RFC 6716 §2.1.7: the next frame carries this one's
			 * LBRR copy; without it libopus conceals */
			n = opus_decode(dec, pl + PROBE_OPUS_MAX,
					p->rx_len[i + 1], pcm, PROBE_FRAME, 1);
			p->r->fec_frames++;
		} else {
			n = opus_decode(dec, NULL, 0, pcm, PROBE_FRAME, 0);
			p->r->plc_frames++;
		}
		/* a frame that does not decode is silence of the right
		 * length: the stream stays aligned with the one sent */
		if (n < 0)
			n = 0;
		if (n < PROBE_FRAME)
			memset(pcm + n, 0, (PROBE_FRAME - (unsigned)n) * sizeof(pcm[0]));
		tone_feed(p, &p->tone_rx, pcm, PROBE_FRAME);
	}
	opus_decoder_destroy(dec);
	return 0;
}

static void
add_failure(struct probe_report *r, enum probe_check c, const char *fmt, ...)
{
	size_t n = strlen(r->failed);
	va_list ap;

	r->failed_mask |= 1u << c;
	if (n && n + 2 < sizeof(r->failed)) {
		memcpy(r->failed + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->failed + n, sizeof(r->failed) - n, fmt, ap);
	va_end(ap);
}

static void
judge(const struct probe_opts *o, struct probe_report *r)
{
	double ferr = fabs(r->freq_hz - o->tone_hz);

	if (r->sent == 0 || r->loss_pct > o->max_loss_pct)
		add_failure(r, PROBE_CHECK_LOSS, "loss %.2f %% > %g %%",
			    r->loss_pct, o->max_loss_pct);
	if (r->received == 0)
		add_failure(r, PROBE_CHECK_LATENCY, "latency: nothing received");
	else if (r->lat_p99_ms > o->max_p99_ms)
		add_failure(r, PROBE_CHECK_LATENCY,
			    "p99 latency %.2f ms > %g ms", r->lat_p99_ms,
			    o->max_p99_ms);
	if (r->received < 2)
		add_failure(r, PROBE_CHECK_JITTER, "jitter: too few packets");
	else if (r->jitter_ms > o->max_jitter_ms)
		add_failure(r, PROBE_CHECK_JITTER, "jitter %.2f ms > %g ms",
			    r->jitter_ms, o->max_jitter_ms);
	if (ferr > o->tone_hz * o->max_freq_err_pct / 100.0)
		add_failure(r, PROBE_CHECK_FREQUENCY,
			    "tone %.1f Hz not within %g %% of %g Hz",
			    r->freq_hz, o->max_freq_err_pct, o->tone_hz);
	if (fabs(r->level_dbfs - r->sent_dbfs) > o->max_level_err_db)
		add_failure(r, PROBE_CHECK_LEVEL,
			    "level %.1f dBFS not within %g dB of %.1f dBFS",
			    r->level_dbfs, o->max_level_err_db, r->sent_dbfs);
	if (r->refresh_error[0]) {
		/* maintain() set the bit; the text goes with the others */
		r->failed_mask &= ~(1u << PROBE_CHECK_REFRESH);
		add_failure(r, PROBE_CHECK_REFRESH, "refresh: %s",
			    r->refresh_error);
	}
	r->pass = r->failed_mask == 0;
}

static void
summarize(struct probe *p)
{
	struct probe_report *r = p->r;
	uint64_t *l = p->lat_ns;
	unsigned n = p->n_lat;

	r->sent = p->n_sent;
	r->lost = r->sent - r->received;
	r->loss_pct = r->sent ? 100.0 * (double)r->lost / (double)r->sent : 0;
	if (n) {
		/* nearest rank */
		qsort(l, n, sizeof(*l), cmp_u64);
		r->lat_p50_ms = (double)l[(n * 50 + 99) / 100 - 1] / 1e6;
		r->lat_p99_ms = (double)l[(n * 99 + 99) / 100 - 1] / 1e6;
		r->lat_max_ms = (double)l[n - 1] / 1e6;
	}
	r->jitter_ms = p->jitter_ns / 1e6;
	tone_result(&p->tone_tx, &r->sent_hz, &r->sent_dbfs);
	tone_result(&p->tone_rx, &r->freq_hz, &r->level_dbfs);
}

static int
open_end(struct probe *p, struct probe_end *e)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	e->fd = socket(p->o->server.family,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		return -errno;
	/* without it arrival is when we read: still right, less exact */
	(void)setsockopt(e->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	/* connected: ICMP errors come back, and only the server gets in */
	sl = sotto_addr_to_sockaddr(&p->o->server, &ss);
	if (connect(e->fd, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

static int
media_init(struct probe *p)
{
	uint8_t rnd[10];
	unsigned i;
	int err;

	p->n_frames = p->o->seconds * (PROBE_RATE / PROBE_FRAME);
	p->send_ns = calloc(p->n_frames, sizeof(*p->send_ns));
	p->lat_ns = calloc(p->n_frames, sizeof(*p->lat_ns));
	p->rx_have = calloc(p->n_frames, 1);
	p->rx_len = calloc(p->n_frames, sizeof(*p->rx_len));
	p->rx_buf = malloc((size_t)p->n_frames * PROBE_OPUS_MAX);
	if (!p->send_ns || !p->lat_ns || !p->rx_have || !p->rx_len ||
	    !p->rx_buf) {
		set_error(p, true, "out of memory");
		return -ENOMEM;
	}
	/* RFC 3550 §5.1: random initial sequence number, timestamp, SSRC */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		set_error(p, true, "no random bytes");
		return -EIO;
	}
	p->seq0 = (uint16_t)(rnd[0] << 8 | rnd[1]);
	p->ts0 = (uint32_t)rnd[2] << 24 | (uint32_t)rnd[3] << 16 |
		 (uint32_t)rnd[4] << 8 | rnd[5];
	p->ssrc = (uint32_t)rnd[6] << 24 | (uint32_t)rnd[7] << 16 |
		  (uint32_t)rnd[8] << 8 | rnd[9];

	p->enc = opus_encoder_create(PROBE_RATE, 1, OPUS_APPLICATION_VOIP, &err);
	if (!p->enc) {
		set_error(p, true, "opus_encoder_create: %s", opus_strerror(err));
		return -ENOMEM;
	}
	/* what a WebRTC sender does: in-band FEC planned for some loss */
	if (opus_encoder_ctl(p->enc, OPUS_SET_BITRATE(PROBE_BITRATE)) != OPUS_OK ||
	    opus_encoder_ctl(p->enc, OPUS_SET_INBAND_FEC(1)) != OPUS_OK ||
	    opus_encoder_ctl(p->enc,
			     OPUS_SET_PACKET_LOSS_PERC(PROBE_LOSS_HINT)) != OPUS_OK) {
		set_error(p, true, "opus_encoder_ctl failed");
		return -EINVAL;
	}
	p->amp = PROBE_FULL_SCALE * pow(10.0, p->o->tone_dbfs / 20.0);
	for (i = 0; i < PROBE_FFT_N; i++)
		p->window[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / PROBE_FFT_N);
	tone_init(&p->tone_tx);
	tone_init(&p->tone_rx);
	return 0;
}

static void
probe_free(struct probe *p)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (p->end[i].fd >= 0)
			close(p->end[i].fd);
		explicit_bzero(p->end[i].key, sizeof(p->end[i].key));
	}
	if (p->enc)
		opus_encoder_destroy(p->enc);
	free(p->send_ns);
	free(p->lat_ns);
	free(p->rx_have);
	free(p->rx_len);
	free(p->rx_buf);
	explicit_bzero(p->password, sizeof(p->password));
	free(p);
}

void
probe_opts_default(struct probe_opts *o)
{
	memset(o, 0, sizeof(*o));
	sotto_addr_v4(&o->server, htonl(0x7f000001u), 3478);
	snprintf(o->user, sizeof(o->user), "sotto-probe");
	o->seconds = 5;
	o->refresh_s = PROBE_REFRESH_MAX_S;
	o->tone_hz = 1000;
	o->tone_dbfs = -20;
	o->max_loss_pct = 1;
	o->max_p99_ms = 50;
	o->max_jitter_ms = 20;
	o->max_freq_err_pct = 2;
	o->max_level_err_db = 3;
}

int
probe_run(const struct probe_opts *o, struct probe_report *r)
{
	struct probe *p;
	uint64_t t;
	unsigned i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (o->seconds == 0 || o->seconds > PROBE_SECONDS_MAX ||
	    !o->secret[0] || !o->user[0] || o->refresh_s == 0 ||
	    (o->server.family != AF_INET && o->server.family != AF_INET6)) {
		snprintf(r->error, sizeof(r->error), "invalid options");
		r->local_error = true;
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		r->local_error = true;
		return -ENOMEM;
	}
	p->o = o;
	p->r = r;
	snprintf(r->realm, sizeof(r->realm), "%s", o->realm);
	for (i = 0; i < 2; i++) {
		p->end[i].fd = -1;
		p->end[i].name = i ? "B" : "A";
		p->end[i].chan = i ? PROBE_CHAN_B : PROBE_CHAN_A;
		p->end[i].peer = &p->end[i ^ 1];
	}
	/* credentials valid for the whole call and its tear-down */
	snprintf(p->username, sizeof(p->username), "%lld:%s",
		 (long long)time(NULL) + o->seconds + 600, o->user);
	rc = rest_password(o->secret, p->username, p->password,
			   sizeof(p->password));
	if (rc < 0) {
		set_error(p, true, "cannot compute the REST password");
		goto out;
	}
	rc = media_init(p);
	if (rc < 0)
		goto out;
	for (i = 0; i < 2; i++) {
		rc = open_end(p, &p->end[i]);
		if (rc < 0) {
			char srv[SOTTO_ADDRSTRLEN];

			/* connect() fails when there is no route to it */
			set_error(p, rc == -EMFILE || rc == -ENFILE ||
					     rc == -ENOMEM || rc == -ENOBUFS,
				  "cannot reach %s: %s",
				  sotto_addr_str(&o->server, srv, sizeof(srv)),
				  strerror(-rc));
			goto out;
		}
	}

	t = now_ns();
	rc = step_both(p, TURN_ALLOCATE);
	for (i = 0; i < 2; i++)
		r->relayed[i] = p->end[i].relayed;
	if (rc == 0)
		rc = step_both(p, TURN_CREATE_PERMISSION);
	if (rc == 0)
		rc = step_both(p, TURN_CHANNEL_BIND);
	r->setup_ms = (double)(now_ns() - t) / 1e6;
	if (rc == 0)
		rc = run_media(p);
	teardown(p);
	if (rc < 0)
		goto out;
	rc = decode(p);
	if (rc < 0)
		goto out;
	summarize(p);
	judge(o, r);
out:
	probe_free(p);
	return rc;
}

/* ---- output ---- */

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
print_json(FILE *f, const struct probe_opts *o, const struct probe_report *r,
	   int rc)
{
	char a[SOTTO_ADDRSTRLEN], b[SOTTO_ADDRSTRLEN];
	unsigned i;
	bool first = true;

	fprintf(f, "{\"server\":");
	json_str(f, sotto_addr_str(&o->server, a, sizeof(a)));
	fprintf(f, ",\"user\":");
	json_str(f, o->user);
	if (rc < 0) {
		fprintf(f, ",\"pass\":false,\"error\":");
		json_str(f, r->error);
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, ",\"realm\":");
	json_str(f, r->realm);
	fprintf(f, ",\"seconds\":%u,\"relayed\":[", o->seconds);
	json_str(f, sotto_addr_str(&r->relayed[0], a, sizeof(a)));
	fputc(',', f);
	json_str(f, sotto_addr_str(&r->relayed[1], b, sizeof(b)));
	fprintf(f, "],\"setup_ms\":%.3f,\"requests\":%u,\"retransmits\":%u,"
		"\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
		",\"loss_pct\":%.3f,\"duplicates\":%" PRIu64 ",\"stray\":%" PRIu64
		",\"tx_errors\":%" PRIu64 ",\"fec_frames\":%u,\"plc_frames\":%u,"
		"\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
		"\"jitter_ms\":%.3f,"
		"\"tone\":{\"sent_hz\":%.1f,\"sent_dbfs\":%.2f,\"hz\":%.1f,"
		"\"dbfs\":%.2f},",
		r->setup_ms, r->requests, r->retransmits, r->sent, r->received,
		r->lost, r->loss_pct, r->duplicates, r->stray, r->tx_errors,
		r->fec_frames, r->plc_frames, r->lat_p50_ms, r->lat_p99_ms,
		r->lat_max_ms, r->jitter_ms, r->sent_hz, r->sent_dbfs,
		r->freq_hz, r->level_dbfs);
	fprintf(f, "\"thresholds\":{\"max_loss_pct\":%g,\"max_p99_ms\":%g,"
		"\"max_jitter_ms\":%g,\"tone_hz\":%g,\"max_freq_error_pct\":%g,"
		"\"max_level_error_db\":%g},",
		o->max_loss_pct, o->max_p99_ms, o->max_jitter_ms, o->tone_hz,
		o->max_freq_err_pct, o->max_level_err_db);
	fprintf(f, "\"pass\":%s,\"failed\":[", r->pass ? "true" : "false");
	for (i = 0; i < PROBE_CHECK_N; i++) {
		if (!(r->failed_mask & (1u << i)))
			continue;
		fprintf(f, "%s\"%s\"", first ? "" : ",", probe_check_names[i]);
		first = false;
	}
	fprintf(f, "],\"failures\":");
	json_str(f, r->failed);
	fprintf(f, "}\n");
}

static const char *
verdict(const struct probe_report *r, enum probe_check c)
{
	return r->failed_mask & (1u << c) ? "FAIL" : "ok";
}

static void
print_human(FILE *f, const struct probe_opts *o, const struct probe_report *r)
{
	char a[SOTTO_ADDRSTRLEN], b[SOTTO_ADDRSTRLEN];

	fprintf(f, "probe %s, realm %s, user %s, %u s of %g Hz at %g dBFS\n",
		sotto_addr_str(&o->server, a, sizeof(a)), r->realm, o->user,
		o->seconds, o->tone_hz, o->tone_dbfs);
	fprintf(f, "  relayed      A %s, B %s\n",
		sotto_addr_str(&r->relayed[0], a, sizeof(a)),
		sotto_addr_str(&r->relayed[1], b, sizeof(b)));
	fprintf(f, "  setup        %.1f ms, %u requests, %u retransmits\n",
		r->setup_ms, r->requests, r->retransmits);
	fprintf(f, "  packets      %" PRIu64 " sent, %" PRIu64 " received, %"
		PRIu64 " lost (%.2f %%)   [%s: <= %g %%]\n",
		r->sent, r->received, r->lost, r->loss_pct,
		verdict(r, PROBE_CHECK_LOSS), o->max_loss_pct);
	if (r->duplicates || r->stray || r->tx_errors)
		fprintf(f, "               %" PRIu64 " duplicates, %" PRIu64
			" stray, %" PRIu64 " send errors\n",
			r->duplicates, r->stray, r->tx_errors);
	fprintf(f, "  latency      p50 %.2f ms, p99 %.2f ms, max %.2f ms   "
		"[%s: p99 <= %g ms]\n", r->lat_p50_ms, r->lat_p99_ms,
		r->lat_max_ms, verdict(r, PROBE_CHECK_LATENCY), o->max_p99_ms);
	fprintf(f, "  jitter       %.2f ms (RFC 3550)   [%s: <= %g ms]\n",
		r->jitter_ms, verdict(r, PROBE_CHECK_JITTER), o->max_jitter_ms);
	fprintf(f, "  decoded      %u frames from FEC, %u concealed\n",
		r->fec_frames, r->plc_frames);
	fprintf(f, "  tone         %.1f Hz (sent %.1f Hz)   [%s: within %g %%]\n",
		r->freq_hz, r->sent_hz, verdict(r, PROBE_CHECK_FREQUENCY),
		o->max_freq_err_pct);
	fprintf(f, "  level        %.1f dBFS (sent %.1f dBFS)   "
		"[%s: within %g dB]\n", r->level_dbfs, r->sent_dbfs,
		verdict(r, PROBE_CHECK_LEVEL), o->max_level_err_db);
	if (r->pass)
		fprintf(f, "  result       PASS\n");
	else
		fprintf(f, "  result       FAIL: %s\n", r->failed);
}

/* ---- command line ---- */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sottoctl probe [--server ADDR] [--secret-file FILE]\n"
		"         [--seconds N] [--user U] [--realm R] [--tone-hz HZ]\n"
		"         [--tone-dbfs DB] [--max-loss PCT] [--max-p99 MS]\n"
		"         [--max-jitter MS] [--max-freq-error PCT]\n"
		"         [--max-level-error DB] [--refresh-interval S] [--json]\n"
		"\n"
		"Places a call through the TURN server ADDR (default\n"
		"127.0.0.1:3478): two allocations, a tone from one to the other as\n"
		"Opus in RTP over a channel, and checks loss, p99 one-way latency,\n"
		"jitter, and the frequency and level of the decoded tone.\n"
		"The REST secret is the first line of FILE, or SOTTO_TURN_SECRET.\n"
		"Defaults: 5 s (max %u), 1000 Hz at -20 dBFS, loss <= 1 %%,\n"
		"p99 <= 50 ms, jitter <= 20 ms, tone within 2 %%, level within 3 dB.\n"
		"Exit: 0 all checks pass, 1 a check failed, 2 usage, 3 the call\n"
		"could not be set up (no server, refused credentials or allocation).\n",
		PROBE_SECONDS_MAX);
}

static int
parse_double(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "sottoctl probe: --%s: want a number in "
			"%g..%g, not \"%s\"\n", name, lo, hi, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
parse_unsigned(const char *name, const char *s, unsigned lo, unsigned hi,
	       unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] < '0' || s[0] > '9' || v < lo ||
	    v > hi) {
		fprintf(stderr, "sottoctl probe: --%s: want an integer in "
			"%u..%u, not \"%s\"\n", name, lo, hi, s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int
copy_opt(const char *name, const char *s, char *dst, size_t cap)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= cap) {
		fprintf(stderr, "sottoctl probe: --%s: 1..%zu characters\n",
			name, cap - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			fprintf(stderr, "sottoctl probe: --%s: printable "
				"characters only, no spaces\n", name);
			return -EINVAL;
		}
	memcpy(dst, s, n + 1);
	return 0;
}

enum {
	OPT_SERVER = 256,
	OPT_SECRET_FILE,
	OPT_SECONDS,
	OPT_USER,
	OPT_REALM,
	OPT_TONE_HZ,
	OPT_TONE_DBFS,
	OPT_MAX_LOSS,
	OPT_MAX_P99,
	OPT_MAX_JITTER,
	OPT_MAX_FREQ,
	OPT_MAX_LEVEL,
	OPT_REFRESH,
	OPT_JSON,
	OPT_HELP,
};

static const struct option probe_longopts[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "user", required_argument, NULL, OPT_USER },
	{ "realm", required_argument, NULL, OPT_REALM },
	{ "tone-hz", required_argument, NULL, OPT_TONE_HZ },
	{ "tone-dbfs", required_argument, NULL, OPT_TONE_DBFS },
	{ "max-loss", required_argument, NULL, OPT_MAX_LOSS },
	{ "max-p99", required_argument, NULL, OPT_MAX_P99 },
	{ "max-jitter", required_argument, NULL, OPT_MAX_JITTER },
	{ "max-freq-error", required_argument, NULL, OPT_MAX_FREQ },
	{ "max-level-error", required_argument, NULL, OPT_MAX_LEVEL },
	{ "refresh-interval", required_argument, NULL, OPT_REFRESH },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int
parse_args(int argc, char **argv, struct probe_opts *o)
{
	const char *secret_file = NULL, *env;
	int c, rc = 0;

	probe_opts_default(o);
	/* 0, not 1: GNU getopt starts over, sottoctl may have parsed its own */
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", probe_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER:
			if (sotto_addr_parse(&o->server, optarg, 3478) < 0) {
				fprintf(stderr, "sottoctl probe: --server: want "
					"IP[:PORT] or [IPv6][:PORT], not \"%s\"\n",
					optarg);
				rc = -EINVAL;
			}
			break;
		case OPT_SECRET_FILE: secret_file = optarg; break;
		case OPT_SECONDS:
			rc = parse_unsigned("seconds", optarg, 1,
					    PROBE_SECONDS_MAX, &o->seconds);
			break;
		case OPT_USER:
			rc = copy_opt("user", optarg, o->user, sizeof(o->user));
			break;
		case OPT_REALM:
			rc = copy_opt("realm", optarg, o->realm, sizeof(o->realm));
			break;
		case OPT_TONE_HZ:
			/* the band a 32 kb/s Opus voice stream keeps */
			rc = parse_double("tone-hz", optarg, 100, 4000,
					  &o->tone_hz);
			break;
		case OPT_TONE_DBFS:
			rc = parse_double("tone-dbfs", optarg, -50, -3,
					  &o->tone_dbfs);
			break;
		case OPT_MAX_LOSS:
			rc = parse_double("max-loss", optarg, 0, 100,
					  &o->max_loss_pct);
			break;
		case OPT_MAX_P99:
			rc = parse_double("max-p99", optarg, 0, 60000,
					  &o->max_p99_ms);
			break;
		case OPT_MAX_JITTER:
			rc = parse_double("max-jitter", optarg, 0, 60000,
					  &o->max_jitter_ms);
			break;
		case OPT_MAX_FREQ:
			rc = parse_double("max-freq-error", optarg, 0, 100,
					  &o->max_freq_err_pct);
			break;
		case OPT_MAX_LEVEL:
			rc = parse_double("max-level-error", optarg, 0, 120,
					  &o->max_level_err_db);
			break;
		case OPT_REFRESH:
			rc = parse_unsigned("refresh-interval", optarg, 1,
					    PROBE_REFRESH_MAX_S, &o->refresh_s);
			break;
		case OPT_JSON: o->json = true; break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			rc = -EINVAL;
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "sottoctl probe: unexpected argument \"%s\"\n",
			argv[optind]);
		return -EINVAL;
	}
	if (secret_file) {
		rc = read_secret_file(secret_file, o->secret, sizeof(o->secret));
		if (rc < 0) {
			fprintf(stderr, "sottoctl probe: %s: %s\n", secret_file,
				rc == -ENODATA ? "no secret in the file" :
				rc == -ENAMETOOLONG ? "secret longer than 255 characters" :
				strerror(-rc));
			return rc;
		}
	} else if ((env = getenv("SOTTO_TURN_SECRET")) && env[0]) {
		if (strlen(env) >= sizeof(o->secret)) {
			fprintf(stderr, "sottoctl probe: SOTTO_TURN_SECRET "
				"longer than 255 characters\n");
			return -EINVAL;
		}
		snprintf(o->secret, sizeof(o->secret), "%s", env);
	} else {
		fprintf(stderr, "sottoctl probe: no secret: pass --secret-file "
			"or set SOTTO_TURN_SECRET\n");
		return -EINVAL;
	}
	return 0;
}

int
probe_main(int argc, char **argv)
{
	struct probe_report *r;
	struct probe_opts o;
	int rc, exit_code;

	rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "(sottoctl probe --help for usage)\n");
		explicit_bzero(&o, sizeof(o));
		return rc > 0 ? PROBE_EXIT_OK : PROBE_EXIT_USAGE;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(stderr, "sottoctl probe: out of memory\n");
		explicit_bzero(&o, sizeof(o));
		return PROBE_EXIT_FAIL;
	}
	rc = probe_run(&o, r);
	explicit_bzero(o.secret, sizeof(o.secret));
	if (rc < 0) {
		fprintf(stderr, "sottoctl probe: %s\n", r->error);
		exit_code = r->local_error ? PROBE_EXIT_FAIL :
					     PROBE_EXIT_UNREACHABLE;
	} else {
		exit_code = r->pass ? PROBE_EXIT_OK : PROBE_EXIT_FAIL;
		if (!r->pass && o.json)
			fprintf(stderr, "sottoctl probe: FAIL: %s\n", r->failed);
	}
	if (o.json)
		print_json(stdout, &o, r, rc);
	else if (rc == 0)
		print_human(stdout, &o, r);
	fflush(stdout);
	free(r);
	return exit_code;
}
