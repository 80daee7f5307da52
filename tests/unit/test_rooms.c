/* SPDX-License-Identifier: BSD-3-Clause */
/* signaling/rooms.c: the room table, membership and the kick list. */
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
	r[0] = room_create(&t, 2, 1000, 60000);
	r[1] = room_create(&t, 4, 1000, 60000);
	CHECK(r[0] != NULL && r[1] != NULL);
	/* the table is full at max_rooms */
	errno = 0;
	r[2] = room_create(&t, 2, 1000, 60000);
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
	x = room_create(&t, 2, 2000, 1000);
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
	r = room_create(&t, 2, 1000, 60000);
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

static void
test_kick(void)
{
	struct room_table t;
	struct room *r;
	char jti[33];

	CHECK_EQ(rooms_init(&t, 10), 0);
	r = room_create(&t, 2, 0, 1000);
	CHECK(!room_is_kicked(r, "aa"));
	room_kick(r, "aa");
	room_kick(r, "aa");
	CHECK(room_is_kicked(r, "aa"));
	CHECK_EQ(r->n_kicked, 1);
	/* bounded: the oldest entry goes first */
	for (int i = 0; i < ROOM_MAX_KICKED; i++) {
		snprintf(jti, sizeof(jti), "%032d", i);
		room_kick(r, jti);
	}
	CHECK_EQ(r->n_kicked, ROOM_MAX_KICKED);
	CHECK(!room_is_kicked(r, "aa"));
	snprintf(jti, sizeof(jti), "%032d", ROOM_MAX_KICKED - 1);
	CHECK(room_is_kicked(r, jti));
	rooms_fini(&t);
}

static void
test_log_id(void)
{
	struct room_table t;
	struct room *r;
	char id[9];

	CHECK_EQ(rooms_init(&t, 1), 0);
	r = room_create(&t, 2, 0, 1000);
	room_log_id(r, id);
	CHECK_EQ(strlen(id), 8);
	CHECK(strncmp(id, r->hex, 8) == 0);
	rooms_fini(&t);
}

int
main(void)
{
	test_table();
	test_members();
	test_kick();
	test_log_id();
	return check_done("rooms");
}
