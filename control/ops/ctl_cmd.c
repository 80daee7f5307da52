/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: newline-delimited JSON requests from sottoctl, one
 * response line each (docs/operations.md, "The control socket"). The
 * socket is 0600, so whoever connects is the daemon's user or root.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "ctl_ops.h"
#include "ctl_priv.h"
#include "gw.h"
#include "log.h"

#define CTL_MAX_LINE 65536
#define CTL_MAX_PEERS 1024

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static json_t *
fail(const char *code, const char *reason)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "reason",
			 reason);
}

static json_t *
ok(json_t *result)
{
	return json_pack("{s:b, s:o}", "ok", 1, "result",
			 result ? result : json_object());
}

static json_t *
addr_json(const struct sotto_addr *a)
{
	char buf[SOTTO_ADDRSTRLEN];

	return json_string(sotto_addr_str(a, buf, sizeof(buf)));
}

static json_t *
alloc_json(const struct turn_alloc_info *ai, uint64_t now)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:I, s:I, s:i, s:i}", "id",
			 (json_int_t)ai->id, "user", ai->user, "client",
			 addr_json(&ai->client), "relayed", addr_json(&ai->relay),
			 "age_s", (json_int_t)((now - ai->created_ms) / 1000),
			 "expires_in_s",
			 (json_int_t)(ai->expires_ms > now ?
					      (ai->expires_ms - now) / 1000 : 0),
			 "permissions", (int)ai->permissions, "channels",
			 (int)ai->channels);
}

struct list_ctx {
	json_t *list;
	const char *user;
	uint64_t now;
};

static void
list_one(const struct turn_alloc_info *ai, void *arg)
{
	struct list_ctx *l = arg;

	if (l->user == NULL || strcmp(l->user, ai->user) == 0)
		json_array_append_new(l->list, alloc_json(ai, l->now));
}

static int
get_id(json_t *req, uint64_t *id)
{
	json_t *v = json_object_get(req, "id");

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*id = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		char *end;
		unsigned long long x = strtoull(json_string_value(v), &end, 10);

		if (*json_string_value(v) != '\0' && *end == '\0' && x > 0) {
			*id = x;
			return 0;
		}
	}
	return -EINVAL;
}

static json_t *
cmd_status(struct ctl_loop *c)
{
	uint64_t now = clock_mono_ms(), ctr[DP_N_COUNTERS], perms, chans;
	uint64_t rooms = 0, participants = 0, ws = 0;
	struct net_stats ns;
	json_t *st;

	dp_ctx_counters(c->dp, ctr);
	turn_server_peer_counts(c->ts, &perms, &chans);
	net_get_stats(c->net, &ns);
	if (c->hooks.counts != NULL)
		c->hooks.counts(c->hooks.sig, &rooms, &participants, &ws);
	st = json_pack(
		"{s:s, s:I, s:s, s:i, s:b, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I,"
		" s:{s:I, s:I}, s:{s:I, s:I}}",
		"version", SOTTO_VERSION, "uptime_s",
		(json_int_t)((now - c->started_ms) / 1000), "driver",
		c->dp->ops->name, "workers", (int)c->dp->n_workers, "draining",
		turn_server_draining(c->ts), "log_level",
		level_names[log_threshold], "allocations",
		(int)turn_server_allocations(c->ts), "permissions",
		(json_int_t)perms, "channels", (json_int_t)chans, "rooms",
		(json_int_t)rooms, "participants", (json_int_t)participants,
		"ws_connections", (json_int_t)ws, "http_connections",
		(json_int_t)(ns.current - ns.current_unix > ws ?
				     ns.current - ns.current_unix - ws : 0),
		"relayed_packets", "to_peer", (json_int_t)ctr[DP_RELAY_TO_PEER],
		"to_client", (json_int_t)ctr[DP_RELAY_TO_CLIENT],
		"relayed_bytes", "to_peer",
		(json_int_t)ctr[DP_RELAY_BYTES_TO_PEER], "to_client",
		(json_int_t)ctr[DP_RELAY_BYTES_TO_CLIENT]);
	if (st != NULL && c->hooks.gw != NULL) {
		uint64_t g_rooms, g_legs, g_up;

		gw_counts(c->hooks.gw, &g_rooms, &g_legs, &g_up);
		json_object_set_new(st, "gateway_rooms",
				    json_integer((json_int_t)g_rooms));
		json_object_set_new(st, "gateway_legs",
				    json_integer((json_int_t)g_legs));
		json_object_set_new(st, "gateway_legs_up",
				    json_integer((json_int_t)g_up));
	}
	return ok(st);
}

static json_t *
cmd_allocations(struct ctl_loop *c, json_t *req)
{
	json_t *u = json_object_get(req, "user");
	struct list_ctx l = { .list = json_array(), .now = clock_mono_ms() };

	if (u != NULL && !json_is_string(u)) {
		json_decref(l.list);
		return fail("bad_request", "user must be a string");
	}
	l.user = u ? json_string_value(u) : NULL;
	turn_server_foreach(c->ts, list_one, &l);
	return ok(json_pack("{s:o}", "allocations", l.list));
}

static json_t *
cmd_allocation_show(struct ctl_loop *c, json_t *req)
{
	static struct sotto_addr perms[CTL_MAX_PEERS], chan_peer[CTL_MAX_PEERS];
	static uint16_t chan_num[CTL_MAX_PEERS];
	struct turn_alloc_info ai;
	char why[64];
	json_t *j, *p, *ch;
	uint64_t id;

	if (get_id(req, &id) < 0)
		return fail("bad_request", "id must be an allocation number");
	if (turn_server_alloc_show(c->ts, id, &ai, perms, chan_num, chan_peer,
				   CTL_MAX_PEERS) < 0) {
		snprintf(why, sizeof(why), "no allocation %" PRIu64, id);
		return fail("not_found", why);
	}
	j = alloc_json(&ai, clock_mono_ms());
	p = json_array();
	ch = json_array();
	for (unsigned i = 0; i < ai.permissions && i < CTL_MAX_PEERS; i++) {
		char buf[SOTTO_ADDRSTRLEN], *colon;

		/* permissions are per IP (RFC 8656 §9): no port */
		sotto_addr_str(&perms[i], buf, sizeof(buf));
		colon = strrchr(buf, ':');
		if (colon != NULL)
			*colon = '\0';
		if (buf[0] == '[') {
			memmove(buf, buf + 1, strlen(buf));
			buf[strlen(buf) - 1] = '\0';
		}
		json_array_append_new(p, json_string(buf));
	}
	for (unsigned i = 0; i < ai.channels && i < CTL_MAX_PEERS; i++)
		json_array_append_new(ch, json_pack("{s:i, s:o}", "number",
						    (int)chan_num[i], "peer",
						    addr_json(&chan_peer[i])));
	json_object_set_new(j, "peers", p);
	json_object_set_new(j, "channel_list", ch);
	return ok(j);
}

static json_t *
cmd_allocation_kill(struct ctl_loop *c, json_t *req)
{
	char why[64];
	uint64_t id;

	if (get_id(req, &id) < 0)
		return fail("bad_request", "id must be an allocation number");
	if (turn_server_kill(c->ts, id) < 0) {
		snprintf(why, sizeof(why), "no allocation %" PRIu64, id);
		return fail("not_found", why);
	}
	log_info("control", "allocation %" PRIu64 " killed by the operator", id);
	return ok(json_pack("{s:I}", "killed", (json_int_t)id));
}

static json_t *
rooms_result(char *txt, const char *key)
{
	json_t *v;

	if (txt == NULL)
		return NULL;
	v = json_loads(txt, 0, NULL);
	free(txt);
	if (v == NULL)
		return NULL;
	if (key == NULL)
		return ok(v);
	return ok(json_pack("{s:o}", key, v));
}

static json_t *
cmd_rooms(struct ctl_loop *c)
{
	json_t *r;

	if (c->hooks.rooms_json == NULL)
		return ok(json_pack("{s:[]}", "rooms"));
	r = rooms_result(c->hooks.rooms_json(c->hooks.sig), "rooms");
	return r ? r : fail("failed", "out of memory");
}

static const char *
room_id(json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "id"));

	if (id == NULL || strlen(id) < 8 || strlen(id) > 32 ||
	    strspn(id, "0123456789abcdef") != strlen(id))
		return NULL;
	return id;
}

static json_t *
cmd_room_show(struct ctl_loop *c, json_t *req)
{
	const char *id = room_id(req);
	json_t *r;

	if (id == NULL)
		return fail("bad_request", "id must be 8 to 32 lowercase hex digits of a room id");
	if (c->hooks.room_json == NULL)
		return fail("not_found", "signaling is off (no http.listen)");
	r = rooms_result(c->hooks.room_json(c->hooks.sig, id), NULL);
	return r ? r : fail("not_found", "no such room (or the prefix is ambiguous)");
}

static json_t *
cmd_room_close(struct ctl_loop *c, json_t *req)
{
	const char *id = room_id(req);

	if (id == NULL)
		return fail("bad_request", "id must be 8 to 32 lowercase hex digits of a room id");
	if (c->hooks.room_close == NULL ||
	    c->hooks.room_close(c->hooks.sig, id) < 0)
		return fail("not_found", "no such room (or the prefix is ambiguous)");
	log_info("control", "room %.8s… closed by the operator", id);
	return ok(json_pack("{s:s}", "closed", id));
}

static json_t *
cmd_workers(struct ctl_loop *c)
{
	json_t *a = json_array();

	for (uint16_t i = 0; i < c->dp->n_workers; i++) {
		const struct dp_worker *w = &c->dp->workers[i];
		const struct ctl_worker_rate *r = &c->rates[i];

		json_array_append_new(
			a, json_pack("{s:i, s:I, s:I, s:f, s:f, s:f}", "id", (int)i,
				     "rx_packets",
				     (json_int_t)__atomic_load_n(&w->ctr[DP_RX_PACKETS], __ATOMIC_RELAXED),
				     "tx_packets",
				     (json_int_t)__atomic_load_n(&w->ctr[DP_TX_PACKETS], __ATOMIC_RELAXED),
				     "rx_pps", r->rx_pps, "tx_pps", r->tx_pps,
				     "busy_ratio", r->busy_ratio));
	}
	return ok(json_pack("{s:o}", "workers", a));
}

static json_t *
cmd_drain(struct ctl_loop *c, bool on)
{
	uint64_t rooms = 0, participants = 0, ws = 0;

	ctl_set_draining(c, on);
	if (c->hooks.counts != NULL)
		c->hooks.counts(c->hooks.sig, &rooms, &participants, &ws);
	if (!on)
		return ok(json_pack("{s:b}", "draining", 0));
	return ok(json_pack("{s:b, s:i, s:I, s:I}", "draining", 1, "allocations",
			    (int)turn_server_allocations(c->ts), "rooms",
			    (json_int_t)rooms, "participants",
			    (json_int_t)participants));
}

static json_t *
cmd_reload(struct ctl_loop *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&buf, &len);
	json_t *res, *lines;
	int ret;

	if (errs == NULL)
		return fail("failed", "out of memory");
	ret = ctl_reload(c, errs);
	fclose(errs);
	if (ret == 0) {
		free(buf);
		return ok(json_pack("{s:b}", "reloaded", 1));
	}
	lines = json_array();
	for (char *save, *l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save))
		json_array_append_new(lines, json_string(l));
	free(buf);
	res = json_pack("{s:b, s:s, s:s, s:o}", "ok", 0, "error", "failed",
			"reason",
			"the new configuration was refused; the running one stays",
			"errors", lines);
	log_warn("control", "reload refused");
	return res;
}

static json_t *
cmd_credentials(struct ctl_loop *c, json_t *req)
{
	const struct sotto_config *cfg = ctl_config(c);
	const char *user = json_string_value(json_object_get(req, "user"));
	json_t *ttlv = json_object_get(req, "ttl");
	unsigned char mac[EVP_MAX_MD_SIZE], pw[64];
	unsigned mac_len = 0;
	char name[160];
	int64_t ttl = 86400, exp;

	if (user == NULL || user[0] == '\0' || strlen(user) > 64 ||
	    strchr(user, ':') != NULL)
		return fail("bad_request", "user must be 1 to 64 characters without ':'");
	if (ttlv != NULL) {
		if (!json_is_integer(ttlv) || json_integer_value(ttlv) < 1 ||
		    json_integer_value(ttlv) > 7 * 86400)
			return fail("bad_request", "ttl must be 1 to 604800 seconds");
		ttl = json_integer_value(ttlv);
	}
	if (cfg->turn.n_secrets == 0)
		return fail("failed", "no TURN secret configured");
	exp = (int64_t)(clock_realtime_ms() / 1000) + ttl;
	snprintf(name, sizeof(name), "%" PRId64 ":%s", exp, user);
	HMAC(EVP_sha1(), cfg->turn.secrets[0], (int)strlen(cfg->turn.secrets[0]),
	     (const unsigned char *)name, strlen(name), mac, &mac_len);
	EVP_EncodeBlock(pw, mac, (int)mac_len);
	json_t *r = ok(json_pack("{s:s, s:s, s:I}", "username", name,
				 "credential", (char *)pw, "expires_at",
				 (json_int_t)exp));
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(mac, sizeof(mac));
	return r;
}

static json_t *
cmd_log_level(json_t *req)
{
	const char *l = json_string_value(json_object_get(req, "level"));

	for (unsigned i = 0; l != NULL && i < 4; i++)
		if (strcmp(l, level_names[i]) == 0) {
			log_threshold = (enum log_level)i;
			log_info("control", "log level set to %s", l);
			return ok(json_pack("{s:s}", "log_level", l));
		}
	return fail("bad_request", "level must be error, warn, info or debug");
}

static json_t *
dispatch(struct ctl_loop *c, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (cmd == NULL)
		return fail("bad_request", "expected {\"cmd\": ...}");
	if (strcmp(cmd, "status") == 0)
		return cmd_status(c);
	if (strcmp(cmd, "allocations") == 0)
		return cmd_allocations(c, req);
	if (strcmp(cmd, "allocation.show") == 0)
		return cmd_allocation_show(c, req);
	if (strcmp(cmd, "allocation.kill") == 0)
		return cmd_allocation_kill(c, req);
	if (strcmp(cmd, "rooms") == 0)
		return cmd_rooms(c);
	if (strcmp(cmd, "room.show") == 0)
		return cmd_room_show(c, req);
	if (strcmp(cmd, "room.close") == 0)
		return cmd_room_close(c, req);
	if (strcmp(cmd, "workers") == 0)
		return cmd_workers(c);
	if (strcmp(cmd, "drain") == 0)
		return cmd_drain(c, true);
	if (strcmp(cmd, "undrain") == 0)
		return cmd_drain(c, false);
	if (strcmp(cmd, "reload") == 0)
		return cmd_reload(c);
	if (strcmp(cmd, "credentials.issue") == 0)
		return cmd_credentials(c, req);
	if (strcmp(cmd, "log_level") == 0)
		return cmd_log_level(req);
	return fail("bad_request", "unknown command");
}

static ssize_t
ctl_data(struct net_conn *nc, const uint8_t *p, size_t len)
{
	struct ctl_loop *c = nc->proto;
	const uint8_t *nl = memchr(p, '\n', len);
	json_t *req, *resp;
	char *out;

	if (nl == NULL) {
		if (len >= CTL_MAX_LINE) {
			resp = fail("bad_request", "request too long");
			goto send;
		}
		return 0; /* wait for the rest of the line */
	}
	req = json_loadb((const char *)p, (size_t)(nl - p),
			 JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(req))
		resp = fail("bad_request", "expected one JSON object per line");
	else
		resp = dispatch(c, req);
	json_decref(req);
send:
	if (resp == NULL)
		resp = fail("failed", "out of memory");
	out = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	json_decref(resp);
	if (out == NULL) {
		net_close(nc, false);
		return -1;
	}
	net_send(nc, out, strlen(out));
	net_send(nc, "\n", 1);
	free(out);
	if (nl == NULL) {
		net_close(nc, true);
		return (ssize_t)len;
	}
	return nl - p + 1;
}

static void
ctl_closed(struct net_conn *nc)
{
	(void)nc;
}

static const struct net_conn_ops ctl_ops = {
	.data = ctl_data,
	.closed = ctl_closed,
};

static int
cmd_accept(struct net_conn *nc, void *ctl)
{
	nc->proto = ctl;
	nc->ops = &ctl_ops;
	return 0;
}

int
ctl_cmd_listen(struct ctl_loop *c, bool *made_dir)
{
	const char *path = c->cfg->control.socket;
	char dir[sizeof(c->cfg->control.socket)], *slash;
	int ret;

	*made_dir = false;
	if (path[0] == '\0')
		return 0;
	/* /run/sotto when systemd's RuntimeDirectory did not make it:
	 * private to the daemon's user */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == 0)
			*made_dir = true;
		else if (errno != EEXIST)
			log_warn("control", "cannot create %s: %s", dir,
				 strerror(errno));
	}
	ret = net_listen_unix(c->net, path, 0600, cmd_accept, c);
	if (ret < 0) {
		log_err("control", "control.socket %s: %s", path, strerror(-ret));
		return ret;
	}
	log_info("control", "control socket %s", path);
	return 0;
}
