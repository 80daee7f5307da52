/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sottod configuration: YAML (libyaml document API) into struct sotto_config.
 *
 * The loader is strict on purpose: unknown keys, duplicate keys, wrong node
 * types and out-of-range values are all errors, because a misspelt key that
 * is silently ignored leaves a relay running with a default the operator
 * believed they had changed. Every error carries name:line:column and what
 * was expected, and loading goes on so one run of --check-config shows them
 * all. Secret values are never echoed into a message.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SECRET_MIN 16
#define SECRET_MAX 255
#define SECRET_ENV "SOTTO_TURN_SECRET"
#define DEFAULT_TURN_PORT 3478
/* 1 TB/s: far above any NIC, low enough that k/M suffixes cannot overflow. */
#define BANDWIDTH_MAX 1000000000000ULL

/* Where a key was given, for checks that involve more than one value. */
struct seen {
	bool set;
	yaml_mark_t mark;
};

struct ctx {
	struct sotto_config *cfg;
	const char *name;
	FILE *errs;
	int nerr;
	yaml_document_t *doc;

	/* Secrets from turn.auth.secrets and turn.auth.secret_file. */
	char **secrets;
	unsigned n_secrets;
	bool secrets_given;

	struct seen turn, port_min, port_max, lt_default, lt_max;

	/* dataplane.dpdk: where things were, for the checks against turn.
	 * The *_bad flags keep one mistake from being reported again as
	 * a cross-check failure against the defaults left in its place. */
	struct seen dataplane, driver, ports, lcores;
	bool ports_bad, listen_bad, relay_bad, listen_given, relay_given;
	int n_lcores; /* distinct lcores named by dataplane.dpdk.lcores */
	yaml_mark_t listen_mark[CONFIG_MAX_ADDRS];
	yaml_mark_t relay_mark[CONFIG_MAX_ADDRS];

	/* The ports[] item being parsed, and where its keys were. */
	struct dp_port_conf *port;
	struct seen p_device, p_ip4, p_ip6, p_gw4, p_gw6;

	struct seen http, tls_cert, tls_key;
	yaml_mark_t http_listen_mark[CONFIG_MAX_ADDRS];
	yaml_mark_t gw_listen_mark[CONFIG_MAX_ADDRS];
};

static void __attribute__((format(printf, 5, 6)))
report(struct ctx *c, const char *name, size_t line, size_t col,
       const char *fmt, ...)
{
	va_list ap;

	c->nerr++;
	if (c->errs == NULL)
		return;
	fprintf(c->errs, "%s:%zu:%zu: error: ", name, line, col);
	va_start(ap, fmt);
	vfprintf(c->errs, fmt, ap);
	va_end(ap);
	fputc('\n', c->errs);
}

/* libyaml marks are 0-based; editors and compilers count from 1. */
#define err_at(c, mark, ...)                                                  \
	report((c), (c)->name, (mark).line + 1, (mark).column + 1, __VA_ARGS__)
#define err_node(c, node, ...) err_at((c), (node)->start_mark, __VA_ARGS__)

static bool
is_scalar(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE;
}

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A scalar holding a NUL byte ("\0" escape) would be cut short by C. */
static bool
scalar_has_nul(const yaml_node_t *n)
{
	return strlen(scalar(n)) != n->data.scalar.length;
}

static bool
scalar_is_printable(const yaml_node_t *n)
{
	for (size_t i = 0; i < n->data.scalar.length; i++) {
		unsigned char ch = n->data.scalar.value[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

/* ---- value parsers ---------------------------------------------------- */

/* Plain decimal only: no sign, no hex, no trailing junk. Returns the number
 * of digits consumed or 0. */
static size_t
parse_decimal(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	*out = 0;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return i;
}

static int
get_uint(struct ctx *c, const char *path, yaml_node_t *n, uint64_t min,
	 uint64_t max, uint64_t *out)
{
	uint64_t v;
	size_t len;

	if (is_scalar(n)) {
		len = parse_decimal(scalar(n), &v);
		if (len > 0 && len == n->data.scalar.length && v >= min &&
		    v <= max) {
			*out = v;
			return 0;
		}
	}
	err_node(c, n, "expected an integer from %llu to %llu for %s",
		 (unsigned long long)min, (unsigned long long)max, path);
	return -EINVAL;
}

/* Index of n's value in names[], or -1 after reporting the choices. */
static int
get_enum(struct ctx *c, const char *path, yaml_node_t *n,
	 const char *const *names, unsigned count)
{
	char choices[128] = "";

	if (is_scalar(n)) {
		for (unsigned i = 0; i < count; i++)
			if (strcmp(scalar(n), names[i]) == 0)
				return (int)i;
	}
	for (unsigned i = 0; i < count; i++) {
		strncat(choices, names[i], sizeof(choices) - strlen(choices) - 1);
		if (i + 1 < count)
			strncat(choices, ", ",
				sizeof(choices) - strlen(choices) - 1);
	}
	err_node(c, n, "expected one of %s for %s", choices, path);
	return -1;
}

static int
get_string(struct ctx *c, const char *path, yaml_node_t *n, size_t min,
	   size_t max, char *dst, size_t dstlen)
{
	if (!is_scalar(n) || scalar_has_nul(n) || !scalar_is_printable(n) ||
	    n->data.scalar.length < min || n->data.scalar.length > max ||
	    n->data.scalar.length >= dstlen) {
		err_node(c, n,
			 "expected a string of %zu to %zu printable characters for %s",
			 min, max, path);
		return -EINVAL;
	}
	memcpy(dst, scalar(n), n->data.scalar.length + 1);
	return 0;
}

/* A bare IP address, no port and no brackets. */
static int
parse_ip(struct sotto_addr *a, const char *s)
{
	uint8_t buf[16];

	if (inet_pton(AF_INET, s, buf) == 1) {
		uint32_t v4;
		memcpy(&v4, buf, 4);
		sotto_addr_v4(a, v4, 0);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		sotto_addr_v6(a, buf, 0);
		return 0;
	}
	return -EINVAL;
}

static bool
addr_is_unspecified(const struct sotto_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->ip, zero, a->family == AF_INET ? 4 : 16) == 0;
}

/*
 * "10.0.0.0/8", "::1/128" or a bare address (a host route). Kept private to
 * the config module: peer_policy.c owns the public sotto_cidr_parse. On
 * failure *why says what was wrong, for the error message.
 */
static int
config_parse_cidr(struct sotto_cidr *cidr, const char *s, const char **why)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned bits;

	*why = "expected an IP address or CIDR";
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(cidr, 0, sizeof(*cidr));
	if (parse_ip(&cidr->addr, ip) < 0)
		return -EINVAL;
	bits = cidr->addr.family == AF_INET ? 32 : 128;
	prefix = bits;
	if (slash != NULL) {
		size_t len = parse_decimal(slash + 1, &prefix);
		if (len == 0 || len > 3 || slash[1 + len] != '\0')
			return -EINVAL;
		if (prefix > bits) {
			*why = cidr->addr.family == AF_INET ?
				       "CIDR prefix too long: expected /0 to /32" :
				       "CIDR prefix too long: expected /0 to /128";
			return -EINVAL;
		}
	}
	/* A set host bit is almost always a typo ("10.1.0.0/8" meant as
	 * /16?); guessing which was meant could open a wider range. */
	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 :
				prefix <= i * 8	       ? 0 :
							 (unsigned)(prefix - i * 8);
		uint8_t mask = (uint8_t)(0xff00 >> keep);
		if (cidr->addr.ip[i] & ~mask) {
			*why = "host bits set in CIDR (expected the first address of the network)";
			return -EINVAL;
		}
	}
	cidr->prefix = (uint8_t)prefix;
	return 0;
}

/* ---- secrets ---------------------------------------------------------- */

static void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void
secrets_free(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		secret_free(v[i]);
	free(v);
}

static bool
secret_len_ok(size_t len)
{
	return len >= SECRET_MIN && len <= SECRET_MAX;
}

static int
secret_add(struct ctx *c, const char *s, size_t len)
{
	char **v = realloc(c->secrets, (c->n_secrets + 1) * sizeof(*v));
	char *dup;

	if (v == NULL)
		return -ENOMEM;
	c->secrets = v;
	dup = strndup(s, len);
	if (dup == NULL)
		return -ENOMEM;
	c->secrets[c->n_secrets++] = dup;
	return 0;
}

static void
oom(struct ctx *c, yaml_node_t *n)
{
	err_node(c, n, "out of memory");
}

static void
key_secrets(struct ctx *c, const char *path, yaml_node_t *n)
{
	c->secrets_given = true;
	if (n->type != YAML_SEQUENCE_NODE) {
		err_node(c, n, "expected a list of secrets for %s", path);
		return;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);

		if (!is_scalar(s) || scalar_has_nul(s) ||
		    !secret_len_ok(s->data.scalar.length)) {
			err_node(c, s,
				 "expected a secret string of %d to %d characters in %s",
				 SECRET_MIN, SECRET_MAX, path);
			continue;
		}
		if (secret_add(c, scalar(s), s->data.scalar.length) < 0)
			oom(c, s);
	}
}

static void
trim(char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' ||
			    (*s)[*len - 1] == '\r' || (*s)[*len - 1] == '\n'))
		(*len)--;
}

/* One secret a line; blank lines and lines starting with # are skipped.
 * Errors in the file point into the file itself, not the YAML. */
static void
key_secret_file(struct ctx *c, const char *path, yaml_node_t *n)
{
	char iobuf[4096];
	size_t cap = 1024, lineno = 0;
	char *line;
	ssize_t got;
	FILE *f;

	c->secrets_given = true;
	if (!is_scalar(n) || n->data.scalar.length == 0 || scalar_has_nul(n)) {
		err_node(c, n, "expected a file path for %s", path);
		return;
	}
	f = fopen(scalar(n), "re");
	if (f == NULL) {
		err_node(c, n, "cannot open %s \"%s\": %s", path, scalar(n),
			 strerror(errno));
		return;
	}
	/* Our own buffers, so they can be wiped: getline only reallocates
	 * for lines too long to be a valid secret anyway. */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	line = malloc(cap);
	if (line == NULL) {
		oom(c, n);
		fclose(f);
		return;
	}
	while ((got = getline(&line, &cap, f)) >= 0) {
		char *s = line;
		size_t len = (size_t)got;

		lineno++;
		trim(&s, &len);
		if (len == 0 || s[0] == '#')
			continue;
		if (!secret_len_ok(len) || memchr(s, '\0', len) != NULL) {
			report(c, scalar(n), lineno, (size_t)(s - line) + 1,
			       "expected a secret of %d to %d characters",
			       SECRET_MIN, SECRET_MAX);
			continue;
		}
		if (secret_add(c, s, len) < 0)
			oom(c, n);
	}
	if (ferror(f))
		err_node(c, n, "cannot read %s \"%s\": %s", path, scalar(n),
			 strerror(errno));
	explicit_bzero(line, cap);
	free(line);
	fclose(f);
	explicit_bzero(iobuf, sizeof(iobuf));
}

/* ---- address lists ---------------------------------------------------- */

static bool
list_check(struct ctx *c, const char *path, yaml_node_t *n, const char *what,
	   unsigned min, unsigned max)
{
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE) {
		err_node(c, n, "expected a list of %s for %s", what, path);
		return false;
	}
	count = (size_t)(n->data.sequence.items.top -
			 n->data.sequence.items.start);
	if (count < min || count > max) {
		err_node(c, n, "expected a list of %u to %u %s for %s", min,
			 max, what, path);
		return false;
	}
	return true;
}

static bool
addr_in(const struct sotto_addr *v, unsigned n, const struct sotto_addr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (sotto_addr_eq(&v[i], a))
			return true;
	return false;
}

/*
 * A list of "ip:port" addresses (port defaults to default_port) into v,
 * with where each was in marks. Returns the count, or -1 after reporting
 * (nothing written then).
 */
static int
addr_list(struct ctx *c, const char *path, yaml_node_t *n, unsigned min,
	  uint16_t default_port, struct sotto_addr *out, yaml_mark_t *marks)
{
	struct sotto_addr v[CONFIG_MAX_ADDRS];
	yaml_mark_t m[CONFIG_MAX_ADDRS];
	unsigned count = 0;
	int bad = 0;

	if (!list_check(c, path, n, "ip:port addresses", min, CONFIG_MAX_ADDRS))
		return -1;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);
		struct sotto_addr a;

		if (!is_scalar(s) || scalar_has_nul(s) ||
		    sotto_addr_parse(&a, scalar(s), default_port) < 0 ||
		    a.port == 0) {
			err_node(c, s,
				 "expected an address \"ip:port\" or \"[ipv6]:port\" with a port from 1 to 65535 in %s",
				 path);
			bad++;
			continue;
		}
		if (addr_in(v, count, &a)) {
			err_node(c, s, "duplicate address in %s", path);
			bad++;
			continue;
		}
		m[count] = s->start_mark;
		v[count++] = a;
	}
	if (bad)
		return -1;
	memcpy(out, v, count * sizeof(v[0]));
	memcpy(marks, m, count * sizeof(m[0]));
	return (int)count;
}

static void
key_listen(struct ctx *c, const char *path, yaml_node_t *n)
{
	int count;

	c->listen_bad = true; /* until the whole list is in */
	count = addr_list(c, path, n, 1, DEFAULT_TURN_PORT, c->cfg->turn.listen,
			  c->listen_mark);
	if (count < 0)
		return;
	c->cfg->turn.n_listen = (unsigned)count;
	c->listen_bad = false;
	c->listen_given = true;
}

static void
key_relay_addresses(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct sotto_addr v[CONFIG_MAX_ADDRS];
	yaml_mark_t m[CONFIG_MAX_ADDRS];
	unsigned count = 0;
	int bad = 0;

	c->relay_bad = true; /* until the whole list is in */
	if (!list_check(c, path, n, "IP addresses", 1, CONFIG_MAX_ADDRS))
		return;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);
		struct sotto_addr a;

		if (!is_scalar(s) || scalar_has_nul(s) ||
		    parse_ip(&a, scalar(s)) < 0) {
			err_node(c, s,
				 "expected an IP address without a port in %s",
				 path);
			bad++;
			continue;
		}
		/* The relayed address goes to clients in
		 * XOR-RELAYED-ADDRESS; a wildcard is not reachable. */
		if (addr_is_unspecified(&a)) {
			err_node(c, s,
				 "expected a specific IP address, not the unspecified address, in %s",
				 path);
			bad++;
			continue;
		}
		if (addr_in(v, count, &a)) {
			err_node(c, s, "duplicate address in %s", path);
			bad++;
			continue;
		}
		m[count] = s->start_mark;
		v[count++] = a;
	}
	if (bad)
		return;
	memcpy(c->cfg->turn.relay, v, count * sizeof(v[0]));
	c->cfg->turn.n_relay = count;
	memcpy(c->relay_mark, m, count * sizeof(m[0]));
	c->relay_bad = false;
	c->relay_given = true;
}

static void
cidr_list(struct ctx *c, const char *path, yaml_node_t *n,
	  struct sotto_cidr **dst, unsigned *n_dst)
{
	struct sotto_cidr *v;
	size_t count;
	unsigned ok = 0;
	int bad = 0;

	if (n->type != YAML_SEQUENCE_NODE) {
		err_node(c, n, "expected a list of IP addresses or CIDRs for %s",
			 path);
		return;
	}
	count = (size_t)(n->data.sequence.items.top -
			 n->data.sequence.items.start);
	v = calloc(count ? count : 1, sizeof(*v));
	if (v == NULL) {
		oom(c, n);
		return;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);
		const char *why = "expected an IP address or CIDR";

		if (!is_scalar(s) || scalar_has_nul(s) ||
		    config_parse_cidr(&v[ok], scalar(s), &why) < 0) {
			err_node(c, s, "%s in %s", why, path);
			bad++;
			continue;
		}
		ok++;
	}
	if (bad) {
		free(v);
		return;
	}
	free(*dst);
	*dst = v;
	*n_dst = ok;
}

static void
key_allow(struct ctx *c, const char *path, yaml_node_t *n)
{
	cidr_list(c, path, n, &c->cfg->turn.allow, &c->cfg->turn.n_allow);
}

static void
key_deny(struct ctx *c, const char *path, yaml_node_t *n)
{
	cidr_list(c, path, n, &c->cfg->turn.deny, &c->cfg->turn.n_deny);
}

static void
key_allow_own(struct ctx *c, const char *path, yaml_node_t *n)
{
	cidr_list(c, path, n, &c->cfg->turn.allow_own,
		  &c->cfg->turn.n_allow_own);
}

/* ---- scalar keys ------------------------------------------------------ */

static void
key_log_level(struct ctx *c, const char *path, yaml_node_t *n)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	int i = get_enum(c, path, n, names, 4);

	if (i >= 0)
		c->cfg->log_level = (enum log_level)i;
}

static void
key_log_format(struct ctx *c, const char *path, yaml_node_t *n)
{
	static const char *const names[] = { "text", "json" };
	int i = get_enum(c, path, n, names, 2);

	if (i >= 0)
		c->cfg->log_format = (enum log_format)i;
}

static void
key_driver(struct ctx *c, const char *path, yaml_node_t *n)
{
	static const char *const names[] = { "udp", "dpdk" };
	int i = get_enum(c, path, n, names, 2);

	if (i >= 0)
		c->cfg->dataplane.driver = i == 0 ? DP_DRIVER_UDP :
						    DP_DRIVER_DPDK;
}

static void
key_idle(struct ctx *c, const char *path, yaml_node_t *n)
{
	static const char *const names[] = { "adaptive", "poll" };
	int i = get_enum(c, path, n, names, 2);

	if (i >= 0)
		c->cfg->dataplane.idle = i == 0 ? DP_IDLE_ADAPTIVE :
						  DP_IDLE_POLL;
}

/* Power of two in [min, max]: rte_ring, NIC descriptor rings and our hash
 * tables all size by masking. */
static int
get_pow2(struct ctx *c, const char *path, yaml_node_t *n, uint64_t min,
	 uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!is_scalar(n) || n->data.scalar.length == 0 ||
	    parse_decimal(scalar(n), &v) != n->data.scalar.length || v < min ||
	    v > max || (v & (v - 1)) != 0) {
		err_node(c, n,
			 "expected a power of two from %llu to %llu for %s",
			 (unsigned long long)min, (unsigned long long)max,
			 path);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void
key_ring_size(struct ctx *c, const char *path, yaml_node_t *n)
{
	uint64_t v;

	/* rte_ring needs a power of two unless created with RING_F_EXACT_SZ. */
	if (get_pow2(c, path, n, 256, 65536, &v) == 0)
		c->cfg->dataplane.ring_size = (uint32_t)v;
}

static void
key_realm(struct ctx *c, const char *path, yaml_node_t *n)
{
	get_string(c, path, n, 1, sizeof(c->cfg->turn.realm) - 1,
		   c->cfg->turn.realm, sizeof(c->cfg->turn.realm));
}

static void
key_channel_range(struct ctx *c, const char *path, yaml_node_t *n)
{
	static const char *const names[] = { "rfc8656", "rfc5766" };
	int v = get_enum(c, path, n, names, 2);

	if (v >= 0)
		c->cfg->turn.legacy_channels = v == 1;
}

static void
key_software(struct ctx *c, const char *path, yaml_node_t *n)
{
	get_string(c, path, n, 0, sizeof(c->cfg->turn.software) - 1,
		   c->cfg->turn.software, sizeof(c->cfg->turn.software));
}

/* Plain integer with an optional k or M suffix (powers of 1000). */
/* Bytes per second from lo to hi, with an optional k or M suffix. */
static void
bytes_per_s(struct ctx *c, const char *path, yaml_node_t *n, uint64_t lo,
	    uint64_t hi, uint64_t *dst)
{
	uint64_t v, mult = 1;
	size_t len;

	if (!is_scalar(n))
		goto bad;
	len = parse_decimal(scalar(n), &v);
	if (len == 0)
		goto bad;
	if (len + 1 == n->data.scalar.length && scalar(n)[len] == 'k')
		mult = 1000;
	else if (len + 1 == n->data.scalar.length && scalar(n)[len] == 'M')
		mult = 1000000;
	else if (len != n->data.scalar.length)
		goto bad;
	if (v > hi / mult || v * mult < lo)
		goto bad;
	*dst = v * mult;
	return;
bad:
	err_node(c, n,
		 "expected bytes per second from %llu to %llu, as an integer with an optional k or M suffix, for %s",
		 (unsigned long long)lo, (unsigned long long)hi, path);
}

static void
key_bandwidth(struct ctx *c, const char *path, yaml_node_t *n)
{
	bytes_per_s(c, path, n, 0, BANDWIDTH_MAX, &c->cfg->turn.bandwidth);
}

/* gateway.leg_bandwidth: never off (each packet costs a decrypt and a
 * copy per listener); 8 kB/s is below any usable Opus stream */
static void
key_gw_bandwidth(struct ctx *c, const char *path, yaml_node_t *n)
{
	bytes_per_s(c, path, n, 8000, 10000000, &c->cfg->gateway.leg_bandwidth);
}

/* ---- dataplane.dpdk --------------------------------------------------- */

/* Well above any RTE_MAX_LCORE build; EAL itself rejects what its build
 * cannot hold, this only bounds our own bitmap. */
#define LCORE_ID_MAX 1024

/* An lcore or CPU number; advances *s. */
static bool
lc_num(const char **s, unsigned *out)
{
	uint64_t v;
	size_t len = parse_decimal(*s, &v);

	if (len == 0 || v >= LCORE_ID_MAX)
		return false;
	*s += len;
	*out = (unsigned)v;
	return true;
}

/* "n" or "a-b", marked in set (NULL on the CPU side of '@'). */
static bool
lc_range(const char **s, uint8_t *set)
{
	unsigned a, b;

	if (!lc_num(s, &a))
		return false;
	b = a;
	if (**s == '-') {
		(*s)++;
		if (!lc_num(s, &b) || b < a)
			return false;
	}
	for (unsigned i = a; set != NULL && i <= b; i++)
		set[i / 8] |= (uint8_t)(1u << (i % 8));
	return true;
}

/* A range, or "(" ranges separated by "," ")". */
static bool
lc_set(const char **s, uint8_t *set)
{
	if (**s != '(')
		return lc_range(s, set);
	(*s)++;
	for (;;) {
		if (!lc_range(s, set))
			return false;
		if (**s != ',')
			break;
		(*s)++;
	}
	if (**s != ')')
		return false;
	(*s)++;
	return true;
}

/*
 * EAL --lcores syntax: elements separated by ',', each an lcore set with
 * an optional "@cpu set". Checked here so a typo is a config error with a
 * position instead of an EAL failure at start. Returns how many distinct
 * lcores it names (for the check against dataplane.workers) or -1.
 */
static int
lcores_count(const char *s)
{
	uint8_t set[LCORE_ID_MAX / 8] = { 0 };
	int count = 0;

	for (;;) {
		if (!lc_set(&s, set))
			return -1;
		if (*s == '@') {
			s++;
			if (!lc_set(&s, NULL))
				return -1;
		}
		if (*s == '\0')
			break;
		if (*s != ',')
			return -1;
		s++;
	}
	for (unsigned i = 0; i < LCORE_ID_MAX; i++)
		count += (set[i / 8] >> (i % 8)) & 1;
	return count;
}

static void
key_lcores(struct ctx *c, const char *path, yaml_node_t *n)
{
	char buf[sizeof(c->cfg->dataplane.dpdk.lcores)];
	int count;

	if (get_string(c, path, n, 1, sizeof(buf) - 1, buf, sizeof(buf)) < 0)
		return;
	count = lcores_count(buf);
	if (count < 0) {
		err_node(c, n,
			 "expected an lcore list such as \"0-2\", \"1,3,5\" or \"0@2,1@4,2@6\" for %s",
			 path);
		return;
	}
	memcpy(c->cfg->dataplane.dpdk.lcores, buf, sizeof(buf));
	c->n_lcores = count;
}

/* Options that would fight the lcore layout sottod builds itself: the
 * first lcore of dataplane.dpdk.lcores is the control thread, the rest
 * are workers in order. */
static bool
eal_arg_reserved(const char *a)
{
	/* -l and -c, also with the value attached ("-l0-2", "-c0x7") */
	if (a[0] == '-' && (a[1] == 'l' || a[1] == 'c'))
		return true;
	return strcmp(a, "--lcores") == 0 ||
	       strncmp(a, "--lcores=", 9) == 0 ||
	       strcmp(a, "--main-lcore") == 0 ||
	       strncmp(a, "--main-lcore=", 13) == 0;
}

static void
eal_args_free(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
}

static void
key_eal(struct ctx *c, const char *path, yaml_node_t *n)
{
	char *v[CONFIG_MAX_EAL_ARGS];
	unsigned count = 0;
	int bad = 0;

	if (!list_check(c, path, n, "strings", 0, CONFIG_MAX_EAL_ARGS))
		return;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);

		if (!is_scalar(s) || scalar_has_nul(s) ||
		    !scalar_is_printable(s) || s->data.scalar.length == 0 ||
		    s->data.scalar.length > 255) {
			err_node(c, s,
				 "expected a string of 1 to 255 printable characters in %s",
				 path);
			bad++;
			continue;
		}
		if (eal_arg_reserved(scalar(s))) {
			err_node(c, s,
				 "\"%s\" is not allowed in %s: sottod passes --lcores itself, set dataplane.dpdk.lcores instead",
				 scalar(s), path);
			bad++;
			continue;
		}
		v[count] = strdup(scalar(s));
		if (v[count] == NULL) {
			oom(c, s);
			bad++;
			continue;
		}
		count++;
	}
	if (bad) {
		eal_args_free(v, count);
		return;
	}
	eal_args_free(c->cfg->dataplane.dpdk.eal_args,
		      c->cfg->dataplane.dpdk.n_eal_args);
	memcpy(c->cfg->dataplane.dpdk.eal_args, v, count * sizeof(v[0]));
	c->cfg->dataplane.dpdk.n_eal_args = count;
}

static void
key_neighbours(struct ctx *c, const char *path, yaml_node_t *n)
{
	uint64_t v;

	if (get_pow2(c, path, n, 64, 1048576, &v) == 0)
		c->cfg->dataplane.dpdk.neighbours = (uint32_t)v;
}

/* NIC descriptor rings: most PMDs want a power of two, none go past 16k. */
static void
key_rx_desc(struct ctx *c, const char *path, yaml_node_t *n)
{
	uint64_t v;

	if (get_pow2(c, path, n, 64, 16384, &v) == 0)
		c->cfg->dataplane.dpdk.rx_desc = (uint16_t)v;
}

static void
key_tx_desc(struct ctx *c, const char *path, yaml_node_t *n)
{
	uint64_t v;

	if (get_pow2(c, path, n, 64, 16384, &v) == 0)
		c->cfg->dataplane.dpdk.tx_desc = (uint16_t)v;
}

/* ---- dataplane.dpdk.ports[] keys (into c->port) ----------------------- */

static void
key_port_device(struct ctx *c, const char *path, yaml_node_t *n)
{
	get_string(c, path, n, 1, sizeof(c->port->device) - 1,
		   c->port->device, sizeof(c->port->device));
}

/*
 * "198.18.0.1/24": the port's own address and its on-link prefix. Unlike
 * a peer CIDR the host bits are the point here, and the prefix is required
 * because it decides what is resolved directly and what goes to the
 * gateway.
 */
static int
parse_ifaddr(const char *s, int family, struct sotto_addr *a, uint8_t *prefix)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned bits = family == AF_INET ? 32 : 128;
	uint64_t v;
	size_t n, len;

	if (slash == NULL)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (parse_ip(a, ip) < 0 || a->family != family ||
	    addr_is_unspecified(a))
		return -EINVAL;
	len = parse_decimal(slash + 1, &v);
	if (len == 0 || len > 3 || slash[1 + len] != '\0' || v < 1 || v > bits)
		return -EINVAL;
	*prefix = (uint8_t)v;
	return 0;
}

static void
port_ifaddr(struct ctx *c, const char *path, yaml_node_t *n, int family)
{
	struct dp_port_conf *p = c->port;
	struct sotto_addr a;
	uint8_t prefix;

	if (!is_scalar(n) || scalar_has_nul(n) ||
	    parse_ifaddr(scalar(n), family, &a, &prefix) < 0) {
		if (family == AF_INET)
			err_node(c, n,
				 "expected an IPv4 address with a prefix length from /1 to /32, such as 198.18.0.1/24, for %s",
				 path);
		else
			err_node(c, n,
				 "expected an IPv6 address with a prefix length from /1 to /128, such as 2001:db8::1/64, for %s",
				 path);
		return;
	}
	if (family == AF_INET) {
		p->ip4 = a;
		p->prefix4 = prefix;
		p->has_ip4 = true;
	} else {
		p->ip6 = a;
		p->prefix6 = prefix;
		p->has_ip6 = true;
	}
}

static void
key_port_ipv4(struct ctx *c, const char *path, yaml_node_t *n)
{
	port_ifaddr(c, path, n, AF_INET);
}

static void
key_port_ipv6(struct ctx *c, const char *path, yaml_node_t *n)
{
	port_ifaddr(c, path, n, AF_INET6);
}

static void
port_gateway(struct ctx *c, const char *path, yaml_node_t *n, int family,
	     struct sotto_addr *dst)
{
	struct sotto_addr a;

	if (!is_scalar(n) || scalar_has_nul(n) || parse_ip(&a, scalar(n)) < 0 ||
	    a.family != family || addr_is_unspecified(&a)) {
		err_node(c, n, "expected an %s address without a prefix for %s",
			 family == AF_INET ? "IPv4" : "IPv6", path);
		return;
	}
	*dst = a;
}

static void
key_port_gateway4(struct ctx *c, const char *path, yaml_node_t *n)
{
	port_gateway(c, path, n, AF_INET, &c->port->gw4);
}

static void
key_port_gateway6(struct ctx *c, const char *path, yaml_node_t *n)
{
	port_gateway(c, path, n, AF_INET6, &c->port->gw6);
}

/* Whether the first prefix bits of a and b are equal. */
static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff00 >> rest)) == 0;
}


/* ---- http, signaling, metrics, control, run_as ------------------------- */

#define DEFAULT_HTTP_PORT 8080
#define DEFAULT_METRICS_PORT 9641

static void
key_bool(struct ctx *c, const char *path, yaml_node_t *n, bool *dst)
{
	static const char *const names[] = { "false", "true" };
	int i = get_enum(c, path, n, names, 2);

	if (i >= 0)
		*dst = i == 1;
}

#define BOOL_FN(fname, field)                                                 \
	static void fname(struct ctx *c, const char *path, yaml_node_t *n)    \
	{                                                                     \
		key_bool(c, path, n, &c->cfg->field);                         \
	}
BOOL_FN(key_allow_no_origin, signaling.allow_no_origin)
BOOL_FN(key_anonymous_rooms, signaling.anonymous_rooms)
BOOL_FN(key_web_client, signaling.web_client)
BOOL_FN(key_allow_dtmf, signaling.allow_dtmf)
BOOL_FN(key_allow_video, signaling.allow_video)
BOOL_FN(key_allow_data_channels, signaling.allow_data_channels)

/*
 * A list of strings into fixed rows of a 2-D array; accept(s) says whether
 * one item is well formed. The whole list replaces the default, or nothing
 * changes when an item is bad.
 */
static void
string_list(struct ctx *c, const char *path, yaml_node_t *n, const char *what,
	    unsigned max, char *rows, size_t row_len, unsigned *count,
	    bool (*accept)(const char *s), bool secret)
{
	unsigned i = 0;
	int bad = 0;

	if (!list_check(c, path, n, what, 0, max))
		return;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);

		if (!is_scalar(s) || scalar_has_nul(s) ||
		    !scalar_is_printable(s) || s->data.scalar.length == 0 ||
		    s->data.scalar.length >= row_len ||
		    (accept != NULL && !accept(scalar(s)))) {
			if (secret)
				err_node(c, s, "expected %s of 16 to %zu characters in %s",
					 what, row_len - 1, path);
			else
				err_node(c, s, "expected %s (at most %zu characters) in %s, got \"%s\"",
					 what, row_len - 1, path, scalar(s));
			bad++;
		}
	}
	if (bad)
		return;
	i = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *s = yaml_document_get_node(c->doc, *it);

		memcpy(rows + i * row_len, scalar(s), s->data.scalar.length + 1);
	}
	*count = i;
}

/* An Origin as browsers send it: scheme://host[:port], nothing after. */
static bool
origin_ok(const char *s)
{
	const char *h;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return false;
	return *h != '\0' && strpbrk(h, "/?#@ ") == NULL;
}

static bool
turn_url_ok(const char *s)
{
	return (strncmp(s, "turn:", 5) == 0 || strncmp(s, "turns:", 6) == 0) &&
	       strpbrk(s, " \"\\") == NULL;
}

static bool
api_key_ok(const char *s)
{
	return strlen(s) >= SECRET_MIN;
}

static void
key_origins(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct sotto_config *cfg = c->cfg;

	string_list(c, path, n, "an origin \"http[s]://host[:port]\"",
		    CONFIG_MAX_LIST, &cfg->signaling.origins[0][0],
		    sizeof(cfg->signaling.origins[0]),
		    &cfg->signaling.n_origins, origin_ok, false);
}

static void
key_turn_urls(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct sotto_config *cfg = c->cfg;

	string_list(c, path, n, "a turn: or turns: URL", CONFIG_MAX_ADDRS,
		    &cfg->signaling.turn_urls[0][0],
		    sizeof(cfg->signaling.turn_urls[0]),
		    &cfg->signaling.n_turn_urls, turn_url_ok, false);
}

static void
key_api_keys(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct sotto_config *cfg = c->cfg;

	string_list(c, path, n, "an API key", CONFIG_MAX_LIST,
		    &cfg->signaling.api_keys[0][0],
		    sizeof(cfg->signaling.api_keys[0]),
		    &cfg->signaling.n_api_keys, api_key_ok, true);
}

static bool
kid_ok(const char *s, size_t len)
{
	if (len == 0 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* signaling.token_keys: a list of {id, secret} mappings. */
static void
key_token_keys(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct sotto_config *cfg = c->cfg;
	struct config_token_key keys[CONFIG_MAX_TOKEN_KEYS];
	unsigned count = 0;
	int bad = 0;

	if (!list_check(c, path, n, "{id, secret} keys", 1,
			CONFIG_MAX_TOKEN_KEYS))
		return;
	memset(keys, 0, sizeof(keys));
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *m = yaml_document_get_node(c->doc, *it);
		struct config_token_key *k = &keys[count];
		bool has_id = false, has_secret = false;

		if (m->type != YAML_MAPPING_NODE) {
			err_node(c, m, "expected a mapping {id, secret} in %s", path);
			bad++;
			continue;
		}
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
			yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);

			if (is_scalar(kn) && strcmp(scalar(kn), "id") == 0 &&
			    !has_id) {
				has_id = true;
				if (!is_scalar(vn) || scalar_has_nul(vn) ||
				    !kid_ok(scalar(vn), vn->data.scalar.length)) {
					err_node(c, vn, "expected a key id of 1 to 32 characters [A-Za-z0-9._-] in %s", path);
					bad++;
					continue;
				}
				memcpy(k->id, scalar(vn), vn->data.scalar.length + 1);
			} else if (is_scalar(kn) &&
				   strcmp(scalar(kn), "secret") == 0 &&
				   !has_secret) {
				has_secret = true;
				if (!is_scalar(vn) || scalar_has_nul(vn) ||
				    vn->data.scalar.length < SECRET_MIN ||
				    vn->data.scalar.length > CONFIG_TOKEN_SECRET_MAX) {
					/* longer would be cut to the token
					 * key's HMAC buffer without a word */
					err_node(c, vn, "expected a secret of %d to %d characters in %s",
						 SECRET_MIN, CONFIG_TOKEN_SECRET_MAX, path);
					bad++;
					continue;
				}
				memcpy(k->secret, scalar(vn), vn->data.scalar.length + 1);
			} else {
				/* never echo: it may be a misplaced secret */
				err_node(c, kn, "unexpected or duplicate key in %s (expected id and secret)", path);
				bad++;
			}
		}
		if (!has_id || !has_secret) {
			err_node(c, m, "each entry of %s needs both id and secret", path);
			bad++;
			continue;
		}
		for (unsigned i = 0; i < count; i++)
			if (strcmp(keys[i].id, k->id) == 0) {
				err_node(c, m, "duplicate key id \"%s\" in %s", k->id, path);
				bad++;
			}
		count++;
	}
	if (bad == 0) {
		memcpy(cfg->signaling.token_keys, keys, sizeof(keys));
		cfg->signaling.n_token_keys = count;
	}
	explicit_bzero(keys, sizeof(keys));
}

static void
key_http_listen(struct ctx *c, const char *path, yaml_node_t *n)
{
	int count = addr_list(c, path, n, 0, DEFAULT_HTTP_PORT,
			      c->cfg->http.listen, c->http_listen_mark);

	if (count >= 0)
		c->cfg->http.n_listen = (unsigned)count;
}

static void
key_gw_listen(struct ctx *c, const char *path, yaml_node_t *n)
{
	int count = addr_list(c, path, n, 0, DEFAULT_GATEWAY_PORT,
			      c->cfg->gateway.listen, c->gw_listen_mark);

	if (count >= 0)
		c->cfg->gateway.n_listen = (unsigned)count;
}

static void
key_path(struct ctx *c, const char *path, yaml_node_t *n, char *dst,
	 size_t len)
{
	if (get_string(c, path, n, 1, len - 1, dst, len) < 0)
		return;
	if (dst[0] != '/') {
		err_node(c, n, "expected an absolute path for %s", path);
		dst[0] = '\0';
	}
}

static void
key_tls_cert(struct ctx *c, const char *path, yaml_node_t *n)
{
	key_path(c, path, n, c->cfg->http.tls_cert, sizeof(c->cfg->http.tls_cert));
}

static void
key_tls_key(struct ctx *c, const char *path, yaml_node_t *n)
{
	key_path(c, path, n, c->cfg->http.tls_key, sizeof(c->cfg->http.tls_key));
}

static void
key_ctl_socket(struct ctx *c, const char *path, yaml_node_t *n)
{
	/* "" turns the control socket off */
	if (is_scalar(n) && n->data.scalar.length == 0) {
		c->cfg->control.socket[0] = '\0';
		return;
	}
	key_path(c, path, n, c->cfg->control.socket,
		 sizeof(c->cfg->control.socket));
}

static void
key_metrics_listen(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct sotto_addr a;

	if (is_scalar(n) && n->data.scalar.length == 0) {
		memset(&c->cfg->metrics.listen, 0, sizeof(a));
		return;
	}
	if (!is_scalar(n) || scalar_has_nul(n) ||
	    sotto_addr_parse(&a, scalar(n), DEFAULT_METRICS_PORT) < 0 ||
	    a.port == 0) {
		err_node(c, n, "expected an address \"ip:port\" or \"\" (off) for %s", path);
		return;
	}
	c->cfg->metrics.listen = a;
}

static bool
name_ok(const char *s)
{
	/* POSIX portable user/group names */
	if (*s == '\0' || *s == '-')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static void
key_user_name(struct ctx *c, const char *path, yaml_node_t *n, char *dst,
	      size_t len)
{
	if (get_string(c, path, n, 1, len - 1, dst, len) < 0)
		return;
	if (!name_ok(dst)) {
		err_node(c, n, "expected a user or group name for %s", path);
		dst[0] = '\0';
	}
}

static void
key_run_as_user(struct ctx *c, const char *path, yaml_node_t *n)
{
	key_user_name(c, path, n, c->cfg->run_as.user, sizeof(c->cfg->run_as.user));
}

static void
key_run_as_group(struct ctx *c, const char *path, yaml_node_t *n)
{
	key_user_name(c, path, n, c->cfg->run_as.group, sizeof(c->cfg->run_as.group));
}

static bool
addr_is_loopback(const struct sotto_addr *a)
{
	static const uint8_t v6_lo[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->ip[0] == 127;
	return memcmp(a->ip, v6_lo, 16) == 0;
}

/* ---- the schema ------------------------------------------------------- */

enum key_kind { K_MAP, K_UINT, K_FN };

struct key_spec {
	const char *name;
	enum key_kind kind;
	/* K_UINT: range and destination (size 2 or 4 bytes). */
	uint64_t min, max;
	void *dst;
	unsigned size;
	/* K_FN */
	void (*fn)(struct ctx *c, const char *path, yaml_node_t *n);
	/* K_MAP: children, NULL-name terminated; secret: do not echo
	 * unknown key names, they may be misplaced secrets. */
	const struct key_spec *sub;
	bool secret;
	/* Records where the key (K_MAP) or value (others) was. */
	struct seen *seen;
};

#define UINT_KEY(n, lo, hi, field, ...)                                       \
	{ .name = (n), .kind = K_UINT, .min = (lo), .max = (hi),              \
	  .dst = &(field), .size = sizeof(field), __VA_ARGS__ }
#define FN_KEY(n, f, ...) { .name = (n), .kind = K_FN, .fn = (f), __VA_ARGS__ }
#define MAP_KEY(n, s, ...) { .name = (n), .kind = K_MAP, .sub = (s), __VA_ARGS__ }

static void parse_map(struct ctx *c, const char *path, yaml_node_t *n,
		      const struct key_spec *keys, bool secret);

static void
parse_value(struct ctx *c, const char *path, const struct key_spec *k,
	    yaml_node_t *key, yaml_node_t *val)
{
	uint64_t v;

	if (k->seen != NULL) {
		k->seen->set = true;
		k->seen->mark = k->kind == K_MAP ? key->start_mark :
						   val->start_mark;
	}
	switch (k->kind) {
	case K_MAP:
		parse_map(c, path, val, k->sub, k->secret);
		break;
	case K_UINT:
		if (get_uint(c, path, val, k->min, k->max, &v) < 0)
			break;
		if (k->size == sizeof(uint16_t))
			*(uint16_t *)k->dst = (uint16_t)v;
		else
			*(uint32_t *)k->dst = (uint32_t)v;
		break;
	case K_FN:
		k->fn(c, path, val);
		break;
	}
}

static void
parse_map(struct ctx *c, const char *path, yaml_node_t *n,
	  const struct key_spec *keys, bool secret)
{
	const char *where = path[0] ? path : "the top level";
	const char *in = path[0] ? "in" : "at";

	if (n->type != YAML_MAPPING_NODE) {
		err_node(c, n, "expected a mapping for %s", where);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		const struct key_spec *k;
		char sub[128];
		bool dup = false;

		if (!is_scalar(key) || scalar_has_nul(key)) {
			err_node(c, key, "expected a key name %s %s", in,
				 where);
			continue;
		}
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p;
		     q++) {
			yaml_node_t *prev =
				yaml_document_get_node(c->doc, q->key);
			if (is_scalar(prev) &&
			    strcmp(scalar(prev), scalar(key)) == 0) {
				dup = true;
				break;
			}
		}
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, scalar(key)) == 0)
				break;
		if (k->name == NULL) {
			if (secret)
				err_node(c, key,
					 "unknown key %s %s (name not shown: this section holds secrets)",
					 in, where);
			else
				err_node(c, key, "unknown key \"%s\" %s %s",
					 scalar(key), in, where);
			continue;
		}
		if (dup) {
			err_node(c, key, "duplicate key \"%s\" %s %s", k->name,
				 in, where);
			continue;
		}
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
			 k->name);
		parse_value(c, sub, k, key, val);
	}
}

/* ---- dataplane.dpdk.ports[] ------------------------------------------- */

static const char *
ip_str(const struct sotto_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->ip, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* A gateway must be reachable without one: on-link, or (IPv6) the
 * router's link-local address, which is what router advertisements give. */
static void
port_check_gateway(struct ctx *c, const char *ipath, const struct seen *gw_seen,
		   const struct sotto_addr *gw, const struct seen *ip_seen,
		   bool has_ip, const struct sotto_addr *ip, uint8_t prefix)
{
	static const uint8_t ll[16] = { 0xfe, 0x80 };
	bool v4 = gw->family == AF_INET;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	if (!gw_seen->set || gw->family == 0)
		return; /* absent, or already reported */
	if (!ip_seen->set) {
		err_at(c, gw_seen->mark, "%s.%s needs %s.%s on the same port",
		       ipath, v4 ? "gateway4" : "gateway6", ipath,
		       v4 ? "ipv4" : "ipv6");
		return;
	}
	if (!has_ip)
		return; /* the address was bad, already reported */
	if (sotto_addr_ip_eq(gw, ip)) {
		err_at(c, gw_seen->mark,
		       "%s.%s %s is the port's own address", ipath,
		       v4 ? "gateway4" : "gateway6", ip_str(gw, a, sizeof(a)));
		return;
	}
	if (prefix_match(gw->ip, ip->ip, prefix))
		return;
	if (!v4 && prefix_match(gw->ip, ll, 10))
		return;
	err_at(c, gw_seen->mark, "%s.%s %s is not inside %s.%s %s/%u%s",
	       ipath, v4 ? "gateway4" : "gateway6", ip_str(gw, a, sizeof(a)),
	       ipath, v4 ? "ipv4" : "ipv6", ip_str(ip, b, sizeof(b)), prefix,
	       v4 ? "" : " nor link-local (fe80::/10)");
}

/* Checks within port i, and against ports 0..i-1 in v. */
static void
port_check(struct ctx *c, const char *ipath, yaml_node_t *item,
	   const struct dp_port_conf *v, unsigned i)
{
	const struct dp_port_conf *p = &v[i];
	char a[INET6_ADDRSTRLEN];

	if (!c->p_device.set)
		err_node(c, item, "missing device in %s", ipath);
	if (!c->p_ip4.set && !c->p_ip6.set)
		err_node(c, item, "missing address in %s: set ipv4, ipv6 or both",
			 ipath);
	port_check_gateway(c, ipath, &c->p_gw4, &p->gw4, &c->p_ip4,
			   p->has_ip4, &p->ip4, p->prefix4);
	port_check_gateway(c, ipath, &c->p_gw6, &p->gw6, &c->p_ip6,
			   p->has_ip6, &p->ip6, p->prefix6);

	/* One device opened twice, or one address on two ports, leaves no
	 * single right port to send from. */
	for (unsigned j = 0; j < i; j++) {
		if (p->device[0] != '\0' &&
		    strcmp(p->device, v[j].device) == 0)
			err_at(c, c->p_device.mark,
			       "duplicate device \"%s\" in %s: already in dataplane.dpdk.ports[%u]",
			       p->device, ipath, j);
		if (p->has_ip4 && v[j].has_ip4 &&
		    sotto_addr_ip_eq(&p->ip4, &v[j].ip4))
			err_at(c, c->p_ip4.mark,
			       "duplicate address %s in %s: already in dataplane.dpdk.ports[%u]",
			       ip_str(&p->ip4, a, sizeof(a)), ipath, j);
		if (p->has_ip6 && v[j].has_ip6 &&
		    sotto_addr_ip_eq(&p->ip6, &v[j].ip6))
			err_at(c, c->p_ip6.mark,
			       "duplicate address %s in %s: already in dataplane.dpdk.ports[%u]",
			       ip_str(&p->ip6, a, sizeof(a)), ipath, j);
	}
}

static void
key_ports(struct ctx *c, const char *path, yaml_node_t *n)
{
	struct dp_port_conf v[CONFIG_MAX_PORTS];
	int before = c->nerr;
	unsigned i = 0;

	c->ports_bad = true; /* until the whole list is in */
	if (!list_check(c, path, n, "ports", 1, CONFIG_MAX_PORTS))
		return;
	memset(v, 0, sizeof(v));
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		struct dp_port_conf *p = &v[i];
		const struct key_spec keys[] = {
			FN_KEY("device", key_port_device,
			       .seen = &c->p_device),
			FN_KEY("ipv4", key_port_ipv4, .seen = &c->p_ip4),
			FN_KEY("ipv6", key_port_ipv6, .seen = &c->p_ip6),
			FN_KEY("gateway4", key_port_gateway4,
			       .seen = &c->p_gw4),
			FN_KEY("gateway6", key_port_gateway6,
			       .seen = &c->p_gw6),
			UINT_KEY("vlan", 0, 4094, p->vlan),
			{ 0 },
		};
		char ipath[64];

		snprintf(ipath, sizeof(ipath), "%s[%u]", path, i);
		c->port = p;
		c->p_device.set = c->p_ip4.set = c->p_ip6.set = false;
		c->p_gw4.set = c->p_gw6.set = false;
		if (item->type != YAML_MAPPING_NODE) {
			err_node(c, item, "expected a mapping for %s", ipath);
			continue;
		}
		parse_map(c, ipath, item, keys, false);
		port_check(c, ipath, item, v, i);
	}
	c->port = NULL;
	if (c->nerr != before)
		return;
	memcpy(c->cfg->dataplane.dpdk.ports, v, i * sizeof(v[0]));
	c->cfg->dataplane.dpdk.n_ports = i;
	c->ports_bad = false;
}

static void
parse_root(struct ctx *c, yaml_node_t *root)
{
	struct sotto_config *cfg = c->cfg;
	const struct key_spec dpdk[] = {
		FN_KEY("lcores", key_lcores, .seen = &c->lcores),
		FN_KEY("eal", key_eal),
		FN_KEY("neighbours", key_neighbours),
		FN_KEY("rx_desc", key_rx_desc),
		FN_KEY("tx_desc", key_tx_desc),
		FN_KEY("ports", key_ports, .seen = &c->ports),
		{ 0 },
	};
	const struct key_spec dataplane[] = {
		FN_KEY("driver", key_driver, .seen = &c->driver),
		UINT_KEY("workers", 1, DP_MAX_WORKERS, cfg->dataplane.workers),
		FN_KEY("idle", key_idle),
		UINT_KEY("mbufs", 1024, 1048576, cfg->dataplane.mbufs),
		FN_KEY("ring_size", key_ring_size),
		MAP_KEY("dpdk", dpdk),
		{ 0 },
	};
	const struct key_spec relay[] = {
		FN_KEY("addresses", key_relay_addresses),
		UINT_KEY("port_min", 1024, 65535, cfg->turn.port_min,
			 .seen = &c->port_min),
		UINT_KEY("port_max", 1024, 65535, cfg->turn.port_max,
			 .seen = &c->port_max),
		{ 0 },
	};
	const struct key_spec auth[] = {
		FN_KEY("secrets", key_secrets),
		FN_KEY("secret_file", key_secret_file),
		UINT_KEY("nonce_lifetime", 30, 86400, cfg->turn.nonce_lifetime),
		{ 0 },
	};
	const struct key_spec lifetime[] = {
		UINT_KEY("default", 60, 86400, cfg->turn.default_lifetime,
			 .seen = &c->lt_default),
		UINT_KEY("max", 60, 86400, cfg->turn.max_lifetime,
			 .seen = &c->lt_max),
		{ 0 },
	};
	const struct key_spec limits[] = {
		UINT_KEY("allocations", 1, 10000000, cfg->turn.max_allocations),
		UINT_KEY("allocations_per_user", 1, 10000000,
			 cfg->turn.max_allocations_per_user),
		UINT_KEY("permissions_per_allocation", 1, 1024,
			 cfg->turn.max_permissions),
		FN_KEY("bandwidth", key_bandwidth),
		UINT_KEY("requests_per_source", 0, 1000000,
			 cfg->turn.requests_per_source),
		UINT_KEY("reservations", 0, 1000000,
			 cfg->turn.max_reservations),
		{ 0 },
	};
	const struct key_spec peers[] = {
		FN_KEY("allow", key_allow),
		FN_KEY("deny", key_deny),
		FN_KEY("allow_own", key_allow_own),
		{ 0 },
	};
	const struct key_spec turn[] = {
		FN_KEY("listen", key_listen),
		MAP_KEY("relay", relay),
		FN_KEY("realm", key_realm),
		FN_KEY("software", key_software),
		FN_KEY("channel_range", key_channel_range),
		MAP_KEY("auth", auth, .secret = true),
		MAP_KEY("lifetime", lifetime),
		MAP_KEY("limits", limits),
		MAP_KEY("peers", peers),
		{ 0 },
	};
	const struct key_spec tls[] = {
		FN_KEY("certificate", key_tls_cert, .seen = &c->tls_cert),
		FN_KEY("private_key", key_tls_key, .seen = &c->tls_key),
		{ 0 },
	};
	const struct key_spec http[] = {
		FN_KEY("listen", key_http_listen),
		MAP_KEY("tls", tls),
		UINT_KEY("max_connections", 16, 1000000,
			 cfg->http.max_connections),
		UINT_KEY("max_connections_per_ip", 0, 1000000,
			 cfg->http.max_connections_per_ip),
		UINT_KEY("tls_handshakes_per_ip_per_second", 0, 1000000,
			 cfg->http.tls_handshakes_per_ip_per_second),
		{ 0 },
	};
	const struct key_spec signaling[] = {
		FN_KEY("origins", key_origins),
		FN_KEY("allow_no_origin", key_allow_no_origin),
		FN_KEY("anonymous_rooms", key_anonymous_rooms),
		FN_KEY("api_keys", key_api_keys),
		FN_KEY("token_keys", key_token_keys),
		FN_KEY("turn_urls", key_turn_urls),
		FN_KEY("web_client", key_web_client),
		FN_KEY("allow_dtmf", key_allow_dtmf),
		FN_KEY("allow_video", key_allow_video),
		FN_KEY("allow_data_channels", key_allow_data_channels),
		UINT_KEY("token_ttl", 60, 604800, cfg->signaling.token_ttl),
		UINT_KEY("credential_ttl", 60, 604800,
			 cfg->signaling.credential_ttl),
		UINT_KEY("room_ttl", 60, 604800, cfg->signaling.room_ttl),
		UINT_KEY("max_participants", 2, 64,
			 cfg->signaling.max_participants),
		UINT_KEY("max_rooms", 1, 10000000, cfg->signaling.max_rooms),
		UINT_KEY("rooms_per_ip_per_minute", 0, 1000000,
			 cfg->signaling.rooms_per_ip_per_minute),
		UINT_KEY("joins_per_ip_per_minute", 0, 1000000,
			 cfg->signaling.joins_per_ip_per_minute),
		UINT_KEY("joins_per_second", 0, 1000000,
			 cfg->signaling.joins_per_second),
		UINT_KEY("invites_per_room_per_minute", 0, 1000000,
			 cfg->signaling.invites_per_room_per_minute),
		UINT_KEY("max_sdp_bytes", 1024, 65536,
			 cfg->signaling.max_sdp_bytes),
		{ 0 },
	};
	const struct key_spec metrics[] = {
		FN_KEY("listen", key_metrics_listen),
		{ 0 },
	};
	const struct key_spec control[] = {
		FN_KEY("socket", key_ctl_socket),
		{ 0 },
	};
	const struct key_spec gateway[] = {
		FN_KEY("listen", key_gw_listen),
		UINT_KEY("slots", 1, DP_GW_MAX_SLOTS, cfg->gateway.slots),
		UINT_KEY("max_legs", 2, 1000000, cfg->gateway.max_legs),
		UINT_KEY("consent_timeout", 5, 300,
			 cfg->gateway.consent_timeout),
		UINT_KEY("handshake_timeout", 2, 120,
			 cfg->gateway.handshake_timeout),
		FN_KEY("leg_bandwidth", key_gw_bandwidth),
		{ 0 },
	};
	const struct key_spec run_as[] = {
		FN_KEY("user", key_run_as_user),
		FN_KEY("group", key_run_as_group),
		{ 0 },
	};
	const struct key_spec top[] = {
		FN_KEY("log_level", key_log_level),
		FN_KEY("log_format", key_log_format),
		MAP_KEY("dataplane", dataplane, .seen = &c->dataplane),
		MAP_KEY("turn", turn, .seen = &c->turn),
		MAP_KEY("http", http, .seen = &c->http),
		MAP_KEY("signaling", signaling, .secret = true),
		MAP_KEY("gateway", gateway),
		MAP_KEY("metrics", metrics),
		MAP_KEY("control", control),
		MAP_KEY("run_as", run_as),
		{ 0 },
	};

	parse_map(c, "", root, top, false);
}

static bool
port_has_ip(const struct sotto_config *cfg, const struct sotto_addr *a)
{
	for (unsigned i = 0; i < cfg->dataplane.dpdk.n_ports; i++) {
		const struct dp_port_conf *p = &cfg->dataplane.dpdk.ports[i];

		if ((p->has_ip4 && sotto_addr_ip_eq(&p->ip4, a)) ||
		    (p->has_ip6 && sotto_addr_ip_eq(&p->ip6, a)))
			return true;
	}
	return false;
}

/*
 * The dpdk driver owns the NIC: there is no kernel stack to bind to, so
 * every TURN address has to be one the driver answers for itself. Only
 * checked with driver dpdk; under udp a dpdk section is left unused (the
 * same file can serve both while moving a host over).
 */
static void
check_dpdk(struct ctx *c)
{
	struct sotto_config *cfg = c->cfg;
	yaml_mark_t where = { 0 };
	char buf[SOTTO_ADDRSTRLEN];

	if (c->driver.set)
		where = c->driver.mark;
	if (cfg->dataplane.dpdk.n_ports == 0) {
		yaml_mark_t m = { 0 };

		if (c->ports.set)
			return; /* given but bad: already reported */
		if (c->dataplane.set)
			m = c->dataplane.mark;
		err_at(c, m,
		       "dataplane.driver dpdk needs at least one port in dataplane.dpdk.ports");
		return;
	}
	if (c->ports_bad)
		return;
	if (c->lcores.set && c->n_lcores > 0 &&
	    c->n_lcores < cfg->dataplane.workers + 1)
		err_at(c, c->lcores.mark,
		       "dataplane.dpdk.lcores \"%s\" names %d lcores: need %u, one for control and one per worker (dataplane.workers %u)",
		       cfg->dataplane.dpdk.lcores, c->n_lcores,
		       cfg->dataplane.workers + 1u, cfg->dataplane.workers);
	for (unsigned i = 0; !c->listen_bad && i < cfg->turn.n_listen; i++) {
		if (port_has_ip(cfg, &cfg->turn.listen[i]))
			continue;
		err_at(c, c->listen_given ? c->listen_mark[i] : where,
		       "turn.listen %s%s is not an address of any dataplane.dpdk port",
		       sotto_addr_str(&cfg->turn.listen[i], buf, sizeof(buf)),
		       c->listen_given ? "" : " (the default)");
	}
	for (unsigned i = 0; i < cfg->gateway.n_listen; i++) {
		if (port_has_ip(cfg, &cfg->gateway.listen[i]))
			continue;
		err_at(c, c->gw_listen_mark[i],
		       "gateway.listen %s is not an address of any dataplane.dpdk port",
		       sotto_addr_str(&cfg->gateway.listen[i], buf, sizeof(buf)));
	}
	for (unsigned i = 0; !c->relay_bad && i < cfg->turn.n_relay; i++) {
		if (port_has_ip(cfg, &cfg->turn.relay[i]))
			continue;
		err_at(c, c->relay_given ? c->relay_mark[i] : where,
		       "turn.relay.addresses %s%s is not an address of any dataplane.dpdk port",
		       ip_str(&cfg->turn.relay[i], buf, sizeof(buf)),
		       c->relay_given ? "" : " (the default)");
	}
}

/* Checks that need more than one value, done once everything is read. */
static void
check_cross(struct ctx *c)
{
	struct sotto_config *cfg = c->cfg;

	if (cfg->dataplane.driver == DP_DRIVER_DPDK)
		check_dpdk(c);

	/* Plain HTTP carries room tokens and TURN credentials: loopback
	 * only (a reverse proxy or a local test), TLS everywhere else. */
	/* given or not, not whether the value was good: a bad path is
	 * already reported */
	if (c->tls_cert.set != c->tls_key.set)
		err_at(c, c->tls_cert.set ? c->tls_cert.mark : c->tls_key.mark,
		       "http.tls needs both certificate and private_key");
	else if (!c->tls_cert.set)
		for (unsigned i = 0; i < cfg->http.n_listen; i++) {
			char buf[SOTTO_ADDRSTRLEN];

			if (addr_is_loopback(&cfg->http.listen[i]))
				continue;
			err_at(c, c->http_listen_mark[i],
			       "http.listen %s is not a loopback address: plain HTTP is allowed on loopback only, configure http.tls",
			       sotto_addr_str(&cfg->http.listen[i], buf, sizeof(buf)));
		}

	if (cfg->gateway.n_listen > 0 && cfg->http.n_listen == 0)
		err_at(c, c->gw_listen_mark[0],
		       "gateway.listen needs http.listen: participants reach the gateway through the signaling API");
	for (unsigned i = 0; i < cfg->gateway.n_listen; i++) {
		char buf[SOTTO_ADDRSTRLEN];

		if (!addr_in(cfg->turn.listen, cfg->turn.n_listen,
			     &cfg->gateway.listen[i]))
			continue;
		err_at(c, c->gw_listen_mark[i],
		       "gateway.listen %s is also in turn.listen: the gateway needs its own port",
		       sotto_addr_str(&cfg->gateway.listen[i], buf, sizeof(buf)));
	}

	if (cfg->turn.port_min > cfg->turn.port_max) {
		yaml_mark_t m = c->port_min.set ? c->port_min.mark :
						  c->port_max.mark;
		err_at(c, m,
		       "turn.relay.port_min (%u) must not be above turn.relay.port_max (%u)",
		       cfg->turn.port_min, cfg->turn.port_max);
	}
	if (cfg->turn.default_lifetime > cfg->turn.max_lifetime) {
		yaml_mark_t m = c->lt_default.set ? c->lt_default.mark :
						    c->lt_max.mark;
		err_at(c, m,
		       "turn.lifetime.default (%u) must not be above turn.lifetime.max (%u)",
		       cfg->turn.default_lifetime, cfg->turn.max_lifetime);
	}
}

/*
 * SOTTO_TURN_SECRET as the first load found it (config.h): the environment
 * is readable by anyone who may ptrace us (/proc/PID/environ) and passed to
 * every child, so the variable is wiped and removed once read, and this
 * copy stands in for it at reload.
 */
static char *env_secret;

void
config_env_secret_forget(void)
{
	secret_free(env_secret);
	env_secret = NULL;
}

/* Takes SOTTO_TURN_SECRET out of the environment into env_secret.
 * 0, or -ENOMEM (the variable is gone all the same). */
static int
env_secret_take(void)
{
	char *v = getenv(SECRET_ENV);
	int rc = 0;

	if (v == NULL)
		return 0;
	config_env_secret_forget();
	if (v[0] != '\0' && (env_secret = strdup(v)) == NULL)
		rc = -ENOMEM;
	/* the bytes first: unsetenv only drops the pointer, and the start-up
	 * environment stays where /proc/PID/environ reads it */
	explicit_bzero(v, strlen(v));
	unsetenv(SECRET_ENV);
	return rc;
}

static void
apply_secrets(struct ctx *c)
{
	struct sotto_config *cfg = c->cfg;
	const char *env;

	if (env_secret_take() < 0) {
		/* never fall back to the file's secrets unnoticed */
		report(c, SECRET_ENV, 1, 1, "out of memory");
		return;
	}
	env = env_secret;

	if (c->secrets_given) {
		secrets_free(cfg->turn.secrets, cfg->turn.n_secrets);
		cfg->turn.secrets = c->secrets;
		cfg->turn.n_secrets = c->n_secrets;
		c->secrets = NULL;
		c->n_secrets = 0;
	}
	/* The environment wins so a container can inject the secret
	 * without writing it into a file. */
	if (env != NULL && env[0] != '\0') {
		char **v;

		if (!secret_len_ok(strlen(env))) {
			report(c, SECRET_ENV, 1, 1,
			       "expected a secret of %d to %d characters",
			       SECRET_MIN, SECRET_MAX);
			/* the next load must not take it either */
			config_env_secret_forget();
			return;
		}
		v = calloc(1, sizeof(*v));
		if (v == NULL || (v[0] = strdup(env)) == NULL) {
			free(v);
			report(c, SECRET_ENV, 1, 1, "out of memory");
			return;
		}
		secrets_free(cfg->turn.secrets, cfg->turn.n_secrets);
		cfg->turn.secrets = v;
		cfg->turn.n_secrets = 1;
	}
	if (cfg->turn.n_secrets == 0) {
		yaml_mark_t m = { 0 };

		if (c->turn.set)
			m = c->turn.mark;
		err_at(c, m,
		       "no TURN secret: set turn.auth.secrets, turn.auth.secret_file or " SECRET_ENV);
	}
}

/* libyaml frees without clearing; the document may hold secrets. */
static void
document_wipe(yaml_document_t *doc)
{
	for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE)
			explicit_bzero(n->data.scalar.value,
				       n->data.scalar.length);
}

static void
parser_wipe(yaml_parser_t *p)
{
	if (p->raw_buffer.start != NULL)
		explicit_bzero(p->raw_buffer.start,
			       (size_t)(p->raw_buffer.end - p->raw_buffer.start));
	if (p->buffer.start != NULL)
		explicit_bzero(p->buffer.start,
			       (size_t)(p->buffer.end - p->buffer.start));
}

static void
syntax_error(struct ctx *c, yaml_parser_t *p)
{
	const char *what = p->problem ? p->problem : "unreadable input";

	if (p->error == YAML_MEMORY_ERROR) {
		report(c, c->name, 1, 1, "out of memory");
	} else if (p->error == YAML_READER_ERROR) {
		/* Bad encoding: libyaml has only a byte offset here. */
		report(c, c->name, 1, 1, "invalid YAML input at byte %zu: %s",
		       p->problem_offset, what);
	} else if (p->context != NULL) {
		err_at(c, p->problem_mark, "invalid YAML: %s %s (line %zu)",
		       what, p->context, p->context_mark.line + 1);
	} else {
		err_at(c, p->problem_mark, "invalid YAML: %s", what);
	}
}

static int
load(struct sotto_config *cfg, const char *name, yaml_parser_t *p, FILE *errs)
{
	struct ctx c = { .cfg = cfg, .name = name, .errs = errs };
	yaml_document_t doc, extra;
	yaml_node_t *root;

	if (!yaml_parser_load(p, &doc)) {
		syntax_error(&c, p);
		parser_wipe(p);
		return c.nerr;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL)
		parse_root(&c, root);

	/* A second document would otherwise be ignored without a word. */
	if (!yaml_parser_load(p, &extra)) {
		syntax_error(&c, p);
	} else {
		yaml_node_t *r = yaml_document_get_root_node(&extra);
		if (r != NULL)
			err_node(&c, r, "expected a single YAML document");
		document_wipe(&extra);
		yaml_document_delete(&extra);
	}
	parser_wipe(p);

	check_cross(&c);
	apply_secrets(&c);

	secrets_free(c.secrets, c.n_secrets);
	document_wipe(&doc);
	yaml_document_delete(&doc);
	return c.nerr;
}

void
config_defaults(struct sotto_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_LVL_INFO;

	cfg->dataplane.driver = DP_DRIVER_UDP;
	cfg->dataplane.workers = 1;
	cfg->dataplane.idle = DP_IDLE_ADAPTIVE;
	cfg->dataplane.mbufs = 16384;
	cfg->dataplane.ring_size = 4096;
	/* No ports and no lcores: sottod derives "0-<workers>" from "". */
	cfg->dataplane.dpdk.neighbours = 1024;
	cfg->dataplane.dpdk.rx_desc = 1024;
	cfg->dataplane.dpdk.tx_desc = 1024;

	sotto_addr_v4(&cfg->turn.listen[0], htonl(INADDR_LOOPBACK),
		      DEFAULT_TURN_PORT);
	cfg->turn.n_listen = 1;
	sotto_addr_v4(&cfg->turn.relay[0], htonl(INADDR_LOOPBACK), 0);
	cfg->turn.n_relay = 1;
	cfg->turn.port_min = 49152;
	cfg->turn.port_max = 65535;
	strcpy(cfg->turn.realm, "sotto");
	/* No SOFTWARE attribute: a version string only helps attackers. */
	cfg->turn.software[0] = '\0';

	cfg->turn.nonce_lifetime = 600;
	cfg->turn.default_lifetime = 600;
	cfg->turn.max_lifetime = 3600;

	cfg->turn.max_allocations = 100000;
	cfg->turn.max_allocations_per_user = 10;
	cfg->turn.max_permissions = 32;
	cfg->turn.bandwidth = 0;
	cfg->turn.requests_per_source = 50;
	cfg->turn.max_reservations = 1000;
	/* No allow entries: peers are limited by the built-in deny policy. */

	cfg->http.max_connections = 20000;
	cfg->http.max_connections_per_ip = 128;
	cfg->http.tls_handshakes_per_ip_per_second = 20;
	cfg->signaling.token_ttl = 86400;
	cfg->signaling.credential_ttl = 86400;
	cfg->signaling.room_ttl = 86400;
	cfg->signaling.max_participants = 8;
	cfg->signaling.max_rooms = 100000;
	cfg->signaling.rooms_per_ip_per_minute = 10;
	cfg->signaling.joins_per_ip_per_minute = 30;
	cfg->signaling.joins_per_second = 200;
	cfg->signaling.invites_per_room_per_minute = 10;
	cfg->signaling.max_sdp_bytes = 16384;
	cfg->gateway.slots = 3;
	cfg->gateway.max_legs = 4096;
	cfg->gateway.consent_timeout = 30;
	cfg->gateway.handshake_timeout = 15;
	cfg->gateway.leg_bandwidth = 80000;
	cfg->signaling.web_client = true;
	cfg->signaling.allow_dtmf = true;
	sotto_addr_v4(&cfg->metrics.listen, htonl(INADDR_LOOPBACK),
		      DEFAULT_METRICS_PORT);
	strcpy(cfg->control.socket, "/run/sotto/sottod.sock");
}

int
config_load_buffer(struct sotto_config *cfg, const char *name,
		   const char *buf, size_t len, FILE *errs)
{
	yaml_parser_t p;
	int n;

	if (!yaml_parser_initialize(&p)) {
		if (errs != NULL)
			fprintf(errs, "%s:1:1: error: out of memory\n", name);
		return 1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	n = load(cfg, name, &p, errs);
	yaml_parser_delete(&p);
	return n;
}

int
config_load_file(struct sotto_config *cfg, const char *path, FILE *errs)
{
	char iobuf[4096];
	yaml_parser_t p;
	FILE *f;
	int n;

	f = fopen(path, "re");
	if (f == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s:1:1: error: cannot open: %s\n", path,
				strerror(errno));
		return 1;
	}
	/* The file may hold secrets: keep stdio's copy where we can wipe it. */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	if (!yaml_parser_initialize(&p)) {
		if (errs != NULL)
			fprintf(errs, "%s:1:1: error: out of memory\n", path);
		fclose(f);
		return 1;
	}
	yaml_parser_set_input_file(&p, f);
	n = load(cfg, path, &p, errs);
	yaml_parser_delete(&p);
	fclose(f);
	explicit_bzero(iobuf, sizeof(iobuf));
	return n;
}

void
config_free(struct sotto_config *cfg)
{
	eal_args_free(cfg->dataplane.dpdk.eal_args,
		      cfg->dataplane.dpdk.n_eal_args);
	memset(cfg->dataplane.dpdk.eal_args, 0,
	       sizeof(cfg->dataplane.dpdk.eal_args));
	cfg->dataplane.dpdk.n_eal_args = 0;
	secrets_free(cfg->turn.secrets, cfg->turn.n_secrets);
	cfg->turn.secrets = NULL;
	cfg->turn.n_secrets = 0;
	free(cfg->turn.allow);
	cfg->turn.allow = NULL;
	cfg->turn.n_allow = 0;
	free(cfg->turn.deny);
	cfg->turn.deny = NULL;
	cfg->turn.n_deny = 0;
	free(cfg->turn.allow_own);
	cfg->turn.allow_own = NULL;
	cfg->turn.n_allow_own = 0;
	explicit_bzero(cfg->signaling.api_keys, sizeof(cfg->signaling.api_keys));
	explicit_bzero(cfg->signaling.token_keys,
		       sizeof(cfg->signaling.token_keys));
}

#define SAME_SIZE(a, b) _Static_assert(sizeof(((struct sotto_config *)0)->a) == \
	sizeof(((struct dp_conf *)0)->b), #a " and dp_conf." #b " differ")
SAME_SIZE(turn.listen, turn_listen);
SAME_SIZE(gateway.listen, media_listen);
SAME_SIZE(turn.relay, relay);
SAME_SIZE(dataplane.dpdk.ports, dpdk.ports);
#undef SAME_SIZE

void
config_dp_conf(const struct sotto_config *cfg, struct dp_conf *out)
{
	memset(out, 0, sizeof(*out));
	out->workers = cfg->dataplane.workers;
	out->idle = cfg->dataplane.idle;
	out->mbufs = cfg->dataplane.mbufs;
	out->ring_size = cfg->dataplane.ring_size;
	out->max_allocs = cfg->turn.max_allocations;
	out->bandwidth = cfg->turn.bandwidth;
	/* the dataplane's per-source policer sits in front of the TURN
	 * server's per-source request limit and of ICE and DTLS: twice that
	 * limit, so only what the control thread would refuse anyway is
	 * stopped early (a leg's checks and handshake fit easily) */
	if (cfg->turn.requests_per_source > 0) {
		uint64_t r = 2ull * cfg->turn.requests_per_source;

		out->exc_per_source = r < 100 ? 100 : r > UINT32_MAX ? UINT32_MAX
								    : (uint32_t)r;
		out->exc_burst = out->exc_per_source / 2 < 50 ? 50
				 : out->exc_per_source / 2;
	}
	memcpy(out->turn_listen, cfg->turn.listen, sizeof(out->turn_listen));
	out->n_turn_listen = cfg->turn.n_listen;
	memcpy(out->media_listen, cfg->gateway.listen, sizeof(out->media_listen));
	out->n_media_listen = cfg->gateway.n_listen;
	memcpy(out->relay, cfg->turn.relay, sizeof(out->relay));
	out->n_relay = cfg->turn.n_relay;
	out->port_min = cfg->turn.port_min;
	out->port_max = cfg->turn.port_max;
	memcpy(out->dpdk.ports, cfg->dataplane.dpdk.ports,
	       sizeof(out->dpdk.ports));
	out->dpdk.n_ports = cfg->dataplane.dpdk.n_ports;
	out->dpdk.neighbours = cfg->dataplane.dpdk.neighbours;
	out->dpdk.rx_desc = cfg->dataplane.dpdk.rx_desc;
	out->dpdk.tx_desc = cfg->dataplane.dpdk.tx_desc;
}
