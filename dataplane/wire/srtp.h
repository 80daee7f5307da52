/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DP_SRTP_H
#define SOTTO_DP_SRTP_H

/*
 * SRTP and SRTCP transforms for gateway mode (RFC 3711, RFC 7714), in place
 * on a caller-owned buffer, with no allocation, lock or syscall per packet.
 *
 * One context per direction per leg: a PROTECT context holds the keys sotto
 * sends with (its DTLS exporter half), an UNPROTECT context the keys the
 * browser sends with. The control thread builds contexts before a worker
 * can see them and tears them down after it no longer can; a context is
 * used by one worker at a time. Teardown wipes every byte of key material
 * (session keys, HMAC pads, GHASH key, AES key schedules).
 *
 * Profiles: SRTP_AEAD_AES_128_GCM (RFC 7714) and SRTP_AES128_CM_HMAC_SHA1_80
 * (RFC 3711), nothing else. No MKI, key derivation rate 0 (RFC 5764 §4.1.2).
 *
 * The prefix is dp_srtp_ and not srtp_ because libsrtp2 owns srtp_* and
 * the interop tests link both.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DTLS-SRTP protection profile ids (RFC 5764 §4.1.2, RFC 7714 §14.2) */
enum dp_srtp_profile {
	DP_SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001,
	DP_SRTP_AEAD_AES_128_GCM = 0x0007,
};

enum dp_srtp_dir {
	DP_SRTP_PROTECT = 1,    /* sotto → browser: our keys */
	DP_SRTP_UNPROTECT = 2,  /* browser → sotto: the browser's keys */
};

/*
 * Why a packet was refused. The per-packet functions return 0 or
 * -DP_SRTP_ERR_x; the dataplane counts drops under these labels.
 */
#define DP_SRTP_FOREACH_ERR(X)                                                \
	X(MALFORMED, "srtp_malformed")       /* not RTP/RTCP, or too short */  \
	X(SSRC, "srtp_unknown_ssrc")         /* not in the context's table */  \
	X(REPLAY, "srtp_replay")             /* index seen or sent before */   \
	X(OLD, "srtp_too_old")               /* index behind the window */     \
	X(AUTH, "srtp_auth")                 /* tag does not verify */         \
	X(NOSPACE, "srtp_no_tailroom")       /* protect: buffer too small */   \
	X(EXHAUSTED, "srtp_index_exhausted") /* RFC 3711 §9.2: rekey */       \
	X(INVAL, "srtp_invalid_use")         /* wrong direction/profile */     \
	X(CRYPTO, "srtp_crypto")             /* libcrypto failed */

enum dp_srtp_err {
	DP_SRTP_OK = 0,
#define X(name, str) DP_SRTP_ERR_##name,
	DP_SRTP_FOREACH_ERR(X)
#undef X
	DP_SRTP_N_ERR
};

/* label for a return value of the functions below ("ok" for 0) */
const char *dp_srtp_strerror(int rc);

#define DP_SRTP_MAX_SSRC 8         /* streams per context */
#define DP_SRTP_REPLAY_WINDOW 128  /* packets; RFC 3711 §3.3.2 asks >= 64 */
#define DP_SRTP_MAX_KEY_LEN 16
#define DP_SRTP_MAX_SALT_LEN 14
#define DP_SRTP_MAX_PKT 65535      /* largest packet accepted, trailer incl. */
/* most bytes protect adds: SRTCP with GCM (tag 16 + E/index 4) */
#define DP_SRTP_MAX_TRAILER 20

/* master key and salt lengths, RTP and RTCP trailer sizes; 0 if unknown */
size_t dp_srtp_key_len(enum dp_srtp_profile p);
size_t dp_srtp_salt_len(enum dp_srtp_profile p);
size_t dp_srtp_rtp_trailer(enum dp_srtp_profile p);
size_t dp_srtp_rtcp_trailer(enum dp_srtp_profile p);

/* true for the two profiles sotto accepts */
bool dp_srtp_profile_ok(int p);

/* ---- control side: keys ---- */

struct dp_srtp_master {
	uint8_t key[DP_SRTP_MAX_KEY_LEN];
	uint8_t salt[DP_SRTP_MAX_SALT_LEN];
	uint8_t key_len;
	uint8_t salt_len;
};

/* bytes to ask the DTLS exporter for ("EXTRACTOR-dtls_srtp"): 2 keys +
 * 2 salts; 0 for an unknown profile */
size_t dp_srtp_exporter_len(enum dp_srtp_profile p);

/*
 * RFC 5764 §4.2: the exporter output is client_write_key | server_write_key
 * | client_write_salt | server_write_salt. The local half (what we protect
 * with) is the server's when is_server. 0, or -EINVAL for a wrong profile
 * or length. The caller wipes material, local and remote when done.
 */
int dp_srtp_keys_from_exporter(enum dp_srtp_profile p, const uint8_t *material,
			       size_t len, bool is_server,
			       struct dp_srtp_master *local,
			       struct dp_srtp_master *remote);

/* session keys (RFC 3711 §4.3, RFC 7714 §11): what a context runs on */
struct dp_srtp_session_keys {
	uint8_t rtp_key[16];
	uint8_t rtp_salt[14];   /* GCM uses the first 12 */
	uint8_t rtp_auth[20];   /* AES-CM/HMAC-SHA1 only */
	uint8_t rtcp_key[16];
	uint8_t rtcp_salt[14];
	uint8_t rtcp_auth[20];
};

/*
 * The AES-CM PRF of RFC 3711 §4.3.3 with key derivation rate 0: the six
 * session keys from a master key and salt. A 12-byte (GCM) master salt is
 * used as the top 96 bits of the 112-bit PRF input (RFC 7714 §11).
 * 0, or -EINVAL (lengths) / -EIO (libcrypto).
 */
int dp_srtp_kdf(enum dp_srtp_profile p, const uint8_t *master_key,
		size_t key_len, const uint8_t *master_salt, size_t salt_len,
		struct dp_srtp_session_keys *out);

/* ---- control side: contexts ---- */

struct dp_srtp_ctx;

/* bytes and alignment a context needs in caller-provided memory */
size_t dp_srtp_ctx_size(void);
#define DP_SRTP_CTX_ALIGN 64

/*
 * Builds a context in mem (dp_srtp_ctx_size() bytes, DP_SRTP_CTX_ALIGN
 * aligned, e.g. from a mempool) from session keys. mem must stay put until
 * dp_srtp_ctx_fini(). NULL with errno EINVAL (profile, direction, size,
 * alignment) or ENOMEM/EIO (libcrypto).
 */
struct dp_srtp_ctx *dp_srtp_ctx_init(void *mem, size_t size,
				     enum dp_srtp_profile p,
				     enum dp_srtp_dir dir,
				     const struct dp_srtp_session_keys *k);

/* Wipes all of mem and frees the libcrypto state (which libcrypto
 * cleanses). mem is all zero afterwards and the caller's again. */
void dp_srtp_ctx_fini(struct dp_srtp_ctx *c);

/* The same on heap memory, from a master key and salt. NULL and errno. */
struct dp_srtp_ctx *dp_srtp_ctx_new(enum dp_srtp_profile p,
				    enum dp_srtp_dir dir,
				    const uint8_t *master_key, size_t key_len,
				    const uint8_t *master_salt,
				    size_t salt_len);
/* fini + free; for contexts from dp_srtp_ctx_new() only */
void dp_srtp_ctx_free(struct dp_srtp_ctx *c);

/*
 * SSRCs. By default a context learns up to DP_SRTP_MAX_SSRC streams: an
 * unknown SSRC gets a slot once a packet from it authenticates (unprotect)
 * or is protected. add_ssrc() names one in advance, with its rollover
 * counter if known (RFC 3711 §3.3.1); set_learning(c, false) then refuses
 * any other. Control side, before the context is published to a worker.
 * 0, -ENOSPC (table full), -EEXIST.
 *
 * A PROTECT context refuses an index it has already used, so whoever
 * forwards several speakers on one outgoing SSRC must give that SSRC its
 * own increasing sequence numbers.
 */
int dp_srtp_ctx_add_ssrc(struct dp_srtp_ctx *c, uint32_t ssrc, uint32_t roc);
void dp_srtp_ctx_set_learning(struct dp_srtp_ctx *c, bool on);

enum dp_srtp_profile dp_srtp_ctx_profile(const struct dp_srtp_ctx *c);

/* ---- per packet (fast path) ---- */

/*
 * RTP in pkt[0..len) → SRTP in pkt[0..*out_len), *out_len = len + trailer
 * <= cap. The sequence number in the header gives the index; an index
 * already protected under this context is refused (REPLAY/OLD) because
 * reusing it would reuse the keystream / GCM nonce.
 */
int dp_srtp_protect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len,
		    size_t cap, size_t *out_len);

/*
 * SRTP → RTP in place. The tag is checked before anything is decrypted
 * (AES-CM) or as part of it (GCM); on any failure the packet must be
 * dropped: *out_len is not set, the stream state is not touched, and with
 * GCM the payload bytes are zeroed so no unauthenticated plaintext leaks.
 */
int dp_srtp_unprotect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len,
		      size_t *out_len);

/* RTCP → SRTCP (E=1, encrypted; RFC 3711 §3.4, RFC 7714 §9) */
int dp_srtcp_protect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len,
		     size_t cap, size_t *out_len);
/* SRTCP → RTCP; accepts E=0 (authenticated only) as well */
int dp_srtcp_unprotect(struct dp_srtp_ctx *c, uint8_t *pkt, size_t len,
		       size_t *out_len);

#endif
