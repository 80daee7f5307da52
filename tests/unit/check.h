/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_TEST_CHECK_H
#define SOTTO_TEST_CHECK_H

/* Minimal assertions for unit tests: count failures, keep going, exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                           \
	do {                                                                  \
		check_count++;                                                \
		if (!(cond)) {                                                \
			check_failures++;                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",          \
				__FILE__, __LINE__, #cond);                   \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);           \
		check_count++;                                                \
		if (_a != _b) {                                               \
			check_failures++;                                     \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s "   \
				"(%lld != %lld)\n", __FILE__, __LINE__, #a,   \
				#b, _a, _b);                                  \
		}                                                             \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

static inline int
check_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count,
		check_failures);
	return check_failures ? 1 : 0;
}

#endif
