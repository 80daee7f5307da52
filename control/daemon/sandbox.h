/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_SANDBOX_H
#define SOTTO_SANDBOX_H

/*
 * seccomp in the process (libseccomp), after start-up: the system calls
 * each thread class makes and no others (docs/security.md, O5).
 *
 *   1. sandbox_process: every thread, with TSYNC, gets the union of the
 *      classes' lists (the EAL's own threads keep only this one);
 *   2. sandbox_worker: each dataplane worker, once its driver is set up
 *      (dp_ctx.worker_ready), adds the workers' list;
 *   3. sandbox_control: the control thread adds its own list once the
 *      workers run.
 * Filters stack, so a thread is held to the narrowest that applies. A
 * forbidden call is logged (the thread, the call's number and name) and
 * the process exits (SANDBOX_EXIT) — never a silent EPERM a caller might
 * retry around.
 */
#include <stdbool.h>

struct dp_worker;

enum sandbox_mode {
	SANDBOX_ON,     /* forbidden calls end the process */
	SANDBOX_LOG,    /* allowed but logged by the kernel (audit): for
			   finding a call a new library version makes */
	SANDBOX_OFF,
};

#define SANDBOX_EXIT 159    /* 128 + SIGSYS */

/* For the whole run; call before sandbox_process. */
void sandbox_set_mode(enum sandbox_mode mode, bool dpdk_driver);
int sandbox_process(void);
/* dp_ctx.worker_ready */
int sandbox_worker(struct dp_worker *w);
int sandbox_control(void);

#endif
