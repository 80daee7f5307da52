/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TURN request logic against a hand-made dp_ctx: real tables (dp_tables_*),
 * a memory port driver that hands out relayed ports, REST credentials built
 * here from the secret. Time is whatever the test says it is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rte_hash.h>

#include "check.h"
#include "eal.h"

#include "config.h"
#include "dp.h"
#include "peer_policy.h"
#include "stun.h"
#include "turn_auth.h"
#include "turn_server.h"

#define SECRET "test-secret"
#define REALM "sotto.test"
#define T0 1700000000000ull /* ms */
/* one simulated time for both of the server's clocks */
#define CLOCK_AT(t) ((struct clock_now){ (t), (t) })

/* ---- memory port driver ---- */

static unsigned n_opened, n_closed;
static uint32_t last_closed;
static int open_fail;

/* ports 50000.. in order; a port is never handed out twice; the socket
 * slot is the port, so a close says which port came back */
static uint16_t next_port = 50000;
static uint8_t port_used[65536];

static int
mem_relay_open(struct dp_ctx *dp, const struct sotto_addr *ip,
	       struct sotto_addr *relay, uint32_t *sock)
{
	uint16_t port;

	(void)dp;
	if (open_fail)
		return -ENOSPC;
	if (ip->port > DP_PORT_EVEN) {
		if (port_used[ip->port])
			return -EADDRINUSE;
		port = ip->port;
	} else {
		while (port_used[next_port] ||
		       (ip->port == DP_PORT_EVEN && (next_port & 1)))
			next_port++;
		port = next_port++;
	}
	port_used[port] = 1;
	*relay = *ip;
	relay->port = port;
	*sock = port;
	n_opened++;
	return 0;
}

static void
mem_relay_close(struct dp_ctx *dp, uint32_t sock)
{
	(void)dp;
	n_closed++;
	last_closed = sock;
}

static const struct dp_port_ops mem_ops = {
	.name = "mem",
	.relay_open = mem_relay_open,
	.relay_close = mem_relay_close,
};

/* ---- environment ---- */

struct env {
	struct dp_ctx dp;
	struct sotto_config cfg;
	struct turn_server *ts;
	struct sotto_addr listen;
	struct sotto_cidr allow[1];
	char *secrets[1];
};

static struct sotto_addr
A(const char *s)
{
	struct sotto_addr a;

	if (sotto_addr_parse(&a, s, 0) < 0)
		fprintf(stderr, "bad address %s\n", s);
	return a;
}

/* Defaults, one secret, listen 127.0.0.1:3478, relay 127.0.0.1 (and ::1
 * when v6), loopback peers allowed when allow_lo. */
static void
env_config(struct env *e, int v6, int allow_lo)
{
	memset(e, 0, sizeof(*e));
	config_defaults(&e->cfg);
	e->secrets[0] = SECRET;
	e->cfg.turn.secrets = e->secrets;
	e->cfg.turn.n_secrets = 1;
	strcpy(e->cfg.turn.realm, REALM);
	e->listen = A("127.0.0.1:3478");
	e->cfg.turn.listen[0] = e->listen;
	e->cfg.turn.n_listen = 1;
	e->cfg.turn.relay[0] = A("127.0.0.1:0");
	e->cfg.turn.n_relay = 1;
	if (v6) {
		e->cfg.turn.relay[1] = A("[::1]:0");
		e->cfg.turn.n_relay = 2;
	}
	if (allow_lo) {
		sotto_cidr_parse(&e->allow[0], "127.0.0.0/8");
		e->cfg.turn.allow = e->allow;
		e->cfg.turn.n_allow = 1;
	}
	e->cfg.turn.requests_per_source = 100000;
	e->cfg.turn.max_lifetime = 3600;
	e->cfg.turn.default_lifetime = 600;
}

static int
env_start(struct env *e)
{
	if (dp_tables_init(&e->dp.tables, 1024, 1) < 0)
		return -1;
	e->dp.ops = &mem_ops;
	e->ts = turn_server_new(&e->cfg, &e->dp);
	return e->ts ? 0 : -1;
}

static void
env_stop(struct env *e)
{
	turn_server_free(e->ts);
	dp_tables_reclaim(&e->dp.tables);
	dp_tables_fini(&e->dp.tables);
}

static uint64_t
stat_of(struct env *e, enum turn_stat s)
{
	uint64_t st[TURN_N_STATS];

	turn_server_stats(e->ts, st);
	return st[s];
}

/* ---- clients ---- */

struct client {
	struct sotto_addr addr;
	char username[128];
	char password[64];
	uint8_t key[16];
	char nonce[TURN_NONCE_MAX];
	int fp;                       /* add FINGERPRINT to requests */
};

static void
client_init(struct client *c, const char *addr, uint64_t expiry,
	    const char *user, const char *secret)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;

	memset(c, 0, sizeof(*c));
	c->addr = A(addr);
	snprintf(c->username, sizeof(c->username), "%llu:%s",
		 (unsigned long long)expiry, user);
	HMAC(EVP_sha1(), secret, (int)strlen(secret),
	     (const unsigned char *)c->username, strlen(c->username), mac,
	     &mlen);
	EVP_EncodeBlock((unsigned char *)c->password, mac, (int)mlen);
	stun_lt_key(c->username, REALM, c->password, c->key);
}

struct req {
	struct stun_builder b;
	uint8_t buf[1500];
	uint8_t tid[STUN_TID_LEN];
};

static unsigned tid_seq;

static void
req_begin(struct req *r, uint16_t method, uint16_t cls)
{
	tid_seq++;
	memset(r->tid, 0xA5, sizeof(r->tid));
	memcpy(r->tid, &tid_seq, sizeof(tid_seq));
	stun_build(&r->b, r->buf, sizeof(r->buf), method, cls, r->tid);
}

static size_t
req_plain(struct req *r, const struct client *c)
{
	if (c->fp)
		stun_add_fingerprint(&r->b);
	return stun_finish(&r->b);
}

static size_t
req_auth(struct req *r, const struct client *c)
{
	stun_add(&r->b, STUN_A_USERNAME, c->username,
		 (uint16_t)strlen(c->username));
	stun_add(&r->b, STUN_A_REALM, REALM, (uint16_t)strlen(REALM));
	stun_add(&r->b, STUN_A_NONCE, c->nonce, (uint16_t)strlen(c->nonce));
	stun_add_integrity(&r->b, c->key, sizeof(c->key));
	return req_plain(r, c);
}

/* the last response */
static uint8_t rbuf[1500];
static struct stun_msg resp;
static struct turn_tx tx;

/*
 * Sends one request as c (to the listener), returns -1 for no answer, 0 for
 * success, else the error code. Checks tid, method, integrity under c's key
 * (authenticated answers), fingerprint and the addresses of the answer.
 */
static int
exchange(struct env *e, struct client *c, struct req *r, size_t len,
	 uint64_t now, int authed)
{
	const struct stun_attr *ec;

	memset(&tx, 0, sizeof(tx));
	if (turn_server_handle(e->ts, r->buf, len, &c->addr, &e->listen, 7,
			       &CLOCK_AT(now), rbuf, sizeof(rbuf), &tx) != 1)
		return -1;
	CHECK(tx.data == rbuf);
	CHECK(sotto_addr_eq(&tx.src, &e->listen));
	CHECK(sotto_addr_eq(&tx.dst, &c->addr));
	CHECK_EQ(tx.sock, 7);
	if (stun_parse(&resp, tx.data, tx.len) < 0) {
		CHECK(!"response parses");
		return -2;
	}
	CHECK_MEM(resp.tid, r->tid, STUN_TID_LEN);
	CHECK_EQ(resp.method, stun_method((uint16_t)(r->buf[0] << 8 | r->buf[1])));
	CHECK_EQ(stun_check_fingerprint(&resp), c->fp ? 1 : -1);
	ec = stun_find(&resp, STUN_A_ERROR_CODE);
	int code = ec ? ec->val[2] * 100 + ec->val[3] : 0;
	if (ec != NULL)
		CHECK_EQ(resp.cls, STUN_ERROR);
	else
		CHECK_EQ(resp.cls, STUN_SUCCESS);
	if (code == 401 || code == 438) {
		/* the challenge: REALM + NONCE, no integrity */
		const struct stun_attr *n = stun_find(&resp, STUN_A_NONCE);
		CHECK(stun_find(&resp, STUN_A_REALM) != NULL);
		CHECK(n != NULL);
		CHECK_EQ(resp.integrity, -1);
		if (n != NULL && n->len < TURN_NONCE_MAX) {
			memcpy(c->nonce, n->val, n->len);
			c->nonce[n->len] = '\0';
		}
	} else if (authed) {
		CHECK_EQ(stun_check_integrity(&resp, c->key, sizeof(c->key)),
			 1);
	}
	/* never much larger than the request (the challenge aside) */
	if (code != 401 && code != 438)
		CHECK(tx.len <= len + 96);
	/* an error to an unauthenticated request: never larger at all */
	if (code != 0 && code != 401 && code != 438 && resp.integrity < 0)
		CHECK(tx.len <= len);
	return code;
}

/* ---- requests ---- */

static uint32_t
u32_of(uint16_t type)
{
	uint32_t v = 0;

	if (stun_attr_u32(stun_find(&resp, type), &v) < 0)
		return UINT32_MAX;
	return v;
}

static struct sotto_addr
xaddr_of(uint16_t type)
{
	struct sotto_addr a;

	memset(&a, 0, sizeof(a));
	stun_attr_xor_addr(&resp, stun_find(&resp, type), &a);
	return a;
}

static void
add_transport(struct req *r, uint8_t proto)
{
	stun_add_u32(&r->b, STUN_A_REQUESTED_TRANSPORT, (uint32_t)proto << 24);
}

/* An unauthenticated Allocate: the 401 gives c its nonce. */
static void
login(struct env *e, struct client *c, uint64_t now)
{
	struct req r;

	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	CHECK_EQ(exchange(e, c, &r, req_plain(&r, c), now, 0), 401);
}

/* family 0: none asked; lifetime 0: no LIFETIME attribute */
static int
allocate(struct env *e, struct client *c, uint64_t now, uint8_t family,
	 uint32_t lifetime, struct sotto_addr *relay)
{
	struct req r;
	int rc;

	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	if (family)
		stun_add_u32(&r.b, STUN_A_REQUESTED_ADDRESS_FAMILY,
			     (uint32_t)family << 24);
	if (lifetime)
		stun_add_u32(&r.b, STUN_A_LIFETIME, lifetime);
	rc = exchange(e, c, &r, req_auth(&r, c), now, 1);
	if (rc == 0 && relay != NULL)
		*relay = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	return rc;
}

static int
refresh(struct env *e, struct client *c, uint64_t now, int with_lifetime,
	uint32_t lifetime)
{
	struct req r;

	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	if (with_lifetime)
		stun_add_u32(&r.b, STUN_A_LIFETIME, lifetime);
	return exchange(e, c, &r, req_auth(&r, c), now, 1);
}

static int
create_perm(struct env *e, struct client *c, uint64_t now,
	    const char *const *peers, unsigned n)
{
	struct req r;

	req_begin(&r, TURN_CREATE_PERMISSION, STUN_REQUEST);
	for (unsigned i = 0; i < n; i++) {
		struct sotto_addr p = A(peers[i]);
		stun_add_xor_addr(&r.b, STUN_A_XOR_PEER_ADDRESS, &p);
	}
	return exchange(e, c, &r, req_auth(&r, c), now, 1);
}

/* chan 0: no CHANNEL-NUMBER; peer NULL: no XOR-PEER-ADDRESS */
static int
chan_bind(struct env *e, struct client *c, uint64_t now, uint16_t chan,
	  const char *peer)
{
	struct req r;

	req_begin(&r, TURN_CHANNEL_BIND, STUN_REQUEST);
	if (chan)
		stun_add_u32(&r.b, STUN_A_CHANNEL_NUMBER, (uint32_t)chan << 16);
	if (peer != NULL) {
		struct sotto_addr p = A(peer);
		stun_add_xor_addr(&r.b, STUN_A_XOR_PEER_ADDRESS, &p);
	}
	return exchange(e, c, &r, req_auth(&r, c), now, 1);
}

/* A Send indication; returns what turn_server_handle returned. */
static int
send_ind(struct env *e, struct client *c, uint64_t now, const char *peer,
	 const char *data)
{
	struct req r;
	size_t n;

	req_begin(&r, TURN_SEND, STUN_INDICATION);
	if (peer != NULL) {
		struct sotto_addr p = A(peer);
		stun_add_xor_addr(&r.b, STUN_A_XOR_PEER_ADDRESS, &p);
	}
	if (data != NULL)
		stun_add(&r.b, STUN_A_DATA, data, (uint16_t)strlen(data));
	n = req_plain(&r, c);
	memset(&tx, 0, sizeof(tx));
	return turn_server_handle(e->ts, r.buf, n, &c->addr, &e->listen, 7,
				  &CLOCK_AT(now), rbuf, sizeof(rbuf), &tx);
}

static struct dp_alloc *
dpa_of(struct env *e, const struct client *c)
{
	struct dp_client_key k;
	void *d;

	dp_client_key_set(&k, &c->addr, &e->listen);
	if (rte_hash_lookup_data(e->dp.tables.by_client, &k, &d) < 0)
		return NULL;
	return d;
}

static struct dp_peerset *
peers_of(struct env *e, const struct client *c)
{
	struct dp_alloc *a = dpa_of(e, c);

	return a ? __atomic_load_n(&a->peers, __ATOMIC_ACQUIRE) : NULL;
}

static uint64_t
expiry_s(uint64_t now_ms, uint64_t ttl_s)
{
	return now_ms / 1000 + ttl_s;
}

/* ---- tests ---- */

static void
test_binding_and_drops(void)
{
	struct env e;
	struct client c;
	struct req r;
	size_t n;

	env_config(&e, 0, 1);
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 3600), "alice", SECRET);

	/* Binding: XOR-MAPPED-ADDRESS of the source, no auth */
	c.fp = 1;
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0, 0), 0);
	struct sotto_addr mapped = xaddr_of(STUN_A_XOR_MAPPED_ADDRESS);
	CHECK(sotto_addr_eq(&mapped, &c.addr));
	CHECK_EQ(resp.integrity, -1);
	CHECK(stun_find(&resp, STUN_A_SOFTWARE) == NULL);
	c.fp = 0;
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0, 0), 0);
	CHECK_EQ(resp.fingerprint, -1);

	/* unknown comprehension-required attribute: 420 listing it (the
	 * request padded so that the answer may be as large: see
	 * test_amplification for the small ones) */
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	stun_add_u32(&r.b, 0x0031, 1);
	stun_add(&r.b, STUN_A_SOFTWARE, "padding-padding-padding-", 24);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0, 0), 420);
	const struct stun_attr *ua = stun_find(&resp, STUN_A_UNKNOWN_ATTRIBUTES);
	CHECK(ua != NULL && ua->len == 2 && ua->val[0] == 0x00 &&
	      ua->val[1] == 0x31);

	/* a method not served here (padded likewise) */
	req_begin(&r, 0x00A, STUN_REQUEST);
	stun_add(&r.b, STUN_A_SOFTWARE, "padding-padding-padding-", 24);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0, 0), 400);

	/* indications other than Send are never answered */
	req_begin(&r, STUN_BINDING, STUN_INDICATION);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0, 0), -1);

	/* malformed: not STUN, truncated, a response */
	uint64_t mal = stat_of(&e, TURN_STAT_MALFORMED);
	static const uint8_t junk[24] = { 0x80, 1, 2, 3 };
	memset(&tx, 0, sizeof(tx));
	CHECK_EQ(turn_server_handle(e.ts, junk, sizeof(junk), &c.addr,
				    &e.listen, 7, &CLOCK_AT(T0), rbuf, sizeof(rbuf),
				    &tx),
		 0);
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	stun_add_u32(&r.b, STUN_A_LIFETIME, 1);
	n = req_plain(&r, &c);
	CHECK_EQ(turn_server_handle(e.ts, r.buf, n - 4, &c.addr, &e.listen, 7,
				    &CLOCK_AT(T0), rbuf, sizeof(rbuf), &tx), 0);
	req_begin(&r, STUN_BINDING, STUN_SUCCESS);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0, 0), -1);
	CHECK_EQ(stat_of(&e, TURN_STAT_MALFORMED), mal + 3);

	/* wrong FINGERPRINT: dropped */
	c.fp = 1;
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	n = req_plain(&r, &c);
	r.buf[n - 1] ^= 1;
	CHECK_EQ(exchange(&e, &c, &r, n, T0, 0), -1);
	CHECK_EQ(stat_of(&e, TURN_STAT_BAD_FINGERPRINT), 1);
	CHECK_EQ(stat_of(&e, TURN_STAT_BINDING), 3);

	env_stop(&e);
}

static void
test_auth(void)
{
	struct env e;
	struct client c, bad, old;
	struct req r;
	size_t n;

	env_config(&e, 0, 1);
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 3600), "alice", SECRET);

	/* 401 challenge: REALM + NONCE, no integrity, no state */
	c.fp = 1;
	login(&e, &c, T0);
	CHECK_EQ(stat_of(&e, TURN_STAT_AUTH_CHALLENGE), 1);
	CHECK_EQ(turn_server_allocations(e.ts), 0);
	CHECK(dpa_of(&e, &c) == NULL);
	const struct stun_attr *ra = stun_find(&resp, STUN_A_REALM);
	CHECK(ra != NULL && ra->len == strlen(REALM) &&
	      memcmp(ra->val, REALM, ra->len) == 0);
	CHECK(strlen(c.nonce) > 0);

	/* stale nonce → 438 with a fresh one that then works */
	char first[TURN_NONCE_MAX];
	strcpy(first, c.nonce);
	CHECK_EQ(allocate(&e, &c, T0 + 601000, 0, 0, NULL), 438);
	CHECK_EQ(stat_of(&e, TURN_STAT_STALE_NONCE), 1);
	CHECK(strcmp(first, c.nonce) != 0);
	CHECK_EQ(allocate(&e, &c, T0 + 602000, 0, 0, NULL), 0);
	CHECK_EQ(turn_server_allocations(e.ts), 1);

	/* wrong secret */
	client_init(&bad, "127.0.0.1:40001", expiry_s(T0, 3600), "alice",
		    "not-the-secret");
	login(&e, &bad, T0);
	CHECK_EQ(allocate(&e, &bad, T0, 0, 0, NULL), 401);
	CHECK_EQ(resp.integrity, -1);
	CHECK_EQ(stat_of(&e, TURN_STAT_AUTH_FAILED), 1);

	/* expired username on Allocate */
	client_init(&old, "127.0.0.1:40002", expiry_s(T0, 0) - 1, "alice",
		    SECRET);
	login(&e, &old, T0);
	CHECK_EQ(allocate(&e, &old, T0, 0, 0, NULL), 401);

	/* MESSAGE-INTEGRITY without USERNAME: 400 */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_REALM, REALM, (uint16_t)strlen(REALM));
	stun_add(&r.b, STUN_A_NONCE, c.nonce, (uint16_t)strlen(c.nonce));
	stun_add_integrity(&r.b, c.key, 16);
	n = req_plain(&r, &old);
	CHECK_EQ(exchange(&e, &old, &r, n, T0, 0), 400);
	CHECK_EQ(resp.integrity, -1);

	CHECK_EQ(turn_server_allocations(e.ts), 1);
	env_stop(&e);
}

static void
test_allocate(void)
{
	struct env e;
	struct client c, c2, other;
	struct sotto_addr relay, relay2;
	struct req r;
	size_t n;

	env_config(&e, 0, 1);
	strcpy(e.cfg.turn.software, "sotto");
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 86400), "alice",
		    SECRET);
	c.fp = 1;
	login(&e, &c, T0);

	unsigned opened = n_opened;
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_DONT_FRAGMENT, NULL, 0);
	n = req_auth(&r, &c);
	CHECK_EQ(exchange(&e, &c, &r, n, T0, 1), 0);
	relay = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	CHECK_EQ(relay.family, AF_INET);
	CHECK_EQ(relay.port, 50000 + opened);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 600);
	struct sotto_addr mapped = xaddr_of(STUN_A_XOR_MAPPED_ADDRESS);
	CHECK(sotto_addr_eq(&mapped, &c.addr));
	const struct stun_attr *sw = stun_find(&resp, STUN_A_SOFTWARE);
	CHECK(sw != NULL && sw->len == 5 && memcmp(sw->val, "sotto", 5) == 0);
	CHECK_EQ(n_opened, opened + 1);
	CHECK_EQ(turn_server_allocations(e.ts), 1);
	CHECK_EQ(stat_of(&e, TURN_STAT_ALLOCATIONS_CREATED), 1);

	/* the published entry */
	struct dp_alloc *a = dpa_of(&e, &c);
	CHECK(a != NULL);
	if (a != NULL) {
		CHECK(sotto_addr_eq(&a->relay, &relay));
		CHECK(sotto_addr_eq(&a->client, &c.addr));
		CHECK(sotto_addr_eq(&a->listener, &e.listen));
		CHECK_EQ(a->relay_sock, relay.port);
		CHECK_EQ(a->listener_sock, 7);
		CHECK(a->peers != NULL && a->peers->n_perms == 0 &&
		      a->peers->n_chans == 0);
	}

	/* retransmission: the same answer, no second relay */
	CHECK_EQ(exchange(&e, &c, &r, n, T0 + 500, 1), 0);
	relay2 = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	CHECK(sotto_addr_eq(&relay, &relay2));
	CHECK_EQ(n_opened, opened + 1);
	/* a new transaction on a taken 5-tuple */
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 437);

	/* lifetimes: below the default → default, above max → max */
	client_init(&c2, "127.0.0.1:40001", expiry_s(T0, 86400), "bob",
		    SECRET);
	login(&e, &c2, T0);
	CHECK_EQ(allocate(&e, &c2, T0, 0, 10, NULL), 0);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 600);
	CHECK_EQ(refresh(&e, &c2, T0, 1, 99999), 0);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 3600);
	CHECK(stun_find(&resp, STUN_A_SOFTWARE) != NULL);
	CHECK_EQ(refresh(&e, &c2, T0, 1, 1200), 0);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 1200);
	CHECK_EQ(refresh(&e, &c2, T0, 0, 0), 0);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 600);
	/* REQUESTED-ADDRESS-FAMILY on Refresh must match: 443 */
	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	stun_add_u32(&r.b, STUN_A_REQUESTED_ADDRESS_FAMILY, 0x02u << 24);
	CHECK_EQ(exchange(&e, &c2, &r, req_auth(&r, &c2), T0, 1), 443);
	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	stun_add_u32(&r.b, STUN_A_REQUESTED_ADDRESS_FAMILY, 0x01u << 24);
	CHECK_EQ(exchange(&e, &c2, &r, req_auth(&r, &c2), T0, 1), 0);

	/* another user on bob's 5-tuple: 441, on all three methods */
	client_init(&other, "127.0.0.1:40001", expiry_s(T0, 86400), "eve",
		    SECRET);
	login(&e, &other, T0);
	CHECK_EQ(refresh(&e, &other, T0, 1, 0), 441);
	const char *p1[] = { "198.51.100.1:1" };
	CHECK_EQ(create_perm(&e, &other, T0, p1, 1), 441);
	CHECK_EQ(chan_bind(&e, &other, T0, 0x4000, "198.51.100.1:1"), 441);
	CHECK_EQ(turn_server_allocations(e.ts), 2);

	/* Refresh 0 deletes; the relay is closed after the grace period */
	unsigned closed = n_closed;
	uint32_t bob_sock = dpa_of(&e, &c2)->relay_sock;
	CHECK_EQ(refresh(&e, &c2, T0, 1, 0), 0);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 0);
	CHECK_EQ(turn_server_allocations(e.ts), 1);
	CHECK(dpa_of(&e, &c2) == NULL);
	CHECK_EQ(n_closed, closed);
	dp_tables_reclaim(&e.dp.tables);
	CHECK_EQ(n_closed, closed + 1);
	CHECK_EQ(last_closed, bob_sock);
	CHECK_EQ(refresh(&e, &c2, T0, 1, 0), 437);
	CHECK_EQ(create_perm(&e, &c2, T0, p1, 1), 437);
	CHECK_EQ(chan_bind(&e, &c2, T0, 0x4000, "198.51.100.1:1"), 437);
	/* and the 5-tuple is free again */
	CHECK_EQ(allocate(&e, &c2, T0, 0, 0, NULL), 0);

	/* request checks (RFC 8656 §7.2), on a fresh 5-tuple */
	struct client d;
	client_init(&d, "127.0.0.1:40002", expiry_s(T0, 86400), "carol",
		    SECRET);
	login(&e, &d, T0);
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 400);
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 6);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 442);
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_RESERVATION_TOKEN, "12345678", 8);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 508);
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_RESERVATION_TOKEN, "12345678", 8);
	stun_add_u32(&r.b, STUN_A_REQUESTED_ADDRESS_FAMILY, 0x01u << 24);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 400);
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_RESERVATION_TOKEN, "12345678", 8);
	stun_add(&r.b, STUN_A_EVEN_PORT, "\x00", 1);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 400);
	/* no IPv6 relay configured; unknown family */
	CHECK_EQ(allocate(&e, &d, T0, 0x02, 0, NULL), 440);
	CHECK_EQ(allocate(&e, &d, T0, 0x03, 0, NULL), 440);
	/* unknown comprehension-required attribute, after auth: 420 + MI */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add_u32(&r.b, 0x0031, 1);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 420);
	CHECK(stun_find(&resp, STUN_A_UNKNOWN_ATTRIBUTES) != NULL);
	CHECK(stun_find(&resp, STUN_A_SOFTWARE) == NULL);
	CHECK_EQ(turn_server_allocations(e.ts), 2);
	CHECK(dpa_of(&e, &d) == NULL);
	/* every error counted */
	CHECK(stat_of(&e, TURN_STAT_ERRORS) >= 17);

	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

/* EVEN-PORT and RESERVATION-TOKEN (RFC 8656 §7.2 steps 4-5), which
 * coturn's turnutils_uclient uses for its RTP/RTCP pairs. */
static void
test_even_port(void)
{
	struct env e;
	struct client a, b, c, d;
	struct req r;
	uint8_t token[8];
	struct sotto_addr ra, rb, rc;

	env_config(&e, 0, 1);
	CHECK_EQ(env_start(&e), 0);
	client_init(&a, "127.0.0.1:41000", expiry_s(T0, 86400), "alice", SECRET);
	client_init(&b, "127.0.0.1:41001", expiry_s(T0, 86400), "bob", SECRET);
	client_init(&c, "127.0.0.1:41002", expiry_s(T0, 86400), "carol", SECRET);
	client_init(&d, "127.0.0.1:41003", expiry_s(T0, 86400), "dave", SECRET);
	login(&e, &a, T0);
	login(&e, &b, T0);
	login(&e, &c, T0);
	login(&e, &d, T0);
	next_port = 50001; /* odd: the allocator must skip to an even one */

	/* R bit: even port, the next one held, token returned */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_EVEN_PORT, "\x80", 1);
	CHECK_EQ(exchange(&e, &a, &r, req_auth(&r, &a), T0, 1), 0);
	ra = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	CHECK_EQ(ra.port & 1, 0);
	const struct stun_attr *t = stun_find(&resp, STUN_A_RESERVATION_TOKEN);
	CHECK(t != NULL && t->len == 8);
	if (t != NULL)
		memcpy(token, t->val, 8);

	/* the token claims exactly the next port, once */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_RESERVATION_TOKEN, token, 8);
	CHECK_EQ(exchange(&e, &b, &r, req_auth(&r, &b), T0 + 1000, 1), 0);
	rb = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	CHECK_EQ(rb.port, ra.port + 1);
	CHECK(stun_find(&resp, STUN_A_RESERVATION_TOKEN) == NULL);
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_RESERVATION_TOKEN, token, 8);
	CHECK_EQ(exchange(&e, &c, &r, req_auth(&r, &c), T0 + 1000, 1), 508);

	/* no R bit: an even port, nothing held */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_EVEN_PORT, "\x00", 1);
	CHECK_EQ(exchange(&e, &c, &r, req_auth(&r, &c), T0, 1), 0);
	rc = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	CHECK_EQ(rc.port & 1, 0);
	CHECK(stun_find(&resp, STUN_A_RESERVATION_TOKEN) == NULL);

	/* an unclaimed reservation is released after 30 s */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_EVEN_PORT, "\x80", 1);
	CHECK_EQ(exchange(&e, &d, &r, req_auth(&r, &d), T0, 1), 0);
	t = stun_find(&resp, STUN_A_RESERVATION_TOKEN);
	CHECK(t != NULL);
	if (t != NULL)
		memcpy(token, t->val, 8);
	struct sotto_addr rd = xaddr_of(STUN_A_XOR_RELAYED_ADDRESS);
	unsigned closed = n_closed;
	turn_server_tick(e.ts, T0 + 29000);
	CHECK_EQ(n_closed, closed);
	turn_server_tick(e.ts, T0 + 31000);
	CHECK_EQ(n_closed, closed + 1);
	CHECK_EQ(last_closed, rd.port + 1);

	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

static void
test_ipv6(void)
{
	struct env e;
	struct client c, c4;
	struct sotto_addr relay;

	env_config(&e, 1, 0);
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "[::1]:40000", expiry_s(T0, 86400), "alice", SECRET);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0, 0x02, 0, &relay), 0);
	CHECK_EQ(relay.family, AF_INET6);
	struct sotto_addr lo6 = A("[::1]:0");
	CHECK(sotto_addr_ip_eq(&relay, &lo6));

	/* loopback, private and metadata addresses in any spelling */
	const char *mapped[] = { "[::ffff:127.0.0.2]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, mapped, 1), 403);
	const char *compat[] = { "[::127.0.0.2]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, compat, 1), 403);
	const char *meta6[] = { "[::ffff:169.254.169.254]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, meta6, 1), 403);
	const char *ula[] = { "[fd00::1]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, ula, 1), 403);
	/* the gateway's own IPs pass per IP (the policy's rule 4), but with
	 * a port outside the relay range they do not */
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "[::ffff:127.0.0.1]:80"), 403);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "[::1]:80"), 403);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "[::ffff:127.0.0.1]:3478"),
		 403);
	/* ... and an embedded v4 own IP is not reached from a v6 relay */
	const char *own4[] = { "[::ffff:127.0.0.1]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, own4, 1), 443);
	const char *v4[] = { "198.51.100.1:80" };
	CHECK_EQ(create_perm(&e, &c, T0, v4, 1), 443);
	/* a v4 embedding of a public address is not sent from a v6 relay */
	const char *nat64[] = { "[64:ff9b::c633:6401]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, nat64, 1), 443);
	CHECK_EQ(peers_of(&e, &c)->n_perms, 0);
	const char *ok[] = { "[2001:db8::1]:80" };
	CHECK_EQ(create_perm(&e, &c, T0, ok, 1), 0);
	CHECK_EQ(peers_of(&e, &c)->n_perms, 1);

	/* v4 allocation from the same server; relay-to-relay on own IP */
	client_init(&c4, "127.0.0.1:40000", expiry_s(T0, 86400), "bob",
		    SECRET);
	login(&e, &c4, T0);
	CHECK_EQ(allocate(&e, &c4, T0, 0, 0, &relay), 0);
	CHECK_EQ(relay.family, AF_INET);
	const char *own[] = { "127.0.0.1:9" };
	CHECK_EQ(create_perm(&e, &c4, T0, own, 1), 0);
	/* with a port: inside the relay range yes, elsewhere no */
	CHECK_EQ(chan_bind(&e, &c4, T0, 0x4000, "127.0.0.1:50000"), 0);
	CHECK_EQ(chan_bind(&e, &c4, T0, 0x4001, "127.0.0.1:22"), 403);
	CHECK_EQ(chan_bind(&e, &c4, T0, 0x4001, "127.0.0.1:3478"), 403);
	const char *priv[] = { "10.0.0.1:80" };
	CHECK_EQ(create_perm(&e, &c4, T0, priv, 1), 403);
	const char *meta[] = { "169.254.169.254:80" };
	CHECK_EQ(create_perm(&e, &c4, T0, meta, 1), 403);
	const char *zero[] = { "0.0.0.0:80" };
	CHECK_EQ(create_perm(&e, &c4, T0, zero, 1), 403);
	CHECK_EQ(stat_of(&e, TURN_STAT_PEER_DENIED), 12);

	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

static void
test_quota(void)
{
	struct env e;
	struct client a[3], b, c;

	env_config(&e, 0, 1);
	e.cfg.turn.max_allocations_per_user = 2;
	e.cfg.turn.max_allocations = 3;
	CHECK_EQ(env_start(&e), 0);
	for (int i = 0; i < 3; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 41000 + i);
		/* the same user, on tokens with different expiries */
		client_init(&a[i], addr, expiry_s(T0, 86400 + i), "alice",
			    SECRET);
		login(&e, &a[i], T0);
	}
	CHECK_EQ(allocate(&e, &a[0], T0, 0, 0, NULL), 0);
	CHECK_EQ(allocate(&e, &a[1], T0, 0, 0, NULL), 0);
	CHECK_EQ(allocate(&e, &a[2], T0, 0, 0, NULL), 486);
	client_init(&b, "127.0.0.1:42000", expiry_s(T0, 86400), "bob", SECRET);
	client_init(&c, "127.0.0.1:42001", expiry_s(T0, 86400), "carol",
		    SECRET);
	login(&e, &b, T0);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &b, T0, 0, 0, NULL), 0);
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 508);
	CHECK_EQ(stat_of(&e, TURN_STAT_QUOTA), 2);
	CHECK_EQ(turn_server_allocations(e.ts), 3);

	/* freeing one makes room for alice again */
	CHECK_EQ(refresh(&e, &a[0], T0, 1, 0), 0);
	CHECK_EQ(allocate(&e, &a[2], T0, 0, 0, NULL), 0);
	CHECK_EQ(refresh(&e, &b, T0, 1, 0), 0);
	/* no relayed port left */
	open_fail = 1;
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 508);
	open_fail = 0;
	CHECK_EQ(turn_server_allocations(e.ts), 2);
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 0);

	/* shutdown releases everything */
	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

static void
test_permissions(void)
{
	struct env e;
	struct client c;
	struct dp_peerset *ps;

	env_config(&e, 0, 1);
	e.cfg.turn.max_permissions = 4;
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 86400), "alice",
		    SECRET);
	c.fp = 1;
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 0);

	/* several peers in one request; permissions are per IP */
	const char *three[] = { "198.51.100.1:1", "198.51.100.2:2",
				"127.0.0.5:9", "198.51.100.1:7" };
	CHECK_EQ(create_perm(&e, &c, T0, three, 4), 0);
	ps = peers_of(&e, &c);
	CHECK(ps != NULL);
	CHECK_EQ(ps->n_perms, 3);
	CHECK_EQ(ps->n_chans, 0);
	struct sotto_addr want = A("198.51.100.1:0");
	CHECK(sotto_addr_eq(&ps->perms[0], &want));
	want = A("127.0.0.5:0");
	CHECK(sotto_addr_eq(&ps->perms[2], &want));

	/* one denied peer: 403, none installed, peer set untouched */
	const char *denied[] = { "198.51.100.3:1", "10.0.0.1:1" };
	CHECK_EQ(create_perm(&e, &c, T0, denied, 2), 403);
	CHECK(peers_of(&e, &c) == ps);
	const char *wrongfam[] = { "198.51.100.3:1", "[2001:db8::1]:1" };
	CHECK_EQ(create_perm(&e, &c, T0, wrongfam, 2), 443);
	CHECK(peers_of(&e, &c) == ps);
	CHECK_EQ(create_perm(&e, &c, T0, NULL, 0), 400);
	/* the limit: a 4th fits, a 5th does not */
	const char *two_more[] = { "198.51.100.4:1", "198.51.100.5:1" };
	CHECK_EQ(create_perm(&e, &c, T0, two_more, 2), 508);
	CHECK(peers_of(&e, &c) == ps);
	CHECK_EQ(create_perm(&e, &c, T0, two_more, 1), 0);
	CHECK_EQ(peers_of(&e, &c)->n_perms, 4);
	CHECK_EQ(create_perm(&e, &c, T0, two_more + 1, 1), 508);
	/* refreshing existing ones is always fine */
	CHECK_EQ(create_perm(&e, &c, T0 + 1000, three, 4), 0);
	CHECK_EQ(peers_of(&e, &c)->n_perms, 4);

	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

static void
test_channels(void)
{
	struct env e;
	struct client c;
	struct dp_peerset *ps;

	env_config(&e, 0, 1);
	e.cfg.turn.max_permissions = 3;
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 86400), "alice",
		    SECRET);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 0);

	CHECK_EQ(chan_bind(&e, &c, T0, 0x3FFF, "198.51.100.1:5000"), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x5000, "198.51.100.1:5000"), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x7FFF, "198.51.100.1:5000"), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0, "198.51.100.1:5000"), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, NULL), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "[2001:db8::1]:5000"), 443);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "10.1.2.3:5000"), 403);
	/* the listener itself, even with loopback allowed */
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "127.0.0.1:3478"), 403);
	CHECK_EQ(peers_of(&e, &c)->n_chans, 0);

	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "198.51.100.1:5000"), 0);
	ps = peers_of(&e, &c);
	CHECK_EQ(ps->n_chans, 1);
	CHECK_EQ(ps->n_perms, 1);
	struct sotto_addr peer = A("198.51.100.1:5000");
	struct sotto_addr ip = A("198.51.100.1:0");
	CHECK_EQ(ps->chans[0].num, 0x4000);
	CHECK(sotto_addr_eq(&ps->chans[0].peer, &peer));
	CHECK(sotto_addr_eq(&ps->perms[0], &ip));

	/* one to one: neither the channel nor the peer may move */
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4000, "198.51.100.1:5001"), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4001, "198.51.100.1:5000"), 400);
	CHECK(peers_of(&e, &c) == ps);
	/* refresh of the same pair */
	CHECK_EQ(chan_bind(&e, &c, T0 + 1000, 0x4000, "198.51.100.1:5000"),
		 0);
	/* another port of the same IP: new channel, same permission */
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4001, "198.51.100.1:5001"), 0);
	ps = peers_of(&e, &c);
	CHECK_EQ(ps->n_chans, 2);
	CHECK_EQ(ps->n_perms, 1);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4FFF, "198.51.100.2:1"), 0);
	/* channel limit (permissions_per_allocation) */
	CHECK_EQ(chan_bind(&e, &c, T0, 0x4002, "198.51.100.3:1"), 508);
	CHECK_EQ(peers_of(&e, &c)->n_chans, 3);

	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

/* turn.channel_range: rfc5766 admits the older, wider range */
static void
test_legacy_channels(void)
{
	struct env e;
	struct client c;

	env_config(&e, 0, 1);
	e.cfg.turn.legacy_channels = true;
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 86400), "alice",
		    SECRET);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 0);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x5c44, "198.51.100.1:5000"), 0);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x7FFF, "198.51.100.1:5001"), 0);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x8000, "198.51.100.1:5002"), 400);
	CHECK_EQ(chan_bind(&e, &c, T0, 0x3FFF, "198.51.100.1:5003"), 400);
	env_stop(&e);
}

static void
test_send_and_tick(void)
{
	struct env e;
	struct client c, stranger;
	struct sotto_addr relay;
	struct dp_peerset *ps;

	env_config(&e, 0, 1);
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 86400), "alice",
		    SECRET);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0, 0, 3600, &relay), 0);
	CHECK_EQ(u32_of(STUN_A_LIFETIME), 3600);
	uint32_t sock = dpa_of(&e, &c)->relay_sock;

	/* no permission yet: dropped */
	CHECK_EQ(send_ind(&e, &c, T0, "198.51.100.9:7000", "hello"), 0);
	const char *p[] = { "198.51.100.9:1" };
	CHECK_EQ(create_perm(&e, &c, T0, p, 1), 0);
	CHECK_EQ(send_ind(&e, &c, T0, "198.51.100.9:7000", "hello"), 1);
	struct sotto_addr peer = A("198.51.100.9:7000");
	CHECK(sotto_addr_eq(&tx.src, &relay));
	CHECK(sotto_addr_eq(&tx.dst, &peer));
	CHECK_EQ(tx.sock, sock);
	CHECK_EQ(tx.len, 5);
	CHECK(tx.data != NULL && memcmp(tx.data, "hello", 5) == 0);
	/* missing parts, other 5-tuple, denied peer: dropped */
	CHECK_EQ(send_ind(&e, &c, T0, "198.51.100.9:7000", NULL), 0);
	CHECK_EQ(send_ind(&e, &c, T0, NULL, "hello"), 0);
	client_init(&stranger, "127.0.0.1:40001", 0, "x", SECRET);
	CHECK_EQ(send_ind(&e, &stranger, T0, "198.51.100.9:7000", "hi"), 0);
	CHECK_EQ(send_ind(&e, &c, T0, "10.0.0.1:7000", "hi"), 0);
	CHECK_EQ(stat_of(&e, TURN_STAT_SEND_INDICATION), 6);

	/* a channel at T0 + 10 s: permission for .2 and the channel */
	CHECK_EQ(chan_bind(&e, &c, T0 + 10000, 0x4000, "198.51.100.2:1"), 0);
	turn_server_tick(e.ts, T0 + 299000);
	ps = peers_of(&e, &c);
	CHECK_EQ(ps->n_perms, 2);
	CHECK_EQ(ps->n_chans, 1);
	/* RFC 8656 §9: permissions last 300 s */
	turn_server_tick(e.ts, T0 + 300000);
	ps = peers_of(&e, &c);
	CHECK_EQ(ps->n_perms, 1);
	CHECK_EQ(stat_of(&e, TURN_STAT_PERMISSIONS_EXPIRED), 1);
	CHECK_EQ(send_ind(&e, &c, T0 + 300000, "198.51.100.9:7000", "x"), 0);
	turn_server_tick(e.ts, T0 + 310000);
	ps = peers_of(&e, &c);
	CHECK_EQ(ps->n_perms, 0);
	CHECK_EQ(ps->n_chans, 1);
	/* channels last 600 s */
	turn_server_tick(e.ts, T0 + 609999);
	CHECK_EQ(peers_of(&e, &c)->n_chans, 1);
	turn_server_tick(e.ts, T0 + 610000);
	CHECK_EQ(peers_of(&e, &c)->n_chans, 0);
	CHECK_EQ(stat_of(&e, TURN_STAT_CHANNELS_EXPIRED), 1);
	/* the channel number is free again (with a fresh nonce) */
	login(&e, &c, T0 + 611000);
	CHECK_EQ(chan_bind(&e, &c, T0 + 611000, 0x4000, "198.51.100.3:1"), 0);

	/* the allocation itself */
	unsigned closed = n_closed;
	turn_server_tick(e.ts, T0 + 3599000);
	CHECK_EQ(turn_server_allocations(e.ts), 1);
	turn_server_tick(e.ts, T0 + 3600000);
	CHECK_EQ(turn_server_allocations(e.ts), 0);
	CHECK_EQ(stat_of(&e, TURN_STAT_ALLOCATIONS_EXPIRED), 1);
	CHECK(dpa_of(&e, &c) == NULL);
	dp_tables_reclaim(&e.dp.tables);
	CHECK_EQ(n_closed, closed + 1);
	CHECK_EQ(last_closed, sock);

	/* an expired allocation is gone even before the tick sees it */
	CHECK_EQ(allocate(&e, &c, T0 + 3600000, 0, 0, NULL), 438);
	CHECK_EQ(allocate(&e, &c, T0 + 3600000, 0, 0, NULL), 0);
	login(&e, &c, T0 + 4200000);
	CHECK_EQ(refresh(&e, &c, T0 + 4200000, 1, 600), 437);
	CHECK_EQ(stat_of(&e, TURN_STAT_ALLOCATIONS_EXPIRED), 2);

	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

/* REST expiry is enforced on every request, not only Allocate. */
static void
test_expired_username(void)
{
	struct env e;
	struct client c;

	env_config(&e, 0, 1);
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 100), "alice", SECRET);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0, 0, 0, NULL), 0);
	const char *p[] = { "198.51.100.1:1" };
	CHECK_EQ(create_perm(&e, &c, T0 + 1000, p, 1), 0);
	/* 200 s later the nonce is fine, the username is not */
	uint64_t later = T0 + 200000;
	uint64_t failed = stat_of(&e, TURN_STAT_AUTH_FAILED);
	CHECK_EQ(refresh(&e, &c, later, 1, 600), 401);
	CHECK_EQ(create_perm(&e, &c, later, p, 1), 401);
	CHECK_EQ(chan_bind(&e, &c, later, 0x4000, "198.51.100.1:1"), 401);
	CHECK_EQ(stat_of(&e, TURN_STAT_AUTH_FAILED), failed + 3);
	CHECK_EQ(peers_of(&e, &c)->n_chans, 0);
	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

static void
test_rate_limit(void)
{
	struct env e;
	struct client c, d;
	struct req r;
	int answered = 0;

	env_config(&e, 0, 1);
	e.cfg.turn.requests_per_source = 2;
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", 0, "x", SECRET);
	client_init(&d, "127.0.0.2:40000", 0, "x", SECRET);
	for (int i = 0; i < 10; i++) {
		req_begin(&r, STUN_BINDING, STUN_REQUEST);
		if (exchange(&e, &c, &r, req_plain(&r, &c), T0, 0) == 0)
			answered++;
	}
	CHECK(answered >= 2 && answered <= 4);
	CHECK_EQ(stat_of(&e, TURN_STAT_RATE_LIMITED), 10 - answered);
	/* another source is not affected, and time refills */
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &d, &r, req_plain(&r, &d), T0, 0), 0);
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), T0 + 2000, 0), 0);
	/* every request counts, answered or not */
	CHECK_EQ(stat_of(&e, TURN_STAT_REQUESTS), 12);
	env_stop(&e);
}


/* ---- issue 21: limits that hold against a client that knows the code ---- */

/* Send indications count against turn.limits.requests_per_source like
 * requests: 10 times the limit at once, and only the burst is relayed. */
static void
test_send_rate_limit(void)
{
	struct env e;
	struct client c, d;
	struct req r;
	int relayed = 0;
	const uint64_t t1 = T0 + 60000; /* the bucket full again */

	env_config(&e, 0, 1);
	e.cfg.turn.requests_per_source = 2; /* burst 4 */
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 86400), "alice",
		    SECRET);
	client_init(&d, "127.0.0.2:40000", expiry_s(T0, 86400), "bob",
		    SECRET);
	login(&e, &c, T0);
	CHECK_EQ(allocate(&e, &c, T0 + 1000, 0, 0, NULL), 0);
	const char *p[] = { "198.51.100.9:1" };
	CHECK_EQ(create_perm(&e, &c, T0 + 2000, p, 1), 0);

	uint64_t limited = stat_of(&e, TURN_STAT_RATE_LIMITED);
	for (int i = 0; i < 20; i++)
		relayed += send_ind(&e, &c, t1, "198.51.100.9:7000", "x") == 1;
	CHECK(relayed >= 2 && relayed <= 4);
	CHECK_EQ(stat_of(&e, TURN_STAT_RATE_LIMITED), limited + 20 - relayed);
	CHECK_EQ(stat_of(&e, TURN_STAT_SEND_INDICATION), relayed);
	/* one bucket for both: the source's requests wait as well */
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &c, &r, req_plain(&r, &c), t1, 0), -1);
	/* other sources are not touched, and time refills */
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &d, &r, req_plain(&r, &d), t1, 0), 0);
	CHECK_EQ(send_ind(&e, &c, t1 + 2000, "198.51.100.9:7000", "x"), 1);
	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

/* Allocate with EVEN-PORT (R bit set or not); the token into token. */
static int
allocate_even(struct env *e, struct client *c, uint64_t now, bool r_bit,
	      uint8_t token[8])
{
	struct req r;
	int rc;

	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_EVEN_PORT, r_bit ? "\x80" : "\x00", 1);
	rc = exchange(e, c, &r, req_auth(&r, c), now, 1);
	if (rc == 0 && token != NULL) {
		const struct stun_attr *t =
			stun_find(&resp, STUN_A_RESERVATION_TOKEN);
		CHECK(t != NULL && t->len == 8);
		if (t != NULL && t->len == 8)
			memcpy(token, t->val, 8);
	}
	return rc;
}

static int
allocate_token(struct env *e, struct client *c, uint64_t now,
	       const uint8_t token[8])
{
	struct req r;

	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	stun_add(&r.b, STUN_A_RESERVATION_TOKEN, token, 8);
	return exchange(e, c, &r, req_auth(&r, c), now, 1);
}

/* turn_server_foreach: the id of the allocation of client *arg */
static uint64_t found_id;

static void
find_id(const struct turn_alloc_info *ai, void *arg)
{
	if (sotto_addr_eq(&ai->client, arg))
		found_id = ai->id;
}

/* Relayed ports held right now (reservations close at once, allocations
 * after the grace period). */
static int
ports_held(struct env *e)
{
	dp_tables_reclaim(&e->dp.tables);
	return (int)(n_opened - n_closed);
}

/*
 * EVEN-PORT reservations are charged and bounded: the measured attack was
 * 8 sources cycling Allocate(EVEN-PORT, R) + Refresh(0), each cycle leaving
 * the odd port held for 30 s by nobody.
 */
static void
test_reservation_limits(void)
{
	struct env e;
	struct client cl[40], x, y;
	uint8_t token[8];
	char addr[32], user[16];
	int ok;

	/* 1. the cycle leaves nothing behind: 8 sources, 10 times the
	 * reservation limit in cycles */
	env_config(&e, 0, 1);
	e.cfg.turn.max_reservations = 4;
	e.cfg.turn.max_allocations_per_user = 2;
	CHECK_EQ(env_start(&e), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.%d:41000", 10 + i);
		snprintf(user, sizeof(user), "u%d", i);
		client_init(&cl[i], addr, expiry_s(T0, 86400), user, SECRET);
		login(&e, &cl[i], T0);
	}
	ok = 0;
	for (int k = 0; k < 40; k++) {
		struct client *c = &cl[k % 8];
		ok += allocate_even(&e, c, T0 + 100 * k, true, NULL) == 0;
		CHECK_EQ(refresh(&e, c, T0 + 100 * k, 1, 0), 0);
		CHECK_EQ(turn_server_reservations(e.ts), 0);
	}
	CHECK_EQ(ok, 40);
	CHECK_EQ(ports_held(&e), 0);
	env_stop(&e);

	/* 2. charged to the user and to the server total */
	env_config(&e, 0, 1);
	e.cfg.turn.max_allocations_per_user = 2;
	e.cfg.turn.max_allocations = 3;
	CHECK_EQ(env_start(&e), 0);
	client_init(&x, "127.0.0.1:42000", expiry_s(T0, 86400), "alice",
		    SECRET);
	client_init(&y, "127.0.0.1:42001", expiry_s(T0, 86400), "alice",
		    SECRET);
	login(&e, &x, T0);
	login(&e, &y, T0);
	for (int i = 0; i < 3; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 43000 + i);
		snprintf(user, sizeof(user), "v%d", i);
		client_init(&cl[i], addr, expiry_s(T0, 86400), user, SECRET);
		login(&e, &cl[i], T0);
	}
	CHECK_EQ(allocate_even(&e, &x, T0, true, token), 0);
	/* alice holds two (the allocation and the odd port) */
	uint64_t quota = stat_of(&e, TURN_STAT_QUOTA);
	CHECK_EQ(allocate(&e, &y, T0, 0, 0, NULL), 486);
	CHECK_EQ(allocate_even(&e, &y, T0, true, NULL), 486);
	/* the server holds two of three: one more, then no more; and an R
	 * bit needs two */
	CHECK_EQ(allocate_even(&e, &cl[0], T0, true, NULL), 508);
	CHECK_EQ(allocate(&e, &cl[0], T0, 0, 0, NULL), 0);
	CHECK_EQ(allocate(&e, &cl[1], T0, 0, 0, NULL), 508);
	CHECK_EQ(stat_of(&e, TURN_STAT_QUOTA), quota + 4);
	/* claiming moves the charge: the claimer pays, alice is freed of
	 * it, the server total stays */
	CHECK_EQ(allocate_token(&e, &cl[2], T0, token), 0);
	CHECK_EQ(turn_server_reservations(e.ts), 0);
	CHECK_EQ(turn_server_allocations(e.ts), 3);
	CHECK_EQ(refresh(&e, &cl[0], T0, 1, 0), 0);
	CHECK_EQ(allocate(&e, &y, T0, 0, 0, NULL), 0);
	/* the claimed port stays with its claimer when alice leaves */
	dp_tables_reclaim(&e.dp.tables);
	unsigned closed = n_closed;
	struct dp_alloc *claimer = dpa_of(&e, &cl[2]);
	CHECK(claimer != NULL);
	uint32_t claimed = claimer != NULL ? claimer->relay_sock : UINT32_MAX;
	CHECK_EQ(refresh(&e, &x, T0, 1, 0), 0);
	dp_tables_reclaim(&e.dp.tables);
	CHECK_EQ(n_closed, closed + 1);
	CHECK(last_closed != claimed);
	CHECK(dpa_of(&e, &cl[2]) != NULL);
	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);

	/* 3. a bound on reservations held at once: 10 times the limit */
	env_config(&e, 0, 1);
	e.cfg.turn.max_reservations = 4;
	CHECK_EQ(env_start(&e), 0);
	ok = 0;
	quota = stat_of(&e, TURN_STAT_QUOTA);
	for (int i = 0; i < 40; i++) {
		snprintf(addr, sizeof(addr), "127.0.1.%d:44000", i);
		snprintf(user, sizeof(user), "w%d", i);
		client_init(&cl[i], addr, expiry_s(T0, 86400), user, SECRET);
		login(&e, &cl[i], T0);
		int rc = allocate_even(&e, &cl[i], T0, true, NULL);
		CHECK(rc == 0 || rc == 508);
		ok += rc == 0;
	}
	CHECK_EQ(ok, 4);
	CHECK_EQ(turn_server_reservations(e.ts), 4);
	CHECK_EQ(stat_of(&e, TURN_STAT_QUOTA), quota + 36);
	/* without the R bit nothing is held, so nothing is refused */
	CHECK_EQ(allocate_even(&e, &cl[4], T0, false, NULL), 0);
	CHECK_EQ(turn_server_reservations(e.ts), 4);
	/* every way an allocation ends releases its odd port: Refresh 0,
	 * kill, expiry (reaped by the tick) */
	CHECK_EQ(refresh(&e, &cl[0], T0, 1, 0), 0);
	CHECK_EQ(turn_server_reservations(e.ts), 3);
	found_id = 0;
	turn_server_foreach(e.ts, find_id, &cl[3].addr);
	CHECK_EQ(turn_server_kill(e.ts, found_id), 0);
	CHECK_EQ(turn_server_reservations(e.ts), 2);
	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);

	/* allocations shorter than the 30 s a reservation waits (not
	 * possible from the config, where lifetimes start at 60 s) */
	env_config(&e, 0, 1);
	e.cfg.turn.default_lifetime = 10;
	e.cfg.turn.max_lifetime = 10;
	CHECK_EQ(env_start(&e), 0);
	login(&e, &cl[0], T0);
	CHECK_EQ(allocate_even(&e, &cl[0], T0, true, NULL), 0);
	CHECK_EQ(turn_server_reservations(e.ts), 1);
	turn_server_tick(e.ts, T0 + 11000);
	CHECK_EQ(turn_server_allocations(e.ts), 0);
	CHECK_EQ(turn_server_reservations(e.ts), 0);
	CHECK_EQ(ports_held(&e), 0);
	env_stop(&e);
	CHECK_EQ(n_opened, n_closed);
}

/*
 * No error response to an unauthenticated request is larger than the
 * request (a spoofed source would make us an amplifier): it fits, without
 * its reason phrase if need be, or it is not sent and counted. The 401
 * challenge is the one exception (RFC 8489 needs REALM and NONCE).
 */
static void
test_amplification(void)
{
	struct env e;
	struct client c, nomi;
	struct req r;
	size_t n;
	int rc;

	env_config(&e, 0, 1);
	/* a SOFTWARE the server could add: it must not, to any error */
	strcpy(e.cfg.turn.software, "sotto-software-attribute-32-byte");
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 3600), "alice", SECRET);

	/* the smallest requests that used to get an answer larger than
	 * themselves: a 24-byte Binding with a zero-length unknown
	 * comprehension-required attribute (56-byte 420), a 20-byte
	 * request of an unknown method (40-byte 400) */
	uint64_t unsent = stat_of(&e, TURN_STAT_UNSENT);
	uint64_t errs = stat_of(&e, TURN_STAT_ERRORS);
	req_begin(&r, STUN_BINDING, STUN_REQUEST);
	stun_add(&r.b, 0x0031, NULL, 0);
	n = req_plain(&r, &c);
	CHECK_EQ(n, 24);
	CHECK_EQ(exchange(&e, &c, &r, n, T0, 0), -1);
	req_begin(&r, 0x00A, STUN_REQUEST);
	n = req_plain(&r, &c);
	CHECK_EQ(n, 20);
	CHECK_EQ(exchange(&e, &c, &r, n, T0, 0), -1);
	CHECK_EQ(stat_of(&e, TURN_STAT_UNSENT), unsent + 2);
	CHECK_EQ(stat_of(&e, TURN_STAT_ERRORS), errs);

	/* every size from 20 bytes up, each kind of unauthenticated error:
	 * answered no larger than asked (exchange checks it), or not at
	 * all; and once the request is large enough, answered */
	for (unsigned pad = 0; pad <= 40; pad += 4) {
		static const char z[40];
		int answered = 0;

		/* 420 to a Binding, several unknown attributes */
		req_begin(&r, STUN_BINDING, STUN_REQUEST);
		stun_add(&r.b, 0x0031, NULL, 0);
		stun_add(&r.b, 0x0032, NULL, 0);
		if (pad)
			stun_add(&r.b, STUN_A_SOFTWARE, z, (uint16_t)(pad - 4));
		n = req_plain(&r, &c);
		rc = exchange(&e, &c, &r, n, T0, 0);
		CHECK(rc == -1 || rc == 420);
		if (rc == 420)
			CHECK(stun_find(&resp, STUN_A_SOFTWARE) == NULL);
		answered += rc == 420;
		/* 400: a method we do not serve */
		req_begin(&r, 0x00A, STUN_REQUEST);
		if (pad)
			stun_add(&r.b, STUN_A_SOFTWARE, z, (uint16_t)(pad - 4));
		n = req_plain(&r, &c);
		rc = exchange(&e, &c, &r, n, T0, 0);
		CHECK(rc == -1 || rc == 400);
		if (rc == 400)
			CHECK(stun_find(&resp, STUN_A_SOFTWARE) == NULL);
		answered += rc == 400;
		if (pad >= 20)
			CHECK_EQ(answered, 2);
	}

	/* 400 for MESSAGE-INTEGRITY without USERNAME/REALM/NONCE: no key,
	 * so no integrity on the answer: capped as well */
	client_init(&nomi, "127.0.0.1:40001", expiry_s(T0, 3600), "alice",
		    SECRET);
	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	stun_add_integrity(&r.b, nomi.key, sizeof(nomi.key));
	n = req_plain(&r, &nomi);
	rc = exchange(&e, &nomi, &r, n, T0, 0);
	CHECK(rc == -1 || rc == 400);

	/* the 401 challenge is the exception: REALM and NONCE, no SOFTWARE */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	n = req_plain(&r, &c);
	CHECK_EQ(exchange(&e, &c, &r, n, T0, 0), 401);
	CHECK(stun_find(&resp, STUN_A_SOFTWARE) == NULL);
	CHECK(tx.len > n);

	/* authenticated: integrity on the answer, no cap (the client paid
	 * for it with a valid MESSAGE-INTEGRITY) */
	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	CHECK_EQ(exchange(&e, &c, &r, req_auth(&r, &c), T0, 1), 437);
	CHECK(resp.integrity >= 0);
	env_stop(&e);
}

/*
 * The long-term key (MD5 of user:realm:password) is wiped from every place
 * the server put it once a request is answered. Frames a call has left
 * lie below ours: scrub them, handle one request, then look at them again
 * through a probe's (deliberately uninitialised) locals.
 */
#define PROBE_BYTES (1 << 16)

static __attribute__((noinline)) void
stack_scrub(void)
{
	volatile uint8_t z[PROBE_BYTES];

	for (size_t i = 0; i < sizeof(z); i++)
		z[i] = 0;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static __attribute__((noinline)) int
stack_holds(const uint8_t *pat, size_t n)
{
	volatile uint8_t s[PROBE_BYTES];

	for (size_t i = 0; i + n <= sizeof(s); i++) {
		size_t k = 0;
		while (k < n && s[i + k] == pat[k])
			k++;
		if (k == n)
			return 1;
	}
	return 0;
}
#pragma GCC diagnostic pop

/* One request straight into turn_server_handle with the stack scrubbed
 * first; then is key anywhere in what the server left? */
static __attribute__((noinline)) int
key_left_behind(struct env *e, struct client *c, struct req *r, size_t len,
		uint64_t now, const uint8_t key[16], int *rc)
{
	stack_scrub();
	*rc = turn_server_handle(e->ts, r->buf, len, &c->addr, &e->listen, 7,
				 &CLOCK_AT(now), rbuf, sizeof(rbuf), &tx);
	return stack_holds(key, 16);
}

/* The probe's own check: a key a callee left on purpose is found. */
static __attribute__((noinline)) void
leave_on_stack(const uint8_t key[16])
{
	volatile uint8_t copy[512];

	for (size_t i = 0; i < sizeof(copy); i++)
		copy[i] = i < 300 || i >= 316 ? 0 : key[i - 300];
}

static __attribute__((noinline)) int
probe_sees(const uint8_t key[16])
{
	stack_scrub();
	leave_on_stack(key);
	return stack_holds(key, 16);
}

static void
test_key_wipe(void)
{
	struct env e;
	struct client c, bad;
	struct req r;
	size_t n;
	int rc;

	env_config(&e, 0, 1);
	CHECK_EQ(env_start(&e), 0);
	client_init(&c, "127.0.0.1:40000", expiry_s(T0, 3600), "alice", SECRET);
	login(&e, &c, T0);
	if (!probe_sees(c.key)) {
		/* e.g. ASan's fake stacks: frames do not overlap */
		fprintf(stderr, "test_key_wipe: the stack probe sees nothing "
			"here, not run\n");
		env_stop(&e);
		return;
	}

	/* a good request: the server derives c.key and answers with it */
	req_begin(&r, TURN_ALLOCATE, STUN_REQUEST);
	add_transport(&r, 17);
	n = req_auth(&r, &c);
	CHECK(!key_left_behind(&e, &c, &r, n, T0, c.key, &rc));
	CHECK_EQ(rc, 1);
	/* an authenticated error (437: no allocation to refresh) */
	client_init(&c, "127.0.0.1:40001", expiry_s(T0, 3600), "alice", SECRET);
	login(&e, &c, T0);
	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	n = req_auth(&r, &c);
	CHECK(!key_left_behind(&e, &c, &r, n, T0, c.key, &rc));
	CHECK_EQ(rc, 1);
	/* a wrong password for alice's username: the server still derives
	 * alice's real key to compare, and must not leave it either */
	client_init(&bad, "127.0.0.1:40002", expiry_s(T0, 3600), "alice",
		    "not-the-secret");
	memcpy(bad.username, c.username, sizeof(bad.username));
	strcpy(bad.nonce, c.nonce);
	req_begin(&r, TURN_REFRESH, STUN_REQUEST);
	n = req_auth(&r, &bad);
	CHECK(!key_left_behind(&e, &bad, &r, n, T0, c.key, &rc));
	CHECK_EQ(rc, 1); /* the 401 */
	env_stop(&e);
}

static void
test_names(void)
{
	for (int i = 0; i < TURN_N_STATS; i++)
		CHECK(turn_stat_names[i] != NULL && turn_stat_names[i][0]);
	CHECK(strcmp(turn_stat_names[TURN_STAT_ERRORS], "error_responses") == 0);
}

int
main(void)
{
	if (test_eal_init() < 0)
		return 77;
	log_threshold = LOG_LVL_WARN;
	test_names();
	test_binding_and_drops();
	test_auth();
	test_allocate();
	test_even_port();
	test_ipv6();
	test_quota();
	test_permissions();
	test_channels();
	test_legacy_channels();
	test_send_and_tick();
	test_expired_username();
	test_rate_limit();
	test_send_rate_limit();
	test_reservation_limits();
	test_amplification();
	test_key_wipe();
	return check_done("turn_server");
}
