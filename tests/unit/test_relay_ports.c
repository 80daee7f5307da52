/* SPDX-License-Identifier: BSD-3-Clause */
/* The relayed-port allocator shared by the port drivers. */
#include <arpa/inet.h>
#include <errno.h>

#include "check.h"
#include "dp.h"
#include "eal.h"
#include "relay_ports.h"

static uint8_t taken[2][16];
static int fatal_at = -1;

/* a slot is free unless taken[][] says so; fatal_at fails hard */
static int
claim(void *arg, uint32_t slot, const struct sotto_addr *a)
{
	struct dp_relay_ports *rp = arg;
	uint32_t rel = slot - rp->base;

	CHECK_EQ(dp_relay_ports_slot(rp, a), slot);
	if ((int)slot == fatal_at)
		return -ENOBUFS;
	if (taken[rel / rp->range][rel % rp->range])
		return -EADDRINUSE;
	taken[rel / rp->range][rel % rp->range] = 1;
	return 0;
}

int
main(void)
{
	struct dp_conf conf = { 0 };
	struct dp_relay_ports rp;
	struct sotto_addr want, got, other;
	uint32_t slot;
	uint8_t v6[16];

	CHECK(test_eal_init() == 0);
	conf.n_relay = 2;
	sotto_addr_v4(&conf.relay[0], htonl(0x7f000001), 0);
	inet_pton(AF_INET6, "::1", v6);
	sotto_addr_v6(&conf.relay[1], v6, 0);
	conf.port_min = 50000;
	conf.port_max = 50015;
	dp_relay_ports_init(&rp, &conf, 10);
	CHECK_EQ(rp.range, 16);
	CHECK_EQ(dp_relay_ports_count(&rp), 32);

	/* any port: every one of the 16 once, then ENOSPC */
	want = conf.relay[0];
	want.port = DP_PORT_ANY;
	for (int i = 0; i < 16; i++) {
		CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got,
					     &slot), 0);
		CHECK(got.port >= 50000 && got.port <= 50015);
		CHECK(sotto_addr_ip_eq(&got, &want));
		CHECK_EQ(slot, 10 + (got.port - 50000));
	}
	CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got, &slot),
		 -ENOSPC);

	/* the other IP has its own slots, after the first IP's */
	want = conf.relay[1];
	want.port = DP_PORT_EVEN;
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got,
					     &slot), 0);
		CHECK_EQ(got.port & 1, 0);
		CHECK_EQ(got.family, AF_INET6);
		CHECK_EQ(slot, 10 + 16 + (got.port - 50000));
	}
	/* only odd ports left */
	CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got, &slot),
		 -ENOSPC);

	/* an exact port: free, taken, outside the range */
	want.port = 50001;
	CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got, &slot), 0);
	CHECK_EQ(got.port, 50001);
	CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got, &slot),
		 -EADDRINUSE);
	want.port = 50016;
	CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got, &slot),
		 -EINVAL);

	/* not a relay IP */
	sotto_addr_v4(&other, htonl(0x7f000002), DP_PORT_ANY);
	CHECK_EQ(dp_relay_ports_open(&rp, &other, claim, &rp, &got, &slot),
		 -EINVAL);

	/* a claim that fails hard stops the search with its error */
	want.port = 50003;
	fatal_at = 10 + 16 + 3;
	CHECK_EQ(dp_relay_ports_open(&rp, &want, claim, &rp, &got, &slot),
		 -ENOBUFS);

	/* slot lookup of addresses that are not relayed addresses */
	sotto_addr_v4(&other, htonl(0x7f000001), 49999);
	CHECK_EQ(dp_relay_ports_slot(&rp, &other), -1);
	sotto_addr_v4(&other, htonl(0x7f000002), 50000);
	CHECK_EQ(dp_relay_ports_slot(&rp, &other), -1);

	return check_done("relay_ports");
}
