/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sottod: the sotto media gateway daemon.
 *
 *   sottod [-c FILE]               run (no -c: the embedded configs/sotto.yaml)
 *   sottod --check-config [-c FILE] validate the config and exit
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "config.h"
#include "ctl_loop.h"
#include "dp.h"
#include "dp_gw.h"
#include "gw.h"
#include "log.h"
#include "privdrop.h"
#include "sig.h"
#include "turn_server.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sottod [-c FILE] [--check-config]\n"
		"  -c, --config FILE   configuration (default: the embedded "
		"configs/sotto.yaml)\n"
		"      --check-config  validate the configuration and exit\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n");
}

/*
 * EAL arguments. Lcore 0 is the control thread, 1..N the workers.
 * udp driver: no hugepages, no PCI, no shared config files, so it starts
 * unprivileged; kernel sockets do the I/O, so the lcores float over all
 * CPUs. dpdk driver: the operator's dataplane.dpdk.eal arguments, and the
 * lcores pinned one to a CPU where there are enough CPUs.
 */
static int
eal_start(const struct sotto_config *cfg)
{
	char lcores[256], mem[32];
	char *argv[CONFIG_MAX_EAL_ARGS + 16];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nw = cfg->dataplane.workers;
	bool telemetry = false;
	int argc = 0;

	if (ncpu < 1)
		ncpu = 1;
	argv[argc++] = "sottod";
	if (cfg->dataplane.driver == DP_DRIVER_UDP) {
		argv[argc++] = "--no-huge";
		argv[argc++] = "--no-pci";
		argv[argc++] = "--no-shconf";
		/* pool (2.3 KB an mbuf) plus tables, rings and slack */
		snprintf(mem, sizeof(mem), "%u",
			 128 + cfg->dataplane.mbufs * 3 / 1024 +
				 cfg->turn.max_allocations / 1024);
		argv[argc++] = "-m";
		argv[argc++] = mem;
	} else {
		for (unsigned i = 0; i < cfg->dataplane.dpdk.n_eal_args; i++) {
			argv[argc++] = cfg->dataplane.dpdk.eal_args[i];
			if (strcmp(argv[argc - 1], "--telemetry") == 0)
				telemetry = true;
		}
	}
	if (!telemetry)
		argv[argc++] = "--no-telemetry";

	if (cfg->dataplane.driver == DP_DRIVER_DPDK &&
	    cfg->dataplane.dpdk.lcores[0] != '\0')
		snprintf(lcores, sizeof(lcores), "%s",
			 cfg->dataplane.dpdk.lcores);
	else if (cfg->dataplane.driver == DP_DRIVER_DPDK && nw + 1 <= ncpu)
		snprintf(lcores, sizeof(lcores), "0-%u", nw);
	else
		snprintf(lcores, sizeof(lcores), "(0-%u)@(0-%ld)", nw, ncpu - 1);
	argv[argc++] = "--lcores";
	argv[argc++] = lcores;
	argv[argc++] = "--log-level";
	argv[argc++] = cfg->log_level >= LOG_LVL_DEBUG ? "*:info" : "*:warning";
	argv[argc] = NULL;

	if (rte_eal_init(argc, argv) < 0) {
		log_err("main", "EAL init failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/*
 * Every WebSocket is a descriptor, and so is every relay socket of the udp
 * driver: take the hard limit, and say so when it is below what the config
 * asks for (systemd's LimitNOFILE raises it).
 */
static void
raise_nofile(const struct sotto_config *cfg)
{
	struct rlimit rl;
	uint64_t want = 1024;

	if (cfg->http.n_listen > 0)
		want += cfg->http.max_connections;

	if (cfg->dataplane.driver == DP_DRIVER_UDP)
		want += (uint64_t)cfg->turn.port_max - cfg->turn.port_min + 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("main", "open file limit below what the config can use limit=%llu want=%llu",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

/*
 * The control socket (and the directory sottod made for it) belong to the
 * user sottod becomes, so that it can still remove the socket at exit and
 * that user's sottoctl can connect.
 */
static void
hand_over_socket(const struct sotto_config *cfg, const struct privdrop_ids *ids,
		 bool made_dir)
{
	char dir[sizeof(cfg->control.socket)], *slash;

	if (cfg->control.socket[0] == '\0')
		return;
	/* lchown: never follow a link someone put in the socket's place */
	if (lchown(cfg->control.socket, ids->uid, ids->gid) < 0)
		log_warn("main", "cannot hand the control socket over path=%s error=\"%s\"",
			 cfg->control.socket, strerror(errno));
	snprintf(dir, sizeof(dir), "%s", cfg->control.socket);
	slash = strrchr(dir, '/');
	/* only the directory this run made for it (/run/sotto) */
	if (made_dir && slash != NULL && slash != dir) {
		*slash = '\0';
		if (lchown(dir, ids->uid, ids->gid) < 0)
			log_warn("main", "cannot hand over path=%s error=\"%s\"", dir,
				 strerror(errno));
	}
}

/* What a reload needs to reach. */
struct daemon {
	const char *path;          /* NULL: the embedded config */
	struct sotto_config *cfg;
	struct dp_ctx *dp;
	struct turn_server *ts;
	struct sig *sig;
};

static void sig_tick_cb(void *s, uint64_t now_ms) { sig_tick(s, now_ms); }

/* signaling ↔ gateway (sig.h, gw.h) */
static void *gw_room_open_cb(void *g, const char *hex) { return gw_room_new(g, hex); }
static void gw_room_close_cb(void *g, void *r) { gw_room_free(g, r); }
static void gw_leave_cb(void *g, void *r, const char *peer) { gw_leave(g, r, peer); }

static int
gw_offer_cb(void *g, void *r, const char *peer, const char *sdp, size_t len,
	    char *answer, size_t cap, const char **reason, uint64_t now_ms)
{
	return gw_offer(g, r, peer, sdp, len, answer, cap, reason, now_ms);
}

static void
gw_leg_ended_cb(void *s, const char *room, const char *peer, const char *reason)
{
	sig_gateway_leg_ended(s, room, peer, reason);
}
static void sig_draining_cb(void *s, bool on) { sig_set_draining(s, on); }
static char *sig_rooms_cb(void *s) { return sig_rooms_json(s); }
static char *sig_room_cb(void *s, const char *id) { return sig_room_json(s, id); }
static int sig_room_close_cb(void *s, const char *id) { return sig_room_close(s, id); }
static void sig_metrics_cb(void *s, struct metrics *m) { sig_metrics(s, m); }

static void
sig_counts_cb(void *s, uint64_t *rooms, uint64_t *participants, uint64_t *ws)
{
	struct sig_stats st;

	sig_get_stats(s, &st);
	*rooms = st.rooms_current;
	*participants = st.peers_current;
	*ws = st.ws_current;
}

static const struct sotto_config *
current_config(void *arg)
{
	return ((struct daemon *)arg)->cfg;
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

/* SIGHUP and sottoctl reload: all or nothing. */
static int
reload(void *arg, FILE *errs)
{
	struct daemon *d = arg;
	const char *name = d->path ? d->path : "<embedded configs/sotto.yaml>";
	struct sotto_config *next = malloc(sizeof(*next));
	int n, ret;

	if (next == NULL)
		return -ENOMEM;
	config_defaults(next);
	n = d->path ? config_load_file(next, d->path, errs)
		    : config_load_buffer(next, name, sotto_default_config,
					 sotto_default_config_len, errs);
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

static void
log_config(const struct sotto_config *cfg)
{
	char a[SOTTO_ADDRSTRLEN];

	for (unsigned i = 0; i < cfg->turn.n_listen; i++)
		log_info("main", "TURN/STUN on %s/udp",
			 sotto_addr_str(&cfg->turn.listen[i], a, sizeof(a)));
	for (unsigned i = 0; i < cfg->turn.n_relay; i++) {
		struct sotto_addr r = cfg->turn.relay[i];
		r.port = 0;
		sotto_addr_str(&r, a, sizeof(a));
		*strrchr(a, ':') = '\0';
		log_info("main", "relay addresses on %s ports %u-%u", a,
			 cfg->turn.port_min, cfg->turn.port_max);
	}
	for (unsigned i = 0; i < cfg->gateway.n_listen; i++)
		log_info("main", "gateway media on %s/udp, %u slot(s) per listener",
			 sotto_addr_str(&cfg->gateway.listen[i], a, sizeof(a)),
			 cfg->gateway.slots);
	log_info("main", "%u TURN secret(s), %u peer allow and %u deny "
		 "entries, driver %s, %u worker(s), idle %s",
		 cfg->turn.n_secrets, cfg->turn.n_allow, cfg->turn.n_deny,
		 cfg->dataplane.driver == DP_DRIVER_UDP ? "udp" : "dpdk",
		 cfg->dataplane.workers,
		 cfg->dataplane.idle == DP_IDLE_POLL ? "poll" : "adaptive");
}

static void
log_driver_counter(const char *name, uint64_t v, void *arg)
{
	(void)arg;
	if (v)
		log_info("main", "dropped %" PRIu64 " packets: %s", v, name);
}

static void
log_counters(struct dp_ctx *dp, struct turn_server *ts)
{
	uint64_t c[DP_N_COUNTERS], t[TURN_N_STATS];

	dp_ctx_counters(dp, c);
	turn_server_stats(ts, t);
	log_info("main", "relayed %" PRIu64 " to peers, %" PRIu64
		 " to clients; %" PRIu64 " requests, %" PRIu64
		 " allocations created",
		 c[DP_RELAY_TO_PEER], c[DP_RELAY_TO_CLIENT],
		 t[TURN_STAT_REQUESTS], t[TURN_STAT_ALLOCATIONS_CREATED]);
	for (unsigned i = 0; i < DP_N_DROPS; i++)
		if (c[i])
			log_info("main", "dropped %" PRIu64 " packets: %s", c[i],
				 dp_counter_names[i]);
	for (unsigned i = DP_N_DROPS; i < DP_N_COUNTERS; i++)
		log_debug("main", "%s %" PRIu64, dp_counter_names[i], c[i]);
	if (dp->ops->counters)
		dp->ops->counters(dp, log_driver_counter, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool check_only = false;
	struct sotto_config cfg;
	struct dp_ctx dp;
	struct dp_conf dp_conf;
	struct turn_server *ts;
	struct sig *sig = NULL;
	struct gw *gw = NULL;
	struct ctl_loop *ctl = NULL;
	struct daemon daemon = { 0 };
	struct privdrop_ids run_as;
	cap_value_t keep[PRIVDROP_MAX_KEEP];
	bool drop_to_user;
	int n_keep;
	struct ctl_hooks hooks = {
		.http_handle = sig_http_handle,
		.tick = sig_tick_cb,
		.set_draining = sig_draining_cb,
		.rooms_json = sig_rooms_cb,
		.room_json = sig_room_cb,
		.room_close = sig_room_close_cb,
		.counts = sig_counts_cb,
		.metrics = sig_metrics_cb,
		.reload = reload,
		.config = current_config,
		.main_arg = &daemon,
	};
	sigset_t mask;
	int opt, errs, ret = 1;

	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'C': check_only = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sottod %s\n", SOTTO_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	config_defaults(&cfg);
	errs = path ? config_load_file(&cfg, path, stderr)
		    : config_load_buffer(&cfg, "<embedded configs/sotto.yaml>",
					 sotto_default_config,
					 sotto_default_config_len, stderr);
	if (errs) {
		fprintf(stderr, "sottod: %d error%s in the configuration; not "
			"starting\n", errs, errs == 1 ? "" : "s");
		config_free(&cfg);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration OK\n", path ? path : "<embedded>");
		config_free(&cfg);
		return 0;
	}
	log_threshold = cfg.log_level;
	log_format = cfg.log_format;

	/* Before anything starts, so a run_as user that does not exist stops
	 * sottod here, while NSS files are still readable. */
	drop_to_user = cfg.run_as.user[0] != '\0' && geteuid() == 0;
	if (drop_to_user &&
	    privdrop_lookup(cfg.run_as.user, cfg.run_as.group, &run_as) < 0)
		goto out_cfg;

	/* Every thread (EAL lcores included) inherits this mask, so the
	 * signals reach only the control loop's signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	raise_nofile(&cfg);
	if (eal_start(&cfg) < 0)
		goto out_cfg;
	config_dp_conf(&cfg, &dp_conf);
	ret = dp_ctx_init(&dp, &dp_conf, cfg.dataplane.driver == DP_DRIVER_DPDK
					     ? &dp_dpdk_ops : &dp_udp_ops);
	if (ret < 0) {
		log_err("main", "dataplane init: %s", strerror(-ret));
		ret = 1;
		goto out_eal;
	}
	ts = turn_server_new(&cfg, &dp);
	if (ts == NULL) {
		log_err("main", "TURN server init: %s", strerror(errno));
		ret = 1;
		goto out_dp;
	}
	if (cfg.http.n_listen > 0) {
		sig = sig_new(&cfg);
		if (sig == NULL) {
			log_err("main", "signaling init: %s", strerror(errno));
			ret = 1;
			goto out_ts;
		}
	}
	if (cfg.gateway.n_listen > 0) {
		struct sig_gateway sg = {
			.slots = cfg.gateway.slots,
			.room_open = gw_room_open_cb,
			.room_close = gw_room_close_cb,
			.offer = gw_offer_cb,
			.leave = gw_leave_cb,
		};
		struct gw_hooks gh = { .leg_ended = gw_leg_ended_cb, .arg = sig };

		gw = gw_new(&cfg, &dp);
		if (gw == NULL) {
			ret = 1;
			goto out_sig;
		}
		sg.arg = gw;
		/* the config check makes gateway.listen need http.listen */
		if (sig != NULL)
			sig_set_gateway(sig, &sg);
		gw_set_hooks(gw, &gh);
	}
	hooks.gw = gw;
	hooks.sig = sig;
	if (sig == NULL) {
		/* no HTTP listener: no signaling, the rest of the hooks stay */
		hooks.http_handle = NULL;
		hooks.tick = NULL;
		hooks.set_draining = NULL;
		hooks.rooms_json = NULL;
		hooks.room_json = NULL;
		hooks.room_close = NULL;
		hooks.counts = NULL;
		hooks.metrics = NULL;
	}
	daemon.path = path;
	daemon.cfg = &cfg;
	daemon.dp = &dp;
	daemon.ts = ts;
	daemon.sig = sig;
	ctl = ctl_loop_new(&dp, ts, &cfg, &hooks);
	if (ctl == NULL) {
		ret = 1;
		goto out_sig;
	}
	/*
	 * Everything privileged is open now: the EAL, ports, sockets and
	 * listeners. The EAL's lcore threads exist but run nothing yet;
	 * privdrop_apply() reaches every thread itself. Workers start after.
	 */
	if (drop_to_user)
		hand_over_socket(&cfg, &run_as, ctl_loop_made_socket_dir(ctl));
	n_keep = privdrop_caps_needed(&cfg, keep, PRIVDROP_MAX_KEEP);
	if (n_keep < 0 ||
	    privdrop_apply(drop_to_user ? &run_as : NULL, keep,
			   (unsigned)n_keep) < 0) {
		log_err("main", "cannot drop privileges; not starting");
		ret = 1;
		goto out_ctl;
	}
	ret = dp_ctx_start(&dp);
	if (ret < 0) {
		log_err("main", "cannot start workers: %s", strerror(-ret));
		ret = 1;
		goto out_ctl;
	}
	log_config(&cfg);
	log_info("main", "sottod %s ready", SOTTO_VERSION);

	ret = ctl_loop_run(ctl) < 0 ? 1 : 0;

	dp_ctx_stop(&dp);
	log_counters(&dp, ts);
	log_info("main", "releasing %u allocation(s)",
		 turn_server_allocations(ts));
out_ctl:
	/* connections first: closing them calls back into the rooms */
	ctl_loop_free(ctl);
out_sig:
	sig_free(sig);        /* closes its gateway rooms */
	gw_free(gw);
out_ts:
	turn_server_free(ts);
	/* workers are stopped: deferred frees and relay closes run now */
	dp_tables_reclaim(&dp.tables);
	dp_gw_fini(&dp);
out_dp:
	dp_ctx_fini(&dp);
out_eal:
	rte_eal_cleanup();
out_cfg:
	config_free(&cfg);
	if (ret == 0)
		log_info("main", "stopped");
	return ret;
}
