/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>

#include "pl_stats.h"

static unsigned
log2u(unsigned v)
{
	return 31 - (unsigned)__builtin_clz(v);
}

int
pl_hist_init(struct pl_hist *h, unsigned lin, unsigned sub, unsigned octaves)
{
	*h = (struct pl_hist){ 0 };
	if (lin == 0 || sub == 0 || (lin & (lin - 1)) || (sub & (sub - 1)) ||
	    sub > lin || octaves == 0)
		return -EINVAL;
	h->lin_shift = log2u(lin);
	h->sub_shift = log2u(sub);
	h->octaves = octaves;
	h->n_buckets = lin + octaves * sub;
	h->b = calloc(h->n_buckets, sizeof(*h->b));
	return h->b != NULL ? 0 : -ENOMEM;
}

void
pl_hist_free(struct pl_hist *h)
{
	free(h->b);
	h->b = NULL;
}

void
pl_hist_add(struct pl_hist *h, uint64_t v)
{
	unsigned i;

	if (v < (1ull << h->lin_shift)) {
		i = (unsigned)v;
	} else {
		unsigned msb = 63 - (unsigned)__builtin_clzll(v);
		unsigned oct = msb - h->lin_shift;
		unsigned sub = (unsigned)(v >> (msb - h->sub_shift)) &
			       ((1u << h->sub_shift) - 1);

		if (oct >= h->octaves) {
			oct = h->octaves - 1;
			sub = (1u << h->sub_shift) - 1;
		}
		i = (1u << h->lin_shift) + (oct << h->sub_shift) + sub;
	}
	h->b[i]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* lower edge of bucket i */
static uint64_t
bucket_value(const struct pl_hist *h, unsigned i)
{
	unsigned lin = 1u << h->lin_shift, oct, sub;

	if (i < lin)
		return i;
	oct = (i - lin) >> h->sub_shift;
	sub = (i - lin) & ((1u << h->sub_shift) - 1);
	return ((uint64_t)(1u << h->sub_shift) + sub)
	       << (oct + h->lin_shift - h->sub_shift);
}

uint64_t
pl_hist_pct(const struct pl_hist *h, double q)
{
	uint64_t want, acc = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q / 100.0 * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned i = 0; i < h->n_buckets; i++) {
		acc += h->b[i];
		if (acc > want)
			return bucket_value(h, i);
	}
	return h->max;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
pl_sort_u32(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
}

uint32_t
pl_pct_u32(const uint32_t *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q / 100.0 * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i];
}
