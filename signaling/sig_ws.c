/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WebSocket rooms (docs/signaling.md): join with a token in the first
 * message, then offer/answer/candidate relayed between the room's
 * participants, each stamped with the sender's server-assigned peer id and
 * passed through the SDP policy.
 *
 * Peers are never freed while a callback may still hold them: a closed
 * peer is detached from its room at once and freed on the next tick, so a
 * broadcast that makes another connection fail (and close) in the middle
 * of a loop still finds valid memory.
 */
#include "sig_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "ws.h"

static const struct ws_ops sig_ws_ops;

static void
send_json(struct sig_peer *p, json_t *j)
{
	char *txt;

	if (j == NULL)
		return;
	if (p->ws != NULL && !p->dead) {
		txt = json_dumps(j, JSON_COMPACT);
		if (txt != NULL) {
			ws_send_text(p->ws, txt, strlen(txt));
			explicit_bzero(txt, strlen(txt));
			free(txt);
		}
	}
	json_decref(j);
}

static void
send_error(struct sig_peer *p, const char *code, const char *reason,
	   const char *ref)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "type", "error", "error", code,
			      "reason", reason);

	if (j != NULL && ref != NULL)
		json_object_set_new(j, "ref", json_string(ref));
	send_json(p, j);
}

/* Sends to every participant of r except skip; a snapshot, because a send
 * can close a connection and change r->peers. */
static void
broadcast(struct room *r, const struct sig_peer *skip, json_t *j)
{
	struct sig_peer *snap[64];
	unsigned n = 0;
	char *txt = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (txt == NULL)
		return;
	for (unsigned i = 0; i < r->n_peers && n < 64; i++)
		if (r->peers[i] != skip)
			snap[n++] = r->peers[i];
	for (unsigned i = 0; i < n; i++)
		if (snap[i]->ws != NULL && !snap[i]->dead)
			ws_send_text(snap[i]->ws, txt, strlen(txt));
	free(txt);
}

static void
detach(struct sig *s, struct sig_peer *p)
{
	struct room *r = p->room;

	if (r == NULL)
		return;
	if (r->gw != NULL)
		gw_leave(s->gw, r->gw, p->hex);
	room_remove_peer(r, p, s->now_ms);
	s->st.peers_current--;
	broadcast(r, NULL, json_pack("{s:s, s:s}", "type", "peer-left", "peer",
				     p->hex));
}

void
sig_peer_remove(struct sig *s, struct sig_peer *p, const char *code,
		const char *reason)
{
	send_error(p, code, reason, NULL);
	detach(s, p);
	if (p->ws != NULL)
		ws_close(p->ws, 1008, code);
}

void
sig_room_shut(struct sig *s, struct room *r, const char *code,
	      const char *reason)
{
	struct sig_peer *snap[64];
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_peers && n < 64; i++)
		snap[n++] = r->peers[i];
	for (unsigned i = 0; i < n; i++) {
		struct sig_peer *p = snap[i];

		if (p->room == r) {
			room_remove_peer(r, p, s->now_ms);
			s->st.peers_current--;
		}
		send_error(p, code, reason, NULL);
		if (p->ws != NULL)
			ws_close(p->ws, 1000, code);
	}
	/* ws_close inside a receive callback closes later: nobody may
	 * point at r once it is freed */
	while (r->n_peers > 0) {
		r->peers[0]->room = NULL;
		room_remove_peer(r, r->peers[0], s->now_ms);
		s->st.peers_current--;
	}
	if (r->gw != NULL)
		gw_room_free(s->gw, r->gw); /* ends every leg */
	room_destroy(&s->rooms, r);
}

/* ---- messages --------------------------------------------------------- */

static bool
global_join_allowed(struct sig *s)
{
	uint64_t rate = s->cfg->signaling.joins_per_second; /* milli/ms */
	uint64_t burst = rate * 1000;

	if (rate == 0)
		return true;
	if (s->now_ms > s->join_last_ms) {
		s->join_tokens += (s->now_ms - s->join_last_ms) * rate;
		if (s->join_tokens > burst)
			s->join_tokens = burst;
		s->join_last_ms = s->now_ms;
	}
	if (s->join_tokens < 1000)
		return false;
	s->join_tokens -= 1000;
	return true;
}

/*
 * A display name: 1..PEER_NAME_MAX bytes of UTF-8 (jansson checked the
 * encoding), something other than spaces, and no control characters,
 * invisible or bidirectional formatting characters (which could make one
 * name read as another's or reorder the text around it).
 */
static bool
name_valid(const char *str, size_t len)
{
	const unsigned char *u = (const unsigned char *)str;
	bool visible = false;

	if (len == 0 || len > PEER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return false;
		if (u[i] != ' ')
			visible = true;
		/* C1 controls U+0080..U+009F */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] <= 0x9f)
			return false;
		if (u[i] == 0xe2 && i + 2 < len) {
			/* U+200B..U+200F, U+2028..U+202E */
			if (u[i + 1] == 0x80 &&
			    ((u[i + 2] >= 0x8b && u[i + 2] <= 0x8f) ||
			     (u[i + 2] >= 0xa8 && u[i + 2] <= 0xae)))
				return false;
			/* U+2060..U+206F (word joiner, isolates, …) */
			if (u[i + 1] == 0x81 && u[i + 2] >= 0xa0 &&
			    u[i + 2] <= 0xaf)
				return false;
		}
		/* U+FEFF */
		if (u[i] == 0xef && i + 2 < len && u[i + 1] == 0xbb &&
		    u[i + 2] == 0xbf)
			return false;
	}
	return visible;
}

const char *
sig_admission(const struct room *r, const struct sig_token_claims *c,
	      struct sig_peer **again)
{
	/* the creator's token and seat tokens name one person each: they
	 * come back (into a locked room too) and replace their old
	 * connection; invites bring someone new */
	bool returning = c->role == SIG_ROLE_CREATOR || c->use == SIG_USE_SEAT;
	struct sig_peer *same = NULL;

	if (again != NULL)
		*again = NULL;
	if (c->use == SIG_USE_ONCE && room_is_spent(r, c->jti))
		return "invite_used";
	for (unsigned i = 0; returning && i < r->n_peers && same == NULL; i++)
		if (strcmp(r->peers[i]->jti, c->jti) == 0)
			same = r->peers[i];
	if (same != NULL) {
		if (again != NULL)
			*again = same;
		return NULL;
	}
	if (r->n_peers >= r->max_participants)
		return "room_full";
	if (r->locked && !returning)
		return "room_locked";
	return NULL;
}

void
sig_refusals_flush(struct sig *s, struct room *r)
{
	json_t *j;
	char *txt;
	bool told = false;

	if (r->refused_pending == 0)
		return;
	j = json_pack("{s:s, s:s, s:i}", "type", "join-refused", "reason",
		      r->refused_reason, "count", (int)r->refused_pending);
	txt = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (txt == NULL)
		return;
	for (unsigned i = 0; i < r->n_peers; i++) {
		struct sig_peer *q = r->peers[i];

		if (q->role == SIG_ROLE_CREATOR && q->ws != NULL && !q->dead) {
			ws_send_text(q->ws, txt, strlen(txt));
			told = true;
		}
	}
	free(txt);
	/* kept for a creator who is away (reloading) until one is back */
	if (told) {
		r->refused_pending = 0;
		r->refused_told_ms = s->now_ms;
	}
}

/* A refused join, for the creator: at once, or with the next tick when
 * one was told less than a second ago (a flood of refusals is one
 * message a second). */
void
sig_tell_refused(struct sig *s, struct room *r, const char *code)
{
	if (r->refused_pending < UINT32_MAX)
		r->refused_pending++;
	r->refused_reason = code;
	if (r->refused_told_ms == 0 || s->now_ms - r->refused_told_ms >= 1000)
		sig_refusals_flush(s, r);
}

static const char *
refusal_text(const char *code)
{
	if (strcmp(code, "invite_used") == 0)
		return "this invite was used already";
	if (strcmp(code, "room_full") == 0)
		return "the room is full";
	return "the room is locked";
}

/* Who is in r, for "joined": peer, role, name (if any), muted. */
static json_t *
participants(const struct room *r)
{
	json_t *a = json_array();

	for (unsigned i = 0; a != NULL && i < r->n_peers; i++) {
		const struct sig_peer *q = r->peers[i];
		json_t *o = json_pack("{s:s, s:s, s:b}", "peer", q->hex, "role",
				      sig_role_name(q->role), "muted", q->muted);

		if (o != NULL && q->name[0] != '\0')
			json_object_set_new(o, "name", json_string(q->name));
		json_array_append_new(a, o);
	}
	return a;
}

static void
on_join(struct sig *s, struct sig_peer *p, json_t *msg)
{
	const char *tok = json_string_value(json_object_get(msg, "token"));
	json_t *name = json_object_get(msg, "name");
	uint64_t t0 = clock_mono_us();
	struct sig_token_claims c, sc;
	char seat[SIG_TOKEN_BUF] = "";
	struct sig_peer *again;
	const char *why = NULL;
	struct room *r;
	json_t *peers, *joined, *hello;

	if (p->room != NULL) {
		send_error(p, "already_joined", "this connection is in a room",
			   "join");
		return;
	}
	if (tok == NULL) {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "join needs a token", "join");
		return;
	}
	if (name != NULL && (!json_is_string(name) ||
			     !name_valid(json_string_value(name),
					 json_string_length(name)))) {
		s->st.messages_rejected++;
		send_error(p, "bad_message",
			   "name must be 1 to 64 bytes of text without control or formatting characters",
			   "join");
		return;
	}
	/* per IP first: one address spending its own budget must not
	 * spend everyone's */
	if (!rate_limit_allow(s->joins_rl, ws_peer(p->ws), s->now_ms) ||
	    !global_join_allowed(s)) {
		s->st.join_failed_rate++;
		send_error(p, "rate_limited", "too many joins, try again later",
			   "join");
		return;
	}
	r = NULL;
	if (sig_token_verify(s->keys, s->n_keys, tok, strlen(tok),
			     (int64_t)(clock_realtime_ms() / 1000), &c, &why) == 0) {
		r = room_find(&s->rooms, c.room);
		why = "invalid token or unknown room";
		if (r != NULL && room_is_kicked(r, c.jti))
			r = NULL;
	}
	if (r == NULL) {
		s->st.join_failed_token++;
		send_error(p, "invalid_token", why ? why : "invalid token",
			   "join");
		ws_close(p->ws, 1008, "invalid_token");
		return;
	}
	why = sig_admission(r, &c, &again);
	if (why != NULL) {
		if (strcmp(why, "room_full") == 0)
			s->st.join_failed_full++;
		else if (strcmp(why, "room_locked") == 0)
			s->st.join_failed_locked++;
		else
			s->st.join_failed_used++;
		send_error(p, why, refusal_text(why), "join");
		sig_tell_refused(s, r, why);
		return;
	}
	/* a single-use invite is spent by the join it lets in; a room that
	 * cannot remember one more refuses rather than forget it */
	if (c.use == SIG_USE_ONCE && room_spend(r, c.jti) < 0) {
		send_error(p, "unavailable",
			   "the room cannot take more invites; ask for a new call",
			   "join");
		return;
	}
	if (c.role == SIG_ROLE_CREATOR || c.use == SIG_USE_SEAT) {
		memcpy(p->jti, c.jti, sizeof(p->jti));
		p->invite_jti[0] = '\0';
	} else {
		/* someone new: a seat of their own, so that they can come
		 * back (and be removed) without the invite */
		memset(&sc, 0, sizeof(sc));
		if (sig_mint(s, r, SIG_ROLE_MEMBER, SIG_USE_SEAT,
			     s->cfg->signaling.token_ttl, seat, sizeof(seat),
			     &sc) < 0) {
			send_error(p, "unavailable", "cannot sign", "join");
			return;
		}
		memcpy(p->jti, sc.jti, sizeof(p->jti));
		memcpy(p->invite_jti, c.jti, sizeof(p->invite_jti));
	}
	if (again != NULL)
		sig_peer_remove(s, again, "replaced",
				"this participant joined again from another page");
	peers = json_array();
	for (unsigned i = 0; i < r->n_peers; i++)
		json_array_append_new(peers, json_string(r->peers[i]->hex));
	if (room_add_peer(r, p, s->now_ms) < 0) {
		/* sig_admission said there was a place */
		json_decref(peers);
		s->st.join_failed_full++;
		send_error(p, "room_full", "the room is full", "join");
		explicit_bzero(seat, sizeof(seat));
		return;
	}
	p->role = c.role;
	p->muted = false;
	if (name != NULL)
		snprintf(p->name, sizeof(p->name), "%s", json_string_value(name));
	s->st.joins++;
	s->st.peers_current++;
	if (r->auto_lock && r->n_peers >= r->max_participants)
		r->locked = true;
	joined = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:b, s:b}",
			   "type", "joined", "room", r->hex, "peer", p->hex,
			   "role", sig_role_name(c.role), "peers", peers,
			   "max_participants", (int)r->max_participants, "mode",
			   r->gateway ? "gateway" : "relay", "locked",
			   r->locked, "auto_lock", r->auto_lock);
	if (joined != NULL) {
		json_t *others = participants(r);

		/* everyone but the one joining, like "peers" */
		json_array_remove(others, json_array_size(others) - 1);
		json_object_set_new(joined, "participants", others);
		if (seat[0] != '\0')
			json_object_set_new(joined, "seat", json_string(seat));
		if (r->gateway)
			json_object_set_new(joined, "slots",
					    json_integer((json_int_t)gw_slots(s->gw)));
	}
	send_json(p, joined);
	explicit_bzero(seat, sizeof(seat));
	hello = json_pack("{s:s, s:s}", "type", "peer-joined", "peer", p->hex);
	if (hello != NULL && p->role == SIG_ROLE_CREATOR)
		json_object_set_new(hello, "role", json_string("creator"));
	if (hello != NULL && p->name[0] != '\0')
		json_object_set_new(hello, "name", json_string(p->name));
	broadcast(r, p, hello);
	/* a creator back from a reload hears what it missed */
	if (p->role == SIG_ROLE_CREATOR)
		sig_refusals_flush(s, r);
	metrics_hist_add(&s->st.join_us, clock_mono_us() - t0);
}

/* {"type":"status","muted":bool,"speaking":bool}: what the others' pages
 * show (a muted badge, a speaking ring); either field may be left out. */
static void
on_status(struct sig *s, struct sig_peer *p, json_t *msg)
{
	json_t *m = json_object_get(msg, "muted");
	json_t *sp = json_object_get(msg, "speaking");
	json_t *out;

	if (p->room == NULL) {
		s->st.messages_rejected++;
		send_error(p, "not_joined", "join a room first", "status");
		return;
	}
	if ((m != NULL && !json_is_boolean(m)) ||
	    (sp != NULL && !json_is_boolean(sp)) || (m == NULL && sp == NULL)) {
		s->st.messages_rejected++;
		send_error(p, "bad_message",
			   "status needs muted or speaking, true or false",
			   "status");
		return;
	}
	out = json_pack("{s:s, s:s}", "type", "status", "from", p->hex);
	if (out == NULL)
		return;
	if (m != NULL) {
		p->muted = json_is_true(m);
		json_object_set_new(out, "muted", json_boolean(p->muted));
	}
	if (sp != NULL)
		json_object_set_new(out, "speaking",
				    json_boolean(json_is_true(sp)));
	s->st.messages_relayed++;
	broadcast(p->room, p, out);
}

/* The addressee of a relayed message, or NULL after telling the sender. */
static struct sig_peer *
target(struct sig *s, struct sig_peer *p, json_t *msg, const char *type)
{
	const char *to = json_string_value(json_object_get(msg, "to"));
	struct sig_peer *t;

	if (p->room == NULL) {
		s->st.messages_rejected++;
		send_error(p, "not_joined", "join a room first", type);
		return NULL;
	}
	if (to == NULL) {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "missing \"to\"", type);
		return NULL;
	}
	t = room_peer(p->room, to);
	if (t == NULL || t == p) {
		s->st.messages_rejected++;
		send_error(p, "unknown_peer", "no such peer in the room", type);
		return NULL;
	}
	return t;
}

/* Gateway rooms: the gateway answers the offer itself. */
static void
on_gateway_sdp(struct sig *s, struct sig_peer *p, json_t *msg,
	       const char *type)
{
	const char *to = json_string_value(json_object_get(msg, "to"));
	json_t *sdp = json_object_get(msg, "sdp");
	const char *why = NULL;
	int n;

	if (strcmp(type, "offer") != 0 || (to != NULL && strcmp(to, "gateway") != 0)) {
		s->st.messages_rejected++;
		send_error(p, "bad_message",
			   "in a gateway room, offers go to \"gateway\" only",
			   type);
		return;
	}
	if (!json_is_string(sdp)) {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "missing \"sdp\"", type);
		return;
	}
	if (json_string_length(sdp) > s->cfg->signaling.max_sdp_bytes) {
		s->st.sdp_rejected++;
		send_error(p, "sdp_rejected", "SDP too large", type);
		return;
	}
	n = gw_offer(s->gw, p->room->gw, p->hex, json_string_value(sdp),
			json_string_length(sdp), s->sdp_out, s->sdp_out_cap,
			&why, s->now_ms);
	if (n < 0) {
		s->st.sdp_rejected++;
		send_error(p, "sdp_rejected", why ? why : "SDP rejected", type);
		return;
	}
	s->st.messages_relayed++;
	send_json(p, json_pack("{s:s, s:s, s:s%}", "type", "answer", "from",
			       "gateway", "sdp", s->sdp_out, (size_t)n));
}

void
sig_gateway_leg_ended(struct sig *s, const char *room_hex,
		      const char *peer_hex, const char *reason)
{
	struct room *r = room_find(&s->rooms, room_hex);
	struct sig_peer *p = r != NULL ? room_peer(r, peer_hex) : NULL;

	if (p != NULL)
		send_json(p, json_pack("{s:s, s:s}", "type",
				       "gateway-leg-ended", "reason", reason));
}

static void
on_sdp(struct sig *s, struct sig_peer *p, json_t *msg, const char *type)
{
	struct sig_peer *t;

	if (p->room != NULL && p->room->gateway) {
		on_gateway_sdp(s, p, msg, type);
		return;
	}
	t = target(s, p, msg, type);
	json_t *sdp = json_object_get(msg, "sdp");
	struct sdp_policy_result res;
	int n;

	if (t == NULL)
		return;
	if (!json_is_string(sdp)) {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "missing \"sdp\"", type);
		return;
	}
	n = sdp_policy_apply(&s->policy, json_string_value(sdp),
			     json_string_length(sdp), s->sdp_out,
			     s->sdp_out_cap, &res);
	if (n < 0) {
		s->st.sdp_rejected++;
		send_error(p, "sdp_rejected",
			   res.reason ? res.reason : "SDP rejected", type);
		return;
	}
	s->st.candidates_dropped += res.candidates_removed;
	s->st.messages_relayed++;
	send_json(t, json_pack("{s:s, s:s, s:s%}", "type", type, "from", p->hex,
			       "sdp", s->sdp_out, (size_t)n));
}

static void
on_candidate(struct sig *s, struct sig_peer *p, json_t *msg)
{
	struct sig_peer *t;
	json_t *cand = json_object_get(msg, "candidate"), *out, *v;
	const char *line;
	char rewritten[1024];
	int keep;

	/* ICE-lite learns the browser's address from its checks: trickled
	 * candidates for the gateway are not needed */
	if (p->room != NULL && p->room->gateway)
		return;
	t = target(s, p, msg, "candidate");
	if (t == NULL)
		return;
	if (cand == NULL || json_is_null(cand)) {
		/* end of candidates */
		s->st.messages_relayed++;
		send_json(t, json_pack("{s:s, s:s, s:n}", "type", "candidate",
				       "from", p->hex, "candidate"));
		return;
	}
	line = json_string_value(json_object_get(cand, "candidate"));
	if (!json_is_object(cand) || line == NULL) {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "candidate.candidate must be a string",
			   "candidate");
		return;
	}
	keep = sdp_policy_candidate_rewrite(line, strlen(line), rewritten,
					    sizeof(rewritten), NULL);
	if (keep == 0) {
		/* host/srflx/prflx: dropped silently, the relay is the
		 * only path this service allows */
		s->st.candidates_dropped++;
		return;
	}
	if (keep < 0) {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "malformed candidate", "candidate");
		return;
	}
	/* rebuilt from known fields only: nothing else rides along */
	out = json_pack("{s:s}", "candidate", rewritten);
	v = json_object_get(cand, "sdpMid");
	if (json_is_string(v) && json_string_length(v) <= 64)
		json_object_set(out, "sdpMid", v);
	v = json_object_get(cand, "sdpMLineIndex");
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < 64)
		json_object_set(out, "sdpMLineIndex", v);
	v = json_object_get(cand, "usernameFragment");
	if (json_is_string(v) && json_string_length(v) <= 256)
		json_object_set(out, "usernameFragment", v);
	s->st.messages_relayed++;
	send_json(t, json_pack("{s:s, s:s, s:o}", "type", "candidate", "from",
			       p->hex, "candidate", out));
}

static bool
message_allowed(struct sig_peer *p, uint64_t now_ms)
{
	const uint64_t burst = SIG_MSG_BURST * 1000ull;

	if (now_ms > p->msg_last_ms) {
		p->msg_tokens += (now_ms - p->msg_last_ms) * SIG_MSG_PER_SEC;
		if (p->msg_tokens > burst)
			p->msg_tokens = burst;
		p->msg_last_ms = now_ms;
	}
	if (p->msg_tokens < 1000)
		return false;
	p->msg_tokens -= 1000;
	return true;
}

static void
ws_message(struct ws_conn *w, const uint8_t *data, size_t len)
{
	struct sig_peer *p = ws_user(w);
	struct sig *s = p->sig;
	json_error_t err;
	const char *type;
	json_t *msg;

	s->now_ms = clock_mono_ms();
	if (!message_allowed(p, s->now_ms)) {
		s->st.messages_rate_limited++;
		/* a client that keeps flooding is not worth parsing for */
		if (++p->rl_dropped > SIG_MSG_FLOOD_CLOSE) {
			ws_close(w, 1008, "rate_limited");
			return;
		}
		/* answered at most once a second: a flood must not turn
		 * into a flood of answers */
		if (s->now_ms - p->rl_told_ms >= 1000) {
			p->rl_told_ms = s->now_ms;
			send_error(p, "rate_limited", "too many messages", NULL);
		}
		return;
	}
	p->rl_dropped = 0;
	msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
	type = json_string_value(json_object_get(msg, "type"));
	if (msg == NULL || !json_is_object(msg) || type == NULL) {
		s->st.messages_rejected++;
		send_error(p, "bad_message",
			   "expected a JSON object with a \"type\"", NULL);
		json_decref(msg);
		return;
	}
	if (strcmp(type, "join") == 0) {
		on_join(s, p, msg);
	} else if (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0) {
		on_sdp(s, p, msg, strcmp(type, "offer") == 0 ? "offer" : "answer");
	} else if (strcmp(type, "candidate") == 0) {
		on_candidate(s, p, msg);
	} else if (strcmp(type, "status") == 0) {
		on_status(s, p, msg);
	} else if (strcmp(type, "ping") == 0) {
		send_json(p, json_pack("{s:s}", "type", "pong"));
	} else if (strcmp(type, "leave") == 0) {
		detach(s, p);
		ws_close(w, 1000, "bye");
	} else {
		s->st.messages_rejected++;
		send_error(p, "bad_message", "unknown message type", NULL);
	}
	json_decref(msg);
}

static void
ws_tick(struct ws_conn *w, uint64_t now_ms)
{
	struct sig_peer *p = ws_user(w);
	struct sig *s = p->sig;

	if (p->room == NULL && !p->dead && now_ms > p->connected_ms &&
	    now_ms - p->connected_ms >= SIG_JOIN_TIMEOUT_MS) {
		s->st.join_failed_timeout++;
		send_error(p, "not_joined", "no join in time", NULL);
		ws_close(w, 1008, "join timeout");
	}
}

static void
ws_closed(struct ws_conn *w)
{
	struct sig_peer *p = ws_user(w);
	struct sig *s = p->sig;

	detach(s, p);
	p->ws = NULL;
	p->dead = true;
	p->next_dead = s->dead;
	s->dead = p;
	s->st.ws_current--;
}

static const struct ws_ops sig_ws_ops = {
	.message = ws_message,
	.tick = ws_tick,
	.closed = ws_closed,
};

void
sig_ws_free_dead(struct sig *s)
{
	while (s->dead != NULL) {
		struct sig_peer *p = s->dead;

		s->dead = p->next_dead;
		explicit_bzero(p, sizeof(*p));
		free(p);
	}
}

static bool
origin_allowed(const struct sig *s, const struct http_req *r)
{
	const char *o = http_header(r, "Origin");

	if (o == NULL)
		return s->cfg->signaling.allow_no_origin;
	for (unsigned i = 0; i < s->cfg->signaling.n_origins; i++)
		if (strcasecmp(o, s->cfg->signaling.origins[i]) == 0)
			return true;
	return false;
}

void
sig_ws_upgrade(struct sig *s, struct http_req *r)
{
	struct sig_peer *p;

	if (!origin_allowed(s, r)) {
		s->st.origin_rejected++;
		http_respond_error(r, 403, "forbidden", "origin not allowed",
				   NULL);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || getrandom(&p->id, sizeof(p->id), 0) != sizeof(p->id)) {
		free(p);
		http_respond_error(r, 503, "unavailable", "out of memory", NULL);
		return;
	}
	hex_encode((const uint8_t *)&p->id, sizeof(p->id), p->hex);
	p->sig = s;
	p->connected_ms = s->now_ms;
	p->msg_last_ms = s->now_ms;
	p->msg_tokens = SIG_MSG_BURST * 1000ull;
	p->ws = http_upgrade_websocket(r, &sig_ws_ops, p);
	if (p->ws == NULL) {
		free(p);
		return;
	}
	s->st.ws_connections++;
	s->st.ws_current++;
}

/* ---- for sottoctl ----------------------------------------------------- */

static json_t *
room_info(const struct sig *s, const struct room *r, bool full)
{
	char logid[9];
	json_t *j;

	room_log_id(r, logid);
	j = json_pack("{s:s, s:s, s:i, s:i, s:b, s:I, s:I}", "room",
		      full ? r->hex : logid, "mode",
		      r->gateway ? "gateway" : "relay", "participants",
		      (int)r->n_peers,
		      "max_participants", (int)r->max_participants, "locked",
		      r->locked, "age_s",
		      (json_int_t)((s->now_ms - r->created_ms) / 1000),
		      "expires_in_s",
		      (json_int_t)(r->expires_ms > s->now_ms ?
					   (r->expires_ms - s->now_ms) / 1000 : 0));
	if (full && j != NULL) {
		json_t *peers = json_array();

		for (unsigned i = 0; i < r->n_peers; i++)
			json_array_append_new(
				peers,
				json_pack("{s:s, s:s, s:I}", "peer",
					  r->peers[i]->hex, "role",
					  sig_role_name(r->peers[i]->role),
					  "connected_s",
					  (json_int_t)((s->now_ms -
							r->peers[i]->connected_ms) /
						       1000)));
		json_object_set_new(j, "peers", peers);
	}
	return j;
}

char *
sig_rooms_json(const struct sig *s)
{
	json_t *a = json_array();
	char *out;

	for (const struct room *r = s->rooms.all; r != NULL; r = r->next)
		json_array_append_new(a, room_info(s, r, false));
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

/* Rooms by id prefix (at least 8 hex digits, as listed), so an operator
 * never needs the full id, which only the participants should hold. */
static struct room *
room_by_prefix(const struct sig *s, const char *id)
{
	size_t len = strlen(id);
	struct room *found = NULL;

	if (len < 8 || len > SIG_ROOM_ID_HEX)
		return NULL;
	for (struct room *r = s->rooms.all; r != NULL; r = r->next) {
		if (strncmp(r->hex, id, len) != 0)
			continue;
		if (found != NULL)
			return NULL; /* ambiguous */
		found = r;
	}
	return found;
}

char *
sig_room_json(const struct sig *s, const char *id)
{
	struct room *r = room_by_prefix(s, id);
	json_t *j;
	char *out;

	if (r == NULL)
		return NULL;
	j = room_info(s, r, true);
	/* peers too, but the room id stays as short as the operator gave */
	json_object_set_new(j, "room", json_string(id));
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

int
sig_room_close(struct sig *s, const char *id)
{
	struct room *r = room_by_prefix(s, id);

	if (r == NULL)
		return -ENOENT;
	s->st.rooms_closed++;
	sig_room_shut(s, r, "room_closed", "closed by the operator");
	return 0;
}
