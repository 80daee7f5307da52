/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Config reload (SIGHUP, sottoctl reload): load, refuse what cannot change
 * while running, hand the new limits to the TURN server and signaling.
 */
#include "daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sig.h"
#include "turn_server.h"

const struct sotto_config *
daemon_config(const struct daemon *d)
{
	return d->cfg;
}

static bool
same_args(char *const *a, unsigned na, char *const *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/*
 * What a reload may not change: sockets, threads and memory sized at
 * start. Each difference is an error in the same file:line:col shape as
 * the loader's (line 1: the key's place is not tracked across files).
 */
static int
check_fixed(const struct sotto_config *old, const struct sotto_config *new,
	    const char *name, FILE *errs)
{
	int n = 0;

#define FIXED(cond, what)                                                     \
	do {                                                                  \
		if (cond) {                                                   \
			if (errs != NULL)                                     \
				fprintf(errs, "%s:1:1: error: %s cannot change on reload; restart sottod\n", \
					name, what);                          \
			n++;                                                  \
		}                                                             \
	} while (0)
	FIXED(old->dataplane.driver != new->dataplane.driver ||
	      old->dataplane.workers != new->dataplane.workers ||
	      old->dataplane.mbufs != new->dataplane.mbufs ||
	      old->dataplane.ring_size != new->dataplane.ring_size ||
	      old->dataplane.idle != new->dataplane.idle, "dataplane");
	FIXED(old->dataplane.dpdk.n_ports != new->dataplane.dpdk.n_ports ||
	      memcmp(old->dataplane.dpdk.ports, new->dataplane.dpdk.ports,
		     sizeof(old->dataplane.dpdk.ports)) ||
	      strcmp(old->dataplane.dpdk.lcores, new->dataplane.dpdk.lcores) ||
	      old->dataplane.dpdk.neighbours != new->dataplane.dpdk.neighbours ||
	      old->dataplane.dpdk.rx_desc != new->dataplane.dpdk.rx_desc ||
	      old->dataplane.dpdk.tx_desc != new->dataplane.dpdk.tx_desc ||
	      !same_args(old->dataplane.dpdk.eal_args,
			 old->dataplane.dpdk.n_eal_args,
			 new->dataplane.dpdk.eal_args,
			 new->dataplane.dpdk.n_eal_args),
	      "dataplane.dpdk");
	FIXED(old->turn.nonce_lifetime != new->turn.nonce_lifetime,
	      "turn.auth.nonce_lifetime");
	/* the dataplane's tables are sized for it at start */
	FIXED(new->turn.max_allocations > old->turn.max_allocations,
	      "turn.limits.allocations (raising it)");
	FIXED(old->turn.n_listen != new->turn.n_listen ||
	      memcmp(old->turn.listen, new->turn.listen, sizeof(old->turn.listen)),
	      "turn.listen");
	FIXED(old->turn.n_relay != new->turn.n_relay ||
	      memcmp(old->turn.relay, new->turn.relay, sizeof(old->turn.relay)) ||
	      old->turn.port_min != new->turn.port_min ||
	      old->turn.port_max != new->turn.port_max, "turn.relay");
	FIXED(strcmp(old->turn.realm, new->turn.realm) != 0, "turn.realm");
	FIXED(old->turn.legacy_channels != new->turn.legacy_channels,
	      "turn.channel_range");
	FIXED(old->turn.max_permissions != new->turn.max_permissions,
	      "turn.limits.permissions_per_allocation");
	FIXED(memcmp(&old->http, &new->http, sizeof(old->http)) != 0, "http");
	FIXED(memcmp(&old->gateway, &new->gateway, sizeof(old->gateway)) != 0,
	      "gateway");
	FIXED(memcmp(&old->metrics, &new->metrics, sizeof(old->metrics)) != 0,
	      "metrics");
	FIXED(strcmp(old->control.socket, new->control.socket) != 0,
	      "control.socket");
	FIXED(memcmp(&old->run_as, &new->run_as, sizeof(old->run_as)) != 0,
	      "run_as");
	FIXED(old->signaling.max_rooms != new->signaling.max_rooms,
	      "signaling.max_rooms");
	FIXED(old->signaling.max_sdp_bytes != new->signaling.max_sdp_bytes,
	      "signaling.max_sdp_bytes");
#undef FIXED
	return n;
}

int
daemon_load_config(struct sotto_config *cfg, const char *path, FILE *errs)
{
	config_defaults(cfg);
	return path ? config_load_file(cfg, path, errs)
		    : config_load_buffer(cfg, DAEMON_EMBEDDED_NAME,
					 sotto_default_config,
					 sotto_default_config_len, errs);
}

int
daemon_reload(struct daemon *d, FILE *errs)
{
	const char *name = d->path ? d->path : DAEMON_EMBEDDED_NAME;
	struct sotto_config *next = malloc(sizeof(*next));
	int n, ret;

	if (next == NULL)
		return -ENOMEM;
	n = daemon_load_config(next, d->path, errs);
	if (n == 0)
		n = check_fixed(d->cfg, next, name, errs);
	if (n > 0) {
		config_free(next);
		free(next);
		return -EINVAL;
	}
	ret = turn_server_reload(d->ts, next);
	if (ret < 0) {
		if (errs != NULL)
			fprintf(errs, "%s:1:1: error: cannot apply: %s\n", name,
				strerror(-ret));
		config_free(next);
		free(next);
		return ret;
	}
	/* same address, new contents: whoever holds d->cfg sees them */
	config_free(d->cfg);
	*d->cfg = *next;
	/* the copy held keys (signaling api/token keys) */
	explicit_bzero(next, sizeof(*next));
	free(next);
	log_threshold = d->cfg->log_level;
	log_format = d->cfg->log_format;
	if (d->sig != NULL && (ret = sig_reload(d->sig)) < 0) {
		/* only out of memory gets here; the old limits stay */
		log_err("main", "signaling reload: %s", strerror(-ret));
		if (errs != NULL)
			fprintf(errs, "%s:1:1: error: signaling limits not applied: %s\n",
				name, strerror(-ret));
		return ret;
	}
	log_info("main", "configuration reloaded from %s", name);
	return 0;
}
