/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP API: rooms, invites, TURN credentials, health, the web client.
 * docs/signaling.md is the reference; every error is JSON with a code and
 * a reason, and an unknown room answers exactly like a bad token.
 */
#include "sig_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "log.h"
#include "web_assets.h"

#define ROOM_PREFIX "/v1/rooms/"
/* one answer for a bad token, a token for another room and an unknown
 * room: the API must not tell which room ids exist */
#define NO_ROOM "invalid token or unknown room"

/* ---- setup ------------------------------------------------------------ */

static const uint64_t join_us_bounds[] = { 50, 100, 250, 500, 1000, 2500, 10000 };

/* a configured token key fits the signing key whole: never cut */
_Static_assert(sizeof(((struct sig_token_key *)0)->secret) ==
	       CONFIG_TOKEN_SECRET_MAX, "token key sizes differ");

static int
load_keys(struct sig *s)
{
	const struct sotto_config *cfg = s->cfg;
	struct sig_token_key keys[CONFIG_MAX_TOKEN_KEYS];
	unsigned n = 0;

	memset(keys, 0, sizeof(keys));
	for (unsigned i = 0; i < cfg->signaling.n_token_keys; i++) {
		const struct config_token_key *k = &cfg->signaling.token_keys[i];
		size_t len = strlen(k->secret);

		if (len > sizeof(keys[n].secret))
			len = sizeof(keys[n].secret);
		snprintf(keys[n].id, sizeof(keys[n].id), "%s", k->id);
		memcpy(keys[n].secret, k->secret, len);
		keys[n].secret_len = len;
		n++;
	}
	if (n == 0 && s->n_keys == 1 && strcmp(s->keys[0].id, "boot") == 0) {
		/* a reload with still no keys keeps the boot key: a new one
		 * would invalidate every token of every live room */
		return 0;
	}
	if (n == 0) {
		/* rooms live in this process only, so a key that lives
		 * exactly as long is enough when the operator set none */
		strcpy(keys[0].id, "boot");
		keys[0].secret_len = 32;
		if (getrandom(keys[0].secret, 32, 0) != 32)
			return -EIO;
		n = 1;
	}
	explicit_bzero(s->keys, sizeof(s->keys));
	memcpy(s->keys, keys, sizeof(keys));
	s->n_keys = n;
	explicit_bzero(keys, sizeof(keys));
	return 0;
}

static int
load_limits(struct sig *s)
{
	const struct sotto_config *cfg = s->cfg;
	struct rate_limit *rooms, *joins, *creds;

	rooms = rate_limit_new_period(cfg->signaling.rooms_per_ip_per_minute,
				      60000, 0, SIG_RL_SLOTS);
	joins = rate_limit_new_period(cfg->signaling.joins_per_ip_per_minute,
				      60000, 0, SIG_RL_SLOTS);
	/* credentials: a caller takes one set per join, and retries */
	creds = rate_limit_new_period(2 * cfg->signaling.joins_per_ip_per_minute,
				      60000, 0, SIG_RL_SLOTS);
	if (rooms == NULL || joins == NULL || creds == NULL) {
		rate_limit_free(rooms);
		rate_limit_free(joins);
		rate_limit_free(creds);
		return -ENOMEM;
	}
	rate_limit_free(s->rooms_rl);
	rate_limit_free(s->joins_rl);
	rate_limit_free(s->creds_rl);
	s->rooms_rl = rooms;
	s->joins_rl = joins;
	s->creds_rl = creds;
	s->policy.max_bytes = cfg->signaling.max_sdp_bytes;
	s->policy.allow_dtmf = cfg->signaling.allow_dtmf;
	s->policy.allow_video = cfg->signaling.allow_video;
	s->policy.allow_data = cfg->signaling.allow_data_channels;
	return 0;
}

/*
 * jansson's free: every JSON string it frees may be a room token (a join
 * message, an API answer) or a TURN credential, so it is wiped first. The
 * allocator is process-wide; the rest of sottod's JSON only gains a wipe.
 */
static void
json_wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

struct sig *
sig_new(const struct sotto_config *cfg)
{
	struct sig *s = calloc(1, sizeof(*s));
	int ret;

	if (s == NULL)
		return NULL;
	json_set_alloc_funcs(malloc, json_wipe_free);
	s->cfg = cfg;
	s->st.join_us = (struct metrics_hist)METRICS_HIST_INIT(join_us_bounds);
	s->now_ms = clock_mono_ms();
	/* the SDP policy may lengthen an SDP (LF to CRLF, masking), never
	 * beyond 3× (sdp_policy.h) */
	s->sdp_out_cap = 3 * (size_t)cfg->signaling.max_sdp_bytes + 1;
	s->sdp_out = malloc(s->sdp_out_cap);
	if (s->sdp_out == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = rooms_init(&s->rooms, cfg->signaling.max_rooms);
	if (ret == 0 && getrandom(s->turn_user_key, sizeof(s->turn_user_key),
				  0) != sizeof(s->turn_user_key))
		ret = -EIO;
	if (ret == 0)
		ret = load_keys(s);
	if (ret == 0)
		ret = load_limits(s);
	if (ret < 0)
		goto fail;
	s->join_tokens = (uint64_t)cfg->signaling.joins_per_second * 1000;
	s->join_last_ms = s->now_ms;
	return s;
fail:
	sig_free(s);
	errno = -ret;
	return NULL;
}

void
sig_free(struct sig *s)
{
	if (s == NULL)
		return;
	while (s->rooms.all != NULL)
		sig_room_shut(s, s->rooms.all, "room_closed", "server stopping");
	sig_ws_free_dead(s);
	rooms_fini(&s->rooms);
	rate_limit_free(s->rooms_rl);
	rate_limit_free(s->joins_rl);
	rate_limit_free(s->creds_rl);
	free(s->sdp_out);
	explicit_bzero(s->keys, sizeof(s->keys));
	explicit_bzero(s->turn_user_key, sizeof(s->turn_user_key));
	free(s);
}

int
sig_reload(struct sig *s)
{
	int ret = load_limits(s);

	if (ret == 0)
		ret = load_keys(s);
	return ret;
}

void
sig_set_gateway(struct sig *s, struct gw *gw)
{
	s->gw = gw;
}

void
sig_set_draining(struct sig *s, bool on)
{
	s->draining = on;
}

bool
sig_draining(const struct sig *s)
{
	return s->draining;
}

void
sig_counts(const struct sig *s, uint64_t *rooms, uint64_t *participants,
	   uint64_t *websockets)
{
	*rooms = s->rooms.count;
	*participants = s->st.peers_current;
	*websockets = s->st.ws_current;
}

void
sig_tick(struct sig *s, uint64_t now_ms)
{
	struct room *r = s->rooms.all;

	s->now_ms = now_ms;
	while (r != NULL) {
		struct room *next = r->next;

		if (now_ms >= r->expires_ms) {
			s->st.rooms_expired++;
			sig_room_shut(s, r, "room_closed", "the room expired");
		} else if (r->n_peers == 0 && r->empty_since_ms != 0 &&
			   now_ms > r->empty_since_ms &&
			   now_ms - r->empty_since_ms >= SIG_EMPTY_ROOM_MS) {
			s->st.rooms_expired++;
			sig_room_shut(s, r, "room_closed", "the room was empty");
		} else if (r->refused_pending > 0 &&
			   now_ms - r->refused_told_ms >= 1000) {
			sig_refusals_flush(s, r);
		}
		r = next;
	}
	sig_ws_free_dead(s);
}

/* ---- helpers ---------------------------------------------------------- */

static void
respond_json(struct http_req *r, int status, json_t *j)
{
	char *body = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (body == NULL) {
		http_respond_error(r, 500, "internal", "out of memory", NULL);
		return;
	}
	http_respond(r, status, "application/json", body, strlen(body), NULL,
		     false);
	/* answers carry room tokens and TURN credentials */
	explicit_bzero(body, strlen(body));
	free(body);
}

static const char *
bearer(const struct http_req *r)
{
	const char *a = http_header(r, "Authorization");

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

/* The request's JSON object body; an empty body is an empty object. NULL
 * after answering 400. */
static json_t *
body_json(struct http_req *r)
{
	json_error_t err;
	json_t *j;

	if (r->body_len == 0)
		return json_object();
	j = json_loadb((const char *)r->body, r->body_len,
		       JSON_REJECT_DUPLICATES, &err);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		http_respond_error(r, 400, "bad_request",
				   "the body must be a JSON object", NULL);
		return NULL;
	}
	return j;
}

/* Unix time: token and credential expiries are checked by others. */
static int64_t
now_s(void)
{
	return (int64_t)(clock_realtime_ms() / 1000);
}

/* Signs a token for room with role (and use, for members), expiring at
 * most ttl from now and never after the room. Returns the length or <0;
 * c (if not NULL) gets the claims, the jti among them. */
int
sig_mint(struct sig *s, const struct room *room, enum sig_role role,
	 enum sig_use use, int64_t ttl, char *out, size_t cap,
	 struct sig_token_claims *claims)
{
	struct sig_token_claims c = { .role = role, .use = use };
	int64_t room_end;
	int ret;

	memcpy(c.room, room->hex, sizeof(c.room));
	c.iat = now_s();
	/* the room's end on the monotonic clock, as unix time */
	room_end = c.iat + (int64_t)((room->expires_ms > s->now_ms ?
				     room->expires_ms - s->now_ms : 0) / 1000);
	c.exp = c.iat + ttl;
	if (c.exp > room_end)
		c.exp = room_end;
	ret = sig_token_sign(&s->keys[0], &c, out, cap);
	if (ret > 0) {
		s->st.tokens_issued++;
		if (claims != NULL)
			*claims = c;
	}
	return ret;
}

/*
 * The bearer token checked against room id (or the room it names, when id
 * is NULL). On failure answers 401 and returns NULL.
 */
static struct room *
authorize(struct sig *s, struct http_req *r, const char *id,
	  struct sig_token_claims *c)
{
	const char *tok = bearer(r), *why = NULL;
	struct room *room;

	if (tok == NULL) {
		s->st.auth_failed++;
		http_respond_error(r, 401, "invalid_token",
				   "an Authorization: Bearer token is required",
				   "WWW-Authenticate: Bearer\r\n");
		return NULL;
	}
	if (sig_token_verify(s->keys, s->n_keys, tok, strlen(tok), now_s(), c,
			     &why) < 0) {
		s->st.auth_failed++;
		http_respond_error(r, 401, "invalid_token",
				   why ? why : "invalid token",
				   "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
		return NULL;
	}
	room = room_find(&s->rooms, c->room);
	if (room == NULL || (id != NULL && strcmp(id, c->room) != 0) ||
	    room_is_kicked(room, c->jti)) {
		s->st.auth_failed++;
		http_respond_error(r, 401, "invalid_token", NO_ROOM,
				   "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
		return NULL;
	}
	return room;
}

/* ---- routes ----------------------------------------------------------- */

static bool
api_key_ok(const struct sig *s, const char *key)
{
	size_t len = strlen(key);
	bool ok = false;

	for (unsigned i = 0; i < s->cfg->signaling.n_api_keys; i++) {
		const char *k = s->cfg->signaling.api_keys[i];

		/* no early exit: every key is compared */
		if (strlen(k) == len && CRYPTO_memcmp(k, key, len) == 0)
			ok = true;
	}
	return ok;
}

/* Who may create a room: an operator's API key, or anyone (rate-limited)
 * with anonymous_rooms. False: answered already. */
static bool
may_create_room(struct sig *s, struct http_req *r)
{
	const struct sotto_config *cfg = s->cfg;
	const char *key = bearer(r);

	if (s->draining) {
		s->st.room_create_refused++;
		http_respond_error(r, 503, "unavailable",
				   "this server is draining: no new rooms",
				   "Retry-After: 60\r\n");
		return false;
	}
	if (key != NULL && cfg->signaling.n_api_keys > 0 && api_key_ok(s, key))
		return true; /* an operator's backend: trusted, not rate-limited */
	if (key != NULL && cfg->signaling.n_api_keys > 0) {
		s->st.auth_failed++;
		http_respond_error(r, 401, "invalid_token", "unknown API key",
				   "WWW-Authenticate: Bearer\r\n");
		return false;
	}
	if (!cfg->signaling.anonymous_rooms) {
		s->st.room_create_refused++;
		http_respond_error(r, cfg->signaling.n_api_keys ? 401 : 403,
				   cfg->signaling.n_api_keys ? "invalid_token" :
							       "forbidden",
				   "creating rooms needs an API key", NULL);
		return false;
	}
	if (!rate_limit_allow(s->rooms_rl, &r->conn->peer, s->now_ms)) {
		s->st.api_rate_limited++;
		s->st.room_create_refused++;
		http_respond_error(r, 429, "rate_limited",
				   "too many rooms from this address",
				   "Retry-After: 60\r\n");
		return false;
	}
	return true;
}

/* The body's max_participants and mode, checked: NULL when it is fine,
 * else why (a static string, or why_buf). */
static const char *
room_params(struct sig *s, json_t *body, uint32_t *max, bool *gateway,
	    bool *auto_lock, char *why_buf, size_t why_len)
{
	const struct sotto_config *cfg = s->cfg;
	json_t *v = json_object_get(body, "max_participants");
	const char *mode;

	*max = 2;
	*gateway = false;
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 2 ||
		    json_integer_value(v) > cfg->signaling.max_participants) {
			snprintf(why_buf, why_len,
				 "max_participants must be an integer from 2 to %u",
				 cfg->signaling.max_participants);
			return why_buf;
		}
		*max = (uint32_t)json_integer_value(v);
	}
	v = json_object_get(body, "mode");
	if (v != NULL) {
		mode = json_string_value(v);
		if (mode != NULL && strcmp(mode, "gateway") == 0)
			*gateway = true;
		else if (mode == NULL || strcmp(mode, "relay") != 0)
			return "mode must be \"relay\" or \"gateway\"";
	}
	if (*gateway && s->gw == NULL)
		return "gateway mode is not configured";
	if (*gateway && *max > SIG_GATEWAY_ROOM_MAX) {
		snprintf(why_buf, why_len,
			 "a gateway room has at most %u participants",
			 SIG_GATEWAY_ROOM_MAX);
		return why_buf;
	}
	if (*gateway && json_object_get(body, "max_participants") == NULL)
		*max = cfg->signaling.max_participants < 10 ?
			       cfg->signaling.max_participants : 10;
	/* a 1:1 call locks itself once both are in, unless asked not to */
	v = json_object_get(body, "auto_lock");
	if (v != NULL && !json_is_boolean(v))
		return "auto_lock must be true or false";
	*auto_lock = v != NULL ? json_is_true(v) : (!*gateway && *max == 2);
	return NULL;
}

/*
 * The most tokens a room can ever have kicked: every token it can issue in
 * its life — the creator's, a full invite bucket, and a minute's invites
 * for every minute it may live. Tokens are 16 bytes each in the kick list,
 * grown as kicks happen, and every kick needs a join (rate-limited), so
 * the lists of all rooms hold at most joins_per_second * room_ttl.
 */
static uint32_t
kick_cap(const struct sotto_config *cfg, uint32_t max_participants)
{
	uint64_t per_min = cfg->signaling.invites_per_room_per_minute;
	uint64_t n = 1 + max_participants + per_min +
		     per_min * ((cfg->signaling.room_ttl + 59) / 60);

	/* a kick remembers the participant's seat and the invite it came
	 * in with */
	n *= 2;
	return per_min == 0 || n > ROOM_KICKED_MAX ? ROOM_KICKED_MAX
						   : (uint32_t)n;
}

static void
create_room(struct sig *s, struct http_req *r)
{
	const struct sotto_config *cfg = s->cfg;
	char tok[SIG_TOKEN_BUF], logid[9], why_buf[96];
	const char *why;
	struct room *room;
	struct sig_token_claims c;
	uint32_t max;
	bool gateway, auto_lock;
	json_t *body;

	if (!may_create_room(s, r))
		return;
	body = body_json(r);
	if (body == NULL)
		return;
	why = room_params(s, body, &max, &gateway, &auto_lock, why_buf,
			  sizeof(why_buf));
	json_decref(body);
	if (why != NULL) {
		http_respond_error(r, 400, "bad_request", why, NULL);
		return;
	}
	room = room_create(&s->rooms, max, s->now_ms,
			   (uint64_t)cfg->signaling.room_ttl * 1000,
			   kick_cap(cfg, max));
	if (room == NULL) {
		s->st.room_create_refused++;
		http_respond_error(r, 503, "unavailable",
				   errno == ENOSPC ? "room table full" :
						     "out of memory",
				   "Retry-After: 10\r\n");
		return;
	}
	if (gateway) {
		room->gateway = true;
		room->gw = gw_room_new(s->gw, room->hex);
		if (room->gw == NULL) {
			room_destroy(&s->rooms, room);
			s->st.room_create_refused++;
			http_respond_error(r, 503, "unavailable",
					   "the gateway cannot take a room now",
					   "Retry-After: 10\r\n");
			return;
		}
	}
	room->auto_lock = auto_lock;
	if (sig_mint(s, room, SIG_ROLE_CREATOR, SIG_USE_ANY,
		     cfg->signaling.token_ttl, tok, sizeof(tok), &c) < 0) {
		if (room->gw != NULL)
			gw_room_free(s->gw, room->gw);
		room_destroy(&s->rooms, room);
		http_respond_error(r, 500, "internal", "cannot sign", NULL);
		return;
	}
	s->st.rooms_created++;
	room_log_id(room, logid);
	log_info("signaling", "room created room=%s… max_participants=%u mode=%s",
		 logid, max, gateway ? "gateway" : "relay");
	respond_json(r, 201,
		     json_pack("{s:s, s:s, s:I, s:i, s:s, s:b}", "room",
			       room->hex, "token", tok, "expires_at",
			       (json_int_t)c.exp, "max_participants", (int)max,
			       "mode", gateway ? "gateway" : "relay",
			       "auto_lock", auto_lock));
	explicit_bzero(tok, sizeof(tok));
}

static void
invite(struct sig *s, struct http_req *r, struct room *room)
{
	int64_t ttl = s->cfg->signaling.token_ttl;
	char tok[SIG_TOKEN_BUF];
	struct sig_token_claims c;
	json_t *body = body_json(r), *v;
	bool once;

	if (body == NULL)
		return;
	/* single-use unless asked otherwise, in a room for two; a group's
	 * default stays one link for several (docs/signaling.md) */
	v = json_object_get(body, "single_use");
	if (v != NULL && !json_is_boolean(v)) {
		json_decref(body);
		http_respond_error(r, 400, "bad_request",
				   "single_use must be true or false", NULL);
		return;
	}
	once = v != NULL ? json_is_true(v) : room->max_participants == 2;
	v = json_object_get(body, "ttl");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 60 ||
		    json_integer_value(v) > ttl) {
			json_decref(body);
			http_respond_error(r, 400, "bad_request",
					   "ttl must be an integer from 60 to signaling.token_ttl",
					   NULL);
			return;
		}
		ttl = json_integer_value(v);
	}
	json_decref(body);
	/* per room, which is per creator: a room has one creator token, and
	 * creators are bounded by rooms_per_ip_per_minute (or are the
	 * operator's backend, with an API key) */
	if (!room_invite_allowed(room,
				 s->cfg->signaling.invites_per_room_per_minute,
				 s->now_ms)) {
		s->st.invites_rate_limited++;
		http_respond_error(r, 429, "rate_limited",
				   "too many invites for this room",
				   "Retry-After: 60\r\n");
		return;
	}
	if (sig_mint(s, room, SIG_ROLE_MEMBER,
		     once ? SIG_USE_ONCE : SIG_USE_ANY, ttl, tok, sizeof(tok),
		     &c) < 0) {
		http_respond_error(r, 500, "internal", "cannot sign", NULL);
		return;
	}
	respond_json(r, 201, json_pack("{s:s, s:I, s:b}", "token", tok,
				       "expires_at", (json_int_t)c.exp,
				       "single_use", once));
	explicit_bzero(tok, sizeof(tok));
}

static void
lock(struct sig *s, struct http_req *r, struct room *room)
{
	json_t *body = body_json(r), *v;

	(void)s;
	if (body == NULL)
		return;
	v = json_object_get(body, "locked");
	if (!json_is_boolean(v)) {
		json_decref(body);
		http_respond_error(r, 400, "bad_request",
				   "locked must be true or false", NULL);
		return;
	}
	room->locked = json_is_true(v);
	json_decref(body);
	respond_json(r, 200, json_pack("{s:s, s:b}", "room", room->hex,
				       "locked", room->locked));
}

static void
kick(struct sig *s, struct http_req *r, struct room *room)
{
	json_t *body = body_json(r), *v;
	struct sig_peer *p;
	char peer[PEER_ID_HEX + 1];

	if (body == NULL)
		return;
	v = json_object_get(body, "peer");
	if (!json_is_string(v) || json_string_length(v) != PEER_ID_HEX) {
		json_decref(body);
		http_respond_error(r, 400, "bad_request",
				   "peer must be a peer id", NULL);
		return;
	}
	memcpy(peer, json_string_value(v), sizeof(peer));
	json_decref(body);
	p = room_peer(room, peer);
	if (p == NULL) {
		http_respond_error(r, 404, "not_found", "no such peer in the room",
				   NULL);
		return;
	}
	/* a reload may have raised the invite rate since the room began */
	if (room->kick_cap < kick_cap(s->cfg, room->max_participants))
		room->kick_cap = kick_cap(s->cfg, room->max_participants);
	if (room_kick(room, p->jti) < 0 ||
	    (p->invite_jti[0] != '\0' && room_kick(room, p->invite_jti) < 0)) {
		char logid[9];

		/* forgetting a kicked token would let it back in: refuse */
		s->st.kick_refused++;
		room_log_id(room, logid);
		log_warn("signaling", "kick refused: the room's kick list is full room=%s…",
			 logid);
		http_respond_error(r, 503, "unavailable",
				   "the room cannot remember more kicked participants; close it",
				   NULL);
		return;
	}
	s->st.kicks++;
	/* every connection that joined with that token goes */
	for (;;) {
		struct sig_peer *q = NULL;

		for (unsigned i = 0; i < room->n_peers && q == NULL; i++)
			if (strcmp(room->peers[i]->jti, p->jti) == 0)
				q = room->peers[i];
		if (q == NULL)
			break;
		sig_peer_remove(s, q, "kicked", "removed by the room's creator");
	}
	respond_json(r, 200, json_pack("{s:s}", "kicked", peer));
}

static void
room_route(struct sig *s, struct http_req *r)
{
	const char *rest = r->path + strlen(ROOM_PREFIX);
	char id[SIG_ROOM_ID_HEX + 1];
	struct sig_token_claims c;
	const char *action;
	struct room *room;
	bool post = strcmp(r->method, "POST") == 0;

	if (strlen(rest) < SIG_ROOM_ID_HEX ||
	    sig_room_id_valid(rest, SIG_ROOM_ID_HEX) < 0 ||
	    (rest[SIG_ROOM_ID_HEX] != '\0' && rest[SIG_ROOM_ID_HEX] != '/')) {
		/* not even shaped like an id: still the same answer as an
		 * unknown room once a token is checked */
		memset(id, 'x', SIG_ROOM_ID_HEX);
	} else {
		memcpy(id, rest, SIG_ROOM_ID_HEX);
	}
	id[SIG_ROOM_ID_HEX] = '\0';
	action = strlen(rest) > SIG_ROOM_ID_HEX ? rest + SIG_ROOM_ID_HEX : "";

	if (strcmp(action, "") == 0) {
		if (strcmp(r->method, "DELETE") != 0)
			goto not_allowed_delete;
	} else if (strcmp(action, "/invites") == 0 ||
		   strcmp(action, "/lock") == 0 ||
		   strcmp(action, "/kick") == 0) {
		if (!post)
			goto not_allowed_post;
	} else {
		http_respond_error(r, 404, "not_found", "no such resource", NULL);
		return;
	}

	room = authorize(s, r, id, &c);
	if (room == NULL)
		return;
	if (c.role != SIG_ROLE_CREATOR) {
		http_respond_error(r, 403, "forbidden",
				   "only the room's creator may do this", NULL);
		return;
	}
	if (strcmp(action, "") == 0) {
		char logid[9];

		room_log_id(room, logid);
		log_info("signaling", "room closed by its creator room=%s…",
			 logid);
		s->st.rooms_closed++;
		sig_room_shut(s, room, "room_closed", "closed by its creator");
		respond_json(r, 200, json_pack("{s:s}", "closed", id));
	} else if (strcmp(action, "/invites") == 0) {
		invite(s, r, room);
	} else if (strcmp(action, "/lock") == 0) {
		lock(s, r, room);
	} else {
		kick(s, r, room);
	}
	return;
not_allowed_delete:
	http_respond_error(r, 405, "method_not_allowed", "use DELETE",
			   "Allow: DELETE\r\n");
	return;
not_allowed_post:
	http_respond_error(r, 405, "method_not_allowed", "use POST",
			   "Allow: POST\r\n");
}

/* turn:IP:PORT?transport=udp for each TURN listener, when the operator
 * named no URLs (fine on one host; behind NAT name them). */
static json_t *
turn_urls(const struct sig *s)
{
	const struct sotto_config *cfg = s->cfg;
	json_t *urls = json_array();

	for (unsigned i = 0; i < cfg->signaling.n_turn_urls; i++)
		json_array_append_new(urls,
				      json_string(cfg->signaling.turn_urls[i]));
	if (cfg->signaling.n_turn_urls > 0)
		return urls;
	for (unsigned i = 0; i < cfg->turn.n_listen; i++) {
		char ip[SOTTO_ADDRSTRLEN], url[SOTTO_ADDRSTRLEN + 48];
		struct sotto_addr a = cfg->turn.listen[i];

		sotto_addr_str(&a, ip, sizeof(ip));
		snprintf(url, sizeof(url), "turn:%s?transport=udp", ip);
		json_array_append_new(urls, json_string(url));
	}
	return urls;
}

/*
 * The REST username's user part, the identity turn.limits.
 * allocations_per_user counts against: a TURN user slot of the room
 * (room_turn_slot), named HMAC-SHA256(turn_user_key, room id || slot),
 * 16 hex digits.
 *
 * - Bounded by the room, not by tokens: a creator can mint any number of
 *   invites, but a room has at most max_participants TURN users, so it
 *   holds at most max_participants * allocations_per_user allocations,
 *   and rooms per address are rate-limited. (The user part was half the
 *   token's jti: every invite was a fresh TURN user.)
 * - Each participant keeps a quota of its own (the first max_participants
 *   tokens get a slot each): a browser takes one or two allocations, the
 *   default quota is 10, so no room is starved by its own size.
 * - A slot, not one user per room: the username travels in clear in every
 *   STUN request, and one name for both callers would tell an on-path
 *   observer who talks to whom with no traffic analysis at all.
 * - Names nobody: the key is random per process and never leaves it, so
 *   the name says nothing of the room id, the token or an address, and
 *   names of different rooms cannot be linked.
 */
static void
turn_user(const struct sig *s, struct room *room, const char *jti,
	  char out[17])
{
	uint8_t msg[sizeof(room->id) + 4], mac[EVP_MAX_MD_SIZE];
	uint32_t slot = room_turn_slot(room, jti);
	unsigned mac_len = 0;

	memcpy(msg, room->id, sizeof(room->id));
	msg[16] = (uint8_t)(slot >> 24);
	msg[17] = (uint8_t)(slot >> 16);
	msg[18] = (uint8_t)(slot >> 8);
	msg[19] = (uint8_t)slot;
	HMAC(EVP_sha256(), s->turn_user_key, sizeof(s->turn_user_key), msg,
	     sizeof(msg), mac, &mac_len);
	hex_encode(mac, 8, out);
	explicit_bzero(mac, sizeof(mac));
}

static void
credentials(struct sig *s, struct http_req *r)
{
	const struct sotto_config *cfg = s->cfg;
	struct sig_token_claims c;
	unsigned char mac[EVP_MAX_MD_SIZE], pw[64];
	unsigned mac_len = 0;
	char user[64], rh[17];
	struct room *room;
	int64_t exp;

	room = authorize(s, r, NULL, &c);
	if (room == NULL)
		return;
	if (!rate_limit_allow(s->creds_rl, &r->conn->peer, s->now_ms)) {
		s->st.creds_rate_limited++;
		http_respond_error(r, 429, "rate_limited",
				   "too many credential requests from this address",
				   "Retry-After: 60\r\n");
		return;
	}
	if (cfg->turn.n_secrets == 0) {
		http_respond_error(r, 503, "unavailable",
				   "no TURN secret configured", NULL);
		return;
	}
	turn_user(s, room, c.jti, rh);
	exp = now_s() + cfg->signaling.credential_ttl;
	snprintf(user, sizeof(user), "%" PRId64 ":%s", exp, rh);
	/* TURN REST: password = base64(HMAC-SHA1(secret, username)) */
	HMAC(EVP_sha1(), cfg->turn.secrets[0],
	     (int)strlen(cfg->turn.secrets[0]), (const unsigned char *)user,
	     strlen(user), mac, &mac_len);
	EVP_EncodeBlock(pw, mac, (int)mac_len);
	s->st.credentials_issued++;
	respond_json(r, 200,
		     json_pack("{s:s, s:s, s:i, s:I, s:[{s:o, s:s, s:s}], s:s}",
			       "username", user, "credential", (char *)pw,
			       "ttl", (int)cfg->signaling.credential_ttl,
			       "expires_at", (json_int_t)exp, "iceServers",
			       "urls", turn_urls(s), "username", user,
			       "credential", (char *)pw,
			       "iceTransportPolicy", "relay"));
	explicit_bzero(mac, sizeof(mac));
	explicit_bzero(pw, sizeof(pw));
}

/*
 * POST /v1/check (any valid room token): what joining with it would meet,
 * so that a page can tell its user before asking for a microphone. The
 * same answer as the join for a bad token or an unknown room (401), the
 * join's refusal as a 403 with its code, else the kind of call.
 */
static void
check_token(struct sig *s, struct http_req *r)
{
	struct sig_token_claims c;
	struct room *room;
	const char *why;

	room = authorize(s, r, NULL, &c);
	if (room == NULL)
		return;
	if (!rate_limit_allow(s->creds_rl, &r->conn->peer, s->now_ms)) {
		s->st.creds_rate_limited++;
		http_respond_error(r, 429, "rate_limited",
				   "too many requests from this address",
				   "Retry-After: 60\r\n");
		return;
	}
	why = sig_admission(room, &c, NULL);
	if (why != NULL) {
		/* someone holding a link was kept out: the creator hears of
		 * it as of a refused join (the page goes no further) */
		sig_tell_refused(s, room, why);
		http_respond_error(r, 403, why,
				   strcmp(why, "invite_used") == 0 ?
					   "this invite was used already" :
				   strcmp(why, "room_full") == 0 ?
					   "the room is full" :
					   "the room is locked",
				   NULL);
		return;
	}
	respond_json(r, 200,
		     json_pack("{s:s, s:s, s:i, s:i, s:b, s:b}", "mode",
			       room->gateway ? "gateway" : "relay", "role",
			       sig_role_name(c.role), "max_participants",
			       (int)room->max_participants, "participants",
			       (int)room->n_peers, "locked", room->locked,
			       "single_use", c.use == SIG_USE_ONCE));
}

static void
static_file(struct sig *s, struct http_req *r)
{
	/*
	 * The client's only scripts and styles are its own files. Behind TLS
	 * (production) it may talk to its own origin only; plain HTTP exists
	 * on loopback alone, where the tests point it at a local proxy.
	 */
	static const char common[] =
		"img-src 'self' data:; media-src 'self' blob:; base-uri 'none'; "
		"frame-ancestors 'none'; form-action 'none'\r\n"
		"X-Frame-Options: DENY\r\n"
		"Permissions-Policy: microphone=(self), camera=()\r\n"
		"Cross-Origin-Opener-Policy: same-origin\r\n";
	char headers[512];

	snprintf(headers, sizeof(headers),
		 "Content-Security-Policy: default-src 'self'; connect-src %s; %s",
		 r->conn->tls ? "'self'" : "'self' ws: wss:", common);
	for (unsigned i = 0; s->cfg->signaling.web_client &&
			     i < web_assets_count; i++) {
		const struct web_asset *a = &web_assets[i];

		if (strcmp(r->path, a->path) != 0)
			continue;
		http_respond(r, 200, a->content_type, a->data, a->len, headers,
			     false);
		return;
	}
	http_respond_error(r, 404, "not_found", "no such resource", NULL);
}

void
sig_http_handle(struct http_req *r, void *arg)
{
	struct sig *s = arg;
	bool get = strcmp(r->method, "GET") == 0;
	bool post = strcmp(r->method, "POST") == 0;

	s->now_ms = clock_mono_ms();
	if ((strcmp(r->path, "/healthz") == 0 ||
	     strcmp(r->path, "/readyz") == 0) && !get) {
		http_respond_error(r, 405, "method_not_allowed", "use GET",
				   "Allow: GET\r\n");
	} else if (strcmp(r->path, "/healthz") == 0) {
		respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
	} else if (strcmp(r->path, "/readyz") == 0) {
		if (s->draining)
			respond_json(r, 503, json_pack("{s:s}", "status",
						       "draining"));
		else
			respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
	} else if (strcmp(r->path, "/v1/rooms") == 0) {
		if (post)
			create_room(s, r);
		else
			http_respond_error(r, 405, "method_not_allowed",
					   "use POST", "Allow: POST\r\n");
	} else if (strncmp(r->path, ROOM_PREFIX, strlen(ROOM_PREFIX)) == 0) {
		room_route(s, r);
	} else if (strcmp(r->path, "/v1/credentials") == 0) {
		if (post)
			credentials(s, r);
		else
			http_respond_error(r, 405, "method_not_allowed",
					   "use POST", "Allow: POST\r\n");
	} else if (strcmp(r->path, "/v1/check") == 0) {
		if (post)
			check_token(s, r);
		else
			http_respond_error(r, 405, "method_not_allowed",
					   "use POST", "Allow: POST\r\n");
	} else if (strcmp(r->path, "/v1/ws") == 0) {
		if (get)
			sig_ws_upgrade(s, r);
		else
			http_respond_error(r, 405, "method_not_allowed",
					   "use GET", "Allow: GET\r\n");
	} else if (get) {
		static_file(s, r);
	} else {
		http_respond_error(r, 404, "not_found", "no such resource",
				   NULL);
	}
}

/* ---- metrics ---------------------------------------------------------- */

void
sig_metrics(const struct sig *s, struct metrics *m)
{
	const struct sig_stats *st = &s->st;

	metrics_gauge(m, "sotto_signaling_rooms", "Rooms now.", s->rooms.count);
	metrics_gauge(m, "sotto_signaling_participants",
		      "Participants joined to a room now.", (double)st->peers_current);
	metrics_gauge(m, "sotto_signaling_open_websockets",
		      "Signaling WebSocket connections now.", (double)st->ws_current);
	metrics_counter(m, "sotto_signaling_websockets_total",
			"Signaling WebSocket connections accepted.", st->ws_connections);
	metrics_counter(m, "sotto_signaling_rooms_created_total", "Rooms created.",
			st->rooms_created);
	metrics_family(m, "sotto_signaling_rooms_ended_total", "counter",
		       "Rooms that ended, by reason.");
	metrics_u64(m, "sotto_signaling_rooms_ended_total", "reason=\"closed\"",
		    st->rooms_closed);
	metrics_u64(m, "sotto_signaling_rooms_ended_total", "reason=\"expired\"",
		    st->rooms_expired);
	metrics_counter(m, "sotto_signaling_room_create_refusals_total",
			"Room creations refused (rate limit, API key, draining, table full).",
			st->room_create_refused);
	metrics_counter(m, "sotto_signaling_tokens_issued_total",
			"Room tokens signed (creator and invites).", st->tokens_issued);
	metrics_counter(m, "sotto_signaling_credentials_issued_total",
			"TURN credentials issued through the API.", st->credentials_issued);
	metrics_counter(m, "sotto_signaling_joins_total", "Successful joins.",
			st->joins);
	metrics_family(m, "sotto_signaling_join_failures_total", "counter",
		       "Failed joins, by reason.");
	metrics_u64(m, "sotto_signaling_join_failures_total", "reason=\"token\"",
		    st->join_failed_token);
	metrics_u64(m, "sotto_signaling_join_failures_total", "reason=\"full\"",
		    st->join_failed_full);
	metrics_u64(m, "sotto_signaling_join_failures_total", "reason=\"locked\"",
		    st->join_failed_locked);
	metrics_u64(m, "sotto_signaling_join_failures_total",
		    "reason=\"invite_used\"", st->join_failed_used);
	metrics_u64(m, "sotto_signaling_join_failures_total",
		    "reason=\"rate_limited\"", st->join_failed_rate);
	metrics_u64(m, "sotto_signaling_join_failures_total", "reason=\"timeout\"",
		    st->join_failed_timeout);
	metrics_counter(m, "sotto_signaling_messages_relayed_total",
			"Offers, answers and candidates relayed.", st->messages_relayed);
	metrics_family(m, "sotto_signaling_messages_refused_total", "counter",
		       "Signaling messages refused, by reason.");
	metrics_u64(m, "sotto_signaling_messages_refused_total",
		    "reason=\"bad_message\"", st->messages_rejected);
	metrics_u64(m, "sotto_signaling_messages_refused_total",
		    "reason=\"rate_limited\"", st->messages_rate_limited);
	metrics_u64(m, "sotto_signaling_messages_refused_total",
		    "reason=\"sdp_rejected\"", st->sdp_rejected);
	metrics_counter(m, "sotto_signaling_candidates_dropped_total",
			"Host, srflx and prflx candidates removed by the SDP policy.",
			st->candidates_dropped);
	metrics_counter(m, "sotto_signaling_origin_refusals_total",
			"WebSocket upgrades refused for their Origin.", st->origin_rejected);
	metrics_counter(m, "sotto_signaling_auth_failures_total",
			"API requests with a missing, bad or wrong-room token or API key.",
			st->auth_failed);
	metrics_counter(m, "sotto_signaling_kicks_total",
			"Participants removed by a room's creator.", st->kicks);
	metrics_counter(m, "sotto_signaling_kick_refusals_total",
			"Kicks refused because the room's kick list is at its cap (it never forgets one).",
			st->kick_refused);
	metrics_family(m, "sotto_signaling_rate_limit_hits_total", "counter",
		       "Signaling requests refused by a rate limit, by limit.");
	metrics_u64(m, "sotto_signaling_rate_limit_hits_total",
		    "limit=\"room_create_per_ip\"", st->api_rate_limited);
	metrics_u64(m, "sotto_signaling_rate_limit_hits_total",
		    "limit=\"credentials_per_ip\"", st->creds_rate_limited);
	metrics_u64(m, "sotto_signaling_rate_limit_hits_total",
		    "limit=\"invites_per_room\"", st->invites_rate_limited);
	metrics_u64(m, "sotto_signaling_rate_limit_hits_total", "limit=\"join\"",
		    st->join_failed_rate);
	metrics_u64(m, "sotto_signaling_rate_limit_hits_total",
		    "limit=\"ws_messages\"", st->messages_rate_limited);
	metrics_histogram(m, "sotto_signaling_join_seconds",
			  "Time from a join message to the joined answer.",
			  &st->join_us, 1e-6);
}
