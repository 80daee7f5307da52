/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_TEST_EAL_H
#define SOTTO_TEST_EAL_H

/* Starts DPDK's EAL the way the udp driver does: no hugepages, no PCI, no
 * shared config, so tests run unprivileged and in parallel. */
#include <stdio.h>

#include <rte_eal.h>

static inline int
test_eal_init(void)
{
	char *argv[] = {
		"test", "--no-huge", "--no-pci", "--no-shconf",
		"-m", "256", "-l", "0", "--log-level", "*:error", NULL,
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;

	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return -1;
	}
	return 0;
}

#endif
