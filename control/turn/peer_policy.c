/* SPDX-License-Identifier: BSD-3-Clause */
#include "peer_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Own addresses: a handful of listeners and relay IPs per gateway. */
#define PEER_POLICY_MAX_OWN 32

struct peer_relay_ip {
	struct sotto_addr ip;
	uint16_t port_min;
	uint16_t port_max;
};

struct peer_policy {
	struct sotto_cidr *allow;
	unsigned n_allow;
	struct sotto_cidr *deny;
	unsigned n_deny;
	struct sotto_cidr *allow_own;
	unsigned n_allow_own;
	struct sotto_addr listener[PEER_POLICY_MAX_OWN];
	unsigned n_listener;
	struct peer_relay_ip relay[PEER_POLICY_MAX_OWN];
	unsigned n_relay;
};

/*
 * Rule 5, built-in denied ranges. Documentation ranges (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are deliberately not
 * here: they are unroutable anyway, and tests and docs use them.
 */
struct builtin_range {
	uint8_t family;
	uint8_t prefix;
	uint8_t ip[16];
};

static const struct builtin_range builtin_deny[] = {
	/* RFC 1122 §3.2.1.3: "this host on this network" */
	{ AF_INET, 8, { 0 } },
	/* RFC 1918 private */
	{ AF_INET, 8, { 10 } },
	/* RFC 6598 shared address space (CGNAT) */
	{ AF_INET, 10, { 100, 64 } },
	/* RFC 1122 §3.2.1.3 loopback */
	{ AF_INET, 8, { 127 } },
	/* RFC 3927 link-local, incl. 169.254.169.254 cloud metadata */
	{ AF_INET, 16, { 169, 254 } },
	/* RFC 1918 private */
	{ AF_INET, 12, { 172, 16 } },
	/* RFC 6890 §2.2.2 IETF protocol assignments */
	{ AF_INET, 24, { 192, 0, 0 } },
	/* RFC 1918 private */
	{ AF_INET, 16, { 192, 168 } },
	/* RFC 2544 benchmarking */
	{ AF_INET, 15, { 198, 18 } },
	/* RFC 5771 multicast */
	{ AF_INET, 4, { 224 } },
	/* RFC 1112 §4 reserved (class E) */
	{ AF_INET, 4, { 240 } },
	/* RFC 919 limited broadcast (inside 240/4; listed for the reader) */
	{ AF_INET, 32, { 255, 255, 255, 255 } },
	/* RFC 4291 §2.5.2 unspecified */
	{ AF_INET6, 128, { 0 } },
	/* RFC 4291 §2.5.3 loopback */
	{ AF_INET6, 128, { [15] = 1 } },
	/* RFC 8215 local-use IPv4/IPv6 translation prefix */
	{ AF_INET6, 48, { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 } },
	/* RFC 6666 discard-only */
	{ AF_INET6, 64, { 0x01, 0x00 } },
	/* RFC 4380 Teredo 2001::/32: the client's IPv4 address sits in the
	 * last 32 bits, obfuscated (inverted), and a Teredo interface on
	 * this host would send to it (127.0.0.1, 10/8, ...). Denied rather
	 * than decoded and checked: one rule with nothing to get wrong, and
	 * no browser needs a Teredo peer (an allow entry can still open it) */
	{ AF_INET6, 32, { 0x20, 0x01, 0x00, 0x00 } },
	/* RFC 4193 unique local */
	{ AF_INET6, 7, { 0xfc } },
	/* RFC 4291 §2.5.6 link-local */
	{ AF_INET6, 10, { 0xfe, 0x80 } },
	/* RFC 3879 deprecated site-local: still routed inside some sites */
	{ AF_INET6, 10, { 0xfe, 0xc0 } },
	/* RFC 4291 §2.7 multicast */
	{ AF_INET6, 8, { 0xff } },
};

static bool
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

static bool
is_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++ != 0)
			return false;
	return true;
}

static const uint8_t nat64_wkp[12] = { 0x00, 0x64, 0xff, 0x9b };

/*
 * Which IPv6 form embeds an IPv4 address, and where; 0 if none. Returns the
 * embedding's prefix length in bits and sets *off to the byte offset of
 * the IPv4 address.
 */
static unsigned
v4_embedding(const uint8_t ip[16], unsigned *off)
{
	*off = 12;
	/* RFC 4291 §2.5.5.2 IPv4-mapped ::ffff:a.b.c.d */
	if (is_zero(ip, 10) && ip[10] == 0xff && ip[11] == 0xff)
		return 96;
	/* RFC 2765 §2.1 IPv4-translated ::ffff:0:a.b.c.d */
	if (is_zero(ip, 8) && ip[8] == 0xff && ip[9] == 0xff &&
	    ip[10] == 0 && ip[11] == 0)
		return 96;
	/* RFC 4291 §2.5.5.1 IPv4-compatible ::a.b.c.d (deprecated, but a
	 * stack may still route it as IPv4); :: and ::1 are IPv6 themselves */
	if (is_zero(ip, 12) && !(is_zero(ip + 12, 3) && ip[15] <= 1))
		return 96;
	/* RFC 6052 §2.1 NAT64 well-known prefix 64:ff9b::/96 */
	if (memcmp(ip, nat64_wkp, 12) == 0)
		return 96;
	/* RFC 3056 §2 6to4 2002:AABB:CCDD::/48 */
	if (ip[0] == 0x20 && ip[1] == 0x02) {
		*off = 2;
		return 16;
	}
	return 0;
}

struct sotto_addr *
peer_addr_normalize(struct sotto_addr *a)
{
	unsigned off;

	a->reserved = 0;
	if (a->family == AF_INET) {
		memset(a->ip + 4, 0, 12);
		return a;
	}
	if (a->family != AF_INET6 || v4_embedding(a->ip, &off) == 0)
		return a;
	uint8_t v4[4];
	memcpy(v4, a->ip + off, 4);
	memset(a->ip, 0, sizeof(a->ip));
	memcpy(a->ip, v4, 4);
	a->family = AF_INET;
	return a;
}

static unsigned
family_bits(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

int
sotto_cidr_parse(struct sotto_cidr *c, const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	size_t n;
	long prefix = -1;
	uint8_t buf[16];

	if (s == NULL)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';

	if (slash != NULL) {
		const char *p = slash + 1;
		/* digits only, at most 3: no sign, no space, no hex */
		if (*p == '\0' || strlen(p) > 3)
			return -EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			prefix = prefix * 10 + (*p - '0');
		}
	}

	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, host, buf) == 1) {
		c->addr.family = AF_INET;
		memcpy(c->addr.ip, buf, 4);
	} else if (inet_pton(AF_INET6, host, buf) == 1) {
		c->addr.family = AF_INET6;
		memcpy(c->addr.ip, buf, 16);
	} else {
		return -EINVAL;
	}
	unsigned max = family_bits(c->addr.family);
	if (prefix < 0)
		prefix = max;
	if ((unsigned long)prefix > max)
		return -EINVAL;
	c->prefix = (uint8_t)prefix;

	/* "10.1.2.3/8" means 10.0.0.0/8: clear the host bits so equality
	 * tests elsewhere (reload diffs) see one canonical form */
	unsigned bytes = c->prefix / 8, bits = c->prefix % 8;
	if (bits) {
		c->addr.ip[bytes] &= (uint8_t)(0xff << (8 - bits));
		bytes++;
	}
	memset(c->addr.ip + bytes, 0, 16 - bytes);
	return 0;
}

bool
sotto_cidr_match(const struct sotto_cidr *c, const struct sotto_addr *a)
{
	if (c->addr.family != a->family ||
	    c->prefix > family_bits(a->family))
		return false;
	return prefix_eq(c->addr.ip, a->ip, c->prefix);
}

/*
 * A configured IPv6 CIDR that lies wholly inside an IPv4 embedding (e.g.
 * ::ffff:10.0.0.0/104) is turned into the IPv4 CIDR it denotes, since the
 * peer addresses it is matched against are normalised first.
 */
static void
cidr_normalize(struct sotto_cidr *c)
{
	unsigned off, emb;

	if (c->addr.family != AF_INET6)
		return;
	/* a prefix that ends at the embedding (::ffff:0:0/96, 2002::/16)
	 * names every IPv4 address: keep it IPv6, it is matched against
	 * the raw form instead (deny only, see peer_policy_allowed) */
	emb = v4_embedding(c->addr.ip, &off);
	if (emb == 0 || c->prefix <= emb)
		return;
	/* 6to4 bits past /48 are the site's subnet: clamp to /32 */
	unsigned p4 = c->prefix - emb;
	if (p4 > 32)
		p4 = 32;
	struct sotto_addr a = c->addr;
	peer_addr_normalize(&a);
	c->addr = a;
	c->addr.port = 0;
	c->prefix = (uint8_t)p4;
}

static struct sotto_cidr *
cidr_copy(const struct sotto_cidr *src, unsigned n)
{
	struct sotto_cidr *c;

	if (n == 0)
		return NULL;
	c = calloc(n, sizeof(*c));
	if (c == NULL)
		return NULL;
	memcpy(c, src, n * sizeof(*c));
	for (unsigned i = 0; i < n; i++)
		cidr_normalize(&c[i]);
	return c;
}

struct peer_policy *
peer_policy_new(const struct sotto_cidr *allow, unsigned n_allow,
		const struct sotto_cidr *deny, unsigned n_deny)
{
	struct peer_policy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (n_allow) {
		p->allow = cidr_copy(allow, n_allow);
		if (p->allow == NULL)
			goto fail;
		p->n_allow = n_allow;
	}
	if (n_deny) {
		p->deny = cidr_copy(deny, n_deny);
		if (p->deny == NULL)
			goto fail;
		p->n_deny = n_deny;
	}
	return p;
fail:
	peer_policy_free(p);
	errno = ENOMEM;
	return NULL;
}

void
peer_policy_free(struct peer_policy *p)
{
	if (p == NULL)
		return;
	free(p->allow);
	free(p->deny);
	free(p->allow_own);
	free(p);
}

int
peer_policy_set_allow_own(struct peer_policy *p, const struct sotto_cidr *c,
			  unsigned n)
{
	struct sotto_cidr *v = NULL;

	if (n) {
		v = cidr_copy(c, n);
		if (v == NULL)
			return -ENOMEM;
	}
	free(p->allow_own);
	p->allow_own = v;
	p->n_allow_own = n;
	return 0;
}

int
peer_policy_add_listener(struct peer_policy *p, const struct sotto_addr *a)
{
	if (p->n_listener == PEER_POLICY_MAX_OWN)
		return -ENOSPC;
	p->listener[p->n_listener] = *a;
	peer_addr_normalize(&p->listener[p->n_listener]);
	p->n_listener++;
	return 0;
}

int
peer_policy_add_relay_ip(struct peer_policy *p, const struct sotto_addr *ip,
			 uint16_t port_min, uint16_t port_max)
{
	struct peer_relay_ip *r;

	if (p->n_relay == PEER_POLICY_MAX_OWN)
		return -ENOSPC;
	r = &p->relay[p->n_relay++];
	r->ip = *ip;
	peer_addr_normalize(&r->ip);
	r->ip.port = 0;
	r->port_min = port_min;
	r->port_max = port_max;
	return 0;
}

static bool
is_unspecified(const struct sotto_addr *a)
{
	return is_zero(a->ip, a->family == AF_INET ? 4 : 16);
}

/* Rule 1: a wildcard listener answers on every local IP of its family;
 * a dual-stack :: socket (Linux bindv6only=0) also takes IPv4, so it
 * matches both families. */
static bool
is_own_listener(const struct peer_policy *p, const struct sotto_addr *a)
{
	for (unsigned i = 0; i < p->n_listener; i++) {
		const struct sotto_addr *l = &p->listener[i];
		if (l->port != a->port)
			continue;
		if (is_unspecified(l) &&
		    (l->family == a->family || l->family == AF_INET6))
			return true;
		if (sotto_addr_ip_eq(l, a))
			return true;
	}
	return false;
}

/*
 * Rule 3. Returns 1 allow, 0 deny, -1 not an own IP. Relay IPs grant their
 * port range; any other own IP (a listener's) grants nothing with a port.
 */
static int
own_ip_verdict(const struct peer_policy *p, const struct sotto_addr *a,
	       bool check_port)
{
	bool own = false;

	for (unsigned i = 0; i < p->n_relay; i++) {
		const struct peer_relay_ip *r = &p->relay[i];
		if (!sotto_addr_ip_eq(&r->ip, a))
			continue;
		if (!check_port ||
		    (a->port >= r->port_min && a->port <= r->port_max))
			return 1;
		own = true;
	}
	for (unsigned i = 0; i < p->n_listener && !own; i++)
		if (!is_unspecified(&p->listener[i]) &&
		    sotto_addr_ip_eq(&p->listener[i], a))
			own = true;
	if (!own)
		return -1;
	/* CreatePermission is per IP (RFC 8656 §9): allow the IP now, the
	 * port is checked when data is actually sent */
	return check_port ? 0 : 1;
}

/*
 * RFC 5214 §6.1 ISATAP interface identifier, under any /64 prefix:
 * 0000:5efe:a.b.c.d, or 0200:5efe:a.b.c.d (u bit: a global IPv4 address),
 * the g bit allowed too. An ISATAP interface on this host would tunnel to
 * a.b.c.d, which may be 127.0.0.1 or a private address. Denied rather than
 * normalised: the /64 names a site we cannot check, and the embedded IPv4
 * is only where a tunnel on this host would send it. A random interface
 * identifier lands here once in 2^30.
 */
static bool
is_isatap(const uint8_t ip[16])
{
	return (ip[8] & 0xfc) == 0 && ip[9] == 0 && ip[10] == 0x5e &&
	       ip[11] == 0xfe;
}

static bool
builtin_denied(const struct sotto_addr *a)
{
	if (a->family == AF_INET6 && is_isatap(a->ip))
		return true;
	for (size_t i = 0; i < sizeof(builtin_deny) / sizeof(builtin_deny[0]);
	     i++) {
		const struct builtin_range *r = &builtin_deny[i];
		if (r->family == a->family && prefix_eq(r->ip, a->ip, r->prefix))
			return true;
	}
	return false;
}

bool
peer_policy_allowed(const struct peer_policy *p, struct sotto_addr *a,
		    bool check_port)
{
	/* the form as received, for deny CIDRs written in IPv6 that cover a
	 * whole embedding (e.g. "deny 2002::/16") */
	struct sotto_addr raw = *a;

	peer_addr_normalize(a);
	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	if (check_port && a->port == 0)
		return false;

	/* 1 */
	if (check_port && is_own_listener(p, a))
		return false;
	/* 2: deny wins over allow, and over either spelling of the address */
	for (unsigned i = 0; i < p->n_deny; i++)
		if (sotto_cidr_match(&p->deny[i], a) ||
		    sotto_cidr_match(&p->deny[i], &raw))
			return false;
	/* 3: before the allow list, which would otherwise open every port
	 * of this host to an allow range that happens to cover it */
	int own = own_ip_verdict(p, a, check_port);
	if (own == 1)
		return true;
	if (own == 0) {
		for (unsigned i = 0; i < p->n_allow_own; i++)
			if (sotto_cidr_match(&p->allow_own[i], a))
				return true;
		return false;
	}
	/* 4 */
	for (unsigned i = 0; i < p->n_allow; i++)
		if (sotto_cidr_match(&p->allow[i], a))
			return true;
	/* 5, 6 */
	return !builtin_denied(a);
}
