/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sig_load: signaling load through sottod's HTTP API and WebSocket
 * rooms (docs/signaling.md), many connections from one process.
 *
 * The unit of work is a pair, what two browsers do to set up a call:
 *
 *   POST /v1/rooms                  -> room id, creator token
 *   POST /v1/rooms/{id}/invites     -> member token (Bearer creator token)
 *   creator: GET /v1/ws (upgrade), {"type":"join"} -> "joined"
 *   member:  GET /v1/ws (upgrade), {"type":"join"} -> "joined" with the
 *            creator in "peers"; with offers on, the member then sends
 *            {"type":"offer","to":creator,"sdp":...} and the pair is done
 *            when the creator receives the (rewritten) offer, otherwise
 *            when the member has "joined" and the creator "peer-joined".
 *
 * Three phases, each optional, run in this order on one server:
 *
 *   hold     -n N: N/2 pairs join and stay, answering the server's pings,
 *            for -d seconds; the server's VmRSS before and after gives
 *            memory per connection.
 *   latency  -r R -t T: R new pairs per second for T seconds, with offers,
 *            on top of the held connections; join -> offer latency is the
 *            time from the member sending its join to the creator
 *            receiving the offer (both ends are this process, so one
 *            CLOCK_MONOTONIC serves both).
 *   joins    -j J: J joins (J/2 pairs) as fast as the server takes them,
 *            -W pairs in flight at once.
 *
 * Pairs of the latency and joins phases leave ({"type":"leave"}) once done,
 * so the server closes first and the TIME_WAIT state stays on its side.
 *
 * HTTP requests go over a small pool of keep-alive connections (-H). The
 * HTTP and WebSocket client is perf/lib's (pl_http.c, pl_ws.c: RFC 6455 §5
 * framing by hand); JSON is parsed with jansson. One thread, non-blocking
 * sockets, edge-triggered epoll. Traffic goes only to the address given
 * with -s (loopback by default).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "pl_client.h"
#include "pl_clock.h"
#include "pl_http.h"
#include "pl_proc.h"
#include "pl_stats.h"
#include "pl_ws.h"

#define SB_PAIR_TIMEOUT_NS (30 * PL_NS_PER_S)
#define SB_DRAIN_NS (15 * PL_NS_PER_S) /* latency phase: wait for stragglers */

enum sb_role { R_CREATOR, R_MEMBER };

enum sb_step { P_IDLE, P_ROOM, P_INVITE, P_CREATOR, P_MEMBER, P_DONE, P_FAILED };

enum sb_phase_id { PH_HOLD, PH_LATENCY, PH_JOINS, PH_COUNT };

struct sb_pair;

/* a WebSocket of a pair; the HTTP pool's connections are plain pl_conns */
struct sb_conn {
	struct pl_conn c;       /* first */
	uint8_t role;           /* enum sb_role */
	struct sb_pair *pair;   /* NULL once it left */
};

struct sb_pair {
	struct pl_http_req q;   /* the room, then the invite, on the pool */
	uint8_t phase;          /* enum sb_phase_id */
	uint8_t step;           /* enum sb_step */
	bool c_joined, c_saw_peer, m_joined, got_offer;
	char room[40];
	char *ctok, *mtok;
	struct sb_conn *c, *m;
	uint64_t t_start, t_join, t_ack, t_offer;
};

struct sb_phase {
	const char *name;
	struct sb_pair *pairs;
	unsigned n;
	unsigned started, done, failed, inflight;
	bool offer, stay;
	uint32_t *lat_us;       /* member join sent -> creator has the offer */
	uint32_t *ack_us;       /* member join sent -> member has "joined" */
	unsigned n_lat;
	uint64_t t_first, t_last;
};

struct sb {
	struct pl_client cl;
	int server_pid;
	bool quiet;

	char *sdp_json;         /* the offer SDP as a JSON string literal */
	size_t sdp_json_len;

	struct sb_phase ph[PH_COUNT];
	uint64_t held_lost;
};

/* what the command line asks for */
struct sb_opts {
	const char *ip, *sdp_path, *origin;
	unsigned port, api_port, held, hold_s, joins, window, lat_s, n_http;
	double lat_rate;
	bool joins_offer;
};

static struct sb *
sb_of(struct pl_client *cl)
{
	return PL_CONTAINER_OF(cl, struct sb, cl);
}

static struct sb_conn *
sb_conn_of(struct pl_conn *c)
{
	return PL_CONTAINER_OF(c, struct sb_conn, c);
}

static struct sb_pair *
pair_of(struct pl_http_req *q)
{
	return PL_CONTAINER_OF(q, struct sb_pair, q);
}

static void
note_error(struct sb *g, const char *code)
{
	pl_client_error(&g->cl, code);
}

/* ---- pairs ---- */

static void
phase_pair_ended(struct sb *g, struct sb_pair *p)
{
	struct sb_phase *ph = &g->ph[p->phase];
	uint64_t t = pl_now_ns();

	ph->inflight--;
	if (t > ph->t_last)
		ph->t_last = t;
}

static void
free_tokens(struct sb_pair *p)
{
	if (p->ctok != NULL)
		explicit_bzero(p->ctok, strlen(p->ctok));
	if (p->mtok != NULL)
		explicit_bzero(p->mtok, strlen(p->mtok));
	free(p->ctok);
	free(p->mtok);
	p->ctok = p->mtok = NULL;
}

static void
pair_close_ws(struct sb *g, struct sb_conn *c)
{
	if (c == NULL)
		return;
	c->pair = NULL;
	pl_conn_close(&g->cl, &c->c);
}

static void
pair_fail(struct sb *g, struct sb_pair *p, const char *why)
{
	if (p->step == P_FAILED)
		return;
	if (p->step == P_DONE) {
		/* a held pair that lost a connection */
		g->held_lost++;
	} else {
		g->ph[p->phase].failed++;
		phase_pair_ended(g, p);
	}
	note_error(g, why);
	p->step = P_FAILED;
	free_tokens(p);
	pair_close_ws(g, p->c);
	pair_close_ws(g, p->m);
	p->c = p->m = NULL;
}

static void
ws_leave(struct sb *g, struct sb_conn *c)
{
	if (c == NULL || c->c.state != PL_OPEN)
		return;
	c->pair = NULL;
	pl_ws_leave(&g->cl, &c->c);
}

static void
pair_check_done(struct sb *g, struct sb_pair *p)
{
	struct sb_phase *ph = &g->ph[p->phase];
	bool done = ph->offer ? p->got_offer : (p->m_joined && p->c_saw_peer);

	if (!done || p->step != P_MEMBER)
		return;
	p->step = P_DONE;
	ph->done++;
	phase_pair_ended(g, p);
	if (ph->offer && p->t_offer >= p->t_join)
		ph->lat_us[ph->n_lat] = (uint32_t)((p->t_offer - p->t_join) / 1000);
	if (p->t_ack >= p->t_join)
		ph->ack_us[ph->n_lat] = (uint32_t)((p->t_ack - p->t_join) / 1000);
	ph->n_lat++;
	free_tokens(p);
	if (!ph->stay) {
		ws_leave(g, p->c);
		ws_leave(g, p->m);
		p->c = p->m = NULL;
	}
}

static void
ws_connect(struct sb *g, struct sb_pair *p, enum sb_role role)
{
	struct pl_conn *pc = pl_conn_open(&g->cl, PL_KIND_WS);
	struct sb_conn *c;

	if (pc == NULL) {
		pair_fail(g, p, "ws_connect");
		return;
	}
	c = sb_conn_of(pc);
	c->role = (uint8_t)role;
	c->pair = p;
	if (role == R_CREATOR)
		p->c = c;
	else
		p->m = c;
}

static void
ws_send_offer(struct sb *g, struct sb_conn *c, const char *to)
{
	static const char a[] = "{\"type\":\"offer\",\"to\":\"",
			  b[] = "\",\"sdp\":", z[] = "}";
	size_t tl = strlen(to);
	size_t len = sizeof(a) - 1 + tl + sizeof(b) - 1 + g->sdp_json_len + 1;
	char *m = malloc(len);

	if (m == NULL) {
		pair_fail(g, c->pair, "client_oom");
		return;
	}
	memcpy(m, a, sizeof(a) - 1);
	memcpy(m + sizeof(a) - 1, to, tl);
	memcpy(m + sizeof(a) - 1 + tl, b, sizeof(b) - 1);
	memcpy(m + sizeof(a) - 1 + tl + sizeof(b) - 1, g->sdp_json,
	       g->sdp_json_len);
	memcpy(m + len - 1, z, 1);
	pl_ws_send_text(&g->cl, &c->c, m, len);
	free(m);
}

/* ---- the client's hooks ---- */

/* upgraded: join with the pair's token */
static void
on_ws_open(struct pl_client *cl, struct pl_conn *pc)
{
	struct sb *g = sb_of(cl);
	struct sb_conn *c = sb_conn_of(pc);
	struct sb_pair *p = c->pair;
	const char *tok;

	if (c->role == R_CREATOR) {
		tok = p->ctok;
	} else {
		p->t_join = pl_now_ns();
		tok = p->mtok;
	}
	if (pl_ws_send_json(cl, pc, json_pack("{s:s, s:s}", "type", "join",
					      "token", tok)) < 0)
		pair_fail(g, p, "client_oom");
}

/* A text message from the server, on a connection of pair p. */
static void
on_ws_text(struct pl_client *cl, struct pl_conn *pc, const uint8_t *data,
	   size_t len)
{
	struct sb *g = sb_of(cl);
	struct sb_conn *c = sb_conn_of(pc);
	struct sb_pair *p = c->pair;
	json_error_t err;
	json_t *j;
	const char *type;

	if (p == NULL)
		return; /* leaving, or a held pair's chatter */
	j = json_loadb((const char *)data, len, 0, &err);
	type = json_string_value(json_object_get(j, "type"));
	if (type == NULL) {
		json_decref(j);
		pair_fail(g, p, "client_bad_json");
		return;
	}
	if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(j, "error"));
		char why[64];

		snprintf(why, sizeof(why), "ws_%s", code ? code : "?");
		json_decref(j);
		pair_fail(g, p, why);
		return;
	}
	if (strcmp(type, "joined") == 0) {
		if (c->role == R_CREATOR && !p->c_joined) {
			p->c_joined = true;
			p->step = P_MEMBER;
			ws_connect(g, p, R_MEMBER);
		} else if (c->role == R_MEMBER && !p->m_joined) {
			const char *to = json_string_value(
				json_array_get(json_object_get(j, "peers"), 0));

			p->m_joined = true;
			p->t_ack = pl_now_ns();
			if (to == NULL) {
				json_decref(j);
				pair_fail(g, p, "joined_without_peer");
				return;
			}
			if (g->ph[p->phase].offer)
				ws_send_offer(g, c, to);
		}
	} else if (strcmp(type, "peer-joined") == 0) {
		if (c->role == R_CREATOR)
			p->c_saw_peer = true;
	} else if (strcmp(type, "offer") == 0) {
		if (c->role == R_CREATOR && !p->got_offer &&
		    json_is_string(json_object_get(j, "sdp"))) {
			p->got_offer = true;
			p->t_offer = pl_now_ns();
		}
	}
	json_decref(j);
	if (c->pair != NULL)
		pair_check_done(g, p);
}

static void
on_ws_fail(struct pl_client *cl, struct pl_conn *pc, const char *why)
{
	struct sb_conn *c = sb_conn_of(pc);

	if (c->pair != NULL)
		pair_fail(sb_of(cl), c->pair, why); /* closes c too */
	else
		pl_conn_close(cl, pc);
}

static bool
on_http_send(struct pl_client *cl, struct pl_conn *c, struct pl_http_req *q)
{
	struct sb_pair *p = pair_of(q);
	char path[128];

	/* pairs that failed while queued are skipped */
	if (p->step != P_ROOM && p->step != P_INVITE)
		return false;
	if (p->step == P_ROOM)
		snprintf(path, sizeof(path), "/v1/rooms");
	else
		snprintf(path, sizeof(path), "/v1/rooms/%s/invites", p->room);
	if (pl_http_post(cl, c, path, p->step == P_ROOM ? NULL : p->ctok,
			 NULL) < 0) {
		pair_fail(sb_of(cl), p, "client_request_too_long");
		return false;
	}
	return true;
}

static void
on_http_response(struct pl_client *cl, struct pl_http_req *q, int status,
		 const uint8_t *body, size_t blen)
{
	struct sb *g = sb_of(cl);
	struct sb_pair *p = pair_of(q);
	int req = p->step;
	json_error_t err;
	json_t *j;
	const char *tok, *room;

	if (req != P_ROOM && req != P_INVITE)
		return; /* the pair failed meanwhile */
	if (status != 201) {
		char why[48];

		snprintf(why, sizeof(why), "http_%s_%d",
			 req == P_ROOM ? "room" : "invite", status);
		pair_fail(g, p, why);
		return;
	}
	j = json_loadb((const char *)body, blen, 0, &err);
	tok = json_string_value(json_object_get(j, "token"));
	room = json_string_value(json_object_get(j, "room"));
	if (tok == NULL || (req == P_ROOM && (room == NULL ||
					      strlen(room) >= sizeof(p->room)))) {
		json_decref(j);
		pair_fail(g, p, "http_bad_body");
		return;
	}
	if (req == P_ROOM) {
		snprintf(p->room, sizeof(p->room), "%s", room);
		p->ctok = strdup(tok);
	} else {
		p->mtok = strdup(tok);
	}
	json_decref(j);
	if ((req == P_ROOM ? p->ctok : p->mtok) == NULL) {
		pair_fail(g, p, "client_oom");
	} else if (req == P_ROOM) {
		p->step = P_INVITE;
		pl_http_enqueue(cl, &p->q);
	} else {
		p->step = P_CREATOR;
		ws_connect(g, p, R_CREATOR);
	}
}

static void
on_http_gone(struct pl_client *cl, struct pl_http_req *q)
{
	pair_fail(sb_of(cl), pair_of(q), "http_closed");
}

static const struct pl_client_ops sb_ops = {
	.ws_open = on_ws_open,
	.ws_text = on_ws_text,
	.ws_fail = on_ws_fail,
	.http_send = on_http_send,
	.http_response = on_http_response,
	.http_gone = on_http_gone,
};

/* ---- phases ---- */

static void
pair_start(struct sb *g, struct sb_pair *p, enum sb_phase_id ph)
{
	struct sb_phase *phase = &g->ph[ph];

	p->phase = (uint8_t)ph;
	p->step = P_ROOM;
	p->t_start = pl_now_ns();
	if (phase->started == 0)
		phase->t_first = p->t_start;
	phase->started++;
	phase->inflight++;
	pl_http_enqueue(&g->cl, &p->q);
	pl_http_pump(&g->cl);
}

/* Fails pairs of phase ph that have been at it for longer than the
 * timeout: a stuck connection shows up as a count, not as a hang. */
static void
expire_pairs(struct sb *g, enum sb_phase_id ph, uint64_t now)
{
	struct sb_phase *phase = &g->ph[ph];

	for (unsigned i = 0; i < phase->started; i++) {
		struct sb_pair *p = &phase->pairs[i];

		if (p->step != P_DONE && p->step != P_FAILED &&
		    now > p->t_start + SB_PAIR_TIMEOUT_NS) {
			static const char *names[] = {
				"timeout_idle", "timeout_room", "timeout_invite",
				"timeout_creator_join", "timeout_member_join",
			};

			pair_fail(g, p, names[p->step]);
		}
	}
}

/*
 * Runs phase ph: starts its pairs (all at once within the window when
 * rate is 0, else rate per second), until every pair is done or failed.
 */
static void
run_phase(struct sb *g, enum sb_phase_id ph, unsigned window, double rate)
{
	struct sb_phase *phase = &g->ph[ph];
	uint64_t t0 = pl_now_ns(), next_expire = t0 + PL_NS_PER_S;
	uint64_t interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
	uint64_t hard_end = UINT64_MAX;

	if (rate > 0)
		hard_end = t0 + (uint64_t)phase->n * interval + SB_DRAIN_NS +
			   SB_PAIR_TIMEOUT_NS;
	while (!pl_stop && (phase->started < phase->n || phase->inflight > 0)) {
		uint64_t now = pl_now_ns();
		int timeout = 100;

		if (now > hard_end)
			break;
		if (rate > 0) {
			while (phase->started < phase->n &&
			       now >= t0 + phase->started * interval)
				pair_start(g, &phase->pairs[phase->started], ph);
			if (phase->started < phase->n) {
				uint64_t due = t0 + phase->started * interval;

				timeout = due > now ? (int)((due - now) / 1000000) : 0;
			}
		} else {
			while (phase->started < phase->n &&
			       phase->inflight < window)
				pair_start(g, &phase->pairs[phase->started], ph);
		}
		if (now >= next_expire) {
			expire_pairs(g, ph, now);
			next_expire = now + PL_NS_PER_S;
		}
		pl_client_poll(&g->cl, timeout);
	}
	/* whatever is still going when the phase ends counts as failed */
	for (unsigned i = 0; i < phase->started; i++) {
		struct sb_pair *p = &phase->pairs[i];

		if (p->step != P_DONE && p->step != P_FAILED)
			pair_fail(g, p, "phase_ended");
	}
	pl_client_free_closed(&g->cl);
}

/* Held connections: both ends of a done pair of the hold phase, open. */
static unsigned
count_held(const struct sb *g)
{
	const struct sb_phase *ph = &g->ph[PH_HOLD];
	unsigned n = 0;

	for (unsigned i = 0; i < ph->n; i++) {
		const struct sb_pair *p = &ph->pairs[i];

		if (p->step != P_DONE)
			continue;
		n += p->c != NULL && p->c->c.state == PL_OPEN;
		n += p->m != NULL && p->m->c.state == PL_OPEN;
	}
	return n;
}

/* the server's CPU s and s waiting for a CPU, ours too: totals so far,
 * or what a phase took */
struct sb_cost {
	double cpu, lg_cpu, wait, lg_wait;
};

static struct sb_cost
cost_now(const struct sb *g)
{
	return (struct sb_cost){
		.cpu = pl_proc_cpu_s(g->server_pid),
		.lg_cpu = pl_self_cpu_s(),
		.wait = pl_proc_runq_wait_s(g->server_pid),
		.lg_wait = pl_proc_runq_wait_s(getpid()),
	};
}

/* Runs phase id (run_phase) and returns what it cost; the server's CPU
 * is -1 if it could not be read at either end. */
static struct sb_cost
run_costed(struct sb *g, enum sb_phase_id id, unsigned window, double rate)
{
	struct sb_cost c0 = cost_now(g), c1;

	run_phase(g, id, window, rate);
	c1 = cost_now(g);
	return (struct sb_cost){
		.cpu = c0.cpu >= 0 && c1.cpu >= 0 ? c1.cpu - c0.cpu : -1,
		.lg_cpu = c1.lg_cpu - c0.lg_cpu,
		.wait = c1.wait - c0.wait,
		.lg_wait = c1.lg_wait - c0.lg_wait,
	};
}

static double
phase_elapsed_s(const struct sb_phase *ph)
{
	return (double)(ph->t_last - ph->t_first) / 1e9;
}

/* hold: N connections join and stay -d s; memory per connection */
static void
run_hold(struct sb *g, const struct sb_opts *o)
{
	struct sb_phase *ph = &g->ph[PH_HOLD];
	long rss0 = pl_proc_rss_kb(g->server_pid), rss_set, rss1, lg_rss;
	struct sb_cost c0 = cost_now(g);
	double cpu1, cpu2, setup_s;
	uint64_t t = pl_now_ns(), pings0;
	unsigned at_start, at_end;

	if (!g->quiet)
		fprintf(stderr, "sig_load: hold: %u connections (%u rooms)\n",
			ph->n * 2, ph->n);
	run_phase(g, PH_HOLD, o->window, 0);
	setup_s = (double)(pl_now_ns() - t) / 1e9;
	cpu1 = pl_proc_cpu_s(g->server_pid);
	rss_set = pl_proc_rss_kb(g->server_pid);
	at_start = count_held(g);
	pings0 = g->cl.pings;
	if (!g->quiet)
		fprintf(stderr, "sig_load: %u joined in %.2f s; holding %u s\n",
			at_start, setup_s, o->hold_s);
	pl_client_idle(&g->cl, (uint64_t)o->hold_s * PL_NS_PER_S);
	at_end = count_held(g);
	rss1 = pl_proc_rss_kb(g->server_pid);
	cpu2 = pl_proc_cpu_s(g->server_pid);
	lg_rss = pl_proc_rss_kb(getpid());
	printf("RESULT phase=hold requested=%u joined=%u held=%u "
	       "setup_s=%.2f hold_s=%u lost=%" PRIu64 " pings=%" PRIu64
	       " rss0_kb=%ld rss_joined_kb=%ld rss_kb=%ld "
	       "bytes_per_conn=%ld setup_cpu_s=%.2f hold_cpu_s=%.2f "
	       "lg_rss_kb=%ld lg_bytes_per_conn=%ld lg_cpu_s=%.2f "
	       "srv_runq_wait_s=%.2f lg_runq_wait_s=%.2f\n",
	       ph->n * 2, at_start, at_end, setup_s, o->hold_s,
	       g->held_lost, g->cl.pings - pings0, rss0, rss_set, rss1,
	       at_end && rss0 >= 0 && rss1 >= 0 ?
		       (rss1 - rss0) * 1024 / (long)at_end : -1,
	       c0.cpu >= 0 && cpu1 >= 0 ? cpu1 - c0.cpu : -1,
	       cpu1 >= 0 && cpu2 >= 0 ? cpu2 - cpu1 : -1, lg_rss,
	       at_end && lg_rss >= 0 ? lg_rss * 1024 / (long)at_end : -1,
	       pl_self_cpu_s(), pl_proc_runq_wait_s(g->server_pid) - c0.wait,
	       pl_proc_runq_wait_s(getpid()) - c0.lg_wait);
	fflush(stdout);
}

/* latency: -r pairs/s for -t s with offers, on top of what is held */
static void
run_latency(struct sb *g, const struct sb_opts *o)
{
	struct sb_phase *ph = &g->ph[PH_LATENCY];
	unsigned held0 = count_held(g);
	struct sb_cost c;

	if (!g->quiet)
		fprintf(stderr, "sig_load: latency: %.0f pairs/s for %u s "
			"on top of %u held connections\n",
			o->lat_rate, o->lat_s, held0);
	c = run_costed(g, PH_LATENCY, 0, o->lat_rate);
	pl_sort_u32(ph->lat_us, ph->n_lat);
	pl_sort_u32(ph->ack_us, ph->n_lat);
	printf("RESULT phase=latency rate=%.0f duration_s=%u pairs=%u "
	       "done=%u failed=%u held=%u elapsed_s=%.2f "
	       "offer_p50_us=%u offer_p90_us=%u offer_p99_us=%u "
	       "offer_max_us=%u joined_p50_us=%u joined_p99_us=%u "
	       "joined_max_us=%u cpu_s=%.2f lg_cpu_s=%.2f "
	       "srv_runq_wait_s=%.2f lg_runq_wait_s=%.2f\n",
	       o->lat_rate, o->lat_s, ph->n, ph->done, ph->failed, held0,
	       phase_elapsed_s(ph),
	       pl_pct_u32(ph->lat_us, ph->n_lat, 50),
	       pl_pct_u32(ph->lat_us, ph->n_lat, 90),
	       pl_pct_u32(ph->lat_us, ph->n_lat, 99),
	       ph->n_lat ? ph->lat_us[ph->n_lat - 1] : 0,
	       pl_pct_u32(ph->ack_us, ph->n_lat, 50),
	       pl_pct_u32(ph->ack_us, ph->n_lat, 99),
	       ph->n_lat ? ph->ack_us[ph->n_lat - 1] : 0,
	       c.cpu, c.lg_cpu, c.wait, c.lg_wait);
	fflush(stdout);
}

/* joins: -j joins as fast as the server takes them, -W pairs in flight */
static void
run_joins(struct sb *g, const struct sb_opts *o)
{
	struct sb_phase *ph = &g->ph[PH_JOINS];
	unsigned held0 = count_held(g);
	struct sb_cost c;
	double el;

	if (!g->quiet)
		fprintf(stderr, "sig_load: joins: %u pairs, %u in flight%s\n",
			ph->n, o->window, o->joins_offer ? ", with offers" : "");
	c = run_costed(g, PH_JOINS, o->window, 0);
	el = phase_elapsed_s(ph);
	pl_sort_u32(ph->ack_us, ph->n_lat);
	printf("RESULT phase=joins pairs=%u window=%u offers=%d done=%u "
	       "failed=%u held=%u elapsed_s=%.2f joins_per_s=%.0f "
	       "pairs_per_s=%.0f joined_p50_us=%u joined_p99_us=%u "
	       "cpu_s=%.2f cpu_us_per_join=%.0f lg_cpu_s=%.2f "
	       "srv_runq_wait_s=%.2f lg_runq_wait_s=%.2f\n",
	       ph->n, o->window, o->joins_offer, ph->done, ph->failed, held0, el,
	       el > 0 ? 2.0 * ph->done / el : 0,
	       el > 0 ? ph->done / el : 0,
	       pl_pct_u32(ph->ack_us, ph->n_lat, 50),
	       pl_pct_u32(ph->ack_us, ph->n_lat, 99),
	       c.cpu, c.cpu >= 0 && ph->done ? c.cpu * 1e6 / (2.0 * ph->done) : -1,
	       c.lg_cpu, c.wait, c.lg_wait);
	fflush(stdout);
}

/* ---- set-up ---- */

/* The SDP file as a JSON string literal ("v=0\r\n..."). */
static int
load_sdp(struct sb *g, const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;
	json_t *s;

	if (f == NULL)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n == sizeof(buf))
		return -EINVAL;
	s = json_stringn(buf, n);
	g->sdp_json = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	if (g->sdp_json == NULL)
		return -EINVAL;
	g->sdp_json_len = strlen(g->sdp_json);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: sig_load -p port [-s ip] [-A api-port] [-P server-pid]\n"
		"         [-n held] [-d hold-s] [-r pairs/s -t s] [-j joins]\n"
		"         [-W pairs-in-flight] [-O] [-f offer.sdp] [-H http-conns]\n"
		"         [-o origin] [-q]\n"
		"  -n N   N WebSocket connections (N/2 rooms) join and stay -d s\n"
		"  -r/-t  R pairs/s for T s, member offers, join->offer latency\n"
		"  -j J   J joins (J/2 pairs) as fast as possible, -W in flight;\n"
		"         -O: each pair also relays an offer\n"
		"  -A     port of the HTTP API when it is not the WebSocket's\n");
	exit(2);
}

static void
parse_options(int argc, char **argv, struct sb_opts *o, struct sb *g)
{
	struct in_addr a4;
	int c;

	*o = (struct sb_opts){ .ip = "127.0.0.1", .hold_s = 30, .window = 128,
			       .lat_s = 20, .n_http = 32 };
	while ((c = getopt(argc, argv, "s:p:A:P:n:d:r:t:j:W:Of:H:o:qh")) != -1) {
		switch (c) {
		case 's': o->ip = optarg; break;
		case 'p': o->port = (unsigned)atoi(optarg); break;
		case 'A': o->api_port = (unsigned)atoi(optarg); break;
		case 'P': g->server_pid = atoi(optarg); break;
		case 'n': o->held = (unsigned)atoi(optarg); break;
		case 'd': o->hold_s = (unsigned)atoi(optarg); break;
		case 'r': o->lat_rate = atof(optarg); break;
		case 't': o->lat_s = (unsigned)atoi(optarg); break;
		case 'j': o->joins = (unsigned)atoi(optarg); break;
		case 'W': o->window = (unsigned)atoi(optarg); break;
		case 'O': o->joins_offer = true; break;
		case 'f': o->sdp_path = optarg; break;
		case 'H': o->n_http = (unsigned)atoi(optarg); break;
		case 'o': o->origin = optarg; break;
		case 'q': g->quiet = true; break;
		default: usage();
		}
	}
	if (o->api_port == 0)
		o->api_port = o->port;
	if (o->port == 0 || o->port > 65535 || o->api_port > 65535 ||
	    inet_pton(AF_INET, o->ip, &a4) != 1 || o->held > 1000000 ||
	    o->joins > 10000000 || o->window == 0 || o->n_http == 0 ||
	    o->n_http > PL_HTTP_MAX || o->hold_s > 3600 || o->lat_s > 3600 ||
	    o->lat_rate < 0 || o->lat_rate > 100000 ||
	    (o->held == 0 && o->lat_rate == 0 && o->joins == 0))
		usage();
	if ((o->lat_rate > 0 || o->joins_offer) && o->sdp_path == NULL) {
		fprintf(stderr, "sig_load: offers need -f offer.sdp\n");
		exit(2);
	}
	if (o->sdp_path != NULL && load_sdp(g, o->sdp_path) < 0) {
		fprintf(stderr, "sig_load: cannot read %s\n", o->sdp_path);
		exit(2);
	}
}

/* The client and the phases' pairs; 0 or -errno. */
static int
setup(struct sb *g, const struct sb_opts *o)
{
	struct pl_client *cl = &g->cl;
	int rc = pl_client_init(cl, &sb_ops, sizeof(struct sb_conn));

	if (rc < 0)
		return rc;
	cl->n_http = o->n_http;
	cl->ws_addr.sin_family = AF_INET;
	inet_pton(AF_INET, o->ip, &cl->ws_addr.sin_addr);
	cl->ws_addr.sin_port = htons((uint16_t)o->port);
	cl->api_addr = cl->ws_addr;
	cl->api_addr.sin_port = htons((uint16_t)o->api_port);
	snprintf(cl->host, sizeof(cl->host), "%s:%u", o->ip, o->port);
	snprintf(cl->origin, sizeof(cl->origin), "%s",
		 o->origin ? o->origin : "");

	/* two descriptors per pair in the hold phase, plus the rest: as
	 * many as we are allowed */
	pl_proc_raise_nofile();
	pl_proc_catch_stop();

	g->ph[PH_HOLD] = (struct sb_phase){ .name = "hold", .n = o->held / 2,
					    .stay = true };
	g->ph[PH_LATENCY] = (struct sb_phase){
		.name = "latency", .n = (unsigned)(o->lat_rate * o->lat_s),
		.offer = true };
	g->ph[PH_JOINS] = (struct sb_phase){ .name = "joins", .n = o->joins / 2,
					     .offer = o->joins_offer };
	for (int i = 0; i < PH_COUNT; i++) {
		struct sb_phase *ph = &g->ph[i];
		size_t n = ph->n ? ph->n : 1;

		ph->pairs = calloc(n, sizeof(*ph->pairs));
		ph->lat_us = calloc(n, sizeof(*ph->lat_us));
		ph->ack_us = calloc(n, sizeof(*ph->ack_us));
		if (ph->pairs == NULL || ph->lat_us == NULL || ph->ack_us == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sb *g = calloc(1, sizeof(*g));
	struct sb_opts o;
	int rc;

	if (g == NULL)
		return 1;
	parse_options(argc, argv, &o, g);
	rc = setup(g, &o);
	if (rc < 0) {
		fprintf(stderr, "sig_load: init: %s\n", strerror(-rc));
		return 1;
	}
	if (o.held > 0)
		run_hold(g, &o);
	if (o.lat_rate > 0)
		run_latency(g, &o);
	if (o.joins > 0)
		run_joins(g, &o);
	pl_client_drain(&g->cl, SB_DRAIN_NS);
	pl_errors_print(&g->cl.errors, stdout);
	printf("\n");
	if (o.held > 0)
		printf("RESULT phase=end held=%u lost=%" PRIu64 "\n",
		       count_held(g), g->held_lost);
	return pl_stop ? 130 : 0;
}
