/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_ROOMS_H
#define SOTTO_ROOMS_H

/*
 * Rooms and the peers in them. Room ids are 128 random bits (getrandom),
 * so the table hashes on the id's own first bytes: a client can look up any
 * id it likes, but it cannot choose where the stored ones land.
 */

#include <stdbool.h>
#include <stdint.h>

#include "sig_token.h"

struct gw_room;   /* control/gateway/gw.h */

#define PEER_ID_HEX 16
#define ROOM_JTI_BYTES 16
/* The most tokens one room's kick list holds (16 bytes each): a room that
 * could issue more (invites unlimited) refuses kicks beyond it rather than
 * forget one. */
#define ROOM_KICKED_MAX 65536
/* A display name (optional, group rooms): at most this many bytes of
 * UTF-8, kept in the room only (never logged, wiped with the peer). */
#define PEER_NAME_MAX 64

struct ws_conn;
struct room;
struct sig;

struct sig_peer {
	struct sig *sig;
	uint64_t id;
	char hex[PEER_ID_HEX + 1];
	struct ws_conn *ws;         /* NULL once the connection is gone */
	struct room *room;          /* NULL until joined */
	enum sig_role role;
	char jti[33];               /* its seat: the creator's token, or the
				     * seat token given in "joined" */
	char invite_jti[33];        /* the invite it came in with ("" for
				     * the creator and a returning seat) */
	char name[PEER_NAME_MAX + 1]; /* "" if none */
	bool muted;                 /* as the participant last said */
	uint64_t connected_ms;
	uint64_t msg_tokens;        /* message bucket, in 1/1000 messages */
	uint64_t msg_last_ms;
	uint64_t rl_told_ms;        /* last "rate_limited" answer */
	uint32_t rl_dropped;        /* messages dropped since one passed */
	struct sig_peer *next_dead; /* freed on the next tick (see sig_ws.c) */
	bool dead;
};

struct room {
	uint8_t id[16];
	char hex[SIG_ROOM_ID_HEX + 1];
	struct room *hnext;         /* hash chain */
	struct room *prev, *next;   /* all rooms, for the tick */
	uint64_t created_ms, expires_ms;
	uint64_t empty_since_ms;    /* 0 while someone is in it */
	uint32_t max_participants;
	bool locked;
	bool auto_lock;             /* locks itself once full */
	bool gateway;               /* gateway mode: sotto is everyone's peer */
	struct gw_room *gw;         /* the gateway's room, NULL: relay mode */
	unsigned n_peers;
	struct sig_peer **peers;    /* max_participants slots */
	/*
	 * Tokens removed by the creator, for the room's life: jtis, sorted,
	 * grown as kicks happen up to kick_cap (what the room can ever
	 * issue, room_create), so no number of kicks makes it forget one.
	 */
	uint8_t (*kicked)[ROOM_JTI_BYTES];
	uint32_t n_kicked, kicked_alloc, kick_cap;
	/* single-use invites already used to join: kept like the kick list
	 * (sorted, grown, at most kick_cap, for the room's life) */
	uint8_t (*spent)[ROOM_JTI_BYTES];
	uint32_t n_spent, spent_alloc;
	/* refused joins not yet told to the creator (sig_ws.c) */
	uint64_t refused_told_ms;
	uint32_t refused_pending;
	const char *refused_reason;
	/* invites: a token bucket per room, in 1/60000 invites */
	uint64_t invite_tokens, invite_last_ms;
	bool invite_started;
	/* TURN users: the first max_participants tokens that take
	 * credentials get a slot each, later ones reuse them in turn */
	uint8_t (*turn_jti)[ROOM_JTI_BYTES];
	uint32_t turn_n;
};

struct room_table {
	struct room **buckets;
	uint32_t mask;
	uint32_t count, max;
	struct room *all;
};

int rooms_init(struct room_table *t, uint32_t max_rooms);
void rooms_fini(struct room_table *t);

/* A new empty room with a fresh random id; NULL with errno ENOSPC (table
 * full) or ENOMEM. kick_cap: the most tokens it can ever have kicked (at
 * most ROOM_KICKED_MAX). */
struct room *room_create(struct room_table *t, uint32_t max_participants,
			 uint64_t now_ms, uint64_t ttl_ms, uint32_t kick_cap);
/* By its 32-hex id; NULL if there is no such room. */
struct room *room_find(struct room_table *t, const char *hex);
/* Unlinks and frees r; its peers must have been detached. */
void room_destroy(struct room_table *t, struct room *r);

int room_add_peer(struct room *r, struct sig_peer *p, uint64_t now_ms);
void room_remove_peer(struct room *r, struct sig_peer *p, uint64_t now_ms);
struct sig_peer *room_peer(const struct room *r, const char *hex);

/* jti: the token's 32 hex digits. */
bool room_is_kicked(const struct room *r, const char *jti);
/* Remembers jti for the room's life. 0 (also when it was already),
 * -EINVAL for a malformed jti, -ENOSPC at kick_cap, -ENOMEM. */
int room_kick(struct room *r, const char *jti);

/* Single-use invites (jti) used to join: the same rules as the kick list
 * (room_kick's return values), sharing its kick_cap. */
bool room_is_spent(const struct room *r, const char *jti);
int room_spend(struct room *r, const char *jti);

/*
 * One invite against the room's budget: per_minute a minute after a
 * start of max_participants + per_minute, so inviting the whole room at
 * once always passes (per_minute 0: no limit). false: over it.
 */
bool room_invite_allowed(struct room *r, uint32_t per_minute,
			 uint64_t now_ms);

/* The TURN user slot (0 .. max_participants-1) of a token: the same for
 * the same token while at most max_participants tokens took one. */
uint32_t room_turn_slot(struct room *r, const char *jti);

/* First 8 hex digits: enough to tell rooms apart in logs, not to join. */
static inline void
room_log_id(const struct room *r, char out[9])
{
	for (int i = 0; i < 8; i++)
		out[i] = r->hex[i];
	out[8] = '\0';
}

void hex_encode(const uint8_t *p, size_t len, char *out);

#endif
