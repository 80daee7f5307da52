/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_DAEMON_H
#define SOTTO_DAEMON_H

/* What sottod's main holds, and the config reload it owns (reload.c). */
#include <stdio.h>

#include "config.h"

struct dp_ctx;
struct sig;
struct turn_server;

struct daemon {
	const char *path;          /* NULL: the embedded config */
	struct sotto_config *cfg;  /* the one in force; same address on reload */
	struct dp_ctx *dp;
	struct turn_server *ts;
	struct sig *sig;           /* NULL: no HTTP listener */
};

#define DAEMON_EMBEDDED_NAME "<embedded configs/sotto.yaml>"

/* Defaults, then the file at path (NULL: the embedded config); errors to
 * errs. Returns the number of errors. */
int daemon_load_config(struct sotto_config *cfg, const char *path, FILE *errs);

/* SIGHUP and sottoctl reload: all or nothing. Errors go to errs as
 * "file:line:col: error: ..." lines. 0 applied, <0 nothing changed. */
int daemon_reload(struct daemon *d, FILE *errs);

/* The config in force. */
const struct sotto_config *daemon_config(const struct daemon *d);

#endif
