/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CTL_PRIV_H
#define SOTTO_CTL_PRIV_H

/* The control loop's state, shared by ctl_loop.c, ctl_cmd.c (the control
 * socket) and ctl_metrics.c (the /metrics endpoint). */

#include <signal.h>
#include <sys/signalfd.h>

#include <liburing.h>

#include "ctl_loop.h"
#include "net.h"

struct ctl_worker_rate {
	uint64_t rx, tx, busy;       /* counters at the last sample */
	double rx_pps, tx_pps, busy_ratio;
};

struct ctl_loop {
	struct io_uring ring;
	bool ring_ok;
	struct dp_ctx *dp;
	struct turn_server *ts;
	const struct sotto_config *cfg; /* at start: listeners come from it */
	struct ctl_hooks hooks;
	struct http_server http_srv;    /* API and signaling */
	struct http_server metrics_srv; /* /metrics */
	struct net *net;
	SSL_CTX *tls;
	int sig_fd;
	uint64_t exc_val;
	struct signalfd_siginfo si;
	struct __kernel_timespec tick;
	uint64_t started_ms;            /* CLOCK_MONOTONIC: uptime */
	uint64_t started_wall_ms;       /* unix time: sotto_start_time_seconds */
	uint64_t last_turn_tick, last_sec_tick, last_sample_ms;
	struct ctl_worker_rate *rates;
	uint64_t reloads, reload_failures;
	unsigned rearm;                 /* own operations to arm again (1 << UD_*) */
	int stop;
};

const struct sotto_config *ctl_config(const struct ctl_loop *c);
/* Reload from SIGHUP or sottoctl; errors into errs (may be NULL). */
int ctl_reload(struct ctl_loop *c, FILE *errs);
void ctl_set_draining(struct ctl_loop *c, bool on);

#endif
