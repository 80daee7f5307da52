/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the STUN parser: parse, read every attribute through
 * the accessors, verify, then rebuild the message with the builder and
 * check that it parses back to the same attributes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun.h"

static struct stun_msg msg, again;
static uint8_t out[65536];

static const uint8_t fuzz_key[] = "VOkJxbRl1RmTxUk/WvJxBt";

static void
read_attrs(const struct stun_msg *m)
{
	volatile uint32_t sink = 0;
	struct sotto_addr a;
	uint32_t u;

	for (unsigned int i = 0; i < m->n_attrs; i++) {
		const struct stun_attr *at = &m->attrs[i];
		const struct stun_attr *f = stun_find(m, at->type);

		if (f == NULL || f > at || f->type != at->type)
			abort();
		if (at->val != m->buf + at->off + 4 ||
		    (size_t)at->off + 4 + at->len > m->len)
			abort();
		/* touch every value byte so ASan sees any bad range */
		for (unsigned int j = 0; j < at->len; j++)
			sink += at->val[j];
		if (stun_attr_xor_addr(m, at, &a) == 0) {
			if (a.family != AF_INET && a.family != AF_INET6)
				abort();
			sink += a.port;
		}
		if (stun_attr_u32(at, &u) == 0)
			sink += u;
	}
	for (unsigned int i = 0; i < m->n_unknown; i++)
		if (m->unknown_required[i] >= 0x8000)
			abort();
	(void)sink;
}

/* Rebuilds m from its recorded attributes; 0 if it did not fit. */
static size_t
rebuild(const struct stun_msg *m, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	struct sotto_addr a;

	stun_build(&b, buf, cap, m->method, m->cls, m->tid);
	for (unsigned int i = 0; i < m->n_attrs; i++) {
		const struct stun_attr *at = &m->attrs[i];
		/* re-encoding a decoded address must give the same bytes */
		if ((at->type == STUN_A_XOR_MAPPED_ADDRESS ||
		     at->type == STUN_A_XOR_PEER_ADDRESS ||
		     at->type == STUN_A_XOR_RELAYED_ADDRESS) &&
		    stun_attr_xor_addr(m, at, &a) == 0 && at->val[0] == 0)
			stun_add_xor_addr(&b, at->type, &a);
		else
			stun_add(&b, at->type, at->val, at->len);
	}
	return stun_finish(&b);
}

static void
same_attrs(const struct stun_msg *a, const struct stun_msg *b)
{
	if (a->type != b->type || memcmp(a->tid, b->tid, STUN_TID_LEN) ||
	    a->n_attrs != b->n_attrs || a->integrity != b->integrity ||
	    a->integrity_sha256 != b->integrity_sha256 ||
	    a->fingerprint != b->fingerprint || a->n_unknown != b->n_unknown)
		abort();
	for (unsigned int i = 0; i < a->n_attrs; i++)
		if (a->attrs[i].type != b->attrs[i].type ||
		    a->attrs[i].len != b->attrs[i].len ||
		    memcmp(a->attrs[i].val, b->attrs[i].val, a->attrs[i].len))
			abort();
	if (memcmp(a->unknown_required, b->unknown_required,
		   a->n_unknown * sizeof(a->unknown_required[0])))
		abort();
}

/* Builds a fresh signed message from the fuzzed one, as a server would. */
static void
answer(const struct stun_msg *m)
{
	struct stun_builder b;
	struct sotto_addr a;
	const struct stun_attr *u = stun_find(m, STUN_A_USERNAME);
	size_t n;

	stun_build(&b, out, sizeof(out), m->method, STUN_ERROR, m->tid);
	stun_add_error(&b, 300 + m->len % 400, "fuzz");
	if (u != NULL)
		stun_add(&b, STUN_A_USERNAME, u->val, u->len);
	if (stun_attr_xor_addr(m, stun_find(m, STUN_A_XOR_PEER_ADDRESS),
			       &a) == 0)
		stun_add_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &a);
	stun_add_integrity(&b, fuzz_key, sizeof(fuzz_key) - 1);
	stun_add_fingerprint(&b);
	n = stun_finish(&b);
	if (n == 0)
		return;
	if (stun_parse(&again, out, n) != 0 ||
	    stun_check_integrity(&again, fuzz_key, sizeof(fuzz_key) - 1) != 1 ||
	    stun_check_fingerprint(&again) != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r = stun_parse(&msg, data, size);

	if (stun_looks_like(data, size) != (r != -STUN_EFORMAT) &&
	    size <= UINT16_MAX)
		abort();
	if (r != 0)
		return 0;

	read_attrs(&msg);
	(void)stun_check_fingerprint(&msg);
	(void)stun_check_integrity(&msg, fuzz_key, sizeof(fuzz_key) - 1);

	size_t n = rebuild(&msg, out, sizeof(out));
	if (n == 0 || n > size)
		abort();
	if (stun_parse(&again, out, n) != 0)
		abort();
	same_attrs(&msg, &again);

	answer(&msg);
	return 0;
}
