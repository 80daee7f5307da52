/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CTL_LOOP_H
#define SOTTO_CTL_LOOP_H

#include <stdio.h>

#include "config.h"
#include "dp.h"
#include "http.h"
#include "metrics.h"
#include "turn_server.h"

/*
 * The control thread's io_uring loop: exception packets from the workers
 * (woken by the exception eventfd), SIGTERM/SIGINT/SIGHUP (signalfd; the
 * signals must be blocked in every thread first), a 100 ms tick for RCU
 * reclamation and timers, and its connections (net.c): the HTTP API and
 * signaling, the metrics endpoint and the control socket for sottoctl.
 */
struct ctl_loop;
struct gw;

/*
 * What main.c wires in: the signaling service (signaling/ sits above
 * control/, so it comes in as functions) and the config reload, which
 * main.c owns because it owns the config. Any may be NULL.
 */
struct ctl_hooks {
	void *sig;
	http_handler_fn http_handle;
	void (*tick)(void *sig, uint64_t now_ms);             /* once a second */
	void (*set_draining)(void *sig, bool on);
	char *(*rooms_json)(void *sig);                        /* malloc'd */
	char *(*room_json)(void *sig, const char *id);         /* NULL: none */
	int (*room_close)(void *sig, const char *id);          /* -ENOENT */
	void (*counts)(void *sig, uint64_t *rooms, uint64_t *participants,
		       uint64_t *websockets);
	void (*metrics)(void *sig, struct metrics *m);

	/* Re-reads the config file; writes "file:line:col: error: ..." lines
	 * to errs. 0 applied, <0 nothing changed. */
	int (*reload)(void *main_arg, FILE *errs);
	/* Gateway mode (control/gateway/gw.h): ICE checks and DTLS records from
	 * media addresses, its timers and metrics. NULL = off. */
	struct gw *gw;

	/* The config in force (it changes on reload). */
	const struct sotto_config *(*config)(void *main_arg);
	void *main_arg;
};

/* Sets up the ring and binds every listener in cfg (so a daemon that
 * cannot bind fails before it drops privileges). NULL with a message
 * logged and errno set. */
struct ctl_loop *ctl_loop_new(struct dp_ctx *dp, struct turn_server *ts,
			      const struct sotto_config *cfg,
			      const struct ctl_hooks *hooks);
/* Returns 0 after a stop signal. */
int ctl_loop_run(struct ctl_loop *c);
void ctl_loop_free(struct ctl_loop *c);
/* Did ctl_loop_new create the control socket's directory? */
bool ctl_loop_made_socket_dir(const struct ctl_loop *c);

#endif
