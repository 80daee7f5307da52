/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CTL_LOOP_H
#define SOTTO_CTL_LOOP_H

#include "dp.h"
#include "turn_server.h"

/*
 * The control thread's io_uring loop: exception packets from the workers
 * (woken by the exception eventfd), SIGTERM/SIGINT (signalfd; the signals
 * must be blocked in every thread first), and a 100 ms tick for RCU
 * reclamation and TURN timers. Returns 0 after a stop signal.
 */
int ctl_loop_run(struct dp_ctx *dp, struct turn_server *ts);

#endif
