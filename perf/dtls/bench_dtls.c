/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DTLS-SRTP server legs (control/gateway/dtls.c): handshakes per second per core,
 * and memory per leg mid-handshake and established.
 *
 * Client and server run in this one thread, datagrams carried by hand (the
 * client on a datagram-keeping BIO like the leg's), so no kernel and no
 * network is in the figures. Only the server is timed: thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID) around every server-side call, which is
 * everything a leg costs the control thread: dtls_cert_new (the per-leg
 * certificate), dtls_leg_new, each dtls_leg_input, dtls_leg_srtp_keys and
 * dtls_leg_free. The client's CPU time is reported apart.
 *
 * Memory: glibc's mallinfo2() bytes in use, before and after N legs are
 * held (clients already freed), divided by N; RSS from /proc/self/statm for
 * comparison.
 *
 * Given the ECDSA P-256 and ECDH rates of `openssl speed` (-S, -V, -E; see
 * run.sh), prints the bound they put on handshakes per second: per server
 * handshake, certificate keygen + self-signature, ECDHE keygen + derive,
 * a ServerKeyExchange signature and a CertificateVerify verification, a
 * keygen counted as one sign for P-256 and one derive for X25519.
 *
 * Prints a table and one "RESULT key=value ..." line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "dtls.h"

#define QMAX 32
#define DGRAM_MAX 2048

struct dgram {
	uint8_t b[DGRAM_MAX];
	size_t len;
};

struct queue {
	struct dgram d[QMAX];
	unsigned head, n;
	unsigned overflow;
};

static void
q_push(struct queue *q, const uint8_t *p, size_t len)
{
	if (q->n >= QMAX || len > DGRAM_MAX) {
		q->overflow++;
		return;
	}
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
	q_push(arg, p, len);
}

/* ---- the client ------------------------------------------------------- */

struct client {
	SSL *ssl;
	struct queue in, out;
};

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
accept_any(int ok, X509_STORE_CTX *xs)
{
	(void)ok;
	(void)xs;
	return 1;
}

static BIO_METHOD *client_meth;

static int
client_open(struct client *c, SSL_CTX *cctx)
{
	BIO *b = BIO_new(client_meth);

	memset(c, 0, sizeof(*c));
	c->ssl = SSL_new(cctx);
	if (c->ssl == NULL || b == NULL) {
		BIO_free(b);
		SSL_free(c->ssl);
		return -1;
	}
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	SSL_set_bio(c->ssl, b, b);
	SSL_set_mtu(c->ssl, DTLS_MTU);
	SSL_set_connect_state(c->ssl);
	return 0;
}

/* ---- clocks and memory ------------------------------------------------ */

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static size_t
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- one handshake ---------------------------------------------------- */

struct timing {
	uint64_t server_ns, cert_ns, client_ns;
	uint64_t new_ns;     /* dtls_leg_new */
	uint64_t hello_ns;   /* ClientHello in, first flight out */
	uint64_t finish_ns;  /* client's flight in, established, keys, free */
	unsigned done, failed;
	int profile;
	char cipher[64];
};

/*
 * Runs a client against a new leg to the end. keep: the leg is returned
 * established (for the memory count) instead of freed. Returns the leg or
 * NULL.
 */
static struct dtls_leg *
handshake(struct dtls_ctx *ctx, SSL_CTX *cctx, const char *client_fp,
	  struct timing *t, bool keep)
{
	struct client c;
	struct dtls_cert cert;
	struct dtls_leg *leg = NULL;
	struct queue srv_out = { .n = 0 };
	enum dtls_status st = DTLS_CONTINUE;
	struct dtls_srtp_keys k;
	uint64_t t0, t1;
	struct dgram *d;

	if (client_open(&c, cctx) < 0)
		return NULL;

	t0 = cpu_ns();
	if (dtls_cert_new(ctx, &cert) == 0) {
		t1 = cpu_ns();
		t->cert_ns += t1 - t0;
		leg = dtls_leg_new(ctx, &cert, client_fp, NULL, 0);
		if (leg == NULL)
			dtls_cert_free(&cert);
		t->new_ns += cpu_ns() - t1;
	}
	t->server_ns += cpu_ns() - t0;
	if (leg == NULL)
		goto out;

	for (int round = 0; round < 10 && st == DTLS_CONTINUE; round++) {
		t0 = cpu_ns();
		ERR_clear_error();
		(void)SSL_do_handshake(c.ssl);
		t->client_ns += cpu_ns() - t0;
		t0 = cpu_ns();
		while ((d = q_pop(&c.out)) != NULL)
			st = dtls_leg_input(leg, d->b, d->len, 0,
					    emit_to_queue, &srv_out);
		t1 = cpu_ns() - t0;
		t->server_ns += t1;
		if (round == 0)
			t->hello_ns += t1;
		else
			t->finish_ns += t1;
		while ((d = q_pop(&srv_out)) != NULL)
			q_push(&c.in, d->b, d->len);
	}
	/* the client reads the server's Finished: its cost, not ours */
	t0 = cpu_ns();
	(void)SSL_do_handshake(c.ssl);
	t->client_ns += cpu_ns() - t0;

	t0 = cpu_ns();
	if (st == DTLS_DONE && dtls_leg_srtp_keys(leg, &k) == 0 &&
	    SSL_is_init_finished(c.ssl)) {
		t->done++;
		t->profile = k.profile;
		snprintf(t->cipher, sizeof(t->cipher), "%s",
			 dtls_leg_cipher(leg));
	} else {
		t->failed++;
		keep = false;
	}
	if (!keep) {
		dtls_leg_free(leg);
		leg = NULL;
	}
	t->server_ns += cpu_ns() - t0;
	t->finish_ns += cpu_ns() - t0;
out:
	ERR_clear_error();
	SSL_free(c.ssl);
	return leg;
}

static void
usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-n HANDSHAKES] [-m LEGS] [-g GROUPS] [-w WARMUP]\n"
		"          [-S SIGN_PER_S -V VERIFY_PER_S -E DERIVE_PER_S]\n"
		"  -n  timed handshakes (2000)\n"
		"  -m  legs held for the memory count (5000; 0 skips)\n"
		"  -g  groups the client offers (X25519:P-256); the server\n"
		"      takes X25519 over P-256; P-256 must be there (TLS 1.2\n"
		"      checks the certificate's curve against the list)\n"
		"  -w  untimed handshakes first (100)\n"
		"  -S -V  ECDSA P-256 sign/s and verify/s, -E ECDH\n"
		"      derive/s for the negotiated group, from openssl\n"
		"      speed: the bound\n",
		argv0);
}

int
main(int argc, char **argv)
{
	unsigned n = 2000, m = 5000, warm = 100;
	const char *groups = "X25519:P-256";
	double sign_s = 0, verify_s = 0, derive_s = 0;
	struct dtls_ctx *ctx;
	struct dtls_ctx_params params = { .handshake_timeout_ms = 3600000 };
	SSL_CTX *cctx;
	struct dtls_cert ccert;
	struct timing t = { 0 }, warmup = { 0 };
	uint64_t w0, w1;
	int opt, nid;
	bool p256;

	while ((opt = getopt(argc, argv, "n:m:g:w:S:V:E:h")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': m = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'g': groups = optarg; break;
		case 'w': warm = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': sign_s = strtod(optarg, NULL); break;
		case 'V': verify_s = strtod(optarg, NULL); break;
		case 'E': derive_s = strtod(optarg, NULL); break;
		default: usage(argv[0]); return opt == 'h' ? 0 : 2;
		}
	}
	if (n == 0 || n > 10000000 || m > 1000000) {
		usage(argv[0]);
		return 2;
	}

	client_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				   "bench dtls client");
	BIO_meth_set_write(client_meth, cbio_write);
	BIO_meth_set_read(client_meth, cbio_read);
	BIO_meth_set_ctrl(client_meth, cbio_ctrl);
	ctx = dtls_ctx_new(&params);
	cctx = SSL_CTX_new(DTLS_client_method());
	if (client_meth == NULL || ctx == NULL || cctx == NULL ||
	    dtls_cert_new(ctx, &ccert) != 0) {
		fprintf(stderr, "bench_dtls: setup failed\n");
		return 1;
	}
	/* a browser-like client: one certificate for all its handshakes */
	SSL_CTX_set_min_proto_version(cctx, DTLS1_2_VERSION);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, accept_any);
	SSL_CTX_set_options(cctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_tlsext_use_srtp(cctx, "SRTP_AEAD_AES_128_GCM:"
					      "SRTP_AES128_CM_SHA1_80") != 0 ||
	    SSL_CTX_set1_groups_list(cctx, groups) != 1 ||
	    SSL_CTX_use_certificate(cctx, ccert.x509) != 1 ||
	    SSL_CTX_use_PrivateKey(cctx, ccert.key) != 1) {
		fprintf(stderr, "bench_dtls: client setup failed (groups %s)\n",
			groups);
		return 1;
	}

	for (unsigned i = 0; i < warm; i++)
		handshake(ctx, cctx, ccert.fingerprint, &warmup, false);

	/* which group the server picks for this client */
	{
		struct client c;
		struct dtls_cert cert;
		struct dtls_leg *leg;
		struct queue out = { .n = 0 };
		struct dgram *d;

		if (client_open(&c, cctx) < 0 || dtls_cert_new(ctx, &cert) != 0)
			return 1;
		leg = dtls_leg_new(ctx, &cert, ccert.fingerprint, NULL, 0);
		(void)SSL_do_handshake(c.ssl);
		while ((d = q_pop(&c.out)) != NULL)
			dtls_leg_input(leg, d->b, d->len, 0, emit_to_queue,
				       &out);
		while ((d = q_pop(&out)) != NULL)
			q_push(&c.in, d->b, d->len);
		(void)SSL_do_handshake(c.ssl);
		nid = SSL_get_negotiated_group(c.ssl);
		dtls_leg_free(leg);
		SSL_free(c.ssl);
		ERR_clear_error();
	}
	p256 = nid == NID_X9_62_prime256v1;

	w0 = wall_ns();
	for (unsigned i = 0; i < n; i++)
		handshake(ctx, cctx, ccert.fingerprint, &t, false);
	w1 = wall_ns();

	if (t.done == 0) {
		fprintf(stderr, "bench_dtls: no handshake completed (groups "
			"%s)\n", groups);
		return 1;
	}
	double per_hs_us = (double)t.server_ns / 1e3 / n;
	double hs_per_s = 1e6 / per_hs_us;
	double cert_us = (double)t.cert_ns / 1e3 / n;
	double client_us = (double)t.client_ns / 1e3 / n;

	printf("handshakes: %u done, %u failed (warm-up %u); group %s, "
	       "cipher %s, SRTP profile 0x%04x\n",
	       t.done, t.failed, warm, OBJ_nid2sn(nid), t.cipher, t.profile);
	printf("server CPU per handshake: %.1f us (of which the leg "
	       "certificate %.1f us)\n", per_hs_us, cert_us);
	printf("  by step: certificate %.1f, dtls_leg_new %.1f, ClientHello "
	       "to first flight %.1f, client flight to established and "
	       "freed %.1f us\n", cert_us, (double)t.new_ns / 1e3 / n,
	       (double)t.hello_ns / 1e3 / n, (double)t.finish_ns / 1e3 / n);
	printf("server handshakes/s per core: %.0f (%.0f without the "
	       "per-leg certificate)\n", hs_per_s,
	       1e6 / (per_hs_us - cert_us));
	printf("client CPU per handshake: %.1f us; wall %.1f us per "
	       "handshake, client and server together\n", client_us,
	       (double)(w1 - w0) / 1e3 / n);

	double bound = 0, bound_nocert = 0;
	if (sign_s > 0 && verify_s > 0 && derive_s > 0) {
		/* seconds per handshake: certificate keygen + sign, SKE sign,
		 * CertificateVerify verify, ECDHE keygen + derive */
		double ecdhe_keygen = p256 ? 1 / sign_s : 1 / derive_s;
		double tcert = 2 / sign_s;
		double ths = 1 / sign_s + 1 / verify_s + ecdhe_keygen +
			     1 / derive_s;

		bound = 1 / (tcert + ths);
		bound_nocert = 1 / ths;
		printf("openssl speed bound: %.0f handshakes/s (%.0f without "
		       "the per-leg certificate); measured is %.0f%% of it\n",
		       bound, bound_nocert, 100 * hs_per_s / bound);
	}

	/* ---- memory ---- */
	double mid_b = 0, est_b = 0, mid_rss = 0, est_rss = 0;
	if (m > 0) {
		struct dtls_leg **legs = calloc(m, sizeof(*legs));
		struct client c;
		struct dgram ch;
		struct queue out = { .n = 0 };
		struct dgram *d;
		size_t h0, r0;
		unsigned held = 0;

		if (legs == NULL || client_open(&c, cctx) < 0)
			return 1;
		(void)SSL_do_handshake(c.ssl);
		d = q_pop(&c.out);
		if (d == NULL)
			return 1;
		ch = *d;
		SSL_free(c.ssl);
		malloc_trim(0);

		/* mid-handshake: ClientHello answered, waiting for the
		 * client's second flight */
		h0 = heap_in_use();
		r0 = rss_bytes();
		for (unsigned i = 0; i < m; i++) {
			struct dtls_cert cert;

			if (dtls_cert_new(ctx, &cert) != 0)
				break;
			legs[i] = dtls_leg_new(ctx, &cert, ccert.fingerprint,
					       NULL, 0);
			if (legs[i] == NULL) {
				dtls_cert_free(&cert);
				break;
			}
			dtls_leg_input(legs[i], ch.b, ch.len, 0,
				       emit_to_queue, &out);
			out.n = out.head = 0;
			held++;
		}
		mid_b = (double)(heap_in_use() - h0) / held;
		mid_rss = (double)(rss_bytes() - r0) / held;
		for (unsigned i = 0; i < held; i++)
			dtls_leg_free(legs[i]);
		malloc_trim(0);

		/* established */
		struct timing tm = { 0 };
		h0 = heap_in_use();
		r0 = rss_bytes();
		held = 0;
		for (unsigned i = 0; i < m; i++) {
			legs[i] = handshake(ctx, cctx, ccert.fingerprint, &tm,
					    true);
			if (legs[i] == NULL)
				break;
			held++;
		}
		est_b = (double)(heap_in_use() - h0) / held;
		est_rss = (double)(rss_bytes() - r0) / held;
		for (unsigned i = 0; i < held; i++)
			dtls_leg_free(legs[i]);
		free(legs);
		printf("memory per leg (%u legs): mid-handshake %.0f B heap "
		       "(%.0f B RSS), established %.0f B heap (%.0f B RSS)\n",
		       m, mid_b, mid_rss, est_b, est_rss);
	}

	printf("RESULT handshakes=%u failed=%u group=%s server_us=%.1f "
	       "cert_us=%.1f hs_per_s=%.0f hs_per_s_nocert=%.0f "
	       "client_us=%.1f bound=%.0f bound_nocert=%.0f "
	       "mem_mid=%.0f mem_est=%.0f rss_mid=%.0f rss_est=%.0f\n",
	       t.done, t.failed, OBJ_nid2sn(nid), per_hs_us, cert_us,
	       hs_per_s, 1e6 / (per_hs_us - cert_us), client_us, bound,
	       bound_nocert, mid_b, est_b, mid_rss, est_rss);

	dtls_cert_free(&ccert);
	SSL_CTX_free(cctx);
	dtls_ctx_free(ctx);
	BIO_meth_free(client_meth);
	return t.failed == 0 ? 0 : 1;
}
