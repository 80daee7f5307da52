/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SRTP cost per packet (perf/srtp/README.md): protect, unprotect and a
 * 1 → 3 transcrypt (unprotect once, protect for three listeners with their
 * own keys), for AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, for 172-byte
 * (12 + 160) and 60-byte (12 + 48) RTP packets, with Debian's libsrtp2 and
 * with dataplane/wire/srtp.c; beside what the same primitives cost on the same
 * bytes, from `openssl speed` and from EVP called directly.
 *
 *   bench_srtp [-n packets] [-r repetitions] [-S]   (-S: skip openssl speed)
 *
 * Each cell runs -r repetitions of -n packets, timed (CLOCK_MONOTONIC) per
 * batch of 256 packets; the figure is the 10th percentile of the batch
 * costs, the median is in brackets. libsrtp2's and our repetitions
 * alternate so both see the same load. Every packet is copied
 * into a work buffer before it is processed (the copy is in the figure,
 * for both libraries; the "memcpy" line says what it costs). Results are
 * checked: a packet that fails to protect or unprotect stops the program.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <srtp2/srtp.h>

#include "srtp.h"

#define CM DP_SRTP_AES128_CM_HMAC_SHA1_80
#define GCM DP_SRTP_AEAD_AES_128_GCM
#define BATCH 256
#define LISTENERS 3
#define MAXPKT 512 /* libsrtp2 wants SRTP_MAX_TRAILER_LEN of room */

static long n_packets = 20000;
static int n_reps = 7;

static double
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* per-batch costs (ns per packet) of one cell over all repetitions */
struct samples {
	double v[64 * 4096];
	int n;
};

static void
sample(struct samples *sm, double ns_per_pkt)
{
	if (sm->n < (int)(sizeof(sm->v) / sizeof(sm->v[0])))
		sm->v[sm->n++] = ns_per_pkt;
}

/* the q-quantile (0..1) of the samples; sorts them */
static double
quantile(struct samples *sm, double q)
{
	int i;

	qsort(sm->v, (size_t)sm->n, sizeof(sm->v[0]), cmp_double);
	i = (int)(q * (sm->n - 1) + 0.5);
	return sm->v[i];
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_srtp: %s\n", what);
	exit(1);
}

static size_t
make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t plen)
{
	p[0] = 0x80;
	p[1] = 111;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	memset(p + 4, 0x5a, 4);
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < plen; i++)
		p[12 + i] = (uint8_t)(i * 13 + 7);
	return 12 + plen;
}

static void
set_seq(uint8_t *p, uint16_t seq)
{
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
}

static void
master(enum dp_srtp_profile p, int who, uint8_t *key, uint8_t *salt)
{
	for (size_t i = 0; i < 16; i++)
		key[i] = (uint8_t)(who * 41 + i);
	for (size_t i = 0; i < dp_srtp_salt_len(p); i++)
		salt[i] = (uint8_t)(who * 29 + i * 3);
}

/* ---- the two implementations behind one interface ---- */

struct impl {
	const char *name;
	void *(*new_ctx)(enum dp_srtp_profile p, bool inbound, int who);
	void (*free_ctx)(void *c);
	int (*protect)(void *c, uint8_t *pkt, size_t len, size_t *out);
	int (*unprotect)(void *c, uint8_t *pkt, size_t len, size_t *out);
};

static void *
lib_new(enum dp_srtp_profile p, bool inbound, int who)
{
	uint8_t key[16], salt[14], mk[30];
	srtp_policy_t pol;
	srtp_t s = NULL;

	master(p, who, key, salt);
	memcpy(mk, key, 16);
	memcpy(mk + 16, salt, dp_srtp_salt_len(p));
	memset(&pol, 0, sizeof(pol));
	if (p == GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.key = mk;
	pol.window_size = 128;
	if (srtp_create(&s, &pol) != srtp_err_status_ok)
		die("srtp_create");
	return s;
}

static void
lib_free(void *c)
{
	srtp_dealloc(c);
}

static int
lib_protect(void *c, uint8_t *pkt, size_t len, size_t *out)
{
	int l = (int)len;

	if (srtp_protect(c, pkt, &l) != srtp_err_status_ok)
		return -1;
	*out = (size_t)l;
	return 0;
}

static int
lib_unprotect(void *c, uint8_t *pkt, size_t len, size_t *out)
{
	int l = (int)len;

	if (srtp_unprotect(c, pkt, &l) != srtp_err_status_ok)
		return -1;
	*out = (size_t)l;
	return 0;
}

static void *
dp_new(enum dp_srtp_profile p, bool inbound, int who)
{
	uint8_t key[16], salt[14];
	struct dp_srtp_ctx *c;

	master(p, who, key, salt);
	c = dp_srtp_ctx_new(p, inbound ? DP_SRTP_UNPROTECT : DP_SRTP_PROTECT,
			    key, 16, salt, dp_srtp_salt_len(p));
	if (!c)
		die("dp_srtp_ctx_new");
	return c;
}

static void
dp_free(void *c)
{
	dp_srtp_ctx_free(c);
}

static int
dp_protect(void *c, uint8_t *pkt, size_t len, size_t *out)
{
	return dp_srtp_protect(c, pkt, len, MAXPKT, out);
}

static int
dp_unprotect(void *c, uint8_t *pkt, size_t len, size_t *out)
{
	return dp_srtp_unprotect(c, pkt, len, out);
}

static const struct impl impls[2] = {
	{"libsrtp2", lib_new, lib_free, lib_protect, lib_unprotect},
	{"sotto", dp_new, dp_free, dp_protect, dp_unprotect},
};

/* ---- measurements: one repetition of one operation ---- */

/*
 * Packets to unprotect come from a batch protected beforehand, outside
 * the timed region, with continuing sequence numbers; each is copied to a
 * work buffer (timed) and unprotected there.
 */
struct cell {
	const struct impl *im;
	int op;                 /* 0 protect, 1 unprotect, 2 transcrypt */
	void *tx, *rx, *ltx[LISTENERS];
	uint8_t tmpl[MAXPKT];
	size_t n;
	uint16_t seq;
	uint8_t pkt[BATCH][MAXPKT];
	size_t len[BATCH];
	uint8_t buf[MAXPKT];
	uint8_t out[LISTENERS][MAXPKT];
};

static void
cell_init(struct cell *c, const struct impl *im, int op,
	  enum dp_srtp_profile p, size_t plen)
{
	memset(c, 0, sizeof(*c));
	c->im = im;
	c->op = op;
	c->tx = im->new_ctx(p, false, 1);
	if (op > 0)
		c->rx = im->new_ctx(p, true, 1);
	for (int l = 0; op == 2 && l < LISTENERS; l++)
		c->ltx[l] = im->new_ctx(p, false, 10 + l);
	c->n = make_rtp(c->tmpl, 0, 0x2222, plen);
	c->seq = 1;
}

static void
cell_fini(struct cell *c)
{
	c->im->free_ctx(c->tx);
	if (c->rx)
		c->im->free_ctx(c->rx);
	for (int l = 0; l < LISTENERS; l++)
		if (c->ltx[l])
			c->im->free_ctx(c->ltx[l]);
}

static void
cell_fill(struct cell *c)
{
	for (int i = 0; i < BATCH; i++) {
		memcpy(c->pkt[i], c->tmpl, c->n);
		set_seq(c->pkt[i], c->seq++);
		if (c->im->protect(c->tx, c->pkt[i], c->n, &c->len[i]))
			die("feed protect failed");
	}
}

/* one repetition: n_packets (rounded up to whole batches), one sample
 * per batch */
static void
cell_run(struct cell *c, struct samples *sm)
{
	const struct impl *im = c->im;
	long batches = (n_packets + BATCH - 1) / BATCH;
	size_t out, out2;

	for (long b = 0; b < batches; b++) {
		double t0;

		if (c->op == 0) {
			t0 = now_ns();
			for (int i = 0; i < BATCH; i++) {
				memcpy(c->buf, c->tmpl, c->n);
				set_seq(c->buf, c->seq++);
				if (im->protect(c->tx, c->buf, c->n, &out))
					die("protect failed");
			}
			sample(sm, (now_ns() - t0) / BATCH);
			continue;
		}
		cell_fill(c);
		t0 = now_ns();
		for (int i = 0; i < BATCH; i++) {
			memcpy(c->buf, c->pkt[i], c->len[i]);
			if (im->unprotect(c->rx, c->buf, c->len[i], &out) ||
			    out != c->n)
				die("unprotect failed");
			for (int l = 0; c->op == 2 && l < LISTENERS; l++) {
				memcpy(c->out[l], c->buf, out);
				if (im->protect(c->ltx[l], c->out[l], out,
						&out2))
					die("listener protect failed");
			}
		}
		sample(sm, (now_ns() - t0) / BATCH);
	}
}

/* ---- the primitives through EVP, contexts reused ---- */

/* what an EVP-only implementation pays: IV re-init per packet, HMAC
 * re-init per packet (EVP_MAC_init with the key kept) */
struct evp_cell {
	enum dp_srtp_profile p;
	size_t plen, n;
	EVP_CIPHER_CTX *c;
	EVP_MAC *mac;
	EVP_MAC_CTX *m;
	uint8_t tmpl[MAXPKT], buf[MAXPKT];
};

static void
evp_init(struct evp_cell *e, enum dp_srtp_profile p, size_t plen)
{
	static const uint8_t key[16] = {1, 2, 3};
	OSSL_PARAM prm[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};

	e->p = p;
	e->plen = plen;
	e->n = make_rtp(e->tmpl, 0, 0x3333, plen);
	e->c = EVP_CIPHER_CTX_new();
	e->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	e->m = e->mac ? EVP_MAC_CTX_new(e->mac) : NULL;
	if (!e->c || !e->m ||
	    EVP_EncryptInit_ex(e->c, p == GCM ? EVP_aes_128_gcm() :
						EVP_aes_128_ctr(),
			       NULL, key, NULL) != 1 ||
	    !EVP_MAC_init(e->m, key, 16, prm))
		die("EVP setup");
}

static void
evp_run(struct evp_cell *e, struct samples *sm)
{
	uint8_t iv[16] = {4}, tag[20];
	size_t maclen;
	int outl;

	for (long i = 0; i < n_packets; i += BATCH) {
		double t0 = now_ns();

		for (long j = i; j < i + BATCH; j++) {
			memcpy(e->buf, e->tmpl, e->n);
			iv[11] = (uint8_t)j;
			iv[10] = (uint8_t)(j >> 8);
			EVP_EncryptInit_ex(e->c, NULL, NULL, NULL, iv);
			if (e->p == GCM) {
				EVP_EncryptUpdate(e->c, NULL, &outl, e->buf,
						  12);
				EVP_EncryptUpdate(e->c, e->buf + 12, &outl,
						  e->buf + 12, (int)e->plen);
				EVP_EncryptFinal_ex(e->c, e->buf + e->n,
						    &outl);
				EVP_CIPHER_CTX_ctrl(e->c, EVP_CTRL_AEAD_GET_TAG,
						    16, e->buf + e->n);
			} else {
				EVP_EncryptUpdate(e->c, e->buf + 12, &outl,
						  e->buf + 12, (int)e->plen);
				EVP_MAC_init(e->m, NULL, 0, NULL);
				EVP_MAC_update(e->m, e->buf, e->n);
				EVP_MAC_update(e->m, iv, 4);
				EVP_MAC_final(e->m, tag, &maclen, sizeof(tag));
				memcpy(e->buf + e->n, tag, 10);
			}
		}
		sample(sm, (now_ns() - t0) / BATCH);
	}
}

static void
evp_fini(struct evp_cell *e)
{
	EVP_MAC_CTX_free(e->m);
	EVP_MAC_free(e->mac);
	EVP_CIPHER_CTX_free(e->c);
}

static void
memcpy_run(size_t plen, struct samples *sm)
{
	static uint8_t tmpl[MAXPKT], buf[MAXPKT];
	size_t n = make_rtp(tmpl, 0, 0x4444, plen);
	volatile uint8_t sink = 0;

	for (long i = 0; i < n_packets; i += BATCH) {
		double t0 = now_ns();

		for (long j = i; j < i + BATCH; j++) {
			memcpy(buf, tmpl, n);
			set_seq(buf, (uint16_t)j);
			sink ^= buf[n - 1];
			__asm__ volatile("" ::: "memory");
		}
		sample(sm, (now_ns() - t0) / BATCH);
	}
	(void)sink;
}

static double
minimum(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* ---- openssl speed ---- */

/*
 * ns per operation of one `openssl speed` line ("<name> <n>k": thousands
 * of bytes per second at -bytes), best of 3 runs; -1 if it fails. speed
 * divides by CPU time by default, which other load on a shared guest
 * inflates far less than wall clock (-elapsed gave half the throughput
 * here under load).
 */
static double
openssl_speed(const char *args, const char *line_prefix, size_t bytes)
{
	double v[3];
	int got = 0;

	for (int r = 0; r < 3; r++) {
		char cmd[256], line[512];
		FILE *f;
		double kbps = -1;

		snprintf(cmd, sizeof(cmd),
			 "openssl speed -seconds 1 -bytes %zu %s "
			 "2>/dev/null",
			 bytes, args);
		f = popen(cmd, "r");
		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f)) {
			size_t pl = strlen(line_prefix);
			if (strncmp(line, line_prefix, pl) == 0 &&
			    (line[pl] == ' ' || line[pl] == '\t')) {
				char *k = strrchr(line, 'k');
				char *num = k;
				while (num > line && num[-1] != ' ')
					num--;
				if (k)
					kbps = strtod(num, NULL);
			}
		}
		pclose(f);
		if (kbps > 0)
			v[got++] = (double)bytes / (kbps * 1000.0) * 1e9;
	}
	return got ? minimum(v, got) : -1;
}

struct speed {
	double gcm, ctr, hmac;
	/* bulk throughput at 16 KiB, in ns per byte */
	double gcm_b, ctr_b, sha1_b;
};

static void
speed_for(size_t plen, struct speed *s)
{
	/* -aead: IV set, 13-byte AAD, data, tag, per operation (TLS-like;
	 * SRTP has a 12-byte AAD) */
	s->gcm = openssl_speed("-aead -evp aes-128-gcm", "AES-128-GCM", plen);
	s->ctr = openssl_speed("-evp aes-128-ctr", "AES-128-CTR", plen);
	/* HMAC over header + payload + ROC */
	s->hmac = openssl_speed("-hmac sha1", "hmac(sha1)", 12 + plen + 4);
}

/* ns per byte of one primitive on 16 KiB buffers, in this process and
 * with the same statistic as the rest (p10 of 300 buffers) */
static double
bulk_one(int what)
{
	static uint8_t buf[16384];
	static struct samples sm;
	static const uint8_t key[16] = {9}, iv[16] = {8};
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int outl, ok;

	if (what == 0)
		ok = EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv);
	else if (what == 1)
		ok = EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv);
	else
		ok = EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	if (!ok)
		die("bulk setup");
	sm.n = 0;
	for (int r = 0; r < 300; r++) {
		double t0 = now_ns();

		if (what < 2)
			ok = EVP_EncryptUpdate(c, buf, &outl, buf, sizeof(buf));
		else
			ok = EVP_DigestUpdate(md, buf, sizeof(buf));
		if (!ok)
			die("bulk update");
		sample(&sm, (now_ns() - t0) / sizeof(buf));
	}
	EVP_CIPHER_CTX_free(c);
	EVP_MD_CTX_free(md);
	return quantile(&sm, 0.10);
}

static void
speed_bulk(struct speed *s)
{
	s->gcm_b = bulk_one(0);
	s->ctr_b = bulk_one(1);
	s->sha1_b = bulk_one(2);
}

/*
 * The bytes of one packet at bulk speed: no per-call cost at all. GCM:
 * AAD + payload; CM: the payload through AES-CTR and the SHA-1 blocks
 * HMAC compresses with the pads precomputed (inner: header + payload +
 * ROC + padding, outer: one block).
 */
static double
bulk_floor(const struct speed *s, enum dp_srtp_profile p, size_t plen)
{
	size_t n = 12 + plen;

	if (p == GCM)
		return s->gcm_b > 0 ? (double)n * s->gcm_b : -1;
	if (s->ctr_b <= 0 || s->sha1_b <= 0)
		return -1;
	size_t blocks = (n + 4 + 9 + 63) / 64 + 1;
	return (double)plen * s->ctr_b + (double)(blocks * 64) * s->sha1_b;
}

#define Q_FIGURE 0.10 /* quantile of batch costs reported */

int
main(int argc, char **argv)
{
	static struct cell cells[2];
	static struct evp_cell evp;
	static struct samples sm[2], se;
	bool run_speed = true;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:S")) != -1) {
		switch (opt) {
		case 'n':
			n_packets = atol(optarg);
			break;
		case 'r':
			n_reps = atoi(optarg);
			break;
		case 'S':
			run_speed = false;
			break;
		default:
			fprintf(stderr, "usage: %s [-n packets] "
				"[-r repetitions] [-S]\n", argv[0]);
			return 2;
		}
	}
	if (n_packets < BATCH || n_packets > 4096L * BATCH || n_reps < 1 ||
	    n_reps > 64) {
		fprintf(stderr, "bench_srtp: %d <= -n <= %ld, 1 <= -r <= 64\n",
			BATCH, 4096L * BATCH);
		return 2;
	}
	if (srtp_init() != srtp_err_status_ok)
		die("srtp_init");

	printf("SRTP cost per packet, ns: 10th percentile of the per-batch "
	       "cost (median in brackets),\n"
	       "batches of %d packets, %d repetitions of %ld packets per cell, "
	       "wall clock\n", BATCH, n_reps, n_packets);
	printf("%s; %s\n", OpenSSL_version(OPENSSL_VERSION),
	       srtp_get_version_string());
	printf("machine: a shared 2-vCPU guest; other load only ever adds "
	       "time, hence a low percentile\n\n");

	static const size_t plens[2] = {160, 48};
	static const char *const ops[3] = {"protect", "unprotect",
					   "1->3 transcrypt"};
	struct speed bulk = {-1, -1, -1, -1, -1, -1};

	speed_bulk(&bulk);
	printf("%-5s %-7s %-15s %15s %13s %6s %6s %8s %9s %6s\n", "bytes",
	       "profile", "operation", "libsrtp2", "sotto", "lib/us",
	       "speed", "us/speed", "EVP-naive", "bulk");
	for (int si = 0; si < 2; si++) {
		size_t plen = plens[si];
		struct speed sp = {-1, -1, -1, -1, -1, -1};

		if (run_speed)
			speed_for(plen, &sp);
		for (int pi = 0; pi < 2; pi++) {
			enum dp_srtp_profile p = pi ? CM : GCM;
			double prim = p == GCM ? sp.gcm :
				      (sp.ctr > 0 && sp.hmac > 0 ?
					       sp.ctr + sp.hmac : -1);

			se.n = 0;
			evp_init(&evp, p, plen);
			for (int r = 0; r < n_reps; r++)
				evp_run(&evp, &se);
			evp_fini(&evp);
			double evp_ns = quantile(&se, Q_FIGURE);

			for (int oi = 0; oi < 3; oi++) {
				int mult = oi == 2 ? 1 + LISTENERS : 1;
				double fig[2], med[2];

				for (int ii = 0; ii < 2; ii++) {
					cell_init(&cells[ii], &impls[ii], oi,
						  p, plen);
					sm[ii].n = 0;
				}
				/* interleaved, so both see the same load */
				for (int r = 0; r < n_reps; r++)
					for (int k = 0; k < 2; k++) {
						int ii = (r + k) % 2;
						cell_run(&cells[ii], &sm[ii]);
					}
				for (int ii = 0; ii < 2; ii++) {
					cell_fini(&cells[ii]);
					med[ii] = quantile(&sm[ii], 0.5);
					fig[ii] = quantile(&sm[ii], Q_FIGURE);
				}
				char a[32], b[32];
				snprintf(a, sizeof(a), "%.0f (%.0f)", fig[0],
					 med[0]);
				snprintf(b, sizeof(b), "%.0f (%.0f)", fig[1],
					 med[1]);
				printf("%-5zu %-7s %-15s %15s %13s %5.1fx",
				       12 + plen, p == GCM ? "GCM" : "CM-SHA1",
				       ops[oi], a, b, fig[0] / fig[1]);
				if (prim > 0)
					printf(" %6.0f %7.2fx", prim * mult,
					       fig[1] / (prim * mult));
				else
					printf(" %6s %8s", "-", "-");
				printf(" %9.0f", evp_ns * mult);
				double fl = bulk_floor(&bulk, p, plen);
				if (fl > 0)
					printf(" %6.0f\n", fl * mult);
				else
					printf(" %6s\n", "-");
			}
		}
		se.n = 0;
		for (int r = 0; r < n_reps; r++)
			memcpy_run(plen, &se);
		printf("%-5zu %-7s %-15s %29.0f\n", 12 + plen, "-",
		       "memcpy (in all)", quantile(&se, Q_FIGURE));
	}
	printf("\nspeed: `openssl speed` (CPU time, best of 3) for the same "
	       "primitives on the same bytes, GCM: -aead\n"
	       "  -evp aes-128-gcm on the payload (IV, 13-byte AAD, data, tag "
	       "per op); CM: -evp aes-128-ctr on the\n"
	       "  payload + -hmac sha1 on header, payload and ROC; x4 for a "
	       "transcrypt (1 unprotect + 3 protects).\n"
	       "EVP-naive: those primitives through EVP with contexts kept and "
	       "only the IV (GCM, CTR) or the\n"
	       "  HMAC (EVP_MAC_init, key kept) re-initialised per packet; "
	       "x4 for a transcrypt.\n"
	       "bulk: the packet's bytes at EVP's 16 KiB throughput, measured "
	       "here (GCM: AAD + payload; CM:\n"
	       "  payload by AES-CTR + the SHA-1 blocks of an HMAC with "
	       "precomputed pads): no per-call cost at all.\n");
	srtp_shutdown();
	return 0;
}
