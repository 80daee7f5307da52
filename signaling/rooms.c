/* SPDX-License-Identifier: BSD-3-Clause */
#include "rooms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void
hex_encode(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hex_decode(const char *s, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < 2 * len; i++) {
		char ch = s[i];
		int v;

		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v = ch - 'a' + 10;
		else
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return s[2 * len] == '\0' ? 0 : -EINVAL;
}

static uint32_t
bucket_of(const struct room_table *t, const uint8_t id[16])
{
	uint32_t h;

	memcpy(&h, id, sizeof(h));
	return h & t->mask;
}

int
rooms_init(struct room_table *t, uint32_t max_rooms)
{
	uint32_t n = 64;

	memset(t, 0, sizeof(*t));
	/* about one room per bucket when full */
	while (n < max_rooms && n < (1u << 22))
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (t->buckets == NULL)
		return -ENOMEM;
	t->mask = n - 1;
	t->max = max_rooms;
	return 0;
}

void
rooms_fini(struct room_table *t)
{
	while (t->all != NULL)
		room_destroy(t, t->all);
	free(t->buckets);
	t->buckets = NULL;
}

struct room *
room_find(struct room_table *t, const char *hex)
{
	uint8_t id[16];

	if (hex_decode(hex, id, sizeof(id)) < 0)
		return NULL;
	for (struct room *r = t->buckets[bucket_of(t, id)]; r != NULL;
	     r = r->hnext)
		if (memcmp(r->id, id, sizeof(id)) == 0)
			return r;
	return NULL;
}

struct room *
room_create(struct room_table *t, uint32_t max_participants, uint64_t now_ms,
	    uint64_t ttl_ms, uint32_t kick_cap)
{
	struct room *r;
	uint32_t b;

	if (t->count >= t->max) {
		errno = ENOSPC;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->peers = calloc(max_participants, sizeof(*r->peers));
	r->turn_jti = calloc(max_participants, sizeof(*r->turn_jti));
	if (r->peers == NULL || r->turn_jti == NULL ||
	    getrandom(r->id, sizeof(r->id), 0) != sizeof(r->id)) {
		free(r->peers);
		free(r->turn_jti);
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	r->kick_cap = kick_cap < ROOM_KICKED_MAX ? kick_cap : ROOM_KICKED_MAX;
	hex_encode(r->id, sizeof(r->id), r->hex);
	r->max_participants = max_participants;
	r->created_ms = now_ms;
	r->expires_ms = now_ms + ttl_ms;
	r->empty_since_ms = now_ms;
	b = bucket_of(t, r->id);
	r->hnext = t->buckets[b];
	t->buckets[b] = r;
	r->next = t->all;
	if (t->all != NULL)
		t->all->prev = r;
	t->all = r;
	t->count++;
	return r;
}

void
room_destroy(struct room_table *t, struct room *r)
{
	struct room **pp = &t->buckets[bucket_of(t, r->id)];

	while (*pp != r)
		pp = &(*pp)->hnext;
	*pp = r->hnext;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		t->all = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	t->count--;
	free(r->peers);
	free(r->kicked);
	free(r->spent);
	free(r->turn_jti);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

int
room_add_peer(struct room *r, struct sig_peer *p, uint64_t now_ms)
{
	(void)now_ms;
	if (r->n_peers >= r->max_participants)
		return -ENOSPC;
	r->peers[r->n_peers++] = p;
	r->empty_since_ms = 0;
	p->room = r;
	return 0;
}

void
room_remove_peer(struct room *r, struct sig_peer *p, uint64_t now_ms)
{
	for (unsigned i = 0; i < r->n_peers; i++) {
		if (r->peers[i] != p)
			continue;
		r->peers[i] = r->peers[--r->n_peers];
		r->peers[r->n_peers] = NULL;
		break;
	}
	if (r->n_peers == 0)
		r->empty_since_ms = now_ms;
	p->room = NULL;
}

struct sig_peer *
room_peer(const struct room *r, const char *hex)
{
	for (unsigned i = 0; i < r->n_peers; i++)
		if (strcmp(r->peers[i]->hex, hex) == 0)
			return r->peers[i];
	return NULL;
}

/* A sorted list of jtis (the kick list, the spent invites). */
struct jti_list {
	uint8_t (**v)[ROOM_JTI_BYTES];
	uint32_t *n, *alloc;
	uint32_t cap;
};

/* Index of id in the list, or where it would go. */
static uint32_t
list_pos(uint8_t (*v)[ROOM_JTI_BYTES], uint32_t n,
	 const uint8_t id[ROOM_JTI_BYTES], bool *found)
{
	uint32_t lo = 0, hi = n;

	*found = false;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(v[mid], id, ROOM_JTI_BYTES);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
list_has(uint8_t (*v)[ROOM_JTI_BYTES], uint32_t n, const char *jti)
{
	uint8_t id[ROOM_JTI_BYTES];
	bool found;

	if (hex_decode(jti, id, sizeof(id)) < 0)
		return false;
	list_pos(v, n, id, &found);
	return found;
}

static int
list_add(struct jti_list l, const char *jti)
{
	uint8_t id[ROOM_JTI_BYTES];
	uint32_t at;
	bool found;

	if (hex_decode(jti, id, sizeof(id)) < 0)
		return -EINVAL;
	at = list_pos(*l.v, *l.n, id, &found);
	if (found)
		return 0;
	if (*l.n >= l.cap)
		return -ENOSPC;
	if (*l.n == *l.alloc) {
		uint32_t n = *l.alloc ? 2 * *l.alloc : 8;
		void *p;

		if (n > l.cap)
			n = l.cap;
		p = realloc(*l.v, (size_t)n * sizeof(**l.v));
		if (p == NULL)
			return -ENOMEM;
		*l.v = p;
		*l.alloc = n;
	}
	memmove((*l.v)[at + 1], (*l.v)[at],
		(size_t)(*l.n - at) * sizeof(**l.v));
	memcpy((*l.v)[at], id, sizeof(id));
	(*l.n)++;
	return 0;
}

bool
room_is_kicked(const struct room *r, const char *jti)
{
	return list_has(r->kicked, r->n_kicked, jti);
}

int
room_kick(struct room *r, const char *jti)
{
	return list_add((struct jti_list){ &r->kicked, &r->n_kicked,
					   &r->kicked_alloc, r->kick_cap },
			jti);
}

bool
room_is_spent(const struct room *r, const char *jti)
{
	return list_has(r->spent, r->n_spent, jti);
}

int
room_spend(struct room *r, const char *jti)
{
	return list_add((struct jti_list){ &r->spent, &r->n_spent,
					   &r->spent_alloc, r->kick_cap },
			jti);
}

/* invites are counted in 1/60000 so a per-minute rate refills a whole
 * number of units every millisecond */
#define INVITE_UNIT 60000u

bool
room_invite_allowed(struct room *r, uint32_t per_minute, uint64_t now_ms)
{
	uint64_t cap = ((uint64_t)r->max_participants + per_minute) * INVITE_UNIT;

	if (per_minute == 0)
		return true;
	if (!r->invite_started) {
		r->invite_started = true;
		r->invite_tokens = cap;
		r->invite_last_ms = now_ms;
	} else if (now_ms > r->invite_last_ms) {
		uint64_t add = (now_ms - r->invite_last_ms) * per_minute;

		/* a day at a million a minute still fits: no overflow */
		r->invite_tokens = r->invite_tokens + add > cap ?
					   cap : r->invite_tokens + add;
		r->invite_last_ms = now_ms;
	}
	if (r->invite_tokens > cap)
		r->invite_tokens = cap; /* per_minute lowered by a reload */
	if (r->invite_tokens < INVITE_UNIT)
		return false;
	r->invite_tokens -= INVITE_UNIT;
	return true;
}

uint32_t
room_turn_slot(struct room *r, const char *jti)
{
	uint8_t id[ROOM_JTI_BYTES];
	uint32_t n = r->turn_n < r->max_participants ? r->turn_n :
						       r->max_participants;
	uint32_t slot;

	if (hex_decode(jti, id, sizeof(id)) < 0)
		memset(id, 0, sizeof(id));
	for (uint32_t i = 0; i < n; i++)
		if (memcmp(r->turn_jti[i], id, sizeof(id)) == 0)
			return i;
	/* a new token: the next slot; past max_participants tokens the
	 * slots are reused in turn, so a room never has more TURN users
	 * than participants */
	slot = r->turn_n % r->max_participants;
	memcpy(r->turn_jti[slot], id, sizeof(id));
	r->turn_n++;
	return slot;
}
