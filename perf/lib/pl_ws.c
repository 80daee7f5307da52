/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_rng.h"
#include "pl_ws.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 16 random bytes, base64: a Sec-WebSocket-Key (RFC 6455 §4.1). */
static void
ws_key(struct pl_client *cl, char out[25])
{
	uint8_t k[18] = { 0 };
	uint64_t a = pl_rng_next(&cl->rng), b = pl_rng_next(&cl->rng);
	unsigned o = 0;

	memcpy(k, &a, 8);
	memcpy(k + 8, &b, 8);
	for (unsigned i = 0; i < 18; i += 3) {
		uint32_t v = (uint32_t)k[i] << 16 | (uint32_t)k[i + 1] << 8 |
			     k[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	/* 16 bytes are 22 characters and "==" */
	out[22] = '=';
	out[23] = '=';
	out[24] = '\0';
}

void
pl_ws_upgrade(struct pl_client *cl, struct pl_conn *c)
{
	char req[512], key[25];
	int n;

	ws_key(cl, key);
	n = snprintf(req, sizeof(req),
		     "GET /v1/ws HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "%s%s%s"
		     "\r\n",
		     cl->host, key, cl->origin[0] ? "Origin: " : "", cl->origin,
		     cl->origin[0] ? "\r\n" : "");
	c->state = PL_UPGRADING;
	pl_conn_send(c, req, (size_t)n);
}

int
pl_ws_send_frame(struct pl_client *cl, struct pl_conn *c, uint8_t op,
		 const void *data, size_t len)
{
	uint8_t hdr[14], mask[4];
	size_t h = 0, at;
	uint64_t r = pl_rng_next(&cl->rng);

	hdr[h++] = 0x80 | op; /* FIN */
	if (len < 126) {
		hdr[h++] = 0x80 | (uint8_t)len;
	} else if (len <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(mask, &r, 4);
	memcpy(hdr + h, mask, 4);
	h += 4;
	if (pl_buf_append(&c->out, hdr, h) < 0 ||
	    pl_buf_append(&c->out, data, len) < 0)
		return -ENOMEM;
	at = c->out.len - len;
	for (size_t i = 0; i < len; i++)
		c->out.p[at + i] ^= mask[i & 3];
	if (c->state != PL_CONNECTING)
		pl_conn_flush(c);
	return 0;
}

int
pl_ws_send_text(struct pl_client *cl, struct pl_conn *c, const char *s,
		size_t len)
{
	return pl_ws_send_frame(cl, c, PL_WS_TEXT, s, len);
}

int
pl_ws_send_json(struct pl_client *cl, struct pl_conn *c, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int ret;

	json_decref(j);
	if (txt == NULL)
		return -ENOMEM;
	ret = pl_ws_send_text(cl, c, txt, strlen(txt));
	explicit_bzero(txt, strlen(txt));
	free(txt);
	return ret;
}

void
pl_ws_leave(struct pl_client *cl, struct pl_conn *c)
{
	static const char leave[] = "{\"type\":\"leave\"}";

	if (c == NULL || c->state != PL_OPEN)
		return;
	c->state = PL_LEAVING;
	cl->leaving++;
	pl_ws_send_text(cl, c, leave, sizeof(leave) - 1);
}

ssize_t
pl_ws_parse_upgrade(struct pl_client *cl, struct pl_conn *c, const uint8_t *p,
		    size_t len)
{
	const uint8_t *end = memmem(p, len, "\r\n\r\n", 4);
	int status = 0;

	if (end == NULL) {
		if (len <= 16384)
			return 0;
		cl->ops->ws_fail(cl, c, "ws_bad_upgrade");
		return -1;
	}
	if (sscanf((const char *)p, "HTTP/1.%*d %d", &status) != 1 ||
	    status != 101) {
		char why[48];

		snprintf(why, sizeof(why), "ws_upgrade_%d", status);
		cl->ops->ws_fail(cl, c, why);
		return -1;
	}
	c->state = PL_OPEN;
	cl->ws_open++;
	cl->ops->ws_open(cl, c);
	return end + 4 - p;
}

ssize_t
pl_ws_parse(struct pl_client *cl, struct pl_conn *c, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (len - off >= 2) {
		uint8_t b0 = p[off], b1 = p[off + 1], op = b0 & 0x0f;
		bool fin = b0 & 0x80, masked = b1 & 0x80;
		uint64_t plen = b1 & 0x7f;
		size_t h = 2;
		uint8_t *data;

		if (plen == 126) {
			if (len - off < 4)
				break;
			plen = (uint64_t)p[off + 2] << 8 | p[off + 3];
			h = 4;
		} else if (plen == 127) {
			if (len - off < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | p[off + 2 + i];
			h = 10;
		}
		if (masked)
			h += 4;
		if (plen > PL_MAX_IN) {
			cl->ops->ws_fail(cl, c, "ws_frame_too_large");
			return -1;
		}
		if (len - off < h + plen)
			break;
		data = p + off + h;
		if (masked)
			for (uint64_t i = 0; i < plen; i++)
				data[i] ^= p[off + h - 4 + (i & 3)];
		off += h + (size_t)plen;

		switch (op) {
		case 0x0: /* continuation */
			if (c->msg_op == 0 ||
			    pl_buf_append(&c->msg, data, (size_t)plen) < 0)
				goto protocol_error;
			if (fin) {
				if (c->msg_op == PL_WS_TEXT)
					cl->ops->ws_text(cl, c, c->msg.p,
							 c->msg.len);
				pl_buf_free(&c->msg);
				c->msg_op = 0;
			}
			break;
		case PL_WS_TEXT:
		case 0x2: /* binary: not in this protocol, ignored */
			if (!fin) {
				c->msg_op = op;
				if (pl_buf_append(&c->msg, data, (size_t)plen) < 0)
					goto protocol_error;
			} else if (op == PL_WS_TEXT) {
				cl->ops->ws_text(cl, c, data, (size_t)plen);
			}
			break;
		case PL_WS_CLOSE: {
			/* answer it (RFC 6455 §5.5.1); the server closes the
			 * TCP connection, so TIME_WAIT stays on its side */
			char why[48];
			unsigned code = plen >= 2 ?
				(unsigned)data[0] << 8 | data[1] : 0;

			if (!c->close_sent) {
				c->close_sent = true;
				pl_ws_send_frame(cl, c, PL_WS_CLOSE, data,
						 plen >= 2 ? 2 : 0);
			}
			if (c->state == PL_OPEN) {
				snprintf(why, sizeof(why), "ws_close_%u", code);
				cl->ops->ws_fail(cl, c, why);
				return -1;
			}
			break;
		}
		case PL_WS_PING:
			cl->pings++;
			pl_ws_send_frame(cl, c, PL_WS_PONG, data, (size_t)plen);
			break;
		case PL_WS_PONG:
			break;
		default:
			goto protocol_error;
		}
		if (c->state == PL_CLOSED)
			return -1;
	}
	return (ssize_t)off;

protocol_error:
	cl->ops->ws_fail(cl, c, "ws_protocol_error");
	return -1;
}
