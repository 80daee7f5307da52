/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN wire format: RFC 5769 test vectors, builder/parser round trips and
 * the malformed inputs the parser must refuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "stun.h"

/* RFC 5769 §2.1: padding of USERNAME is 0x20 in the RFC, kept as is */
static const uint8_t rfc5769_req[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x10, /* SOFTWARE */
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
	0x00, 0x24, 0x00, 0x04, /* PRIORITY */
	0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, /* ICE-CONTROLLED */
	0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, /* USERNAME */
	0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20,
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
	0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
	0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
	0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2 */
static const uint8_t rfc5769_resp4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, /* SOFTWARE */
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, /* XOR-MAPPED-ADDRESS */
	0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
	0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53,
	0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
	0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3 */
static const uint8_t rfc5769_resp6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, /* SOFTWARE */
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, /* XOR-MAPPED-ADDRESS */
	0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
	0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
	0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
	0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
	0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 §2.4 */
static const uint8_t rfc5769_lt[] = {
	0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42,
	0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0,
	0x29, 0xda, 0x41, 0x2e,
	0x00, 0x06, 0x00, 0x12, /* USERNAME */
	0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83,
	0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3,
	0x82, 0xb9, 0x00, 0x00,
	0x00, 0x15, 0x00, 0x1c, /* NONCE */
	0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39,
	0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34,
	0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
	0x36, 0x34, 0x73, 0x41,
	0x00, 0x14, 0x00, 0x0b, /* REALM */
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
	0x6f, 0x72, 0x67, 0x00,
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
	0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e,
	0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2,
	0x8c, 0xa8, 0x96, 0x66,
};

static const char short_term_pw[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const char lt_user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa"
			      "\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
static const char lt_realm[] = "example.org";
static const char lt_nonce[] = "f//499k954d6OL34oL9FSTvy64sA";
static const char lt_pass[] = "TheMatrIX";

static const uint8_t tid0[STUN_TID_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
};

static struct stun_msg msg; /* ~800 bytes: keep it off the stack */

#define PW(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static int
attr_is(const struct stun_attr *a, const void *val, size_t len)
{
	return a != NULL && a->len == len && memcmp(a->val, val, len) == 0;
}

static void
test_crc32(void)
{
	CHECK_EQ(stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	CHECK_EQ(stun_crc32(NULL, 0), 0);
}

static void
test_type_helpers(void)
{
	CHECK_EQ(stun_type(STUN_BINDING, STUN_REQUEST), 0x0001);
	CHECK_EQ(stun_type(STUN_BINDING, STUN_SUCCESS), 0x0101);
	CHECK_EQ(stun_type(STUN_BINDING, STUN_ERROR), 0x0111);
	CHECK_EQ(stun_type(TURN_ALLOCATE, STUN_ERROR), 0x0113);
	CHECK_EQ(stun_type(TURN_SEND, STUN_INDICATION), 0x0016);
	CHECK_EQ(stun_type(TURN_DATA, STUN_INDICATION), 0x0017);
	CHECK_EQ(stun_type(TURN_CHANNEL_BIND, STUN_SUCCESS), 0x0109);
	for (uint16_t mth = 0; mth < 0x1000; mth += 0x77)
		for (uint16_t c = 0; c <= 0x110; c += 0x10) {
			if (c != 0 && c != 0x10 && c != 0x100 && c != 0x110)
				continue;
			uint16_t t = stun_type(mth, c);
			CHECK_EQ(stun_method(t), mth);
			CHECK_EQ(stun_class(t), c);
			CHECK_EQ(t & 0xc000, 0);
		}
}

/* RFC 5769 §2.1 */
static void
test_rfc5769_request(void)
{
	uint8_t buf[sizeof(rfc5769_req)];
	uint32_t u;

	CHECK_EQ(stun_looks_like(rfc5769_req, sizeof(rfc5769_req)), 1);
	CHECK_EQ(stun_parse(&msg, rfc5769_req, sizeof(rfc5769_req)), 0);
	CHECK_EQ(msg.len, sizeof(rfc5769_req));
	CHECK_EQ(msg.type, 0x0001);
	CHECK_EQ(msg.method, STUN_BINDING);
	CHECK_EQ(msg.cls, STUN_REQUEST);
	CHECK_MEM(msg.tid, rfc5769_req + 8, STUN_TID_LEN);
	CHECK_EQ(msg.n_attrs, 6);
	CHECK_EQ(msg.integrity, 4);
	CHECK_EQ(msg.integrity_sha256, -1);
	CHECK_EQ(msg.fingerprint, 5);
	CHECK_EQ(msg.n_unknown, 0);
	CHECK(attr_is(stun_find(&msg, STUN_A_SOFTWARE), "STUN test client",
		      16));
	CHECK(attr_is(stun_find(&msg, STUN_A_USERNAME), "evtj:h6vY", 9));
	CHECK_EQ(stun_find(&msg, STUN_A_USERNAME)->off, 60);
	CHECK_EQ(stun_attr_u32(stun_find(&msg, STUN_A_PRIORITY), &u), 0);
	CHECK_EQ(u, 0x6e0001ff);
	CHECK(attr_is(stun_find(&msg, STUN_A_ICE_CONTROLLED),
		      "\x93\x2f\xf9\xb1\x51\x26\x3b\x36", 8));
	CHECK(stun_find(&msg, STUN_A_XOR_MAPPED_ADDRESS) == NULL);

	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 1);
	CHECK_EQ(stun_check_integrity(&msg, PW("VOkJxbRl1RmTxUk/WvJxBT")), 0);
	CHECK_EQ(stun_check_integrity(&msg, (const uint8_t *)"", 0), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 1);

	/* a flipped byte inside the hashed range breaks both checks */
	memcpy(buf, rfc5769_req, sizeof(buf));
	buf[30] ^= 0x01;
	CHECK_EQ(stun_parse(&msg, buf, sizeof(buf)), 0);
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 0);

	/* a flipped MAC byte: FINGERPRINT covers it too */
	memcpy(buf, rfc5769_req, sizeof(buf));
	buf[80] ^= 0x80;
	CHECK_EQ(stun_parse(&msg, buf, sizeof(buf)), 0);
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 0);

	/* a flipped FINGERPRINT byte breaks the fingerprint only */
	memcpy(buf, rfc5769_req, sizeof(buf));
	buf[sizeof(buf) - 1] ^= 0x01;
	CHECK_EQ(stun_parse(&msg, buf, sizeof(buf)), 0);
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 1);
	CHECK_EQ(stun_check_fingerprint(&msg), 0);
}

/* RFC 5769 §2.2 */
static void
test_rfc5769_ipv4(void)
{
	struct sotto_addr a, want;
	uint8_t buf[sizeof(rfc5769_resp4)];

	CHECK_EQ(stun_parse(&msg, rfc5769_resp4, sizeof(rfc5769_resp4)), 0);
	CHECK_EQ(msg.method, STUN_BINDING);
	CHECK_EQ(msg.cls, STUN_SUCCESS);
	CHECK_EQ(msg.n_attrs, 4);
	CHECK(attr_is(stun_find(&msg, STUN_A_SOFTWARE), "test vector", 11));
	CHECK_EQ(stun_attr_xor_addr(&msg,
			stun_find(&msg, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	sotto_addr_v4(&want, htonl(0xc0000201), 32853);
	CHECK(sotto_addr_eq(&a, &want));
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 1);
	CHECK_EQ(stun_check_integrity(&msg, PW("wrong")), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 1);

	memcpy(buf, rfc5769_resp4, sizeof(buf));
	buf[47] ^= 0x04; /* the XORed address */
	CHECK_EQ(stun_parse(&msg, buf, sizeof(buf)), 0);
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 0);
}

/* RFC 5769 §2.3 */
static void
test_rfc5769_ipv6(void)
{
	static const uint8_t ip[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	};
	struct sotto_addr a, want;
	uint8_t buf[sizeof(rfc5769_resp6)];

	CHECK_EQ(stun_parse(&msg, rfc5769_resp6, sizeof(rfc5769_resp6)), 0);
	CHECK_EQ(msg.cls, STUN_SUCCESS);
	CHECK_EQ(stun_attr_xor_addr(&msg,
			stun_find(&msg, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	sotto_addr_v6(&want, ip, 32853);
	CHECK(sotto_addr_eq(&a, &want));
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 1);
	CHECK_EQ(stun_check_fingerprint(&msg), 1);

	/* the IPv6 XOR uses the transaction id: another one decodes wrong */
	memcpy(buf, rfc5769_resp6, sizeof(buf));
	buf[19] ^= 0xff;
	CHECK_EQ(stun_parse(&msg, buf, sizeof(buf)), 0);
	CHECK_EQ(stun_attr_xor_addr(&msg,
			stun_find(&msg, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	CHECK(!sotto_addr_eq(&a, &want));
	CHECK_EQ(a.ip[15], 0x77 ^ 0xff);
	CHECK_EQ(stun_check_integrity(&msg, PW(short_term_pw)), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 0);
}

/* RFC 5769 §2.4, and the builder must reproduce it byte for byte */
static void
test_rfc5769_long_term(void)
{
	uint8_t key[16], key2[16];
	uint8_t buf[256];
	struct stun_builder b;

	stun_lt_key(lt_user, lt_realm, lt_pass, key);
	CHECK_EQ(stun_parse(&msg, rfc5769_lt, sizeof(rfc5769_lt)), 0);
	CHECK_EQ(msg.n_attrs, 4);
	CHECK_EQ(msg.integrity, 3);
	CHECK_EQ(msg.fingerprint, -1);
	CHECK(attr_is(stun_find(&msg, STUN_A_USERNAME), lt_user,
		      strlen(lt_user)));
	CHECK(attr_is(stun_find(&msg, STUN_A_NONCE), lt_nonce,
		      strlen(lt_nonce)));
	CHECK(attr_is(stun_find(&msg, STUN_A_REALM), lt_realm,
		      strlen(lt_realm)));
	CHECK_EQ(stun_check_integrity(&msg, key, sizeof(key)), 1);
	CHECK_EQ(stun_check_fingerprint(&msg), -1);

	/* the password before SASLprep gives another key */
	stun_lt_key(lt_user, lt_realm, "The\xc2\xad" "M\xc2\xaatr\xe2\x85\xa8",
		    key2);
	CHECK(memcmp(key, key2, 16) != 0);
	CHECK_EQ(stun_check_integrity(&msg, key2, sizeof(key2)), 0);

	/* RFC 8489 §9.2.2 key for a known plain input */
	stun_lt_key("user", "realm", "pass", key2);
	CHECK_MEM(key2, "\x84\x93\xfb\xc5\x3b\xa5\x82\xfb"
			"\x4c\x04\x4c\x45\x6b\xdc\x40\xeb", 16);

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST,
		   rfc5769_lt + 8);
	stun_add(&b, STUN_A_USERNAME, lt_user, (uint16_t)strlen(lt_user));
	stun_add(&b, STUN_A_NONCE, lt_nonce, (uint16_t)strlen(lt_nonce));
	stun_add(&b, STUN_A_REALM, lt_realm, (uint16_t)strlen(lt_realm));
	stun_add_integrity(&b, key, sizeof(key));
	CHECK_EQ(stun_finish(&b), sizeof(rfc5769_lt));
	CHECK_MEM(buf, rfc5769_lt, sizeof(rfc5769_lt));
}

static void
test_looks_like(void)
{
	uint8_t buf[sizeof(rfc5769_req)];

	CHECK_EQ(stun_looks_like(rfc5769_resp6, sizeof(rfc5769_resp6)), 1);
	CHECK_EQ(stun_looks_like(rfc5769_req, 19), 0);
	CHECK_EQ(stun_looks_like(rfc5769_req, sizeof(rfc5769_req) - 4), 0);
	memcpy(buf, rfc5769_req, sizeof(buf));
	buf[0] = 0x40;
	CHECK_EQ(stun_looks_like(buf, sizeof(buf)), 0);
	buf[0] = 0x80;
	CHECK_EQ(stun_looks_like(buf, sizeof(buf)), 0);
	buf[0] = 0x00;
	buf[7] ^= 1;
	CHECK_EQ(stun_looks_like(buf, sizeof(buf)), 0);
}

static void
test_bad_format(void)
{
	uint8_t buf[64];

	memcpy(buf, rfc5769_req, STUN_HDR_LEN);
	buf[3] = 0;
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN), 0);
	CHECK_EQ(msg.n_attrs, 0);
	CHECK_EQ(stun_check_integrity(&msg, PW("x")), -1);
	CHECK_EQ(stun_check_fingerprint(&msg), -1);

	CHECK_EQ(stun_parse(&msg, buf, 0), -STUN_EFORMAT);
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN - 1), -STUN_EFORMAT);
	CHECK_EQ(stun_parse(&msg, rfc5769_req, sizeof(rfc5769_req) - 1),
		 -STUN_EFORMAT);
	CHECK_EQ(stun_parse(&msg, rfc5769_req, sizeof(rfc5769_req) - 4),
		 -STUN_EFORMAT);

	buf[0] = 0xc0; /* RFC 7983: RTP/RTCP, not STUN */
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN), -STUN_EFORMAT);
	buf[0] = 0x00;
	buf[4] = 0x21 ^ 0x01; /* RFC 3489 style, no cookie */
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN), -STUN_EFORMAT);
	buf[4] = 0x21;

	/* length not a multiple of 4 */
	memset(buf + STUN_HDR_LEN, 0, 8);
	buf[3] = 6;
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN + 6), -STUN_EFORMAT);

	/* attribute value runs past the end */
	buf[3] = 8;
	buf[20] = 0x80;
	buf[21] = 0x22;
	buf[22] = 0;
	buf[23] = 5;
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN + 8), -STUN_ETRUNC);
	/* value fits but its padding does not */
	buf[23] = 4;
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN + 8), 0);
	buf[23] = 0xff;
	buf[22] = 0xff;
	CHECK_EQ(stun_parse(&msg, buf, STUN_HDR_LEN + 8), -STUN_ETRUNC);

	/* garbage: the parser must answer something sane on every byte */
	for (int i = 0; i < 256; i++) {
		memset(buf, i, sizeof(buf));
		int r = stun_parse(&msg, buf, sizeof(buf));
		CHECK(r == -STUN_EFORMAT);
	}
}

static void
test_too_many(void)
{
	uint8_t buf[512];
	struct stun_builder b;
	size_t n;

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		stun_add(&b, STUN_A_SOFTWARE, "x", 1);
	n = stun_finish(&b);
	CHECK_EQ(n, STUN_HDR_LEN + STUN_MAX_ATTRS * 8);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.n_attrs, STUN_MAX_ATTRS);

	stun_add(&b, STUN_A_SOFTWARE, "x", 1);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), -STUN_ETOOMANY);
}

static void
test_fingerprint_order(void)
{
	uint8_t buf[256];
	struct stun_builder b;
	size_t n;

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	stun_add(&b, STUN_A_SOFTWARE, "sotto", 5);
	stun_add_fingerprint(&b);
	stun_add(&b, STUN_A_SOFTWARE, "late", 4);
	n = stun_finish(&b);
	CHECK(n > 0);
	CHECK_EQ(stun_parse(&msg, buf, n), -STUN_EORDER);

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	stun_add_fingerprint(&b);
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), -STUN_EORDER);

	/* even an attribute ignored after MESSAGE-INTEGRITY may not follow */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	stun_add_integrity(&b, PW("k"));
	stun_add_fingerprint(&b);
	stun_add(&b, STUN_A_SOFTWARE, "late", 4);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), -STUN_EORDER);

	/* a FINGERPRINT of the wrong size is present but never right */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	stun_add(&b, STUN_A_FINGERPRINT, "\0\0\0\0\0", 5);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 0);
}

static void
test_unknown_required(void)
{
	uint8_t buf[512];
	struct stun_builder b;
	size_t n;

	stun_build(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, tid0);
	stun_add_u32(&b, STUN_A_REQUESTED_TRANSPORT, 17u << 24);
	stun_add(&b, 0x0030, "a", 1);
	stun_add(&b, 0x8050, "b", 1); /* comprehension-optional */
	stun_add(&b, 0x7fff, NULL, 0);
	stun_add(&b, 0x0030, "c", 1); /* same type again: listed once */
	stun_add(&b, 0x0002, NULL, 0); /* RFC 3489 RESPONSE-ADDRESS */
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.n_attrs, 6);
	CHECK_EQ(msg.n_unknown, 3);
	CHECK_EQ(msg.unknown_required[0], 0x0030);
	CHECK_EQ(msg.unknown_required[1], 0x7fff);
	CHECK_EQ(msg.unknown_required[2], 0x0002);

	/* every type stun.h names is known */
	static const uint16_t known[] = {
		STUN_A_MAPPED_ADDRESS, STUN_A_USERNAME, STUN_A_ERROR_CODE,
		STUN_A_UNKNOWN_ATTRIBUTES, STUN_A_CHANNEL_NUMBER,
		STUN_A_LIFETIME, STUN_A_XOR_PEER_ADDRESS, STUN_A_DATA,
		STUN_A_REALM, STUN_A_NONCE, STUN_A_XOR_RELAYED_ADDRESS,
		STUN_A_REQUESTED_ADDRESS_FAMILY, STUN_A_EVEN_PORT,
		STUN_A_REQUESTED_TRANSPORT, STUN_A_DONT_FRAGMENT,
		STUN_A_PASSWORD_ALGORITHM, STUN_A_USERHASH,
		STUN_A_XOR_MAPPED_ADDRESS, STUN_A_RESERVATION_TOKEN,
		STUN_A_PRIORITY, STUN_A_USE_CANDIDATE,
	};
	stun_build(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, tid0);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		stun_add(&b, known[i], NULL, 0);
	stun_add(&b, STUN_A_MESSAGE_INTEGRITY_SHA256, NULL, 0);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.n_unknown, 0);
	CHECK_EQ(msg.n_attrs, sizeof(known) / sizeof(known[0]) + 1);

	/* at most 8 are kept, the message still parses */
	stun_build(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, tid0);
	for (uint16_t t = 0x0040; t < 0x0040 + 12; t++)
		stun_add(&b, t, NULL, 0);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.n_unknown, 8);
	CHECK_EQ(msg.unknown_required[7], 0x0047);
}

/* RFC 8489 §14.5/§14.6 */
static void
test_after_integrity(void)
{
	uint8_t buf[512];
	uint8_t sha256[32];
	struct stun_builder b;
	size_t n;

	memset(sha256, 0xab, sizeof(sha256));
	stun_build(&b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST, tid0);
	stun_add(&b, STUN_A_USERNAME, "alice", 5);
	stun_add_integrity(&b, PW("secret"));
	stun_add(&b, STUN_A_SOFTWARE, "ignored", 7);
	stun_add(&b, 0x0031, "x", 1);
	stun_add_u32(&b, STUN_A_LIFETIME, 0);
	stun_add(&b, STUN_A_MESSAGE_INTEGRITY_SHA256, sha256, 32);
	stun_add(&b, STUN_A_MESSAGE_INTEGRITY, sha256, 20);
	stun_add(&b, STUN_A_USERNAME, "mallory", 7);
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	CHECK(n > 0);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.n_attrs, 4);
	CHECK_EQ(msg.attrs[0].type, STUN_A_USERNAME);
	CHECK_EQ(msg.integrity, 1);
	CHECK_EQ(msg.integrity_sha256, 2);
	CHECK_EQ(msg.fingerprint, 3);
	CHECK(attr_is(&msg.attrs[2], sha256, 32));
	CHECK(stun_find(&msg, STUN_A_SOFTWARE) == NULL);
	CHECK(stun_find(&msg, STUN_A_LIFETIME) == NULL);
	CHECK(attr_is(stun_find(&msg, STUN_A_USERNAME), "alice", 5));
	CHECK_EQ(msg.n_unknown, 0);
	/* what follows MESSAGE-INTEGRITY is outside the MAC */
	CHECK_EQ(stun_check_integrity(&msg, PW("secret")), 1);
	CHECK_EQ(stun_check_integrity(&msg, PW("Secret")), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 1);

	/* a MESSAGE-INTEGRITY of the wrong size never verifies */
	stun_build(&b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST, tid0);
	stun_add(&b, STUN_A_MESSAGE_INTEGRITY, sha256, 16);
	n = stun_finish(&b);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.integrity, 0);
	CHECK_EQ(stun_check_integrity(&msg, PW("secret")), 0);
}

static void
test_build_round_trip(void)
{
	static const uint8_t ip6[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	};
	uint8_t buf[512];
	struct stun_builder b;
	struct sotto_addr peer4, peer6, relay, got;
	const struct stun_attr *a;
	uint32_t u;
	size_t n;

	sotto_addr_v4(&peer4, htonl(0xc6336401), 49152);
	sotto_addr_v6(&peer6, ip6, 65535);
	sotto_addr_v4(&relay, htonl(0x7f000001), 0);

	stun_build(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, tid0);
	CHECK_EQ(b.len, STUN_HDR_LEN);
	CHECK_EQ(buf[2], 0);
	CHECK_EQ(buf[3], 0);
	stun_add_error(&b, 438, "Stale Nonce");
	CHECK_EQ(buf[3], 4 + 16);
	stun_add(&b, STUN_A_NONCE, "abc", 3);
	stun_add_u32(&b, STUN_A_LIFETIME, 600);
	stun_add_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &peer4);
	stun_add_xor_addr(&b, STUN_A_XOR_PEER_ADDRESS, &peer6);
	stun_add_xor_addr(&b, STUN_A_XOR_RELAYED_ADDRESS, &relay);
	stun_add(&b, STUN_A_DONT_FRAGMENT, NULL, 0);
	stun_add_integrity(&b, PW("pw"));
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	CHECK(n > 0);
	CHECK_EQ(n % 4, 0);
	CHECK_EQ(n, STUN_HDR_LEN + 20 + 8 + 8 + 12 + 24 + 12 + 4 + 24 + 8);
	CHECK_EQ(((size_t)buf[2] << 8 | buf[3]) + STUN_HDR_LEN, n);

	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.method, TURN_ALLOCATE);
	CHECK_EQ(msg.cls, STUN_ERROR);
	CHECK_EQ(msg.type, 0x0113);
	CHECK_MEM(msg.tid, tid0, STUN_TID_LEN);
	CHECK_EQ(msg.n_attrs, 9);

	a = stun_find(&msg, STUN_A_ERROR_CODE);
	CHECK(a != NULL && a->len == 4 + 11);
	if (a != NULL && a->len >= 4) {
		CHECK_EQ(a->val[0], 0);
		CHECK_EQ(a->val[1], 0);
		CHECK_EQ(a->val[2], 4);
		CHECK_EQ(a->val[3], 38);
		CHECK_MEM(a->val + 4, "Stale Nonce", 11);
		CHECK_EQ(a->val[15], 0); /* zero padding */
	}
	CHECK(attr_is(stun_find(&msg, STUN_A_NONCE), "abc", 3));
	CHECK_EQ(stun_find(&msg, STUN_A_NONCE)->val[3], 0);
	CHECK_EQ(stun_attr_u32(stun_find(&msg, STUN_A_LIFETIME), &u), 0);
	CHECK_EQ(u, 600);

	CHECK_EQ(msg.attrs[3].type, STUN_A_XOR_PEER_ADDRESS);
	CHECK_EQ(stun_attr_xor_addr(&msg, &msg.attrs[3], &got), 0);
	CHECK(sotto_addr_eq(&got, &peer4));
	CHECK_EQ(msg.attrs[4].type, STUN_A_XOR_PEER_ADDRESS);
	CHECK_EQ(msg.attrs[4].len, 20);
	CHECK_EQ(stun_attr_xor_addr(&msg, &msg.attrs[4], &got), 0);
	CHECK(sotto_addr_eq(&got, &peer6));
	CHECK_EQ(stun_attr_xor_addr(&msg,
			stun_find(&msg, STUN_A_XOR_RELAYED_ADDRESS), &got), 0);
	CHECK(sotto_addr_eq(&got, &relay));
	a = stun_find(&msg, STUN_A_DONT_FRAGMENT);
	CHECK(a != NULL && a->len == 0);

	CHECK_EQ(msg.integrity, 7);
	CHECK_EQ(msg.fingerprint, 8);
	CHECK_EQ(stun_check_integrity(&msg, PW("pw")), 1);
	CHECK_EQ(stun_check_integrity(&msg, PW("pW")), 0);
	CHECK_EQ(stun_check_fingerprint(&msg), 1);

	/* the wire encoding itself, RFC 8489 §14.2 */
	CHECK_MEM(msg.attrs[3].val, "\x00\x01\xe1\x12\xe7\x21\xc0\x43", 8);

	/* error classes at the edges, and an empty reason */
	static const int codes[] = { 300, 401, 420, 437, 486, 500, 508, 699 };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		stun_build(&b, buf, sizeof(buf), TURN_REFRESH, STUN_ERROR,
			   tid0);
		stun_add_error(&b, codes[i], "");
		n = stun_finish(&b);
		CHECK_EQ(n, STUN_HDR_LEN + 8);
		CHECK_EQ(stun_parse(&msg, buf, n), 0);
		a = stun_find(&msg, STUN_A_ERROR_CODE);
		CHECK(a != NULL && a->len == 4);
		if (a != NULL && a->len == 4)
			CHECK_EQ(a->val[2] * 100 + a->val[3], codes[i]);
	}

	/* an empty key still gives a verifiable MAC */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	stun_add_integrity(&b, NULL, 0);
	n = stun_finish(&b);
	CHECK_EQ(n, STUN_HDR_LEN + 24);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(stun_check_integrity(&msg, (const uint8_t *)"", 0), 1);
	CHECK_EQ(stun_check_integrity(&msg, PW("x")), 0);
}

static void
test_builder_overflow(void)
{
	uint8_t buf[64];
	struct stun_builder b;
	struct sotto_addr none;
	char reason[800];

	stun_build(&b, buf, STUN_HDR_LEN - 1, STUN_BINDING, STUN_REQUEST,
		   tid0);
	CHECK_EQ(stun_finish(&b), 0);
	stun_add(&b, STUN_A_SOFTWARE, "x", 1);
	CHECK_EQ(stun_finish(&b), 0);

	/* exactly full is fine */
	stun_build(&b, buf, STUN_HDR_LEN + 8, STUN_BINDING, STUN_REQUEST,
		   tid0);
	stun_add(&b, STUN_A_SOFTWARE, "abcd", 4);
	CHECK_EQ(stun_finish(&b), STUN_HDR_LEN + 8);

	/* padding counts */
	stun_build(&b, buf, STUN_HDR_LEN + 8, STUN_BINDING, STUN_REQUEST,
		   tid0);
	stun_add(&b, STUN_A_SOFTWARE, "abcde", 5);
	CHECK_EQ(stun_finish(&b), 0);

	/* once failed, later adds are no-ops even when they would fit */
	memset(buf, 0xee, sizeof(buf));
	stun_build(&b, buf, 40, STUN_BINDING, STUN_REQUEST, tid0);
	stun_add(&b, STUN_A_SOFTWARE, "0123456789abcdef0123", 20);
	CHECK_EQ(b.len, STUN_HDR_LEN);
	CHECK(b.err != 0);
	stun_add_u32(&b, STUN_A_LIFETIME, 1);
	stun_add_fingerprint(&b);
	stun_add_integrity(&b, PW("k"));
	stun_add_error(&b, 400, "Bad");
	CHECK_EQ(b.len, STUN_HDR_LEN);
	CHECK_EQ(buf[3], 0);
	CHECK_EQ(buf[STUN_HDR_LEN], 0xee);
	CHECK_EQ(stun_finish(&b), 0);

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid0);
	stun_add_integrity(&b, PW("k"));
	stun_add_fingerprint(&b);
	CHECK_EQ(stun_finish(&b), STUN_HDR_LEN + 32);
	stun_add_fingerprint(&b);
	CHECK_EQ(stun_finish(&b), STUN_HDR_LEN + 40);
	stun_add_fingerprint(&b); /* 60 + 8 > 64 */
	CHECK_EQ(stun_finish(&b), 0);

	/* errors that are not about space */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid0);
	stun_add_error(&b, 299, "x");
	CHECK_EQ(stun_finish(&b), 0);
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid0);
	stun_add_error(&b, 700, "x");
	CHECK_EQ(stun_finish(&b), 0);
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid0);
	stun_add_error(&b, 400, reason);
	CHECK_EQ(stun_finish(&b), 0);
	memset(&none, 0, sizeof(none));
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid0);
	stun_add_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &none);
	CHECK_EQ(stun_finish(&b), 0);
}

static void
test_bad_values(void)
{
	uint8_t buf[128];
	struct stun_builder b;
	struct sotto_addr got;
	uint32_t u = 7;
	size_t n;

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid0);
	/* IPv4 family with an IPv6 length, and the reverse */
	stun_add(&b, STUN_A_XOR_MAPPED_ADDRESS,
		 "\x00\x01\x00\x00" "0123456789abcdef", 20);
	stun_add(&b, STUN_A_XOR_MAPPED_ADDRESS, "\x00\x02\x00\x00" "0123",
		 8);
	stun_add(&b, STUN_A_XOR_MAPPED_ADDRESS, "\x00\x03\x00\x00" "0123",
		 8);
	stun_add(&b, STUN_A_XOR_MAPPED_ADDRESS, "\x00\x01\x00", 3);
	stun_add(&b, STUN_A_XOR_MAPPED_ADDRESS, "\x00\x01\x00\x00" "01234",
		 9);
	stun_add(&b, STUN_A_LIFETIME, "\0\0\0\0\0", 5);
	stun_add(&b, STUN_A_LIFETIME, "\0\0\0", 3);
	n = stun_finish(&b);
	CHECK(n > 0);
	CHECK_EQ(stun_parse(&msg, buf, n), 0);
	CHECK_EQ(msg.n_attrs, 7);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(stun_attr_xor_addr(&msg, &msg.attrs[i], &got),
			 -EINVAL);
	CHECK_EQ(stun_attr_u32(&msg.attrs[5], &u), -EINVAL);
	CHECK_EQ(stun_attr_u32(&msg.attrs[6], &u), -EINVAL);
	CHECK_EQ(u, 7);
	CHECK_EQ(stun_attr_xor_addr(&msg, NULL, &got), -EINVAL);
	CHECK_EQ(stun_attr_u32(NULL, &u), -EINVAL);
	CHECK(stun_find(&msg, STUN_A_USERNAME) == NULL);
}

int
main(void)
{
	test_crc32();
	test_type_helpers();
	test_rfc5769_request();
	test_rfc5769_ipv4();
	test_rfc5769_ipv6();
	test_rfc5769_long_term();
	test_looks_like();
	test_bad_format();
	test_too_many();
	test_fingerprint_order();
	test_unknown_required();
	test_after_integrity();
	test_build_round_trip();
	test_builder_overflow();
	test_bad_values();
	return check_done("stun");
}
