/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DTLS-SRTP server legs (control/gateway/dtls.c) against OpenSSL's own DTLS client,
 * both in this process: the client on a datagram-keeping BIO of its own,
 * datagrams carried between the two by hand, so a test can drop, reorder,
 * re-fragment or stop them. No sockets.
 *
 * The expected SRTP keys come from the client's own
 * SSL_export_keying_material, split here per RFC 5764 §4.2, not through
 * dtls.c.
 */
#include <errno.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>

#include "check.h"
#include "dtls.h"

#define QMAX 64
#define DGRAM_MAX 2048

struct dgram {
	uint8_t b[DGRAM_MAX];
	size_t len;
};

struct queue {
	struct dgram d[QMAX];
	unsigned head, n;
};

static size_t max_server_dgram; /* the largest datagram any leg emitted */
static struct dtls_ctx *certs;   /* makes every certificate in the tests */

static void
q_push(struct queue *q, const uint8_t *p, size_t len)
{
	CHECK(q->n < QMAX);
	CHECK(len <= DGRAM_MAX);
	if (q->n >= QMAX || len > DGRAM_MAX)
		return;
	struct dgram *d = &q->d[(q->head + q->n) % QMAX];
	memcpy(d->b, p, len);
	d->len = len;
	q->n++;
}

static struct dgram *
q_pop(struct queue *q)
{
	struct dgram *d;

	if (q->n == 0)
		return NULL;
	d = &q->d[q->head];
	q->head = (q->head + 1) % QMAX;
	q->n--;
	return d;
}

static void
emit_to_queue(void *arg, const uint8_t *p, size_t len)
{
	if (len > max_server_dgram)
		max_server_dgram = len;
	q_push(arg, p, len);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the client: OpenSSL's DTLS client over two queues ---------------- */

struct client {
	SSL_CTX *ctx;
	SSL *ssl;
	struct dtls_cert cert;
	struct queue in;  /* datagrams for the client */
	struct queue out; /* datagrams the client wrote */
	bool failed;
};

struct client_opts {
	const char *srtp;    /* use_srtp profiles; NULL: no use_srtp */
	const char *ciphers; /* NULL: OpenSSL's default list */
	const char *groups;  /* NULL: OpenSSL's default */
	bool no_cert;
	int max_version;     /* 0: DTLS 1.2 */
	unsigned mtu;        /* 0: 1200 */
	unsigned rto_us;     /* client retransmission; 0: OpenSSL's 1 s */
};

static BIO_METHOD *client_meth;

static int
cbio_write(BIO *b, const char *p, int len)
{
	struct client *c = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	q_push(&c->out, (const uint8_t *)p, (size_t)len);
	return len;
}

static int
cbio_read(BIO *b, char *p, int size)
{
	struct client *c = BIO_get_data(b);
	struct dgram *d = q_pop(&c->in);

	BIO_clear_retry_flags(b);
	if (d == NULL) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (d->len < (size_t)size)
		size = (int)d->len;
	memcpy(p, d->b, (size_t)size);
	return size;
}

static long
cbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
accept_any_cert(int ok, X509_STORE_CTX *xs)
{
	(void)ok;
	(void)xs;
	return 1; /* the test compares the fingerprint itself */
}

static unsigned rto_us_for_client;

static unsigned int
client_timer_cb(SSL *s, unsigned int timer_us)
{
	(void)s;
	(void)timer_us;
	return rto_us_for_client;
}

static void
client_init(struct client *c, const struct client_opts *o)
{
	BIO *b;

	memset(c, 0, sizeof(*c));
	c->ctx = SSL_CTX_new(DTLS_client_method());
	CHECK(c->ctx != NULL);
	SSL_CTX_set_min_proto_version(c->ctx, o->max_version ? o->max_version
							    : DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c->ctx, o->max_version ? o->max_version
							    : DTLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, accept_any_cert);
	if (o->srtp != NULL)
		CHECK_EQ(SSL_CTX_set_tlsext_use_srtp(c->ctx, o->srtp), 0);
	if (o->ciphers != NULL)
		CHECK_EQ(SSL_CTX_set_cipher_list(c->ctx, o->ciphers), 1);
	if (o->groups != NULL)
		CHECK_EQ(SSL_CTX_set1_groups_list(c->ctx, o->groups), 1);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_QUERY_MTU);
	CHECK_EQ(dtls_cert_new(certs, &c->cert), 0);
	if (!o->no_cert) {
		CHECK_EQ(SSL_CTX_use_certificate(c->ctx, c->cert.x509), 1);
		CHECK_EQ(SSL_CTX_use_PrivateKey(c->ctx, c->cert.key), 1);
	}
	c->ssl = SSL_new(c->ctx);
	b = BIO_new(client_meth);
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	SSL_set_bio(c->ssl, b, b);
	SSL_set_mtu(c->ssl, o->mtu ? o->mtu : 1200);
	if (o->rto_us) {
		rto_us_for_client = o->rto_us;
		DTLS_set_timer_cb(c->ssl, client_timer_cb);
	}
	SSL_set_connect_state(c->ssl);
}

static void
client_free(struct client *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	dtls_cert_free(&c->cert);
}

static bool
client_done(const struct client *c)
{
	return SSL_is_init_finished(c->ssl);
}

/* Lets the client read what it was sent and write what it has to. */
static void
client_step(struct client *c)
{
	int r;

	if (c->failed)
		return;
	ERR_clear_error();
	if (!client_done(c)) {
		r = SSL_do_handshake(c->ssl);
	} else {
		char buf[2048];

		r = SSL_read(c->ssl, buf, sizeof(buf));
	}
	if (r <= 0) {
		int e = SSL_get_error(c->ssl, r);

		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			c->failed = true;
	}
	ERR_clear_error();
}

/* ---- a client and a leg, and the datagrams between them --------------- */

struct session {
	struct dtls_ctx *ctx;
	struct dtls_leg *leg;
	struct client c;
	char leg_fp[DTLS_FP_STR_LEN]; /* the leg's fingerprint, as in the SDP */
	struct queue srv_out;
	enum dtls_status st;
	uint64_t now;
	unsigned srv_dgrams;  /* emitted by the leg */
	/* drop the server datagrams numbered [drop_from, drop_to) */
	unsigned drop_from, drop_to;
};

static void
session_init(struct session *s, struct dtls_ctx *ctx,
	     const struct client_opts *o, const char *fp_override,
	     struct dtls_keybuf *kb)
{
	struct dtls_cert cert;

	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->now = mono_ms();
	client_init(&s->c, o);
	CHECK_EQ(dtls_cert_new(certs, &cert), 0);
	memcpy(s->leg_fp, cert.fingerprint, sizeof(s->leg_fp));
	s->leg = dtls_leg_new(ctx, &cert,
			      fp_override ? fp_override : s->c.cert.fingerprint,
			      kb, s->now);
	CHECK(s->leg != NULL);
	/* ownership moved to the leg */
	CHECK(cert.key == NULL && cert.x509 == NULL);
	s->st = DTLS_CONTINUE;
}

static void
session_free(struct session *s)
{
	dtls_leg_free(s->leg);
	client_free(&s->c);
}

static void
deliver_server_output(struct session *s)
{
	struct dgram *d;

	while ((d = q_pop(&s->srv_out)) != NULL) {
		unsigned i = s->srv_dgrams++;

		if (i >= s->drop_from && i < s->drop_to)
			continue;
		q_push(&s->c.in, d->b, d->len);
	}
}

/* One round: the client speaks, the leg answers. false if nothing moved. */
static bool
session_round(struct session *s)
{
	struct dgram *d;
	bool moved = false;

	client_step(&s->c);
	while ((d = q_pop(&s->c.out)) != NULL) {
		s->st = dtls_leg_input(s->leg, d->b, d->len, s->now,
				       emit_to_queue, &s->srv_out);
		moved = true;
	}
	if (s->srv_out.n > 0)
		moved = true;
	deliver_server_output(s);
	return moved;
}

static void
session_run(struct session *s)
{
	for (int i = 0; i < 20 && !s->c.failed; i++) {
		bool moved = session_round(s);

		if (!moved && (client_done(&s->c) || s->st != DTLS_CONTINUE))
			break;
	}
	client_step(&s->c); /* read the server's last flight */
}

static size_t
salt_len_for(int profile)
{
	return profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
}

/* The client's own export, split per RFC 5764 §4.2, equals the leg's. */
static void
check_keys(struct session *s, int want_profile)
{
	struct dtls_srtp_keys k;
	uint8_t exp[60], ck[30], sk[30];
	const SRTP_PROTECTION_PROFILE *cp;
	size_t sl = salt_len_for(want_profile);

	CHECK_EQ(dtls_leg_srtp_keys(s->leg, &k), 0);
	CHECK_EQ(k.profile, want_profile);
	CHECK_EQ(k.key_len, 16);
	CHECK_EQ(k.salt_len, sl);
	cp = SSL_get_selected_srtp_profile(s->c.ssl);
	CHECK(cp != NULL);
	if (cp != NULL)
		CHECK_EQ(cp->id, want_profile);
	CHECK_EQ(SSL_export_keying_material(s->c.ssl, exp, 2 * (16 + sl),
					    "EXTRACTOR-dtls_srtp", 19, NULL, 0,
					    0), 1);
	memcpy(ck, exp, 16);
	memcpy(sk, exp + 16, 16);
	memcpy(ck + 16, exp + 32, sl);
	memcpy(sk + 16, exp + 32 + sl, sl);
	CHECK_MEM(k.remote, ck, 16 + sl);
	CHECK_MEM(k.local, sk, 16 + sl);
	CHECK(memcmp(k.local, k.remote, 16) != 0);
}

/* The server certificate the client saw is the one the "SDP" named. */
static void
check_server_fingerprint(struct session *s)
{
	X509 *peer = SSL_get0_peer_certificate(s->c.ssl);
	uint8_t md[32], want[32];
	unsigned mdlen = 0;

	CHECK(peer != NULL);
	if (peer == NULL)
		return;
	CHECK_EQ(X509_digest(peer, EVP_sha256(), md, &mdlen), 1);
	CHECK_EQ(dtls_fingerprint_parse(s->leg_fp, want), 0);
	CHECK_MEM(md, want, sizeof(md));
}

static void
check_failed(struct session *s, enum dtls_fail why, const char *text)
{
	CHECK_EQ(s->st, DTLS_FAILED);
	CHECK_EQ(dtls_leg_status(s->leg), DTLS_FAILED);
	CHECK_EQ(dtls_leg_fail_reason(s->leg), why);
	CHECK(dtls_leg_error(s->leg) != NULL &&
	      strcmp(dtls_leg_error(s->leg), text) == 0);
	CHECK(!client_done(&s->c));
	CHECK_EQ(dtls_leg_deadline(s->leg), UINT64_MAX);
	/* nothing more happens on a failed leg */
	CHECK_EQ(dtls_leg_input(s->leg, (const uint8_t *)"\x16", 1, s->now,
				emit_to_queue, &s->srv_out), DTLS_FAILED);
	CHECK_EQ(s->srv_out.n, 0);
}

/* ---- the tests ------------------------------------------------------- */

static void
test_parsers(void)
{
	uint8_t fp[32];
	static const char good[] =
		"AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:"
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
	char buf[160];

	CHECK_EQ(dtls_fingerprint_parse(good, fp), 0);
	CHECK_EQ(fp[0], 0xab);
	CHECK_EQ(fp[8], 0xab);
	CHECK_EQ(fp[31], 0xff);
	snprintf(buf, sizeof(buf), "sha-256 %s", good);
	CHECK_EQ(dtls_fingerprint_parse(buf, fp), 0);
	snprintf(buf, sizeof(buf), "SHA-256 %s", good);
	CHECK_EQ(dtls_fingerprint_parse(buf, fp), 0);
	snprintf(buf, sizeof(buf), "sha-1 %s", good);
	CHECK_EQ(dtls_fingerprint_parse(buf, fp), -EINVAL);
	snprintf(buf, sizeof(buf), "%s:00", good);        /* 33 bytes */
	CHECK_EQ(dtls_fingerprint_parse(buf, fp), -EINVAL);
	CHECK_EQ(dtls_fingerprint_parse(good + 3, fp), -EINVAL); /* 31 */
	snprintf(buf, sizeof(buf), "%s", good);
	buf[4] = 'G';
	CHECK_EQ(dtls_fingerprint_parse(buf, fp), -EINVAL);
	buf[4] = 'D';
	buf[5] = '-';
	CHECK_EQ(dtls_fingerprint_parse(buf, fp), -EINVAL);
	CHECK_EQ(dtls_fingerprint_parse("", fp), -EINVAL);
	CHECK_EQ(dtls_fingerprint_parse(NULL, fp), -EINVAL);

	/* use_srtp bodies: profiles<2..>, mki<0..255> */
	static const uint8_t gcm_second[] = { 0, 4, 0, 1, 0, 7, 0 };
	static const uint8_t cm80[] = { 0, 4, 0, 2, 0, 1, 0 };
	static const uint8_t cm32_only[] = { 0, 2, 0, 2, 0 };
	static const uint8_t gcm256_and_null[] = { 0, 6, 0, 8, 0, 5, 0, 6, 0 };
	static const uint8_t with_mki[] = { 0, 2, 0, 7, 2, 0xaa, 0xbb };
	static const uint8_t odd[] = { 0, 3, 0, 7, 0, 0 };
	static const uint8_t short_mki[] = { 0, 2, 0, 7, 2, 0xaa };
	static const uint8_t trailing[] = { 0, 2, 0, 7, 0, 0 };
	static const uint8_t empty_list[] = { 0, 0, 0 };

	CHECK_EQ(dtls_srtp_offer_pick(gcm_second, sizeof(gcm_second)),
		 DTLS_SRTP_AEAD_AES_128_GCM);
	CHECK_EQ(dtls_srtp_offer_pick(cm80, sizeof(cm80)),
		 DTLS_SRTP_AES128_CM_SHA1_80);
	CHECK_EQ(dtls_srtp_offer_pick(cm32_only, sizeof(cm32_only)), 0);
	CHECK_EQ(dtls_srtp_offer_pick(gcm256_and_null,
				      sizeof(gcm256_and_null)), 0);
	CHECK_EQ(dtls_srtp_offer_pick(with_mki, sizeof(with_mki)),
		 DTLS_SRTP_AEAD_AES_128_GCM);
	CHECK_EQ(dtls_srtp_offer_pick(odd, sizeof(odd)), -EINVAL);
	CHECK_EQ(dtls_srtp_offer_pick(short_mki, sizeof(short_mki)), -EINVAL);
	CHECK_EQ(dtls_srtp_offer_pick(trailing, sizeof(trailing)), -EINVAL);
	CHECK_EQ(dtls_srtp_offer_pick(empty_list, sizeof(empty_list)), -EINVAL);
	CHECK_EQ(dtls_srtp_offer_pick(gcm_second, 1), -EINVAL);

	CHECK(strcmp(dtls_fail_label(DTLS_FAIL_FINGERPRINT),
		     "fingerprint_mismatch") == 0);
	CHECK(strcmp(dtls_fail_label(DTLS_FAIL_NONE), "none") == 0);
}

static void
test_cert(void)
{
	struct dtls_cert a, b;
	uint8_t md[32], fp[32];
	unsigned mdlen = 0;

	CHECK_EQ(dtls_cert_new(certs, &a), 0);
	CHECK_EQ(dtls_cert_new(certs, &b), 0);
	CHECK_EQ(strlen(a.fingerprint), 95);
	CHECK(strcmp(a.fingerprint, b.fingerprint) != 0);
	CHECK_EQ(X509_digest(a.x509, EVP_sha256(), md, &mdlen), 1);
	CHECK_EQ(dtls_fingerprint_parse(a.fingerprint, fp), 0);
	CHECK_MEM(md, fp, 32);
	/* self-signed by its own P-256 key, a v3 certificate */
	CHECK_EQ(X509_verify(a.x509, a.key), 1);
	CHECK_EQ(X509_get_version(a.x509), X509_VERSION_3);
	CHECK_EQ(EVP_PKEY_get_id(a.key), EVP_PKEY_EC);
	CHECK_EQ(EVP_PKEY_get_bits(a.key), 256);
	CHECK(X509_NAME_cmp(X509_get_subject_name(a.x509),
			    X509_get_subject_name(b.x509)) != 0);
	CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.x509),
			       X509_get0_serialNumber(b.x509)) != 0);
	CHECK(X509_cmp_current_time(X509_get0_notBefore(a.x509)) < 0);
	CHECK(X509_cmp_current_time(X509_get0_notAfter(a.x509)) > 0);
	dtls_cert_free(&a);
	dtls_cert_free(&b);
	CHECK(a.key == NULL && a.x509 == NULL);
	dtls_cert_free(&a); /* twice is fine */
}

/* A full handshake; profile and keys per the client's offer. */
static void
handshake_ok(struct dtls_ctx *ctx, const char *offer, int want_profile,
	     const char *ciphers)
{
	struct session s;
	struct client_opts o = { .srtp = offer, .ciphers = ciphers };
	struct dtls_stats before, after;

	dtls_ctx_get_stats(ctx, &before);
	session_init(&s, ctx, &o, NULL, NULL);
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	CHECK(client_done(&s.c));
	CHECK(!s.c.failed);
	CHECK(dtls_leg_error(s.leg) == NULL);
	CHECK_EQ(dtls_leg_deadline(s.leg), UINT64_MAX);
	CHECK_EQ(SSL_version(s.c.ssl), DTLS1_2_VERSION);
	check_keys(&s, want_profile);
	check_server_fingerprint(&s);
	CHECK(dtls_leg_cipher(s.leg) != NULL &&
	      strcmp(dtls_leg_cipher(s.leg),
		     SSL_get_cipher_name(s.c.ssl)) == 0);
	dtls_ctx_get_stats(ctx, &after);
	CHECK_EQ(after.handshakes_done, before.handshakes_done + 1);
	CHECK_EQ(after.legs_current, before.legs_current + 1);
	session_free(&s);
	dtls_ctx_get_stats(ctx, &after);
	CHECK_EQ(after.legs_current, before.legs_current);
}

static void
test_handshake(struct dtls_ctx *ctx)
{
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM" };

	max_server_dgram = 0;
	/* GCM wins whether the client lists it first or second */
	handshake_ok(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
		     DTLS_SRTP_AEAD_AES_128_GCM, NULL);
	handshake_ok(ctx, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
		     DTLS_SRTP_AEAD_AES_128_GCM, NULL);
	handshake_ok(ctx, "SRTP_AES128_CM_SHA1_32:SRTP_AES128_CM_SHA1_80",
		     DTLS_SRTP_AES128_CM_SHA1_80, NULL);
	handshake_ok(ctx, "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM",
		     DTLS_SRTP_AEAD_AES_128_GCM, NULL);
	/* each AEAD suite on its own */
	handshake_ok(ctx, "SRTP_AEAD_AES_128_GCM", DTLS_SRTP_AEAD_AES_128_GCM,
		     "ECDHE-ECDSA-AES256-GCM-SHA384");
	handshake_ok(ctx, "SRTP_AEAD_AES_128_GCM", DTLS_SRTP_AEAD_AES_128_GCM,
		     "ECDHE-ECDSA-CHACHA20-POLY1305");
	CHECK(max_server_dgram > 0 && max_server_dgram <= DTLS_MTU);

	/* the negotiated suite and group by default: ECDHE-ECDSA, AES-GCM */
	session_init(&s, ctx, &o, NULL, NULL);
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	CHECK(strcmp(dtls_leg_cipher(s.leg),
		     "ECDHE-ECDSA-AES128-GCM-SHA256") == 0);
	/* a second call after DONE with nothing new changes nothing */
	CHECK_EQ(dtls_leg_timeout(s.leg, s.now + 100000, emit_to_queue,
				  &s.srv_out), DTLS_DONE);
	CHECK_EQ(s.srv_out.n, 0);
	/* the client's close_notify is not read (OpenSSL's state is gone):
	 * the leg stays up until signaling or ICE consent ends it */
	struct dtls_stats before, after;
	dtls_ctx_get_stats(ctx, &before);
	SSL_shutdown(s.c.ssl);
	struct dgram *d = q_pop(&s.c.out);
	CHECK(d != NULL);
	if (d != NULL)
		CHECK_EQ(dtls_leg_input(s.leg, d->b, d->len, s.now,
					emit_to_queue, &s.srv_out),
			 DTLS_DONE);
	CHECK_EQ(s.srv_out.n, 0);
	dtls_ctx_get_stats(ctx, &after);
	CHECK_EQ(after.records_ignored, before.records_ignored + 1);
	session_free(&s);

	/* our close_notify, made at the end of the handshake, is one the
	 * client accepts */
	session_init(&s, ctx, &o, NULL, NULL);
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	dtls_leg_shutdown(s.leg, emit_to_queue, &s.srv_out);
	CHECK_EQ(dtls_leg_status(s.leg), DTLS_CLOSED);
	CHECK_EQ(s.srv_out.n, 1);
	CHECK_EQ(dtls_leg_srtp_keys(s.leg, &(struct dtls_srtp_keys){ 0 }),
		 -EAGAIN);
	deliver_server_output(&s);
	char buf[64];
	ERR_clear_error();
	CHECK_EQ(SSL_read(s.c.ssl, buf, sizeof(buf)), 0);
	CHECK_EQ(SSL_get_error(s.c.ssl, 0), SSL_ERROR_ZERO_RETURN);
	/* once only */
	dtls_leg_shutdown(s.leg, emit_to_queue, &s.srv_out);
	CHECK_EQ(s.srv_out.n, 0);
	session_free(&s);
}

/* A client MTU of 256 and a P-256 ECDHE group; then a leg MTU of 300,
 * which cuts the server's flight into several datagrams: fragments both
 * ways, each datagram within its MTU. */
static void
test_small_mtu(struct dtls_ctx *ctx)
{
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AES128_CM_SHA1_80",
				 .mtu = 256, .groups = "P-256" };
	struct dtls_ctx_params p = { .mtu = 300 };
	struct dtls_ctx *small;
	unsigned first_flight;

	max_server_dgram = 0;
	session_init(&s, ctx, &o, NULL, NULL);
	session_round(&s);
	first_flight = s.srv_dgrams;
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	check_keys(&s, DTLS_SRTP_AES128_CM_SHA1_80);
	CHECK(max_server_dgram <= DTLS_MTU);
	fprintf(stderr, "mtu %d: first flight %u datagram(s), largest %zu "
		"bytes\n", DTLS_MTU, first_flight, max_server_dgram);
	session_free(&s);

	small = dtls_ctx_new(&p);
	CHECK(small != NULL);
	if (small == NULL)
		return;
	max_server_dgram = 0;
	o.mtu = 0;
	session_init(&s, small, &o, NULL, NULL);
	session_round(&s);
	first_flight = s.srv_dgrams;
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	check_keys(&s, DTLS_SRTP_AES128_CM_SHA1_80);
	CHECK(first_flight >= 3);
	CHECK(max_server_dgram <= 300);
	CHECK(max_server_dgram > 200); /* records are packed up to the MTU */
	fprintf(stderr, "mtu 300: first flight %u datagrams, largest %zu "
		"bytes\n", first_flight, max_server_dgram);
	session_free(&s);
	dtls_ctx_free(small);
}

static void
fail_case(struct dtls_ctx *ctx, const struct client_opts *o,
	  const char *fp_override, enum dtls_fail why, const char *text)
{
	struct session s;
	struct dtls_stats before, after;

	dtls_ctx_get_stats(ctx, &before);
	session_init(&s, ctx, o, fp_override, NULL);
	session_run(&s);
	check_failed(&s, why, text);
	CHECK(s.c.failed); /* the client got an alert, not silence */
	dtls_ctx_get_stats(ctx, &after);
	CHECK_EQ(after.failed[why], before.failed[why] + 1);
	CHECK_EQ(after.handshakes_done, before.handshakes_done);
	session_free(&s);
}

static void
test_refusals(struct dtls_ctx *ctx)
{
	struct client_opts o = { 0 };
	struct dtls_cert other;

	/* SRTP: only profiles sotto does not take, or no use_srtp at all
	 * (OpenSSL cannot offer the NULL profiles: it has none) */
	o.srtp = "SRTP_AES128_CM_SHA1_32";
	fail_case(ctx, &o, NULL, DTLS_FAIL_NO_SRTP,
		  "no acceptable SRTP profile");
	o.srtp = "SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_32";
	fail_case(ctx, &o, NULL, DTLS_FAIL_NO_SRTP,
		  "no acceptable SRTP profile");
	o.srtp = NULL;
	fail_case(ctx, &o, NULL, DTLS_FAIL_NO_SRTP,
		  "no acceptable SRTP profile");

	/* record ciphers: CBC, or no ECDHE */
	o.srtp = "SRTP_AEAD_AES_128_GCM";
	o.ciphers = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384";
	fail_case(ctx, &o, NULL, DTLS_FAIL_NO_CIPHER, "no shared cipher");
	o.ciphers = "AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256";
	fail_case(ctx, &o, NULL, DTLS_FAIL_NO_CIPHER, "no shared cipher");
	o.ciphers = NULL;

	/* DTLS 1.0 (and its CBC suites, which it can use) */
	o.max_version = DTLS1_VERSION;
	o.ciphers = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-GCM-SHA256";
	fail_case(ctx, &o, NULL, DTLS_FAIL_VERSION, "no shared DTLS version");
	o.max_version = 0;
	o.ciphers = NULL;

	/* the certificate the client shows is not the one in its SDP */
	CHECK_EQ(dtls_cert_new(certs, &other), 0);
	fail_case(ctx, &o, other.fingerprint, DTLS_FAIL_FINGERPRINT,
		  "fingerprint mismatch");
	dtls_cert_free(&other);

	/* no certificate at all */
	o.no_cert = true;
	fail_case(ctx, &o, NULL, DTLS_FAIL_NO_CERT, "no peer certificate");
}

static void
test_bad_args(struct dtls_ctx *ctx)
{
	struct dtls_cert c;
	struct dtls_leg *l;

	CHECK_EQ(dtls_cert_new(certs, &c), 0);
	errno = 0;
	l = dtls_leg_new(ctx, &c, "sha-1 00:11", NULL, 0);
	CHECK(l == NULL);
	CHECK_EQ(errno, EINVAL);
	/* the caller still owns the certificate after a failure */
	CHECK(c.key != NULL && c.x509 != NULL);
	dtls_cert_free(&c);
	errno = 0;
	CHECK(dtls_leg_new(ctx, &c, "sha-256 00", NULL, 0) == NULL);
	CHECK_EQ(errno, EINVAL);

	struct dtls_ctx_params bad = { .rto_initial_ms = 500,
				       .rto_max_ms = 100 };
	errno = 0;
	CHECK(dtls_ctx_new(&bad) == NULL);
	CHECK_EQ(errno, EINVAL);
	struct dtls_ctx_params bad_mtu = { .mtu = DTLS_MTU + 1 };
	errno = 0;
	CHECK(dtls_ctx_new(&bad_mtu) == NULL);
	CHECK_EQ(errno, EINVAL);
	bad_mtu.mtu = 200;
	CHECK(dtls_ctx_new(&bad_mtu) == NULL);
}

/* The server's first flight is lost; the leg's timer sends it again. */
static void
test_retransmit(struct dtls_ctx *ctx, unsigned rto_ms)
{
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM" };
	struct dtls_stats before, after;
	uint64_t dl;
	unsigned sent_first;

	dtls_ctx_get_stats(ctx, &before);
	session_init(&s, ctx, &o, NULL, NULL);
	s.drop_to = 100; /* drop everything the first round brings */
	session_round(&s);
	sent_first = s.srv_dgrams;
	CHECK(sent_first >= 1);
	CHECK_EQ(s.st, DTLS_CONTINUE);
	s.drop_to = sent_first;
	dl = dtls_leg_deadline(s.leg);
	CHECK(dl != UINT64_MAX);
	/* OpenSSL's timer, rto_ms from when it started; the test's clock
	 * started earlier, so it can only be sooner (and rounded up by 1) */
	CHECK(dl <= s.now + rto_ms + 1);
	/* early: nothing is sent */
	CHECK_EQ(dtls_leg_timeout(s.leg, s.now, emit_to_queue, &s.srv_out),
		 DTLS_CONTINUE);
	CHECK_EQ(s.srv_out.n, 0);
	/* due (in real time too: OpenSSL's timer runs on the wall clock) */
	sleep_ms(rto_ms + 5);
	s.now = mono_ms();
	for (int i = 0; i < 5 && s.srv_out.n == 0; i++) {
		CHECK_EQ(dtls_leg_timeout(s.leg, s.now, emit_to_queue,
					  &s.srv_out), DTLS_CONTINUE);
		if (s.srv_out.n == 0) {
			sleep_ms(5);
			s.now = mono_ms();
		}
	}
	CHECK(s.srv_out.n >= 1);
	/* the next timer doubles (the lower bound leaves rto_ms for the
	 * scheduler of a busy machine) */
	dl = dtls_leg_deadline(s.leg);
	CHECK(dl >= s.now + rto_ms && dl <= s.now + 2 * rto_ms + 1);
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	CHECK(client_done(&s.c));
	check_keys(&s, DTLS_SRTP_AEAD_AES_128_GCM);
	dtls_ctx_get_stats(ctx, &after);
	CHECK(after.retransmit_timeouts > before.retransmit_timeouts);
	session_free(&s);
}

/* The server's last flight (ChangeCipherSpec, Finished) is lost: the
 * client sends its flight again and the established leg, OpenSSL's state
 * already gone, sends the kept copy; once per 100 ms at most. */
static void
test_lost_last_flight(struct dtls_ctx *ctx)
{
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM",
				 .rto_us = 20000 };
	struct dtls_stats before, after;
	struct dgram again[8];
	unsigned n_again = 0;
	struct dgram *d;

	dtls_ctx_get_stats(ctx, &before);
	session_init(&s, ctx, &o, NULL, NULL);
	session_round(&s); /* CH -> server flight */
	s.drop_from = s.srv_dgrams;
	s.drop_to = s.srv_dgrams + 100;
	session_round(&s); /* client flight -> server's last, dropped */
	CHECK_EQ(s.st, DTLS_DONE);
	client_step(&s.c);
	CHECK(!client_done(&s.c));
	s.drop_to = s.drop_from; /* the network heals */
	sleep_ms(25);
	CHECK(DTLSv1_handle_timeout(s.c.ssl) > 0);
	CHECK(s.c.out.n >= 1);
	/* keep a copy of the client's repeated flight */
	for (unsigned i = 0; i < s.c.out.n && n_again < 8; i++)
		again[n_again++] = s.c.out.d[(s.c.out.head + i) % QMAX];
	session_run(&s);
	CHECK(client_done(&s.c));
	CHECK_EQ(s.st, DTLS_DONE);
	check_keys(&s, DTLS_SRTP_AEAD_AES_128_GCM);
	dtls_ctx_get_stats(ctx, &after);
	CHECK_EQ(after.final_flight_resent, before.final_flight_resent + 1);
	/* the same flight within 100 ms: no answer; later: one */
	for (unsigned i = 0; i < n_again; i++)
		dtls_leg_input(s.leg, again[i].b, again[i].len, s.now + 50,
			       emit_to_queue, &s.srv_out);
	CHECK_EQ(s.srv_out.n, 0);
	for (unsigned i = 0; i < n_again; i++)
		dtls_leg_input(s.leg, again[i].b, again[i].len, s.now + 150,
			       emit_to_queue, &s.srv_out);
	CHECK_EQ(s.srv_out.n, 1);
	/* and the client, done already, drops it as a replay */
	deliver_server_output(&s);
	client_step(&s.c);
	CHECK(!s.c.failed);
	while ((d = q_pop(&s.c.out)) != NULL)
		;
	session_free(&s);
}

/*
 * Re-cuts a datagram holding one handshake record into fragments of at
 * most frag bytes of body, one record each (RFC 6347 §4.2.3), with record
 * numbers 0 for the first and 16 + i for the others: above everything the
 * client sends next in epoch 0, within the 64-record replay window.
 */
static unsigned
fragment(const struct dgram *d, size_t frag, struct dgram *out, unsigned max)
{
	const uint8_t *rec = d->b, *hs = d->b + 13;
	size_t body_len = (size_t)hs[1] << 16 | hs[2] << 8 | hs[3];
	unsigned n = 0;

	CHECK_EQ(rec[0], 22);
	CHECK_EQ(d->len, 13 + 12 + body_len);
	for (size_t off = 0; off < body_len && n < max; off += frag, n++) {
		size_t len = body_len - off < frag ? body_len - off : frag;
		uint8_t *o = out[n].b;
		uint64_t seq = n == 0 ? 0 : 16 + n;

		memcpy(o, rec, 11); /* type, version, epoch; seq below */
		for (int i = 0; i < 6; i++)
			o[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
		o[11] = (uint8_t)((12 + len) >> 8);
		o[12] = (uint8_t)(12 + len);
		memcpy(o + 13, hs, 6); /* type, length, message_seq */
		o[19] = (uint8_t)(off >> 16);
		o[20] = (uint8_t)(off >> 8);
		o[21] = (uint8_t)off;
		o[22] = (uint8_t)(len >> 16);
		o[23] = (uint8_t)(len >> 8);
		o[24] = (uint8_t)len;
		memcpy(o + 25, hs + 12 + off, len);
		out[n].len = 25 + len;
	}
	return n;
}

/* A ClientHello in several handshake fragments, out of order, one
 * repeated, and two sharing a datagram. */
static void
test_fragmented_client_hello(struct dtls_ctx *ctx)
{
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM" };
	struct dgram *ch, frags[16], two;
	unsigned n;

	session_init(&s, ctx, &o, NULL, NULL);
	client_step(&s.c);
	CHECK_EQ(s.c.out.n, 1);
	ch = q_pop(&s.c.out);
	if (ch == NULL)
		goto out;
	n = fragment(ch, 48, frags, 16);
	CHECK(n >= 4);
	if (n < 4)
		goto out;
	/* last, then first and second together, then the rest in order
	 * with the last repeated */
	CHECK_EQ(dtls_leg_input(s.leg, frags[n - 1].b, frags[n - 1].len,
				s.now, emit_to_queue, &s.srv_out),
		 DTLS_CONTINUE);
	memcpy(two.b, frags[0].b, frags[0].len);
	memcpy(two.b + frags[0].len, frags[1].b, frags[1].len);
	two.len = frags[0].len + frags[1].len;
	CHECK_EQ(dtls_leg_input(s.leg, two.b, two.len, s.now, emit_to_queue,
				&s.srv_out), DTLS_CONTINUE);
	CHECK_EQ(s.srv_out.n, 0);
	for (unsigned i = 2; i + 1 < n; i++) {
		CHECK_EQ(s.srv_out.n, 0); /* not complete yet: no answer */
		CHECK_EQ(dtls_leg_input(s.leg, frags[i].b, frags[i].len,
					s.now, emit_to_queue, &s.srv_out),
			 DTLS_CONTINUE);
	}
	CHECK(s.srv_out.n >= 1); /* the whole ClientHello: our flight */
	CHECK_EQ(dtls_leg_input(s.leg, frags[n - 1].b, frags[n - 1].len,
				s.now, emit_to_queue, &s.srv_out),
		 DTLS_CONTINUE);
	deliver_server_output(&s);
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	CHECK(client_done(&s.c));
	check_keys(&s, DTLS_SRTP_AEAD_AES_128_GCM);
out:
	session_free(&s);
}

/* ---- Chromium's DTLS 1.3 ClientHello ---------------------------------- */

/*
 * The first two datagrams Chromium 156.0.8078.108 (Debian bookworm,
 * headless, fake audio device) sent to a sotto leg on loopback: a 1413-byte
 * ClientHello in two handshake fragments (1175 + 238 bytes). It offers
 * DTLS 1.3 and 1.2 (supported_versions fefc, fefd), TLS 1.3 suites before
 * the 1.2 ones, key shares for X25519MLKEM768 (1216 bytes) and X25519,
 * use_srtp 0x0001, 0x0008, 0x0007. Captured by a throwaway harness; that
 * handshake completed (DTLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256,
 * SRTP_AEAD_AES_128_GCM) and Chromium's SRTP decrypted with the leg's keys.
 * Random and key shares are public values; the private halves died with
 * that browser.
 */
static const char chromium_ch0_hex[] =
	"16feff000000000000000004a3010005850000000000000497fefdd5afc6fd33"
	"710618b5a6a4dc17187fa00800811f42a2fe22ed681af3ec7b93f60000001c13"
	"0113021303c02bc02fcca9cca8c009c013c00ac014009c002f00350100053fff"
	"0100010000170000002d00020101000e0009000600010008000700003304ea04"
	"e811ec04c0d4d426d94aaceb633edc520ccf7ac578103caf4a8e910382d2d771"
	"09636196013655bc5071730d6560c3f506b724f9235043bd038674f4ca81e0c2"
	"4073c063e20c9c4668a7188302cdb8a93765935e6033c54c3763710dc4a62823"
	"aa40e11ac895020b70642c01a85cc642c80bfcb53179b70fa99b78c815297117"
	"1375a00b539f66660279b82113e7649994845f127e20833d53152a2957ac0237"
	"a9eae37f6f91377dd3c46207bac35826a1ab5c4502767d27cb69939655bbb1d6"
	"45a5840b7120c63f6548c481e87ec1f1526d736eacd4464461235320494424b0"
	"017b610bd116d8180e34524b8ebb28908657d471b0a4198176a12d68805b2f12"
	"52a1483f2a0c0a51d2bd32f72fb68c765b947963acb9c54595ea533a3c57a626"
	"8980e97a5edd1a28f1314499a2a73fd822168481b1459a4154a7911b0e2eb72f"
	"48e7c6a1547bab78c828a62e96613f5d778766c861dfc26d9cb6990cf5c7e725"
	"5fd7236baff718f74aa1220c72372791a7968d6740ba3a7a1bf03a4042e32c73"
	"b0c756eb343304606ea45da86b3e8ef54d866a6fded80ba429808e8c3e63d139"
	"2929bb665bb37f5c887da81f3179b8ef10384a288ecf9cc7fa01960dc91c6692"
	"8b93c5c2435aafa1986922f611b884c6eb07711908967bd78a8554b37447124f"
	"3b5f2ea3218b762d13cc40ffc1b7f1178ba671c3c2b81e04a5474fec0ebe7c8b"
	"6326b1cd27cf822569ef6123381b086e629f7f725097d1b419f4938d707756f4"
	"6182030b8cc1506e88059739ca28b92912b122ad184f3f90944ed82430615dee"
	"68bf955817405797c1b70ae692786514b3207cb32c85a19655425f15932f315f"
	"d1c86bbe451edc563cefa17d6daa9a7a13918ae479daa194ec7ccb8ad3abe3b6"
	"8e1166679519349dd92ab21153e87c807bc457ea17a7be793135333031291c7e"
	"7b0e637739b884a010b0721339262cd22b244356a69c35e72c8b15f4844f8a93"
	"77908323b72dbaa861f0b01a753241e4dbaa8ad6a15e07c30e1cab4d107026e6"
	"5821802778d09040125f6a318d553284532511ecc9b5d3493fc6131fc49231c7"
	"655c402aae42021d8cfc5dd6f85bc1f7c46332cf5f91027cba60ae65b2200726"
	"16a50722abb65f0cad99412f0c19abd0d000383acfd478656e947ef55c7ab379"
	"362505460b346ecedb18d1870b0fbb858523c0b26a14d714020c7a44b06a282b"
	"e02a421b214ac3437c34b791f0cfb941693128bf6513c37a3282cda380f66cb3"
	"154c5f8dfb6ca517400121c19ff999d272b4edd1b93f535374975e85879886e2"
	"9194f690c9a8242a415296c72dc51b4612b13be902afa8f8565f577ffeb78b55"
	"c1628688bd41fc3143db7b82306b38382d71f130b6694bfd783b95067901c958"
	"90689e4be686f4e336aa85b3a3b4acb5b19a0525ba741b7b7af403751461db77"
	"582649136d3c4305c13f2b456c8a96326c926df9220485c02702daac0d461dbb"
	"7c85039a517642c6464a9aea18cfb22c";
static const char chromium_ch1_hex[] =
	"16feff000000000000000100fa0100058500000004970000ee5e21b45cb2ebaf"
	"f032498c4725c1b2ceb36c237a6480a6f83ebd7a8a77bc39552a243ea59cca79"
	"3d74b792761824a556430bc62f55a10833f52ff5bc4aba169473c121b0c6c71e"
	"c7648cec9e6052cfd61b4e0d39256578ce89d091f5b847f3ffac3651da94fecd"
	"6d202c84b1158c7342dcc8d2fbbb63118c5a8a85c384fc9ffc7e42b19515fdf6"
	"e24a0d60c33ca27e871f7f6b3e55001d002087330a2d748a4fb5effcd97b326e"
	"34bd9487ea5f1ea618c5802a8ac6a338234c000b00020100000d001400120403"
	"08040401050308050501080606010201000a000a000811ec001d00170018002b"
	"000504fefcfefd";

static size_t
unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = strlen(h) / 2;

	CHECK(n <= max);
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned v = 0;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* A ServerHello's use_srtp: one profile, AEAD_AES_128_GCM, no MKI. */
static bool
srtp_gcm_only(const uint8_t *e, size_t n)
{
	return n == 5 && e[0] == 0 && e[1] == 2 &&
	       (e[2] << 8 | e[3]) == DTLS_SRTP_AEAD_AES_128_GCM && e[4] == 0;
}

/* What a leg answers to Chromium's ClientHello: DTLS 1.2, a suite of
 * ours, SRTP_AEAD_AES_128_GCM, and none of 1.3's extensions. */
static void
check_chromium_answer(struct queue *out)
{
	unsigned types = 0;
	bool srtp_gcm = false, ext13 = false, sh_ok = false;

	CHECK(out->n >= 1);
	for (unsigned i = 0; i < out->n; i++) {
		const struct dgram *d = &out->d[(out->head + i) % QMAX];

		CHECK(d->len <= DTLS_MTU);
		for (size_t off = 0; off + 13 + 12 <= d->len;) {
			const uint8_t *r = d->b + off, *h = r + 13;
			size_t rlen = (size_t)r[11] << 8 | r[12];

			CHECK_EQ(r[0], 22);
			CHECK_EQ(r[1] << 8 | r[2], 0xfefd);
			CHECK(off + 13 + rlen <= d->len);
			if (off + 13 + rlen > d->len)
				break;
			types |= 1u << (h[0] & 31);
			if (h[0] == 2) {
				/* ServerHello: version, random, session_id,
				 * suite, compression, extensions */
				const uint8_t *p = h + 12, *end = r + 13 + rlen;

				sh_ok = (p[0] << 8 | p[1]) == 0xfefd;
				p += 2 + 32;
				p += 1 + p[0];
				CHECK_EQ(p[0] << 8 | p[1], 0xc02b);
				CHECK_EQ(p[2], 0);
				p += 5;
				while (p + 4 <= end) {
					unsigned t = p[0] << 8 | p[1];
					size_t n = (size_t)p[2] << 8 | p[3];

					if (t == 0x000e)
						srtp_gcm = srtp_gcm_only(p + 4,
									 n);
					if (t == 0x002b || t == 0x0033)
						ext13 = true;
					p += 4 + n;
				}
			}
			off += 13 + rlen;
		}
	}
	CHECK(sh_ok);
	CHECK(srtp_gcm);
	CHECK(!ext13);
	/* ServerHello, Certificate, ServerKeyExchange, CertificateRequest,
	 * ServerHelloDone */
	CHECK_EQ(types, 1u << 2 | 1u << 11 | 1u << 12 | 1u << 13 | 1u << 14);
}

static void
test_chromium_client_hello(struct dtls_ctx *ctx)
{
	static uint8_t ch0[1200], ch1[263];
	size_t n0 = unhex(chromium_ch0_hex, ch0, sizeof(ch0));
	size_t n1 = unhex(chromium_ch1_hex, ch1, sizeof(ch1));
	static const uint8_t chromium_use_srtp[] = { 0, 6, 0, 1, 0, 8,
						     0, 7, 0 };

	CHECK_EQ(n0, 1200);
	CHECK_EQ(n1, 263);
	CHECK_EQ(dtls_srtp_offer_pick(chromium_use_srtp,
				      sizeof(chromium_use_srtp)),
		 DTLS_SRTP_AEAD_AES_128_GCM);

	for (int order = 0; order < 2; order++) {
		struct dtls_cert cert, peer;
		struct dtls_leg *l;
		struct queue out = { .n = 0 };
		const uint8_t *first = order ? ch1 : ch0;
		const uint8_t *second = order ? ch0 : ch1;
		size_t first_len = order ? n1 : n0;
		size_t second_len = order ? n0 : n1;

		CHECK_EQ(dtls_cert_new(certs, &cert), 0);
		CHECK_EQ(dtls_cert_new(certs, &peer), 0);
		l = dtls_leg_new(ctx, &cert, peer.fingerprint, NULL, 1000);
		CHECK(l != NULL);
		if (l == NULL) {
			dtls_cert_free(&cert);
			dtls_cert_free(&peer);
			continue;
		}
		CHECK_EQ(dtls_leg_input(l, first, first_len, 1000,
					emit_to_queue, &out), DTLS_CONTINUE);
		CHECK_EQ(out.n, 0);
		CHECK_EQ(dtls_leg_input(l, second, second_len, 1000,
					emit_to_queue, &out), DTLS_CONTINUE);
		check_chromium_answer(&out);
		dtls_leg_free(l);
		dtls_cert_free(&peer);
	}
}

/* A client that says ClientHello and nothing more: the leg retransmits
 * until the handshake deadline, then fails and frees everything. */
static void
test_stall(void)
{
	struct dtls_ctx_params p = { .handshake_timeout_ms = 15000,
				     .rto_initial_ms = 100,
				     .rto_max_ms = 400 };
	struct dtls_ctx *ctx = dtls_ctx_new(&p);
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM" };
	struct dtls_stats st;
	uint64_t start, dl;
	int calls = 0;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	session_init(&s, ctx, &o, NULL, NULL);
	start = s.now;
	session_round(&s);
	CHECK_EQ(s.st, DTLS_CONTINUE);
	/* the caller's clock jumps from deadline to deadline (OpenSSL's
	 * own timer has not run out in real time: no resends, which is
	 * fine, the deadline is on our clock) */
	while ((dl = dtls_leg_deadline(s.leg)) != UINT64_MAX && calls < 1000) {
		CHECK(dl <= start + 15000);
		s.now = dl > s.now ? dl : s.now;
		s.st = dtls_leg_timeout(s.leg, s.now, emit_to_queue,
					&s.srv_out);
		calls++;
	}
	CHECK(calls < 1000);
	CHECK_EQ(s.now, start + 15000);
	check_failed(&s, DTLS_FAIL_TIMEOUT, "timeout");
	dtls_ctx_get_stats(ctx, &st);
	CHECK_EQ(st.failed[DTLS_FAIL_TIMEOUT], 1);
	session_free(&s);

	/* input after the deadline does not revive a leg either */
	session_init(&s, ctx, &o, NULL, NULL);
	client_step(&s.c);
	struct dgram *ch = q_pop(&s.c.out);
	CHECK(ch != NULL);
	if (ch != NULL)
		CHECK_EQ(dtls_leg_input(s.leg, ch->b, ch->len, s.now + 15000,
					emit_to_queue, &s.srv_out),
			 DTLS_FAILED);
	CHECK_EQ(s.srv_out.n, 0);
	CHECK_EQ(dtls_leg_fail_reason(s.leg), DTLS_FAIL_TIMEOUT);
	session_free(&s);

	/* a stalled leg whose retransmissions are real: OpenSSL's timer runs
	 * out in real time; each firing resends, then the deadline ends it */
	p.handshake_timeout_ms = 300;
	p.rto_initial_ms = 20;
	p.rto_max_ms = 40;
	struct dtls_ctx *fast = dtls_ctx_new(&p);
	CHECK(fast != NULL);
	if (fast != NULL) {
		unsigned resent = 0;

		session_init(&s, fast, &o, NULL, NULL);
		session_round(&s);
		calls = 0;
		while ((dl = dtls_leg_deadline(s.leg)) != UINT64_MAX &&
		       calls < 200) {
			uint64_t now = mono_ms();

			if (dl > now)
				sleep_ms((unsigned)(dl - now));
			s.now = mono_ms();
			s.st = dtls_leg_timeout(s.leg, s.now, emit_to_queue,
						&s.srv_out);
			resent += s.srv_out.n;
			while (q_pop(&s.srv_out) != NULL)
				;
			calls++;
		}
		CHECK(resent >= 3);
		check_failed(&s, DTLS_FAIL_TIMEOUT, "timeout");
		session_free(&s);
		dtls_ctx_free(fast);
	}
	dtls_ctx_free(ctx);
}

/* The keys live in the caller's buffer and are gone after dtls_leg_free. */
static void
test_wipe(struct dtls_ctx *ctx)
{
	static struct dtls_keybuf kb; /* outlives the leg, on purpose */
	static const struct dtls_keybuf zero;
	struct session s;
	struct client_opts o = { .srtp = "SRTP_AES128_CM_SHA1_80" };
	struct dtls_srtp_keys k;

	memset(&kb, 0xa5, sizeof(kb)); /* dtls_leg_new clears it */
	session_init(&s, ctx, &o, NULL, &kb);
	CHECK_MEM(&kb, &zero, sizeof(kb));
	session_run(&s);
	CHECK_EQ(s.st, DTLS_DONE);
	check_keys(&s, DTLS_SRTP_AES128_CM_SHA1_80);
	CHECK_EQ(dtls_leg_srtp_keys(s.leg, &k), 0);
	CHECK(k.local == kb.local && k.remote == kb.remote);
	CHECK(memcmp(kb.local, zero.local, sizeof(kb.local)) != 0);
	CHECK(memcmp(kb.remote, zero.remote, sizeof(kb.remote)) != 0);
	/* the raw exporter output is not kept once split */
	CHECK_MEM(kb.exported, zero.exported, sizeof(kb.exported));
	session_free(&s);
	CHECK_MEM(&kb, &zero, sizeof(kb));

	/* a leg that fails after nothing was exported leaves zeros too */
	memset(&kb, 0x5a, sizeof(kb));
	o.srtp = "SRTP_AES128_CM_SHA1_32";
	session_init(&s, ctx, &o, NULL, &kb);
	session_run(&s);
	CHECK_EQ(s.st, DTLS_FAILED);
	CHECK_EQ(dtls_leg_srtp_keys(s.leg, &k), -EAGAIN);
	session_free(&s);
	CHECK_MEM(&kb, &zero, sizeof(kb));
}

/* No session outlives its leg: a client offering the previous leg's
 * session gets a full handshake. */
static void
test_no_resumption(struct dtls_ctx *ctx)
{
	struct session s1, s2;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM" };
	SSL_SESSION *sess;

	session_init(&s1, ctx, &o, NULL, NULL);
	session_run(&s1);
	CHECK_EQ(s1.st, DTLS_DONE);
	sess = SSL_get1_session(s1.c.ssl);
	CHECK(sess != NULL);
	session_init(&s2, ctx, &o, NULL, NULL);
	/* same client certificate as the first leg, so the fingerprint fits */
	SSL_free(s2.c.ssl);
	s2.c.ssl = SSL_new(s1.c.ctx);
	BIO *b = BIO_new(client_meth);
	BIO_set_data(b, &s2.c);
	BIO_set_init(b, 1);
	SSL_set_bio(s2.c.ssl, b, b);
	SSL_set_mtu(s2.c.ssl, 1200);
	SSL_set_connect_state(s2.c.ssl);
	CHECK_EQ(SSL_set_session(s2.c.ssl, sess), 1);
	dtls_leg_free(s2.leg);
	struct dtls_cert cert;
	CHECK_EQ(dtls_cert_new(certs, &cert), 0);
	memcpy(s2.leg_fp, cert.fingerprint, sizeof(s2.leg_fp));
	s2.leg = dtls_leg_new(ctx, &cert, s1.c.cert.fingerprint, NULL, s2.now);
	CHECK(s2.leg != NULL);
	session_run(&s2);
	CHECK_EQ(s2.st, DTLS_DONE);
	CHECK(client_done(&s2.c));
	CHECK_EQ(SSL_session_reused(s2.c.ssl), 0);
	check_server_fingerprint(&s2);
	SSL_SESSION_free(sess);
	session_free(&s2);
	session_free(&s1);
}

static void
junk(uint8_t *buf, size_t len, uint32_t *x)
{
	for (size_t j = 0; j < len; j++) {
		*x = *x * 1103515245u + 12345u;
		buf[j] = (uint8_t)(*x >> 16);
	}
}

/*
 * Junk never crashes a leg. Bytes that are not a record are dropped
 * silently (RFC 6347 §4.1.2.7); a well-framed epoch-0 handshake record
 * with a random body either goes the same way or, when it parses as a
 * message out of place, fails the leg with one alert.
 */
static void
test_garbage(struct dtls_ctx *ctx)
{
	struct dtls_cert cert, peer;
	struct dtls_leg *l;
	struct queue out = { .n = 0 };
	uint8_t buf[1500];
	uint32_t x = 12345;
	unsigned failed = 0;

	CHECK_EQ(dtls_cert_new(certs, &peer), 0);
	CHECK_EQ(dtls_cert_new(certs, &cert), 0);
	l = dtls_leg_new(ctx, &cert, peer.fingerprint, NULL, 0);
	CHECK(l != NULL);
	if (l == NULL)
		goto out;
	for (int i = 0; i < 2000; i++) {
		size_t len = 1 + (size_t)i % sizeof(buf);

		junk(buf, len, &x);
		/* a content type the demux passes (RFC 7983: 20-63), a
		 * length field that does not fit the datagram */
		buf[0] = (uint8_t)(20 + buf[0] % 44);
		if (len >= 13)
			buf[11] = (uint8_t)(len >> 8) + 1;
		CHECK_EQ(dtls_leg_input(l, buf, len, 0, emit_to_queue, &out),
			 DTLS_CONTINUE);
	}
	CHECK_EQ(dtls_leg_input(l, buf, 0, 0, emit_to_queue, &out),
		 DTLS_CONTINUE);
	CHECK_EQ(out.n, 0);
	dtls_leg_free(l);

	for (int i = 0; i < 300; i++) {
		size_t len = 13 + 12 + (size_t)i * 4;

		CHECK_EQ(dtls_cert_new(certs, &cert), 0);
		l = dtls_leg_new(ctx, &cert, peer.fingerprint, NULL, 0);
		CHECK(l != NULL);
		if (l == NULL) {
			dtls_cert_free(&cert);
			continue;
		}
		junk(buf, len, &x);
		buf[0] = 22;
		buf[1] = 0xfe;
		buf[2] = 0xfd;
		buf[3] = buf[4] = 0;
		buf[11] = (uint8_t)((len - 13) >> 8);
		buf[12] = (uint8_t)(len - 13);
		buf[13] = (uint8_t)(i % 24); /* every handshake type */
		memset(&out, 0, sizeof(out));
		if (dtls_leg_input(l, buf, len, 0, emit_to_queue, &out) ==
		    DTLS_FAILED) {
			failed++;
			CHECK_EQ(out.n, 1);
			CHECK_EQ(out.d[0].b[0], 21); /* an alert */
		} else {
			CHECK_EQ(out.n, 0);
		}
		dtls_leg_free(l);
	}
	fprintf(stderr, "garbage: %u of 300 handshake records failed a leg\n",
		failed);
out:
	dtls_cert_free(&peer);
}

/* Many legs mid-handshake at once, freed without a leak (ASan). */
static void
test_many(struct dtls_ctx *ctx)
{
	enum { N = 200 };
	static struct dtls_leg *legs[N];
	struct client c;
	struct client_opts o = { .srtp = "SRTP_AEAD_AES_128_GCM" };
	struct queue out;
	struct dgram *ch;
	struct dtls_stats st;
	unsigned answered = 0;

	client_init(&c, &o);
	client_step(&c);
	ch = q_pop(&c.out);
	CHECK(ch != NULL);
	if (ch == NULL)
		goto out;
	for (int i = 0; i < N; i++) {
		struct dtls_cert cert;

		CHECK_EQ(dtls_cert_new(certs, &cert), 0);
		legs[i] = dtls_leg_new(ctx, &cert, c.cert.fingerprint, NULL, 0);
		CHECK(legs[i] != NULL);
		if (legs[i] == NULL) {
			dtls_cert_free(&cert);
			continue;
		}
		memset(&out, 0, sizeof(out));
		CHECK_EQ(dtls_leg_input(legs[i], ch->b, ch->len, 0,
					emit_to_queue, &out), DTLS_CONTINUE);
		answered += out.n > 0;
	}
	CHECK_EQ(answered, N);
	dtls_ctx_get_stats(ctx, &st);
	CHECK(st.legs_current >= N);
	for (int i = 0; i < N; i++)
		dtls_leg_free(legs[i]);
out:
	client_free(&c);
}

int
main(void)
{
	struct dtls_ctx *ctx;
	/* a short first retransmission, so the loss test waits 30 ms */
	struct dtls_ctx_params p = { .rto_initial_ms = 30 };
	struct dtls_stats st;

	client_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				   "test dtls client");
	BIO_meth_set_write(client_meth, cbio_write);
	BIO_meth_set_read(client_meth, cbio_read);
	BIO_meth_set_ctrl(client_meth, cbio_ctrl);

	ctx = dtls_ctx_new(&p);
	certs = dtls_ctx_new(NULL);
	CHECK(ctx != NULL && certs != NULL);
	if (ctx == NULL || certs == NULL)
		return check_done("test_dtls");

	test_parsers();
	test_cert();
	test_handshake(ctx);
	test_small_mtu(ctx);
	test_refusals(ctx);
	test_bad_args(ctx);
	test_retransmit(ctx, 30);
	test_lost_last_flight(ctx);
	test_fragmented_client_hello(ctx);
	test_chromium_client_hello(ctx);
	test_stall();
	test_wipe(ctx);
	test_no_resumption(ctx);
	test_garbage(ctx);
	test_many(ctx);

	dtls_ctx_get_stats(ctx, &st);
	CHECK_EQ(st.legs_current, 0);
	dtls_ctx_free(ctx);
	dtls_ctx_free(certs);
	BIO_meth_free(client_meth);
	return check_done("test_dtls");
}
