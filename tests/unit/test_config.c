/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control/config/config.c: defaults, the shipped YAML files, and that every bad
 * input is reported at the right name:line:column without leaking secrets.
 *
 * Fixtures are read from the source tree: argv[1] if given, else the
 * directory this file was compiled from.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
/* the token code's key, for the limit both must agree on (the signaling
 * library is not linked here: only the type is used) */
#include "../../signaling/sig_token.h"

_Static_assert(sizeof(((struct sig_token_key *)0)->secret) ==
		       CONFIG_TOKEN_SECRET_MAX,
	       "signaling.token_keys[].secret and the token key differ");
_Static_assert(sizeof(((struct sotto_config *)0)->signaling.token_keys[0].secret) ==
		       CONFIG_TOKEN_SECRET_MAX + 1,
	       "the config's token secret buffer");

#define SOURCE_FILE __FILE__
#define ENV "SOTTO_TURN_SECRET"
#define ENV_SECRET "env-secret-0123456789-xyz"

static char srcdir[PATH_MAX];

static void
set_srcdir(int argc, char **argv)
{
	const char *slash;

	if (argc > 1) {
		snprintf(srcdir, sizeof(srcdir), "%s/", argv[1]);
		return;
	}
	/* Strip "test_config.c" from the compile-time path. */
	slash = strrchr(SOURCE_FILE, '/');
	if (slash == NULL)
		snprintf(srcdir, sizeof(srcdir), "./");
	else
		snprintf(srcdir, sizeof(srcdir), "%.*s/",
			 (int)(slash - SOURCE_FILE), SOURCE_FILE);
}

static const char *
path(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", srcdir, rel);
	return buf[i];
}

/* Loads yaml into a fresh config; *out gets everything printed. */
static int
load_str(struct sotto_config *cfg, const char *yaml, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int n;

	config_defaults(cfg);
	n = config_load_buffer(cfg, "t.yaml", yaml, strlen(yaml), f);
	fclose(f);
	return n;
}

static int
load_path(struct sotto_config *cfg, const char *file, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int n;

	config_defaults(cfg);
	n = config_load_file(cfg, file, f);
	fclose(f);
	return n;
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Exactly one error, at prefix ("t.yaml:L:C: error: "), mentioning what. */
static void
expect_one(const char *yaml, const char *prefix, const char *what)
{
	struct sotto_config cfg;
	char *out = NULL;
	int n = load_str(&cfg, yaml, &out);
	int ok = n == 1 && starts(out, prefix) &&
		 strstr(out, what) != NULL && strchr(out, '\n') ==
						 out + strlen(out) - 1;

	CHECK(ok);
	if (!ok)
		fprintf(stderr, "  yaml:\n%s  want %s...%s\n  got %d: %s\n",
			yaml, prefix, what, n, out);
	config_free(&cfg);
	free(out);
}

static void
expect_ok(const char *yaml)
{
	struct sotto_config cfg;
	char *out = NULL;
	int n = load_str(&cfg, yaml, &out);

	CHECK_EQ(n, 0);
	if (n != 0)
		fprintf(stderr, "  yaml:\n%s  got: %s\n", yaml, out);
	config_free(&cfg);
	free(out);
}

static bool
is_v4(const struct sotto_addr *a, const char *ip, uint16_t port)
{
	struct sotto_addr b;
	uint32_t v;

	inet_pton(AF_INET, ip, &v);
	sotto_addr_v4(&b, v, port);
	return sotto_addr_eq(a, &b);
}

static bool
is_v6(const struct sotto_addr *a, const char *ip, uint16_t port)
{
	struct sotto_addr b;
	uint8_t v[16];

	inet_pton(AF_INET6, ip, v);
	sotto_addr_v6(&b, v, port);
	return sotto_addr_eq(a, &b);
}

static void
test_defaults(void)
{
	struct sotto_config cfg;

	config_defaults(&cfg);
	CHECK_EQ(cfg.log_level, LOG_LVL_INFO);
	CHECK_EQ(cfg.dataplane.driver, DP_DRIVER_UDP);
	CHECK_EQ(cfg.dataplane.workers, 1);
	CHECK_EQ(cfg.dataplane.idle, DP_IDLE_ADAPTIVE);
	CHECK_EQ(cfg.dataplane.mbufs, 16384);
	CHECK_EQ(cfg.dataplane.ring_size, 4096);
	CHECK_EQ(cfg.turn.n_listen, 1);
	CHECK(is_v4(&cfg.turn.listen[0], "127.0.0.1", 3478));
	CHECK_EQ(cfg.turn.n_relay, 1);
	CHECK(is_v4(&cfg.turn.relay[0], "127.0.0.1", 0));
	CHECK_EQ(cfg.turn.port_min, 49152);
	CHECK_EQ(cfg.turn.port_max, 65535);
	CHECK(strcmp(cfg.turn.realm, "sotto") == 0);
	CHECK(cfg.turn.software[0] == '\0');
	/* Safe: no secret to guess, no peer exceptions. */
	CHECK(cfg.turn.secrets == NULL);
	CHECK_EQ(cfg.turn.n_secrets, 0);
	CHECK_EQ(cfg.turn.nonce_lifetime, 600);
	CHECK_EQ(cfg.turn.default_lifetime, 600);
	CHECK_EQ(cfg.turn.max_lifetime, 3600);
	CHECK_EQ(cfg.turn.max_allocations, 100000);
	CHECK_EQ(cfg.turn.max_allocations_per_user, 10);
	CHECK_EQ(cfg.turn.max_permissions, 32);
	CHECK_EQ(cfg.turn.bandwidth, 0);
	CHECK_EQ(cfg.turn.requests_per_source, 50);
	CHECK_EQ(cfg.turn.n_allow, 0);
	CHECK(cfg.turn.allow == NULL);
	CHECK_EQ(cfg.turn.n_deny, 0);
	CHECK_EQ(cfg.dataplane.dpdk.n_ports, 0);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 0);
	CHECK(cfg.dataplane.dpdk.lcores[0] == '\0');
	CHECK_EQ(cfg.dataplane.dpdk.neighbours, 1024);
	CHECK_EQ(cfg.dataplane.dpdk.rx_desc, 1024);
	CHECK_EQ(cfg.dataplane.dpdk.tx_desc, 1024);
	config_free(&cfg);
	config_free(&cfg); /* idempotent */
}

static void
test_shipped_default(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	int n;

	unsetenv(ENV);
	config_env_secret_forget();
	n = load_path(&cfg, path("../../configs/sotto.yaml"), &out);
	setenv(ENV, ENV_SECRET, 1);

	CHECK_EQ(n, 0);
	CHECK(out[0] == '\0');
	CHECK_EQ(cfg.dataplane.driver, DP_DRIVER_UDP);
	CHECK_EQ(cfg.dataplane.workers, 1);
	CHECK_EQ(cfg.dataplane.idle, DP_IDLE_ADAPTIVE);
	CHECK_EQ(cfg.turn.n_listen, 2);
	CHECK(is_v4(&cfg.turn.listen[0], "127.0.0.1", 3478));
	CHECK(is_v6(&cfg.turn.listen[1], "::1", 3478));
	CHECK_EQ(cfg.turn.n_relay, 2);
	CHECK(is_v4(&cfg.turn.relay[0], "127.0.0.1", 0));
	CHECK(is_v6(&cfg.turn.relay[1], "::1", 0));
	CHECK(cfg.turn.port_min <= cfg.turn.port_max);
	CHECK(strcmp(cfg.turn.realm, "sotto.local") == 0);
	CHECK(cfg.turn.software[0] == '\0');
	CHECK_EQ(cfg.turn.n_secrets, 1);
	if (cfg.turn.n_secrets == 1)
		CHECK(strcmp(cfg.turn.secrets[0],
			     "sotto-dev-secret-change-me") == 0);
	CHECK_EQ(cfg.turn.n_allow, 2);
	if (cfg.turn.n_allow == 2) {
		CHECK(is_v4(&cfg.turn.allow[0].addr, "127.0.0.0", 0));
		CHECK_EQ(cfg.turn.allow[0].prefix, 8);
		CHECK(is_v6(&cfg.turn.allow[1].addr, "::1", 0));
		CHECK_EQ(cfg.turn.allow[1].prefix, 128);
	}
	CHECK_EQ(cfg.turn.n_deny, 0);
	/* the dev setup's peers share the relay's loopback addresses */
	CHECK_EQ(cfg.turn.n_allow_own, 2);
	if (cfg.turn.n_allow_own == 2) {
		CHECK(is_v4(&cfg.turn.allow_own[0].addr, "127.0.0.1", 0));
		CHECK_EQ(cfg.turn.allow_own[0].prefix, 32);
		CHECK(is_v6(&cfg.turn.allow_own[1].addr, "::1", 0));
		CHECK_EQ(cfg.turn.allow_own[1].prefix, 128);
	}
	CHECK_EQ(cfg.turn.max_reservations, 100);
	CHECK_EQ(cfg.gateway.n_listen, 1);
	CHECK(is_v4(&cfg.gateway.listen[0], "127.0.0.1", 3479));
	CHECK_EQ(cfg.gateway.slots, 3);
	CHECK_EQ(cfg.gateway.consent_timeout, 30);
	CHECK_EQ(cfg.gateway.leg_bandwidth, 80000);
	config_free(&cfg);
	free(out);
}

static void
test_production_example(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	const char *file = path("../../configs/production.example.yaml");
	char prefix[PATH_MAX + 32];
	int n;

	/* Its secret_file does not exist here: exactly that one error. */
	n = load_path(&cfg, file, &out);
	CHECK_EQ(n, 1);
	snprintf(prefix, sizeof(prefix), "%s:", file);
	CHECK(starts(out, prefix));
	CHECK(strstr(out, "error: cannot open turn.auth.secret_file") != NULL);
	CHECK_EQ(cfg.turn.n_allow, 0);
	for (unsigned i = 0; i < cfg.turn.n_listen; i++)
		CHECK(!is_v4(&cfg.turn.listen[i], "127.0.0.1", 3478));
	CHECK_EQ(cfg.turn.bandwidth, 250000);
	CHECK(cfg.turn.software[0] == '\0');
	config_free(&cfg);
	free(out);
}

static void
test_good_file(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	int n;

	unsetenv(ENV);
	config_env_secret_forget();
	n = load_path(&cfg, path("configs/good.yaml"), &out);
	setenv(ENV, ENV_SECRET, 1);

	CHECK_EQ(n, 0);
	if (n)
		fprintf(stderr, "%s", out);
	CHECK_EQ(cfg.log_level, LOG_LVL_DEBUG);
	CHECK_EQ(cfg.dataplane.driver, DP_DRIVER_DPDK);
	CHECK_EQ(cfg.dataplane.workers, 8);
	CHECK_EQ(cfg.dataplane.idle, DP_IDLE_POLL);
	CHECK_EQ(cfg.dataplane.mbufs, 65536);
	CHECK_EQ(cfg.dataplane.ring_size, 1024);
	CHECK(strcmp(cfg.dataplane.dpdk.lcores, "0-8") == 0);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 4);
	if (cfg.dataplane.dpdk.n_eal_args == 4)
		CHECK(strcmp(cfg.dataplane.dpdk.eal_args[3],
			     "--vdev=net_af_xdp0,iface=sotto0") == 0);
	CHECK_EQ(cfg.dataplane.dpdk.neighbours, 4096);
	CHECK_EQ(cfg.dataplane.dpdk.rx_desc, 512);
	CHECK_EQ(cfg.dataplane.dpdk.tx_desc, 2048);
	CHECK_EQ(cfg.dataplane.dpdk.n_ports, 2);
	if (cfg.dataplane.dpdk.n_ports == 2) {
		const struct dp_port_conf *p = cfg.dataplane.dpdk.ports;

		CHECK(strcmp(p[0].device, "net_af_xdp0") == 0);
		CHECK(is_v6(&p[0].gw6, "fe80::1", 0));
		CHECK_EQ(p[0].vlan, 100);
		CHECK(strcmp(p[1].device, "0000:01:00.0") == 0);
		CHECK(is_v4(&p[1].ip4, "192.0.2.2", 0));
		CHECK_EQ(p[1].prefix4, 25);
		CHECK_EQ(p[1].gw4.family, 0);
		CHECK(is_v6(&p[1].gw6, "2001:db8::fe", 0));
		CHECK_EQ(p[1].vlan, 4094);
	}
	CHECK_EQ(cfg.turn.n_listen, 2);
	CHECK(is_v4(&cfg.turn.listen[0], "192.0.2.1", 3478)); /* default port */
	CHECK(is_v6(&cfg.turn.listen[1], "2001:db8::1", 5349));
	CHECK_EQ(cfg.turn.n_relay, 2);
	CHECK(is_v6(&cfg.turn.relay[1], "2001:db8::2", 0));
	CHECK_EQ(cfg.turn.port_min, 40000);
	CHECK_EQ(cfg.turn.port_max, 40100);
	CHECK(strcmp(cfg.turn.realm, "example.org") == 0);
	CHECK_EQ(cfg.turn.n_secrets, 2);
	CHECK_EQ(cfg.turn.nonce_lifetime, 300);
	CHECK_EQ(cfg.turn.default_lifetime, 120);
	CHECK_EQ(cfg.turn.max_lifetime, 86400);
	CHECK_EQ(cfg.turn.max_allocations, 5000);
	CHECK_EQ(cfg.turn.max_allocations_per_user, 3);
	CHECK_EQ(cfg.turn.max_permissions, 1024);
	CHECK_EQ(cfg.turn.bandwidth, 2000000);
	CHECK_EQ(cfg.turn.requests_per_source, 0);
	CHECK_EQ(cfg.turn.n_allow, 3);
	if (cfg.turn.n_allow == 3) {
		CHECK_EQ(cfg.turn.allow[0].prefix, 24);
		CHECK(is_v6(&cfg.turn.allow[1].addr, "2001:db8:1::", 0));
		CHECK_EQ(cfg.turn.allow[1].prefix, 48);
		CHECK(is_v4(&cfg.turn.allow[2].addr, "192.0.2.77", 0));
		CHECK_EQ(cfg.turn.allow[2].prefix, 32);
	}
	CHECK_EQ(cfg.turn.n_deny, 2);
	if (cfg.turn.n_deny == 2) {
		CHECK_EQ(cfg.turn.deny[0].prefix, 0);
		CHECK_EQ(cfg.turn.deny[1].addr.family, AF_INET6);
	}
	config_free(&cfg);
	free(out);
}

static void
test_small_values(void)
{
	struct sotto_config cfg;
	char *out = NULL;

	CHECK_EQ(load_str(&cfg, "turn:\n  limits:\n    bandwidth: 12k\n",
			  &out), 0);
	CHECK_EQ(cfg.turn.bandwidth, 12000);
	config_free(&cfg);
	free(out);

	CHECK_EQ(load_str(&cfg, "turn:\n  limits:\n    bandwidth: 1000\n",
			  &out), 0);
	CHECK_EQ(cfg.turn.bandwidth, 1000);
	config_free(&cfg);
	free(out);

	/* An empty document is all defaults. */
	CHECK_EQ(load_str(&cfg, "", &out), 0);
	CHECK_EQ(cfg.turn.n_listen, 1);
	config_free(&cfg);
	free(out);

	expect_ok("dataplane:\n  ring_size: 256\n");
	expect_ok("dataplane:\n  ring_size: 65536\n");
	expect_ok("turn:\n  software: sotto\n");
	expect_ok("turn:\n  listen: ['[::1]', 10.1.2.3:1]\n");
	expect_ok("turn:\n  relay:\n    port_min: 50000\n    port_max: 50000\n");
	expect_ok("turn:\n  lifetime:\n    default: 60\n    max: 60\n");
	expect_ok("turn:\n  peers:\n    allow: []\n    deny: ['::/0', 0.0.0.0/0]\n");

	/* http, signaling, metrics, control, run_as */
	expect_ok("http:\n  listen: [127.0.0.1:8080, '[::1]:8080', 127.9.9.9]\n");
	expect_ok("http:\n  listen: [0.0.0.0:443]\n  tls:\n    certificate: /c.pem\n    private_key: /k.pem\n");
	expect_ok("signaling:\n  origins: [https://call.example.net, 'http://localhost:8080']\n"
		  "  token_keys: [{id: k2, secret: 0123456789abcdef}, {id: k1, secret: fedcba9876543210}]\n"
		  "  turn_urls: ['turn:relay.example.net:3478?transport=udp']\n"
		  "  anonymous_rooms: false\n  api_keys: [backend-key-0123456789]\n");
	expect_ok("metrics:\n  listen: ''\ncontrol:\n  socket: ''\n");
	expect_ok("http:\n  listen: [127.0.0.1:8080]\n"
		  "gateway:\n  listen: [127.0.0.1:3479, '[::1]:3479']\n"
		  "  slots: 1\n  max_legs: 10\n  consent_timeout: 5\n"
		  "  handshake_timeout: 2\n  leg_bandwidth: 64k\n");
	expect_ok("run_as:\n  user: sotto\n  group: sotto\nlog_format: json\n");
}

/* issue 21: limits and secrets a hostile client or a careless deploy
 * would find */
static void
test_issue21(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	char yaml[512], key64[65], key65[66], key640[641];
	int n;

	/* signaling.token_keys[].secret: 64 bytes is the HMAC key buffer;
	 * longer was cut there without a word, now refused at its place */
	memset(key64, 'k', 64);
	key64[64] = '\0';
	memset(key65, 'k', 65);
	key65[65] = '\0';
	memset(key640, 'k', 640);
	key640[640] = '\0';
	snprintf(yaml, sizeof(yaml),
		 "signaling:\n  token_keys: [{id: k1, secret: %s}]\n", key64);
	n = load_str(&cfg, yaml, &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(strlen(cfg.signaling.token_keys[0].secret), 64);
	config_free(&cfg);
	free(out);
	snprintf(yaml, sizeof(yaml),
		 "signaling:\n  token_keys: [{id: k1, secret: %s}]\n", key65);
	expect_one(yaml, "t.yaml:2:33: error: ",
		   "expected a secret of 16 to 64 characters in signaling.token_keys");
	char big[1024];
	snprintf(big, sizeof(big),
		 "signaling:\n  token_keys:\n    - id: k1\n      secret: %s\n",
		 key640);
	n = load_str(&cfg, big, &out);
	CHECK_EQ(n, 1);
	CHECK(starts(out, "t.yaml:4:15: error: expected a secret of 16 to 64"));
	CHECK(strstr(out, "kkkk") == NULL);
	CHECK_EQ(cfg.signaling.n_token_keys, 0);
	config_free(&cfg);
	free(out);

	/* turn.peers.allow_own and turn.limits.reservations */
	n = load_str(&cfg,
		     "turn:\n  peers:\n    allow_own: [127.0.0.1, '::1', 10.0.0.0/8]\n"
		     "  limits:\n    reservations: 7\n",
		     &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.turn.n_allow_own, 3);
	if (cfg.turn.n_allow_own == 3) {
		CHECK(is_v4(&cfg.turn.allow_own[0].addr, "127.0.0.1", 0));
		CHECK_EQ(cfg.turn.allow_own[0].prefix, 32);
		CHECK_EQ(cfg.turn.allow_own[2].prefix, 8);
	}
	CHECK_EQ(cfg.turn.max_reservations, 7);
	config_free(&cfg);
	CHECK(cfg.turn.allow_own == NULL);
	free(out);
	config_defaults(&cfg);
	CHECK_EQ(cfg.turn.n_allow_own, 0);
	CHECK_EQ(cfg.turn.max_reservations, 1000);
	expect_ok("turn:\n  limits:\n    reservations: 0\n");
	expect_one("turn:\n  peers:\n    allow_own: [127.0.0.1, nowhere]\n",
		   "t.yaml:3:28: error: ", "expected an IP address or CIDR in turn.peers.allow_own");
	expect_one("turn:\n  peers:\n    allow_own: 127.0.0.1\n",
		   "t.yaml:3:16: error: ", "expected a list of IP addresses or CIDRs for turn.peers.allow_own");
	expect_one("turn:\n  peers:\n    allow_own: [10.0.0.1/8]\n",
		   "t.yaml:3:17: error: ", "host bits set");
	expect_one("turn:\n  limits:\n    reservations: 1000001\n",
		   "t.yaml:3:19: error: ", "expected an integer from 0 to 1000000");

	/* SOTTO_TURN_SECRET: read once, wiped and removed from the
	 * environment, kept for the next load (reload) */
	setenv(ENV, ENV_SECRET, 1);
	char *raw = getenv(ENV);
	size_t rawlen = strlen(raw);
	n = load_str(&cfg, "log_level: info\n", &out);
	CHECK_EQ(n, 0);
	CHECK(getenv(ENV) == NULL);
	bool wiped = true;
	for (size_t i = 0; i < rawlen; i++)
		wiped = wiped && raw[i] == '\0';
	CHECK(wiped);
	CHECK_EQ(cfg.turn.n_secrets, 1);
	if (cfg.turn.n_secrets == 1)
		CHECK(strcmp(cfg.turn.secrets[0], ENV_SECRET) == 0);
	config_free(&cfg);
	free(out);
	/* a reload: the variable is gone, its secret is not */
	n = load_str(&cfg, "turn:\n  auth:\n    secrets: [yaml-secret-0123456789]\n",
		     &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.turn.n_secrets, 1);
	if (cfg.turn.n_secrets == 1)
		CHECK(strcmp(cfg.turn.secrets[0], ENV_SECRET) == 0);
	config_free(&cfg);
	free(out);
	/* set again: the new one; set empty: none */
	setenv(ENV, "env-secret-rotated-0123456789", 1);
	n = load_str(&cfg, "log_level: info\n", &out);
	CHECK_EQ(n, 0);
	if (cfg.turn.n_secrets == 1)
		CHECK(strcmp(cfg.turn.secrets[0],
			     "env-secret-rotated-0123456789") == 0);
	config_free(&cfg);
	free(out);
	CHECK(getenv(ENV) == NULL);
	setenv(ENV, "", 1);
	expect_one("log_level: info\n", "t.yaml:1:1: error: ", "no TURN secret");
	CHECK(getenv(ENV) == NULL);
	expect_one("log_level: info\n", "t.yaml:1:1: error: ", "no TURN secret");
	/* forget: only the environment counts again */
	setenv(ENV, ENV_SECRET, 1);
	expect_ok("log_level: info\n");
	config_env_secret_forget();
	expect_one("log_level: info\n", "t.yaml:1:1: error: ", "no TURN secret");
	setenv(ENV, ENV_SECRET, 1);
}

/* issue 21, signaling and connections: per-source limits on connections
 * and TLS handshakes, invites per room */
static void
test_issue21_signaling(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	int n;

	config_defaults(&cfg);
	CHECK_EQ(cfg.http.max_connections_per_ip, 128);
	CHECK_EQ(cfg.http.tls_handshakes_per_ip_per_second, 20);
	CHECK_EQ(cfg.signaling.invites_per_room_per_minute, 10);
	n = load_str(&cfg,
		     "http:\n  max_connections_per_ip: 0\n"
		     "  tls_handshakes_per_ip_per_second: 7\n"
		     "signaling:\n  invites_per_room_per_minute: 3\n",
		     &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.http.max_connections_per_ip, 0);
	CHECK_EQ(cfg.http.tls_handshakes_per_ip_per_second, 7);
	CHECK_EQ(cfg.signaling.invites_per_room_per_minute, 3);
	config_free(&cfg);
	free(out);
	expect_one("http:\n  max_connections_per_ip: 1000001\n",
		   "t.yaml:2:27: error: ", "expected an integer from 0 to 1000000");
	expect_one("http:\n  tls_handshakes_per_ip_per_second: -1\n",
		   "t.yaml:2:37: error: ", "expected an integer from 0 to 1000000");
	expect_one("signaling:\n  invites_per_room_per_minute: many\n",
		   "t.yaml:2:32: error: ", "expected an integer from 0 to 1000000");
}

/* Secrets in signaling keys are never echoed, like TURN secrets. */
static void
test_signaling_secrets(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	int n = load_str(&cfg,
			 "signaling:\n  token_keys: [{id: k1, secret: short-SECRET}]\n"
			 "  api_keys: [tiny-SECRET]\n  token_keys_typo: 1\n",
			 &out);

	CHECK_EQ(n, 3);
	CHECK(out != NULL && strstr(out, "SECRET") == NULL);
	CHECK(out != NULL && strstr(out, "token_keys_typo") == NULL);
	config_free(&cfg);
	free(out);
}

struct bad {
	const char *yaml;
	const char *prefix;
	const char *what;
};

static const struct bad bad_cases[] = {
	/* plain HTTP off loopback, TLS half given, bad origins and keys */
	{ "http:\n  listen: [0.0.0.0:8080]\n", "t.yaml:2:12: error: ",
	  "plain HTTP is allowed on loopback only" },
	{ "http:\n  listen: ['[2001:db8::1]:80']\n", "t.yaml:2:12: error: ",
	  "not a loopback address" },
	{ "http:\n  listen: [127.0.0.1:80]\n  tls:\n    certificate: /c.pem\n",
	  "t.yaml:4:18: error: ", "http.tls needs both certificate and private_key" },
	{ "http:\n  tls:\n    certificate: c.pem\n    private_key: /k.pem\n",
	  "t.yaml:3:18: error: ", "expected an absolute path" },
	{ "signaling:\n  origins: [example.net]\n", "t.yaml:2:13: error: ",
	  "expected an origin" },
	{ "signaling:\n  origins: ['https://a.net/path']\n", "t.yaml:2:13: error: ",
	  "expected an origin" },
	{ "signaling:\n  turn_urls: ['stun:a.net']\n", "t.yaml:2:15: error: ",
	  "expected a turn: or turns: URL" },
	{ "signaling:\n  token_keys: [{id: 'a b', secret: 0123456789abcdef}]\n",
	  "t.yaml:2:21: error: ", "expected a key id" },
	{ "signaling:\n  token_keys: [{id: a, secret: 0123456789abcdef}, {id: a, secret: 0123456789abcdef}]\n",
	  "t.yaml:2:51: error: ", "duplicate key id" },
	{ "signaling:\n  max_participants: 1\n", "t.yaml:2:21: error: ",
	  "expected an integer from 2 to 64" },
	{ "signaling:\n  anonymous_rooms: yes\n", "t.yaml:2:20: error: ",
	  "expected one of false, true" },
	{ "gateway:\n  slots: 9\n", "t.yaml:2:10: error: ",
	  "expected an integer from 1 to 8" },
	{ "gateway:\n  leg_bandwidth: 1k\n", "t.yaml:2:18: error: ",
	  "expected bytes per second from 8000 to 10000000" },
	{ "gateway:\n  leg_bandwidth: 11M\n", "t.yaml:2:18: error: ",
	  "expected bytes per second from 8000 to 10000000" },
	{ "gateway:\n  consent_timeout: 1\n", "t.yaml:2:20: error: ",
	  "expected an integer from 5 to 300" },
	{ "gateway:\n  listen: [nowhere]\n", "t.yaml:2:12: error: ",
	  "expected an address" },
	{ "gateway:\n  listen: [127.0.0.1:3479]\n", "t.yaml:2:12: error: ",
	  "gateway.listen needs http.listen" },
	{ "http:\n  listen: [127.0.0.1:8080]\n"
	  "turn:\n  listen: [127.0.0.1:3478]\n"
	  "gateway:\n  listen: [127.0.0.1:3478]\n", "t.yaml:6:12: error: ",
	  "gateway.listen 127.0.0.1:3478 is also in turn.listen" },
	{ "metrics:\n  listen: nowhere\n", "t.yaml:2:11: error: ",
	  "expected an address" },
	{ "control:\n  socket: run/sotto.sock\n", "t.yaml:2:11: error: ",
	  "expected an absolute path" },
	{ "run_as:\n  user: 'root;x'\n", "t.yaml:2:9: error: ",
	  "expected a user or group name" },
	{ "log_format: xml\n", "t.yaml:1:13: error: ",
	  "expected one of text, json" },
	/* unknown keys */
	{ "foo: 1\n", "t.yaml:1:1: error: ",
	  "unknown key \"foo\" at the top level" },
	{ "turn:\n  limits:\n    foo: 1\n", "t.yaml:3:5: error: ",
	  "unknown key \"foo\" in turn.limits" },
	{ "dataplane:\n  driver: udp\n  wrokers: 2\n", "t.yaml:3:3: error: ",
	  "unknown key \"wrokers\" in dataplane" },
	/* types */
	{ "dataplane: 3\n", "t.yaml:1:12: error: ",
	  "expected a mapping for dataplane" },
	{ "turn:\n", "t.yaml:1:6: error: ", "expected a mapping for turn" },
	{ "- a\n- b\n", "t.yaml:1:1: error: ",
	  "expected a mapping for the top level" },
	{ "dataplane:\n  workers: [1]\n", "t.yaml:2:12: error: ",
	  "expected an integer from 1 to 16 for dataplane.workers" },
	{ "turn:\n  listen: 127.0.0.1:3478\n", "t.yaml:2:11: error: ",
	  "expected a list of ip:port addresses for turn.listen" },
	{ "turn:\n  realm: [a]\n", "t.yaml:2:10: error: ",
	  "expected a string of 1 to 127" },
	{ "turn:\n  peers:\n    allow: 10.0.0.0/8\n", "t.yaml:3:12: error: ",
	  "expected a list of IP addresses or CIDRs for turn.peers.allow" },
	{ "turn:\n  auth:\n    secrets: 0123456789abcdef0\n",
	  "t.yaml:3:14: error: ", "expected a list of secrets" },
	{ "{[a]: 1}\n", "t.yaml:1:2: error: ", "expected a key name" },
	/* integers */
	{ "dataplane:\n  workers: 17\n", "t.yaml:2:12: error: ",
	  "expected an integer from 1 to 16 for dataplane.workers" },
	{ "dataplane:\n  workers: 0\n", "t.yaml:2:12: error: ",
	  "from 1 to 16" },
	{ "dataplane:\n  workers: 12abc\n", "t.yaml:2:12: error: ",
	  "from 1 to 16" },
	{ "dataplane:\n  workers: -1\n", "t.yaml:2:12: error: ",
	  "from 1 to 16" },
	{ "dataplane:\n  workers: +1\n", "t.yaml:2:12: error: ",
	  "from 1 to 16" },
	{ "dataplane:\n  workers: 0x4\n", "t.yaml:2:12: error: ",
	  "from 1 to 16" },
	{ "dataplane:\n  workers: \"\"\n", "t.yaml:2:12: error: ",
	  "from 1 to 16" },
	{ "dataplane:\n  mbufs: 99999999999999999999999\n",
	  "t.yaml:2:10: error: ", "from 1024 to 1048576 for dataplane.mbufs" },
	{ "dataplane:\n  mbufs: 1023\n", "t.yaml:2:10: error: ",
	  "from 1024 to 1048576" },
	{ "dataplane:\n  ring_size: 1000\n", "t.yaml:2:14: error: ",
	  "expected a power of two from 256 to 65536" },
	{ "dataplane:\n  ring_size: 128\n", "t.yaml:2:14: error: ",
	  "power of two" },
	{ "dataplane:\n  ring_size: 131072\n", "t.yaml:2:14: error: ",
	  "power of two" },
	{ "turn:\n  relay:\n    port_min: 80\n", "t.yaml:3:15: error: ",
	  "from 1024 to 65535 for turn.relay.port_min" },
	{ "turn:\n  relay:\n    port_min: 50000\n    port_max: 40000\n",
	  "t.yaml:3:15: error: ", "port_min (50000) must not be above" },
	{ "turn:\n  relay:\n    port_max: 2000\n", "t.yaml:3:15: error: ",
	  "port_min (49152) must not be above" },
	{ "turn:\n  lifetime:\n    default: 7200\n", "t.yaml:3:14: error: ",
	  "turn.lifetime.default (7200) must not be above" },
	{ "turn:\n  lifetime:\n    max: 100000\n", "t.yaml:3:10: error: ",
	  "from 60 to 86400 for turn.lifetime.max" },
	{ "turn:\n  auth:\n    nonce_lifetime: 10\n", "t.yaml:3:21: error: ",
	  "from 30 to 86400" },
	{ "turn:\n  limits:\n    permissions_per_allocation: 1025\n",
	  "t.yaml:3:33: error: ", "from 1 to 1024" },
	{ "turn:\n  limits:\n    allocations: 10000001\n",
	  "t.yaml:3:18: error: ", "from 1 to 10000000" },
	{ "turn:\n  limits:\n    bandwidth: 2G\n", "t.yaml:3:16: error: ",
	  "optional k or M suffix" },
	{ "turn:\n  limits:\n    bandwidth: k\n", "t.yaml:3:16: error: ",
	  "optional k or M suffix" },
	{ "turn:\n  limits:\n    bandwidth: 1.5M\n", "t.yaml:3:16: error: ",
	  "optional k or M suffix" },
	{ "turn:\n  limits:\n    bandwidth: 1000001M\n",
	  "t.yaml:3:16: error: ", "from 0 to 1000000000000" },
	/* enums and strings */
	{ "log_level: verbose\n", "t.yaml:1:12: error: ",
	  "expected one of error, warn, info, debug for log_level" },
	{ "dataplane:\n  driver: xdp\n", "t.yaml:2:11: error: ",
	  "expected one of udp, dpdk for dataplane.driver" },
	{ "dataplane:\n  idle: sleep\n", "t.yaml:2:9: error: ",
	  "expected one of adaptive, poll" },
	{ "turn:\n  realm: \"\"\n", "t.yaml:2:10: error: ",
	  "expected a string of 1 to 127 printable characters for turn.realm" },
	{ "turn:\n  realm: \"a\\nb\"\n", "t.yaml:2:10: error: ",
	  "printable" },
	{ "turn:\n  software: "
	  "\"0123456789012345678901234567890123456789012345678901234567890123\"\n",
	  "t.yaml:2:13: error: ", "0 to 63 printable characters" },
	/* addresses */
	{ "turn:\n  listen: [1.2.3.4:99999]\n", "t.yaml:2:12: error: ",
	  "expected an address \"ip:port\"" },
	{ "turn:\n  listen: [localhost:3478]\n", "t.yaml:2:12: error: ",
	  "expected an address" },
	{ "turn:\n  listen: [1.2.3.4:0]\n", "t.yaml:2:12: error: ",
	  "port from 1 to 65535" },
	{ "turn:\n  listen: []\n", "t.yaml:2:11: error: ",
	  "expected a list of 1 to 8 ip:port addresses" },
	{ "turn:\n  listen: [1.1.1.1:1, 1.1.1.1:2, 1.1.1.1:3, 1.1.1.1:4,"
	  " 1.1.1.1:5, 1.1.1.1:6, 1.1.1.1:7, 1.1.1.1:8, 1.1.1.1:9]\n",
	  "t.yaml:2:11: error: ", "1 to 8" },
	{ "turn:\n  listen:\n    - 10.0.0.1:3478\n    - 10.0.0.1\n",
	  "t.yaml:4:7: error: ", "duplicate address in turn.listen" },
	{ "turn:\n  relay:\n    addresses: [1.2.3.4:5]\n",
	  "t.yaml:3:17: error: ", "expected an IP address without a port" },
	{ "turn:\n  relay:\n    addresses: [0.0.0.0]\n",
	  "t.yaml:3:17: error: ", "not the unspecified address" },
	{ "turn:\n  relay:\n    addresses: ['::']\n",
	  "t.yaml:3:17: error: ", "not the unspecified address" },
	/* CIDRs */
	{ "turn:\n  peers:\n    allow: [10.0.0.1/8]\n", "t.yaml:3:13: error: ",
	  "host bits set in CIDR" },
	{ "turn:\n  peers:\n    deny: [10.0.0.0/33]\n", "t.yaml:3:12: error: ",
	  "CIDR prefix too long: expected /0 to /32 in turn.peers.deny" },
	{ "turn:\n  peers:\n    deny: ['::/129']\n", "t.yaml:3:12: error: ",
	  "expected /0 to /128" },
	{ "turn:\n  peers:\n    deny: ['fe80::1/10']\n", "t.yaml:3:12: error: ",
	  "host bits set" },
	{ "turn:\n  peers:\n    deny: [10.0.0.0/]\n", "t.yaml:3:12: error: ",
	  "expected an IP address or CIDR" },
	{ "turn:\n  peers:\n    deny: [10.0.0.0/8x]\n", "t.yaml:3:12: error: ",
	  "expected an IP address or CIDR" },
	{ "turn:\n  peers:\n    deny: [/8]\n", "t.yaml:3:12: error: ",
	  "expected an IP address or CIDR" },
	{ "turn:\n  peers:\n    deny: [example.com/8]\n",
	  "t.yaml:3:12: error: ", "expected an IP address or CIDR" },
	{ "turn:\n  peers:\n    deny:\n      - 10.0.0.0/8\n      - [a]\n",
	  "t.yaml:5:9: error: ", "expected an IP address or CIDR" },
	/* duplicates */
	{ "turn:\n  realm: a\n  realm: b\n", "t.yaml:3:3: error: ",
	  "duplicate key \"realm\" in turn" },
	{ "log_level: info\nlog_level: info\n", "t.yaml:2:1: error: ",
	  "duplicate key \"log_level\" at the top level" },
	/* YAML itself */
	{ "turn:\n  realm: [a\n", "t.yaml:3:1: error: ", "invalid YAML" },
	{ "turn: {realm: a\n", "t.yaml:2:1: error: ", "invalid YAML" },
	{ "a: *nothing\n", "t.yaml:1:4: error: ", "invalid YAML" },
	{ "log_level: info\n---\nlog_level: debug\n", "t.yaml:3:1: error: ",
	  "expected a single YAML document" },
	{ "turn:\n\trealm: a\n", "t.yaml:2:1: error: ", "invalid YAML" },
};

static void
test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		expect_one(bad_cases[i].yaml, bad_cases[i].prefix,
			   bad_cases[i].what);
}

/* ---- dataplane.dpdk ---------------------------------------------------- */

/* A whole dpdk config: the dataplane part from the brief, TURN on port 0. */
#define DPDK_HEAD                                                             \
	"dataplane:\n"                                                        \
	"  driver: dpdk\n"                                                    \
	"  workers: 2\n"                                                      \
	"  dpdk:\n"
#define DPDK_TURN                                                             \
	"turn:\n"                                                             \
	"  listen: [198.18.0.1:3478, '[2001:db8:1::1]:3478']\n"               \
	"  relay:\n"                                                          \
	"    addresses: [198.18.0.1, 2001:db8:1::1]\n"
/* One port, line 6 col 9 onward; the item's keys are at column 9. */
#define DPDK_PORT                                                             \
	"    ports:\n"                                                        \
	"      - device: net_af_xdp0\n"                                       \
	"        ipv4: 198.18.0.1/24\n"                                       \
	"        ipv6: 2001:db8:1::1/64\n"

static void
test_dpdk_good(void)
{
	struct sotto_config cfg;
	const struct dp_port_conf *p;
	char *out = NULL;
	int n;

	n = load_str(&cfg,
		     DPDK_HEAD
		     "    lcores: \"0-2\"\n"
		     "    eal: [\"--no-huge\", \"-m\", \"512\", "
		     "\"--vdev=net_af_xdp0,iface=sotto0\"]\n"
		     "    neighbours: 1048576\n"
		     "    rx_desc: 64\n"
		     "    tx_desc: 16384\n"
		     "    ports:\n"
		     "      - device: net_af_xdp0\n"
		     "        ipv4: 198.18.0.1/24\n"
		     "        ipv6: 2001:db8:1::1/64\n"
		     "        gateway4: 198.18.0.254\n"
		     "        gateway6: 2001:db8:1::fe\n"
		     "        vlan: 0\n"
		     "      - device: net_af_xdp1\n"
		     "        ipv6: 2001:db8:2::1/128\n"
		     "        gateway6: fe80::1\n"
		     "        vlan: 4094\n"
		     DPDK_TURN,
		     &out);
	CHECK_EQ(n, 0);
	if (n)
		fprintf(stderr, "%s", out);
	CHECK_EQ(cfg.dataplane.driver, DP_DRIVER_DPDK);
	CHECK(strcmp(cfg.dataplane.dpdk.lcores, "0-2") == 0);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 4);
	if (cfg.dataplane.dpdk.n_eal_args == 4) {
		CHECK(strcmp(cfg.dataplane.dpdk.eal_args[0], "--no-huge") == 0);
		CHECK(strcmp(cfg.dataplane.dpdk.eal_args[1], "-m") == 0);
		CHECK(strcmp(cfg.dataplane.dpdk.eal_args[2], "512") == 0);
		CHECK(strcmp(cfg.dataplane.dpdk.eal_args[3],
			     "--vdev=net_af_xdp0,iface=sotto0") == 0);
	}
	CHECK_EQ(cfg.dataplane.dpdk.neighbours, 1048576);
	CHECK_EQ(cfg.dataplane.dpdk.rx_desc, 64);
	CHECK_EQ(cfg.dataplane.dpdk.tx_desc, 16384);
	CHECK_EQ(cfg.dataplane.dpdk.n_ports, 2);
	p = cfg.dataplane.dpdk.ports;
	if (cfg.dataplane.dpdk.n_ports == 2) {
		CHECK(strcmp(p[0].device, "net_af_xdp0") == 0);
		CHECK(p[0].has_ip4);
		CHECK(is_v4(&p[0].ip4, "198.18.0.1", 0)); /* host bits kept */
		CHECK_EQ(p[0].prefix4, 24);
		CHECK(p[0].has_ip6);
		CHECK(is_v6(&p[0].ip6, "2001:db8:1::1", 0));
		CHECK_EQ(p[0].prefix6, 64);
		CHECK(is_v4(&p[0].gw4, "198.18.0.254", 0));
		CHECK(is_v6(&p[0].gw6, "2001:db8:1::fe", 0));
		CHECK_EQ(p[0].vlan, 0);
		CHECK(strcmp(p[1].device, "net_af_xdp1") == 0);
		CHECK(!p[1].has_ip4);
		CHECK_EQ(p[1].gw4.family, 0);
		CHECK(p[1].has_ip6);
		CHECK_EQ(p[1].prefix6, 128);
		CHECK(is_v6(&p[1].gw6, "fe80::1", 0)); /* link-local router */
		CHECK_EQ(p[1].vlan, 4094);
	}
	config_free(&cfg);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 0);
	CHECK(cfg.dataplane.dpdk.eal_args[0] == NULL);
	config_free(&cfg); /* idempotent */
	free(out);

	/* Only what is needed: the rest keeps its defaults. */
	n = load_str(&cfg, DPDK_HEAD DPDK_PORT DPDK_TURN, &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.dataplane.dpdk.n_ports, 1);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 0);
	CHECK(cfg.dataplane.dpdk.lcores[0] == '\0');
	CHECK_EQ(cfg.dataplane.dpdk.neighbours, 1024);
	CHECK_EQ(cfg.dataplane.dpdk.rx_desc, 1024);
	CHECK_EQ(cfg.dataplane.dpdk.tx_desc, 1024);
	CHECK_EQ(cfg.dataplane.dpdk.ports[0].gw4.family, 0);
	config_free(&cfg);
	free(out);

	/* A bad list after a good one: the good one stays, nothing leaks. */
	n = load_str(&cfg,
		     DPDK_HEAD "    eal: [a, b]\n    eal: [c]\n" DPDK_PORT
			       DPDK_TURN,
		     &out);
	CHECK_EQ(n, 1);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 2);
	config_free(&cfg);
	free(out);
	n = load_str(&cfg,
		     DPDK_HEAD "    eal: [a, b, '', -l, c]\n" DPDK_PORT
			       DPDK_TURN,
		     &out);
	CHECK_EQ(n, 2);
	CHECK_EQ(cfg.dataplane.dpdk.n_eal_args, 0);
	config_free(&cfg);
	free(out);

	/* A dpdk section under driver udp is checked but not required to
	 * match turn (the same file can serve while moving a host over). */
	expect_ok("dataplane:\n  driver: udp\n  dpdk:\n" DPDK_PORT);
	expect_ok("dataplane:\n  dpdk:\n    eal: []\n");
	/* EAL --lcores forms */
	expect_ok(DPDK_HEAD "    lcores: \"1,3,5\"\n" DPDK_PORT DPDK_TURN);
	expect_ok(DPDK_HEAD "    lcores: \"0@2,(1-2)@(4,6)\"\n" DPDK_PORT
			    DPDK_TURN);
	/* A listen address on the second port, a relay on the first. */
	expect_ok(DPDK_HEAD DPDK_PORT
		  "      - device: b\n        ipv4: 198.51.100.7/32\n"
		  "turn:\n  listen: [198.51.100.7:3478]\n"
		  "  relay:\n    addresses: [2001:db8:1::1]\n");
}

static void
test_dpdk_example(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	const char *file = path("../../configs/dpdk.example.yaml");
	char prefix[PATH_MAX + 32];
	const struct dp_port_conf *p = cfg.dataplane.dpdk.ports;
	int n;

	/* Its secret_file does not exist here: exactly that one error. */
	n = load_path(&cfg, file, &out);
	CHECK_EQ(n, 1);
	snprintf(prefix, sizeof(prefix), "%s:", file);
	CHECK(starts(out, prefix));
	CHECK(strstr(out, "error: cannot open turn.auth.secret_file") != NULL);
	if (n != 1)
		fprintf(stderr, "%s", out);
	CHECK_EQ(cfg.dataplane.driver, DP_DRIVER_DPDK);
	CHECK_EQ(cfg.dataplane.workers, 2);
	CHECK(cfg.dataplane.dpdk.n_eal_args > 0);
	CHECK_EQ(cfg.dataplane.dpdk.n_ports, 1);
	CHECK(strcmp(p[0].device, "0000:01:00.0") == 0);
	CHECK(is_v4(&p[0].ip4, "203.0.113.10", 0));
	CHECK(is_v6(&p[0].ip6, "2001:db8:10::10", 0));
	CHECK(p[0].gw4.family == AF_INET && p[0].gw6.family == AF_INET6);
	CHECK_EQ(cfg.turn.n_allow, 0);
	for (unsigned i = 0; i < cfg.turn.n_listen; i++)
		CHECK(!is_v4(&cfg.turn.listen[i], "127.0.0.1", 3478));
	config_free(&cfg);
	free(out);
}

static const struct bad dpdk_bad_cases[] = {
	/* ports[] items: port keys are at line 6 onward, column 9 */
	{ DPDK_HEAD "    ports:\n      - ipv4: 198.18.0.1/24\n" DPDK_TURN,
	  "t.yaml:6:9: error: ", "missing device in dataplane.dpdk.ports[0]" },
	{ DPDK_HEAD "    ports:\n      - device: a\n" DPDK_TURN,
	  "t.yaml:6:9: error: ", "missing address in dataplane.dpdk.ports[0]" },
	{ DPDK_HEAD "    ports:\n      - device: ''\n"
		    "        ipv4: 198.18.0.1/24\n" DPDK_TURN,
	  "t.yaml:6:17: error: ",
	  "expected a string of 1 to 127 printable characters for "
	  "dataplane.dpdk.ports[0].device" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv4: 198.18.0.1/33\n" DPDK_TURN,
	  "t.yaml:7:15: error: ",
	  "expected an IPv4 address with a prefix length from /1 to /32" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv4: 198.18.0.1\n" DPDK_TURN,
	  "t.yaml:7:15: error: ", "for dataplane.dpdk.ports[0].ipv4" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv4: 198.18.0.1/0\n" DPDK_TURN,
	  "t.yaml:7:15: error: ", "from /1 to /32" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv4: 2001:db8::1/64\n" DPDK_TURN,
	  "t.yaml:7:15: error: ", "expected an IPv4 address" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv4: 0.0.0.0/8\n" DPDK_TURN,
	  "t.yaml:7:15: error: ", "expected an IPv4 address" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv6: 2001:db8:1::1/129\n" DPDK_TURN,
	  "t.yaml:7:15: error: ",
	  "expected an IPv6 address with a prefix length from /1 to /128, "
	  "such as 2001:db8::1/64, for dataplane.dpdk.ports[0].ipv6" },
	{ DPDK_HEAD DPDK_PORT "        gateway4: 198.18.1.1\n" DPDK_TURN,
	  "t.yaml:9:19: error: ",
	  "dataplane.dpdk.ports[0].gateway4 198.18.1.1 is not inside "
	  "dataplane.dpdk.ports[0].ipv4 198.18.0.1/24" },
	{ DPDK_HEAD DPDK_PORT "        gateway6: 2001:db8:2::1\n" DPDK_TURN,
	  "t.yaml:9:19: error: ", "nor link-local (fe80::/10)" },
	{ DPDK_HEAD DPDK_PORT "        gateway4: 198.18.0.1\n" DPDK_TURN,
	  "t.yaml:9:19: error: ", "is the port's own address" },
	{ DPDK_HEAD DPDK_PORT "        gateway4: 198.18.0.0/24\n" DPDK_TURN,
	  "t.yaml:9:19: error: ",
	  "expected an IPv4 address without a prefix for "
	  "dataplane.dpdk.ports[0].gateway4" },
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv6: 2001:db8:1::1/64\n"
		    "        gateway4: 198.18.0.254\n"
		    "turn:\n  listen: ['[2001:db8:1::1]:3478']\n"
		    "  relay:\n    addresses: [2001:db8:1::1]\n",
	  "t.yaml:8:19: error: ",
	  "dataplane.dpdk.ports[0].gateway4 needs "
	  "dataplane.dpdk.ports[0].ipv4 on the same port" },
	{ DPDK_HEAD DPDK_PORT DPDK_TURN "http:\n  listen: [127.0.0.1:8080]\n"
	  "gateway:\n  listen: [198.18.9.1:3479]\n",
	  "t.yaml:16:12: error: ",
	  "gateway.listen 198.18.9.1:3479 is not an address of any dataplane.dpdk port" },
	{ DPDK_HEAD DPDK_PORT "        vlan: 4095\n" DPDK_TURN,
	  "t.yaml:9:15: error: ",
	  "expected an integer from 0 to 4094 for dataplane.dpdk.ports[0].vlan" },
	{ DPDK_HEAD DPDK_PORT "        mtu: 1500\n" DPDK_TURN,
	  "t.yaml:9:9: error: ",
	  "unknown key \"mtu\" in dataplane.dpdk.ports[0]" },
	{ DPDK_HEAD "    ports: [net_af_xdp0]\n" DPDK_TURN,
	  "t.yaml:5:13: error: ",
	  "expected a mapping for dataplane.dpdk.ports[0]" },
	{ DPDK_HEAD DPDK_PORT "      - device: net_af_xdp0\n"
		    "        ipv4: 198.18.1.1/24\n" DPDK_TURN,
	  "t.yaml:9:17: error: ",
	  "duplicate device \"net_af_xdp0\" in dataplane.dpdk.ports[1]: "
	  "already in dataplane.dpdk.ports[0]" },
	{ DPDK_HEAD DPDK_PORT "      - device: b\n"
		    "        ipv6: 2001:db8:1::1/48\n" DPDK_TURN,
	  "t.yaml:10:15: error: ",
	  "duplicate address 2001:db8:1::1 in dataplane.dpdk.ports[1]" },
	/* the list and the other dpdk keys */
	{ DPDK_HEAD "    ports: []\n" DPDK_TURN, "t.yaml:5:12: error: ",
	  "expected a list of 1 to 4 ports for dataplane.dpdk.ports" },
	{ DPDK_HEAD "    ports: [{device: a, ipv4: 1.1.1.1/8},"
		    " {device: b, ipv4: 1.1.1.2/8}, {device: c, ipv4: 1.1.1.3/8},"
		    " {device: d, ipv4: 1.1.1.4/8}, {device: e, ipv4: 1.1.1.5/8}]\n"
		    DPDK_TURN,
	  "t.yaml:5:12: error: ", "1 to 4 ports" },
	{ DPDK_HEAD "    neighbours: 1000\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:17: error: ",
	  "expected a power of two from 64 to 1048576 for "
	  "dataplane.dpdk.neighbours" },
	{ DPDK_HEAD "    neighbours: 32\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:17: error: ", "power of two from 64" },
	{ DPDK_HEAD "    rx_desc: 32768\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:14: error: ",
	  "expected a power of two from 64 to 16384 for dataplane.dpdk.rx_desc" },
	{ DPDK_HEAD "    tx_desc: 1000\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:14: error: ", "for dataplane.dpdk.tx_desc" },
	{ DPDK_HEAD "    eal: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p,"
		    " q, r, s, t, u, v, w, x, y, z, a, b, c, d, e, f, g]\n"
		    DPDK_PORT DPDK_TURN,
	  "t.yaml:5:10: error: ",
	  "expected a list of 0 to 32 strings for dataplane.dpdk.eal" },
	{ DPDK_HEAD "    eal: [--no-huge, -l, 0-2]\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:22: error: ",
	  "\"-l\" is not allowed in dataplane.dpdk.eal: sottod passes "
	  "--lcores itself" },
	{ DPDK_HEAD "    eal: [--lcores=0-2]\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:11: error: ", "is not allowed" },
	{ DPDK_HEAD "    eal: [-c0x7]\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:11: error: ", "is not allowed" },
	{ DPDK_HEAD "    eal: [\"\"]\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:11: error: ",
	  "expected a string of 1 to 255 printable characters in "
	  "dataplane.dpdk.eal" },
	{ DPDK_HEAD "    eal: --no-huge\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:10: error: ", "expected a list of strings" },
	{ DPDK_HEAD "    lcores: \"0--2\"\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:13: error: ",
	  "expected an lcore list such as \"0-2\"" },
	{ DPDK_HEAD "    lcores: \"2-0\"\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:13: error: ", "expected an lcore list" },
	{ DPDK_HEAD "    lcores: \"(0,1\"\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:13: error: ", "expected an lcore list" },
	{ DPDK_HEAD "    lcores: \"0-1\"\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:13: error: ",
	  "dataplane.dpdk.lcores \"0-1\" names 2 lcores: need 3" },
	{ DPDK_HEAD "    lcores: \"0,0,1\"\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:13: error: ", "names 2 lcores" },
	{ DPDK_HEAD "    colour: blue\n" DPDK_PORT DPDK_TURN,
	  "t.yaml:5:5: error: ", "unknown key \"colour\" in dataplane.dpdk" },
	/* against turn, only with driver dpdk */
	{ DPDK_HEAD "    lcores: \"0-2\"\n" DPDK_TURN, "t.yaml:1:1: error: ",
	  "dataplane.driver dpdk needs at least one port in "
	  "dataplane.dpdk.ports" },
	{ "log_level: info\n" DPDK_HEAD "    lcores: \"0-2\"\n" DPDK_TURN,
	  "t.yaml:2:1: error: ", "needs at least one port" },
	{ DPDK_HEAD DPDK_PORT
	  "turn:\n  listen: [198.18.0.1:3478, 127.0.0.1:3478]\n"
	  "  relay:\n    addresses: [198.18.0.1]\n",
	  "t.yaml:10:29: error: ",
	  "turn.listen 127.0.0.1:3478 is not an address of any dataplane.dpdk "
	  "port" },
	{ DPDK_HEAD DPDK_PORT
	  "turn:\n  listen: ['[2001:db8:1::2]:3478']\n"
	  "  relay:\n    addresses: [198.18.0.1]\n",
	  "t.yaml:10:12: error: ", "turn.listen [2001:db8:1::2]:3478 is not" },
	{ DPDK_HEAD DPDK_PORT
	  "turn:\n  listen: [198.18.0.1:3478]\n"
	  "  relay:\n    addresses: [198.18.0.1, 2001:db8:1::2]\n",
	  "t.yaml:12:29: error: ",
	  "turn.relay.addresses 2001:db8:1::2 is not an address of any "
	  "dataplane.dpdk port" },
	/* the defaults are loopback: reported at the driver */
	{ DPDK_HEAD DPDK_PORT "turn:\n  listen: [198.18.0.1:3478]\n",
	  "t.yaml:2:11: error: ",
	  "turn.relay.addresses 127.0.0.1 (the default) is not an address" },
	/* a bad port or listen list is reported once, not again here */
	{ DPDK_HEAD "    ports:\n      - device: a\n"
		    "        ipv4: 198.18.0.1/33\n",
	  "t.yaml:7:15: error: ", "from /1 to /32" },
	{ DPDK_HEAD DPDK_PORT
	  "turn:\n  listen: [198.18.0.1:0]\n"
	  "  relay:\n    addresses: [198.18.0.1]\n",
	  "t.yaml:10:12: error: ", "port from 1 to 65535" },
};

static void
test_dpdk_bad(void)
{
	for (size_t i = 0; i < sizeof(dpdk_bad_cases) / sizeof(dpdk_bad_cases[0]);
	     i++)
		expect_one(dpdk_bad_cases[i].yaml, dpdk_bad_cases[i].prefix,
			   dpdk_bad_cases[i].what);
}

/* A bad value leaves the config unusable but must not crash or leak. */
static void
test_many_errors(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	const char *file = path("configs/bad_many.yaml");
	char want[PATH_MAX + 64];
	const char *l;
	int n = load_path(&cfg, file, &out);

	static const char *const where[] = { "1:12", "3:12", "4:3", "7:3",
					     "9:13" };
	CHECK_EQ(n, 5);
	l = out;
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(want, sizeof(want), "%s:%s: error: ", file, where[i]);
		CHECK(l != NULL && starts(l, want));
		if (l != NULL && !starts(l, want))
			fprintf(stderr, "  want %s\n  got %s", want, l);
		l = l ? strchr(l, '\n') : NULL;
		l = l ? l + 1 : NULL;
	}
	CHECK(l != NULL && *l == '\0');
	config_free(&cfg);
	free(out);

	n = load_path(&cfg, path("configs/bad_syntax.yaml"), &out);
	CHECK_EQ(n, 1);
	snprintf(want, sizeof(want), "%s:4:11: error: invalid YAML",
		 path("configs/bad_syntax.yaml"));
	CHECK(starts(out, want));
	if (!starts(out, want))
		fprintf(stderr, "  want %s\n  got %s", want, out);
	config_free(&cfg);
	free(out);

	n = load_path(&cfg, path("configs/does-not-exist.yaml"), &out);
	CHECK_EQ(n, 1);
	snprintf(want, sizeof(want), "%s:1:1: error: cannot open",
		 path("configs/does-not-exist.yaml"));
	CHECK(starts(out, want));
	config_free(&cfg);
	free(out);
}

static void
test_secrets(void)
{
	struct sotto_config cfg;
	char *out = NULL;
	char yaml[2 * PATH_MAX];
	char want[PATH_MAX + 64];
	int n;

	unsetenv(ENV);
	config_env_secret_forget();

	/* None at all: error at the turn key, or 1:1 without one. */
	expect_one("log_level: info\n", "t.yaml:1:1: error: ",
		   "no TURN secret: set turn.auth.secrets, "
		   "turn.auth.secret_file or SOTTO_TURN_SECRET");
	expect_one("log_level: info\nturn:\n  realm: x\n",
		   "t.yaml:2:1: error: ", "no TURN secret");
	expect_one("turn:\n  auth:\n    secrets: []\n", "t.yaml:1:1: error: ",
		   "no TURN secret");

	/* A bad secret is reported without its value. */
	n = load_str(&cfg,
		     "turn:\n  auth:\n    secrets: [short-secret, "
		     "0123456789abcdef-ok]\n",
		     &out);
	CHECK_EQ(n, 1);
	CHECK(starts(out, "t.yaml:3:15: error: expected a secret string of "
			  "16 to 255 characters"));
	CHECK(strstr(out, "short-secret") == NULL);
	config_free(&cfg);
	free(out);

	n = load_str(&cfg, "turn:\n  auth:\n    secrets: [{a: b}]\n", &out);
	CHECK_EQ(n, 2); /* the bad item, then nothing usable */
	CHECK(starts(out, "t.yaml:3:15: error: expected a secret string"));
	config_free(&cfg);
	free(out);

	/* Unknown keys under auth may be misplaced secrets: not echoed. */
	n = load_str(&cfg,
		     "turn:\n  auth:\n    secrets: [0123456789abcdef-ok]\n"
		     "    my-real-secret-0123456789: 1\n",
		     &out);
	CHECK_EQ(n, 1);
	CHECK(starts(out, "t.yaml:4:5: error: unknown key in turn.auth"));
	CHECK(strstr(out, "my-real-secret") == NULL);
	config_free(&cfg);
	free(out);

	/* secret_file together with secrets: the union. */
	snprintf(yaml, sizeof(yaml),
		 "turn:\n  auth:\n    secrets: [yaml-secret-0123456789]\n"
		 "    secret_file: %s\n",
		 path("configs/secrets_good.txt"));
	n = load_str(&cfg, yaml, &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.turn.n_secrets, 3);
	if (cfg.turn.n_secrets == 3) {
		CHECK(strcmp(cfg.turn.secrets[0], "yaml-secret-0123456789") ==
		      0);
		CHECK(strcmp(cfg.turn.secrets[1], "file-secret-0123456789-a") ==
		      0); /* surrounding blanks trimmed */
		CHECK(strcmp(cfg.turn.secrets[2], "file-secret-0123456789-b") ==
		      0);
	}
	config_free(&cfg);
	free(out);

	/* A bad line points into the secret file, not the YAML. */
	snprintf(yaml, sizeof(yaml),
		 "turn:\n  auth:\n    secret_file: %s\n",
		 path("configs/secrets_bad.txt"));
	n = load_str(&cfg, yaml, &out);
	CHECK_EQ(n, 1);
	snprintf(want, sizeof(want), "%s:4:1: error: expected a secret of 16 "
		 "to 255 characters", path("configs/secrets_bad.txt"));
	CHECK(starts(out, want));
	CHECK(strstr(out, "tooshort") == NULL);
	CHECK(strstr(out, "file-secret") == NULL);
	config_free(&cfg);
	free(out);

	/* Unreadable: at the value, naming the path. */
	n = load_str(&cfg,
		     "turn:\n  auth:\n    secret_file: /nonexistent/sotto\n",
		     &out);
	CHECK_EQ(n, 2); /* and hence no secret */
	CHECK(starts(out, "t.yaml:3:18: error: cannot open "
			  "turn.auth.secret_file \"/nonexistent/sotto\""));
	config_free(&cfg);
	free(out);

	/* A directory opens but does not read. */
	snprintf(yaml, sizeof(yaml),
		 "turn:\n  auth:\n    secret_file: %s\n", path("configs"));
	n = load_str(&cfg, yaml, &out);
	CHECK(n >= 1);
	CHECK(starts(out, "t.yaml:3:18: error: cannot "));
	config_free(&cfg);
	free(out);

	/* The environment replaces the whole list. */
	setenv(ENV, ENV_SECRET, 1);
	snprintf(yaml, sizeof(yaml),
		 "turn:\n  auth:\n    secrets: [yaml-secret-0123456789]\n"
		 "    secret_file: %s\n",
		 path("configs/secrets_good.txt"));
	n = load_str(&cfg, yaml, &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.turn.n_secrets, 1);
	if (cfg.turn.n_secrets == 1)
		CHECK(strcmp(cfg.turn.secrets[0], ENV_SECRET) == 0);
	config_free(&cfg);
	free(out);

	n = load_str(&cfg, "log_level: info\n", &out);
	CHECK_EQ(n, 0);
	CHECK_EQ(cfg.turn.n_secrets, 1);
	config_free(&cfg);
	free(out);

	setenv(ENV, "short", 1);
	n = load_str(&cfg, "log_level: info\n", &out);
	CHECK_EQ(n, 1);
	CHECK(starts(out, "SOTTO_TURN_SECRET:1:1: error: expected a secret"));
	CHECK(strstr(out, "short\n") == NULL);
	config_free(&cfg);
	free(out);

	/* Set but empty counts as unset. */
	setenv(ENV, "", 1);
	expect_one("log_level: info\n", "t.yaml:1:1: error: ",
		   "no TURN secret");

	/* Secrets never show up, whatever else goes wrong. */
	setenv(ENV, ENV_SECRET, 1);
	n = load_str(&cfg,
		     "turn:\n  realm: \"\"\n  auth:\n"
		     "    secrets: [yaml-secret-0123456789, x]\n"
		     "    secrets: [yaml-secret-abcdefghij]\n"
		     "    nonce_lifetime: yaml-secret-0123456789\n"
		     "  listen: [yaml-secret-0123456789]\n",
		     &out);
	CHECK_EQ(n, 5);
	CHECK(strstr(out, "yaml-secret") == NULL);
	CHECK(strstr(out, ENV_SECRET) == NULL);
	config_free(&cfg);
	free(out);
}

int
main(int argc, char **argv)
{
	set_srcdir(argc, argv);
	/* Most cases are not about secrets; keep "no TURN secret" out. */
	setenv(ENV, ENV_SECRET, 1);

	test_defaults();
	test_shipped_default();
	test_production_example();
	test_good_file();
	test_small_values();
	test_bad();
	test_dpdk_good();
	test_dpdk_example();
	test_dpdk_bad();
	test_many_errors();
	test_signaling_secrets();
	test_issue21();
	test_issue21_signaling();
	test_secrets();
	return check_done("config");
}
