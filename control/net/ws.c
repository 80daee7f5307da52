/* SPDX-License-Identifier: BSD-3-Clause */
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

struct ws_conn {
	struct net_conn *conn;
	wslay_event_context_ptr ctx;
	const struct ws_ops *ops;
	void *user;
	const uint8_t *in;         /* input being fed to wslay */
	size_t in_len;
	uint64_t last_rx_ms, last_ping_ms, now_ms;
	bool in_recv;              /* inside wslay_event_recv */
	/* Inside wslay (receive or send): a send that overflows closes the
	 * connection underneath us (net_send → closed), so w is only freed
	 * when the outermost call returns (release()). */
	unsigned busy;
	bool gone;                 /* net closed it while busy */
	bool closing;
	/* ws_close() during a receive: the close goes out after the data
	 * queued before it (wslay sends control frames first) */
	bool close_pending;
	unsigned frags;            /* frames of the message being received */
	uint16_t close_code;
	char close_reason[124];    /* RFC 6455 §5.5: 125 bytes with the code */
};

static const struct net_conn_ops ws_net_ops;

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
	void *user)
{
	struct ws_conn *w = user;
	size_t n = w->in_len < len ? w->in_len : len;

	(void)flags;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, w->in, n);
	w->in += n;
	w->in_len -= n;
	return (ssize_t)n;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
	int flags, void *user)
{
	struct ws_conn *w = user;

	(void)flags;
	if (w->gone || net_send(w->conn, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void
msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
       void *user)
{
	struct ws_conn *w = user;

	(void)ctx;
	if (w->gone || w->closing)
		return;
	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
		w->ops->message(w, arg->msg, arg->msg_length);
		/* wslay frees its copy of the message next; a join carries a
		 * room token (its per-frame chunks are wslay's, unreachable) */
		explicit_bzero((uint8_t *)arg->msg, arg->msg_length);
		break;
	case WSLAY_BINARY_FRAME:
		/* RFC 6455 §7.4.1: 1003, a type it cannot accept */
		ws_close(w, 1003, "text only");
		break;
	default:
		/* ping (answered by wslay), pong, close (answered too) */
		break;
	}
}

static void
ws_free(struct ws_conn *w)
{
	wslay_event_context_free(w->ctx);
	free(w);
}

/* Ends a busy section; false (and w freed) if the connection went. */
static bool
release(struct ws_conn *w)
{
	if (--w->busy > 0 || !w->gone)
		return !w->gone;
	ws_free(w);
	return false;
}

/*
 * wslay keeps every fragment of a message as its own allocation, and its
 * size limit counts payload only: 65,000 one-byte fragments cost MiBs.
 * A voice-signaling message has no reason to come in more than a few.
 */
static void
frame_start_cb(wslay_event_context_ptr ctx,
	       const struct wslay_event_on_frame_recv_start_arg *arg,
	       void *user)
{
	struct ws_conn *w = user;

	if (arg->opcode >= 0x8)
		return; /* control frames are not fragments */
	w->frags = arg->opcode == WSLAY_CONTINUATION_FRAME ? w->frags + 1 : 1;
	if (w->frags > WS_MAX_FRAGMENTS && !w->closing) {
		wslay_event_shutdown_read(ctx);
		ws_close(w, 1009, "too many fragments");
	}
}

/* Writes what wslay queued. w may be gone (freed) afterwards. */
static void
flush(struct ws_conn *w)
{
	int ret;

	if (w->gone || w->in_recv)
		return;
	w->busy++;
	ret = wslay_event_send(w->ctx);
	if (!w->gone) {
		if (ret != 0)
			net_close(w->conn, false);
		else if (w->closing || (!wslay_event_want_read(w->ctx) &&
					!wslay_event_want_write(w->ctx)))
			net_close(w->conn, true);
	}
	release(w);
}

static ssize_t
ws_data(struct net_conn *c, const uint8_t *p, size_t len)
{
	struct ws_conn *w = c->proto;
	int ret;

	w->in = p;
	w->in_len = len;
	w->last_rx_ms = w->now_ms;
	w->busy++;
	w->in_recv = true;
	ret = wslay_event_recv(w->ctx);
	w->in_recv = false;
	if (w->gone) {
		release(w);
		return -1;
	}
	if (ret != 0) {
		/* protocol error: wslay queued a close frame (1002/1009)
		 * where it could; send it and go */
		wslay_event_send(w->ctx);
		if (!w->gone)
			net_close(c, true);
	} else if (w->close_pending) {
		wslay_event_send(w->ctx);
		w->close_pending = false;
		if (!w->gone) {
			wslay_event_queue_close(w->ctx, w->close_code,
						(const uint8_t *)w->close_reason,
						strlen(w->close_reason));
			wslay_event_send(w->ctx);
		}
		if (!w->gone)
			net_close(c, true);
	} else {
		flush(w);
	}
	return release(w) ? (ssize_t)len : -1;
}

static void
ws_tick(struct net_conn *c, uint64_t now_ms)
{
	struct ws_conn *w = c->proto;

	/* a clock stepped back counts as no time passed */
	if (now_ms < w->now_ms)
		now_ms = w->now_ms;
	w->now_ms = now_ms;
	if (now_ms - w->last_rx_ms >= WS_IDLE_MS) {
		net_close(c, false);
		return;
	}
	w->busy++;
	if (now_ms - w->last_ping_ms >= WS_PING_MS) {
		struct wslay_event_msg m = { .opcode = WSLAY_PING };

		w->last_ping_ms = now_ms;
		wslay_event_queue_msg(w->ctx, &m);
		flush(w);
	}
	if (!w->gone && w->ops->tick != NULL)
		w->ops->tick(w, now_ms);
	release(w);
}

static void
ws_closed(struct net_conn *c)
{
	struct ws_conn *w = c->proto;

	w->ops->closed(w);
	if (w->busy > 0) {
		w->gone = true;
		return;
	}
	ws_free(w);
}

static const struct net_conn_ops ws_net_ops = {
	.data = ws_data,
	.tick = ws_tick,
	.closed = ws_closed,
};

struct ws_conn *
ws_new(struct net_conn *c, const struct ws_ops *ops, void *user,
       uint64_t now_ms)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = recv_cb,
		.send_callback = send_cb,
		.on_frame_recv_start_callback = frame_start_cb,
		.on_msg_recv_callback = msg_cb,
	};
	struct ws_conn *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if (wslay_event_context_server_init(&w->ctx, &cbs, w) != 0) {
		free(w);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MAX_MESSAGE);
	w->conn = c;
	w->ops = ops;
	w->user = user;
	w->now_ms = w->last_rx_ms = w->last_ping_ms = now_ms;
	c->proto = w;
	c->ops = &ws_net_ops;
	return w;
}

int
ws_send_text(struct ws_conn *w, const char *p, size_t len)
{
	struct wslay_event_msg m = {
		.opcode = WSLAY_TEXT_FRAME,
		.msg = (const uint8_t *)p,
		.msg_length = len,
	};

	if (w->gone || w->closing)
		return -EPIPE;
	if (wslay_event_queue_msg(w->ctx, &m) != 0)
		return -ENOBUFS;
	flush(w);
	return 0;
}

void
ws_close(struct ws_conn *w, uint16_t code, const char *reason)
{
	if (w->gone || w->closing)
		return;
	w->closing = true;
	if (w->in_recv) {
		w->close_pending = true;
		w->close_code = code;
		snprintf(w->close_reason, sizeof(w->close_reason), "%s",
			 reason ? reason : "");
		return;
	}
	w->busy++;
	wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason,
				reason ? strlen(reason) : 0);
	wslay_event_send(w->ctx);
	if (!w->gone)
		net_close(w->conn, true);
	release(w);
}

void *
ws_user(const struct ws_conn *w)
{
	return w->user;
}

void
ws_set_user(struct ws_conn *w, void *user)
{
	w->user = user;
}

const struct sotto_addr *
ws_peer(const struct ws_conn *w)
{
	return &w->conn->peer;
}

void
ws_accept_key(const char *key, char out[29])
{
	/* RFC 6455 §1.3 */
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[64];
	size_t kl = strlen(key);

	if (kl > sizeof(buf) - (sizeof(guid) - 1))
		kl = sizeof(buf) - (sizeof(guid) - 1);
	memcpy(buf, key, kl);
	memcpy(buf + kl, guid, sizeof(guid) - 1);
	EVP_Digest(buf, kl + sizeof(guid) - 1, md, NULL, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}
