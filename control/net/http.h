/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_HTTP_H
#define SOTTO_HTTP_H

/*
 * HTTP/1.1 server connections over net.c, parsed by http-parser (nodejs's,
 * Debian libhttp-parser). One request at a time per connection (pipelined
 * requests wait in the input buffer); handlers run synchronously on the
 * control thread and answer before they return.
 *
 * Limits (RFC 9110 leaves them to the server): request line and headers
 * HTTP_MAX_HEAD bytes, HTTP_MAX_HEADERS headers, bodies HTTP_MAX_BODY
 * bytes (Content-Length only; chunked request bodies are refused with 411,
 * the API never needs them), a request complete within HTTP_REQ_TIMEOUT_MS,
 * idle keep-alive connections closed after HTTP_IDLE_TIMEOUT_MS.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_HEADERS 32
#define HTTP_MAX_BODY 16384
#define HTTP_REQ_TIMEOUT_MS 10000
#define HTTP_IDLE_TIMEOUT_MS 30000

struct http_header {
	const char *name;   /* NUL-terminated, as sent */
	const char *value;  /* NUL-terminated, surrounding blanks removed */
};

struct http_req {
	struct net_conn *conn;
	const char *method;      /* "GET", "POST", ... */
	const char *path;        /* the URL path, before any '?' */
	const char *query;       /* after '?', or "" */
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned n_headers;
	const uint8_t *body;
	size_t body_len;
	bool keep_alive;
	bool responded;
};

/* The application's request handler; it must answer with http_respond()
 * or http_upgrade_websocket(). */
typedef void (*http_handler_fn)(struct http_req *r, void *arg);

/* What a connection switches to after a WebSocket upgrade (ws.c). */
struct ws_conn;
struct ws_ops;

/* net_accept_fn for a listener whose arg is a struct http_server. */
struct http_server {
	http_handler_fn handle;
	void *arg;
	const char *server_name;     /* extra headers on every response, or NULL */
	uint64_t requests, bad_requests, timeouts;
	uint64_t now_ms;             /* set by the owner each tick */
};
int http_accept(struct net_conn *c, void *server);

/* Case-insensitive header lookup; NULL if absent. */
const char *http_header(const struct http_req *r, const char *name);

/* Does a comma-separated header contain token (case-insensitive)? */
bool http_header_has_token(const struct http_req *r, const char *name,
			   const char *token);

/*
 * Sends a complete response. extra_headers: "Name: value\r\n" lines or
 * NULL. Security headers (no-store, nosniff, no-referrer) are always added.
 * close forces "Connection: close".
 */
void http_respond(struct http_req *r, int status, const char *content_type,
		  const void *body, size_t len, const char *extra_headers,
		  bool close);

/* JSON error body {"error": code, "reason": reason}. */
void http_respond_error(struct http_req *r, int status, const char *code,
			const char *reason, const char *extra_headers);

/*
 * Validates an RFC 6455 opening handshake in r, answers 101 and turns the
 * connection into a WebSocket driven by ops (ws.h). Returns the WebSocket,
 * or NULL after answering 400 (bad handshake) or 503.
 */
struct ws_conn *http_upgrade_websocket(struct http_req *r,
				       const struct ws_ops *ops, void *user);

const char *http_status_text(int status);

#endif
