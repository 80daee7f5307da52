/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_WS_H
#define SOTTO_WS_H

/*
 * WebSocket server connections (RFC 6455) over net.c, framed by wslay.
 * Text messages only: a binary message closes the connection with 1003.
 * The server pings every WS_PING_MS and closes a connection from which
 * nothing (not even a pong) arrived for WS_IDLE_MS.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define WS_MAX_MESSAGE 65536
#define WS_MAX_FRAGMENTS 64       /* frames in one message */
#define WS_PING_MS 20000
#define WS_IDLE_MS 60000

struct ws_conn;

struct ws_ops {
	/* A complete text message (UTF-8 checked by the caller if needed). */
	void (*message)(struct ws_conn *w, const uint8_t *p, size_t len);
	/* Once a second, for the application's own deadlines. */
	void (*tick)(struct ws_conn *w, uint64_t now_ms);
	/* The connection is gone; forget w. */
	void (*closed)(struct ws_conn *w);
};

/* Made by http_upgrade_websocket(); NULL on failure. */
struct ws_conn *ws_new(struct net_conn *c, const struct ws_ops *ops,
		       void *user, uint64_t now_ms);

int ws_send_text(struct ws_conn *w, const char *p, size_t len);
/* Sends a close frame (RFC 6455 §7.4 code) and closes once it is out. */
void ws_close(struct ws_conn *w, uint16_t code, const char *reason);

void *ws_user(const struct ws_conn *w);
void ws_set_user(struct ws_conn *w, void *user);
const struct sotto_addr *ws_peer(const struct ws_conn *w);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2):
 * out gets 28 characters and a NUL. */
void ws_accept_key(const char *key, char out[29]);

#endif
