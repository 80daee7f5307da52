/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pl_http.h"

void
pl_http_enqueue(struct pl_client *cl, struct pl_http_req *q)
{
	q->next = NULL;
	if (cl->q_tail != NULL)
		cl->q_tail->next = q;
	else
		cl->q_head = q;
	cl->q_tail = q;
}

static struct pl_http_req *
dequeue(struct pl_client *cl)
{
	struct pl_http_req *q = cl->q_head;

	if (q != NULL) {
		cl->q_head = q->next;
		if (cl->q_head == NULL)
			cl->q_tail = NULL;
	}
	return q;
}

void
pl_http_pump(struct pl_client *cl)
{
	for (unsigned i = 0; i < cl->n_http && cl->q_head != NULL; i++) {
		struct pl_conn *c = cl->http[i];
		struct pl_http_req *q;

		if (c == NULL) {
			/* a refused connection is retried after a pause,
			 * not in a loop */
			if (cl->http_retry_ns > pl_now_ns())
				continue;
			c = pl_conn_open(cl, PL_KIND_HTTP);
			if (c == NULL)
				continue;
			c->http_slot = (uint16_t)i;
			cl->http[i] = c;
		}
		if (c->req != NULL || c->state != PL_OPEN)
			continue;
		/* skip requests that went stale while queued */
		while ((q = dequeue(cl)) != NULL) {
			c->req = q;
			if (cl->ops->http_send(cl, c, q))
				break;
			c->req = NULL;
		}
	}
}

int
pl_http_post(struct pl_client *cl, struct pl_conn *c, const char *path,
	     const char *bearer, const char *body)
{
	char req[2048];
	int n;

	n = snprintf(req, sizeof(req),
		     "POST %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "%s%s%s"
		     "%s"
		     "Content-Length: %zu\r\n\r\n%s",
		     path, cl->host, bearer ? "Authorization: Bearer " : "",
		     bearer ? bearer : "", bearer ? "\r\n" : "",
		     body ? "Content-Type: application/json\r\n" : "",
		     body ? strlen(body) : 0, body ? body : "");
	if (n <= 0 || (size_t)n >= sizeof(req))
		return -ENOSPC;
	return pl_conn_send(c, req, (size_t)n);
}

void
pl_http_conn_gone(struct pl_client *cl, struct pl_conn *c)
{
	struct pl_http_req *q = c->req;

	cl->http[c->http_slot] = NULL;
	c->req = NULL;
	pl_conn_close(cl, c);
	if (q != NULL)
		cl->ops->http_gone(cl, q);
}

ssize_t
pl_http_parse(struct pl_client *cl, struct pl_conn *c, const uint8_t *p,
	      size_t len)
{
	const uint8_t *end = memmem(p, len, "\r\n\r\n", 4);
	size_t hlen, clen = 0;
	int status = 0;
	const char *h;
	char head[4096];
	struct pl_http_req *q;

	if (end == NULL) {
		if (len > sizeof(head)) {
			pl_http_conn_gone(cl, c);
			return -1;
		}
		return 0;
	}
	hlen = (size_t)(end + 4 - p);
	if (hlen >= sizeof(head)) {
		pl_http_conn_gone(cl, c);
		return -1;
	}
	memcpy(head, p, hlen);
	head[hlen] = '\0';
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
		pl_http_conn_gone(cl, c);
		return -1;
	}
	for (h = strchr(head, '\n'); h != NULL; h = strchr(h + 1, '\n')) {
		const char *v = h + 1, *eol = strchr(v, '\r'), *ct;

		if (strncasecmp(v, "Content-Length:", 15) == 0) {
			clen = strtoul(v + 15, NULL, 10);
		} else if (strncasecmp(v, "Connection:", 11) == 0) {
			ct = strcasestr(v + 11, "close");
			if (ct != NULL && eol != NULL && ct < eol)
				c->close_after = true;
		}
	}
	if (clen > PL_MAX_IN) {
		pl_http_conn_gone(cl, c);
		return -1;
	}
	if (len < hlen + clen)
		return 0;
	q = c->req;
	c->req = NULL;
	if (q != NULL)
		cl->ops->http_response(cl, q, status, p + hlen, clen);
	if (c->close_after) {
		pl_http_conn_gone(cl, c);
		return -1;
	}
	return (ssize_t)(hlen + clen);
}

int
pl_http_get(const char *url, char *out, size_t cap)
{
	char host[64], path[256], req[512];
	unsigned port = 80;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	size_t got = 0;
	int fd, n;

	if (sscanf(url, "http://%63[^:/]:%u%255s", host, &port, path) < 2)
		return -EINVAL;
	if (strchr(url + 7, '/') == NULL)
		snprintf(path, sizeof(path), "/metrics");
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127 || port == 0 || port > 65535)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n\r\n",
		     path, host, port);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return -EIO;
	}
	while (got + 1 < cap) {
		ssize_t r = recv(fd, out + got, cap - 1 - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	out[got] = '\0';
	return (int)got;
}
