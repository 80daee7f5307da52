/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CONFIG_H
#define SOTTO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "log.h"

#define CONFIG_MAX_ADDRS 8

struct sotto_cidr {
	struct sotto_addr addr; /* port unused */
	uint8_t prefix;
};

enum dp_driver { DP_DRIVER_UDP, DP_DRIVER_DPDK };
enum dp_idle { DP_IDLE_ADAPTIVE, DP_IDLE_POLL };

struct sotto_config {
	enum log_level log_level;          /* log_level: error|warn|info|debug */

	struct {
		enum dp_driver driver;     /* dataplane.driver: udp|dpdk */
		uint16_t workers;          /* dataplane.workers: 1..16 */
		enum dp_idle idle;         /* dataplane.idle: adaptive|poll */
		uint32_t mbufs;            /* dataplane.mbufs: packet pool size */
		uint32_t ring_size;        /* dataplane.ring_size: power of 2 */
	} dataplane;

	struct {
		struct sotto_addr listen[CONFIG_MAX_ADDRS]; /* turn.listen */
		unsigned n_listen;
		struct sotto_addr relay[CONFIG_MAX_ADDRS];  /* turn.relay.addresses, port 0 */
		unsigned n_relay;
		uint16_t port_min, port_max;  /* turn.relay.port_min/port_max */
		char realm[128];              /* turn.realm */
		char software[64];            /* turn.software, "" = none */
		/* turn.channel_range: rfc8656 (0x4000-0x4FFF, default) or
		 * rfc5766 (0x4000-0x7FFF, what older clients such as coturn's
		 * turnutils_uclient pick from) */
		bool legacy_channels;

		/* turn.auth.secrets (list) or turn.auth.secret_file (one
		 * secret a line); SOTTO_TURN_SECRET in the environment
		 * replaces both with one secret. */
		char **secrets;
		unsigned n_secrets;
		uint32_t nonce_lifetime;      /* turn.auth.nonce_lifetime, s */

		uint32_t default_lifetime;    /* turn.lifetime.default, s */
		uint32_t max_lifetime;        /* turn.lifetime.max, s */

		uint32_t max_allocations;     /* turn.limits.allocations */
		uint32_t max_allocations_per_user; /* turn.limits.allocations_per_user */
		uint32_t max_permissions;     /* turn.limits.permissions_per_allocation (channels too) */
		uint64_t bandwidth;           /* turn.limits.bandwidth: bytes/s per direction, 0 = none */
		uint32_t requests_per_source; /* turn.limits.requests_per_source: STUN requests/s per IP */

		struct sotto_cidr *allow;     /* turn.peers.allow */
		unsigned n_allow;
		struct sotto_cidr *deny;      /* turn.peers.deny */
		unsigned n_deny;
	} turn;
};

/* Built-in defaults: the safe ones (no peers beyond the built-in policy). */
void config_defaults(struct sotto_config *cfg);

/*
 * Loads YAML from a file or a buffer (name is used in messages). Every error
 * is printed to errs as "name:line:column: error: ..." and counted; loading
 * goes on to find the rest. Returns the number of errors (0 = usable).
 */
int config_load_file(struct sotto_config *cfg, const char *path, FILE *errs);
int config_load_buffer(struct sotto_config *cfg, const char *name,
		       const char *buf, size_t len, FILE *errs);

void config_free(struct sotto_config *cfg);

/* configs/sotto.yaml, compiled in (generated file). */
extern const char sotto_default_config[];
extern const unsigned sotto_default_config_len;

#endif
