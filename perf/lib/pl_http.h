/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.1 client of the load generators: requests queued on a pool of
 * keep-alive connections (pl_client.h), one request at a time per
 * connection; and one blocking GET (a /metrics scrape).
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <sys/types.h>

#include "pl_client.h"

/* q to the back of the queue; pl_http_pump() hands it out. */
void pl_http_enqueue(struct pl_client *cl, struct pl_http_req *q);

/* Gives queued requests to idle pool connections, opening connections up
 * to n_http as needed. */
void pl_http_pump(struct pl_client *cl);

/* POST path on c, with "Authorization: Bearer" when bearer is not NULL and
 * a JSON body when body is not NULL. 0, or -ENOSPC if it does not fit. */
int pl_http_post(struct pl_client *cl, struct pl_conn *c, const char *path,
		 const char *bearer, const char *body);

/* Responses in [p, p + len) to ops->http_response; the bytes consumed, 0
 * if incomplete, -1 after closing c. */
ssize_t pl_http_parse(struct pl_client *cl, struct pl_conn *c,
		      const uint8_t *p, size_t len);

/* The pool connection c is gone: the request it served, if any, goes to
 * ops->http_gone. */
void pl_http_conn_gone(struct pl_client *cl, struct pl_conn *c);

/* GET url ("http://127.x.y.z:PORT/path"; loopback only) on a fresh
 * connection, 5 s timeouts; the whole response, headers included, in out
 * (NUL-terminated). The bytes read or -errno. */
int pl_http_get(const char *url, char *out, size_t cap);

#endif
