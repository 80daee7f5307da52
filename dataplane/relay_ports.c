/* SPDX-License-Identifier: BSD-3-Clause */
#include "relay_ports.h"

#include <errno.h>
#include <string.h>

#include <rte_random.h>

#include "dp.h"

void
dp_relay_ports_init(struct dp_relay_ports *rp, const struct dp_conf *conf,
		    uint32_t base)
{
	memset(rp, 0, sizeof(*rp));
	rp->n_ip = conf->n_relay;
	memcpy(rp->ip, conf->relay, sizeof(rp->ip));
	rp->port_min = conf->port_min;
	rp->range = (uint32_t)(conf->port_max - conf->port_min) + 1;
	rp->base = base;
	/* a random start, so relayed ports do not reveal how many
	 * allocations came before */
	for (unsigned k = 0; k < rp->n_ip; k++)
		rp->cursor[k] = (uint32_t)(rte_rand() % rp->range);
}

int
dp_relay_ports_open(struct dp_relay_ports *rp, const struct sotto_addr *want,
		    int (*claim)(void *arg, uint32_t slot,
				 const struct sotto_addr *addr),
		    void *arg, struct sotto_addr *relay, uint32_t *slot)
{
	uint32_t first, count;
	unsigned k;

	for (k = 0; k < rp->n_ip; k++)
		if (sotto_addr_ip_eq(&rp->ip[k], want))
			break;
	if (k == rp->n_ip)
		return -EINVAL;

	if (want->port > DP_PORT_EVEN) {
		if (want->port < rp->port_min ||
		    (uint32_t)(want->port - rp->port_min) >= rp->range)
			return -EINVAL;
		first = (uint32_t)(want->port - rp->port_min);
		count = 1;
	} else {
		first = rp->cursor[k];
		count = rp->range;
	}

	for (uint32_t i = 0; i < count; i++) {
		uint32_t off = (first + i) % rp->range;
		struct sotto_addr a = rp->ip[k];

		a.port = (uint16_t)(rp->port_min + off);
		if (want->port == DP_PORT_EVEN && (a.port & 1))
			continue;
		uint32_t s = rp->base + k * rp->range + off;
		int ret = claim(arg, s, &a);
		if (ret == -EADDRINUSE)
			continue;
		if (ret < 0)
			return ret;
		if (count > 1)
			rp->cursor[k] = (off + 1) % rp->range;
		*relay = a;
		*slot = s;
		return 0;
	}
	return count == 1 ? -EADDRINUSE : -ENOSPC;
}
