/* SPDX-License-Identifier: BSD-3-Clause */
#include "dtls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>

#define DTLS_HANDSHAKE_TIMEOUT_MS 15000
/* RFC 6347 §4.2.4.1 suggests 1 s, doubling to 60 s. A lost flight would
 * then hold up a call for a second, on a path ICE has just shown to work,
 * where a needless resend costs one datagram; and the whole handshake has
 * 15 s anyway. */
#define DTLS_RTO_INITIAL_MS 100
#define DTLS_RTO_MAX_MS 4000

/* RFC 5764 §4.2 */
#define DTLS_SRTP_EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

/* ChangeCipherSpec and Finished take 75 bytes with AES-GCM: room to spare */
#define DTLS_KEPT_MAX 256
#define DTLS_KEPT_DGRAMS 2
/* a repeated client Finished is answered at most this often */
#define DTLS_RESEND_GAP_MS 100

struct dtls_ctx {
	SSL_CTX *ssl_ctx;
	BIO_METHOD *bio_meth;
	EVP_PKEY_CTX *keygen;       /* P-256, set up once */
	struct dtls_ctx_params params;
	struct dtls_stats st;
};

/* Datagrams kept after OpenSSL has written them. */
struct dtls_kept {
	uint8_t b[DTLS_KEPT_MAX];
	uint16_t len[DTLS_KEPT_DGRAMS];
	uint8_t n;
	bool overflow;
};

struct dtls_leg {
	struct dtls_ctx *ctx;
	SSL *ssl;                   /* until the handshake ends; owns the BIO,
				     * the certificate and its key */
	enum dtls_status status;
	enum dtls_fail fail;
	enum dtls_fail fail_hint;   /* set by a callback inside OpenSSL */
	bool fp_ok;
	uint8_t peer_fp[DTLS_FP_LEN];
	uint64_t handshake_deadline;
	uint64_t rtx_at;            /* next retransmission check */
	uint64_t resend_ok_at;      /* the last flight may go again from here */
	int profile;
	const char *cipher;         /* OpenSSL's static name */
	struct dtls_keybuf *keys;
	/* during one dtls_leg_* call: the datagram the BIO reads, and where
	 * the datagrams it writes go */
	const uint8_t *in;
	size_t in_len;
	dtls_emit_fn emit;
	void *emit_arg;
	struct dtls_kept *keep;     /* also copied here, if set */
	/* what is left of the handshake once OpenSSL's state is freed */
	struct dtls_kept flight;    /* our last flight, to send again */
	struct dtls_kept close;     /* a close_notify, made ready */
	struct dtls_keybuf own_keys;
};

static const char *const fail_labels[DTLS_FAIL_COUNT] = {
	[DTLS_FAIL_NONE] = "none",
#define DTLS_FAIL_LABEL(name, label, text) [DTLS_FAIL_##name] = label,
	DTLS_FAIL_REASONS(DTLS_FAIL_LABEL)
#undef DTLS_FAIL_LABEL
};

static const char *const fail_texts[DTLS_FAIL_COUNT] = {
	[DTLS_FAIL_NONE] = NULL,
#define DTLS_FAIL_TEXT(name, label, text) [DTLS_FAIL_##name] = text,
	DTLS_FAIL_REASONS(DTLS_FAIL_TEXT)
#undef DTLS_FAIL_TEXT
};

const char *
dtls_fail_label(enum dtls_fail f)
{
	return (unsigned)f < DTLS_FAIL_COUNT ? fail_labels[f] : "none";
}

/* ---- the datagram BIO ------------------------------------------------- */

/*
 * OpenSSL's memory BIO would concatenate the datagrams of a flight (DTLS
 * writes each one with a single BIO_write, after its buffering BIO packs
 * records up to the MTU), so a leg's BIO keeps datagram boundaries: a
 * write is one datagram handed to the caller's emit, a read returns the
 * one datagram the caller passed in, whole, or "retry" once it is taken.
 */
static int
bio_write(BIO *b, const char *p, int len)
{
	struct dtls_leg *l = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	/* outside a dtls_leg_* call there is nowhere to send: as if lost */
	if (l->emit != NULL) {
		l->emit(l->emit_arg, (const uint8_t *)p, (size_t)len);
		l->ctx->st.datagrams_out++;
	}
	if (l->keep != NULL) {
		struct dtls_kept *k = l->keep;
		size_t used = 0;

		for (unsigned i = 0; i < k->n; i++)
			used += k->len[i];
		if (k->n < DTLS_KEPT_DGRAMS &&
		    (size_t)len <= sizeof(k->b) - used) {
			memcpy(k->b + used, p, (size_t)len);
			k->len[k->n++] = (uint16_t)len;
		} else {
			k->overflow = true;
		}
	}
	return len;
}

static int
bio_read(BIO *b, char *p, int size)
{
	struct dtls_leg *l = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (l->in == NULL || size <= 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	/* like recv() on a datagram socket: a datagram larger than the read
	 * buffer is truncated */
	n = l->in_len < (size_t)size ? l->in_len : (size_t)size;
	memcpy(p, l->in, n);
	l->in = NULL;
	l->in_len = 0;
	return (int)n;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct dtls_leg *l = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return l != NULL && l->in != NULL ? (long)l->in_len : 0;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return l != NULL ? (long)l->ctx->params.mtu : DTLS_MTU;
	default:
		/* WPENDING, peer addresses, socket timeouts: nothing here */
		return 0;
	}
}

static BIO_METHOD *
bio_method_new(void)
{
	int idx = BIO_get_new_index();
	BIO_METHOD *m;

	if (idx < 0)
		return NULL;
	m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "sotto dtls leg");
	if (m == NULL)
		return NULL;
	if (BIO_meth_set_write(m, bio_write) != 1 ||
	    BIO_meth_set_read(m, bio_read) != 1 ||
	    BIO_meth_set_ctrl(m, bio_ctrl) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* ---- parsing ---------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
dtls_fingerprint_parse(const char *s, uint8_t out[DTLS_FP_LEN])
{
	if (s == NULL)
		return -EINVAL;
	/* RFC 8122 §5: hash-func SP fingerprint */
	if (strncasecmp(s, "sha-256", 7) == 0 &&
	    (s[7] == ' ' || s[7] == '\t')) {
		s += 8;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	for (size_t i = 0; i < DTLS_FP_LEN; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i + 1 < DTLS_FP_LEN) {
			if (*s != ':')
				return -EINVAL;
			s++;
		}
	}
	return *s == '\0' ? 0 : -EINVAL;
}

int
dtls_srtp_offer_pick(const uint8_t *ext, size_t len)
{
	size_t plen;
	bool gcm = false, cm80 = false;

	/* RFC 5764 §4.1.1: SRTPProtectionProfiles<2..2^16-1>,
	 * srtp_mki<0..255> */
	if (ext == NULL || len < 2)
		return -EINVAL;
	plen = (size_t)ext[0] << 8 | ext[1];
	if (plen < 2 || plen % 2 != 0 || len < 2 + plen + 1 ||
	    len != 2 + plen + 1 + ext[2 + plen])
		return -EINVAL;
	for (size_t i = 2; i < 2 + plen; i += 2) {
		unsigned id = (unsigned)ext[i] << 8 | ext[i + 1];

		gcm |= id == DTLS_SRTP_AEAD_AES_128_GCM;
		cm80 |= id == DTLS_SRTP_AES128_CM_SHA1_80;
	}
	if (gcm)
		return DTLS_SRTP_AEAD_AES_128_GCM;
	return cm80 ? DTLS_SRTP_AES128_CM_SHA1_80 : 0;
}

/* ---- OpenSSL callbacks ------------------------------------------------ */

/*
 * Before OpenSSL answers a ClientHello: without a profile sotto takes the
 * handshake would go on with no SRTP (RFC 5764 §4.1.1 lets the server omit
 * use_srtp), so refuse here, before any signature is spent on it.
 */
static int
client_hello_cb(SSL *s, int *al, void *arg)
{
	struct dtls_leg *l = SSL_get_app_data(s);
	const unsigned char *ext;
	size_t len;

	(void)arg;
	if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_use_srtp, &ext,
				      &len) != 1 ||
	    dtls_srtp_offer_pick(ext, len) <= 0) {
		l->fail_hint = DTLS_FAIL_NO_SRTP;
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * Replaces chain verification: the certificate is self-signed and stands
 * for nothing but its key, which the SDP's fingerprint pins (RFC 5763 §5,
 * RFC 8122). OpenSSL still checks CertificateVerify, i.e. that the peer
 * holds the key.
 */
static int
verify_fingerprint_cb(X509_STORE_CTX *xs, void *arg)
{
	int idx = SSL_get_ex_data_X509_STORE_CTX_idx();
	SSL *s = X509_STORE_CTX_get_ex_data(xs, idx);
	struct dtls_leg *l = s != NULL ? SSL_get_app_data(s) : NULL;
	X509 *peer = X509_STORE_CTX_get0_cert(xs);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	(void)arg;
	if (l == NULL || peer == NULL ||
	    X509_digest(peer, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != DTLS_FP_LEN ||
	    CRYPTO_memcmp(md, l->peer_fp, DTLS_FP_LEN) != 0) {
		if (l != NULL)
			l->fail_hint = DTLS_FAIL_FINGERPRINT;
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	l->fp_ok = true;
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/* OpenSSL asks for the next retransmission interval (0: first flight). */
static unsigned int
timer_cb(SSL *s, unsigned int timer_us)
{
	const struct dtls_leg *l = SSL_get_app_data(s);
	unsigned max_us = l->ctx->params.rto_max_ms * 1000u;

	if (timer_us == 0)
		return l->ctx->params.rto_initial_ms * 1000u;
	return timer_us >= max_us / 2 ? max_us : timer_us * 2;
}

/* ---- context ---------------------------------------------------------- */

struct dtls_ctx *
dtls_ctx_new(const struct dtls_ctx_params *params)
{
	struct dtls_ctx *ctx = calloc(1, sizeof(*ctx));
	SSL_CTX *s;

	if (ctx == NULL)
		return NULL;
	if (params != NULL)
		ctx->params = *params;
	if (ctx->params.handshake_timeout_ms == 0)
		ctx->params.handshake_timeout_ms = DTLS_HANDSHAKE_TIMEOUT_MS;
	if (ctx->params.rto_initial_ms == 0)
		ctx->params.rto_initial_ms = DTLS_RTO_INITIAL_MS;
	if (ctx->params.rto_max_ms == 0)
		ctx->params.rto_max_ms = DTLS_RTO_MAX_MS;
	if (ctx->params.mtu == 0)
		ctx->params.mtu = DTLS_MTU;
	if (ctx->params.rto_max_ms < ctx->params.rto_initial_ms ||
	    ctx->params.rto_max_ms > 60000 || ctx->params.mtu < 256 ||
	    ctx->params.mtu > DTLS_MTU) {
		free(ctx);
		errno = EINVAL;
		return NULL;
	}

	ctx->bio_meth = bio_method_new();
	ctx->keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	s = ctx->ssl_ctx = SSL_CTX_new(DTLS_server_method());
	if (ctx->bio_meth == NULL || ctx->keygen == NULL || s == NULL ||
	    EVP_PKEY_keygen_init(ctx->keygen) != 1 ||
	    EVP_PKEY_CTX_set_group_name(ctx->keygen, "P-256") != 1)
		goto fail;
	/* OpenSSL 3.0 has no DTLS 1.3; a 1.3 client falls back to 1.2 */
	if (SSL_CTX_set_min_proto_version(s, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(s, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(s, "ECDHE-ECDSA-AES128-GCM-SHA256:"
				       "ECDHE-ECDSA-AES256-GCM-SHA384:"
				       "ECDHE-ECDSA-CHACHA20-POLY1305") != 1 ||
	    SSL_CTX_set1_groups_list(s, "X25519:P-256") != 1 ||
	    /* returns 0 on success */
	    SSL_CTX_set_tlsext_use_srtp(s, "SRTP_AEAD_AES_128_GCM:"
					   "SRTP_AES128_CM_SHA1_80") != 0)
		goto fail;
	/*
	 * No cookie exchange (SSL_OP_COOKIE_EXCHANGE stays off): a leg only
	 * answers the 5-tuple ICE has checked and consented to (RFC 7675),
	 * so a spoofed source cannot aim its flights at a third party, which
	 * is what the cookie is for. No session cache and no tickets: a
	 * cached session would keep the master secret after the leg is gone.
	 * SSL_OP_CIPHER_SERVER_PREFERENCE also makes OpenSSL pick the first
	 * shared group in our list; for use_srtp it always takes our order.
	 */
	SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
				       SSL_OP_NO_RENEGOTIATION |
				       SSL_OP_CIPHER_SERVER_PREFERENCE |
				       SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	/* no effect on DTLS in OpenSSL 3.0; the leg frees its buffers after
	 * every call instead (leg_idle) */
	SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	SSL_CTX_set_cert_verify_callback(s, verify_fingerprint_cb, NULL);
	SSL_CTX_set_client_hello_cb(s, client_hello_cb, NULL);
	return ctx;
fail:
	ERR_clear_error();
	dtls_ctx_free(ctx);
	errno = ENOMEM;
	return NULL;
}

void
dtls_ctx_free(struct dtls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	BIO_meth_free(ctx->bio_meth);
	EVP_PKEY_CTX_free(ctx->keygen);
	free(ctx);
}

void
dtls_ctx_get_stats(const struct dtls_ctx *ctx, struct dtls_stats *st)
{
	*st = ctx->st;
}

/* ---- certificates ----------------------------------------------------- */

static void
hex_fingerprint(const uint8_t *md, char out[DTLS_FP_STR_LEN])
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < DTLS_FP_LEN; i++) {
		out[3 * i] = hex[md[i] >> 4];
		out[3 * i + 1] = hex[md[i] & 15];
		out[3 * i + 2] = i + 1 < DTLS_FP_LEN ? ':' : '\0';
	}
}

/*
 * The SubjectPublicKeyInfo written by hand (RFC 5480 §2: id-ecPublicKey,
 * namedCurve secp256r1, the uncompressed point): X509_set_pubkey gets
 * there through OpenSSL 3.0's encoder lookup, 280 us a call, five times
 * the key generation.
 */
static int
set_spki(X509 *x, EVP_PKEY *key)
{
	uint8_t pt[65], *penc;
	size_t ptlen = 0;

	if (EVP_PKEY_get_octet_string_param(key,
					    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
					    pt, sizeof(pt), &ptlen) != 1 ||
	    ptlen != sizeof(pt) || pt[0] != 0x04)
		return -1;
	penc = OPENSSL_memdup(pt, ptlen);
	if (penc == NULL)
		return -1;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
				   OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
				   V_ASN1_OBJECT,
				   OBJ_nid2obj(NID_X9_62_prime256v1), penc,
				   (int)ptlen) != 1) {
		OPENSSL_free(penc);
		return -1;
	}
	return 0;
}

/* The certificate as a peer would parse it: OpenSSL keeps the decoded
 * public key only from parsing, and SSL_use_certificate needs it. */
static int
reparse(X509 **x)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	int len = i2d_X509(*x, &der);
	X509 *y;

	if (len <= 0)
		return -1;
	p = der;
	y = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	if (y == NULL || X509_get0_pubkey(y) == NULL) {
		X509_free(y);
		return -1;
	}
	X509_free(*x);
	*x = y;
	return 0;
}

int
dtls_cert_new(struct dtls_ctx *ctx, struct dtls_cert *c)
{
	uint8_t rnd[16], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t serial = 0;
	char cn[2 * 8 + 1];
	X509_NAME *name;

	memset(c, 0, sizeof(*c));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	/* a positive 63-bit serial, never 0 (RFC 5280 §4.1.2.2) */
	for (int i = 0; i < 8; i++)
		serial = serial << 8 | rnd[i];
	serial = (serial >> 1) | 1;
	/* a random CN: nothing in the certificate ties two legs together */
	for (int i = 0; i < 8; i++)
		snprintf(cn + 2 * i, 3, "%02x", rnd[8 + i]);

	c->x509 = X509_new();
	if (EVP_PKEY_keygen(ctx->keygen, &c->key) != 1 || c->x509 == NULL ||
	    X509_set_version(c->x509, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(c->x509),
				    serial) != 1 ||
	    /* an hour back for peers whose clock is behind; browsers ignore
	     * validity on DTLS-SRTP certificates, a handshake takes seconds */
	    X509_gmtime_adj(X509_getm_notBefore(c->x509), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c->x509), 86400) == NULL)
		goto fail;
	name = X509_get_subject_name(c->x509);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(c->x509, name) != 1 ||
	    set_spki(c->x509, c->key) < 0 ||
	    X509_sign(c->x509, c->key, EVP_sha256()) <= 0 ||
	    reparse(&c->x509) < 0 ||
	    X509_digest(c->x509, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != DTLS_FP_LEN)
		goto fail;
	hex_fingerprint(md, c->fingerprint);
	return 0;
fail:
	ERR_clear_error();
	dtls_cert_free(c);
	return -ENOMEM;
}

void
dtls_cert_free(struct dtls_cert *c)
{
	if (c == NULL)
		return;
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
	c->x509 = NULL;
	c->key = NULL;
}

/* ---- legs ------------------------------------------------------------- */

/*
 * A leg holds OpenSSL's state only while it handshakes. Once established it
 * keeps its SRTP keys and two things OpenSSL wrote before it was freed: its
 * last flight, sent again if the client repeats its Finished (RFC 6347
 * §4.2.4: the peer did not get ours), and a close_notify for the call's
 * end. A few hundred bytes instead of OpenSSL's ~40 KB per connection, and
 * the master secret, the certificate key and the peer's certificate are
 * gone as soon as the handshake is.
 *
 * What is lost: OpenSSL no longer reads the peer's records, so its alerts
 * (close_notify included) go unread; a leg ends by signaling or by ICE
 * consent (RFC 7675), which a forged alert could not fake anyway.
 */

struct dtls_leg *
dtls_leg_new(struct dtls_ctx *ctx, struct dtls_cert *cert,
	     const char *peer_fp, struct dtls_keybuf *keys, uint64_t now_ms)
{
	struct dtls_leg *l;
	BIO *bio = NULL;
	long frag;

	if (cert == NULL || cert->key == NULL || cert->x509 == NULL) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	if (dtls_fingerprint_parse(peer_fp, l->peer_fp) < 0) {
		free(l);
		errno = EINVAL;
		return NULL;
	}
	l->ctx = ctx;
	l->status = DTLS_CONTINUE;
	l->keys = keys != NULL ? keys : &l->own_keys;
	explicit_bzero(l->keys, sizeof(*l->keys));
	l->handshake_deadline = now_ms + ctx->params.handshake_timeout_ms;
	l->rtx_at = UINT64_MAX;

	l->ssl = SSL_new(ctx->ssl_ctx);
	bio = BIO_new(ctx->bio_meth);
	if (l->ssl == NULL || bio == NULL)
		goto fail;
	BIO_set_data(bio, l);
	BIO_set_init(bio, 1);
	SSL_set_bio(l->ssl, bio, bio); /* one reference, taken by the SSL */
	bio = NULL;
	SSL_set_app_data(l->ssl, l);
	/* the write buffer is sized for the largest record: nothing bigger
	 * than a datagram is ever written (OpenSSL's floor is 512) */
	frag = ctx->params.mtu < 512 ? 512 : (long)ctx->params.mtu;
	if (SSL_use_certificate(l->ssl, cert->x509) != 1 ||
	    SSL_use_PrivateKey(l->ssl, cert->key) != 1 ||
	    SSL_set_mtu(l->ssl, ctx->params.mtu) <= 0 ||
	    SSL_set_max_send_fragment(l->ssl, frag) != 1)
		goto fail;
	DTLS_set_timer_cb(l->ssl, timer_cb);
	SSL_set_accept_state(l->ssl);

	/* the SSL holds the only references now */
	dtls_cert_free(cert);
	ctx->st.legs_current++;
	return l;
fail:
	ERR_clear_error();
	BIO_free(bio);
	SSL_free(l->ssl);
	explicit_bzero(l->keys, sizeof(*l->keys));
	free(l);
	errno = ENOMEM;
	return NULL;
}

static void
io_begin(struct dtls_leg *l, const uint8_t *p, size_t len, dtls_emit_fn emit,
	 void *arg)
{
	l->in = p;
	l->in_len = len;
	l->emit = emit;
	l->emit_arg = arg;
	/* keep what this call sends: if it ends the handshake, it is the
	 * last flight */
	memset(&l->flight, 0, sizeof(l->flight));
	l->keep = &l->flight;
	ERR_clear_error();
}

/* The record buffers leg_idle freed: OpenSSL's DTLS write path expects its
 * buffer to be there. 0, or -ENOMEM. */
static int
io_buffers(struct dtls_leg *l)
{
	return SSL_alloc_buffers(l->ssl) == 1 ? 0 : -ENOMEM;
}

static void
io_end(struct dtls_leg *l)
{
	l->in = NULL;
	l->in_len = 0;
	l->emit = NULL;
	l->emit_arg = NULL;
	l->keep = NULL;
	/* OpenSSL's error queue is per thread: leave nothing for net.c */
	ERR_clear_error();
}

/* Why OpenSSL failed, from what a callback noted or the error queue. */
static enum dtls_fail
classify(const struct dtls_leg *l)
{
	enum dtls_fail f = DTLS_FAIL_PROTOCOL;
	unsigned long e;

	if (l->fail_hint != DTLS_FAIL_NONE)
		return l->fail_hint;
	while ((e = ERR_get_error()) != 0) {
		int reason = ERR_GET_REASON(e);

		if (ERR_GET_LIB(e) != ERR_LIB_SSL || f != DTLS_FAIL_PROTOCOL)
			continue;
		switch (reason) {
		case SSL_R_NO_SHARED_CIPHER:
		case SSL_R_NO_SHARED_GROUPS:
		case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
		case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
			f = DTLS_FAIL_NO_CIPHER;
			break;
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_VERSION_TOO_LOW:
			f = DTLS_FAIL_VERSION;
			break;
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
			f = DTLS_FAIL_NO_CERT;
			break;
		case SSL_R_READ_TIMEOUT_EXPIRED:
			f = DTLS_FAIL_TIMEOUT;
			break;
		case ERR_R_MALLOC_FAILURE:
			f = DTLS_FAIL_INTERNAL;
			break;
		default:
			/* a received alert is reported as its code + offset */
			if (reason >= SSL_AD_REASON_OFFSET &&
			    reason < SSL_AD_REASON_OFFSET + 256)
				f = DTLS_FAIL_PEER_ALERT;
			break;
		}
	}
	return f;
}

static enum dtls_status
leg_fail(struct dtls_leg *l, enum dtls_fail f)
{
	l->status = DTLS_FAILED;
	l->fail = f;
	l->rtx_at = UINT64_MAX;
	l->ctx->st.failed[f]++;
	return DTLS_FAILED;
}

/* The handshake is done on our side: check what OpenSSL let through and
 * export the SRTP keys. */
static enum dtls_status
leg_established(struct dtls_leg *l)
{
	const SRTP_PROTECTION_PROFILE *p =
		SSL_get_selected_srtp_profile(l->ssl);
	struct dtls_keybuf *kb = l->keys;
	size_t k = DTLS_SRTP_KEY_MAX, s;
	enum dtls_fail f = DTLS_FAIL_NONE;

	if (SSL_get0_peer_certificate(l->ssl) == NULL)
		f = DTLS_FAIL_NO_CERT;
	else if (!l->fp_ok)
		f = DTLS_FAIL_FINGERPRINT;
	else if (p == NULL || (p->id != DTLS_SRTP_AEAD_AES_128_GCM &&
			       p->id != DTLS_SRTP_AES128_CM_SHA1_80))
		f = DTLS_FAIL_NO_SRTP;
	if (f != DTLS_FAIL_NONE) {
		/* the peer thinks it is connected: tell it otherwise */
		SSL_shutdown(l->ssl);
		return leg_fail(l, f);
	}
	/* RFC 7714 §12: 96-bit salt for AEAD_AES_128_GCM; RFC 3711: 112 */
	s = p->id == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	if (SSL_export_keying_material(l->ssl, kb->exported, 2 * (k + s),
				       DTLS_SRTP_EXPORTER_LABEL,
				       strlen(DTLS_SRTP_EXPORTER_LABEL), NULL,
				       0, 0) != 1) {
		explicit_bzero(kb, sizeof(*kb));
		SSL_shutdown(l->ssl);
		return leg_fail(l, DTLS_FAIL_INTERNAL);
	}
	/* RFC 5764 §4.2: client key, server key, client salt, server salt;
	 * the client is remote, we are the server */
	memcpy(kb->remote, kb->exported, k);
	memcpy(kb->local, kb->exported + k, k);
	memcpy(kb->remote + k, kb->exported + 2 * k, s);
	memcpy(kb->local + k, kb->exported + 2 * k + s, s);
	explicit_bzero(kb->exported, sizeof(kb->exported));
	l->profile = (int)p->id;
	l->cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(l->ssl));

	/* the close_notify for later: written now, kept, not sent */
	l->emit = NULL;
	l->keep = &l->close;
	SSL_shutdown(l->ssl);
	l->keep = NULL;
	if (l->flight.overflow)
		l->flight.n = 0; /* cannot be sent again whole */

	l->status = DTLS_DONE;
	l->rtx_at = UINT64_MAX;
	l->ctx->st.handshakes_done++;
	return DTLS_DONE;
}

/* After every call: OpenSSL's state goes once the handshake is over (its
 * alert, if any, is out); meanwhile its record buffers (18 KB), which
 * SSL_MODE_RELEASE_BUFFERS does not release for DTLS, are freed between
 * datagrams: most of a handshake is waiting for the peer. */
static void
leg_idle(struct dtls_leg *l, uint64_t now_ms)
{
	struct timeval tv;

	if (l->status != DTLS_CONTINUE) {
		SSL_free(l->ssl);
		l->ssl = NULL;
		l->rtx_at = UINT64_MAX;
		return;
	}
	(void)SSL_free_buffers(l->ssl); /* 0: a record still pending */
	/* OpenSSL's retransmission timer runs on gettimeofday(); what is
	 * left of it, moved onto the caller's clock */
	if (DTLSv1_get_timeout(l->ssl, &tv) == 1)
		l->rtx_at = now_ms + (uint64_t)tv.tv_sec * 1000 +
			    ((uint64_t)tv.tv_usec + 999) / 1000;
	else
		l->rtx_at = UINT64_MAX;
}

/* Established, OpenSSL's state gone: a handshake record in epoch 1 is the
 * client's Finished again, so ours did not arrive; anything else waits for
 * the dataplane's SRTP or is dropped. */
static void
leg_late_record(struct dtls_leg *l, const uint8_t *p, size_t len,
		uint64_t now_ms, dtls_emit_fn emit, void *arg)
{
	bool finished_again = false;
	size_t off = 0;

	/* RFC 6347 §4.1: type, version, epoch, sequence_number, length */
	while (len - off >= DTLS1_RT_HEADER_LENGTH) {
		const uint8_t *r = p + off;
		unsigned epoch = (unsigned)r[3] << 8 | r[4];
		size_t rlen = (size_t)r[11] << 8 | r[12];

		if (r[0] == SSL3_RT_HANDSHAKE && epoch == 1)
			finished_again = true;
		if (rlen > len - off - DTLS1_RT_HEADER_LENGTH)
			break;
		off += DTLS1_RT_HEADER_LENGTH + rlen;
	}
	if (!finished_again || l->flight.n == 0 || now_ms < l->resend_ok_at ||
	    emit == NULL) {
		l->ctx->st.records_ignored++;
		return;
	}
	/* the same records again: new sequence numbers would need OpenSSL's
	 * state; a client that got them drops the copies as replays */
	off = 0;
	for (unsigned i = 0; i < l->flight.n; i++) {
		emit(arg, l->flight.b + off, l->flight.len[i]);
		off += l->flight.len[i];
		l->ctx->st.datagrams_out++;
	}
	l->ctx->st.final_flight_resent++;
	l->resend_ok_at = now_ms + DTLS_RESEND_GAP_MS;
}

enum dtls_status
dtls_leg_input(struct dtls_leg *l, const uint8_t *p, size_t len,
	       uint64_t now_ms, dtls_emit_fn emit, void *arg)
{
	int r;

	if (l->status == DTLS_DONE)
		leg_late_record(l, p, len, now_ms, emit, arg);
	if (l->status != DTLS_CONTINUE)
		return l->status;
	if (len == 0) /* a read of 0 bytes would be EOF to OpenSSL */
		return l->status;
	if (now_ms >= l->handshake_deadline) {
		leg_fail(l, DTLS_FAIL_TIMEOUT);
		leg_idle(l, now_ms);
		return DTLS_FAILED;
	}

	io_begin(l, p, len, emit, arg);
	if (io_buffers(l) < 0) {
		leg_fail(l, DTLS_FAIL_INTERNAL);
	} else if ((r = SSL_do_handshake(l->ssl)) == 1) {
		leg_established(l);
	} else {
		switch (SSL_get_error(l->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			break;
		default:
			leg_fail(l, classify(l));
			break;
		}
	}
	io_end(l);
	leg_idle(l, now_ms);
	return l->status;
}

uint64_t
dtls_leg_deadline(const struct dtls_leg *l)
{
	if (l->status != DTLS_CONTINUE)
		return UINT64_MAX;
	return l->rtx_at < l->handshake_deadline ? l->rtx_at
						 : l->handshake_deadline;
}

enum dtls_status
dtls_leg_timeout(struct dtls_leg *l, uint64_t now_ms, dtls_emit_fn emit,
		 void *arg)
{
	if (l->status != DTLS_CONTINUE)
		return l->status;
	if (now_ms >= l->handshake_deadline) {
		leg_fail(l, DTLS_FAIL_TIMEOUT);
		leg_idle(l, now_ms);
		return DTLS_FAILED;
	}
	if (now_ms < l->rtx_at)
		return DTLS_CONTINUE;
	io_begin(l, NULL, 0, emit, arg);
	if (io_buffers(l) < 0) {
		leg_fail(l, DTLS_FAIL_INTERNAL);
	} else {
		/* 1: the flight was sent again; 0: OpenSSL's timer is not
		 * due yet (the clocks differ by a rounding); <0: it gave up */
		int r = DTLSv1_handle_timeout(l->ssl);

		if (r > 0)
			l->ctx->st.retransmit_timeouts++;
		else if (r < 0)
			leg_fail(l, classify(l));
	}
	io_end(l);
	leg_idle(l, now_ms);
	return l->status;
}

void
dtls_leg_shutdown(struct dtls_leg *l, dtls_emit_fn emit, void *arg)
{
	size_t off = 0;

	if (l->status != DTLS_DONE)
		return;
	for (unsigned i = 0; i < l->close.n && !l->close.overflow; i++) {
		emit(arg, l->close.b + off, l->close.len[i]);
		off += l->close.len[i];
		l->ctx->st.datagrams_out++;
	}
	l->status = DTLS_CLOSED;
	l->ctx->st.closed++;
}

enum dtls_status
dtls_leg_status(const struct dtls_leg *l)
{
	return l->status;
}

enum dtls_fail
dtls_leg_fail_reason(const struct dtls_leg *l)
{
	return l->fail;
}

const char *
dtls_leg_error(const struct dtls_leg *l)
{
	return l->status == DTLS_FAILED ? fail_texts[l->fail] : NULL;
}

int
dtls_leg_srtp_keys(const struct dtls_leg *l, struct dtls_srtp_keys *k)
{
	if (l->status != DTLS_DONE)
		return -EAGAIN;
	k->profile = l->profile;
	k->key_len = DTLS_SRTP_KEY_MAX;
	k->salt_len = l->profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	k->local = l->keys->local;
	k->remote = l->keys->remote;
	return 0;
}

const char *
dtls_leg_cipher(const struct dtls_leg *l)
{
	return l->status == DTLS_DONE ? l->cipher : NULL;
}

void
dtls_leg_free(struct dtls_leg *l)
{
	if (l == NULL)
		return;
	explicit_bzero(l->keys, sizeof(*l->keys));
	/* a leg still handshaking: the BIO, the certificate and the key go
	 * with the SSL; OpenSSL cleanses the secrets it holds */
	SSL_free(l->ssl);
	l->ctx->st.legs_current--;
	free(l);
}
