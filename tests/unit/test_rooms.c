/* SPDX-License-Identifier: BSD-3-Clause */
/* signaling/rooms.c: the room table, membership, the kick list, the
 * invite budget and TURN user slots. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "rooms.h"

static void
test_table(void)
{
	struct room_table t;
	struct room *r[3], *x;
	char hex[33];

	CHECK_EQ(rooms_init(&t, 2), 0);
	r[0] = room_create(&t, 2, 1000, 60000, ROOM_KICKED_MAX);
	r[1] = room_create(&t, 4, 1000, 60000, ROOM_KICKED_MAX);
	CHECK(r[0] != NULL && r[1] != NULL);
	/* the table is full at max_rooms */
	errno = 0;
	r[2] = room_create(&t, 2, 1000, 60000, ROOM_KICKED_MAX);
	CHECK(r[2] == NULL);
	CHECK_EQ(errno, ENOSPC);
	CHECK_EQ(t.count, 2);

	/* ids: 32 lowercase hex digits, different, found by their text */
	CHECK_EQ(strlen(r[0]->hex), 32);
	CHECK_EQ(strspn(r[0]->hex, "0123456789abcdef"), 32);
	CHECK(strcmp(r[0]->hex, r[1]->hex) != 0);
	CHECK(room_find(&t, r[0]->hex) == r[0]);
	CHECK(room_find(&t, r[1]->hex) == r[1]);
	CHECK_EQ(r[0]->expires_ms, 61000);
	CHECK_EQ(r[1]->max_participants, 4);

	/* malformed ids find nothing: uppercase, short, long, non-hex */
	strcpy(hex, r[0]->hex);
	hex[0] = hex[0] >= 'a' ? (char)(hex[0] - 32) : hex[0];
	if (hex[0] != r[0]->hex[0])
		CHECK(room_find(&t, hex) == NULL);
	CHECK(room_find(&t, "0123") == NULL);
	CHECK(room_find(&t, "") == NULL);
	memcpy(hex, r[0]->hex, 33);
	hex[31] = 'g';
	CHECK(room_find(&t, hex) == NULL);
	{
		char longer[40];

		snprintf(longer, sizeof(longer), "%s00", r[0]->hex);
		CHECK(room_find(&t, longer) == NULL);
	}

	room_destroy(&t, r[0]);
	CHECK_EQ(t.count, 1);
	CHECK(room_find(&t, r[1]->hex) == r[1]);
	x = room_create(&t, 2, 2000, 1000, ROOM_KICKED_MAX);
	CHECK(x != NULL);
	CHECK(room_find(&t, x->hex) == x);
	rooms_fini(&t);
	CHECK_EQ(t.count, 0);
}

static void
test_members(void)
{
	struct room_table t;
	struct sig_peer p[3];
	struct room *r;

	memset(p, 0, sizeof(p));
	strcpy(p[0].hex, "0000000000000001");
	strcpy(p[1].hex, "0000000000000002");
	strcpy(p[2].hex, "0000000000000003");
	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 2, 1000, 60000, ROOM_KICKED_MAX);
	CHECK(r != NULL);
	CHECK_EQ(r->empty_since_ms, 1000);
	CHECK_EQ(room_add_peer(r, &p[0], 1100), 0);
	CHECK_EQ(r->empty_since_ms, 0);
	CHECK(p[0].room == r);
	CHECK_EQ(room_add_peer(r, &p[1], 1200), 0);
	/* full at max_participants */
	CHECK_EQ(room_add_peer(r, &p[2], 1300), -ENOSPC);
	CHECK(p[2].room == NULL);
	CHECK(room_peer(r, "0000000000000002") == &p[1]);
	CHECK(room_peer(r, "0000000000000003") == NULL);

	room_remove_peer(r, &p[0], 1400);
	CHECK(p[0].room == NULL);
	CHECK_EQ(r->n_peers, 1);
	CHECK_EQ(r->empty_since_ms, 0);
	CHECK(room_peer(r, "0000000000000001") == NULL);
	room_remove_peer(r, &p[1], 1500);
	CHECK_EQ(r->n_peers, 0);
	CHECK_EQ(r->empty_since_ms, 1500);
	rooms_fini(&t);
}

/* The kick list of the old code held the last 64 and forgot the rest. */
#define OLD_KICK_LIMIT 64

static void
jti_of(unsigned i, char out[33])
{
	/* spread over the sort order, not in it */
	snprintf(out, 33, "%08x%024x", i * 2654435761u, i);
}

static void
test_kick(void)
{
	struct room_table t;
	struct room *r;
	char jti[33];
	unsigned n;

	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 2, 0, 1000, ROOM_KICKED_MAX);
	jti_of(12345, jti);
	CHECK(!room_is_kicked(r, jti));
	CHECK_EQ(room_kick(r, jti), 0);
	CHECK_EQ(room_kick(r, jti), 0);
	CHECK(room_is_kicked(r, jti));
	CHECK_EQ(r->n_kicked, 1);
	CHECK_EQ(room_kick(r, "aa"), -EINVAL);
	CHECK(!room_is_kicked(r, "aa"));

	/* ten times the old limit: every one stays kicked, in the order
	 * kicked or any other; tokens never kicked are not */
	for (unsigned i = 0; i < 10 * OLD_KICK_LIMIT; i++) {
		jti_of(i, jti);
		CHECK_EQ(room_kick(r, jti), 0);
	}
	CHECK_EQ(r->n_kicked, 10 * OLD_KICK_LIMIT + 1);
	n = 0;
	for (unsigned i = 0; i < 10 * OLD_KICK_LIMIT; i++) {
		jti_of(i, jti);
		n += room_is_kicked(r, jti);
	}
	CHECK_EQ(n, 10 * OLD_KICK_LIMIT);
	jti_of(12345, jti);
	CHECK(room_is_kicked(r, jti));
	n = 0;
	for (unsigned i = 10 * OLD_KICK_LIMIT; i < 20 * OLD_KICK_LIMIT; i++) {
		jti_of(i, jti);
		n += room_is_kicked(r, jti);
	}
	CHECK_EQ(n, 0);
	rooms_fini(&t);

	/* at its cap a room refuses the next kick and forgets nothing */
	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 2, 0, 1000, 10);
	for (unsigned i = 0; i < 10; i++) {
		jti_of(i, jti);
		CHECK_EQ(room_kick(r, jti), 0);
	}
	jti_of(10, jti);
	CHECK_EQ(room_kick(r, jti), -ENOSPC);
	CHECK(!room_is_kicked(r, jti));
	jti_of(3, jti);
	CHECK_EQ(room_kick(r, jti), 0); /* already: fine */
	for (unsigned i = 0; i < 10; i++) {
		jti_of(i, jti);
		CHECK(room_is_kicked(r, jti));
	}
	rooms_fini(&t);
}

static void
test_invites(void)
{
	struct room_table t;
	struct room *r, *r2;
	unsigned n = 0;

	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 8, 0, 1000, ROOM_KICKED_MAX);
	r2 = room_create(&t, 64, 0, 1000, ROOM_KICKED_MAX);
	/* ten times the start (8 + 10) at once: the start passes */
	for (unsigned i = 0; i < 10 * (8 + 10); i++)
		n += room_invite_allowed(r, 10, 1000);
	CHECK_EQ(n, 8 + 10);
	/* 10 a minute: one per 6 s */
	CHECK(!room_invite_allowed(r, 10, 6999));
	CHECK(room_invite_allowed(r, 10, 7000));
	CHECK(!room_invite_allowed(r, 10, 7000));
	/* another room is not touched; inviting a whole 64-room passes */
	n = 0;
	for (unsigned i = 0; i < 64; i++)
		n += room_invite_allowed(r2, 10, 1000);
	CHECK_EQ(n, 64);
	/* an hour idle refills to the start, not beyond */
	n = 0;
	for (unsigned i = 0; i < 100; i++)
		n += room_invite_allowed(r, 10, 3600000);
	CHECK_EQ(n, 8 + 10);
	/* 0: no limit */
	for (unsigned i = 0; i < 1000; i++)
		CHECK(room_invite_allowed(r, 0, 3600000));
	rooms_fini(&t);
}

static void
test_turn_slots(void)
{
	struct room_table t;
	struct room *r;
	char jti[33];
	bool seen[4] = { false };

	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 4, 0, 1000, ROOM_KICKED_MAX);
	/* the first max_participants tokens: a slot each, the same one
	 * every time they ask */
	for (unsigned i = 0; i < 4; i++) {
		uint32_t slot;

		jti_of(i, jti);
		slot = room_turn_slot(r, jti);
		CHECK(slot < 4);
		CHECK(!seen[slot]);
		seen[slot] = true;
		CHECK_EQ(room_turn_slot(r, jti), slot);
	}
	/* ten times as many tokens: never a fifth slot */
	for (unsigned i = 4; i < 40; i++) {
		jti_of(i, jti);
		CHECK(room_turn_slot(r, jti) < 4);
	}
	rooms_fini(&t);
}

static void
test_log_id(void)
{
	struct room_table t;
	struct room *r;
	char id[9];

	CHECK_EQ(rooms_init(&t, 1), 0);
	r = room_create(&t, 2, 0, 1000, ROOM_KICKED_MAX);
	room_log_id(r, id);
	CHECK_EQ(strlen(id), 8);
	CHECK(strncmp(id, r->hex, 8) == 0);
	rooms_fini(&t);
}

/* Single-use invites spent: the kick list's rules, its own list. */
static void
test_spent(void)
{
	struct room_table t;
	struct room *r;
	char jti[33];
	unsigned n = 0;

	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 2, 0, 1000, 100);
	jti_of(7, jti);
	CHECK(!room_is_spent(r, jti));
	CHECK_EQ(room_spend(r, jti), 0);
	CHECK_EQ(room_spend(r, jti), 0);
	CHECK(room_is_spent(r, jti));
	CHECK(!room_is_kicked(r, jti));
	CHECK_EQ(r->n_spent, 1);
	CHECK_EQ(room_spend(r, "zz"), -EINVAL);
	for (unsigned i = 100; i < 199; i++) {
		jti_of(i, jti);
		CHECK_EQ(room_spend(r, jti), 0);
	}
	/* at its cap it refuses rather than forget one */
	jti_of(500, jti);
	CHECK_EQ(room_spend(r, jti), -ENOSPC);
	CHECK(!room_is_spent(r, jti));
	for (unsigned i = 100; i < 199; i++) {
		jti_of(i, jti);
		n += room_is_spent(r, jti);
	}
	CHECK_EQ(n, 99);
	rooms_fini(&t);
}

int
main(void)
{
	test_table();
	test_members();
	test_kick();
	test_spent();
	test_invites();
	test_turn_slots();
	test_log_id();
	return check_done("rooms");
}
