/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GET /metrics: Prometheus text format, built at scrape time on the control
 * thread from the workers' counters (summed), the TURN server's, the
 * connections' and the signaling service's. docs/operations.md lists every
 * family and what to alert on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mempool.h>
#include <rte_ring.h>

#include "clock.h"
#include "ctl_ops.h"
#include "ctl_priv.h"
#include "gw.h"
#include "log.h"

static const char *
driver_name(const struct ctl_loop *c)
{
	return c->dp->ops->name;
}

struct emit_ctx {
	struct metrics *m;
	const char *family;
	bool first;
};

static void
emit_driver(const char *name, uint64_t v, void *arg)
{
	struct emit_ctx *e = arg;
	char labels[96];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", name);
	metrics_u64(e->m, e->family, labels, v);
}

static void
emit_error(const char *method, int code, uint64_t n, void *arg)
{
	struct emit_ctx *e = arg;
	char labels[96];

	if (code)
		snprintf(labels, sizeof(labels), "method=\"%s\",code=\"%d\"",
			 method, code);
	else
		snprintf(labels, sizeof(labels), "method=\"%s\",code=\"other\"",
			 method);
	metrics_u64(e->m, "sotto_turn_error_responses_total", labels, n);
}

#define DESC(name, label, family, labels, help) { family, labels, help },
static const struct metrics_desc dp_traffic[] = { DP_FOREACH_TRAFFIC(DESC) };
static const struct metrics_desc dp_gw[] = { DP_FOREACH_GW(DESC) };
static const struct metrics_desc dp_work[] = { DP_FOREACH_WORK(DESC) };
static const struct metrics_desc turn_stats[] = { TURN_FOREACH_STAT(DESC) };
#undef DESC

static void
dataplane_metrics(struct ctl_loop *c, struct metrics *m)
{
	struct dp_ctx *dp = c->dp;
	uint64_t ctr[DP_N_COUNTERS];
	const char *drv = driver_name(c);
	char labels[128];

	dp_ctx_counters(dp, ctr);

	snprintf(labels, sizeof(labels), "driver=\"%s\"", drv);
	metrics_counters(m, dp_traffic, ctr + DP_FIRST_TRAFFIC, DP_N_TRAFFIC,
			 labels);

	metrics_family(m, "sotto_dataplane_drops_total", "counter",
		       "Packets the fast path dropped, by reason (bandwidth = per-allocation cap).");
	for (unsigned i = 0; i < DP_N_DROPS; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
			 dp_counter_names[i]);
		metrics_u64(m, "sotto_dataplane_drops_total", labels, ctr[i]);
	}
	if (dp->ops->counters != NULL) {
		struct emit_ctx e = { .m = m, .family = "sotto_driver_drops_total" };

		metrics_family(m, "sotto_driver_drops_total", "counter",
			       "Packets the port driver dropped or lost (L2/L3, NIC), by reason.");
		dp->ops->counters(dp, emit_driver, &e);
	}
	if (c->hooks.gw != NULL)
		metrics_counters(m, dp_gw, ctr + DP_FIRST_GW, DP_N_GW_STATS, NULL);
	metrics_counters(m, dp_work, ctr + DP_FIRST_WORK, DP_N_WORK, NULL);
	metrics_gauge(m, "sotto_exception_ring_depth",
		      "Packets from allocations' and legs' own addresses waiting for the control thread.",
		      (double)rte_ring_count(dp->exc_ring));
	metrics_gauge(m, "sotto_exception_new_ring_depth",
		      "New work (Allocate, unauthenticated requests, new legs) waiting for the control thread.",
		      (double)rte_ring_count(dp->exc_new));
	metrics_counter(m, "sotto_control_tx_ring_full_total",
			"Control-thread packets a worker's transmit ring refused.",
			dp->tx_ring_full);
	metrics_gauge(m, "sotto_mempool_in_use",
		      "Packet buffers in use (pool size: sotto_mempool_size).",
		      (double)rte_mempool_in_use_count(dp->pool));
	metrics_gauge(m, "sotto_mempool_size", "Packet buffers in the pool.",
		      (double)dp->pool->size);

	metrics_family(m, "sotto_worker_packets_total", "counter",
		       "Packets per worker and direction.");
	for (uint16_t i = 0; i < dp->n_workers; i++) {
		const struct dp_worker *w = &dp->workers[i];

		snprintf(labels, sizeof(labels), "worker=\"%u\",direction=\"rx\"", i);
		metrics_u64(m, "sotto_worker_packets_total", labels,
			    __atomic_load_n(&w->ctr[DP_RX_PACKETS], __ATOMIC_RELAXED));
		snprintf(labels, sizeof(labels), "worker=\"%u\",direction=\"tx\"", i);
		metrics_u64(m, "sotto_worker_packets_total", labels,
			    __atomic_load_n(&w->ctr[DP_TX_PACKETS], __ATOMIC_RELAXED));
	}
	metrics_family(m, "sotto_worker_busy_seconds_total", "counter",
		       "Time each worker spent in loops that did work; rate() of it is the busy ratio.");
	for (uint16_t i = 0; i < dp->n_workers; i++) {
		const struct dp_worker *w = &dp->workers[i];

		snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
		metrics_f64(m, "sotto_worker_busy_seconds_total", labels,
			    w->hz ? (double)__atomic_load_n(&w->ctr[DP_BUSY_CYCLES],
							    __ATOMIC_RELAXED) /
					    (double)w->hz
				  : 0);
	}
	metrics_family(m, "sotto_worker_busy_ratio", "gauge",
		       "Share of the last second each worker was busy.");
	for (uint16_t i = 0; i < dp->n_workers; i++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
		metrics_f64(m, "sotto_worker_busy_ratio", labels,
			    c->rates[i].busy_ratio);
	}
	metrics_family(m, "sotto_worker_tx_ring_depth", "gauge",
		       "Control-to-worker packets waiting, per worker.");
	for (uint16_t i = 0; i < dp->n_workers; i++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
		metrics_u64(m, "sotto_worker_tx_ring_depth", labels,
			    rte_ring_count(dp->workers[i].tx_ring));
	}
}

static void
turn_metrics(struct ctl_loop *c, struct metrics *m)
{
	uint64_t st[TURN_N_STATS], perms, chans;
	struct emit_ctx e = { .m = m };

	turn_server_stats(c->ts, st);
	turn_server_peer_counts(c->ts, &perms, &chans);

	metrics_counters(m, turn_stats, st, TURN_N_STATS, NULL);
	metrics_family(m, "sotto_turn_error_responses_total", "counter",
		       "Error responses by method and code (401 includes the first challenge of every client).");
	turn_server_errors(c->ts, emit_error, &e);
	metrics_gauge(m, "sotto_turn_allocations", "Allocations now.",
		      turn_server_allocations(c->ts));
	metrics_gauge(m, "sotto_turn_permissions", "Permissions now.",
		      (double)perms);
	metrics_gauge(m, "sotto_turn_channels", "Channel bindings now.",
		      (double)chans);
	metrics_histogram(m, "sotto_turn_allocate_seconds",
			  "Time to handle an authenticated Allocate on the control thread.",
			  turn_server_alloc_hist(c->ts), 1e-6);
}

static void
process_metrics(struct ctl_loop *c, struct metrics *m)
{
	uint64_t now = clock_mono_ms();
	struct net_stats ns;
	char labels[128];

	snprintf(labels, sizeof(labels), "version=\"%s\",driver=\"%s\"",
		 SOTTO_VERSION, driver_name(c));
	metrics_family(m, "sotto_build_info", "gauge",
		       "Always 1; the labels say what is running.");
	metrics_u64(m, "sotto_build_info", labels, 1);
	metrics_gauge(m, "sotto_start_time_seconds",
		      "When sottod started, unix time.",
		      (double)c->started_wall_ms / 1000.0);
	metrics_gauge(m, "sotto_uptime_seconds", "Seconds since sottod started.",
		      (double)(now - c->started_ms) / 1000.0);
	metrics_gauge(m, "sotto_draining",
		      "1 while draining (no new allocations or rooms).",
		      turn_server_draining(c->ts) ? 1 : 0);
	metrics_family(m, "sotto_config_reloads_total", "counter",
		       "Configuration reloads (SIGHUP, sottoctl reload), by result.");
	metrics_u64(m, "sotto_config_reloads_total", "result=\"ok\"", c->reloads);
	metrics_u64(m, "sotto_config_reloads_total", "result=\"failed\"",
		    c->reload_failures);

	net_get_stats(c->net, &ns);
	metrics_gauge(m, "sotto_tcp_connections",
		      "Open HTTP, WebSocket, metrics and control connections.",
		      (double)ns.current);
	metrics_counter(m, "sotto_tcp_connections_accepted_total",
			"Connections accepted.", ns.accepted);
	metrics_counter(m, "sotto_tcp_connections_refused_total",
			"Connections closed at once (http.max_connections, a per-source limit, out of memory).",
			ns.refused);
	metrics_family(m, "sotto_tcp_connections_refused_per_source_total",
		       "counter",
		       "Connections closed at once for a per-source limit (an IPv4 address, an IPv6 /64 or /48), by limit.");
	metrics_u64(m, "sotto_tcp_connections_refused_per_source_total",
		    "limit=\"connections_per_ip\"", ns.refused_per_ip);
	metrics_u64(m, "sotto_tcp_connections_refused_per_source_total",
		    "limit=\"tls_handshakes_per_ip\"", ns.refused_tls_rate);
	metrics_counter(m, "sotto_tls_failures_total",
			"TLS handshakes or records that failed.", ns.tls_failures);
	metrics_counter(m, "sotto_http_requests_total",
			"HTTP requests on the API listener(s).", c->http_srv.requests);
	metrics_counter(m, "sotto_http_bad_requests_total",
			"Malformed or over-limit HTTP requests.",
			c->http_srv.bad_requests + c->metrics_srv.bad_requests);
}

static void
handle(struct http_req *r, void *arg)
{
	struct ctl_loop *c = arg;
	struct metrics m = { 0 };

	if (strcmp(r->path, "/metrics") != 0) {
		http_respond_error(r, 404, "not_found", "try /metrics", NULL);
		return;
	}
	if (strcmp(r->method, "GET") != 0) {
		http_respond_error(r, 405, "method_not_allowed", "use GET",
				   "Allow: GET\r\n");
		return;
	}
	process_metrics(c, &m);
	dataplane_metrics(c, &m);
	turn_metrics(c, &m);
	if (c->hooks.metrics != NULL)
		c->hooks.metrics(c->hooks.sig, &m);
	if (c->hooks.gw != NULL)
		gw_metrics(c->hooks.gw, &m);
	if (m.failed) {
		http_respond_error(r, 500, "internal", "out of memory", NULL);
	} else {
		http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8",
			     m.buf, m.len, NULL, false);
	}
	free(m.buf);
}

int
ctl_metrics_listen(struct ctl_loop *c)
{
	const struct sotto_config *cfg = c->cfg;
	char a[SOTTO_ADDRSTRLEN];
	int ret;

	if (cfg->metrics.listen.family == 0)
		return 0;
	sotto_addr_str(&cfg->metrics.listen, a, sizeof(a));
	c->metrics_srv.handle = handle;
	c->metrics_srv.arg = c;
	ret = net_listen_tcp(c->net, &cfg->metrics.listen, NULL, http_accept,
			     &c->metrics_srv);
	if (ret < 0) {
		log_err("control", "metrics.listen %s: %s", a, strerror(-ret));
		return ret;
	}
	log_info("control", "metrics on http://%s/metrics", a);
	return 0;
}
