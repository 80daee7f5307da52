/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WebSocket client framing, by hand (RFC 6455 §5): masked client frames,
 * unmasked server frames, pings answered with pongs, fragments
 * reassembled, a close answered; on sotto's GET /v1/ws.
 */
#ifndef PL_WS_H
#define PL_WS_H

#include <sys/types.h>

#include <jansson.h>

#include "pl_client.h"

#define PL_WS_TEXT 0x1
#define PL_WS_CLOSE 0x8
#define PL_WS_PING 0x9
#define PL_WS_PONG 0xA

/* Sends the upgrade request (Host, Origin when set); c is then
 * PL_UPGRADING until the 101. */
void pl_ws_upgrade(struct pl_client *cl, struct pl_conn *c);

int pl_ws_send_frame(struct pl_client *cl, struct pl_conn *c, uint8_t op,
		     const void *data, size_t len);
int pl_ws_send_text(struct pl_client *cl, struct pl_conn *c, const char *s,
		    size_t len);
/* Sends j compactly and takes its reference; the text is wiped once sent
 * (a join carries a room token). 0 or -ENOMEM. */
int pl_ws_send_json(struct pl_client *cl, struct pl_conn *c, json_t *j);

/* {"type":"leave"} on an open c; c is PL_LEAVING until the server
 * closes it (cl->leaving counts those). */
void pl_ws_leave(struct pl_client *cl, struct pl_conn *c);

/* The 101 answer to the upgrade: the header bytes consumed, 0 if
 * incomplete, -1 after ops->ws_fail. */
ssize_t pl_ws_parse_upgrade(struct pl_client *cl, struct pl_conn *c,
			    const uint8_t *p, size_t len);

/* Frames in [p, p + len): the bytes consumed, or -1 once c is failed or
 * closed. Frames from the server are unmasked; a masked one is unmasked
 * anyway. */
ssize_t pl_ws_parse(struct pl_client *cl, struct pl_conn *c, uint8_t *p,
		    size_t len);

#endif
