/* SPDX-License-Identifier: BSD-3-Clause */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <http_parser.h>
#include <openssl/evp.h>

#include "log.h"
#include "ws.h"

enum last_cb { CB_NONE, CB_URL, CB_FIELD, CB_VALUE };

struct http_conn {
	struct net_conn *conn;
	struct http_server *srv;
	http_parser parser;
	enum last_cb last;
	char head[HTTP_MAX_HEAD];   /* URL, names and values, NUL-separated */
	size_t head_len;
	size_t url_off;
	size_t name_off[HTTP_MAX_HEADERS], value_off[HTTP_MAX_HEADERS];
	unsigned n_headers;
	uint8_t *body;
	size_t body_len;
	int error;                  /* status to answer with, 0 = none */
	const char *error_code;
	bool complete;
	bool in_request;            /* first byte of a request seen */
	bool in_handler;
	bool gone;                  /* closed while in the handler */
	bool upgraded;
	uint64_t req_start_ms, idle_since_ms;
};

static const struct net_conn_ops http_ops;

/*
 * A request's head holds its Authorization header (an API key or a room
 * token) and its body may hold a token too: both are wiped before the
 * buffers take the next request or go back to malloc.
 */
static void
wipe_request(struct http_conn *h)
{
	explicit_bzero(h->head, h->head_len);
	if (h->body != NULL)
		explicit_bzero(h->body, h->body_len);
}

/* ---- parsing ---------------------------------------------------------- */

static int
head_add(struct http_conn *h, const char *p, size_t len)
{
	/* +1: every piece is NUL-terminated in place */
	if (h->head_len + len + 1 > sizeof(h->head)) {
		h->error = 431;
		h->error_code = "headers_too_large";
		return -1;
	}
	memcpy(h->head + h->head_len, p, len);
	h->head_len += len;
	return 0;
}

static void
head_end(struct http_conn *h)
{
	h->head[h->head_len++] = '\0';
}

static int
on_message_begin(http_parser *p)
{
	struct http_conn *h = p->data;

	wipe_request(h);
	h->head_len = 0;
	h->n_headers = 0;
	h->last = CB_NONE;
	h->body_len = 0;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *h = p->data;

	if (h->last != CB_URL) {
		h->url_off = h->head_len;
		h->last = CB_URL;
	}
	return head_add(h, at, len);
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *h = p->data;

	if (h->last != CB_FIELD) {
		if (h->last == CB_URL || h->last == CB_VALUE) {
			if (h->head_len + 1 > sizeof(h->head))
				return head_add(h, "", 1);
			head_end(h);
		}
		if (h->n_headers == HTTP_MAX_HEADERS) {
			h->error = 431;
			h->error_code = "headers_too_large";
			return -1;
		}
		h->name_off[h->n_headers] = h->head_len;
		h->last = CB_FIELD;
	}
	return head_add(h, at, len);
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *h = p->data;

	if (h->last != CB_VALUE) {
		if (h->head_len + 1 > sizeof(h->head))
			return head_add(h, "", 1);
		head_end(h);
		h->value_off[h->n_headers++] = h->head_len;
		h->last = CB_VALUE;
	}
	return head_add(h, at, len);
}

static int
on_headers_complete(http_parser *p)
{
	struct http_conn *h = p->data;

	if (h->last == CB_NONE) {
		h->url_off = h->head_len;
	} else if (h->last == CB_FIELD) {
		/* a name without a value cannot happen in valid HTTP */
		h->error = 400;
		h->error_code = "bad_request";
		return -1;
	}
	if (h->head_len + 1 > sizeof(h->head))
		return head_add(h, "", 1);
	head_end(h);
	h->last = CB_NONE;
	if (p->flags & F_CHUNKED) {
		h->error = 411;
		h->error_code = "length_required";
		return -1;
	}
	if (p->content_length != ULLONG_MAX &&
	    p->content_length > HTTP_MAX_BODY) {
		h->error = 413;
		h->error_code = "too_large";
		return -1;
	}
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *h = p->data;

	if (h->body_len + len > HTTP_MAX_BODY) {
		h->error = 413;
		h->error_code = "too_large";
		return -1;
	}
	if (h->body == NULL) {
		h->body = malloc(HTTP_MAX_BODY);
		if (h->body == NULL) {
			h->error = 503;
			h->error_code = "unavailable";
			return -1;
		}
	}
	memcpy(h->body + h->body_len, at, len);
	h->body_len += len;
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_conn *h = p->data;

	h->complete = true;
	/* one request at a time: the rest stays in the input buffer */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- responses -------------------------------------------------------- */

const char *
http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
http_respond(struct http_req *r, int status, const char *content_type,
	     const void *body, size_t len, const char *extra_headers,
	     bool close)
{
	char head[2048], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (r->responded)
		return;
	r->responded = true;
	if (close)
		r->keep_alive = false;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\n"
		     "Date: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s%s%s"
		     "Cache-Control: no-store\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "Referrer-Policy: no-referrer\r\n"
		     "Connection: %s\r\n"
		     "%s\r\n",
		     status, http_status_text(status), date, len,
		     content_type ? "Content-Type: " : "",
		     content_type ? content_type : "",
		     content_type ? "\r\n" : "",
		     r->keep_alive ? "keep-alive" : "close",
		     extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		net_close(r->conn, false);
		return;
	}
	if (net_send(r->conn, head, (size_t)n) < 0 ||
	    (len > 0 && net_send(r->conn, body, len) < 0))
		return;
	if (!r->keep_alive)
		net_close(r->conn, true);
}

static size_t
json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return o;
}

void
http_respond_error(struct http_req *r, int status, const char *code,
		   const char *reason, const char *extra_headers)
{
	char esc[512], body[640];
	int n;

	json_escape(esc, sizeof(esc), reason);
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"reason\":\"%s\"}",
		     code, esc);
	http_respond(r, status, "application/json", body, (size_t)n,
		     extra_headers, status >= 500 || status == 408 ||
					    status == 413 || status == 431);
}

/* ---- headers ---------------------------------------------------------- */

const char *
http_header(const struct http_req *r, const char *name)
{
	for (unsigned i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

bool
http_header_has_token(const struct http_req *r, const char *name,
		      const char *token)
{
	size_t tl = strlen(token);

	for (unsigned i = 0; i < r->n_headers; i++) {
		const char *v = r->headers[i].value;

		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		while (*v) {
			size_t len;

			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			len = strcspn(v, ",");
			while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			if (len == tl && strncasecmp(v, token, tl) == 0)
				return true;
			v += strcspn(v, ",");
		}
	}
	return false;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* ---- the connection --------------------------------------------------- */

static void
reset_request(struct http_conn *h, uint64_t now_ms)
{
	wipe_request(h);
	http_parser_init(&h->parser, HTTP_REQUEST);
	h->parser.data = h;
	h->complete = false;
	h->in_request = false;
	h->error = 0;
	h->error_code = NULL;
	h->head_len = 0;
	h->n_headers = 0;
	h->body_len = 0;
	h->idle_since_ms = now_ms;
}

static void
http_conn_free(struct http_conn *h)
{
	if (h->body != NULL)
		explicit_bzero(h->body, HTTP_MAX_BODY);
	free(h->body);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

/* Builds the request view and runs the handler. */
static void
dispatch(struct http_conn *h)
{
	struct http_req r = { .conn = h->conn };
	char *url = h->head + h->url_off, *q;

	r.method = http_method_str((enum http_method)h->parser.method);
	q = strchr(url, '?');
	if (q != NULL)
		*q++ = '\0';
	r.path = url;
	r.query = q ? q : "";
	for (unsigned i = 0; i < h->n_headers; i++) {
		r.headers[i].name = h->head + h->name_off[i];
		r.headers[i].value = trim(h->head + h->value_off[i]);
	}
	r.n_headers = h->n_headers;
	r.body = h->body;
	r.body_len = h->body_len;
	r.keep_alive = http_should_keep_alive(&h->parser);
	h->srv->requests++;
	if (h->parser.http_major != 1) {
		/* RFC 9112 §2.3: HTTP/0.9 lines have no version */
		h->srv->bad_requests++;
		r.keep_alive = false;
		http_respond_error(&r, 400, "bad_request", "HTTP/1.x required",
				   NULL);
		return;
	}
	if (r.path[0] != '/') {
		/* absolute-form and asterisk-form are for proxies */
		h->srv->bad_requests++;
		http_respond_error(&r, 400, "bad_request",
				   "request target must be a path", NULL);
		return;
	}
	h->srv->handle(&r, h->srv->arg);
	if (!r.responded && !h->gone && !h->upgraded)
		http_respond_error(&r, 500, "internal", "no response", NULL);
}

static ssize_t
http_data(struct net_conn *c, const uint8_t *p, size_t len)
{
	struct http_conn *h = c->proto;
	size_t n;

	if (!h->in_request) {
		h->in_request = true;
		h->req_start_ms = h->srv->now_ms;
	}
	n = http_parser_execute(&h->parser, &settings, (const char *)p, len);
	if (h->complete) {
		h->in_handler = true;
		dispatch(h);
		h->in_handler = false;
		if (h->gone || h->upgraded) {
			/* closed, or the connection is a WebSocket now and
			 * the rest of the input is its frames */
			bool upgraded = h->upgraded && !h->gone;

			http_conn_free(h);
			return upgraded ? (ssize_t)n : -1;
		}
		reset_request(h, h->srv->now_ms);
		return (ssize_t)n;
	}
	if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK) {
		struct http_req r = { .conn = c, .keep_alive = false };
		int status = h->error ? h->error : 400;

		h->srv->bad_requests++;
		http_respond_error(&r, status,
				   h->error_code ? h->error_code : "bad_request",
				   h->error ? http_status_text(status) :
					      http_errno_description(
						      HTTP_PARSER_ERRNO(&h->parser)),
				   NULL);
		return (ssize_t)len;
	}
	return (ssize_t)n;
}

static void
http_tick(struct net_conn *c, uint64_t now_ms)
{
	struct http_conn *h = c->proto;

	/* a clock stepped back counts as no time passed */
	if (h->in_request && now_ms > h->req_start_ms &&
	    now_ms - h->req_start_ms >= HTTP_REQ_TIMEOUT_MS) {
		struct http_req r = { .conn = c, .keep_alive = false };

		h->srv->timeouts++;
		http_respond_error(&r, 408, "timeout",
				   "request not complete in time", NULL);
	} else if (!h->in_request && now_ms > h->idle_since_ms &&
		   now_ms - h->idle_since_ms >= HTTP_IDLE_TIMEOUT_MS) {
		net_close(c, false);
	}
}

static void
http_closed(struct net_conn *c)
{
	struct http_conn *h = c->proto;

	if (h->in_handler) {
		h->gone = true; /* http_data frees it on the way out */
		return;
	}
	http_conn_free(h);
}

static const struct net_conn_ops http_ops = {
	.data = http_data,
	.tick = http_tick,
	.closed = http_closed,
};

int
http_accept(struct net_conn *c, void *server)
{
	struct http_server *srv = server;
	struct http_conn *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	h->conn = c;
	h->srv = srv;
	reset_request(h, srv->now_ms);
	c->proto = h;
	c->ops = &http_ops;
	return 0;
}

/* ---- WebSocket upgrade (RFC 6455 §4.2) --------------------------------- */

static bool
ws_key_ok(const char *key)
{
	unsigned char raw[32];
	size_t len = strlen(key);

	/* base64 of 16 bytes: 24 characters ending in "==" */
	if (len != 24 || key[22] != '=' || key[23] != '=')
		return false;
	return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

struct ws_conn *
http_upgrade_websocket(struct http_req *r, const struct ws_ops *ops,
		       void *user)
{
	struct http_conn *h = r->conn->proto;
	const char *key = http_header(r, "Sec-WebSocket-Key");
	const char *ver = http_header(r, "Sec-WebSocket-Version");
	char accept[29], resp[256];
	struct ws_conn *w;
	int n;

	if (strcmp(r->method, "GET") != 0 ||
	    !http_header_has_token(r, "Upgrade", "websocket") ||
	    !http_header_has_token(r, "Connection", "upgrade") ||
	    key == NULL || !ws_key_ok(key)) {
		http_respond_error(r, 400, "bad_request",
				   "not a WebSocket handshake", NULL);
		return NULL;
	}
	if (ver == NULL || strcmp(ver, "13") != 0) {
		http_respond_error(r, 426, "bad_request",
				   "WebSocket version 13 required",
				   "Sec-WebSocket-Version: 13\r\n");
		return NULL;
	}
	ws_accept_key(key, accept);
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n\r\n",
		     accept);
	r->responded = true;
	/* the 101 first, while the connection is still ours: if it cannot
	 * be queued the connection closes as HTTP and no WebSocket exists */
	if (net_send(r->conn, resp, (size_t)n) < 0)
		return NULL;
	w = ws_new(r->conn, ops, user, h->srv->now_ms);
	if (w == NULL) {
		net_close(r->conn, false);
		return NULL;
	}
	/* ws_new switched the connection's ops: from here on it is the
	 * WebSocket's, and http_data frees h */
	h->upgraded = true;
	return w;
}
