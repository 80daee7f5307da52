/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DTLS_H
#define SOTTO_DTLS_H

/*
 * DTLS-SRTP server legs for gateway mode (RFC 5763, RFC 5764, RFC 8842):
 * sotto is every participant's DTLS server (a=setup:passive). A leg has no
 * socket: the control thread hands it each datagram the dataplane demuxed
 * as DTLS (RFC 7983: first byte 20-63) and sends what the leg emits.
 *
 *   - DTLS 1.2 only (OpenSSL 3.0 has no DTLS 1.3). A DTLS 1.3 ClientHello
 *     (Chromium) still carries legacy_version DTLS 1.2 and 1.2 suites, and
 *     OpenSSL's DTLS server ignores supported_versions, so it negotiates
 *     down; a ClientHello split over several handshake fragments is
 *     reassembled by OpenSSL.
 *   - ECDHE with ECDSA and AEAD record ciphers only; SRTP profiles
 *     SRTP_AEAD_AES_128_GCM (preferred) and SRTP_AES128_CM_SHA1_80, a
 *     ClientHello offering neither is refused before any signature is made.
 *   - The peer's certificate is accepted on its SHA-256 fingerprint from
 *     the SDP alone (RFC 8122); no chain is built.
 *   - Each leg has its own fresh self-signed ECDSA P-256 certificate; no
 *     session cache, no tickets, so no key or certificate outlives the leg.
 *   - Every datagram written is at most DTLS_MTU bytes.
 *   - Retransmission (RFC 6347 §4.2.4) and the overall handshake deadline
 *     run from the caller's timer: dtls_leg_deadline() says when to call
 *     dtls_leg_timeout(). Nothing here blocks or sleeps.
 *   - OpenSSL's state lives only while the leg handshakes (about 50 KB,
 *     its record buffers freed between datagrams). When the handshake ends
 *     it is freed, with the master secret, the certificate's key and the
 *     peer's certificate; an established leg keeps its SRTP keys, a copy of
 *     its last flight (sent again if the client repeats its Finished) and
 *     a ready close_notify: under 1 KB. The peer's later records, alerts
 *     included, are not read: a leg ends by signaling or ICE consent.
 *
 * Not thread-safe: a dtls_ctx and its legs live on one thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define DTLS_MTU 1200                    /* largest datagram a leg writes */
#define DTLS_FP_LEN 32                   /* SHA-256 */
#define DTLS_FP_STR_LEN (DTLS_FP_LEN * 3) /* "AB:CD:..:EF" and its NUL */

/* SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) */
#define DTLS_SRTP_AES128_CM_SHA1_80 0x0001
#define DTLS_SRTP_AEAD_AES_128_GCM 0x0007
#define DTLS_SRTP_KEY_MAX 16
#define DTLS_SRTP_SALT_MAX 14

/* Why a leg failed: name, metric label, text for logs. */
#define DTLS_FAIL_REASONS(X)                                                  \
	X(TIMEOUT, "timeout", "timeout")                                      \
	X(FINGERPRINT, "fingerprint_mismatch", "fingerprint mismatch")        \
	X(NO_SRTP, "no_srtp_profile", "no acceptable SRTP profile")           \
	X(NO_CIPHER, "no_shared_cipher", "no shared cipher")                  \
	X(VERSION, "version", "no shared DTLS version")                       \
	X(NO_CERT, "no_peer_certificate", "no peer certificate")              \
	X(PEER_ALERT, "peer_alert", "alert from peer")                        \
	X(PROTOCOL, "protocol", "protocol error")                             \
	X(INTERNAL, "internal", "internal error")

enum dtls_fail {
	DTLS_FAIL_NONE,
#define DTLS_FAIL_ENUM(name, label, text) DTLS_FAIL_##name,
	DTLS_FAIL_REASONS(DTLS_FAIL_ENUM)
#undef DTLS_FAIL_ENUM
	DTLS_FAIL_COUNT
};

/* "timeout", "fingerprint_mismatch", ...; "none" for DTLS_FAIL_NONE */
const char *dtls_fail_label(enum dtls_fail f);

/* What dtls_leg_input and dtls_leg_timeout return. */
enum dtls_status {
	DTLS_CONTINUE, /* handshake in progress */
	DTLS_DONE,     /* established: dtls_leg_srtp_keys() works */
	DTLS_FAILED,   /* dtls_leg_error() says why; free the leg */
	DTLS_CLOSED,   /* dtls_leg_shutdown sent our close_notify */
};

struct dtls_ctx_params {
	unsigned handshake_timeout_ms; /* whole handshake; 0: 15000 */
	unsigned rto_initial_ms;       /* first retransmission; 0: 100 */
	unsigned rto_max_ms;           /* doubling stops here; 0: 4000 */
	unsigned mtu;                  /* 256..DTLS_MTU; 0: DTLS_MTU */
};

struct dtls_stats {
	uint64_t legs_current;        /* a gauge: made and not freed */
	uint64_t handshakes_done;
	uint64_t closed;              /* by dtls_leg_shutdown */
	uint64_t retransmit_timeouts; /* timer firings that resent a flight */
	uint64_t datagrams_out;
	uint64_t final_flight_resent; /* a repeated client Finished answered */
	uint64_t records_ignored;     /* datagrams after the handshake, unread */
	uint64_t failed[DTLS_FAIL_COUNT];
};

struct dtls_ctx;

/* The shared server context (made once). NULL params: defaults. NULL on
 * error (errno set). */
struct dtls_ctx *dtls_ctx_new(const struct dtls_ctx_params *params);
void dtls_ctx_free(struct dtls_ctx *ctx);
void dtls_ctx_get_stats(const struct dtls_ctx *ctx, struct dtls_stats *st);

/* A fresh self-signed ECDSA P-256 certificate (key made by ctx's key
 * generator): random serial and CN, valid from an hour ago for a day;
 * fingerprint is its SHA-256 as SDP writes it (RFC 8122 §5: upper-case hex
 * pairs joined by ':'). 0 or -errno. */
struct dtls_cert {
	EVP_PKEY *key;
	X509 *x509;
	char fingerprint[DTLS_FP_STR_LEN];
};
int dtls_cert_new(struct dtls_ctx *ctx, struct dtls_cert *c);
/* Frees what is still held (the private key is cleansed by OpenSSL). */
void dtls_cert_free(struct dtls_cert *c);

/*
 * Where a leg keeps its SRTP keys: one buffer, wiped with explicit_bzero
 * when the leg is freed. local and remote are each master key then master
 * salt, contiguous (libsrtp's key layout); exported is the raw RFC 5764
 * §4.2 exporter output, wiped as soon as it is split.
 */
struct dtls_keybuf {
	uint8_t local[DTLS_SRTP_KEY_MAX + DTLS_SRTP_SALT_MAX];
	uint8_t remote[DTLS_SRTP_KEY_MAX + DTLS_SRTP_SALT_MAX];
	uint8_t exported[2 * (DTLS_SRTP_KEY_MAX + DTLS_SRTP_SALT_MAX)];
};

typedef void (*dtls_emit_fn)(void *arg, const uint8_t *p, size_t len);

struct dtls_leg;

/*
 * A server leg. On success the leg owns cert's key and certificate (cert's
 * pointers are cleared; its fingerprint string stays for the SDP); on
 * failure the caller still owns them. peer_fp is the value of the peer's
 * a=fingerprint, with or without its "sha-256 " hash name; only sha-256 is
 * accepted. keys: NULL to keep the keys inside the leg, or a caller-owned
 * buffer (tests use one to see it wiped after dtls_leg_free; it must outlive
 * the leg). NULL on error: EINVAL (bad fingerprint), ENOMEM.
 */
struct dtls_leg *dtls_leg_new(struct dtls_ctx *ctx, struct dtls_cert *cert,
			      const char *peer_fp, struct dtls_keybuf *keys,
			      uint64_t now_ms);

/* One datagram from the peer. emit is called for every datagram to send
 * back (each at most DTLS_MTU bytes), only during this call. Once the leg
 * is established the only answer is its last flight, to a repeated client
 * Finished (at most once per 100 ms). */
enum dtls_status dtls_leg_input(struct dtls_leg *l, const uint8_t *p,
				size_t len, uint64_t now_ms, dtls_emit_fn emit,
				void *arg);

/* When to call dtls_leg_timeout next, on the caller's clock (the one that
 * gave now_ms); UINT64_MAX when no timer is needed (not handshaking). */
uint64_t dtls_leg_deadline(const struct dtls_leg *l);
/* Retransmits a flight that is due and enforces the handshake deadline
 * (DTLS_FAILED, DTLS_FAIL_TIMEOUT). Calling it early is harmless. */
enum dtls_status dtls_leg_timeout(struct dtls_leg *l, uint64_t now_ms,
				  dtls_emit_fn emit, void *arg);

/* Sends the close_notify made when the handshake ended (call end); the leg
 * is then DTLS_CLOSED. Only from DTLS_DONE. */
void dtls_leg_shutdown(struct dtls_leg *l, dtls_emit_fn emit, void *arg);

enum dtls_status dtls_leg_status(const struct dtls_leg *l);
enum dtls_fail dtls_leg_fail_reason(const struct dtls_leg *l);
/* Why the leg failed, for logs ("fingerprint mismatch"); NULL if it has not. */
const char *dtls_leg_error(const struct dtls_leg *l);

/* After DTLS_DONE: the profile and the keys for the dataplane. The pointers
 * are into the leg's dtls_keybuf and valid until dtls_leg_free; copy them
 * only into state that is itself wiped (libsrtp's session). */
struct dtls_srtp_keys {
	int profile;          /* DTLS_SRTP_AEAD_AES_128_GCM or ..._CM_SHA1_80 */
	size_t key_len;       /* 16 */
	size_t salt_len;      /* 12 (GCM, RFC 7714 §12) or 14 (CM) */
	const uint8_t *local;  /* our (server) write key, then salt */
	const uint8_t *remote; /* the peer's (client) write key, then salt */
};
/* 0, or -EAGAIN before the handshake is done. */
int dtls_leg_srtp_keys(const struct dtls_leg *l, struct dtls_srtp_keys *k);

/* Negotiated record cipher, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256"; NULL
 * before the handshake is done. */
const char *dtls_leg_cipher(const struct dtls_leg *l);

/* Wipes the keys (explicit_bzero) and frees whatever is left: OpenSSL's
 * state, certificate and key of a leg still handshaking. NULL is fine. */
void dtls_leg_free(struct dtls_leg *l);

/*
 * From a ClientHello's use_srtp extension body (RFC 5764 §4.1.1), the
 * profile sotto takes: DTLS_SRTP_AEAD_AES_128_GCM if offered, else
 * DTLS_SRTP_AES128_CM_SHA1_80 if offered; 0 if neither, -EINVAL if the body
 * is malformed.
 */
int dtls_srtp_offer_pick(const uint8_t *ext, size_t len);

/* "AB:CD:..." (optionally after "sha-256 ", any case) → 32 bytes;
 * 0 or -EINVAL. */
int dtls_fingerprint_parse(const char *s, uint8_t out[DTLS_FP_LEN]);

#endif
