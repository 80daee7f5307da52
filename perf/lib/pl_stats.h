/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Percentiles of the load generators: over a sorted array of samples when
 * each one is kept, over a histogram when there are too many to keep.
 *
 * Both take the sample at rank floor(q/100 * n) + 1 (q = 50: the middle
 * one). The histogram has exact buckets below lin, then sub buckets per
 * octave for octaves more (a value past the last counts in it), and gives
 * a bucket's lower edge: exact below lin, within 1/sub of the value above.
 */
#ifndef PL_STATS_H
#define PL_STATS_H

#include <stddef.h>
#include <stdint.h>

struct pl_hist {
	unsigned lin_shift, sub_shift, octaves;
	unsigned n_buckets;
	uint64_t n, max;
	uint64_t *b;
};

/* lin and sub powers of two, sub <= lin; 0 or -ENOMEM / -EINVAL. */
int pl_hist_init(struct pl_hist *h, unsigned lin, unsigned sub,
		 unsigned octaves);
void pl_hist_free(struct pl_hist *h);
void pl_hist_add(struct pl_hist *h, uint64_t v);
/* q in percent; 0 with no samples */
uint64_t pl_hist_pct(const struct pl_hist *h, double q);

void pl_sort_u32(uint32_t *v, size_t n);
/* v sorted; q in percent; 0 with no samples */
uint32_t pl_pct_u32(const uint32_t *v, size_t n, double q);

#endif
