/* SPDX-License-Identifier: BSD-3-Clause */
#include "metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((format(printf, 2, 3)))
put(struct metrics *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->failed)
		return;
	for (;;) {
		size_t room = m->cap - m->len;

		va_start(ap, fmt);
		n = vsnprintf(m->buf ? m->buf + m->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			m->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			m->len += (size_t)n;
			return;
		}
		size_t cap = m->cap ? m->cap * 2 : 16384;
		while (cap - m->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(m->buf, cap);
		if (b == NULL) {
			m->failed = 1;
			return;
		}
		m->buf = b;
		m->cap = cap;
	}
}

void
metrics_family(struct metrics *m, const char *name, const char *type,
	       const char *help)
{
	put(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_u64(struct metrics *m, const char *name, const char *labels,
	    uint64_t v)
{
	if (labels != NULL)
		put(m, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		put(m, "%s %" PRIu64 "\n", name, v);
}

void
metrics_f64(struct metrics *m, const char *name, const char *labels, double v)
{
	if (labels != NULL)
		put(m, "%s{%s} %.9g\n", name, labels, v);
	else
		put(m, "%s %.9g\n", name, v);
}

void
metrics_hist_add(struct metrics_hist *h, uint64_t v)
{
	unsigned i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->buckets[i]++;
	h->sum += v;
}

void
metrics_histogram(struct metrics *m, const char *name, const char *help,
		  const struct metrics_hist *h, double unit)
{
	uint64_t cum = 0;

	metrics_family(m, name, "histogram", help);
	for (unsigned i = 0; i < h->n_bounds; i++) {
		cum += h->buckets[i];
		put(m, "%s_bucket{le=\"%.9g\"} %" PRIu64 "\n", name,
		    (double)h->bounds[i] * unit, cum);
	}
	cum += h->buckets[h->n_bounds];
	put(m, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	put(m, "%s_sum %.9g\n", name, (double)h->sum * unit);
	put(m, "%s_count %" PRIu64 "\n", name, cum);
}

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void
metrics_counters(struct metrics *m, const struct metrics_desc *d,
		 const uint64_t *v, unsigned n, const char *prefix)
{
	char labels[256];

	for (unsigned i = 0; i < n; i++) {
		uint64_t sum = v[i];

		if (d[i].family == NULL)
			continue;
		if (d[i].help != NULL)
			metrics_family(m, d[i].family, "counter", d[i].help);
		while (i + 1 < n && same_str(d[i + 1].family, d[i].family) &&
		       same_str(d[i + 1].labels, d[i].labels))
			sum += v[++i];
		if (prefix != NULL && d[i].labels != NULL)
			snprintf(labels, sizeof(labels), "%s,%s", prefix,
				 d[i].labels);
		else
			snprintf(labels, sizeof(labels), "%s",
				 prefix != NULL ? prefix
				 : d[i].labels != NULL ? d[i].labels : "");
		metrics_u64(m, d[i].family, labels[0] ? labels : NULL, sum);
	}
}

void
metrics_counter(struct metrics *m, const char *name, const char *help,
		uint64_t v)
{
	metrics_family(m, name, "counter", help);
	metrics_u64(m, name, NULL, v);
}

void
metrics_gauge(struct metrics *m, const char *name, const char *help, double v)
{
	metrics_family(m, name, "gauge", help);
	metrics_f64(m, name, NULL, v);
}
