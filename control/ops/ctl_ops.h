/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_CTL_OPS_H
#define SOTTO_CTL_OPS_H

/*
 * Operations on the control loop: the /metrics endpoint (ctl_metrics.c)
 * and the control socket sottoctl talks to (ctl_cmd.c). The daemon opens
 * both right after ctl_loop_new, before it drops privileges.
 */
#include <stdbool.h>

struct ctl_loop;

/* metrics.listen, if set. 0 or -errno (logged). */
int ctl_metrics_listen(struct ctl_loop *c);
/* control.socket, if set, mode 0600; *made_dir: its directory was made
 * here (the daemon hands it to run_as). 0 or -errno (logged). */
int ctl_cmd_listen(struct ctl_loop *c, bool *made_dir);

#endif
