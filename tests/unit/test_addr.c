/* SPDX-License-Identifier: BSD-3-Clause */
/* struct sotto_addr: text and sockaddr conversions, hash-key layout. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "check.h"

static const uint8_t v6_db8[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
};

static void
test_parse_good(void)
{
	struct sotto_addr a, want;

	CHECK_EQ(sotto_addr_parse(&a, "192.0.2.1:3478", -1), 0);
	sotto_addr_v4(&want, htonl(0xc0000201), 3478);
	CHECK(sotto_addr_eq(&a, &want));
	CHECK_EQ(a.family, AF_INET);
	CHECK_EQ(a.port, 3478);

	CHECK_EQ(sotto_addr_parse(&a, "[2001:db8::1]:65535", -1), 0);
	sotto_addr_v6(&want, v6_db8, 65535);
	CHECK(sotto_addr_eq(&a, &want));

	CHECK_EQ(sotto_addr_parse(&a, "0.0.0.0:0", -1), 0);
	CHECK_EQ(a.family, AF_INET);
	CHECK_EQ(a.port, 0);

	/* port left out: the default applies */
	CHECK_EQ(sotto_addr_parse(&a, "127.0.0.1", 3478), 0);
	sotto_addr_v4(&want, htonl(INADDR_LOOPBACK), 3478);
	CHECK(sotto_addr_eq(&a, &want));
	CHECK_EQ(sotto_addr_parse(&a, "[2001:db8::1]", 5349), 0);
	sotto_addr_v6(&want, v6_db8, 5349);
	CHECK(sotto_addr_eq(&a, &want));
	CHECK_EQ(sotto_addr_parse(&a, "2001:db8::1", 5349), 0);
	CHECK(sotto_addr_eq(&a, &want));
	CHECK_EQ(sotto_addr_parse(&a, "::", 0), 0);
	CHECK_EQ(a.family, AF_INET6);

	/* an explicit port wins over the default */
	CHECK_EQ(sotto_addr_parse(&a, "10.0.0.1:80", 3478), 0);
	CHECK_EQ(a.port, 80);
	CHECK_EQ(sotto_addr_parse(&a, "::ffff:192.0.2.1", 1), 0);
	CHECK_EQ(a.family, AF_INET6);
	CHECK_EQ(a.ip[10], 0xff);
	CHECK_EQ(a.ip[12], 192);
}

static void
test_parse_bad(void)
{
	static const char *const bad[] = {
		"",
		":",
		":80",
		"1.2.3.4:",
		"1.2.3.4:65536",
		"1.2.3.4:-1",
		"1.2.3.4:80x",
		"1.2.3.4:0x50",
		"1.2.3",
		"1.2.3.4.5:80",
		"256.0.0.1:80",
		"localhost:80",
		"example.org",
		"[::1",
		"[::1]:",
		"[::1]80",
		"[::1]:99999",
		"[1.2.3.4]x",
		"[]:80",
		"[zz::1]:80",
		"::1::2",
		/* longer than the host buffer */
		("[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000"
		 "]:1"),
		("0000000000000000000000000000000000000000000000000000000000"
		 "0000000000:1"),
	};
	struct sotto_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sotto_addr_parse(&a, bad[i], 3478);
		if (r != -EINVAL)
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
		CHECK_EQ(r, -EINVAL);
	}
	/* no port and no default */
	CHECK_EQ(sotto_addr_parse(&a, "1.2.3.4", -1), -EINVAL);
	CHECK_EQ(sotto_addr_parse(&a, "[::1]", -1), -EINVAL);
	CHECK_EQ(sotto_addr_parse(&a, "::1", -1), -EINVAL);
}

static void
test_format(void)
{
	struct sotto_addr a;
	char buf[SOTTO_ADDRSTRLEN];
	char tiny[8];

	sotto_addr_v4(&a, htonl(0xc0000201), 32853);
	CHECK(strcmp(sotto_addr_str(&a, buf, sizeof(buf)),
		     "192.0.2.1:32853") == 0);
	sotto_addr_v6(&a, v6_db8, 443);
	CHECK(strcmp(sotto_addr_str(&a, buf, sizeof(buf)),
		     "[2001:db8::1]:443") == 0);
	memset(&a, 0, sizeof(a));
	CHECK(strcmp(sotto_addr_str(&a, buf, sizeof(buf)), "(none)") == 0);

	/* the longest IPv6 form fits SOTTO_ADDRSTRLEN */
	uint8_t ff[16];
	memset(ff, 0xff, sizeof(ff));
	sotto_addr_v6(&a, ff, 65535);
	sotto_addr_str(&a, buf, sizeof(buf));
	CHECK(strcmp(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")
	      == 0);

	/* a short buffer is truncated, never overrun */
	sotto_addr_v4(&a, htonl(0xc0000201), 32853);
	CHECK(sotto_addr_str(&a, tiny, sizeof(tiny)) == tiny);
	CHECK_EQ(strlen(tiny), sizeof(tiny) - 1);

	/* format then parse gives the same address */
	static const char *const text[] = {
		"1.2.3.4:5", "255.255.255.255:65535", "[::1]:3478",
		"[2001:db8:1234:5678:11:2233:4455:6677]:32853",
		"[::ffff:10.0.0.1]:1",
	};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		struct sotto_addr b;
		CHECK_EQ(sotto_addr_parse(&a, text[i], -1), 0);
		sotto_addr_str(&a, buf, sizeof(buf));
		CHECK(strcmp(buf, text[i]) == 0);
		CHECK_EQ(sotto_addr_parse(&b, buf, -1), 0);
		CHECK(sotto_addr_eq(&a, &b));
	}
}

static void
test_sockaddr(void)
{
	struct sotto_addr a, b;
	struct sockaddr_storage ss;
	socklen_t sl;

	sotto_addr_v4(&a, htonl(0xc0000201), 3478);
	sl = sotto_addr_to_sockaddr(&a, &ss);
	CHECK_EQ(sl, sizeof(struct sockaddr_in));
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
	CHECK_EQ(s4->sin_family, AF_INET);
	CHECK_EQ(s4->sin_port, htons(3478));
	CHECK_EQ(s4->sin_addr.s_addr, htonl(0xc0000201));
	memset(&b, 0xff, sizeof(b));
	CHECK_EQ(sotto_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	CHECK(sotto_addr_eq(&a, &b));

	sotto_addr_v6(&a, v6_db8, 65535);
	sl = sotto_addr_to_sockaddr(&a, &ss);
	CHECK_EQ(sl, sizeof(struct sockaddr_in6));
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
	CHECK_EQ(s6->sin6_family, AF_INET6);
	CHECK_EQ(s6->sin6_port, htons(65535));
	CHECK_MEM(s6->sin6_addr.s6_addr, v6_db8, 16);
	CHECK_EQ(s6->sin6_flowinfo, 0);
	CHECK_EQ(s6->sin6_scope_id, 0);
	memset(&b, 0xff, sizeof(b));
	CHECK_EQ(sotto_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	CHECK(sotto_addr_eq(&a, &b));

	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	CHECK_EQ(sotto_addr_from_sockaddr(&b, (struct sockaddr *)&sun),
		 -EAFNOSUPPORT);
}

/* The struct is a hash key: equal addresses must be equal bytes. */
static void
test_key_layout(void)
{
	struct sotto_addr a, b;

	CHECK_EQ(sizeof(struct sotto_addr), 20);
	memset(&a, 0xff, sizeof(a));
	memset(&b, 0x00, sizeof(b));
	sotto_addr_v4(&a, htonl(0x0a000001), 1);
	sotto_addr_v4(&b, htonl(0x0a000001), 1);
	CHECK_EQ(memcmp(&a, &b, sizeof(a)), 0);
	CHECK_EQ(a.reserved, 0);
	for (int i = 4; i < 16; i++)
		CHECK_EQ(a.ip[i], 0);

	memset(&a, 0xff, sizeof(a));
	CHECK_EQ(sotto_addr_parse(&a, "10.0.0.1:1", -1), 0);
	CHECK_EQ(memcmp(&a, &b, sizeof(a)), 0);

	/* same IP, other port: ip_eq but not eq */
	sotto_addr_v4(&b, htonl(0x0a000001), 2);
	CHECK(!sotto_addr_eq(&a, &b));
	CHECK(sotto_addr_ip_eq(&a, &b));
	sotto_addr_v4(&b, htonl(0x0a000002), 1);
	CHECK(!sotto_addr_ip_eq(&a, &b));

	/* ::ffff:10.0.0.1 is not the same host key as 10.0.0.1 */
	CHECK_EQ(sotto_addr_parse(&b, "[::ffff:10.0.0.1]:1", -1), 0);
	CHECK(!sotto_addr_eq(&a, &b));
	CHECK(!sotto_addr_ip_eq(&a, &b));

	struct sotto_addr c, d;
	CHECK_EQ(sotto_addr_parse(&c, "[2001:db8::1]:9", -1), 0);
	CHECK_EQ(sotto_addr_parse(&d, "[2001:db8::2]:9", -1), 0);
	CHECK(!sotto_addr_ip_eq(&c, &d));
	d.ip[15] = 1;
	d.port = 10;
	CHECK(sotto_addr_ip_eq(&c, &d));
}

int
main(void)
{
	test_parse_good();
	test_parse_bad();
	test_format();
	test_sockaddr();
	test_key_layout();
	return check_done("addr");
}
