/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_load: gateway-mode load through sottod (docs/signaling.md,
 * control/gateway/gw.h, dataplane/gw/dp_gw.h), many WebRTC audio legs from one
 * process, each doing what a browser does:
 *
 *   POST /v1/rooms {"mode":"gateway"}, POST /v1/rooms/{id}/invites
 *   GET /v1/ws, {"type":"join"} -> "joined" (mode gateway)
 *   {"type":"offer","to":"gateway","sdp":...} -> "answer" from "gateway"
 *     (1 sendrecv + slots-1 recvonly Opus sections, BUNDLE, rtcp-mux,
 *     ssrc-audio-level, the sha-256 fingerprint of our certificate)
 *   ICE: Binding requests with USE-CANDIDATE to the answer's host
 *     candidate until one succeeds (the gateway is ICE-lite)
 *   DTLS 1.2 client on the same socket (RFC 7983 demultiplexing),
 *     use_srtp, then RFC 5764 keys from "EXTRACTOR-dtls_srtp"
 *   SRTP (dataplane/wire/srtp.h): 50 packets/s of Opus-sized RTP with an
 *     RFC 6464 audio level, loud for --loud legs per room and quiet for
 *     the rest; what the gateway forwards is authenticated, counted per
 *     slot SSRC and timed (the payload carries the send time: the gateway
 *     copies payloads untouched, and one CLOCK_MONOTONIC serves both ends)
 *   a consent check (RFC 7675) every 5 s per leg, and an answer to each
 *     of the gateway's own (USERNAME ours:theirs, MESSAGE-INTEGRITY with
 *     our ice-pwd, FINGERPRINT): it sends no DTLS or media to an address
 *     until that address has answered it.
 *
 * Phases: the rooms and invites first (HTTP keep-alive pool); then legs
 * start at --handshake-rate per second; once every leg is up or failed,
 * a --duration window in which media rates, latency and the server's
 * counters are measured; then every leg leaves.
 *
 * One thread, non-blocking sockets, epoll (edge-triggered): one UDP
 * socket per leg (the gateway tells legs apart by 5-tuple), one WebSocket
 * per leg. The HTTP and WebSocket client is perf/lib's (pl_http.c, pl_ws.c).
 * Only loopback addresses are ever sent to: the API address and every
 * answer candidate are checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "addr.h"
#include "dp_conf.h"
#include "pl_client.h"
#include "pl_clock.h"
#include "pl_http.h"
#include "pl_proc.h"
#include "pl_rng.h"
#include "pl_stats.h"
#include "pl_ws.h"
#include "srtp.h"
#include "stun.h"

#define GL_MAX_LEGS 20000
#define GL_MAX_ROOM DP_GW_MAX_LEGS  /* the largest gateway room (dp_conf.h) */
#define GL_MAX_SLOTS 8          /* DP_GW_MAX_SLOTS */
#define GL_UFRAG_LEN 8
#define GL_PWD_LEN 24
#define GL_PTIME_MS 20          /* one packet per 20 ms per leg */
#define GL_OPUS_PT 111
#define GL_LEVEL_ID 1           /* a=extmap:1 ssrc-audio-level */
#define GL_CONSENT_NS (5 * PL_NS_PER_S)
#define GL_ICE_RTO_NS (200 * PL_NS_PER_MS)
#define GL_WS_PING_NS (25 * PL_NS_PER_S)
#define GL_SETUP_TIMEOUT_NS (30 * PL_NS_PER_S)
#define GL_DTLS_MTU 1200
#define GL_PKT_MAX 1500
#define GL_HDR_LEN 20           /* RTP 12 + one-byte extension block 8 */
#define GL_PAYLOAD_HDR 12       /* send time (8) + sender leg (4) */
/* latency histogram (us): exact below 16.4 ms, then 4096 steps per
 * octave, to 2.1 s */
#define GL_LAT_LIN 16384
#define GL_LAT_SUB 4096
#define GL_LAT_OCT 7
#define GL_MMSG 8               /* datagrams per recvmmsg */

/* where a leg is; the failure stage is where it was when it failed */
enum gl_stage {
	L_IDLE,
	L_WS,          /* WebSocket connecting/upgrading, join sent */
	L_ANSWER,      /* offer sent, waiting for the answer */
	L_ICE,         /* checks sent, waiting for a success response */
	L_DTLS,        /* handshake running */
	L_UP,          /* SRTP flowing */
	L_FAILED,
	L_LOST,        /* was up, then ended (server or WebSocket) */
};

enum gl_fail_class { F_SIGNALING, F_ICE, F_DTLS, F_COUNT };

enum gl_room_step { R_IDLE, R_CREATE, R_INVITES, R_READY, R_FAILED };

enum gl_req_kind { Q_CREATE, Q_INVITE };

struct gl_leg;

/* a leg's WebSocket; the HTTP pool's connections are plain pl_conns */
struct gl_conn {
	struct pl_conn c;       /* first */
	struct gl_leg *leg;     /* NULL once it left */
	uint64_t next_ping;
};

struct gl_room {
	unsigned idx, size;
	uint8_t step;
	unsigned invites_left;
	char id[40];
	char *tok[GL_MAX_ROOM]; /* [0]: creator's, then invites */
	unsigned n_tok;
};

struct gl_req {
	struct pl_http_req q;
	struct gl_room *room;
	uint8_t kind;
};

/* counters a snapshot is taken of at the edges of the window */
struct gl_ctr {
	uint64_t sent, rcvd, rtcp_rx, auth_fail, unprotect_err, unknown_ssrc;
	uint64_t own_echo, cross_room, consent_sent, consent_ok, send_err;
	uint64_t gw_checks, gw_checks_bad; /* the gateway's checks: answered, not */
	uint64_t late_ticks;     /* media ticks run more than 5 ms late */
	uint64_t dtls_retx;      /* client flights sent again on a timer */
	uint64_t skipped_ms;     /* schedule given up after a >1 s stall */
};

struct gl_leg {
	uint8_t kind;           /* first: PL_KIND_OTHER, for epoll */
	uint8_t stage;
	uint8_t fail_class;
	bool loud;
	unsigned idx;
	struct gl_room *room;
	unsigned pos;           /* in the room; 0 = creator */
	struct gl_conn *ws;
	int ufd;
	uint16_t lport;
	char ufrag[GL_UFRAG_LEN + 1], pwd[GL_PWD_LEN + 1];
	char r_ufrag[64], r_pwd[64];
	uint8_t r_fp[32];
	bool r_lite;
	struct sockaddr_storage gw;
	socklen_t gw_len;
	uint32_t ssrc;
	uint32_t slot_ssrc[GL_MAX_SLOTS];
	unsigned n_slots;
	uint64_t slot_rx[GL_MAX_SLOTS], slot_rx0[GL_MAX_SLOTS];
	uint64_t tiebreak;
	uint8_t ice_tid[STUN_TID_LEN], consent_tid[STUN_TID_LEN];
	unsigned ice_tries;
	uint64_t t_start, t_offer, t_answer, t_ice, t_dtls;
	uint64_t next_ice, next_consent, last_consent_ok;
	SSL *ssl;
	const uint8_t *pend;    /* the DTLS datagram the BIO hands out */
	size_t pend_len;
	struct dp_srtp_ctx *tx, *rx;
	uint16_t seq;
	uint32_t ts;
	uint64_t rcvd, rcvd0;   /* RTP received by this listener */
	uint32_t rxq_drops;     /* SO_RXQ_OVFL: our socket overflowed */
	char why[48];
};

struct gl_metrics {
	bool ok;
	double legs, rtp_in, forwarded, fwd_dropped;
	double dtls_failures, ended_consent;
	double dtls_retransmits, dp_drops, driver_drops, ctl_ring_full;
	char *text;             /* the whole scrape, for per-reason deltas */
};

struct gl {
	struct pl_client cl;    /* HTTP pool and the legs' WebSockets */
	int server_pid;
	bool json, quiet;

	unsigned n_legs, room_size, n_rooms, loud, payload, rate, window;
	unsigned duration_s, timeout_s;
	struct gl_leg *legs;
	struct gl_room *rooms;
	struct gl_req *reqs;
	unsigned rooms_ready, rooms_failed;

	/* DTLS client */
	SSL_CTX *ssl_ctx;
	BIO_METHOD *bio_meth;
	char fp_str[3 * 32];

	/* progress */
	unsigned started, in_flight, up, failed, lost;
	unsigned failed_by[F_COUNT];
	uint64_t t_first_offer, t_last_up;
	uint64_t last_tick;     /* media schedule, in ms */
	uint64_t next_slow;     /* slow_tick's next run */
	bool measuring;
	struct gl_ctr c;
	/* one-way latency in the window (us): [0] send -> the kernel queued
	 * it on our socket (SO_TIMESTAMPNS), [1] send -> we read it */
	struct pl_hist lat[2];
	uint64_t max_lag_ns;    /* media schedule, worst lateness */
	struct mmsghdr mm[GL_MMSG];
	struct iovec iov[GL_MMSG];
	uint8_t (*mbuf)[GL_PKT_MAX + 512];
	uint8_t mctl[GL_MMSG][64];
	unsigned n_gcm, n_cm;   /* SRTP profile the legs negotiated */
};

static struct gl *
gl_of(struct pl_client *cl)
{
	return PL_CONTAINER_OF(cl, struct gl, cl);
}

static struct gl_conn *
gl_conn_of(struct pl_conn *c)
{
	return PL_CONTAINER_OF(c, struct gl_conn, c);
}

static struct gl_req *
req_of(struct pl_http_req *q)
{
	return PL_CONTAINER_OF(q, struct gl_req, q);
}

static uint64_t
rng_next(struct gl *g)
{
	return pl_rng_next(&g->cl.rng);
}

static void
note_error(struct gl *g, const char *code)
{
	pl_client_error(&g->cl, code);
}

static void leg_fail(struct gl *g, struct gl_leg *l, const char *why);

static void
rng_chars(struct gl *g, char *out, size_t n)
{
	static const char ice_chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i++)
		out[i] = ice_chars[rng_next(g) >> 58];
	out[n] = '\0';
}

/* ---- the offer and the answer ---- */

/*
 * A minimal browser-like offer: BUNDLE over one sendrecv section (our
 * SSRC) and slots-1 recvonly ones, one ufrag/pwd/fingerprint for all,
 * Opus only, rtcp-mux, the RFC 6464 level extension, a host candidate on
 * the leg's socket (the ICE-lite gateway learns the address from the
 * checks; the candidate is there because browsers send one).
 */
static int
build_offer(struct gl *g, struct gl_leg *l, unsigned slots, char *out,
	    size_t cap)
{
	size_t o = 0;
	int n;

#define OUT(...)                                                              \
	do {                                                                  \
		n = snprintf(out + o, cap - o, __VA_ARGS__);                  \
		if (n < 0 || (size_t)n >= cap - o)                            \
			return -ENOSPC;                                       \
		o += (size_t)n;                                               \
	} while (0)

	OUT("v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
	    rng_next(g) >> 2);
	OUT("a=group:BUNDLE");
	for (unsigned i = 0; i < slots; i++)
		OUT(" %u", i);
	OUT("\r\na=msid-semantic: WMS gl\r\n");
	for (unsigned i = 0; i < slots; i++) {
		OUT("m=audio 9 UDP/TLS/RTP/SAVPF %u\r\n"
		    "c=IN IP4 0.0.0.0\r\n"
		    "a=rtcp:9 IN IP4 0.0.0.0\r\n",
		    GL_OPUS_PT);
		if (i == 0)
			OUT("a=candidate:1 1 udp 2122260223 127.0.0.1 %u typ host\r\n",
			    l->lport);
		OUT("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
		    "a=fingerprint:sha-256 %s\r\n"
		    "a=setup:actpass\r\n"
		    "a=mid:%u\r\n"
		    "a=extmap:%u urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
		    "a=%s\r\n"
		    "a=rtcp-mux\r\n"
		    "a=rtpmap:%u opus/48000/2\r\n"
		    "a=fmtp:%u minptime=10;useinbandfec=1\r\n",
		    l->ufrag, l->pwd, g->fp_str, i, GL_LEVEL_ID,
		    i == 0 ? "sendrecv" : "recvonly", GL_OPUS_PT, GL_OPUS_PT);
		if (i == 0)
			OUT("a=msid:gl t%u\r\na=ssrc:%" PRIu32 " cname:x\r\n",
			    l->idx, l->ssrc);
	}
#undef OUT
	return (int)o;
}

static bool
ip_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >>
			24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
			&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "AB:CD:..." (32 pairs) -> 32 bytes; 0 or -1 */
static int
parse_fp(const char *s, uint8_t out[32])
{
	for (unsigned i = 0; i < 32; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (lo < 0 || (i < 31 && s[2] != ':'))
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
		s += 3;
	}
	return 0;
}

/* What the leg needs from the gateway's answer. NULL or the reason it is
 * unusable. */
static const char *
parse_answer(struct gl_leg *l, const char *sdp, size_t len)
{
	const char *p = sdp, *end = sdp + len;
	bool have_fp = false, have_cand = false;

	l->n_slots = 0;
	l->r_ufrag[0] = l->r_pwd[0] = '\0';
	l->r_lite = false;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((eol ? eol : end) - p);
		char line[512];

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		p = eol ? eol + 1 : end;

		if (strcmp(line, "a=ice-lite") == 0) {
			l->r_lite = true;
		} else if (strncmp(line, "a=ice-ufrag:", 12) == 0 &&
			   l->r_ufrag[0] == '\0') {
			snprintf(l->r_ufrag, sizeof(l->r_ufrag), "%.63s", line + 12);
		} else if (strncmp(line, "a=ice-pwd:", 10) == 0 &&
			   l->r_pwd[0] == '\0') {
			snprintf(l->r_pwd, sizeof(l->r_pwd), "%.63s", line + 10);
		} else if (strncmp(line, "a=fingerprint:sha-256 ", 22) == 0 &&
			   !have_fp) {
			if (parse_fp(line + 22, l->r_fp) < 0)
				return "answer_bad_fingerprint";
			have_fp = true;
		} else if (strncmp(line, "a=candidate:", 12) == 0 && !have_cand) {
			char proto[8], ip[64], typ[16];
			unsigned port;
			struct sockaddr_in *s4 = (struct sockaddr_in *)&l->gw;

			if (sscanf(line + 12, "%*s %*u %7s %*u %63s %u typ %15s",
				   proto, ip, &port, typ) != 4 ||
			    strcasecmp(proto, "udp") != 0 || port == 0 ||
			    port > 65535)
				continue;
			memset(&l->gw, 0, sizeof(l->gw));
			if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
				s4->sin_family = AF_INET;
				s4->sin_port = htons((uint16_t)port);
				l->gw_len = sizeof(*s4);
			} else {
				/* IPv4 legs only: an IPv6 candidate is skipped */
				continue;
			}
			have_cand = true;
		} else if (strncmp(line, "a=ssrc:", 7) == 0 &&
			   strstr(line, " cname:") != NULL) {
			uint32_t ssrc = (uint32_t)strtoul(line + 7, NULL, 10);
			bool dup = false;

			for (unsigned i = 0; i < l->n_slots; i++)
				dup |= l->slot_ssrc[i] == ssrc;
			if (!dup && l->n_slots < GL_MAX_SLOTS)
				l->slot_ssrc[l->n_slots++] = ssrc;
		}
	}
	if (l->r_ufrag[0] == '\0' || l->r_pwd[0] == '\0')
		return "answer_no_ice_credentials";
	if (!have_fp)
		return "answer_no_fingerprint";
	if (!have_cand)
		return "answer_no_ipv4_candidate";
	if (!ip_is_loopback(&l->gw))
		return "answer_candidate_not_loopback";
	return NULL;
}

/* ---- ICE (RFC 8445 §7.2, RFC 7675) ---- */

/* A Binding request; fresh: a new transaction id in tid, else a
 * retransmission with the same one (RFC 8489 §6.2.1). */
static int
ice_send_check(struct gl *g, struct gl_leg *l, bool nominate, bool fresh,
	       uint8_t tid[STUN_TID_LEN])
{
	static const uint8_t none[1];
	uint8_t buf[256], tb[8];
	char user[160];
	struct stun_builder b;
	uint64_t r0 = rng_next(g), r1 = rng_next(g);
	size_t n;
	int ul;

	if (fresh) {
		memcpy(tid, &r0, 8);
		memcpy(tid + 8, &r1, 4);
	}
	ul = snprintf(user, sizeof(user), "%s:%s", l->r_ufrag, l->ufrag);
	for (int i = 0; i < 8; i++)
		tb[i] = (uint8_t)(l->tiebreak >> (56 - 8 * i));
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
	stun_add(&b, STUN_A_USERNAME, user, (uint16_t)ul);
	/* RFC 8445 §5.1.2.1: prflx type preference 110, local pref 65535,
	 * component 1 */
	stun_add_u32(&b, STUN_A_PRIORITY, (110u << 24) | (65535u << 8) | 255u);
	stun_add(&b, STUN_A_ICE_CONTROLLING, tb, 8);
	if (nominate)
		stun_add(&b, STUN_A_USE_CANDIDATE, none, 0);
	stun_add_integrity(&b, (const uint8_t *)l->r_pwd, strlen(l->r_pwd));
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	if (n == 0)
		return -ENOBUFS;
	if (send(l->ufd, buf, n, 0) < 0) {
		g->c.send_err++;
		return -errno;
	}
	return 0;
}

/* ---- DTLS client ---- */

static int
bio_write(BIO *b, const char *p, int len)
{
	struct gl_leg *l = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	/* a datagram lost to a full socket buffer is what DTLS
	 * retransmission is for */
	(void)send(l->ufd, p, (size_t)len, 0);
	return len;
}

static int
bio_read(BIO *b, char *p, int size)
{
	struct gl_leg *l = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (l->pend == NULL) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (l->pend_len < (size_t)size)
		size = (int)l->pend_len;
	memcpy(p, l->pend, (size_t)size);
	l->pend = NULL;
	l->pend_len = 0;
	return size;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return GL_DTLS_MTU;
	default:
		return 0;
	}
}

static int
accept_any(int ok, X509_STORE_CTX *xs)
{
	/* the certificate is self-signed; its fingerprint is checked
	 * against the answer's once the handshake is done */
	(void)ok;
	(void)xs;
	return 1;
}

/* A self-signed ECDSA P-256 certificate, as a browser makes for its
 * RTCPeerConnection, and its sha-256 fingerprint for the offers. */
static int
dtls_client_init(struct gl *g)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t md[32];
	unsigned mdlen = 0;
	int ok = 0;

	if (key == NULL || x == NULL)
		goto out;
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rng_next(g) >> 34));
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400);
	X509_set_version(x, 2);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"sotto-gw-load", -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	if (X509_set_pubkey(x, key) != 1 || X509_sign(x, key, EVP_sha256()) <= 0 ||
	    X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (unsigned i = 0; i < 32; i++)
		sprintf(g->fp_str + 3 * i, "%02X%s", md[i], i < 31 ? ":" : "");

	g->ssl_ctx = SSL_CTX_new(DTLS_client_method());
	if (g->ssl_ctx == NULL)
		goto out;
	SSL_CTX_set_min_proto_version(g->ssl_ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(g->ssl_ctx, DTLS1_2_VERSION);
	SSL_CTX_set_verify(g->ssl_ctx, SSL_VERIFY_PEER, accept_any);
	SSL_CTX_set_options(g->ssl_ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(g->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(g->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	/* SSL_CTX_set_tlsext_use_srtp returns 0 on success */
	if (SSL_CTX_set_cipher_list(g->ssl_ctx,
				    "ECDHE-ECDSA-AES128-GCM-SHA256:"
				    "ECDHE-ECDSA-AES256-GCM-SHA384:"
				    "ECDHE-ECDSA-CHACHA20-POLY1305") != 1 ||
	    SSL_CTX_set1_groups_list(g->ssl_ctx, "X25519:P-256") != 1 ||
	    SSL_CTX_set_tlsext_use_srtp(g->ssl_ctx, "SRTP_AEAD_AES_128_GCM:"
						    "SRTP_AES128_CM_SHA1_80") != 0 ||
	    SSL_CTX_use_certificate(g->ssl_ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(g->ssl_ctx, key) != 1)
		goto out;
	g->bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				   "gw-load leg");
	if (g->bio_meth == NULL)
		goto out;
	BIO_meth_set_write(g->bio_meth, bio_write);
	BIO_meth_set_read(g->bio_meth, bio_read);
	BIO_meth_set_ctrl(g->bio_meth, bio_ctrl);
	ok = 1;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

static void
dtls_start(struct gl *g, struct gl_leg *l)
{
	BIO *b = BIO_new(g->bio_meth);

	l->ssl = b ? SSL_new(g->ssl_ctx) : NULL;
	if (l->ssl == NULL) {
		BIO_free(b);
		leg_fail(g, l, "dtls_client_setup");
		return;
	}
	BIO_set_data(b, l);
	BIO_set_init(b, 1);
	SSL_set_bio(l->ssl, b, b);
	SSL_set_mtu(l->ssl, GL_DTLS_MTU);
	SSL_set_connect_state(l->ssl);
	l->stage = L_DTLS;
	(void)SSL_do_handshake(l->ssl); /* ClientHello */
}

static void leg_up(struct gl *g, struct gl_leg *l);

/* The handshake is done: check the server's certificate against the
 * answer's fingerprint, derive the SRTP contexts, free the SSL. */
static void
dtls_done(struct gl *g, struct gl_leg *l)
{
	const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(l->ssl);
	X509 *peer = SSL_get0_peer_certificate(l->ssl);
	uint8_t md[32], mat[64];
	unsigned mdlen = 0;
	struct dp_srtp_master local, remote;
	enum dp_srtp_profile prof;
	size_t mlen;

	if (peer == NULL || X509_digest(peer, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != 32 || memcmp(md, l->r_fp, 32) != 0) {
		leg_fail(g, l, "dtls_fingerprint_mismatch");
		return;
	}
	if (sp == NULL || !dp_srtp_profile_ok((int)sp->id)) {
		leg_fail(g, l, "dtls_no_srtp_profile");
		return;
	}
	prof = (enum dp_srtp_profile)sp->id;
	mlen = dp_srtp_exporter_len(prof);
	if (mlen == 0 || mlen > sizeof(mat) ||
	    SSL_export_keying_material(l->ssl, mat, mlen, "EXTRACTOR-dtls_srtp",
				       19, NULL, 0, 0) != 1 ||
	    dp_srtp_keys_from_exporter(prof, mat, mlen, false, &local,
				       &remote) < 0) {
		explicit_bzero(mat, sizeof(mat));
		leg_fail(g, l, "dtls_exporter");
		return;
	}
	explicit_bzero(mat, sizeof(mat));
	l->tx = dp_srtp_ctx_new(prof, DP_SRTP_PROTECT, local.key, local.key_len,
				local.salt, local.salt_len);
	l->rx = dp_srtp_ctx_new(prof, DP_SRTP_UNPROTECT, remote.key,
				remote.key_len, remote.salt, remote.salt_len);
	explicit_bzero(&local, sizeof(local));
	explicit_bzero(&remote, sizeof(remote));
	if (l->tx == NULL || l->rx == NULL) {
		leg_fail(g, l, "srtp_context");
		return;
	}
	/* the slots are known; RTCP from other SSRCs is learned */
	for (unsigned i = 0; i < l->n_slots; i++)
		(void)dp_srtp_ctx_add_ssrc(l->rx, l->slot_ssrc[i], 0);
	if (prof == DP_SRTP_AEAD_AES_128_GCM)
		g->n_gcm++;
	else
		g->n_cm++;
	SSL_free(l->ssl);
	l->ssl = NULL;
	leg_up(g, l);
}

/* after input or a timer: where the handshake is */
static void
dtls_step(struct gl *g, struct gl_leg *l)
{
	int r = SSL_do_handshake(l->ssl);

	if (r == 1) {
		dtls_done(g, l);
		return;
	}
	switch (SSL_get_error(l->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return;
	default: {
		char why[48];
		unsigned long e = ERR_get_error();

		snprintf(why, sizeof(why), "dtls_%s",
			 e ? ERR_reason_error_string(e) : "error");
		for (char *p = why; *p; p++)
			if (*p == ' ')
				*p = '_';
		ERR_clear_error();
		leg_fail(g, l, why);
	}
	}
}

/* ---- media ---- */

static void
rtp_send(struct gl *g, struct gl_leg *l)
{
	uint64_t now = pl_now_rt_ns();
	uint8_t pkt[GL_PKT_MAX];
	size_t len = GL_HDR_LEN + g->payload, out = 0;
	uint8_t level = l->loud ? 10 : 90;
	uint32_t idx = l->idx;
	int rc;

	l->seq++;
	l->ts += 960; /* 20 ms at 48 kHz */
	pkt[0] = 0x90; /* V=2, X=1 */
	pkt[1] = GL_OPUS_PT;
	pkt[2] = (uint8_t)(l->seq >> 8);
	pkt[3] = (uint8_t)l->seq;
	pkt[4] = (uint8_t)(l->ts >> 24);
	pkt[5] = (uint8_t)(l->ts >> 16);
	pkt[6] = (uint8_t)(l->ts >> 8);
	pkt[7] = (uint8_t)l->ts;
	pkt[8] = (uint8_t)(l->ssrc >> 24);
	pkt[9] = (uint8_t)(l->ssrc >> 16);
	pkt[10] = (uint8_t)(l->ssrc >> 8);
	pkt[11] = (uint8_t)l->ssrc;
	/* RFC 8285 one-byte form, one word: the RFC 6464 level, V bit set
	 * for the loud ones */
	pkt[12] = 0xBE;
	pkt[13] = 0xDE;
	pkt[14] = 0;
	pkt[15] = 1;
	pkt[16] = GL_LEVEL_ID << 4; /* L = 0: one byte */
	pkt[17] = (uint8_t)((l->loud ? 0x80 : 0) | level);
	pkt[18] = pkt[19] = 0;
	memcpy(pkt + GL_HDR_LEN, &now, 8);
	memcpy(pkt + GL_HDR_LEN + 8, &idx, 4);
	memset(pkt + GL_HDR_LEN + GL_PAYLOAD_HDR, (int)(l->seq & 0xff),
	       g->payload - GL_PAYLOAD_HDR);
	rc = dp_srtp_protect(l->tx, pkt, len, sizeof(pkt), &out);
	if (rc != 0) {
		note_error(g, dp_srtp_strerror(rc));
		return;
	}
	if (send(l->ufd, pkt, out, 0) < 0) {
		g->c.send_err++;
		return;
	}
	g->c.sent++;
}

/* krx: when the kernel queued it (realtime ns, 0 unknown); now: when we
 * read it */
static void
on_srtp(struct gl *g, struct gl_leg *l, uint8_t *p, size_t len, uint64_t krx,
	uint64_t now)
{
	uint8_t pt = p[1] & 0x7f;
	size_t out = 0, off;
	uint32_t ssrc, from;
	uint64_t sent;
	int rc;

	if (l->rx == NULL) {
		note_error(g, "srtp_before_keys");
		return;
	}
	if (pt >= 64 && pt <= 95) { /* RTCP, RFC 5761 §4 */
		rc = dp_srtcp_unprotect(l->rx, p, len, &out);
		if (rc == 0)
			g->c.rtcp_rx++;
		else if (rc == -DP_SRTP_ERR_AUTH)
			g->c.auth_fail++;
		else
			g->c.unprotect_err++;
		return;
	}
	rc = dp_srtp_unprotect(l->rx, p, len, &out);
	if (rc != 0) {
		if (rc == -DP_SRTP_ERR_AUTH)
			g->c.auth_fail++;
		else
			g->c.unprotect_err++;
		if (rc != -DP_SRTP_ERR_AUTH)
			note_error(g, dp_srtp_strerror(rc));
		return;
	}
	if (out < 12)
		return;
	ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
	       (uint32_t)p[10] << 8 | p[11];
	off = 12 + 4 * (size_t)(p[0] & 0x0f);
	if ((p[0] & 0x10) && off + 4 <= out)
		off += 4 + 4 * ((size_t)p[off + 2] << 8 | p[off + 3]);
	g->c.rcvd++;
	l->rcvd++;
	for (unsigned i = 0; i < l->n_slots; i++)
		if (l->slot_ssrc[i] == ssrc) {
			l->slot_rx[i]++;
			goto slot_found;
		}
	g->c.unknown_ssrc++;
slot_found:
	if (off + GL_PAYLOAD_HDR > out)
		return;
	memcpy(&sent, p + off, 8);
	memcpy(&from, p + off + 8, 4);
	if (from == l->idx)
		g->c.own_echo++;
	else if (from >= g->n_legs || g->legs[from].room != l->room)
		g->c.cross_room++;
	if (g->measuring && sent <= now) {
		pl_hist_add(&g->lat[1], (now - sent) / 1000);
		if (krx >= sent)
			pl_hist_add(&g->lat[0], (krx - sent) / 1000);
	}
}

/* The gateway's own check (RFC 7675 consent, RFC 8445 §7.3): answered as
 * a full agent answers, if USERNAME is "ours:theirs" and it verifies with
 * our password. */
static void
ice_answer_check(struct gl *g, struct gl_leg *l, const struct stun_msg *m)
{
	const struct stun_attr *u = stun_find(m, STUN_A_USERNAME);
	char user[160];
	uint8_t buf[256];
	struct stun_builder b;
	struct sotto_addr gw;
	int ul;
	size_t n;

	ul = snprintf(user, sizeof(user), "%s:%s", l->ufrag, l->r_ufrag);
	if (u == NULL || u->len != (uint16_t)ul ||
	    memcmp(u->val, user, (size_t)ul) != 0 ||
	    stun_check_fingerprint(m) != 1 ||
	    stun_check_integrity(m, (const uint8_t *)l->pwd,
				 strlen(l->pwd)) != 1 ||
	    sotto_addr_from_sockaddr(&gw, (const struct sockaddr *)&l->gw) < 0) {
		g->c.gw_checks_bad++;
		return;
	}
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, m->tid);
	stun_add_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &gw);
	stun_add_integrity(&b, (const uint8_t *)l->pwd, strlen(l->pwd));
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	if (n == 0)
		return;
	if (send(l->ufd, buf, n, 0) < 0)
		g->c.send_err++;
	else
		g->c.gw_checks++;
}

static void
on_stun(struct gl *g, struct gl_leg *l, const uint8_t *p, size_t len,
	uint64_t now)
{
	struct stun_msg m;
	bool ice, consent;

	if (stun_parse(&m, p, len) < 0 || m.method != STUN_BINDING)
		return;
	if (m.cls == STUN_REQUEST) {
		ice_answer_check(g, l, &m);
		return;
	}
	ice = l->stage == L_ICE && memcmp(m.tid, l->ice_tid, STUN_TID_LEN) == 0;
	consent = memcmp(m.tid, l->consent_tid, STUN_TID_LEN) == 0;
	if (!ice && !consent)
		return; /* a retransmission's late answer, or a request */
	if (m.cls != STUN_SUCCESS) {
		note_error(g, "ice_error_response");
		return;
	}
	if (stun_check_integrity(&m, (const uint8_t *)l->r_pwd,
				 strlen(l->r_pwd)) != 1) {
		note_error(g, "ice_response_bad_integrity");
		return;
	}
	if (consent) {
		g->c.consent_ok++;
		l->last_consent_ok = now;
		memset(l->consent_tid, 0, sizeof(l->consent_tid));
		return;
	}
	l->t_ice = now;
	l->last_consent_ok = now;
	dtls_start(g, l);
}

/* The kernel's receive time (realtime ns, 0 if absent); notes the
 * socket's drop count (SO_RXQ_OVFL) on the way. */
static uint64_t
rx_stamp(struct gl_leg *l, const struct msghdr *mh)
{
	uint64_t t = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR((struct msghdr *)mh); cm != NULL;
	     cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			t = (uint64_t)ts.tv_sec * PL_NS_PER_S + (uint64_t)ts.tv_nsec;
		} else if (cm->cmsg_type == SO_RXQ_OVFL) {
			memcpy(&l->rxq_drops, CMSG_DATA(cm), sizeof(l->rxq_drops));
		}
	}
	return t;
}

static void
udp_readable(struct gl *g, struct gl_leg *l)
{
	for (;;) {
		int n;
		uint64_t now, mono;

		if (l->ufd < 0)
			return;
		for (unsigned i = 0; i < GL_MMSG; i++) {
			g->mm[i].msg_hdr.msg_controllen = sizeof(g->mctl[i]);
			g->mm[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(l->ufd, g->mm, GL_MMSG, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				note_error(g, errno == ECONNREFUSED ?
						      "udp_refused" : "udp_recv");
			return;
		}
		now = pl_now_rt_ns();
		mono = pl_now_ns();
		for (int i = 0; i < n && l->ufd >= 0; i++) {
			uint8_t *p = g->mbuf[i];
			size_t len = g->mm[i].msg_len;

			if (len == 0)
				continue;
			/* RFC 7983 §7: the first byte tells STUN, DTLS and
			 * SRTP apart */
			if (p[0] <= 3) {
				on_stun(g, l, p, len, mono);
			} else if (p[0] >= 20 && p[0] <= 63) {
				if (l->stage != L_DTLS || l->ssl == NULL)
					continue; /* close_notify, late retransmit */
				l->pend = p;
				l->pend_len = len;
				dtls_step(g, l);
				l->pend = NULL;
			} else if (p[0] >= 128 && p[0] <= 191 && len >= 12) {
				on_srtp(g, l, p, len, rx_stamp(l, &g->mm[i].msg_hdr),
					now);
			}
		}
		/* fewer than asked for: the queue was empty a moment ago, and
		 * anything later raises a new edge */
		if (n < GL_MMSG)
			return;
	}
}

/* epoll: the leg's socket is readable */
static void
udp_event(struct pl_client *cl, uint8_t *kind, uint32_t events)
{
	(void)events;
	udp_readable(gl_of(cl), PL_CONTAINER_OF(kind, struct gl_leg, kind));
}

/* ---- legs ---- */

static const char *const stage_names[] = {
	"idle", "websocket", "answer", "ice", "dtls", "up", "failed", "lost",
};

static void
leg_release(struct gl *g, struct gl_leg *l)
{
	(void)g;
	if (l->ssl != NULL) {
		SSL_free(l->ssl);
		l->ssl = NULL;
	}
	if (l->ufd >= 0) {
		close(l->ufd);
		l->ufd = -1;
	}
	if (l->tx != NULL)
		dp_srtp_ctx_free(l->tx);
	if (l->rx != NULL)
		dp_srtp_ctx_free(l->rx);
	l->tx = l->rx = NULL;
}

/* The leg is done with c: it leaves ({"type":"leave"}) if it is open,
 * else it closes. */
static void
ws_let_go(struct gl *g, struct gl_conn *c)
{
	c->leg = NULL;
	if (c->c.state == PL_OPEN)
		pl_ws_leave(&g->cl, &c->c);
	else
		pl_conn_close(&g->cl, &c->c);
}

/* A leg that was not up failed at its current stage; one that was up is
 * lost. Either way it is done: its socket and WebSocket close. */
static void
leg_fail(struct gl *g, struct gl_leg *l, const char *why)
{
	char code[80];

	if (l->stage == L_FAILED || l->stage == L_LOST)
		return;
	snprintf(code, sizeof(code), "%s:%s", stage_names[l->stage], why);
	note_error(g, code);
	snprintf(l->why, sizeof(l->why), "%s", why);
	if (l->stage == L_UP) {
		l->stage = L_LOST;
		g->lost++;
		g->up--;
	} else {
		switch (l->stage) {
		case L_ICE:
			l->fail_class = F_ICE;
			break;
		case L_DTLS:
			l->fail_class = F_DTLS;
			break;
		default:
			l->fail_class = F_SIGNALING;
		}
		g->failed_by[l->fail_class]++;
		g->failed++;
		g->in_flight--;
		l->stage = L_FAILED;
	}
	leg_release(g, l);
	if (l->ws != NULL) {
		struct gl_conn *c = l->ws;

		l->ws = NULL;
		ws_let_go(g, c);
	}
}

static void
leg_up(struct gl *g, struct gl_leg *l)
{
	uint64_t now = pl_now_ns();

	l->stage = L_UP;
	l->t_dtls = now;
	g->up++;
	g->in_flight--;
	if (now > g->t_last_up)
		g->t_last_up = now;
	/* the first consent check at a random point of the first 5 s */
	l->next_consent = now + rng_next(g) % GL_CONSENT_NS;
}

static void
leg_start(struct gl *g, struct gl_leg *l)
{
	union sotto_sockaddr sa;
	socklen_t sl = sizeof(sa);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct sockaddr_in lo = { .sin_family = AF_INET };
	struct pl_conn *ws;

	g->started++;
	g->in_flight++;
	l->t_start = pl_now_ns();
	l->stage = L_WS;
	l->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->ufd < 0) {
		leg_fail(g, l, errno == EMFILE ? "client_emfile" : "udp_socket");
		return;
	}
	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ev.data.ptr = l;
	{
		int one = 1;

		setsockopt(l->ufd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		setsockopt(l->ufd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	}
	if (bind(l->ufd, (struct sockaddr *)&lo, sizeof(lo)) < 0 ||
	    getsockname(l->ufd, &sa.sa, &sl) < 0 ||
	    epoll_ctl(g->cl.ep, EPOLL_CTL_ADD, l->ufd, &ev) < 0) {
		leg_fail(g, l, "udp_bind");
		return;
	}
	l->lport = ntohs(sa.in.sin_port);
	rng_chars(g, l->ufrag, GL_UFRAG_LEN);
	rng_chars(g, l->pwd, GL_PWD_LEN);
	do
		l->ssrc = (uint32_t)(rng_next(g) >> 32);
	while (l->ssrc == 0);
	l->tiebreak = rng_next(g);
	l->seq = (uint16_t)rng_next(g);
	l->ts = (uint32_t)rng_next(g);
	ws = pl_conn_open(&g->cl, PL_KIND_WS);
	if (ws == NULL) {
		leg_fail(g, l, "ws_connect");
		return;
	}
	l->ws = gl_conn_of(ws);
	l->ws->leg = l;
}

static void
leg_send_offer(struct gl *g, struct gl_leg *l, unsigned slots)
{
	char sdp[16384];
	int n;

	if (slots == 0 || slots > GL_MAX_SLOTS) {
		leg_fail(g, l, "joined_bad_slots");
		return;
	}
	n = build_offer(g, l, slots, sdp, sizeof(sdp));
	if (n < 0) {
		leg_fail(g, l, "offer_too_long");
		return;
	}
	l->stage = L_ANSWER;
	l->t_offer = pl_now_ns();
	if (g->t_first_offer == 0)
		g->t_first_offer = l->t_offer;
	if (pl_ws_send_json(&g->cl, &l->ws->c,
			    json_pack("{s:s, s:s, s:s%}", "type", "offer", "to",
				      "gateway", "sdp", sdp, (size_t)n)) < 0)
		leg_fail(g, l, "client_oom");
}

static void
leg_on_answer(struct gl *g, struct gl_leg *l, const char *sdp, size_t len)
{
	const char *why = parse_answer(l, sdp, len);

	l->t_answer = pl_now_ns();
	if (why != NULL) {
		leg_fail(g, l, why);
		return;
	}
	if (!l->r_lite)
		note_error(g, "answer_without_ice_lite");
	if (connect(l->ufd, (struct sockaddr *)&l->gw, l->gw_len) < 0) {
		leg_fail(g, l, "udp_connect");
		return;
	}
	l->stage = L_ICE;
	l->ice_tries = 1;
	l->next_ice = l->t_answer + GL_ICE_RTO_NS;
	if (ice_send_check(g, l, true, true, l->ice_tid) < 0)
		note_error(g, "ice_send");
}

/* ---- the client's hooks: the leg's WebSocket, rooms and invites ---- */

/* upgraded: join with the leg's token */
static void
on_ws_open(struct pl_client *cl, struct pl_conn *pc)
{
	struct gl *g = gl_of(cl);
	struct gl_conn *c = gl_conn_of(pc);
	struct gl_leg *l = c->leg;

	c->next_ping = pl_now_ns() + GL_WS_PING_NS;
	if (l != NULL &&
	    pl_ws_send_json(cl, pc, json_pack("{s:s, s:s}", "type", "join",
					      "token", l->room->tok[l->pos])) < 0)
		leg_fail(g, l, "client_oom");
}

static void
on_ws_text(struct pl_client *cl, struct pl_conn *pc, const uint8_t *data,
	   size_t len)
{
	struct gl *g = gl_of(cl);
	struct gl_leg *l = gl_conn_of(pc)->leg;
	json_error_t err;
	json_t *j;
	const char *type;

	if (l == NULL)
		return;
	j = json_loadb((const char *)data, len, 0, &err);
	type = json_string_value(json_object_get(j, "type"));
	if (type == NULL) {
		json_decref(j);
		leg_fail(g, l, "ws_bad_json");
		return;
	}
	if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(j, "error"));
		const char *reason = json_string_value(json_object_get(j, "reason"));
		char why[48];

		if (!g->quiet && g->failed + g->lost < 5)
			fprintf(stderr, "gw_load: leg %u: error %s: %s\n", l->idx,
				code ? code : "?", reason ? reason : "?");
		snprintf(why, sizeof(why), "ws_%s", code ? code : "?");
		json_decref(j);
		leg_fail(g, l, why);
		return;
	}
	if (strcmp(type, "joined") == 0 && l->stage == L_WS) {
		const char *mode = json_string_value(json_object_get(j, "mode"));
		json_int_t slots = json_integer_value(json_object_get(j, "slots"));

		if (mode == NULL || strcmp(mode, "gateway") != 0) {
			json_decref(j);
			leg_fail(g, l, "joined_not_gateway");
			return;
		}
		leg_send_offer(g, l, (unsigned)slots);
	} else if (strcmp(type, "answer") == 0 && l->stage == L_ANSWER) {
		json_t *sdp = json_object_get(j, "sdp");
		const char *from = json_string_value(json_object_get(j, "from"));

		if (!json_is_string(sdp) || from == NULL ||
		    strcmp(from, "gateway") != 0) {
			json_decref(j);
			leg_fail(g, l, "answer_malformed");
			return;
		}
		leg_on_answer(g, l, json_string_value(sdp),
			      json_string_length(sdp));
	} else if (strcmp(type, "gateway-leg-ended") == 0) {
		const char *reason = json_string_value(json_object_get(j, "reason"));
		char why[48];

		snprintf(why, sizeof(why), "leg_ended_%s", reason ? reason : "?");
		json_decref(j);
		leg_fail(g, l, why);
		return;
	}
	json_decref(j);
}

/* The leg's WebSocket is gone or unusable: the leg fails with why and
 * the connection closes without a leave. */
static void
on_ws_fail(struct pl_client *cl, struct pl_conn *pc, const char *why)
{
	struct gl_conn *c = gl_conn_of(pc);
	struct gl_leg *l = c->leg;

	if (l != NULL) {
		c->leg = NULL;
		l->ws = NULL;
		leg_fail(gl_of(cl), l, why);
	}
	pl_conn_close(cl, pc);
}

static void
room_fail(struct gl *g, struct gl_room *r, const char *why)
{
	if (r->step == R_FAILED)
		return;
	note_error(g, why);
	r->step = R_FAILED;
	g->rooms_failed++;
}

static bool
on_http_send(struct pl_client *cl, struct pl_conn *c, struct pl_http_req *hq)
{
	struct gl_req *q = req_of(hq);
	struct gl_room *r = q->room;
	char path[128], body[80];
	int rc;

	/* rooms that failed while queued are skipped */
	if (r->step == R_FAILED)
		return false;
	if (q->kind == Q_CREATE) {
		snprintf(body, sizeof(body),
			 "{\"mode\":\"gateway\",\"max_participants\":%u}",
			 r->size);
		rc = pl_http_post(cl, c, "/v1/rooms", NULL, body);
	} else {
		snprintf(path, sizeof(path), "/v1/rooms/%s/invites", r->id);
		rc = pl_http_post(cl, c, path, r->tok[0], NULL);
	}
	if (rc < 0) {
		room_fail(gl_of(cl), r, "client_request_too_long");
		return false;
	}
	return true;
}

static void
on_http_response(struct pl_client *cl, struct pl_http_req *hq, int status,
		 const uint8_t *body, size_t blen)
{
	struct gl *g = gl_of(cl);
	struct gl_req *q = req_of(hq);
	struct gl_room *r = q->room;
	json_error_t err;
	json_t *j;
	const char *tok, *room;

	if (r->step == R_FAILED)
		return;
	if (status != 201) {
		char why[64];

		j = json_loadb((const char *)body, blen, 0, &err);
		snprintf(why, sizeof(why), "http_%s_%d_%s",
			 q->kind == Q_CREATE ? "room" : "invite", status,
			 json_string_value(json_object_get(j, "error")) ?: "?");
		if (!g->quiet && g->rooms_failed == 0)
			fprintf(stderr, "gw_load: %s: %.*s\n", why, (int)blen,
				(const char *)body);
		json_decref(j);
		room_fail(g, r, why);
		return;
	}
	j = json_loadb((const char *)body, blen, 0, &err);
	tok = json_string_value(json_object_get(j, "token"));
	room = json_string_value(json_object_get(j, "room"));
	if (tok == NULL || (q->kind == Q_CREATE &&
			    (room == NULL || strlen(room) >= sizeof(r->id)))) {
		json_decref(j);
		room_fail(g, r, "http_bad_body");
		return;
	}
	if (q->kind == Q_CREATE) {
		const char *mode = json_string_value(json_object_get(j, "mode"));

		if (mode == NULL || strcmp(mode, "gateway") != 0) {
			json_decref(j);
			room_fail(g, r, "http_room_not_gateway");
			return;
		}
		snprintf(r->id, sizeof(r->id), "%s", room);
	}
	r->tok[r->n_tok] = strdup(tok);
	json_decref(j);
	if (r->tok[r->n_tok] == NULL) {
		room_fail(g, r, "client_oom");
		return;
	}
	r->n_tok++;
	if (q->kind == Q_CREATE) {
		r->step = R_INVITES;
		r->invites_left = r->size - 1;
		for (unsigned i = 1; i < r->size; i++)
			pl_http_enqueue(cl, &g->reqs[r->idx * g->room_size + i].q);
	} else {
		r->invites_left--;
	}
	if (r->step == R_INVITES && r->invites_left == 0) {
		r->step = R_READY;
		g->rooms_ready++;
	}
}

/* the connection serving q closed: q again, on another connection */
static void
on_http_gone(struct pl_client *cl, struct pl_http_req *q)
{
	pl_http_enqueue(cl, q);
}

static const struct pl_client_ops gl_ops = {
	.ws_open = on_ws_open,
	.ws_text = on_ws_text,
	.ws_fail = on_ws_fail,
	.http_send = on_http_send,
	.http_response = on_http_response,
	.http_gone = on_http_gone,
	.other_event = udp_event,
};

/* ---- timers: media, consent, ICE and DTLS retransmission ---- */

/* Legs are spread over the 20 ms period by index: tick t (in ms) sends
 * for legs idx = t mod 20 (mod 20). */
static void
media_tick(struct gl *g, uint64_t now)
{
	uint64_t t = now / PL_NS_PER_MS;

	if (g->last_tick != 0 && t - g->last_tick > 1000) {
		/* a stall of over a second: what was due then is dropped,
		 * as a real sender's audio would be */
		if (g->measuring)
			g->c.skipped_ms += t - g->last_tick - 1;
		g->last_tick = t - 1;
	}
	if (g->last_tick == 0)
		g->last_tick = t - 1;
	if (t > g->last_tick + 5) {
		if (g->measuring) {
			g->c.late_ticks += t - g->last_tick - 5;
			if ((t - g->last_tick) * PL_NS_PER_MS > g->max_lag_ns)
				g->max_lag_ns = (t - g->last_tick) * PL_NS_PER_MS;
		}
	}
	for (uint64_t k = g->last_tick + 1; k <= t; k++) {
		for (unsigned i = (unsigned)(k % GL_PTIME_MS); i < g->n_legs;
		     i += GL_PTIME_MS) {
			struct gl_leg *l = &g->legs[i];

			if (l->stage != L_UP)
				continue;
			rtp_send(g, l);
			if (now >= l->next_consent) {
				if (ice_send_check(g, l, false, true,
						   l->consent_tid) == 0)
					g->c.consent_sent++;
				l->next_consent = now + GL_CONSENT_NS;
			}
		}
	}
	g->last_tick = t;
}

/* About every 10 ms: retransmissions, per-leg deadlines, WS keepalive. */
static void
slow_tick(struct gl *g, uint64_t now)
{
	uint64_t deadline = (uint64_t)g->timeout_s * PL_NS_PER_S;

	for (unsigned i = 0; i < g->started; i++) {
		struct gl_leg *l = &g->legs[i];

		if (l->ws != NULL && l->ws->c.state == PL_OPEN &&
		    now >= l->ws->next_ping) {
			static const char ping[] = "{\"type\":\"ping\"}";

			l->ws->next_ping = now + GL_WS_PING_NS;
			pl_ws_send_text(&g->cl, &l->ws->c, ping, sizeof(ping) - 1);
		}
		if (l->stage >= L_UP)
			continue;
		if (now >= l->t_start + deadline) {
			leg_fail(g, l, "timeout");
			continue;
		}
		if (l->stage == L_ICE && now >= l->next_ice) {
			l->ice_tries++;
			l->next_ice = now + GL_ICE_RTO_NS;
			if (ice_send_check(g, l, true, false, l->ice_tid) < 0)
				note_error(g, "ice_send");
		} else if (l->stage == L_DTLS && l->ssl != NULL) {
			struct timeval tv;

			if (DTLSv1_get_timeout(l->ssl, &tv) == 1 &&
			    tv.tv_sec == 0 && tv.tv_usec == 0) {
				int r = DTLSv1_handle_timeout(l->ssl);

				if (r < 0)
					leg_fail(g, l, "dtls_retransmit_limit");
				else if (r > 0)
					g->c.dtls_retx++;
			}
		}
	}
}

/* A pass of every loop: media due, the slow timers about every 10 ms,
 * then whatever arrived. */
static void
serve(struct gl *g, uint64_t now)
{
	media_tick(g, now);
	if (now >= g->next_slow) {
		slow_tick(g, now);
		g->next_slow = now + 10 * PL_NS_PER_MS;
	}
	pl_client_poll(&g->cl, 1);
}

/* Serves every socket for ns, sending media. */
static void
run_for(struct gl *g, uint64_t ns)
{
	uint64_t end = pl_now_ns() + ns;

	for (;;) {
		uint64_t now = pl_now_ns();

		if (pl_stop || now >= end)
			return;
		serve(g, now);
	}
}

/* ---- the server's /metrics ---- */

/* sum of the samples of name whose labels contain label ("" any) */
static double
metric_sum(const char *text, const char *name, const char *label)
{
	size_t nl = strlen(name);
	double sum = 0;

	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n')) {
		const char *v, *eol;

		if (*p == '\n')
			p++;
		if (*p == '#' || strncmp(p, name, nl) != 0 ||
		    (p[nl] != ' ' && p[nl] != '{'))
			continue;
		eol = strchr(p, '\n');
		if (label[0] != '\0') {
			const char *lb = strstr(p, label);

			if (lb == NULL || (eol != NULL && lb > eol))
				continue;
		}
		v = eol ? eol : p + strlen(p);
		while (v > p && v[-1] != ' ')
			v--;
		sum += strtod(v, NULL);
	}
	return sum;
}

static void
scrape(const char *url, struct gl_metrics *m)
{
	static char text[1 << 20];

	memset(m, 0, sizeof(*m));
	if (url == NULL || pl_http_get(url, text, sizeof(text)) <= 0 ||
	    strstr(text, " 200 ") == NULL)
		return;
	m->ok = true;
	m->text = strdup(text);
	m->legs = metric_sum(text, "sotto_gateway_legs", "");
	m->rtp_in = metric_sum(text, "sotto_gateway_rtp_packets_total",
			       "kind=\"rtp_in\"");
	m->forwarded = metric_sum(text, "sotto_gateway_rtp_packets_total",
				  "kind=\"forwarded\"");
	m->fwd_dropped = metric_sum(text, "sotto_gateway_rtp_packets_total",
				    "kind=\"forward_dropped\"");
	m->dtls_failures = metric_sum(text, "sotto_gateway_dtls_failures_total", "");
	m->ended_consent = metric_sum(text, "sotto_gateway_legs_ended_total",
				      "reason=\"consent_lost\"");
	m->dtls_retransmits = metric_sum(text,
					 "sotto_gateway_dtls_retransmits_total", "");
	m->dp_drops = metric_sum(text, "sotto_dataplane_drops_total", "");
	m->driver_drops = metric_sum(text, "sotto_driver_drops_total", "");
	m->ctl_ring_full = metric_sum(text, "sotto_control_tx_ring_full_total", "");
}

/* "name{labels}=delta" for each sample of the families in names whose
 * value grew from a to b */
static void
print_deltas(const struct gl_metrics *a, const struct gl_metrics *b,
	     const char *const *names)
{
	bool any = false;

	if (a->text == NULL || b->text == NULL)
		return;
	for (const char *p = b->text; p != NULL && *p; p = strchr(p, '\n')) {
		char key[256];
		const char *sp;
		double va, vb;
		bool want = false;

		if (*p == '\n')
			p++;
		for (unsigned i = 0; names[i] != NULL; i++)
			want |= strncmp(p, names[i], strlen(names[i])) == 0;
		sp = strchr(p, ' ');
		if (!want || sp == NULL || (size_t)(sp - p) >= sizeof(key))
			continue;
		memcpy(key, p, (size_t)(sp - p));
		key[sp - p] = '\0';
		vb = strtod(sp + 1, NULL);
		va = 0;
		for (const char *q = strstr(a->text, key); q != NULL;
		     q = strstr(q + 1, key))
			if ((q == a->text || q[-1] == '\n') && q[strlen(key)] == ' ') {
				va = strtod(q + strlen(key) + 1, NULL);
				break;
			}
		if (vb > va) {
			printf("%s %s=%.0f", any ? "," : "            by reason:", key,
			       vb - va);
			any = true;
		}
	}
	if (any)
		printf("\n");
}

/* ---- results ---- */

static double
pct_ms(const uint32_t *v, unsigned n, double q)
{
	return (double)pl_pct_u32(v, n, q) / 1000.0;
}

static double
lat_pct_ms(const struct pl_hist *h, double q)
{
	return (double)pl_hist_pct(h, q) / 1000.0;
}

/* handshake intervals of the legs that came up, in us, sorted */
struct gl_hs {
	uint32_t *total, *answer, *ice, *dtls;
	unsigned n;
};

static void
collect_hs(const struct gl *g, struct gl_hs *h)
{
	h->n = 0;
	for (unsigned i = 0; i < g->started; i++) {
		const struct gl_leg *l = &g->legs[i];

		if (l->t_dtls == 0)
			continue;
		h->total[h->n] = (uint32_t)((l->t_dtls - l->t_offer) / 1000);
		h->answer[h->n] = (uint32_t)((l->t_answer - l->t_offer) / 1000);
		h->ice[h->n] = (uint32_t)((l->t_ice - l->t_answer) / 1000);
		h->dtls[h->n] = (uint32_t)((l->t_dtls - l->t_ice) / 1000);
		h->n++;
	}
	pl_sort_u32(h->total, h->n);
	pl_sort_u32(h->answer, h->n);
	pl_sort_u32(h->ice, h->n);
	pl_sort_u32(h->dtls, h->n);
}

/* One list of results, printed as "key=value" after RESULT or put in a
 * JSON object. */
struct gl_report {
	json_t *json;
};

static void
kv_i(struct gl_report *r, const char *k, int64_t v)
{
	if (r->json != NULL)
		json_object_set_new(r->json, k, json_integer((json_int_t)v));
	else
		printf(" %s=%" PRId64, k, v);
}

static void
kv_f(struct gl_report *r, const char *k, double v)
{
	if (r->json != NULL)
		json_object_set_new(r->json, k, json_real(v));
	else
		printf(" %s=%.3f", k, v);
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: gw_load --api http://127.0.0.1:PORT [options]\n"
		"  --legs N            legs (participants) in all (100)\n"
		"  --room-size K       legs per gateway room, 2..64 (10)\n"
		"  --handshake-rate R  new legs per second, 0 = --window at once (50)\n"
		"  --window W          legs handshaking at once when rate is 0 (64)\n"
		"  --duration S        measured window once all legs are up (20)\n"
		"  --loud K            loud speakers per room (2)\n"
		"  --payload B         RTP payload bytes, >= 12 (80)\n"
		"  --timeout S         per-leg limit from start to SRTP (20)\n"
		"  --metrics URL       sottod's /metrics (http://127.0.0.1:P/metrics)\n"
		"  --pid PID           sottod's pid: RSS and CPU\n"
		"  --origin O          Origin header for the WebSockets\n"
		"  --json              one JSON object instead of the table\n"
		"  --quiet             no progress on stderr\n"
		"Only loopback addresses are used.\n");
	exit(2);
}

/* ---- main: options, set-up, rooms, legs, the window, the report ---- */

/* what the window measured: counters and probes at its edges, and what
 * the listeners received in it */
struct gl_window {
	struct gl_metrics m0, m1, m2; /* start of the run, window edges */
	struct gl_ctr c0, c1;
	long rss0, rss_up, lg_rss;
	double cpu0, cpu1, lg_cpu0, lg_cpu1;
	double wait0, wait1, lg_wait0, lg_wait1;
	uint64_t rxq0, rxq1;
	int64_t gwd0, gwd1;
	unsigned gw_port;
	double win_s;
	unsigned held_end, listeners, active_slots_sum;
	double rx_min, rx_max, rx_sum;
	/* totals (window_totals) */
	double hs_s;            /* first offer -> last DTLS done */
	uint64_t sent, rcvd;    /* media in the window */
	double fwd, srv_in;     /* the server's, in the window; -1 unknown */
};

static const char *
parse_options(int argc, char **argv, struct gl *g)
{
	static const struct option opts[] = {
		{ "api", required_argument, NULL, 'a' },
		{ "legs", required_argument, NULL, 'n' },
		{ "room-size", required_argument, NULL, 'k' },
		{ "rooms-of", required_argument, NULL, 'k' },
		{ "handshake-rate", required_argument, NULL, 'r' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'W' },
		{ "duration", required_argument, NULL, 'd' },
		{ "loud", required_argument, NULL, 'L' },
		{ "payload", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "pid", required_argument, NULL, 'P' },
		{ "origin", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pl_client *cl = &g->cl;
	const char *api = NULL, *metrics_url = NULL, *origin = NULL;
	char ip[64];
	unsigned port = 0;
	int c;

	g->n_legs = 100;
	g->room_size = 10;
	g->rate = 50;
	g->window = 64;
	g->duration_s = 20;
	g->loud = 2;
	g->payload = 80;
	g->timeout_s = 20;
	cl->n_http = 8;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': api = optarg; break;
		case 'n': g->n_legs = (unsigned)atoi(optarg); break;
		case 'k': g->room_size = (unsigned)atoi(optarg); break;
		case 'r': g->rate = (unsigned)atoi(optarg); break;
		case 'W': g->window = (unsigned)atoi(optarg); break;
		case 'd': g->duration_s = (unsigned)atoi(optarg); break;
		case 'L': g->loud = (unsigned)atoi(optarg); break;
		case 'b': g->payload = (unsigned)atoi(optarg); break;
		case 't': g->timeout_s = (unsigned)atoi(optarg); break;
		case 'm': metrics_url = optarg; break;
		case 'P': g->server_pid = atoi(optarg); break;
		case 'o': origin = optarg; break;
		case 'j': g->json = true; break;
		case 'q': g->quiet = true; break;
		default: usage();
		}
	}
	if (api == NULL || sscanf(api, "http://%63[^:/]:%u", ip, &port) != 2 ||
	    inet_pton(AF_INET, ip, &cl->api_addr.sin_addr) != 1 || port == 0 ||
	    port > 65535 || g->n_legs == 0 || g->n_legs > GL_MAX_LEGS ||
	    g->room_size < 2 || g->room_size > GL_MAX_ROOM ||
	    g->rate > 10000 || g->window == 0 || g->duration_s > 600 ||
	    g->loud > g->room_size || g->payload < GL_PAYLOAD_HDR ||
	    g->payload > GL_PKT_MAX - GL_HDR_LEN - DP_SRTP_MAX_TRAILER ||
	    g->timeout_s == 0 || g->timeout_s > 120)
		usage();
	if ((ntohl(cl->api_addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "gw_load: --api must be a 127.0.0.0/8 address\n");
		exit(2);
	}
	cl->api_addr.sin_family = AF_INET;
	cl->api_addr.sin_port = htons((uint16_t)port);
	cl->ws_addr = cl->api_addr;
	snprintf(cl->host, sizeof(cl->host), "%s:%u", ip, port);
	snprintf(cl->origin, sizeof(cl->origin), "%s", origin ? origin : "");
	return metrics_url;
}

/* The client, the tables of rooms, requests and legs, the histograms,
 * the DTLS client; 0 or -errno (the reason printed). */
static int
init(struct gl *g, struct gl_hs *hs)
{
	/* a UDP socket and a WebSocket per leg */
	pl_proc_raise_nofile();
	pl_proc_catch_stop();

	g->n_rooms = (g->n_legs + g->room_size - 1) / g->room_size;
	g->legs = calloc(g->n_legs, sizeof(*g->legs));
	g->rooms = calloc(g->n_rooms, sizeof(*g->rooms));
	g->reqs = calloc((size_t)g->n_rooms * g->room_size, sizeof(*g->reqs));
	g->mbuf = calloc(GL_MMSG, sizeof(*g->mbuf));
	hs->total = calloc(g->n_legs, sizeof(uint32_t));
	hs->answer = calloc(g->n_legs, sizeof(uint32_t));
	hs->ice = calloc(g->n_legs, sizeof(uint32_t));
	hs->dtls = calloc(g->n_legs, sizeof(uint32_t));
	if (pl_client_init(&g->cl, &gl_ops, sizeof(struct gl_conn)) < 0 ||
	    g->legs == NULL || g->rooms == NULL || g->reqs == NULL ||
	    pl_hist_init(&g->lat[0], GL_LAT_LIN, GL_LAT_SUB, GL_LAT_OCT) < 0 ||
	    pl_hist_init(&g->lat[1], GL_LAT_LIN, GL_LAT_SUB, GL_LAT_OCT) < 0 ||
	    g->mbuf == NULL || hs->total == NULL || hs->answer == NULL ||
	    hs->ice == NULL || hs->dtls == NULL) {
		perror("gw_load: init");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < GL_MMSG; i++) {
		g->iov[i].iov_base = g->mbuf[i];
		g->iov[i].iov_len = sizeof(g->mbuf[i]);
		g->mm[i].msg_hdr.msg_iov = &g->iov[i];
		g->mm[i].msg_hdr.msg_iovlen = 1;
		g->mm[i].msg_hdr.msg_control = g->mctl[i];
	}
	if (dtls_client_init(g) < 0) {
		fprintf(stderr, "gw_load: DTLS client setup failed\n");
		ERR_print_errors_fp(stderr);
		return -EPROTO;
	}
	for (unsigned r = 0; r < g->n_rooms; r++) {
		struct gl_room *rm = &g->rooms[r];
		unsigned left = g->n_legs - r * g->room_size;

		rm->idx = r;
		rm->size = left < g->room_size ? left : g->room_size;
		if (rm->size < 2)
			rm->size = 2; /* max_participants >= 2; one leg joins */
		for (unsigned i = 0; i < g->room_size; i++) {
			g->reqs[r * g->room_size + i].room = rm;
			g->reqs[r * g->room_size + i].kind = i ? Q_INVITE : Q_CREATE;
		}
	}
	for (unsigned i = 0; i < g->n_legs; i++) {
		struct gl_leg *l = &g->legs[i];

		l->kind = PL_KIND_OTHER;
		l->idx = i;
		l->room = &g->rooms[i / g->room_size];
		l->pos = i % g->room_size;
		l->loud = l->pos < g->loud;
		l->ufd = -1;
	}
	return 0;
}

/* Rooms and invites, every room before the first leg, over the pool; the
 * server's memory and counters before them. */
static void
set_up_rooms(struct gl *g, struct gl_window *w, const char *metrics_url)
{
	uint64_t t0;

	w->rss0 = pl_proc_rss_kb(g->server_pid);
	scrape(metrics_url, &w->m0);
	t0 = pl_now_ns();
	if (!g->quiet)
		fprintf(stderr, "gw_load: %u rooms of %u, %u legs\n", g->n_rooms,
			g->room_size, g->n_legs);
	for (unsigned r = 0; r < g->n_rooms; r++) {
		g->rooms[r].step = R_CREATE;
		pl_http_enqueue(&g->cl, &g->reqs[r * g->room_size].q);
	}
	pl_http_pump(&g->cl);
	while (!pl_stop && g->rooms_ready + g->rooms_failed < g->n_rooms &&
	       pl_now_ns() < t0 + GL_SETUP_TIMEOUT_NS)
		pl_client_poll(&g->cl, 10);
	for (unsigned r = 0; r < g->n_rooms; r++)
		if (g->rooms[r].step != R_READY)
			room_fail(g, &g->rooms[r], "room_setup_timeout");
	/* the pool is not needed any more */
	for (unsigned i = 0; i < g->cl.n_http; i++)
		if (g->cl.http[i] != NULL) {
			pl_conn_close(&g->cl, g->cl.http[i]);
			g->cl.http[i] = NULL;
		}
	pl_client_free_closed(&g->cl);
	if (!g->quiet)
		fprintf(stderr, "gw_load: %u rooms ready in %.2f s (%u failed)\n",
			g->rooms_ready, (double)(pl_now_ns() - t0) / 1e9,
			g->rooms_failed);
}

/* Legs start at --handshake-rate per second (or --window at once) until
 * every leg is up or failed. */
static void
ramp_legs(struct gl *g)
{
	uint64_t t0 = pl_now_ns(), last_report = t0;
	uint64_t interval = g->rate ? PL_NS_PER_S / g->rate : 0;
	uint64_t hard_end = t0 + (g->rate ? (uint64_t)g->n_legs * interval : 0) +
			    (uint64_t)g->timeout_s * PL_NS_PER_S +
			    120 * PL_NS_PER_S;

	while (!pl_stop && (g->started < g->n_legs || g->in_flight > 0)) {
		uint64_t now = pl_now_ns();

		if (now > hard_end)
			break;
		while (g->started < g->n_legs &&
		       (g->rate ? now >= t0 + g->started * interval :
				  g->in_flight < g->window)) {
			struct gl_leg *l = &g->legs[g->started];

			if (l->room->step != R_READY) {
				g->started++;
				g->in_flight++;
				l->t_start = now;
				leg_fail(g, l, "room_setup_failed");
				continue;
			}
			leg_start(g, l);
		}
		if (!g->quiet && now >= last_report + PL_NS_PER_S) {
			last_report = now;
			fprintf(stderr,
				"gw_load: started %u up %u failed %u in flight %u\n",
				g->started, g->up, g->failed, g->in_flight);
		}
		serve(g, now);
	}
	if (!g->quiet)
		fprintf(stderr, "gw_load: %u up, %u failed after %.2f s; "
			"settling 2 s, then measuring %u s\n",
			g->up, g->failed, (double)(pl_now_ns() - t0) / 1e9,
			g->duration_s);
}

static uint64_t
rxq_drops(const struct gl *g)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < g->n_legs; i++)
		n += g->legs[i].rxq_drops;
	return n;
}

/* 2 s for speaker selection to settle, then the --duration window with
 * everything measured at its edges (nothing to measure without a leg). */
static void
measure_window(struct gl *g, struct gl_window *w, const char *metrics_url)
{
	uint64_t t0, t1;

	w->gwd0 = w->gwd1 = -1;
	if (g->up == 0)
		g->duration_s = 0;
	else
		run_for(g, 2 * PL_NS_PER_S); /* speakers settle */
	for (unsigned i = 0; i < g->n_legs && w->gw_port == 0; i++)
		if (g->legs[i].stage == L_UP)
			w->gw_port = ntohs(
				((struct sockaddr_in *)&g->legs[i].gw)->sin_port);
	if (w->gw_port != 0)
		w->gwd0 = pl_udp_port_drops(w->gw_port);
	w->c0 = g->c;
	w->rxq0 = rxq_drops(g);
	for (unsigned i = 0; i < g->n_legs; i++) {
		g->legs[i].rcvd0 = g->legs[i].rcvd;
		memcpy(g->legs[i].slot_rx0, g->legs[i].slot_rx,
		       sizeof(g->legs[i].slot_rx));
	}
	scrape(metrics_url, &w->m1);
	w->cpu0 = pl_proc_cpu_s(g->server_pid);
	w->lg_cpu0 = pl_self_cpu_s();
	w->wait0 = pl_proc_runq_wait_s(g->server_pid);
	w->lg_wait0 = pl_proc_runq_wait_s(getpid());
	t0 = pl_now_ns();
	g->measuring = true;
	run_for(g, (uint64_t)g->duration_s * PL_NS_PER_S);
	g->measuring = false;
	t1 = pl_now_ns();
	w->c1 = g->c;
	if (w->gw_port != 0)
		w->gwd1 = pl_udp_port_drops(w->gw_port);
	w->rxq1 = rxq_drops(g);
	w->cpu1 = pl_proc_cpu_s(g->server_pid);
	w->lg_cpu1 = pl_self_cpu_s();
	w->wait1 = pl_proc_runq_wait_s(g->server_pid);
	w->lg_wait1 = pl_proc_runq_wait_s(getpid());
	scrape(metrics_url, &w->m2);
	w->rss_up = pl_proc_rss_kb(g->server_pid);
	w->lg_rss = pl_proc_rss_kb(getpid());
	w->win_s = (double)(t1 - t0) / 1e9;
	if (w->win_s <= 0)
		w->win_s = 1e-9;
	w->held_end = g->up;

	w->rx_min = -1;
	for (unsigned i = 0; i < g->n_legs; i++) {
		const struct gl_leg *l = &g->legs[i];
		double r;
		unsigned act = 0;

		if (l->stage != L_UP)
			continue;
		w->listeners++;
		r = (double)(l->rcvd - l->rcvd0) / w->win_s;
		w->rx_sum += r;
		if (w->rx_min < 0 || r < w->rx_min)
			w->rx_min = r;
		if (r > w->rx_max)
			w->rx_max = r;
		for (unsigned s = 0; s < l->n_slots; s++)
			act += l->slot_rx[s] > l->slot_rx0[s];
		w->active_slots_sum += act;
	}
	if (w->rx_min < 0)
		w->rx_min = 0;
}

/* Every leg leaves; the server closes the WebSockets that left, so
 * TIME_WAIT stays on its side. */
static void
leave_all(struct gl *g)
{
	for (unsigned i = 0; i < g->started; i++) {
		struct gl_leg *l = &g->legs[i];

		if (l->ws != NULL) {
			struct gl_conn *wc = l->ws;

			l->ws = NULL;
			ws_let_go(g, wc);
		}
		leg_release(g, l);
	}
	pl_client_drain(&g->cl, 3 * PL_NS_PER_S);
}

/* What both reports show, once every leg has left. */
static void
window_totals(const struct gl *g, struct gl_window *w)
{
	bool m_ok = w->m2.ok && w->m1.ok;

	w->hs_s = g->t_last_up > g->t_first_offer ?
			  (double)(g->t_last_up - g->t_first_offer) / 1e9 : 0;
	w->sent = w->c1.sent - w->c0.sent;
	w->rcvd = w->c1.rcvd - w->c0.rcvd;
	w->fwd = m_ok ? w->m2.forwarded - w->m1.forwarded : -1;
	w->srv_in = m_ok ? w->m2.rtp_in - w->m1.rtp_in : -1;
}

/* The human table and the ERRORS line. */
static void
report_table(const struct gl *g, const struct gl_hs *hs,
	     const struct gl_window *w)
{
	const struct gl_ctr *c0 = &w->c0, *c1 = &w->c1;
	const struct gl_metrics *m0 = &w->m0, *m1 = &w->m1, *m2 = &w->m2;

	printf("legs        attempted %u  up %u  held to the end %u  "
	       "failed %u (signaling %u, ICE %u, DTLS %u)  lost %u\n",
	       g->n_legs, hs->n, w->held_end, g->failed,
	       g->failed_by[F_SIGNALING], g->failed_by[F_ICE],
	       g->failed_by[F_DTLS], g->lost);
	printf("handshake   offer -> DTLS done  p50 %.1f ms  p99 %.1f ms  "
	       "max %.1f ms\n"
	       "            offer -> answer p50 %.1f / p99 %.1f ms, "
	       "answer -> ICE ok p50 %.1f / p99 %.1f ms, "
	       "ICE -> DTLS done p50 %.1f / p99 %.1f ms\n",
	       pct_ms(hs->total, hs->n, 50), pct_ms(hs->total, hs->n, 99),
	       hs->n ? hs->total[hs->n - 1] / 1000.0 : 0.0,
	       pct_ms(hs->answer, hs->n, 50), pct_ms(hs->answer, hs->n, 99),
	       pct_ms(hs->ice, hs->n, 50), pct_ms(hs->ice, hs->n, 99),
	       pct_ms(hs->dtls, hs->n, 50), pct_ms(hs->dtls, hs->n, 99));
	printf("            %.1f handshakes/s achieved (target %u/s; "
	       "first offer -> last DTLS done %.2f s); SRTP "
	       "profile AEAD_AES_128_GCM %u, AES128_CM_SHA1_80 %u\n",
	       w->hs_s > 0 ? hs->n / w->hs_s : 0, g->rate, w->hs_s, g->n_gcm, g->n_cm);
	printf("media       window %.1f s: sent %" PRIu64 " (%.0f/s), "
	       "received %" PRIu64 " (%.0f/s)\n",
	       w->win_s, w->sent, w->sent / w->win_s, w->rcvd, w->rcvd / w->win_s);
	printf("            per listener %.1f/s mean (min %.1f, max %.1f), "
	       "%.2f slots active on average\n",
	       w->listeners ? w->rx_sum / w->listeners : 0.0, w->rx_min, w->rx_max,
	       w->listeners ? (double)w->active_slots_sum / w->listeners : 0.0);
	printf("            SRTP auth failures %" PRIu64 ", other unprotect "
	       "errors %" PRIu64 ", unknown SSRC %" PRIu64
	       ", own audio back %" PRIu64 ", from another room %" PRIu64
	       "\n            SRTCP in %" PRIu64 ", consent checks answered %"
	       PRIu64 " of %" PRIu64 ", the gateway's answered %" PRIu64
	       " (refused %" PRIu64 ")\n",
	       c1->auth_fail - c0->auth_fail,
	       c1->unprotect_err - c0->unprotect_err,
	       c1->unknown_ssrc - c0->unknown_ssrc,
	       c1->own_echo - c0->own_echo,
	       c1->cross_room - c0->cross_room, c1->rtcp_rx - c0->rtcp_rx,
	       c1->consent_ok - c0->consent_ok,
	       c1->consent_sent - c0->consent_sent,
	       c1->gw_checks - c0->gw_checks,
	       c1->gw_checks_bad - c0->gw_checks_bad);
	printf("latency     one way, send -> in our socket  p50 %.3f ms  "
	       "p99 %.3f ms  max %.3f ms (%" PRIu64 " packets)\n"
	       "            send -> read by gw_load  p50 %.3f ms  "
	       "p99 %.3f ms  max %.3f ms\n",
	       lat_pct_ms(&g->lat[0], 50), lat_pct_ms(&g->lat[0], 99),
	       g->lat[0].max / 1000.0, g->lat[0].n,
	       lat_pct_ms(&g->lat[1], 50), lat_pct_ms(&g->lat[1], 99),
	       g->lat[1].max / 1000.0);
	if (m2->ok)
		printf("server      sotto_gateway_legs %.0f before, %.0f at the "
		       "end; forwarded %.0f/s, SRTP in %.0f/s, forward "
		       "dropped %.0f, DTLS failures %.0f\n",
		       m0->legs, m2->legs, w->fwd / w->win_s, w->srv_in / w->win_s,
		       m2->fwd_dropped - m1->fwd_dropped, m2->dtls_failures);
	if (w->gwd0 >= 0 && w->gwd1 >= 0)
		printf("            kernel drops on the gateway's UDP "
		       "port %u in the window: %" PRId64 " (%.1f%% of "
		       "what was sent)\n",
		       w->gw_port, w->gwd1 - w->gwd0,
		       w->sent ? 100.0 * (double)(w->gwd1 - w->gwd0) / (double)w->sent :
			      0.0);
	if (m2->ok) {
		static const char *const fam[] = {
			"sotto_dataplane_drops_total{",
			"sotto_driver_drops_total{",
			"sotto_gateway_legs_ended_total{",
			"sotto_gateway_dtls_failures_total{",
			"sotto_gateway_ice_checks_total{result=\"b",
			"sotto_gateway_ice_checks_total{result=\"u",
			"sotto_gateway_ice_checks_total{result=\"m",
			NULL,
		};

		printf("            whole run: DTLS retransmits %.0f, "
		       "dataplane drops %.0f, driver drops %.0f, "
		       "control tx ring full %.0f, consent lost %.0f\n",
		       m2->dtls_retransmits - m0->dtls_retransmits,
		       m2->dp_drops - m0->dp_drops,
		       m2->driver_drops - m0->driver_drops,
		       m2->ctl_ring_full - m0->ctl_ring_full,
		       m2->ended_consent - m0->ended_consent);
		print_deltas(m0, m2, fam);
	}
	if (w->rss0 >= 0)
		printf("            VmRSS %ld kB -> %ld kB with %u legs: "
		       "%ld bytes per leg; CPU %.2f s in the window\n",
		       w->rss0, w->rss_up, w->held_end,
		       w->held_end ? (w->rss_up - w->rss0) * 1024 / (long)w->held_end : -1,
		       w->cpu1 - w->cpu0);
	printf("load gen    CPU %.2f s in the window, VmRSS %ld kB; "
	       "media ticks > 5 ms late %" PRIu64 ", worst %.1f ms, "
	       "skipped %" PRIu64 " ms\n",
	       w->lg_cpu1 - w->lg_cpu0, w->lg_rss, c1->late_ticks - c0->late_ticks,
	       g->max_lag_ns / 1e6, c1->skipped_ms - c0->skipped_ms);
	printf("            client DTLS retransmits %" PRIu64
	       ", datagrams our sockets dropped (full) %" PRIu64
	       " (whole run; %" PRIu64 " in the window)\n",
	       c1->dtls_retx, w->rxq1, w->rxq1 - w->rxq0);
	printf("run queue   s runnable but waiting for a CPU in the window: "
	       "sottod %.2f, gw_load %.2f\n",
	       w->wait0 >= 0 && w->wait1 >= 0 ? w->wait1 - w->wait0 : -1,
	       w->lg_wait1 - w->lg_wait0);
	pl_errors_print(&g->cl.errors, stdout);
	printf("\n");
}

/* "RESULT key=value ..." or, with --json, one object (errors included);
 * 0 or -ENOMEM if the JSON could not be encoded. */
static int
report_result(const struct gl *g, const struct gl_hs *hs,
	      const struct gl_window *w)
{
	const struct gl_ctr *c0 = &w->c0, *c1 = &w->c1;
	const struct gl_metrics *m0 = &w->m0, *m1 = &w->m1, *m2 = &w->m2;
	struct gl_report rep = { .json = g->json ? json_object() : NULL };

	if (!g->json)
		printf("RESULT");
	kv_i(&rep, "legs", g->n_legs);
	kv_i(&rep, "room_size", g->room_size);
	kv_i(&rep, "up", hs->n);
	kv_i(&rep, "held", w->held_end);
	kv_i(&rep, "failed", g->failed);
	kv_i(&rep, "failed_signaling", g->failed_by[F_SIGNALING]);
	kv_i(&rep, "failed_ice", g->failed_by[F_ICE]);
	kv_i(&rep, "failed_dtls", g->failed_by[F_DTLS]);
	kv_i(&rep, "lost", g->lost);
	kv_f(&rep, "rate", g->rate);
	kv_f(&rep, "hs_per_s", w->hs_s > 0 ? hs->n / w->hs_s : 0);
	kv_f(&rep, "hs_p50_ms", pct_ms(hs->total, hs->n, 50));
	kv_f(&rep, "hs_p99_ms", pct_ms(hs->total, hs->n, 99));
	kv_f(&rep, "hs_max_ms", hs->n ? hs->total[hs->n - 1] / 1000.0 : 0.0);
	kv_f(&rep, "answer_p50_ms", pct_ms(hs->answer, hs->n, 50));
	kv_f(&rep, "answer_p99_ms", pct_ms(hs->answer, hs->n, 99));
	kv_f(&rep, "ice_p50_ms", pct_ms(hs->ice, hs->n, 50));
	kv_f(&rep, "ice_p99_ms", pct_ms(hs->ice, hs->n, 99));
	kv_f(&rep, "dtls_p50_ms", pct_ms(hs->dtls, hs->n, 50));
	kv_f(&rep, "dtls_p99_ms", pct_ms(hs->dtls, hs->n, 99));
	kv_f(&rep, "window_s", w->win_s);
	kv_i(&rep, "sent", (int64_t)w->sent);
	kv_i(&rep, "received", (int64_t)w->rcvd);
	kv_f(&rep, "sent_per_s", w->sent / w->win_s);
	/* what 50 packets/s per leg held would have been */
	kv_f(&rep, "sent_of_schedule",
	     w->held_end ? w->sent / (w->win_s * w->held_end * (1000.0 / GL_PTIME_MS)) : 0);
	kv_f(&rep, "rx_per_s", w->rcvd / w->win_s);
	kv_f(&rep, "listener_rx_per_s", w->listeners ? w->rx_sum / w->listeners : 0.0);
	kv_f(&rep, "listener_rx_min", w->rx_min);
	kv_f(&rep, "listener_rx_max", w->rx_max);
	kv_f(&rep, "active_slots",
	     w->listeners ? (double)w->active_slots_sum / w->listeners : 0.0);
	kv_i(&rep, "auth_failures", (int64_t)(c1->auth_fail - c0->auth_fail));
	kv_i(&rep, "unprotect_errors",
	     (int64_t)(c1->unprotect_err - c0->unprotect_err));
	kv_i(&rep, "unknown_ssrc", (int64_t)(c1->unknown_ssrc - c0->unknown_ssrc));
	kv_i(&rep, "own_echo", (int64_t)(c1->own_echo - c0->own_echo));
	kv_i(&rep, "cross_room", (int64_t)(c1->cross_room - c0->cross_room));
	kv_i(&rep, "rtcp_in", (int64_t)(c1->rtcp_rx - c0->rtcp_rx));
	kv_i(&rep, "consent_sent", (int64_t)(c1->consent_sent - c0->consent_sent));
	kv_i(&rep, "consent_ok", (int64_t)(c1->consent_ok - c0->consent_ok));
	kv_i(&rep, "gw_checks_answered",
	     (int64_t)(c1->gw_checks - c0->gw_checks));
	kv_i(&rep, "gw_checks_refused",
	     (int64_t)(c1->gw_checks_bad - c0->gw_checks_bad));
	kv_i(&rep, "send_errors", (int64_t)(c1->send_err - c0->send_err));
	kv_f(&rep, "lat_p50_ms", lat_pct_ms(&g->lat[0], 50));
	kv_f(&rep, "lat_p99_ms", lat_pct_ms(&g->lat[0], 99));
	kv_f(&rep, "lat_max_ms", g->lat[0].max / 1000.0);
	kv_f(&rep, "lat_app_p50_ms", lat_pct_ms(&g->lat[1], 50));
	kv_f(&rep, "lat_app_p99_ms", lat_pct_ms(&g->lat[1], 99));
	kv_f(&rep, "lat_app_max_ms", g->lat[1].max / 1000.0);
	kv_i(&rep, "lg_dtls_retransmits", (int64_t)c1->dtls_retx);
	kv_i(&rep, "lg_rxq_drops", (int64_t)w->rxq1);
	kv_i(&rep, "late_ticks", (int64_t)(c1->late_ticks - c0->late_ticks));
	kv_f(&rep, "max_lag_ms", g->max_lag_ns / 1e6);
	kv_i(&rep, "skipped_ms", (int64_t)(c1->skipped_ms - c0->skipped_ms));
	kv_f(&rep, "srv_legs", m2->ok ? m2->legs : -1);
	kv_f(&rep, "srv_fwd_per_s", w->fwd >= 0 ? w->fwd / w->win_s : -1);
	kv_f(&rep, "srv_rtp_in_per_s", w->srv_in >= 0 ? w->srv_in / w->win_s : -1);
	kv_f(&rep, "srv_fwd_dropped", m2->ok && m1->ok ?
					  m2->fwd_dropped - m1->fwd_dropped : -1);
	kv_i(&rep, "srv_sock_drops",
	     w->gwd0 >= 0 && w->gwd1 >= 0 ? w->gwd1 - w->gwd0 : -1);
	kv_f(&rep, "srv_dtls_retransmits",
	     m2->ok && m0->ok ? m2->dtls_retransmits - m0->dtls_retransmits : -1);
	kv_f(&rep, "srv_dp_drops",
	     m2->ok && m0->ok ? m2->dp_drops - m0->dp_drops : -1);
	kv_f(&rep, "srv_driver_drops",
	     m2->ok && m0->ok ? m2->driver_drops - m0->driver_drops : -1);
	kv_i(&rep, "srv_rss0_kb", w->rss0);
	kv_i(&rep, "srv_rss_kb", w->rss_up);
	kv_i(&rep, "bytes_per_leg", w->rss0 >= 0 && w->rss_up >= 0 && w->held_end ?
					    (w->rss_up - w->rss0) * 1024 /
						    (long)w->held_end :
					    -1);
	kv_f(&rep, "srv_cpu_s",
	     w->cpu0 >= 0 && w->cpu1 >= 0 ? w->cpu1 - w->cpu0 : -1);
	kv_f(&rep, "lg_cpu_s", w->lg_cpu1 - w->lg_cpu0);
	kv_i(&rep, "lg_rss_kb", w->lg_rss);
	kv_f(&rep, "srv_runq_wait_s",
	     w->wait0 >= 0 && w->wait1 >= 0 ? w->wait1 - w->wait0 : -1);
	kv_f(&rep, "lg_runq_wait_s", w->lg_wait1 - w->lg_wait0);
	if (g->json) {
		const struct pl_errors *e = &g->cl.errors;
		json_t *errs = json_object();
		char *txt;

		for (unsigned i = 0; i < PL_ERRORS_MAX && e->e[i].count; i++)
			json_object_set_new(errs, e->e[i].code,
					    json_integer(e->e[i].count));
		json_object_set_new(rep.json, "errors", errs);
		txt = json_dumps(rep.json, JSON_INDENT(2));
		json_decref(rep.json);
		if (txt == NULL) {
			fprintf(stderr, "gw_load: cannot encode the result\n");
			return -ENOMEM;
		}
		printf("%s\n", txt);
		free(txt);
	} else {
		printf("\n");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct gl *g = calloc(1, sizeof(*g));
	struct gl_window w = { 0 };
	struct gl_hs hs;
	const char *metrics_url;

	if (g == NULL)
		return 1;
	metrics_url = parse_options(argc, argv, g);
	if (init(g, &hs) < 0)
		return 1;
	set_up_rooms(g, &w, metrics_url);
	ramp_legs(g);
	measure_window(g, &w, metrics_url);
	leave_all(g);
	collect_hs(g, &hs);
	window_totals(g, &w);
	if (!g->json)
		report_table(g, &hs, &w);
	if (report_result(g, &hs, &w) < 0)
		return 1;
	if (pl_stop)
		return 130;
	return hs.n > 0 ? 0 : 1;
}
