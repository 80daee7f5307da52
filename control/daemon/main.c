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
#include "ctl_ops.h"
#include "daemon.h"
#include "dp.h"
#include "dp_gw.h"
#include "gw.h"
#include "log.h"
#include "privdrop.h"
#include "sandbox.h"
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

/* Options: -1 to go on, or the exit code. */
static int
parse_args(int argc, char **argv, const char **path, bool *check_only)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': *path = optarg; break;
		case 'C': *check_only = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sottod %s\n", SOTTO_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Every thread (EAL lcores included) inherits this mask, so the signals
 * reach only the control loop's signalfd. */
static void
block_signals(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Signaling (with an HTTP listener) and the gateway (with gateway.listen),
 * wired to each other and into the control loop's hooks. 0 or -1 (logged);
 * on failure what was made stays in *d and *gw for the caller to free.
 */
static int
open_services(struct daemon *d, struct gw **gw, struct ctl_hooks *hooks)
{
	const struct sotto_config *cfg = d->cfg;

	if (cfg->http.n_listen > 0) {
		d->sig = sig_new(cfg);
		if (d->sig == NULL) {
			log_err("main", "signaling init: %s", strerror(errno));
			return -1;
		}
	}
	if (cfg->gateway.n_listen > 0) {
		struct gw_hooks gh = { .leg_ended = sig_gateway_leg_ended,
				       .sig = d->sig };

		*gw = gw_new(cfg, d->dp);
		if (*gw == NULL)
			return -1;
		/* the config check makes gateway.listen need http.listen */
		if (d->sig != NULL)
			sig_set_gateway(d->sig, *gw);
		gw_set_hooks(*gw, &gh);
	}
	hooks->gw = *gw;
	if (d->sig != NULL) {
		/* without an HTTP listener there is no signaling */
		hooks->sig = d->sig;
		hooks->http_handle = sig_http_handle;
		hooks->tick = sig_tick;
		hooks->set_draining = sig_set_draining;
		hooks->rooms_json = sig_rooms_json;
		hooks->room_json = sig_room_json;
		hooks->room_close = sig_room_close;
		hooks->counts = sig_counts;
		hooks->metrics = sig_metrics;
	}
	return 0;
}

/*
 * Everything privileged is open by now: the EAL, ports, sockets and
 * listeners. The EAL's lcore threads exist but run nothing yet;
 * privdrop_apply() reaches every thread itself. Workers start after.
 */
static int
drop_privileges(const struct sotto_config *cfg,
		const struct privdrop_ids *run_as, bool made_socket_dir)
{
	cap_value_t keep[PRIVDROP_MAX_KEEP];
	int n_keep;

	if (run_as != NULL)
		hand_over_socket(cfg, run_as, made_socket_dir);
	n_keep = privdrop_caps_needed(cfg, keep, PRIVDROP_MAX_KEEP);
	if (n_keep < 0 || privdrop_apply(run_as, keep, (unsigned)n_keep) < 0) {
		log_err("main", "cannot drop privileges; not starting");
		return -1;
	}
	return 0;
}

/*
 * The workers, each under its own seccomp filter from its first loop on
 * (sandbox.h), and the control thread under its own once they run.
 * SOTTO_SECCOMP=log|off in the environment loosens it (docs/security.md).
 */
static int
start_sandboxed(struct dp_ctx *dp, const struct sotto_config *cfg)
{
	const char *m = getenv("SOTTO_SECCOMP");
	bool dpdk = cfg->dataplane.driver == DP_DRIVER_DPDK;
	int ret;

	if (m != NULL && strcmp(m, "off") == 0)
		sandbox_set_mode(SANDBOX_OFF, dpdk);
	else if (m != NULL && strcmp(m, "log") == 0)
		sandbox_set_mode(SANDBOX_LOG, dpdk);
	else
		sandbox_set_mode(SANDBOX_ON, dpdk);
	if (sandbox_process() < 0)
		return -1;
	dp->worker_ready = sandbox_worker;
	ret = dp_ctx_start(dp);
	if (ret < 0) {
		log_err("main", "cannot start workers: %s", strerror(-ret));
		return -1;
	}
	return sandbox_control() < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	bool check_only = false;
	struct sotto_config cfg;
	struct dp_ctx dp;
	struct dp_conf dp_conf;
	struct turn_server *ts;
	struct gw *gw = NULL;
	struct ctl_loop *ctl = NULL;
	struct daemon daemon = { .cfg = &cfg, .dp = &dp };
	struct privdrop_ids run_as;
	struct ctl_hooks hooks = {
		.reload = daemon_reload,
		.config = daemon_config,
		.daemon = &daemon,
	};
	bool drop_to_user, made_socket_dir = false;
	int errs, ret;

	ret = parse_args(argc, argv, &path, &check_only);
	if (ret >= 0)
		return ret;
	daemon.path = path;
	errs = daemon_load_config(&cfg, path, stderr);
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
	ret = 1;

	/* Before anything starts, so a run_as user that does not exist stops
	 * sottod here, while NSS files are still readable. */
	drop_to_user = cfg.run_as.user[0] != '\0' && geteuid() == 0;
	if (drop_to_user &&
	    privdrop_lookup(cfg.run_as.user, cfg.run_as.group, &run_as) < 0)
		goto out_cfg;

	block_signals();
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
	ret = 1;
	ts = turn_server_new(&cfg, &dp);
	if (ts == NULL) {
		log_err("main", "TURN server init: %s", strerror(errno));
		goto out_dp;
	}
	daemon.ts = ts;
	if (open_services(&daemon, &gw, &hooks) < 0)
		goto out_sig;
	ctl = ctl_loop_new(&dp, ts, &cfg, &hooks);
	if (ctl == NULL)
		goto out_sig;
	if (ctl_metrics_listen(ctl) < 0 ||
	    ctl_cmd_listen(ctl, &made_socket_dir) < 0 ||
	    drop_privileges(&cfg, drop_to_user ? &run_as : NULL,
			    made_socket_dir) < 0)
		goto out_ctl;
	if (start_sandboxed(&dp, &cfg) < 0)
		goto out_ctl;
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
	sig_free(daemon.sig); /* closes its gateway rooms */
	gw_free(gw);
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
