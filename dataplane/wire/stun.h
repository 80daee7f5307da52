/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_STUN_H
#define SOTTO_STUN_H

/*
 * STUN (RFC 8489) and TURN (RFC 8656) wire format: a zero-copy parser and a
 * bounded builder. No allocation, no I/O; safe on any bytes (fuzzed).
 */
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define STUN_HDR_LEN 20
#define STUN_MAGIC 0x2112A442u
#define STUN_MAX_ATTRS 40
#define STUN_TID_LEN 12

/* classes, already in message-type bit positions (RFC 8489 §5) */
#define STUN_REQUEST 0x0000
#define STUN_INDICATION 0x0010
#define STUN_SUCCESS 0x0100
#define STUN_ERROR 0x0110

/* methods */
#define STUN_BINDING 0x001
#define TURN_ALLOCATE 0x003
#define TURN_REFRESH 0x004
#define TURN_SEND 0x006
#define TURN_DATA 0x007
#define TURN_CREATE_PERMISSION 0x008
#define TURN_CHANNEL_BIND 0x009

/* attributes */
#define STUN_A_MAPPED_ADDRESS 0x0001
#define STUN_A_USERNAME 0x0006
#define STUN_A_MESSAGE_INTEGRITY 0x0008
#define STUN_A_ERROR_CODE 0x0009
#define STUN_A_UNKNOWN_ATTRIBUTES 0x000A
#define STUN_A_CHANNEL_NUMBER 0x000C
#define STUN_A_LIFETIME 0x000D
#define STUN_A_XOR_PEER_ADDRESS 0x0012
#define STUN_A_DATA 0x0013
#define STUN_A_REALM 0x0014
#define STUN_A_NONCE 0x0015
#define STUN_A_XOR_RELAYED_ADDRESS 0x0016
#define STUN_A_REQUESTED_ADDRESS_FAMILY 0x0017
#define STUN_A_EVEN_PORT 0x0018
#define STUN_A_REQUESTED_TRANSPORT 0x0019
#define STUN_A_DONT_FRAGMENT 0x001A
#define STUN_A_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_A_PASSWORD_ALGORITHM 0x001D
#define STUN_A_USERHASH 0x001E
#define STUN_A_XOR_MAPPED_ADDRESS 0x0020
#define STUN_A_RESERVATION_TOKEN 0x0022
#define STUN_A_PRIORITY 0x0024
#define STUN_A_USE_CANDIDATE 0x0025
#define STUN_A_ADDITIONAL_ADDRESS_FAMILY 0x8000
#define STUN_A_ADDRESS_ERROR_CODE 0x8001
#define STUN_A_PASSWORD_ALGORITHMS 0x8002
#define STUN_A_ALTERNATE_DOMAIN 0x8003
#define STUN_A_SOFTWARE 0x8022
#define STUN_A_ALTERNATE_SERVER 0x8023
#define STUN_A_FINGERPRINT 0x8028
#define STUN_A_ICE_CONTROLLED 0x8029
#define STUN_A_ICE_CONTROLLING 0x802A

static inline uint16_t stun_method(uint16_t type)
{
	return (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2);
}
static inline uint16_t stun_class(uint16_t type) { return type & 0x0110; }
static inline uint16_t stun_type(uint16_t method, uint16_t cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
			  ((method & 0x0F80) << 2) | cls);
}

struct stun_attr {
	uint16_t type;
	uint16_t len;       /* value length, without padding */
	uint16_t off;       /* offset of the attribute header in the message */
	const uint8_t *val;
};

struct stun_msg {
	const uint8_t *buf;
	uint16_t len;       /* 20 + message length */
	uint16_t type;
	uint16_t method;
	uint16_t cls;
	uint8_t tid[STUN_TID_LEN];
	uint16_t n_attrs;
	/* index into attrs[], or -1 */
	int16_t integrity;
	int16_t integrity_sha256;
	int16_t fingerprint;
	/* comprehension-required attributes (< 0x8000) this code does not
	 * know, each listed once, at most 8 (RFC 8489 §14: answer 420 with
	 * UNKNOWN-ATTRIBUTES) */
	uint16_t unknown_required[8];
	uint8_t n_unknown;
	struct stun_attr attrs[STUN_MAX_ATTRS];
};

/* stun_parse() results: 0 or one of these, negated */
#define STUN_EFORMAT 1   /* not STUN: bad leading bits, cookie, or length */
#define STUN_ETRUNC 2    /* attribute overruns the message */
#define STUN_ETOOMANY 3  /* more than STUN_MAX_ATTRS attributes */
#define STUN_EORDER 4    /* FINGERPRINT not last, or attribute after it */

/*
 * Parses one whole STUN message that is exactly len bytes (a UDP datagram).
 * Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and
 * FINGERPRINT are ignored, as RFC 8489 §14.5 says, and after
 * MESSAGE-INTEGRITY-SHA256 all but FINGERPRINT (§14.6); ignored ones are not
 * in attrs[]. Returns 0 or -STUN_E*.
 */
int stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

/* Quick test used by the fast path: first 2 bits zero, cookie, length. */
int stun_looks_like(const uint8_t *buf, size_t len);

const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type);

/* XOR-MAPPED/PEER/RELAYED-ADDRESS value → address. 0 or -EINVAL. */
int stun_attr_xor_addr(const struct stun_msg *m, const struct stun_attr *a,
		       struct sotto_addr *out);
/* 4-byte attribute value (LIFETIME, ...). 0 or -EINVAL. */
int stun_attr_u32(const struct stun_attr *a, uint32_t *out);

/* FINGERPRINT present and right: 1; present and wrong: 0; absent: -1. */
int stun_check_fingerprint(const struct stun_msg *m);
/* MESSAGE-INTEGRITY (HMAC-SHA1) with key: 1 right, 0 wrong, -1 absent. */
int stun_check_integrity(const struct stun_msg *m, const uint8_t *key,
			 size_t keylen);

/* RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password). out: 16 B. */
void stun_lt_key(const char *username, const char *realm, const char *password,
		 uint8_t out[16]);

uint32_t stun_crc32(const uint8_t *p, size_t len);

/*
 * Builder. All add functions are no-ops once an error (overflow) happened;
 * stun_finish() then returns 0.
 */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

void stun_build(struct stun_builder *b, uint8_t *buf, size_t cap,
		uint16_t method, uint16_t cls, const uint8_t tid[STUN_TID_LEN]);
void stun_add(struct stun_builder *b, uint16_t type, const void *val,
	      uint16_t len);
void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_add_xor_addr(struct stun_builder *b, uint16_t type,
		       const struct sotto_addr *a);
/* ERROR-CODE with class/number from code (e.g. 401) and a reason phrase. */
void stun_add_error(struct stun_builder *b, int code, const char *reason);
/* MESSAGE-INTEGRITY over everything so far (length field adjusted). */
void stun_add_integrity(struct stun_builder *b, const uint8_t *key,
			size_t keylen);
void stun_add_fingerprint(struct stun_builder *b);
/* Returns the message length, or 0 if it did not fit. */
size_t stun_finish(struct stun_builder *b);

#endif
