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
struct sig;       /* signaling/: above this layer */
struct daemon;    /* control/daemon/: owns the config and its reload */

/*
 * What the daemon wires in: the signaling service (signaling/ sits above
 * control/, so it comes in as its own functions, sig.h) and the config
 * reload, which the daemon owns because it owns the config. Any may be
 * NULL.
 */
struct ctl_hooks {
	struct sig *sig;
	http_handler_fn http_handle;   /* the API listener's; its arg is sig */
	void (*tick)(struct sig *sig, uint64_t now_ms);        /* once a second */
	void (*set_draining)(struct sig *sig, bool on);
	char *(*rooms_json)(const struct sig *sig);            /* malloc'd */
	char *(*room_json)(const struct sig *sig, const char *id); /* NULL: none */
	int (*room_close)(struct sig *sig, const char *id);    /* -ENOENT */
	void (*counts)(const struct sig *sig, uint64_t *rooms,
		       uint64_t *participants, uint64_t *websockets);
	void (*metrics)(const struct sig *sig, struct metrics *m);

	/* Gateway mode (control/gateway/gw.h): ICE checks and DTLS records from
	 * media addresses, its timers and metrics. NULL = off. */
	struct gw *gw;

	struct daemon *daemon;
	/* Re-reads the config file; writes "file:line:col: error: ..." lines
	 * to errs. 0 applied, <0 nothing changed. */
	int (*reload)(struct daemon *d, FILE *errs);
	/* The config in force (it changes on reload). */
	const struct sotto_config *(*config)(const struct daemon *d);
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

#endif
