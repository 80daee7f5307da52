/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What went wrong, by code, with a count each: printed as the load
 * generators' "ERRORS code=count ..." line.
 */
#ifndef PL_ERRORS_H
#define PL_ERRORS_H

#include <stdio.h>

#define PL_ERRORS_MAX 32

struct pl_errors {
	struct {
		char code[48];
		unsigned count;
	} e[PL_ERRORS_MAX];
};

/* Counts code; codes past the first PL_ERRORS_MAX distinct ones are not
 * counted. */
void pl_errors_note(struct pl_errors *e, const char *code);

/* "ERRORS none" or "ERRORS a=1 b=2", without the newline. */
void pl_errors_print(const struct pl_errors *e, FILE *f);

#endif
