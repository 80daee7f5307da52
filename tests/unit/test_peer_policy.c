/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peer address policy: every spelling of a denied address (coturn
 * CVE-2020-26262, CVE-2026-27624 compared text forms), the rule order and
 * the CIDR parser. Nothing is sent anywhere: addresses are only data.
 */
#include <errno.h>

#include "check.h"
#include "peer_policy.h"

static struct sotto_addr
A(const char *s)
{
	struct sotto_addr a;

	if (sotto_addr_parse(&a, s, 0) != 0) {
		fprintf(stderr, "bad test address %s\n", s);
		exit(2);
	}
	return a;
}

static bool
allowed(const struct peer_policy *p, const char *s, bool check_port)
{
	struct sotto_addr a = A(s);

	return peer_policy_allowed(p, &a, check_port);
}

static struct sotto_cidr
C(const char *s)
{
	struct sotto_cidr c;

	if (sotto_cidr_parse(&c, s) != 0) {
		fprintf(stderr, "bad test cidr %s\n", s);
		exit(2);
	}
	return c;
}

static void
test_normalize(void)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "[::ffff:127.0.0.1]:5", "127.0.0.1:5" },
		{ "[::127.0.0.1]:5", "127.0.0.1:5" },
		{ "[::ffff:0:127.0.0.1]:5", "127.0.0.1:5" },
		{ "[64:ff9b::7f00:1]:5", "127.0.0.1:5" },
		{ "[2002:7f00:1::]:5", "127.0.0.1:5" },
		{ "[2002:a9fe:a9fe:1234::99]:5", "169.254.169.254:5" },
		{ "[::]:5", "[::]:5" },
		{ "[::1]:5", "[::1]:5" },
		{ "[::2]:5", "0.0.0.2:5" },
		{ "[2001:db8::5]:5", "[2001:db8::5]:5" },
		{ "[64:ff9b:1::7f00:1]:5", "[64:ff9b:1::7f00:1]:5" },
		{ "10.0.0.1:5", "10.0.0.1:5" },
	};
	char buf[SOTTO_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sotto_addr a = A(v[i].in);
		peer_addr_normalize(&a);
		sotto_addr_str(&a, buf, sizeof(buf));
		if (strcmp(buf, v[i].out) != 0)
			fprintf(stderr, "normalize %s -> %s, want %s\n",
				v[i].in, buf, v[i].out);
		CHECK(strcmp(buf, v[i].out) == 0);
		/* normalised result is a valid hash key: tail zeroed */
		struct sotto_addr b = A(v[i].out);
		CHECK(sotto_addr_eq(&a, &b));
	}
}

static void
test_builtin(void)
{
	struct peer_policy *p = peer_policy_new(NULL, 0, NULL, 0);
	static const char *const denied[] = {
		"127.0.0.1:5000", "127.255.255.254:5000", "0.0.0.0:5000",
		"0.1.2.3:5000", "[::]:5000", "[::1]:5000",
		"[::ffff:127.0.0.1]:5000", "[::127.0.0.1]:5000",
		"[64:ff9b::7f00:1]:5000", "[2002:7f00:1::]:5000",
		"[::ffff:0:127.0.0.1]:5000", "169.254.169.254:80",
		"[::ffff:169.254.169.254]:80", "[64:ff9b::a9fe:a9fe]:80",
		"10.1.2.3:5000", "[::ffff:10.1.2.3]:5000", "172.16.0.1:5000",
		"172.31.255.255:5000", "192.168.1.1:5000", "100.64.0.1:5000",
		"100.127.255.255:5000", "192.0.0.8:5000", "198.18.0.1:5000",
		"198.19.255.255:5000", "[fe80::1]:5000", "[febf::1]:5000",
		"[fec0::1]:5000", "[fc00::1]:5000", "[fd12::1]:5000",
		"[ff02::1]:5000", "[ff0e::1]:5000", "224.0.0.1:5000",
		"239.255.255.250:1900", "255.255.255.255:5000",
		"240.0.0.1:5000", "[64:ff9b:1::1]:5000", "[100::1]:5000",
		"[::ffff:0.0.0.0]:5000", "[::ffff:255.255.255.255]:5000",
	};
	static const char *const ok[] = {
		"203.0.113.5:5000", "[2001:db8::5]:5000", "1.1.1.1:5000",
		"192.0.2.1:5000", "198.51.100.7:5000", "172.32.0.1:5000",
		"172.15.255.255:5000", "100.63.255.255:5000",
		"100.128.0.0:5000", "169.253.255.255:5000",
		"198.20.0.1:5000", "223.255.255.255:5000",
		"[::ffff:203.0.113.5]:5000", "[64:ff9b::cb00:7105]:5000",
		"[2002:cb00:7105::1]:5000", "[fe00::1]:5000",
		"[100:0:0:1::1]:5000", "[64:ff9b:2::1]:5000",
	};

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		bool ok1 = allowed(p, denied[i], true);
		bool ok2 = allowed(p, denied[i], false);
		if (ok1 || ok2)
			fprintf(stderr, "should be denied: %s\n", denied[i]);
		CHECK(!ok1);
		CHECK(!ok2);
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		bool ok1 = allowed(p, ok[i], true);
		bool ok2 = allowed(p, ok[i], false);
		if (!ok1 || !ok2)
			fprintf(stderr, "should be allowed: %s\n", ok[i]);
		CHECK(ok1);
		CHECK(ok2);
	}
	/* port 0 is never a peer to send to, but a permission is per IP */
	CHECK(!allowed(p, "203.0.113.5:0", true));
	CHECK(allowed(p, "203.0.113.5:0", false));

	/* the caller's address is normalised in place */
	struct sotto_addr a = A("[::ffff:203.0.113.5]:7");
	CHECK(peer_policy_allowed(p, &a, true));
	CHECK_EQ(a.family, AF_INET);
	CHECK_EQ(a.port, 7);

	/* no family: deny */
	struct sotto_addr z;
	memset(&z, 0, sizeof(z));
	z.port = 5;
	CHECK(!peer_policy_allowed(p, &z, true));
	peer_policy_free(p);
}

static void
test_config_rules(void)
{
	struct sotto_cidr allow[] = { C("127.0.0.0/8"), C("10.0.0.0/8"),
				      C("::ffff:192.168.0.0/112") };
	struct sotto_cidr deny[] = { C("10.9.0.0/16"), C("203.0.113.0/28"),
				     C("2002::/16") };
	struct peer_policy *p = peer_policy_new(allow, 3, deny, 3);
	struct sotto_addr l = A("127.0.0.1:3478");

	CHECK(p != NULL);
	CHECK_EQ(peer_policy_add_listener(p, &l), 0);

	/* 4: allow-list opens loopback... but not (3) the listener's own IP
	 * on another port (issue 21: an allow range that covered an own IP
	 * opened every port on it; test_own_before_allow) */
	CHECK(!allowed(p, "127.0.0.1:5000", true));
	CHECK(!allowed(p, "[::ffff:127.0.0.1]:5000", true));
	CHECK(allowed(p, "127.0.0.2:5000", true));
	CHECK(allowed(p, "127.0.0.2:3478", true));
	/* ...but 1: never the own listener, in any spelling */
	CHECK(!allowed(p, "127.0.0.1:3478", true));
	CHECK(!allowed(p, "[::ffff:127.0.0.1]:3478", true));
	CHECK(!allowed(p, "[::127.0.0.1]:3478", true));
	CHECK(!allowed(p, "[64:ff9b::7f00:1]:3478", true));
	/* permissions are per IP: rule 1 is a send-time check */
	CHECK(allowed(p, "127.0.0.1:3478", false));

	/* 2 before 3 */
	CHECK(allowed(p, "10.1.2.3:5000", true));
	CHECK(!allowed(p, "10.9.1.1:5000", true));
	CHECK(!allowed(p, "[::ffff:10.9.1.1]:5000", true));
	CHECK(!allowed(p, "203.0.113.5:5000", true));
	CHECK(allowed(p, "203.0.113.16:5000", true));
	/* an IPv6 deny covering a whole embedding holds for the raw form */
	CHECK(!allowed(p, "[2002:cb00:7140::1]:5000", true));
	/* a mapped-form allow CIDR applies to the IPv4 address */
	CHECK(allowed(p, "192.168.3.4:5000", true));
	CHECK(allowed(p, "192.169.0.0:5000", true));
	/* not in any list: built-ins still apply */
	CHECK(!allowed(p, "172.16.0.1:5000", true));
	CHECK(!allowed(p, "[::1]:5000", true));
	peer_policy_free(p);
}

static void
test_own_addresses(void)
{
	struct peer_policy *p = peer_policy_new(NULL, 0, NULL, 0);
	struct sotto_addr relay = A("203.0.113.9:0");
	struct sotto_addr lo_relay = A("127.0.0.1:0");
	struct sotto_addr any4 = A("0.0.0.0:3478");
	struct sotto_addr lst = A("198.51.100.1:443");

	CHECK_EQ(peer_policy_add_relay_ip(p, &relay, 49152, 65535), 0);
	CHECK_EQ(peer_policy_add_relay_ip(p, &lo_relay, 50000, 50100), 0);
	CHECK_EQ(peer_policy_add_listener(p, &any4), 0);
	CHECK_EQ(peer_policy_add_listener(p, &lst), 0);

	/* 4: own relay IP, inside / outside the relay port range */
	CHECK(allowed(p, "203.0.113.9:49152", true));
	CHECK(allowed(p, "203.0.113.9:65535", true));
	CHECK(!allowed(p, "203.0.113.9:49151", true));
	CHECK(!allowed(p, "203.0.113.9:22", true));
	CHECK(!allowed(p, "[::ffff:203.0.113.9]:22", true));
	CHECK(allowed(p, "203.0.113.9:22", false));
	/* rule 4 comes before rule 5: two callers on a loopback gateway */
	CHECK(allowed(p, "127.0.0.1:50000", true));
	CHECK(allowed(p, "[::ffff:127.0.0.1]:50100", true));
	CHECK(!allowed(p, "127.0.0.1:50101", true));
	CHECK(!allowed(p, "127.0.0.1:8080", true));
	CHECK(allowed(p, "127.0.0.1:8080", false));
	CHECK(!allowed(p, "127.0.0.2:50000", true));

	/* 1: wildcard listener on 0.0.0.0:3478 */
	CHECK(!allowed(p, "127.0.0.1:3478", true));
	CHECK(!allowed(p, "203.0.113.9:3478", true));
	CHECK(allowed(p, "203.0.113.9:3478", false));
	CHECK(allowed(p, "[2001:db8::9]:3478", true)); /* other family */
	/* 1 and 4: own listener IP gives no ports */
	CHECK(!allowed(p, "198.51.100.1:443", true));
	CHECK(!allowed(p, "198.51.100.1:5000", true));
	CHECK(allowed(p, "198.51.100.1:5000", false));
	CHECK(allowed(p, "198.51.100.2:443", true));

	/* :: listener (dual-stack) covers both families on its port */
	struct sotto_addr any6 = A("[::]:5349");
	CHECK_EQ(peer_policy_add_listener(p, &any6), 0);
	CHECK(!allowed(p, "[2001:db8::9]:5349", true));
	CHECK(!allowed(p, "198.51.100.7:5349", true));
	CHECK(allowed(p, "198.51.100.7:5350", true));

	/* bounded tables */
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = peer_policy_add_listener(p, &lst);
	CHECK_EQ(rc, -ENOSPC);
	rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = peer_policy_add_relay_ip(p, &relay, 1, 2);
	CHECK_EQ(rc, -ENOSPC);
	peer_policy_free(p);
}


/* RFC 4380 Teredo and RFC 5214 ISATAP forms embed an IPv4 address that a
 * tunnel on this host would send to: denied by default, any embedding. */
static void
test_tunnel_forms(void)
{
	struct peer_policy *p = peer_policy_new(NULL, 0, NULL, 0);
	static const char *const denied[] = {
		/* Teredo: server 65.54.227.120, client 192.0.2.45 inverted
		 * (RFC 4380 §4), and ones hiding 127.0.0.1 and 10.0.0.1 */
		"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:5000",
		"[2001::ffff:ffff:80ff:fffe]:5000",
		"[2001:0:7f00:1::f5ff:fffe]:5000",
		"[2001::1]:5000", "[2001:0:ffff:ffff:ffff:ffff:ffff:ffff]:5000",
		/* ISATAP interface identifiers under any prefix, with the
		 * u and g bits, hiding loopback, private and public IPv4 */
		"[2001:db8::5efe:7f00:1]:5000",
		"[2001:db8::200:5efe:7f00:1]:5000",
		"[2001:db8:1:2:100:5efe:a00:1]:5000",
		"[2001:db8:1:2:300:5efe:c000:201]:5000",
		"[2600:1f18::5efe:cb00:7105]:5000",
		"[2a00:1450:4001::200:5efe:a9fe:a9fe]:80",
	};
	static const char *const ok[] = {
		"[2001:1::5]:5000", "[2001:db8::5]:5000",
		"[2001:db8::400:5efe:7f00:1]:5000", /* not an ISATAP IID */
		"[2001:db8::5eff:7f00:1]:5000", "[2001:db8::5efe]:5000",
		"[2600:1f18::1:5efe:cb00:7105]:5000",
	};

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		bool ok1 = allowed(p, denied[i], true);
		bool ok2 = allowed(p, denied[i], false);
		if (ok1 || ok2)
			fprintf(stderr, "should be denied: %s\n", denied[i]);
		CHECK(!ok1);
		CHECK(!ok2);
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		bool ok1 = allowed(p, ok[i], true);
		if (!ok1)
			fprintf(stderr, "should be allowed: %s\n", ok[i]);
		CHECK(ok1);
	}
	/* left as they are: not normalised to the IPv4 they hide */
	struct sotto_addr a = A("[2001::ffff:ffff:80ff:fffe]:5");
	peer_addr_normalize(&a);
	CHECK_EQ(a.family, AF_INET6);
	peer_policy_free(p);

	/* an explicit allow still opens them (the operator's choice) */
	struct sotto_cidr allow[] = { C("2001::/32") };
	p = peer_policy_new(allow, 1, NULL, 0);
	CHECK(allowed(p, "[2001::1]:5000", true));
	CHECK(!allowed(p, "[2001:db8::5efe:7f00:1]:5000", true));
	peer_policy_free(p);
}

/*
 * Own addresses come before the allow list: an operator who allows a
 * range that covers the relay's, a listener's or the gateway's IP opens
 * none of its other ports, unless allow_own names the address.
 */
static void
test_own_before_allow(void)
{
	struct sotto_cidr all[] = { C("0.0.0.0/0"), C("::/0") };
	struct sotto_cidr deny[] = { C("203.0.113.9/32") };
	struct sotto_cidr own[] = { C("198.51.100.0/24"), C("2001:db8::9") };
	struct sotto_addr relay = A("192.0.2.9:0");
	struct sotto_addr relay6 = A("[2001:db8::9]:0");
	struct sotto_addr turn = A("198.51.100.1:3478");
	struct sotto_addr media = A("198.51.100.2:3479");
	struct peer_policy *p = peer_policy_new(all, 2, NULL, 0);
	char peer[64];
	unsigned open = 0, tried = 0;

	CHECK(p != NULL);
	CHECK_EQ(peer_policy_add_relay_ip(p, &relay, 49152, 65535), 0);
	CHECK_EQ(peer_policy_add_relay_ip(p, &relay6, 49152, 65535), 0);
	CHECK_EQ(peer_policy_add_listener(p, &turn), 0);
	CHECK_EQ(peer_policy_add_listener(p, &media), 0);

	/* every port outside the relay range, on every own IP, in every
	 * spelling: none open */
	static const char *const fmt[] = {
		"192.0.2.9:%u", "[::ffff:192.0.2.9]:%u", "[64:ff9b::c000:209]:%u",
		"[2002:c000:209::]:%u", "198.51.100.1:%u", "198.51.100.2:%u",
		"[2001:db8::9]:%u",
	};
	for (size_t f = 0; f < sizeof(fmt) / sizeof(fmt[0]); f++)
		for (unsigned port = 1; port < 49152; port += 97) {
			snprintf(peer, sizeof(peer), fmt[f], port);
			tried++;
			open += allowed(p, peer, true);
		}
	CHECK(tried > 3000);
	CHECK_EQ(open, 0);
	/* what stays: relay-to-relay inside the range, permissions per IP,
	 * and the rest of the allowed world */
	CHECK(allowed(p, "192.0.2.9:49152", true));
	CHECK(allowed(p, "[2001:db8::9]:65535", true));
	CHECK(allowed(p, "192.0.2.9:22", false));
	CHECK(allowed(p, "198.51.100.1:22", false));
	CHECK(allowed(p, "192.0.2.10:22", true));
	CHECK(allowed(p, "10.0.0.1:22", true));

	/* allow_own names them: the listeners' ports stay shut (rule 1),
	 * the deny list still wins, unnamed own IPs stay shut */
	CHECK_EQ(peer_policy_set_allow_own(p, own, 2), 0);
	CHECK(allowed(p, "198.51.100.1:22", true));
	CHECK(allowed(p, "[::ffff:198.51.100.2]:22", true));
	CHECK(allowed(p, "[2001:db8::9]:22", true));
	CHECK(!allowed(p, "198.51.100.1:3478", true));
	CHECK(!allowed(p, "198.51.100.2:3479", true));
	CHECK(!allowed(p, "192.0.2.9:22", true));
	/* replaced, not added to */
	CHECK_EQ(peer_policy_set_allow_own(p, NULL, 0), 0);
	CHECK(!allowed(p, "198.51.100.1:22", true));
	peer_policy_free(p);

	p = peer_policy_new(all, 2, deny, 1);
	struct sotto_addr r2 = A("203.0.113.9:0");
	CHECK_EQ(peer_policy_add_relay_ip(p, &r2, 49152, 65535), 0);
	struct sotto_cidr own2[] = { C("203.0.113.9") };
	CHECK_EQ(peer_policy_set_allow_own(p, own2, 1), 0);
	CHECK(!allowed(p, "203.0.113.9:22", true));
	CHECK(!allowed(p, "203.0.113.9:49152", true));
	peer_policy_free(p);
}

static void
test_cidr(void)
{
	struct sotto_cidr c;
	struct sotto_addr a;

	CHECK_EQ(sotto_cidr_parse(&c, "0.0.0.0/0"), 0);
	CHECK_EQ(c.prefix, 0);
	a = A("203.0.113.5:1");
	CHECK(sotto_cidr_match(&c, &a));
	a = A("[2001:db8::1]:1");
	CHECK(!sotto_cidr_match(&c, &a)); /* families never cross */

	CHECK_EQ(sotto_cidr_parse(&c, "::/0"), 0);
	CHECK(sotto_cidr_match(&c, &a));

	CHECK_EQ(sotto_cidr_parse(&c, "203.0.113.5/32"), 0);
	a = A("203.0.113.5:9");
	CHECK(sotto_cidr_match(&c, &a));
	a = A("203.0.113.4:9");
	CHECK(!sotto_cidr_match(&c, &a));

	CHECK_EQ(sotto_cidr_parse(&c, "203.0.113.5"), 0);
	CHECK_EQ(c.prefix, 32);
	CHECK_EQ(sotto_cidr_parse(&c, "2001:db8::1"), 0);
	CHECK_EQ(c.prefix, 128);
	CHECK_EQ(sotto_cidr_parse(&c, "2001:db8::1/128"), 0);
	a = A("[2001:db8::1]:1");
	CHECK(sotto_cidr_match(&c, &a));
	a = A("[2001:db8::2]:1");
	CHECK(!sotto_cidr_match(&c, &a));

	/* non-byte-aligned prefixes and host bits */
	CHECK_EQ(sotto_cidr_parse(&c, "172.16.0.0/12"), 0);
	a = A("172.31.255.255:1");
	CHECK(sotto_cidr_match(&c, &a));
	a = A("172.32.0.0:1");
	CHECK(!sotto_cidr_match(&c, &a));
	CHECK_EQ(sotto_cidr_parse(&c, "10.1.2.3/8"), 0);
	CHECK_EQ(c.addr.ip[1], 0);
	a = A("10.200.0.1:1");
	CHECK(sotto_cidr_match(&c, &a));
	CHECK_EQ(sotto_cidr_parse(&c, "fe80::/10"), 0);
	a = A("[febf::1]:1");
	CHECK(sotto_cidr_match(&c, &a));
	a = A("[fec0::1]:1");
	CHECK(!sotto_cidr_match(&c, &a));

	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129",
		"10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8 ",
		"10.0.0.0/8/8", "10.0.0.0/0x8", "10.0.0.0/0008", "10.0.0",
		"10.0.0.256", "1.2.3.4.5", "hello", "::g", "fe80::1%eth0",
		"[::1]/128", "10.0.0.0 /8", "2001:db8::/999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sotto_cidr_parse(&c, bad[i]);
		if (rc != -EINVAL)
			fprintf(stderr, "cidr accepted: \"%s\"\n", bad[i]);
		CHECK_EQ(rc, -EINVAL);
	}
	CHECK_EQ(sotto_cidr_parse(&c, NULL), -EINVAL);
	/* leading zeros within 3 digits are harmless */
	CHECK_EQ(sotto_cidr_parse(&c, "10.0.0.0/008"), 0);
	CHECK_EQ(c.prefix, 8);
}

int
main(void)
{
	test_normalize();
	test_builtin();
	test_config_rules();
	test_own_addresses();
	test_tunnel_forms();
	test_own_before_allow();
	test_cidr();
	return check_done("peer_policy");
}
