/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway legs: ICE-lite (RFC 8445 §2.5), consent (RFC 7675), DTLS-SRTP
 * termination (control/gateway/dtls.c) and the hand-over of SRTP keys to
 * the dataplane (dataplane/gw/dp_gw_fwd.c). See gw.h and docs/architecture.md.
 *
 * Addresses. A valid ICE check (USERNAME "ours:theirs", MESSAGE-INTEGRITY
 * with the leg's password, FINGERPRINT) is answered, but it only names an
 * address: whoever holds the password — the participant — can send one
 * with any source. So before sotto sends anything else there (a DTLS
 * flight, media) it asks that address itself (RFC 7675 §5.1): a Binding
 * request of its own, USERNAME "theirs:ours" and MESSAGE-INTEGRITY with the
 * browser's password from its offer, a fresh random transaction id, sent
 * at once and again at RFC 8445 pace (a probe). Only a valid answer from
 * that address to the address it was sent from gives consent, and only
 * then does the leg take the address (and DTLS from it is read, held
 * datagrams included). A leg with an address moves only on a valid check
 * with USE-CANDIDATE from elsewhere (the browser nominated that pair: ICE
 * restart, network change), at most once a second, and again only once
 * its probe there is answered; checks without USE-CANDIDATE from
 * elsewhere are answered but move nothing.
 *
 * Consent is kept the same way: a check to the leg's address every
 * consent_timeout / 6 (5 s of 30 s, randomised 0.8..1.2), each with a new
 * transaction id and sent once; consent lasts consent_timeout from the
 * sending of the last check that was answered. The leg also needs the
 * browser's own checks: it ends (consent_lost) when either has been
 * missing for consent_timeout. Checks from elsewhere refresh nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dtls.h"
#include "dp_gw.h"
#include "gw.h"
#include "gw_sdp.h"
#include "log.h"
#include "stun.h"

#define MOD "gateway"
#define UFRAG_LEN 8
#define PWD_LEN 24
/* A leg moves at most this often: each move takes a table entry until the
 * next RCU grace period, and a move is logged. */
#define GW_MOVE_MIN_MS 1000
/* Probes (our check to an address without consent yet): at most this many
 * per leg at once while it has no address, one for a move. RFC 8445 §14.3
 * and RFC 8489 §6.2.1 pacing: the first at once, then after 50 ms, doubling
 * to 1.6 s, 8 in all (the 100 ms tick rounds up; a check from the probed
 * address sends one that is due at once); given up 1.6 s after the last. */
#define GW_PROBES 2
#define GW_PROBE_RTO_MS 50
#define GW_PROBE_RTO_MAX_MS 1600
#define GW_PROBE_TRIES 8
/* Consent checks outstanding per leg: one every >= 0.8 * consent / 6, so
 * at most 7.5 fall within one consent period. */
#define GW_FRESH 8
/* DTLS datagrams from an address being probed, kept until its consent
 * (a ClientHello often overtakes the answer to our check) */
#define GW_EARLY 4
#define GW_EARLY_MAX_LEN 2048

#define GW_END_REASONS(X)                                                     \
	X(LEFT, "left")                                                       \
	X(REPLACED, "replaced")                                               \
	X(ROOM_CLOSED, "room_closed")                                         \
	X(CONSENT, "consent_lost")                                            \
	X(DTLS_FAILED, "dtls_failed")                                         \
	X(TIMEOUT, "handshake_timeout")                                       \
	X(DATAPLANE, "dataplane_error")                                       \
	X(SHUTDOWN, "shutdown")

enum gw_end {
#define X(name, label) END_##name,
	GW_END_REASONS(X)
#undef X
	END_COUNT
};

static const char *const end_labels[END_COUNT] = {
#define X(name, label) label,
	GW_END_REASONS(X)
#undef X
};

#define GW_ICE_RESULTS(X)                                                     \
	X(OK, "ok")                                                           \
	X(MALFORMED, "malformed")        /* not a Binding request, bad FP */ \
	X(UNKNOWN_UFRAG, "unknown_ufrag")                                     \
	X(BAD_AUTH, "bad_integrity")     /* wrong password or remote ufrag */ \
	X(OTHER_PAIR, "other_pair")      /* valid, another address, no move */

enum gw_ice {
#define X(name, label) ICE_##name,
	GW_ICE_RESULTS(X)
#undef X
	ICE_COUNT
};

static const char *const ice_labels[ICE_COUNT] = {
#define X(name, label) label,
	GW_ICE_RESULTS(X)
#undef X
};

#define GW_CONSENT_RESULTS(X)                                                 \
	X(SENT, "sent")                 /* requests sent, resends included */ \
	X(ANSWERED, "answered")         /* a valid answer: consent */         \
	X(TIMEOUT, "timeout")           /* no answer in time */               \
	X(ERROR, "error")               /* an error response */               \
	X(BAD_RESPONSE, "bad_response") /* matches no check, or bad MI/FP */

enum gw_consent {
#define X(name, label) CONSENT_##name,
	GW_CONSENT_RESULTS(X)
#undef X
	CONSENT_COUNT
};

static const char *const consent_labels[CONSENT_COUNT] = {
#define X(name, label) label,
	GW_CONSENT_RESULTS(X)
#undef X
};

/* LEG_ICE: no address with consent yet; LEG_DTLS: one, handshaking */
enum leg_state { LEG_ICE, LEG_DTLS, LEG_UP };

struct gw_leg;

/* Our check to an address a valid check came from, until it is answered
 * (consent: the leg takes or moves to the address) or given up. */
struct gw_probe {
	struct gw_probe *next;           /* by_probe chain */
	struct gw_leg *leg;
	bool active;
	bool nominated;                  /* a check from there had USE-CANDIDATE */
	struct sotto_addr remote, local;
	uint32_t sock;
	uint8_t tid[STUN_TID_LEN];
	uint8_t tries;
	uint32_t rto_ms;
	uint64_t started_ms;             /* first sent */
	uint64_t next_ms;                /* next resend, or the give-up */
	uint64_t last_in_ms;             /* the last valid check from there */
};

/* A consent check to the leg's address (RFC 7675 §5.1): sent once. */
enum fresh_state { FRESH_FREE, FRESH_OUT, FRESH_DONE };
struct gw_fresh {
	uint8_t tid[STUN_TID_LEN];
	uint8_t state;
	uint64_t sent_ms;
};

/* A DTLS datagram from an address being probed, held until consent. */
struct gw_early {
	uint8_t *p;
	uint16_t len;
	struct sotto_addr remote, local;
};

struct gw_leg {
	struct gw *g;
	struct gw_room *room;
	struct gw_leg *rnext;             /* the room's legs */
	struct gw_leg *uf_next, *tu_next; /* hash chains */
	struct gw_leg *prev, *next;       /* every leg */
	char peer_hex[17];
	char ufrag[UFRAG_LEN + 1];
	char pwd[PWD_LEN + 1];
	char remote_ufrag[257];
	char remote_pwd[257];            /* the browser's, for our checks */
	uint8_t tiebreak[8];             /* ICE-CONTROLLED in our checks */
	enum leg_state state;
	/* the address with consent: DTLS and media go there and nowhere else */
	bool has_addr;
	struct sotto_addr remote, local;
	uint32_t sock;
	uint64_t created_ms, last_check_ms, last_move_ms;
	struct gw_probe probe[GW_PROBES];
	struct gw_fresh fresh[GW_FRESH];
	unsigned fresh_next;
	uint64_t consent_until_ms, next_fresh_ms;
	struct gw_early early[GW_EARLY];
	unsigned n_early;
	struct dtls_leg *dtls;
	struct dtls_keybuf keys;
	struct gw_answer_info info;
	uint32_t slot_ssrcs[DP_GW_MAX_SLOTS];
	struct dp_gw_leg *dp;
	/* DTLS datagrams made during one input, sent after the keys are in
	 * the dataplane (see gw_dtls) */
	struct rte_mbuf *held[8];
	unsigned n_held;
	bool holding;
};

struct gw_room {
	struct gw *g;
	char hex[33];
	struct dp_gw_room *dp;
	struct gw_leg *legs;
	unsigned n_legs;
};

/* A leg that ended on its own, to tell signaling once no walk over the
 * legs is in progress (the hook may end other legs). */
struct gw_notice {
	struct gw_notice *next;
	char room_hex[33], peer_hex[17];
	const char *reason;
};

struct gw {
	const struct sotto_config *cfg;
	struct dp_ctx *dp;
	struct dtls_ctx *dtls;
	struct gw_hooks hooks;
	struct gw_leg **by_ufrag, **by_tuple;
	struct gw_probe **by_probe;      /* active probes by address */
	uint32_t mask;
	struct gw_leg *all;
	uint32_t n_legs, max_legs, n_rooms, room_seq;
	uint32_t n_up;                   /* legs in LEG_UP now */
	unsigned slots;
	uint64_t consent_ms, handshake_ms;
	uint64_t ice[ICE_COUNT];
	uint64_t ended[END_COUNT];
	uint64_t consent[CONSENT_COUNT];
	uint64_t offers, offers_rejected, legs_up, moves;
	uint64_t dtls_unknown;           /* DTLS from an address with no leg */
	uint64_t dtls_to_dp_failed;
	struct gw_notice *notices, **notices_tail;
};

/* Delivers the queued leg_ended notices. */
static void
flush_notices(struct gw *g)
{
	struct gw_notice *n;

	while ((n = g->notices) != NULL) {
		g->notices = n->next;
		if (g->notices == NULL)
			g->notices_tail = &g->notices;
		if (g->hooks.leg_ended != NULL)
			g->hooks.leg_ended(g->hooks.sig, n->room_hex,
					   n->peer_hex, n->reason);
		free(n);
	}
}

/* ---- lookups ---- */

static uint32_t
hash_bytes(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t
tuple_hash(const struct sotto_addr *remote, const struct sotto_addr *local)
{
	struct { struct sotto_addr r, l; } k;

	memset(&k, 0, sizeof(k));
	k.r = *remote;
	k.l = *local;
	return hash_bytes(&k, sizeof(k));
}

static struct gw_leg *
find_ufrag(struct gw *g, const char *uf, size_t len)
{
	struct gw_leg *l = g->by_ufrag[hash_bytes(uf, len) & g->mask];

	for (; l != NULL; l = l->uf_next)
		if (len == UFRAG_LEN && memcmp(l->ufrag, uf, len) == 0)
			return l;
	return NULL;
}

static struct gw_leg *
find_tuple(struct gw *g, const struct sotto_addr *remote,
	   const struct sotto_addr *local)
{
	struct gw_leg *l = g->by_tuple[tuple_hash(remote, local) & g->mask];

	for (; l != NULL; l = l->tu_next)
		if (sotto_addr_eq(&l->remote, remote) &&
		    sotto_addr_eq(&l->local, local))
			return l;
	return NULL;
}

static void
unlink_from(struct gw_leg **head, struct gw_leg *l, bool tuple)
{
	for (struct gw_leg **pp = head; *pp != NULL;
	     pp = tuple ? &(*pp)->tu_next : &(*pp)->uf_next)
		if (*pp == l) {
			*pp = tuple ? l->tu_next : l->uf_next;
			return;
		}
}

static void
tuple_remove(struct gw *g, struct gw_leg *l)
{
	if (l->has_addr)
		unlink_from(&g->by_tuple[tuple_hash(&l->remote, &l->local) &
					 g->mask], l, true);
}

static void
tuple_insert(struct gw *g, struct gw_leg *l)
{
	struct gw_leg **b = &g->by_tuple[tuple_hash(&l->remote, &l->local) &
					 g->mask];
	l->tu_next = *b;
	*b = l;
}

static uint32_t
probe_bucket(const struct gw *g, const struct sotto_addr *remote,
	     const struct sotto_addr *local)
{
	return tuple_hash(remote, local) & g->mask;
}

/* The active probe of any leg to remote from local whose transaction id
 * is tid (NULL: any tid, the first found). */
static struct gw_probe *
find_probe(struct gw *g, const struct sotto_addr *remote,
	   const struct sotto_addr *local, const uint8_t *tid)
{
	struct gw_probe *p = g->by_probe[probe_bucket(g, remote, local)];

	for (; p != NULL; p = p->next)
		if (sotto_addr_eq(&p->remote, remote) &&
		    sotto_addr_eq(&p->local, local) &&
		    (tid == NULL || memcmp(p->tid, tid, STUN_TID_LEN) == 0))
			return p;
	return NULL;
}

/* This leg's active probe to remote from local, if any. */
static struct gw_probe *
leg_probe(struct gw_leg *l, const struct sotto_addr *remote,
	  const struct sotto_addr *local)
{
	for (unsigned i = 0; i < GW_PROBES; i++) {
		struct gw_probe *p = &l->probe[i];
		if (p->active && sotto_addr_eq(&p->remote, remote) &&
		    sotto_addr_eq(&p->local, local))
			return p;
	}
	return NULL;
}

/* Drops the held DTLS datagrams from remote/local (all with NULL). */
static void
early_drop(struct gw_leg *l, const struct sotto_addr *remote,
	   const struct sotto_addr *local)
{
	unsigned k = 0;

	for (unsigned i = 0; i < l->n_early; i++) {
		struct gw_early *e = &l->early[i];
		if (remote == NULL || (sotto_addr_eq(&e->remote, remote) &&
				       sotto_addr_eq(&e->local, local))) {
			free(e->p);
			continue;
		}
		l->early[k++] = *e;
	}
	l->n_early = k;
}

/* The probe ends: answered, given up or no longer wanted. */
static void
probe_stop(struct gw *g, struct gw_probe *p)
{
	struct gw_probe **pp = &g->by_probe[probe_bucket(g, &p->remote,
							 &p->local)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	early_drop(p->leg, &p->remote, &p->local);
	p->active = false;
	p->next = NULL;
}

/* ---- sending ---- */

/* dtls_emit_fn: a DTLS datagram to the leg's browser */
static void
dtls_emit(void *arg, const uint8_t *p, size_t len)
{
	struct gw_leg *l = arg;
	struct rte_mbuf *m;

	if (!l->has_addr)
		return;
	if (!l->holding) {
		dp_ctx_send(l->g->dp, &l->local, &l->remote, l->sock, p, len);
		return;
	}
	m = dp_ctx_packet(l->g->dp, &l->local, &l->remote, l->sock, p, len);
	if (m == NULL)
		return;
	if (l->n_held == sizeof(l->held) / sizeof(l->held[0])) {
		dp_ctx_send_pkts(l->g->dp, l->sock, l->held, l->n_held);
		l->n_held = 0;
	}
	l->held[l->n_held++] = m;
}

/* Sends what dtls_emit held back. */
static void
release_held(struct gw *g, struct gw_leg *l)
{
	dp_ctx_send_pkts(g->dp, l->sock, l->held, l->n_held);
	l->n_held = 0;
	l->holding = false;
}

/* ---- leg lifetime ---- */

static void
end_leg(struct gw *g, struct gw_leg *l, enum gw_end why, bool notify)
{
	char room_hex[33], peer_hex[17];
	char rid[9];

	snprintf(room_hex, sizeof(room_hex), "%s", l->room->hex);
	snprintf(peer_hex, sizeof(peer_hex), "%s", l->peer_hex);
	snprintf(rid, sizeof(rid), "%.8s", room_hex);

	unlink_from(&g->by_ufrag[hash_bytes(l->ufrag, UFRAG_LEN) & g->mask], l,
		    false);
	tuple_remove(g, l);
	for (unsigned i = 0; i < GW_PROBES; i++)
		if (l->probe[i].active)
			probe_stop(g, &l->probe[i]);
	early_drop(l, NULL, NULL);
	for (struct gw_leg **pp = &l->room->legs; *pp != NULL; pp = &(*pp)->rnext)
		if (*pp == l) {
			*pp = l->rnext;
			break;
		}
	l->room->n_legs--;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		g->all = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	g->n_legs--;
	if (l->state == LEG_UP)
		g->n_up--;

	if (l->dtls != NULL && l->has_addr &&
	    dtls_leg_status(l->dtls) == DTLS_DONE &&
	    (why == END_LEFT || why == END_REPLACED || why == END_ROOM_CLOSED ||
	     why == END_SHUTDOWN))
		dtls_leg_shutdown(l->dtls, dtls_emit, l);
	dtls_leg_free(l->dtls);
	/* an alert made by a failed handshake still goes out */
	dp_ctx_send_pkts(g->dp, l->sock, l->held, l->n_held);
	if (l->dp != NULL &&
	    dp_gw_leg_unpublish(g->dp, l->dp, NULL, NULL) < 0)
		log_warn(MOD, "leg unpublish failed room=%s peer=%s", rid,
			 peer_hex);
	explicit_bzero(&l->keys, sizeof(l->keys));
	explicit_bzero(l->pwd, sizeof(l->pwd));
	explicit_bzero(l->remote_pwd, sizeof(l->remote_pwd));
	g->ended[why]++;
	log_info(MOD, "leg ended room=%s peer=%s reason=%s", rid, peer_hex,
		 end_labels[why]);
	free(l);

	if (notify && g->hooks.leg_ended != NULL) {
		struct gw_notice *n = calloc(1, sizeof(*n));

		if (n == NULL)
			return; /* the participant is not told; the leg is gone */
		memcpy(n->room_hex, room_hex, sizeof(n->room_hex));
		memcpy(n->peer_hex, peer_hex, sizeof(n->peer_hex));
		n->reason = end_labels[why];
		*g->notices_tail = n;
		g->notices_tail = &n->next;
	}
}

/* DTLS is done: the SRTP keys go to the dataplane. */
static int
install(struct gw *g, struct gw_leg *l)
{
	struct dtls_srtp_keys k;
	struct dp_srtp_master local, remote;
	struct dp_gw_leg_params p;
	struct dp_gw_leg *d;
	int ret;

	if (dtls_leg_srtp_keys(l->dtls, &k) < 0 ||
	    k.key_len > sizeof(local.key) || k.salt_len > sizeof(local.salt))
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	local.key_len = remote.key_len = (uint8_t)k.key_len;
	local.salt_len = remote.salt_len = (uint8_t)k.salt_len;
	memcpy(local.key, k.local, k.key_len);
	memcpy(local.salt, k.local + k.key_len, k.salt_len);
	memcpy(remote.key, k.remote, k.key_len);
	memcpy(remote.salt, k.remote + k.key_len, k.salt_len);

	p.room = l->room->dp;
	p.owner = l;
	p.remote = l->remote;
	p.local = l->local;
	p.sock = l->sock;
	p.profile = (enum dp_srtp_profile)k.profile;
	p.remote_key = &remote;
	p.local_key = &local;
	p.ssrcs = l->info.ssrcs;
	p.n_ssrcs = l->info.n_ssrcs;
	p.n_slots = (uint8_t)l->info.n_slots;
	p.slot_ssrcs = l->slot_ssrcs;
	p.level_id = l->info.level_id;
	p.pt = l->info.n_slots ? l->info.slot_pt[0] : l->info.send_pt;
	p.cname = "sotto";
	p.in_cap = g->cfg->gateway.leg_bandwidth;
	d = dp_gw_leg_new(g->dp, &p);
	ret = d == NULL ? -errno : 0;
	explicit_bzero(&local, sizeof(local));
	explicit_bzero(&remote, sizeof(remote));
	if (d == NULL)
		return ret;
	ret = dp_gw_leg_publish(g->dp, d);
	if (ret < 0) {
		dp_gw_leg_discard(d);
		return ret;
	}
	l->dp = d;
	return 0;
}

/* After dtls_leg_input/timeout: acts on what the handshake did. false
 * if the leg ended. */
static bool
dtls_after(struct gw *g, struct gw_leg *l, enum dtls_status st)
{
	char rid[9];

	snprintf(rid, sizeof(rid), "%.8s", l->room->hex);
	if (st == DTLS_FAILED) {
		log_info(MOD, "dtls failed room=%s peer=%s error=\"%s\"", rid,
			 l->peer_hex, dtls_leg_error(l->dtls));
		end_leg(g, l, END_DTLS_FAILED, true);
		return false;
	}
	if (st == DTLS_DONE && l->state != LEG_UP) {
		int ret = install(g, l);
		if (ret < 0) {
			g->dtls_to_dp_failed++;
			log_warn(MOD, "leg not installed room=%s peer=%s error=\"%s\"",
				 rid, l->peer_hex, strerror(-ret));
			end_leg(g, l, END_DATAPLANE, true);
			return false;
		}
		l->state = LEG_UP;
		g->legs_up++;
		g->n_up++;
		log_info(MOD, "leg up room=%s peer=%s cipher=%s slots=%u", rid,
			 l->peer_hex, dtls_leg_cipher(l->dtls), l->info.n_slots);
	}
	return true;
}

/* ---- DTLS input ---- */

/* One DTLS datagram for a leg with consent at its address. The flight
 * that completes the handshake goes out only after the keys are in the
 * dataplane: the browser may send SRTP as soon as it has our Finished,
 * and that SRTP must find its leg. false if the leg ended. */
static bool
dtls_feed(struct gw *g, struct gw_leg *l, const uint8_t *p, size_t len,
	  uint64_t now)
{
	l->holding = true;
	if (!dtls_after(g, l, dtls_leg_input(l->dtls, p, len, now, dtls_emit,
					     l)))
		return false;
	release_held(g, l);
	return true;
}

/* ---- consent (RFC 7675) ---- */

static void
new_tid(uint8_t tid[STUN_TID_LEN])
{
	if (RAND_bytes(tid, STUN_TID_LEN) != 1)
		abort(); /* no randomness: nothing safe to do */
}

/* Our Binding request to remote (RFC 8445 §7.2.2, as the controlled
 * agent): what a full ICE agent sends, so browsers and aiortc answer it. */
static void
consent_request(struct gw *g, struct gw_leg *l, const uint8_t *tid,
		const struct sotto_addr *remote,
		const struct sotto_addr *local, uint32_t sock)
{
	uint8_t buf[640];
	char user[UFRAG_LEN + 260];
	struct stun_builder b;
	int ul;
	size_t n;

	ul = snprintf(user, sizeof(user), "%s:%s", l->remote_ufrag, l->ufrag);
	if (ul < 0 || (size_t)ul >= sizeof(user))
		return;
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
	stun_add(&b, STUN_A_USERNAME, user, (uint16_t)ul);
	/* RFC 8445 §7.1.1: the priority a peer-reflexive candidate of ours
	 * would have (type preference 110, local 65535, component 1) */
	stun_add_u32(&b, STUN_A_PRIORITY, (110u << 24) | (65535u << 8) | 255u);
	/* §7.1.3: a lite agent is always the controlled one */
	stun_add(&b, STUN_A_ICE_CONTROLLED, l->tiebreak, sizeof(l->tiebreak));
	stun_add_integrity(&b, (const uint8_t *)l->remote_pwd,
			   strlen(l->remote_pwd));
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	if (n > 0 && dp_ctx_send(g->dp, local, remote, sock, buf, n) == 0)
		g->consent[CONSENT_SENT]++;
}

/* Sends the probe's request (again: a resend keeps the transaction id,
 * RFC 8489 §6.2.1) and sets when to resend or give up. */
static void
probe_send(struct gw *g, struct gw_probe *p, uint64_t now)
{
	consent_request(g, p->leg, p->tid, &p->remote, &p->local, p->sock);
	p->tries++;
	p->next_ms = now + p->rto_ms;
	p->rto_ms = p->rto_ms * 2 > GW_PROBE_RTO_MAX_MS ? GW_PROBE_RTO_MAX_MS
							: p->rto_ms * 2;
}

static void
probe_start(struct gw *g, struct gw_leg *l, struct gw_probe *p,
	    const struct sotto_addr *src, const struct sotto_addr *dst,
	    uint32_t sock, bool use, uint64_t now)
{
	struct gw_probe **b = &g->by_probe[probe_bucket(g, src, dst)];

	memset(p, 0, sizeof(*p));
	p->leg = l;
	p->active = true;
	p->nominated = use;
	p->remote = *src;
	p->local = *dst;
	p->sock = sock;
	p->rto_ms = GW_PROBE_RTO_MS;
	p->started_ms = now;
	p->last_in_ms = now;
	new_tid(p->tid);
	p->next = *b;
	*b = p;
	probe_send(g, p, now);
}

/* consent_timeout / 6, randomised 0.8..1.2 (RFC 7675 §5.1: 4 to 6 s of a
 * 30 s consent) */
static uint64_t
fresh_interval(const struct gw *g)
{
	uint16_t r;

	if (RAND_bytes((uint8_t *)&r, sizeof(r)) != 1)
		abort();
	return g->consent_ms / 6 * (800 + (uint64_t)r * 400 / 65535) / 1000;
}

/* Consent at a new address: no check to the old one counts any more. */
static void
fresh_reset(struct gw *g, struct gw_leg *l, uint64_t sent_ms, uint64_t now)
{
	memset(l->fresh, 0, sizeof(l->fresh));
	l->fresh_next = 0;
	l->consent_until_ms = sent_ms + g->consent_ms;
	l->next_fresh_ms = now + fresh_interval(g);
}

static void
fresh_send(struct gw *g, struct gw_leg *l, uint64_t now)
{
	struct gw_fresh *f = &l->fresh[l->fresh_next];

	l->fresh_next = (l->fresh_next + 1) % GW_FRESH;
	if (f->state == FRESH_OUT)
		g->consent[CONSENT_TIMEOUT]++;
	new_tid(f->tid);
	f->state = FRESH_OUT;
	f->sent_ms = now;
	consent_request(g, l, f->tid, &l->remote, &l->local, l->sock);
	l->next_fresh_ms = now + fresh_interval(g);
}

/* The probe p was answered: the leg takes its address, or moves there.
 * false if the leg ended (a held DTLS datagram failed its handshake). */
static bool
grant(struct gw *g, struct gw_probe *p, uint64_t now)
{
	struct gw_leg *l = p->leg;
	struct sotto_addr remote = p->remote, local = p->local;
	uint32_t sock = p->sock;
	/* RFC 7675 §5.1: consent lasts from the request that was answered;
	 * with resends sharing one transaction id, from the first */
	uint64_t sent = p->started_ms, last_in = p->last_in_ms;
	struct gw_early early[GW_EARLY];
	unsigned n_early = 0;
	struct gw_leg *other = find_tuple(g, &remote, &local);
	bool alive = true;

	/* the held datagrams from there, before probe_stop drops them */
	for (unsigned i = 0; i < l->n_early; i++) {
		if (sotto_addr_eq(&l->early[i].remote, &remote) &&
		    sotto_addr_eq(&l->early[i].local, &local)) {
			early[n_early++] = l->early[i];
			l->early[i].p = NULL;
		}
	}
	probe_stop(g, p);
	if (other != NULL) {
		/* another leg took that address meanwhile: not ours */
		for (unsigned i = 0; i < n_early; i++)
			free(early[i].p);
		return true;
	}
	if (!l->has_addr) {
		for (unsigned i = 0; i < GW_PROBES; i++)
			if (l->probe[i].active)
				probe_stop(g, &l->probe[i]);
		early_drop(l, NULL, NULL);
		l->remote = remote;
		l->local = local;
		l->sock = sock;
		l->has_addr = true;
		tuple_insert(g, l);
		if (l->state == LEG_ICE)
			l->state = LEG_DTLS;
		log_debug(MOD, "consent room=%.8s peer=%s", l->room->hex,
			  l->peer_hex);
	} else {
		if (l->dp != NULL && dp_gw_leg_move(g->dp, l->dp, &remote, &local,
						    sock) < 0) {
			log_warn(MOD, "leg not moved room=%.8s peer=%s",
				 l->room->hex, l->peer_hex);
			return true;
		}
		tuple_remove(g, l);
		l->remote = remote;
		l->local = local;
		l->sock = sock;
		tuple_insert(g, l);
		l->last_move_ms = now;
		g->moves++;
		log_info(MOD, "leg moved room=%.8s peer=%s", l->room->hex,
			 l->peer_hex);
	}
	l->last_check_ms = last_in;
	fresh_reset(g, l, sent, now);
	for (unsigned i = 0; i < n_early; i++) {
		if (alive && l->dtls != NULL)
			alive = dtls_feed(g, l, early[i].p, early[i].len, now);
		free(early[i].p);
	}
	return alive;
}

/* A Binding response: the answer to one of our checks, or nothing. */
static void
consent_response(struct gw *g, const struct stun_msg *m,
		 const struct sotto_addr *src, const struct sotto_addr *dst,
		 uint64_t now)
{
	struct gw_probe *p = find_probe(g, src, dst, m->tid);
	struct gw_fresh *f = NULL;
	struct gw_leg *l;

	if (p != NULL) {
		l = p->leg;
	} else {
		l = find_tuple(g, src, dst);
		for (unsigned i = 0; l != NULL && i < GW_FRESH; i++)
			if (l->fresh[i].state != FRESH_FREE &&
			    memcmp(l->fresh[i].tid, m->tid, STUN_TID_LEN) == 0)
				f = &l->fresh[i];
	}
	/* from the address it went to, to the one it came from, integrity
	 * with the browser's password (RFC 8445 §7.2.5.2.1, §7.2.5.1) */
	if ((p == NULL && f == NULL) || stun_check_fingerprint(m) != 1 ||
	    stun_check_integrity(m, (const uint8_t *)l->remote_pwd,
				 strlen(l->remote_pwd)) != 1) {
		g->consent[CONSENT_BAD_RESPONSE]++;
		return;
	}
	if (f != NULL && f->state != FRESH_OUT)
		return; /* a duplicate */
	if (m->cls == STUN_ERROR) {
		g->consent[CONSENT_ERROR]++;
		if (p != NULL)
			probe_stop(g, p);
		else
			f->state = FRESH_DONE;
		return;
	}
	g->consent[CONSENT_ANSWERED]++;
	if (p != NULL) {
		grant(g, p, now);
		flush_notices(g);
		return;
	}
	f->state = FRESH_DONE;
	if (f->sent_ms + g->consent_ms > l->consent_until_ms)
		l->consent_until_ms = f->sent_ms + g->consent_ms;
}

/* ---- ICE-lite ---- */

static void
ice_answer(struct gw *g, struct gw_leg *l, const struct stun_msg *m,
	   const struct sotto_addr *src, const struct sotto_addr *dst,
	   uint32_t sock)
{
	uint8_t buf[256];
	struct stun_builder b;
	size_t n;

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, m->tid);
	stun_add_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, src);
	stun_add_integrity(&b, (const uint8_t *)l->pwd, PWD_LEN);
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	if (n > 0)
		dp_ctx_send(g->dp, dst, src, sock, buf, n);
}

/* A valid check from src that is not the leg's address: the probe that
 * may give the leg that address, or NULL (answered, counted other_pair). */
static struct gw_probe *
probe_for(struct gw_leg *l, bool use, uint64_t now)
{
	struct gw_probe *p = NULL;

	if (l->has_addr) {
		/* a move: nominated, at most once a second, one at a time */
		if (!use || now < l->last_move_ms + GW_MOVE_MIN_MS)
			return NULL;
		for (unsigned i = 0; i < GW_PROBES; i++)
			if (l->probe[i].active)
				return NULL;
		return &l->probe[0];
	}
	for (unsigned i = 0; i < GW_PROBES && p == NULL; i++)
		if (!l->probe[i].active)
			p = &l->probe[i];
	/* all busy: a nominated pair goes before one that is not */
	for (unsigned i = 0; i < GW_PROBES && p == NULL && use; i++)
		if (!l->probe[i].nominated)
			p = &l->probe[i];
	return p;
}

void
gw_check(struct gw *g, const uint8_t *p, size_t len,
	 const struct sotto_addr *src, const struct sotto_addr *dst,
	 uint32_t sock, uint64_t now)
{
	struct stun_msg m;
	const struct stun_attr *u;
	const char *colon;
	struct gw_leg *l;
	struct gw_probe *pr;
	bool use;

	if (stun_parse(&m, p, len) < 0 || m.method != STUN_BINDING) {
		g->ice[ICE_MALFORMED]++;
		return;
	}
	if (m.cls == STUN_SUCCESS || m.cls == STUN_ERROR) {
		consent_response(g, &m, src, dst, now);
		return;
	}
	if (m.cls != STUN_REQUEST || stun_check_fingerprint(&m) != 1 ||
	    (u = stun_find(&m, STUN_A_USERNAME)) == NULL ||
	    (colon = memchr(u->val, ':', u->len)) == NULL) {
		g->ice[ICE_MALFORMED]++;
		return;
	}
	l = find_ufrag(g, (const char *)u->val,
		       (size_t)(colon - (const char *)u->val));
	if (l == NULL) {
		g->ice[ICE_UNKNOWN_UFRAG]++;
		return;
	}
	size_t rlen = u->len - (size_t)(colon + 1 - (const char *)u->val);
	if (rlen != strlen(l->remote_ufrag) ||
	    memcmp(colon + 1, l->remote_ufrag, rlen) != 0 ||
	    stun_check_integrity(&m, (const uint8_t *)l->pwd, PWD_LEN) != 1) {
		g->ice[ICE_BAD_AUTH]++;
		return;
	}
	use = stun_find(&m, STUN_A_USE_CANDIDATE) != NULL;
	struct gw_leg *other = find_tuple(g, src, dst);
	if (other != NULL && other != l) {
		/* that address is another leg's: answering is harmless,
		 * binding would steal its DTLS */
		g->ice[ICE_OTHER_PAIR]++;
		ice_answer(g, l, &m, src, dst, sock);
		return;
	}
	if (other == l) {
		/* the leg's own address: the browser's consent (RFC 7675) */
		g->ice[ICE_OK]++;
		l->last_check_ms = now;
		ice_answer(g, l, &m, src, dst, sock);
		return;
	}
	/* the answer first, then our own check there (a triggered check,
	 * RFC 8445 §7.3.1.4) */
	pr = leg_probe(l, src, dst);
	if (pr != NULL) {
		g->ice[ICE_OK]++;
		pr->last_in_ms = now;
		pr->nominated |= use;
		ice_answer(g, l, &m, src, dst, sock);
		if (now >= pr->next_ms && pr->tries < GW_PROBE_TRIES)
			probe_send(g, pr, now);
		return;
	}
	pr = probe_for(l, use, now);
	if (pr == NULL) {
		g->ice[ICE_OTHER_PAIR]++;
		ice_answer(g, l, &m, src, dst, sock);
		return;
	}
	if (pr->active)
		probe_stop(g, pr);
	g->ice[ICE_OK]++;
	ice_answer(g, l, &m, src, dst, sock);
	probe_start(g, l, pr, src, dst, sock, use, now);
}

void
gw_dtls(struct gw *g, const uint8_t *p, size_t len,
	const struct sotto_addr *src, const struct sotto_addr *dst,
	uint64_t now_ms)
{
	struct gw_leg *l;
	struct gw_probe *pr;

	/* only from the leg's address, which has consent */
	l = find_tuple(g, src, dst);
	if (l != NULL && l->dtls != NULL) {
		dtls_feed(g, l, p, len, now_ms);
		flush_notices(g);
		return;
	}
	/* from an address being probed for a leg that has none yet: kept
	 * until the probe is answered (then read) or given up (dropped) */
	pr = l == NULL ? find_probe(g, src, dst, NULL) : NULL;
	if (pr != NULL && !pr->leg->has_addr && pr->leg->n_early < GW_EARLY &&
	    len <= GW_EARLY_MAX_LEN) {
		struct gw_early *e = &pr->leg->early[pr->leg->n_early];

		e->p = malloc(len);
		if (e->p != NULL) {
			memcpy(e->p, p, len);
			e->len = (uint16_t)len;
			e->remote = *src;
			e->local = *dst;
			pr->leg->n_early++;
			return;
		}
	}
	g->dtls_unknown++;
}

/* ---- offers ---- */

static void
random_chars(char *out, size_t n)
{
	static const char ice_chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[64];

	if (RAND_bytes(r, (int)n) != 1)
		abort(); /* no randomness: nothing safe to do */
	for (size_t i = 0; i < n; i++)
		out[i] = ice_chars[r[i] & 63];
	out[n] = '\0';
	explicit_bzero(r, sizeof(r));
}

static void
random_ssrcs(uint32_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bool again;
		do {
			if (RAND_bytes((uint8_t *)&v[i], sizeof(v[i])) != 1)
				abort();
			again = v[i] == 0;
			for (unsigned j = 0; j < i; j++)
				again |= v[j] == v[i];
		} while (again);
	}
}

static struct gw_leg *
room_leg(struct gw_room *r, const char *peer_hex)
{
	for (struct gw_leg *l = r->legs; l != NULL; l = l->rnext)
		if (strcmp(l->peer_hex, peer_hex) == 0)
			return l;
	return NULL;
}

static void
fp_string(const uint8_t *fp, char *out)
{
	for (unsigned i = 0; i < DTLS_FP_LEN; i++)
		sprintf(out + 3 * i, "%02X%s", fp[i],
			i + 1 < DTLS_FP_LEN ? ":" : "");
}

int
gw_offer(struct gw *g, struct gw_room *r, const char *peer_hex,
	 const char *sdp, size_t len, char *answer, size_t cap,
	 const char **reason, uint64_t now_ms)
{
	struct gw_offer *o = NULL;
	struct gw_leg *l = NULL, *old;
	struct dtls_cert cert = { 0 };
	char peer_fp[DTLS_FP_STR_LEN];
	uint8_t our_fp[DTLS_FP_LEN];
	struct gw_answer_params ap;
	int n = -1;

	g->offers++;
	o = calloc(1, sizeof(*o));
	l = calloc(1, sizeof(*l));
	if (o == NULL || l == NULL) {
		*reason = "out of memory";
		goto fail;
	}
	if (gw_sdp_parse_offer(sdp, len, o, reason) < 0)
		goto fail;
	old = room_leg(r, peer_hex);
	if (old != NULL)
		end_leg(g, old, END_REPLACED, false);
	if (r->n_legs >= DP_GW_MAX_LEGS) {
		*reason = "the room has as many media legs as it can";
		goto fail;
	}
	if (g->n_legs >= g->max_legs) {
		*reason = "the gateway is at its leg limit";
		goto fail;
	}

	l->g = g;
	l->room = r;
	snprintf(l->peer_hex, sizeof(l->peer_hex), "%s", peer_hex);
	snprintf(l->remote_ufrag, sizeof(l->remote_ufrag), "%s", o->ice_ufrag);
	snprintf(l->remote_pwd, sizeof(l->remote_pwd), "%s", o->ice_pwd);
	if (RAND_bytes(l->tiebreak, sizeof(l->tiebreak)) != 1)
		abort();
	do
		random_chars(l->ufrag, UFRAG_LEN);
	while (find_ufrag(g, l->ufrag, UFRAG_LEN) != NULL);
	random_chars(l->pwd, PWD_LEN);
	random_ssrcs(l->slot_ssrcs, g->slots);
	l->created_ms = now_ms;

	if (dtls_cert_new(g->dtls, &cert) < 0 ||
	    dtls_fingerprint_parse(cert.fingerprint, our_fp) < 0) {
		*reason = "cannot make a certificate";
		goto fail;
	}
	fp_string(o->fingerprint, peer_fp);
	l->dtls = dtls_leg_new(g->dtls, &cert, peer_fp, &l->keys, now_ms);
	if (l->dtls == NULL) {
		*reason = "cannot start DTLS";
		goto fail;
	}

	memset(&ap, 0, sizeof(ap));
	ap.ice_ufrag = l->ufrag;
	ap.ice_pwd = l->pwd;
	ap.fingerprint = our_fp;
	ap.cands = g->cfg->gateway.listen;
	ap.n_cands = g->cfg->gateway.n_listen;
	ap.n_slots = g->slots;
	ap.slot_ssrcs = l->slot_ssrcs;
	ap.cname = "sotto";
	if (RAND_bytes((uint8_t *)&ap.session_id, sizeof(ap.session_id)) != 1)
		abort();
	ap.session_id &= INT64_MAX; /* o= wants a positive 63-bit number */
	n = gw_sdp_build_answer(o, &ap, answer, cap, &l->info, reason);
	if (n < 0)
		goto fail;

	struct gw_leg **b = &g->by_ufrag[hash_bytes(l->ufrag, UFRAG_LEN) &
					 g->mask];
	l->uf_next = *b;
	*b = l;
	l->rnext = r->legs;
	r->legs = l;
	r->n_legs++;
	l->next = g->all;
	if (g->all != NULL)
		g->all->prev = l;
	g->all = l;
	g->n_legs++;
	free(o);
	log_info(MOD, "leg offered room=%.8s peer=%s slots=%u", r->hex, peer_hex,
		 l->info.n_slots);
	return n;
fail:
	g->offers_rejected++;
	if (l != NULL) {
		dtls_leg_free(l->dtls);
		explicit_bzero(l, sizeof(*l));
	}
	dtls_cert_free(&cert);
	free(l);
	free(o);
	return -1;
}

void
gw_leave(struct gw *g, struct gw_room *r, const char *peer_hex)
{
	struct gw_leg *l = room_leg(r, peer_hex);

	if (l != NULL)
		end_leg(g, l, END_LEFT, false);
}

/* ---- rooms ---- */

struct gw_room *
gw_room_new(struct gw *g, const char *room_hex)
{
	struct gw_room *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->g = g;
	snprintf(r->hex, sizeof(r->hex), "%s", room_hex);
	r->dp = dp_gw_room_new(g->dp, ++g->room_seq, (uint8_t)g->slots);
	if (r->dp == NULL) {
		int err = errno;
		free(r);
		errno = err;
		return NULL;
	}
	g->n_rooms++;
	return r;
}

void
gw_room_free(struct gw *g, struct gw_room *r)
{
	if (r == NULL)
		return;
	while (r->legs != NULL)
		end_leg(g, r->legs, END_ROOM_CLOSED, false);
	dp_gw_room_free(g->dp, r->dp);
	g->n_rooms--;
	free(r);
}

/* ---- timers ---- */

/* Probes: resent when due, given up after the last. */
static void
probes_tick(struct gw *g, struct gw_leg *l, uint64_t now)
{
	for (unsigned i = 0; i < GW_PROBES; i++) {
		struct gw_probe *p = &l->probe[i];

		if (!p->active || now < p->next_ms)
			continue;
		if (p->tries >= GW_PROBE_TRIES) {
			g->consent[CONSENT_TIMEOUT]++;
			probe_stop(g, p);
		} else {
			probe_send(g, p, now);
		}
	}
}

/* Consent at the leg's address: checks out of time are counted (so are
 * those still out when consent runs out), and the leg ends (false) once
 * either side's checks have been missing for consent_timeout; else the
 * next check goes out when due. */
static bool
consent_tick(struct gw *g, struct gw_leg *l, uint64_t now)
{
	const char *why = NULL;

	for (unsigned i = 0; i < GW_FRESH; i++) {
		struct gw_fresh *f = &l->fresh[i];
		if (f->state == FRESH_OUT && now >= f->sent_ms + g->consent_ms) {
			f->state = FRESH_DONE;
			g->consent[CONSENT_TIMEOUT]++;
		}
	}
	if (now >= l->consent_until_ms) {
		/* the checks still out are the ones that went unanswered */
		why = "our checks unanswered";
		for (unsigned i = 0; i < GW_FRESH; i++)
			if (l->fresh[i].state == FRESH_OUT)
				g->consent[CONSENT_TIMEOUT]++;
	} else if (now >= l->last_check_ms + g->consent_ms) {
		why = "no checks from the browser";
	}
	if (why != NULL) {
		log_info(MOD, "consent lost room=%.8s peer=%s: %s", l->room->hex,
			 l->peer_hex, why);
		end_leg(g, l, END_CONSENT, true);
		return false;
	}
	if (now >= l->next_fresh_ms)
		fresh_send(g, l, now);
	return true;
}

void
gw_tick(struct gw *g, uint64_t now)
{
	struct gw_leg *l, *next;

	for (l = g->all; l != NULL; l = next) {
		next = l->next;
		if (l->state != LEG_UP) {
			if (now >= l->created_ms + g->handshake_ms) {
				end_leg(g, l, END_TIMEOUT, true);
				continue;
			}
			if (l->dtls != NULL && now >= dtls_leg_deadline(l->dtls) &&
			    !dtls_after(g, l, dtls_leg_timeout(l->dtls, now,
							       dtls_emit, l)))
				continue;
		}
		probes_tick(g, l, now);
		if (l->has_addr && !consent_tick(g, l, now))
			continue;
	}
	flush_notices(g);
}

/* ---- setup ---- */

struct gw *
gw_new(const struct sotto_config *cfg, struct dp_ctx *dp)
{
	struct gw *g = calloc(1, sizeof(*g));
	struct dtls_ctx_params dp_params = { 0 };
	uint32_t buckets = 64;
	int ret;

	if (g == NULL)
		return NULL;
	g->cfg = cfg;
	g->dp = dp;
	g->notices_tail = &g->notices;
	g->slots = cfg->gateway.slots;
	g->max_legs = cfg->gateway.max_legs;
	g->consent_ms = (uint64_t)cfg->gateway.consent_timeout * 1000;
	g->handshake_ms = (uint64_t)cfg->gateway.handshake_timeout * 1000;
	while (buckets < g->max_legs && buckets < (1u << 20))
		buckets <<= 1;
	g->mask = buckets - 1;
	g->by_ufrag = calloc(buckets, sizeof(*g->by_ufrag));
	g->by_tuple = calloc(buckets, sizeof(*g->by_tuple));
	g->by_probe = calloc(buckets, sizeof(*g->by_probe));
	dp_params.handshake_timeout_ms = (unsigned)g->handshake_ms;
	g->dtls = dtls_ctx_new(&dp_params);
	if (g->by_ufrag == NULL || g->by_tuple == NULL || g->by_probe == NULL ||
	    g->dtls == NULL) {
		log_err(MOD, "cannot set up the gateway: %s", strerror(ENOMEM));
		gw_free(g);
		errno = ENOMEM;
		return NULL;
	}
	ret = dp_gw_init(dp, g->max_legs);
	if (ret < 0) {
		log_err(MOD, "cannot set up the gateway tables: %s",
			  strerror(-ret));
		gw_free(g);
		errno = -ret;
		return NULL;
	}
	return g;
}

void
gw_set_hooks(struct gw *g, const struct gw_hooks *h)
{
	g->hooks = *h;
}

void
gw_free(struct gw *g)
{
	if (g == NULL)
		return;
	while (g->all != NULL)
		end_leg(g, g->all, END_SHUTDOWN, false);
	g->hooks.leg_ended = NULL; /* signaling is gone by now */
	flush_notices(g);
	dtls_ctx_free(g->dtls);
	free(g->by_ufrag);
	free(g->by_tuple);
	free(g->by_probe);
	free(g);
}

unsigned
gw_slots(const struct gw *g)
{
	return g->slots;
}

void
gw_counts(const struct gw *g, uint64_t *rooms, uint64_t *legs,
	  uint64_t *legs_up)
{
	*rooms = g->n_rooms;
	*legs = g->n_legs;
	*legs_up = g->n_up;
}

void
gw_metrics(const struct gw *g, struct metrics *m)
{
	struct dtls_stats st;
	char lbl[64];

	dtls_ctx_get_stats(g->dtls, &st);
	metrics_gauge(m, "sotto_gateway_rooms", "Gateway rooms now.",
		      (double)g->n_rooms);
	metrics_gauge(m, "sotto_gateway_legs",
		      "Gateway legs now (offered, handshaking or up).",
		      (double)g->n_legs);
	metrics_counter(m, "sotto_gateway_offers_total",
			"Offers answered or refused by the gateway.", g->offers);
	metrics_counter(m, "sotto_gateway_offers_rejected_total",
			"Offers the gateway refused.", g->offers_rejected);
	metrics_counter(m, "sotto_gateway_legs_up_total",
			"Legs whose DTLS handshake completed and whose keys reached the dataplane.",
			g->legs_up);
	metrics_counter(m, "sotto_gateway_leg_moves_total",
			"Legs moved to a new address by a nominated ICE check.",
			g->moves);
	metrics_family(m, "sotto_gateway_legs_ended_total", "counter",
		       "Legs that ended, by reason.");
	for (unsigned i = 0; i < END_COUNT; i++) {
		snprintf(lbl, sizeof(lbl), "reason=\"%s\"", end_labels[i]);
		metrics_u64(m, "sotto_gateway_legs_ended_total", lbl,
			    g->ended[i]);
	}
	metrics_family(m, "sotto_gateway_ice_checks_total", "counter",
		       "ICE connectivity checks received, by result.");
	for (unsigned i = 0; i < ICE_COUNT; i++) {
		snprintf(lbl, sizeof(lbl), "result=\"%s\"", ice_labels[i]);
		metrics_u64(m, "sotto_gateway_ice_checks_total", lbl, g->ice[i]);
	}
	metrics_family(m, "sotto_gateway_consent_checks_total", "counter",
		       "The gateway's own ICE consent checks (RFC 7675): requests sent (resends included), and checks answered, timed out or refused; responses that match no check or fail integrity.");
	for (unsigned i = 0; i < CONSENT_COUNT; i++) {
		snprintf(lbl, sizeof(lbl), "result=\"%s\"", consent_labels[i]);
		metrics_u64(m, "sotto_gateway_consent_checks_total", lbl,
			    g->consent[i]);
	}
	metrics_counter(m, "sotto_gateway_dtls_unknown_source_total",
			"DTLS datagrams from an address no leg has consent for.",
			g->dtls_unknown);
	metrics_counter(m, "sotto_gateway_dtls_handshakes_total",
			"DTLS handshakes completed.", st.handshakes_done);
	metrics_counter(m, "sotto_gateway_dtls_retransmits_total",
			"DTLS flights sent again on a timer.",
			st.retransmit_timeouts);
	metrics_family(m, "sotto_gateway_dtls_failures_total", "counter",
		       "DTLS handshakes that failed, by reason.");
	for (unsigned i = 1; i < DTLS_FAIL_COUNT; i++) {
		snprintf(lbl, sizeof(lbl), "reason=\"%s\"",
			 dtls_fail_label((enum dtls_fail)i));
		metrics_u64(m, "sotto_gateway_dtls_failures_total", lbl,
			    st.failed[i]);
	}
}
