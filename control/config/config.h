/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CONFIG_H
#define SOTTO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "dp_conf.h"
#include "log.h"

#define CONFIG_MAX_ADDRS DP_CONF_MAX_ADDRS

struct sotto_cidr {
	struct sotto_addr addr; /* port unused */
	uint8_t prefix;
};

#define CONFIG_MAX_PORTS DP_CONF_MAX_PORTS
#define CONFIG_MAX_EAL_ARGS 32
#define CONFIG_MAX_LIST 16
#define CONFIG_URL_MAX 256
#define CONFIG_KEY_MAX 128
#define CONFIG_MAX_TOKEN_KEYS 4
/* signaling.token_keys[].secret: the HMAC key buffer of the room tokens
 * (struct sig_token_key in signaling/sig_token.h, tied by _Static_assert
 * there); a longer secret is refused, never cut. */
#define CONFIG_TOKEN_SECRET_MAX 64
#define DEFAULT_GATEWAY_PORT 3479

struct sotto_config {
	enum log_level log_level;          /* log_level: error|warn|info|debug */
	enum log_format log_format;        /* log_format: text (logfmt)|json */

	struct {
		enum dp_driver driver;     /* dataplane.driver: udp|dpdk */
		uint16_t workers;          /* dataplane.workers: 1..16 */
		enum dp_idle idle;         /* dataplane.idle: adaptive|poll */
		uint32_t mbufs;            /* dataplane.mbufs: packet pool size */
		uint32_t ring_size;        /* dataplane.ring_size: power of 2 */

		/* dataplane.dpdk: only for driver dpdk */
		struct {
			/* eal: extra EAL arguments (--vdev, -a, --no-huge,
			 * -m, --huge-dir, ...); sottod adds --lcores */
			char *eal_args[CONFIG_MAX_EAL_ARGS];
			unsigned n_eal_args;
			/* lcores: CPU list, first for the control thread,
			 * then one per worker, e.g. "0-2" (default: 0..workers) */
			char lcores[64];
			struct dp_port_conf ports[CONFIG_MAX_PORTS]; /* device, ipv4, ipv6, gateway4, gateway6, vlan */
			unsigned n_ports;
			uint32_t neighbours;  /* neighbours: table size, power of 2, default 1024 */
			uint16_t rx_desc, tx_desc; /* rx_desc/tx_desc: ring sizes, default 1024 */
		} dpdk;
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
		 * replaces both with one secret (see config_env_secret_forget). */
		char **secrets;
		unsigned n_secrets;
		uint32_t nonce_lifetime;      /* turn.auth.nonce_lifetime, s */

		uint32_t default_lifetime;    /* turn.lifetime.default, s */
		uint32_t max_lifetime;        /* turn.lifetime.max, s */

		uint32_t max_allocations;     /* turn.limits.allocations */
		uint32_t max_allocations_per_user; /* turn.limits.allocations_per_user */
		uint32_t max_permissions;     /* turn.limits.permissions_per_allocation (channels too) */
		uint64_t bandwidth;           /* turn.limits.bandwidth: bytes/s per direction, 0 = none */
		uint32_t requests_per_source; /* turn.limits.requests_per_source: STUN requests and Send indications/s per IP */
		uint32_t max_reservations;    /* turn.limits.reservations: EVEN-PORT ports held at once, 0 = none */

		struct sotto_cidr *allow;     /* turn.peers.allow */
		unsigned n_allow;
		struct sotto_cidr *deny;      /* turn.peers.deny */
		unsigned n_deny;
		/* turn.peers.allow_own: the gateway's own addresses (relay,
		 * listen, gateway) that may be peers on any port; without it
		 * an own address is denied before turn.peers.allow is read */
		struct sotto_cidr *allow_own;
		unsigned n_allow_own;
	} turn;

	/* http: the API, WebSocket signaling and the web client. No listen
	 * address = no HTTP at all (a TURN-only relay). */
	struct {
		struct sotto_addr listen[CONFIG_MAX_ADDRS]; /* http.listen */
		unsigned n_listen;
		char tls_cert[256];          /* http.tls.certificate (PEM chain) */
		char tls_key[256];           /* http.tls.private_key (PEM) */
		uint32_t max_connections;    /* http.max_connections */
		/* http.max_connections_per_ip: open at once per IPv4 address
		 * or IPv6 /64 (16x per /48); 0 = no cap */
		uint32_t max_connections_per_ip;
		/* http.tls_handshakes_per_ip_per_second: new TLS connections
		 * per address or /64 (16x per /48); 0 = no limit */
		uint32_t tls_handshakes_per_ip_per_second;
	} http;

	struct {
		char origins[CONFIG_MAX_LIST][CONFIG_URL_MAX]; /* signaling.origins */
		unsigned n_origins;
		bool allow_no_origin;        /* signaling.allow_no_origin */
		bool anonymous_rooms;        /* signaling.anonymous_rooms */
		bool web_client;             /* signaling.web_client */
		bool allow_dtmf, allow_video, allow_data_channels;
		/* signaling.api_keys: bearer keys allowed to create rooms */
		char api_keys[CONFIG_MAX_LIST][CONFIG_KEY_MAX + 1];
		unsigned n_api_keys;
		/* signaling.token_keys: [{id, secret}], the first signs. None
		 * given: a random key per start (rooms do not outlive the
		 * process either). */
		struct config_token_key {
			char id[33];
			char secret[CONFIG_TOKEN_SECRET_MAX + 1];
		} token_keys[CONFIG_MAX_TOKEN_KEYS];
		unsigned n_token_keys;
		char turn_urls[CONFIG_MAX_ADDRS][CONFIG_URL_MAX]; /* signaling.turn_urls */
		unsigned n_turn_urls;
		uint32_t token_ttl;          /* s */
		uint32_t credential_ttl;     /* s */
		uint32_t room_ttl;           /* s */
		uint32_t max_participants;   /* largest room a creator may ask for */
		uint32_t max_rooms;
		uint32_t rooms_per_ip_per_minute;
		uint32_t joins_per_ip_per_minute;
		uint32_t joins_per_second;   /* whole server */
		/* invites per room (= per creator token) per minute, after a
		 * start of max_participants more; 0 = no limit */
		uint32_t invites_per_room_per_minute;
		uint32_t max_sdp_bytes;
	} signaling;

	/* gateway: group rooms where sotto is every participant's peer
	 * (ICE-lite, DTLS-SRTP terminated, loudest speakers forwarded). No
	 * listen address = gateway mode off. */
	struct {
		struct sotto_addr listen[CONFIG_MAX_ADDRS]; /* gateway.listen: UDP media ip:port */
		unsigned n_listen;
		uint32_t slots;              /* gateway.slots: N loudest per listener (3) */
		uint32_t max_legs;           /* gateway.max_legs: participants in all rooms */
		uint32_t consent_timeout;    /* s without a valid ICE check (RFC 7675: 30) */
		uint32_t handshake_timeout;  /* s from answer to DTLS connected */
		uint64_t leg_bandwidth;      /* bytes/s one leg may send (80k) */
	} gateway;

	struct {
		struct sotto_addr listen;    /* metrics.listen; family 0 = off */
	} metrics;

	struct {
		char socket[108];            /* control.socket: sottoctl's Unix socket; "" = off */
	} control;

	struct {
		char user[64];               /* run_as.user: drop to it after binding (root only) */
		char group[64];              /* run_as.group: default the user's group */
	} run_as;
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

/*
 * SOTTO_TURN_SECRET is read by the first load that finds it set; the load
 * then wipes its bytes and removes it from the environment (so it is not
 * in /proc/PID/environ, nor inherited), and keeps a copy of its own that
 * later loads (SIGHUP reload) use as if the variable were still set. A
 * variable set again replaces the copy ("" removes it). This wipes the
 * copy: the next load sees only the environment.
 */
void config_env_secret_forget(void);

/* The dataplane's part of cfg (dataplane/dp_conf.h). */
void config_dp_conf(const struct sotto_config *cfg, struct dp_conf *out);

/* configs/sotto.yaml, compiled in (generated file). */
extern const char sotto_default_config[];
extern const unsigned sotto_default_config_len;

#endif
