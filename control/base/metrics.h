/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_METRICS_H
#define SOTTO_METRICS_H

/*
 * Prometheus text exposition (format 0.0.4) written into a growing buffer
 * at scrape time on the control thread. Workers never see a scrape: their
 * counters are plain per-worker values the control thread sums.
 *
 * No label ever carries a user, a room or an address: cardinality stays
 * fixed, and an anonymous service must not export who talks to whom.
 */

#include <stddef.h>
#include <stdint.h>

struct metrics {
	char *buf;
	size_t len, cap;
	int failed;          /* out of memory: the scrape answers 500 */
};

/* # HELP and # TYPE for a family; type: counter, gauge, histogram. */
void metrics_family(struct metrics *m, const char *name, const char *type,
		    const char *help);
/* One sample; labels: "k=\"v\",k2=\"v2\"" or NULL. */
void metrics_u64(struct metrics *m, const char *name, const char *labels,
		 uint64_t v);
void metrics_f64(struct metrics *m, const char *name, const char *labels,
		 double v);
/* A histogram its owner fills (one thread) and a scrape exports: per-bucket
 * counts under ascending bounds in the samples' unit, the last bucket +Inf.
 * The bounds are shared by every instance of a family. */
#define METRICS_HIST_MAX_BOUNDS 15
struct metrics_hist {
	const uint64_t *bounds;
	unsigned n_bounds;
	uint64_t buckets[METRICS_HIST_MAX_BOUNDS + 1];
	uint64_t sum;
};
#define METRICS_HIST_INIT(b) { .bounds = (b), .n_bounds = sizeof(b) / sizeof((b)[0]) }

void metrics_hist_add(struct metrics_hist *h, uint64_t v);
/* Exported cumulative with _sum and _count; bounds and sum scaled by unit
 * (e.g. 1e-6 for µs → seconds). */
void metrics_histogram(struct metrics *m, const char *name, const char *help,
		       const struct metrics_hist *h, double unit);

/* A counter as an X-macro list describes it (dataplane/dp.h,
 * control/turn/turn_server.h). */
struct metrics_desc {
	const char *family;  /* NULL: not exported */
	const char *labels;  /* NULL: none */
	const char *help;    /* on a family's first entry */
};
/* n counters v[i] described by d[i], in order: HELP and TYPE where a help
 * is given, samples with the same family and labels summed, prefix (NULL:
 * none) before every sample's own labels. */
void metrics_counters(struct metrics *m, const struct metrics_desc *d,
		      const uint64_t *v, unsigned n, const char *prefix);

/* Shorthand: a family with one unlabelled sample. */
void metrics_counter(struct metrics *m, const char *name, const char *help,
		     uint64_t v);
void metrics_gauge(struct metrics *m, const char *name, const char *help,
		   double v);

#endif
