/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DP_CONF_H
#define SOTTO_DP_CONF_H

/*
 * What the dataplane is given at start, as l3fwd's per-lcore conf: the
 * dataplane never sees the daemon's config type. control/config/ fills it
 * from the YAML (config_dp_conf) and ties its own limits to these with
 * _Static_assert. Plain C, no DPDK: the config and sottoctl include it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define DP_CONF_MAX_ADDRS 8     /* listen and relay addresses of one kind */
#define DP_CONF_MAX_PORTS 4     /* DPDK ports */

/* Limits the layers above size their own tables and checks by. */
#define DP_MAX_WORKERS 16
#define DP_GW_MAX_SLOTS 8       /* gateway: receive slots per listener */
#define DP_GW_MAX_LEGS 64       /* gateway: participants per room */

enum dp_driver { DP_DRIVER_UDP, DP_DRIVER_DPDK };
enum dp_idle { DP_IDLE_ADAPTIVE, DP_IDLE_POLL };

/* One DPDK port and its addresses. */
struct dp_port_conf {
	char device[128];         /* DPDK name, e.g. net_af_xdp0 or 0000:01:00.0 */
	bool has_ip4, has_ip6;
	struct sotto_addr ip4;    /* "198.18.0.1/24" (port 0) */
	uint8_t prefix4;
	struct sotto_addr ip6;    /* "2001:db8::1/64" */
	uint8_t prefix6;
	struct sotto_addr gw4;    /* next hop, family 0 = none */
	struct sotto_addr gw6;
	uint16_t vlan;            /* 0 (untagged) or 1..4094 */
};

struct dp_conf {
	uint16_t workers;              /* 1..DP_MAX_WORKERS */
	enum dp_idle idle;
	uint32_t mbufs;                /* packet pool size */
	uint32_t ring_size;            /* power of 2 */
	uint32_t max_allocs;           /* TURN allocation table size */
	uint64_t bandwidth;            /* per allocation and direction, B/s, 0 = none */
	/* packets per second each source prefix may hand the control
	 * thread (IPv4 address, IPv6 /64), per worker; 0 = unlimited */
	uint32_t exc_per_source;
	uint32_t exc_burst;

	struct sotto_addr turn_listen[DP_CONF_MAX_ADDRS];  /* TURN/STUN */
	unsigned n_turn_listen;
	struct sotto_addr media_listen[DP_CONF_MAX_ADDRS]; /* gateway media */
	unsigned n_media_listen;
	struct sotto_addr relay[DP_CONF_MAX_ADDRS];        /* relay IPs, port 0 */
	unsigned n_relay;
	uint16_t port_min, port_max;   /* relayed port range */

	/* driver dpdk only */
	struct {
		struct dp_port_conf ports[DP_CONF_MAX_PORTS];
		unsigned n_ports;
		uint32_t neighbours;   /* neighbour table size, power of 2 */
		uint16_t rx_desc, tx_desc;
	} dpdk;
};

#endif
