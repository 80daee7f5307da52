/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "pl_errors.h"

void
pl_errors_note(struct pl_errors *e, const char *code)
{
	for (unsigned i = 0; i < PL_ERRORS_MAX; i++) {
		if (e->e[i].count == 0) {
			snprintf(e->e[i].code, sizeof(e->e[i].code), "%s", code);
			e->e[i].count = 1;
			return;
		}
		if (strcmp(e->e[i].code, code) == 0) {
			e->e[i].count++;
			return;
		}
	}
}

void
pl_errors_print(const struct pl_errors *e, FILE *f)
{
	fprintf(f, "ERRORS");
	if (e->e[0].count == 0)
		fprintf(f, " none");
	for (unsigned i = 0; i < PL_ERRORS_MAX && e->e[i].count; i++)
		fprintf(f, " %s=%u", e->e[i].code, e->e[i].count);
}
