/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_RELAY_PORTS_H
#define SOTTO_RELAY_PORTS_H

/*
 * The relayed-address space both port drivers number the same way: relay
 * IP k, port port_min + off is socket slot base + k * range + off. Picking
 * a free one (any, even, or exactly one port) is here; what "free" means
 * (a bindable socket, an unused table entry) is the driver's claim().
 * Control thread only.
 */
#include <stdint.h>

#include "addr.h"
#include "dp_conf.h"

struct dp_relay_ports {
	struct sotto_addr ip[DP_CONF_MAX_ADDRS];
	unsigned n_ip;
	uint16_t port_min;
	uint32_t range;               /* ports per relay IP */
	uint32_t base;                /* slot of the first relayed address */
	uint32_t cursor[DP_CONF_MAX_ADDRS]; /* next offset to try, per IP */
};

/* Relay IPs and range from conf; slots start at base. */
void dp_relay_ports_init(struct dp_relay_ports *rp,
			 const struct dp_conf *conf, uint32_t base);

static inline uint32_t
dp_relay_ports_count(const struct dp_relay_ports *rp)
{
	return rp->n_ip * rp->range;
}

/*
 * Finds a relayed address on want's IP; want->port is DP_PORT_ANY,
 * DP_PORT_EVEN or one exact port. claim(arg, slot, addr) takes a candidate
 * and returns 0, -EADDRINUSE to try the next one, or another -errno to
 * give up with it. Returns 0 with *relay and *slot set, -EINVAL (not a
 * relay IP, or a port outside the range), -EADDRINUSE (the exact port is
 * taken) or -ENOSPC.
 */
int dp_relay_ports_open(struct dp_relay_ports *rp, const struct sotto_addr *want,
			int (*claim)(void *arg, uint32_t slot,
				     const struct sotto_addr *addr),
			void *arg, struct sotto_addr *relay, uint32_t *slot);

/* The slot of relayed address a, or -1 if a is not one. */
static inline int64_t
dp_relay_ports_slot(const struct dp_relay_ports *rp, const struct sotto_addr *a)
{
	if (a->port < rp->port_min ||
	    (uint32_t)(a->port - rp->port_min) >= rp->range)
		return -1;
	for (unsigned k = 0; k < rp->n_ip; k++)
		if (sotto_addr_ip_eq(&rp->ip[k], a))
			return rp->base + k * rp->range +
			       (uint32_t)(a->port - rp->port_min);
	return -1;
}

#endif
