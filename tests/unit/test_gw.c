/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control/gateway/gw.c: a leg's addresses and consent (RFC 7675), on a
 * dataplane built by hand (one worker whose tx ring the test reads: every
 * packet the gateway sends, with its destination) and a clock the test
 * sets. The browser is played here: it offers, sends ICE checks and DTLS,
 * and answers (or not) the gateway's own Binding requests.
 *
 * Covered: nothing but the check's answer and the gateway's own check goes
 * to an address before that check is answered; DTLS from there is held
 * until then and then read (the ServerHello flight goes out); answers that
 * do not count (another transaction, another address, either direction;
 * the wrong password; no FINGERPRINT; an error response) and their
 * counters; the probe's pace (RTO 50 ms doubling to 1.6 s, 8 sends, one
 * transaction id) and its end; a move only once the new address answers,
 * never to one that does not, at most once a second; consent checks every
 * 4 to 6 s (30 s consent), a new transaction each, and the leg's end
 * consent_timeout after the last answered one was sent, with nothing sent
 * after; the browser's own checks still needed (consent_lost without
 * them too).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <openssl/rand.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "check.h"
#include "config.h"
#include "dp.h"
#include "dp_gw.h"
#include "eal.h"
#include "gw.h"
#include "metrics.h"
#include "stun.h"

#define GW_PORT 40000
#define MAX_OUT 256

static struct dp_ctx dp;
static struct dp_worker worker;
static struct sotto_config cfg;
static struct gw *g;
static struct gw_room *room;
static struct sotto_addr gw_addr, gw_other;

/* ---- what the gateway sends ---- */

enum kind { K_REQUEST, K_SUCCESS, K_OTHER_STUN, K_DTLS, K_OTHER };

struct out {
	struct sotto_addr dst, src;
	enum kind kind;
	uint8_t tid[STUN_TID_LEN];
	uint8_t buf[1500];
	size_t len;
};

static struct out outs[MAX_OUT];
static unsigned n_outs;

/* Everything sent since the last call, in outs[]. */
static unsigned
drain(void)
{
	struct rte_mbuf *m[32];
	unsigned n;

	n_outs = 0;
	while ((n = dp_worker_take_tx(&worker, m, 32)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct out *o = &outs[n_outs < MAX_OUT ? n_outs++ : n_outs - 1];
			const uint8_t *p = rte_pktmbuf_mtod(m[i], const uint8_t *);

			o->len = rte_pktmbuf_data_len(m[i]);
			if (o->len > sizeof(o->buf))
				o->len = sizeof(o->buf);
			memcpy(o->buf, p, o->len);
			o->dst = dp_meta(m[i])->dst;
			o->src = dp_meta(m[i])->src;
			if (o->len >= 20 && p[0] <= 3) {
				uint16_t t = (uint16_t)(p[0] << 8 | p[1]);
				o->kind = t == 0x0001 ? K_REQUEST :
					  t == 0x0101 ? K_SUCCESS : K_OTHER_STUN;
				memcpy(o->tid, p + 8, STUN_TID_LEN);
			} else if (o->len > 0 && p[0] >= 20 && p[0] <= 63) {
				o->kind = K_DTLS;
			} else {
				o->kind = K_OTHER;
			}
			rte_pktmbuf_free(m[i]);
		}
	}
	return n_outs;
}

static unsigned
count(const struct sotto_addr *to, enum kind k)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n_outs; i++)
		c += sotto_addr_eq(&outs[i].dst, to) && outs[i].kind == k;
	return c;
}

static const struct out *
find_out(const struct sotto_addr *to, enum kind k)
{
	for (unsigned i = 0; i < n_outs; i++)
		if (sotto_addr_eq(&outs[i].dst, to) && outs[i].kind == k)
			return &outs[i];
	return NULL;
}

/* ---- counters ---- */

static uint64_t
metric(const char *sample)
{
	struct metrics m = { 0 };
	uint64_t v = 0;
	size_t n = strlen(sample);

	gw_metrics(g, &m);
	for (const char *p = m.buf; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		if (strncmp(p, sample, n) == 0 && p[n] == ' ')
			v = strtoull(p + n + 1, NULL, 10);
		p = nl != NULL ? nl + 1 : NULL;
	}
	free(m.buf);
	return v;
}

#define CONSENT(r) metric("sotto_gateway_consent_checks_total{result=\"" r "\"}")
#define ICE(r) metric("sotto_gateway_ice_checks_total{result=\"" r "\"}")
#define MOVES() metric("sotto_gateway_leg_moves_total")
#define ENDED(r) metric("sotto_gateway_legs_ended_total{reason=\"" r "\"}")

/* ---- leg_ended ---- */

static char ended_peer[17];
static const char *ended_reason;

static void
on_leg_ended(struct sig *sig, const char *room_hex, const char *peer_hex,
	     const char *reason)
{
	(void)sig;
	(void)room_hex;
	snprintf(ended_peer, sizeof(ended_peer), "%s", peer_hex);
	ended_reason = reason;
}

/* ---- the browser ---- */

struct browser {
	char peer[17];
	char ufrag[9], pwd[25];          /* ours, in the offer */
	char ans_ufrag[64], ans_pwd[64]; /* the gateway's, from the answer */
};

static void
rand_ice(char *out, size_t n)
{
	static const char c[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[32];

	RAND_bytes(r, (int)n);
	for (size_t i = 0; i < n; i++)
		out[i] = c[r[i] & 63];
	out[n] = '\0';
}

static void
sdp_value(const char *sdp, const char *key, char *out, size_t cap)
{
	const char *p = strstr(sdp, key);
	size_t n = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(key);
	while (p[n] != '\0' && p[n] != '\r' && p[n] != '\n' && n + 1 < cap)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

static bool
offer(struct browser *b, const char *peer, uint64_t now)
{
	static const char fp[] =
		"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
		"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
	char sdp[2048], answer[8192];
	const char *why = NULL;
	int n;

	memset(b, 0, sizeof(*b));
	snprintf(b->peer, sizeof(b->peer), "%s", peer);
	rand_ice(b->ufrag, 8);
	rand_ice(b->pwd, 24);
	n = snprintf(sdp, sizeof(sdp),
		     "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		     "a=group:BUNDLE 0\r\n"
		     "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
		     "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
		     "a=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:0\r\n"
		     "a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
		     "a=ssrc:1234 cname:t\r\n", b->ufrag, b->pwd, fp);
	if (gw_offer(g, room, peer, sdp, (size_t)n, answer, sizeof(answer),
		     &why, now) < 0) {
		fprintf(stderr, "offer refused: %s\n", why);
		return false;
	}
	sdp_value(answer, "a=ice-ufrag:", b->ans_ufrag, sizeof(b->ans_ufrag));
	sdp_value(answer, "a=ice-pwd:", b->ans_pwd, sizeof(b->ans_pwd));
	return b->ans_ufrag[0] != '\0' && b->ans_pwd[0] != '\0';
}

static struct sotto_addr
addr(uint16_t port)
{
	struct sotto_addr a;

	sotto_addr_v4(&a, htonl(0x7f000001), port);
	return a;
}

/* A check from the browser at src, as a controlling full agent sends it. */
static void
check_from(const struct browser *b, const struct sotto_addr *src, bool use,
	   uint64_t now)
{
	static const uint8_t none[1];
	uint8_t buf[256], tid[STUN_TID_LEN], tb[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char user[128];
	struct stun_builder sb;
	int ul = snprintf(user, sizeof(user), "%s:%s", b->ans_ufrag, b->ufrag);
	size_t n;

	RAND_bytes(tid, sizeof(tid));
	stun_build(&sb, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
	stun_add(&sb, STUN_A_USERNAME, user, (uint16_t)ul);
	stun_add_u32(&sb, STUN_A_PRIORITY, 0x6E7F1EFF);
	stun_add(&sb, STUN_A_ICE_CONTROLLING, tb, 8);
	if (use)
		stun_add(&sb, STUN_A_USE_CANDIDATE, none, 0);
	stun_add_integrity(&sb, (const uint8_t *)b->ans_pwd, strlen(b->ans_pwd));
	stun_add_fingerprint(&sb);
	n = stun_finish(&sb);
	gw_check(g, buf, n, src, &gw_addr, 0, now);
}

/* The gateway's request o is right: USERNAME theirs:ours, integrity with
 * the browser's password, FINGERPRINT, ICE-CONTROLLED, PRIORITY, no
 * USE-CANDIDATE. */
static bool
request_ok(const struct browser *b, const struct out *o)
{
	struct stun_msg m;
	const struct stun_attr *u;
	char user[128];
	int ul = snprintf(user, sizeof(user), "%s:%s", b->ufrag, b->ans_ufrag);

	return o != NULL && stun_parse(&m, o->buf, o->len) == 0 &&
	       m.method == STUN_BINDING && m.cls == STUN_REQUEST &&
	       (u = stun_find(&m, STUN_A_USERNAME)) != NULL &&
	       u->len == (uint16_t)ul && memcmp(u->val, user, (size_t)ul) == 0 &&
	       stun_check_integrity(&m, (const uint8_t *)b->pwd,
				    strlen(b->pwd)) == 1 &&
	       stun_check_fingerprint(&m) == 1 &&
	       stun_find(&m, STUN_A_ICE_CONTROLLED) != NULL &&
	       stun_find(&m, STUN_A_ICE_CONTROLLING) == NULL &&
	       stun_find(&m, STUN_A_PRIORITY) != NULL &&
	       stun_find(&m, STUN_A_USE_CANDIDATE) == NULL &&
	       sotto_addr_eq(&o->src, &gw_addr);
}

/* The browser answers the request with tid, from from to to; pwd the key
 * (the browser's own, unless a test says otherwise). */
static void
answer_tid(const uint8_t *tid, const struct sotto_addr *from,
	   const struct sotto_addr *to, const char *pwd, bool fingerprint,
	   bool error, uint64_t now)
{
	uint8_t buf[256];
	struct stun_builder sb;
	size_t n;

	stun_build(&sb, buf, sizeof(buf), STUN_BINDING,
		   error ? STUN_ERROR : STUN_SUCCESS, tid);
	if (error)
		stun_add_error(&sb, 487, "Role Conflict");
	else
		stun_add_xor_addr(&sb, STUN_A_XOR_MAPPED_ADDRESS, to);
	stun_add_integrity(&sb, (const uint8_t *)pwd, strlen(pwd));
	if (fingerprint)
		stun_add_fingerprint(&sb);
	n = stun_finish(&sb);
	gw_check(g, buf, n, from, to, 0, now);
}

static void
answer(const struct browser *b, const struct out *req, uint64_t now)
{
	answer_tid(req->tid, &req->dst, &req->src, b->pwd, true, false, now);
}

/* A DTLS 1.2 ClientHello (ECDHE-ECDSA AES-GCM, P-256, use_srtp with
 * SRTP_AEAD_AES_128_GCM and AES128_CM_SHA1_80): the gateway's DTLS server
 * answers it with its ServerHello flight. */
static size_t
client_hello(uint8_t *out)
{
	static const uint8_t ext[] = {
		0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x1d,
		0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
		0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04,
		0x04, 0x01,
		0x00, 0x0e, 0x00, 0x07, 0x00, 0x04, 0x00, 0x07, 0x00, 0x01,
		0x00,
		0x00, 0x17, 0x00, 0x00,
		0xff, 0x01, 0x00, 0x01, 0x00,
	};
	static const uint8_t suites[] = { 0xc0, 0x2b, 0xc0, 0x2c };
	uint8_t ch[512];
	size_t n = 0, h = 0;

	ch[n++] = 0xfe;
	ch[n++] = 0xfd;
	RAND_bytes(ch + n, 32);
	n += 32;
	ch[n++] = 0; /* session id */
	ch[n++] = 0; /* cookie */
	ch[n++] = 0;
	ch[n++] = sizeof(suites);
	memcpy(ch + n, suites, sizeof(suites));
	n += sizeof(suites);
	ch[n++] = 1;
	ch[n++] = 0; /* null compression */
	ch[n++] = 0;
	ch[n++] = sizeof(ext);
	memcpy(ch + n, ext, sizeof(ext));
	n += sizeof(ext);
	/* record header, then handshake header (type, length, seq, offset,
	 * fragment length) */
	uint8_t *r = out;
	r[h++] = 22;
	r[h++] = 0xfe;
	r[h++] = 0xff;
	memset(r + h, 0, 8); /* epoch, sequence */
	h += 8;
	size_t hl = 12 + n;
	r[h++] = (uint8_t)(hl >> 8);
	r[h++] = (uint8_t)hl;
	r[h++] = 1;
	r[h++] = 0;
	r[h++] = (uint8_t)(n >> 8);
	r[h++] = (uint8_t)n;
	r[h++] = 0;
	r[h++] = 0;
	r[h++] = 0;
	r[h++] = 0;
	r[h++] = 0;
	r[h++] = 0;
	r[h++] = (uint8_t)(n >> 8);
	r[h++] = (uint8_t)n;
	memcpy(r + h, ch, n);
	return h + n;
}

static void
hello_from(const struct sotto_addr *src, uint64_t now)
{
	uint8_t buf[600];
	size_t n = client_hello(buf);

	gw_dtls(g, buf, n, src, &gw_addr, now);
}

/* The keeper: a browser whose leg is up at kaddr while a test looks at
 * another leg. step() answers its consent checks, sends its own check
 * every second, and takes what goes to kaddr out of outs[]. */
static struct browser *kb;
static struct sotto_addr kaddr;
static unsigned k_requests;      /* consent checks the keeper answered */

/* gw_tick 10 ms on; what was sent is in outs[] (but the keeper's). */
static void
step(uint64_t *now)
{
	unsigned k = 0;

	*now += 10;
	gw_tick(g, *now);
	drain();
	if (kb == NULL)
		return;
	for (unsigned i = 0; i < n_outs; i++) {
		if (!sotto_addr_eq(&outs[i].dst, &kaddr)) {
			outs[k++] = outs[i];
			continue;
		}
		if (outs[i].kind == K_REQUEST) {
			answer(kb, &outs[i], *now);
			k_requests++;
		}
	}
	n_outs = k;
	if (*now % 1000 == 0) {
		check_from(kb, &kaddr, false, *now);
		struct out keep[MAX_OUT];
		unsigned n = n_outs;
		memcpy(keep, outs, n * sizeof(outs[0]));
		drain();
		memcpy(outs, keep, n * sizeof(outs[0]));
		n_outs = n;
	}
}

static void
run_to(uint64_t *now, uint64_t until)
{
	while (*now + 10 <= until)
		step(now);
}

/* ---- tests ---- */

/* Only the check's answer and our own check go to a new address; DTLS from
 * there waits for consent; answers that do not count, then one that does. */
static void
test_first_address(struct browser *b, struct sotto_addr *leg, uint64_t *now)
{
	struct sotto_addr A = addr(50001), A2 = addr(50002), X = addr(50009);
	uint64_t bad0 = CONSENT("bad_response"), ans0 = CONSENT("answered");
	uint64_t err0 = CONSENT("error"), unk0 = metric(
		"sotto_gateway_dtls_unknown_source_total");
	struct out req;

	CHECK(offer(b, "00000000000000a1", *now));
	drain();
	check_from(b, &A, false, *now);
	CHECK_EQ(drain(), 2);
	CHECK_EQ(count(&A, K_SUCCESS), 1);
	CHECK_EQ(count(&A, K_REQUEST), 1);
	CHECK(request_ok(b, find_out(&A, K_REQUEST)));
	if (find_out(&A, K_REQUEST) == NULL)
		exit(check_done("gw")); /* nothing below can work */
	req = *find_out(&A, K_REQUEST);

	/* DTLS before consent: nothing back; from nowhere: nothing */
	hello_from(&A, *now);
	hello_from(&X, *now);
	CHECK_EQ(drain(), 0);
	CHECK_EQ(metric("sotto_gateway_dtls_unknown_source_total"), unk0 + 1);

	/* answers that do not count */
	uint8_t other_tid[STUN_TID_LEN];
	RAND_bytes(other_tid, sizeof(other_tid));
	answer_tid(other_tid, &A, &gw_addr, b->pwd, true, false, *now);
	answer_tid(req.tid, &A2, &gw_addr, b->pwd, true, false, *now);
	answer_tid(req.tid, &A, &gw_other, b->pwd, true, false, *now);
	answer_tid(req.tid, &A, &gw_addr, b->ans_pwd, true, false, *now);
	answer_tid(req.tid, &A, &gw_addr, b->pwd, false, false, *now);
	CHECK_EQ(drain(), 0);
	CHECK_EQ(CONSENT("bad_response"), bad0 + 5);
	CHECK_EQ(CONSENT("answered"), ans0);
	CHECK_EQ(CONSENT("error"), err0);

	/* the right one: consent, and the held ClientHello is read */
	*now += 20;
	answer(b, &req, *now);
	drain();
	CHECK_EQ(CONSENT("answered"), ans0 + 1);
	CHECK(count(&A, K_DTLS) >= 1);
	CHECK_EQ(n_outs, count(&A, K_DTLS));
	CHECK(n_outs > 0 && outs[0].buf[0] == 22);
	/* the same answer again changes nothing */
	answer(b, &req, *now);
	CHECK_EQ(drain(), 0);
	/* the leg's address now: a check is answered, no probe */
	check_from(b, &A, false, *now);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(count(&A, K_SUCCESS), 1);
	*leg = A;
}

/* The probe's pace, its end, and an error response. */
static void
test_probe_pace(uint64_t *now)
{
	struct browser b;
	struct sotto_addr B = addr(50101);
	uint64_t t0, sent0 = CONSENT("sent"), to0 = CONSENT("timeout");
	unsigned k0 = k_requests;
	uint64_t times[16];
	uint8_t tid[STUN_TID_LEN];
	unsigned n = 0;

	CHECK(offer(&b, "00000000000000b1", *now));
	drain();
	t0 = *now;
	check_from(&b, &B, false, *now);
	drain();
	CHECK_EQ(count(&B, K_REQUEST), 1);
	memcpy(tid, find_out(&B, K_REQUEST)->tid, STUN_TID_LEN);
	times[n++] = *now;
	hello_from(&B, *now);
	while (*now < t0 + 8000) {
		step(now);
		for (unsigned i = 0; i < n_outs; i++) {
			CHECK(outs[i].kind == K_REQUEST);
			CHECK(sotto_addr_eq(&outs[i].dst, &B));
			CHECK_MEM(outs[i].tid, tid, STUN_TID_LEN);
			if (n < 16)
				times[n++] = *now;
		}
	}
	/* RTO 50 ms, doubling to 1.6 s; on a 10 ms tick here */
	static const uint64_t gap[] = { 50, 100, 200, 400, 800, 1600, 1600 };
	CHECK_EQ(n, 8);
	for (unsigned i = 0; i + 1 < n && i < 7; i++) {
		CHECK(times[i + 1] - times[i] >= gap[i]);
		CHECK(times[i + 1] - times[i] <= gap[i] + 10);
	}
	CHECK_EQ(CONSENT("sent"), sent0 + 8 + (k_requests - k0));
	CHECK_EQ(CONSENT("timeout"), to0 + 1);
	/* given up: the held ClientHello is gone, a late answer counts for
	 * nothing, DTLS from there is from nobody */
	struct out late = { .dst = B, .src = gw_addr };
	memcpy(late.tid, tid, STUN_TID_LEN);
	answer(&b, &late, *now);
	hello_from(&B, *now);
	CHECK_EQ(drain(), 0);

	/* a new check there: a new probe, a new transaction; an error
	 * response ends it */
	check_from(&b, &B, false, *now);
	drain();
	const struct out *r = find_out(&B, K_REQUEST);
	CHECK(r != NULL && memcmp(r->tid, tid, STUN_TID_LEN) != 0);
	uint64_t err0 = CONSENT("error");
	if (r != NULL)
		answer_tid(r->tid, &B, &gw_addr, b.pwd, true, true, *now);
	CHECK_EQ(CONSENT("error"), err0 + 1);
	run_to(now, *now + 500);
	CHECK_EQ(drain(), 0); /* no resend after the error */
	gw_leave(g, room, b.peer);
}

/* A move only once the new address answers; never to one that does not;
 * at most once a second. */
static void
test_move(struct browser *b, struct sotto_addr *leg, uint64_t *now)
{
	struct sotto_addr C = addr(50201), D = addr(50202), E = addr(50203);
	uint64_t moves0 = MOVES();

	/* without USE-CANDIDATE: answered, nothing else */
	check_from(b, &C, false, *now);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(count(&C, K_SUCCESS), 1);

	/* D never answers: the leg stays */
	check_from(b, &D, true, *now);
	drain();
	CHECK_EQ(count(&D, K_REQUEST), 1);
	CHECK_EQ(MOVES(), moves0);
	hello_from(&D, *now);
	uint64_t until = *now + 7000;
	unsigned to_d = 0, other = 0;
	while (*now < until) {
		step(now);
		to_d += count(&D, K_DTLS) + count(&D, K_OTHER) + count(&D, K_SUCCESS);
		other += n_outs - count(&D, K_REQUEST);
	}
	CHECK_EQ(to_d, 0);
	CHECK_EQ(other, 0);
	CHECK_EQ(MOVES(), moves0);

	/* C answers: the leg moves there, and only then */
	check_from(b, &C, true, *now);
	drain();
	const struct out *r = find_out(&C, K_REQUEST);
	CHECK(request_ok(b, r));
	CHECK_EQ(MOVES(), moves0);
	struct out req = *r;
	*now += 10;
	answer(b, &req, *now);
	CHECK_EQ(MOVES(), moves0 + 1);
	uint64_t moved = *now;
	kaddr = C;
	/* the old address is a stranger now; E within a second: no probe */
	uint64_t other0 = ICE("other_pair");
	check_from(b, leg, false, *now);
	drain();
	CHECK_EQ(count(leg, K_SUCCESS), 1);
	CHECK_EQ(n_outs, 1);
	run_to(now, moved + 500);
	check_from(b, &E, true, *now);
	drain();
	CHECK_EQ(count(&E, K_SUCCESS), 1);
	CHECK_EQ(count(&E, K_REQUEST), 0);
	CHECK_EQ(ICE("other_pair"), other0 + 2);
	/* a second on, E is probed (and never answers: the leg stays) */
	run_to(now, moved + 1010);
	check_from(b, &E, true, *now);
	drain();
	CHECK_EQ(count(&E, K_REQUEST), 1);
	run_to(now, *now + 7000);
	CHECK_EQ(MOVES(), moves0 + 1);
	*leg = C;
}

/* Consent checks every 4 to 6 s, each a new transaction; answered, the leg
 * stays; unanswered, it ends consent_timeout after the last answered one
 * went out, and nothing goes there after. The browser's checks are still
 * needed. */
static void
test_freshness(struct browser *b, struct sotto_addr *leg, uint64_t *now)
{
	uint64_t t0 = *now, last_answered = 0, mute = t0 + 15000, ended_at = 0;
	uint64_t prev = 0, to0 = CONSENT("timeout");
	uint8_t tids[64][STUN_TID_LEN];
	unsigned n = 0, after = 0, bad_gap = 0, unanswered = 0;

	ended_reason = NULL;
	kb = NULL;
	drain();
	while (*now < t0 + 60000) {
		step(now);
		if (ended_reason != NULL && ended_at == 0)
			ended_at = *now;
		for (unsigned i = 0; i < n_outs; i++) {
			if (ended_at != 0) {
				after++;
				continue;
			}
			if (outs[i].kind != K_REQUEST ||
			    !sotto_addr_eq(&outs[i].dst, leg))
				continue;
			CHECK(request_ok(b, &outs[i]));
			if (prev != 0 && (*now - prev < 4000 || *now - prev > 6010))
				bad_gap++;
			prev = *now;
			for (unsigned k = 0; k < n && k < 64; k++)
				CHECK(memcmp(tids[k], outs[i].tid, STUN_TID_LEN) != 0);
			if (n < 64)
				memcpy(tids[n++], outs[i].tid, STUN_TID_LEN);
			if (*now < mute) {
				answer(b, &outs[i], *now);
				last_answered = *now;
			} else {
				unanswered++;
			}
		}
		/* the browser's own checks, every 5 s, to the end */
		if (ended_at == 0 && (*now - t0) % 5000 == 0)
			check_from(b, leg, false, *now);
	}
	CHECK_EQ(bad_gap, 0);
	CHECK(n >= 5);
	CHECK(last_answered > 0);
	CHECK(ended_reason != NULL && strcmp(ended_reason, "consent_lost") == 0);
	CHECK(strcmp(ended_peer, b->peer) == 0);
	/* the tick is 10 ms here */
	CHECK(ended_at >= last_answered + 30000);
	CHECK(ended_at <= last_answered + 30010);
	CHECK_EQ(after, 0);
	CHECK(unanswered >= 4);
	CHECK_EQ(CONSENT("timeout"), to0 + unanswered);
}

/* The browser's own checks are still needed: a leg that answers every
 * consent check but sends none of its own ends consent_timeout after its
 * last. */
static void
test_inbound(uint64_t *now)
{
	struct browser b;
	struct sotto_addr F = addr(50301);
	uint64_t t_check, ended_at = 0, lost0 = ENDED("consent_lost");

	CHECK(offer(&b, "00000000000000c1", *now));
	drain();
	t_check = *now;
	check_from(&b, &F, false, *now);
	drain();
	const struct out *r = find_out(&F, K_REQUEST);
	CHECK(r != NULL);
	if (r != NULL) {
		struct out req = *r;
		answer(&b, &req, *now);
	}
	ended_reason = NULL;
	while (*now < t_check + 40000 && ended_at == 0) {
		step(now);
		for (unsigned i = 0; i < n_outs; i++)
			if (outs[i].kind == K_REQUEST)
				answer(&b, &outs[i], *now);
		if (ended_reason != NULL)
			ended_at = *now;
	}
	CHECK(ended_reason != NULL && strcmp(ended_reason, "consent_lost") == 0);
	CHECK(ended_at >= t_check + 30000 && ended_at <= t_check + 30010);
	CHECK_EQ(ENDED("consent_lost"), lost0 + 1);
}

int
main(void)
{
	struct gw_hooks hooks = { .leg_ended = on_leg_ended, .sig = NULL };
	struct browser b;
	struct sotto_addr leg;
	uint64_t now = 1000000;

	CHECK(test_eal_init() == 0);
	dp.pool = rte_pktmbuf_pool_create("gwt_pool", 4095, 0, DP_MBUF_PRIV_SIZE,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	CHECK(dp.pool != NULL);
	CHECK_EQ(dp_tables_init(&dp.tables, 64, 1), 0);
	dp.n_workers = 1;
	dp.workers = &worker;
	worker.dp = &dp;
	worker.wake_fd = eventfd(0, EFD_NONBLOCK);
	worker.tx_ring = rte_ring_create("gwt_tx", 1024, SOCKET_ID_ANY,
					 RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(worker.tx_ring != NULL);
	rte_rcu_qsbr_thread_register(dp.tables.qsv, 0);

	config_defaults(&cfg);
	gw_addr = addr(GW_PORT);
	gw_other = addr(GW_PORT + 1);
	cfg.gateway.listen[0] = gw_addr;
	cfg.gateway.n_listen = 1;
	cfg.gateway.consent_timeout = 30;
	/* the first leg stays unfinished (no DTLS client) through the tests */
	cfg.gateway.handshake_timeout = 120;
	g = gw_new(&cfg, &dp);
	CHECK(g != NULL);
	if (g == NULL)
		return check_done("gw");
	gw_set_hooks(g, &hooks);
	room = gw_room_new(g, "0123456789abcdef0123456789abcdef");
	CHECK(room != NULL);

	test_first_address(&b, &leg, &now);
	kb = &b;
	kaddr = leg;
	test_probe_pace(&now);
	test_move(&b, &leg, &now);
	test_freshness(&b, &leg, &now);
	test_inbound(&now);

	gw_room_free(g, room);
	gw_free(g);
	drain();
	dp_gw_fini(&dp);
	dp_tables_fini(&dp.tables);
	return check_done("gw");
}
