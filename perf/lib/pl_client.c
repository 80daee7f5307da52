/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pl_client.h"
#include "pl_http.h"
#include "pl_proc.h"
#include "pl_rng.h"
#include "pl_ws.h"

/* ---- buffers ---- */

int
pl_buf_append(struct pl_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		uint8_t *np;

		while (cap < b->len + len)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

void
pl_buf_consume(struct pl_buf *b, size_t n)
{
	if (n >= b->len) {
		pl_buf_free(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void
pl_buf_free(struct pl_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- connections ---- */

int
pl_client_init(struct pl_client *cl, const struct pl_client_ops *ops,
	       size_t conn_size)
{
	cl->ops = ops;
	cl->conn_size = conn_size;
	pl_rng_seed(&cl->rng);
	cl->ep = epoll_create1(EPOLL_CLOEXEC);
	if (cl->ep < 0)
		return -errno;
	cl->rx = malloc(PL_RX_CHUNK);
	return cl->rx != NULL ? 0 : -ENOMEM;
}

void
pl_conn_flush(struct pl_conn *c)
{
	size_t off = 0;

	while (off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + off, c->out.len - off,
				 MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* EAGAIN: EPOLLOUT resumes; an error shows up as EPOLLERR
		 * or EOF on the read side */
		break;
	}
	pl_buf_consume(&c->out, off);
}

int
pl_conn_send(struct pl_conn *c, const void *p, size_t len)
{
	if (pl_buf_append(&c->out, p, len) < 0)
		return -ENOMEM;
	if (c->state != PL_CONNECTING)
		pl_conn_flush(c);
	return 0;
}

void
pl_conn_close(struct pl_client *cl, struct pl_conn *c)
{
	if (c->state == PL_CLOSED)
		return;
	if (c->kind == PL_KIND_WS && c->state >= PL_OPEN)
		cl->ws_open--;
	if (c->state == PL_LEAVING)
		cl->leaving--;
	c->state = PL_CLOSED;
	close(c->fd);
	c->fd = -1;
	cl->conns--;
	pl_buf_free(&c->in);
	pl_buf_free(&c->out);
	pl_buf_free(&c->msg);
	c->next_free = cl->to_free;
	cl->to_free = c;
}

struct pl_conn *
pl_conn_open(struct pl_client *cl, enum pl_kind kind)
{
	const struct sockaddr_in *to = kind == PL_KIND_WS ? &cl->ws_addr :
							    &cl->api_addr;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					    EPOLLET };
	struct pl_conn *c = calloc(1, cl->conn_size);
	int one = 1, fd;

	if (c == NULL)
		return NULL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cl->connect_errors++;
		pl_client_error(cl, errno == EMFILE ? "client_emfile" :
						      "client_socket");
		free(c);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
	    errno != EINPROGRESS) {
		cl->connect_errors++;
		pl_client_error(cl, errno == EADDRNOTAVAIL ? "client_no_ports" :
							     "client_connect");
		close(fd);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->kind = (uint8_t)kind;
	c->state = PL_CONNECTING;
	ev.data.ptr = c;
	if (epoll_ctl(cl->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	cl->conns++;
	return c;
}

void
pl_client_free_closed(struct pl_client *cl)
{
	while (cl->to_free != NULL) {
		struct pl_conn *c = cl->to_free;

		cl->to_free = c->next_free;
		free(c);
	}
}

/* ---- events ---- */

/* c cannot go on: its request or its WebSocket's owner is told */
static void
conn_fail(struct pl_client *cl, struct pl_conn *c, const char *why)
{
	if (c->kind == PL_KIND_HTTP)
		pl_http_conn_gone(cl, c);
	else
		cl->ops->ws_fail(cl, c, why);
}

/* Feeds input to the connection's parser; false once c closed. */
static bool
conn_input(struct pl_client *cl, struct pl_conn *c, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len && c->state != PL_CLOSED) {
		ssize_t n;

		if (c->kind == PL_KIND_HTTP)
			n = pl_http_parse(cl, c, p + off, len - off);
		else if (c->state == PL_UPGRADING)
			n = pl_ws_parse_upgrade(cl, c, p + off, len - off);
		else
			n = pl_ws_parse(cl, c, p + off, len - off);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (c->state == PL_CLOSED)
		return false;
	if (off < len) {
		if (len - off > PL_MAX_IN) {
			conn_fail(cl, c, "client_input_overflow");
			return false;
		}
		if (p != c->in.p) {
			pl_buf_consume(&c->in, c->in.len);
			pl_buf_append(&c->in, p + off, len - off);
		} else {
			pl_buf_consume(&c->in, off);
		}
	} else {
		pl_buf_consume(&c->in, c->in.len);
	}
	return true;
}

static void
conn_readable(struct pl_client *cl, struct pl_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, cl->rx, PL_RX_CHUNK, 0);

		if (n > 0) {
			bool alive;

			if (c->in.len > 0) {
				/* the rest of a partial message */
				if (pl_buf_append(&c->in, cl->rx, (size_t)n) < 0) {
					conn_fail(cl, c, "client_oom");
					return;
				}
				alive = conn_input(cl, c, c->in.p, c->in.len);
			} else {
				alive = conn_input(cl, c, cl->rx, (size_t)n);
			}
			if (!alive)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EOF or error */
		conn_fail(cl, c, n == 0 ? "ws_eof" : "ws_reset");
		return;
	}
}

static void
conn_event(struct pl_client *cl, struct pl_conn *c, uint32_t ev)
{
	if (c->state == PL_CLOSED)
		return;
	if (c->state == PL_CONNECTING &&
	    (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
			cl->connect_errors++;
			if (c->kind == PL_KIND_HTTP) {
				pl_client_error(cl, "http_connect");
				/* retried after a pause, not in a loop */
				cl->http_retry_ns = pl_now_ns() + PL_HTTP_RETRY_NS;
			}
			conn_fail(cl, c, "ws_connect_refused");
			return;
		}
		if (c->kind == PL_KIND_HTTP) {
			c->state = PL_OPEN;
			pl_conn_flush(c);
			pl_http_pump(cl);
		} else {
			pl_ws_upgrade(cl, c);
		}
	} else if (ev & EPOLLOUT) {
		pl_conn_flush(c);
	}
	if (c->state != PL_CLOSED &&
	    (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		conn_readable(cl, c);
}

void
pl_client_poll(struct pl_client *cl, int timeout_ms)
{
	struct epoll_event ev[PL_EVENTS];
	int n = epoll_wait(cl->ep, ev, PL_EVENTS, timeout_ms);

	for (int i = 0; i < n; i++) {
		uint8_t *kind = ev[i].data.ptr;

		if (*kind == PL_KIND_OTHER)
			cl->ops->other_event(cl, kind, ev[i].events);
		else
			conn_event(cl, ev[i].data.ptr, ev[i].events);
	}
	pl_client_free_closed(cl);
	if (cl->q_head != NULL)
		pl_http_pump(cl);
}

void
pl_client_idle(struct pl_client *cl, uint64_t ns)
{
	uint64_t end = pl_now_ns() + ns;

	while (!pl_stop && pl_now_ns() < end)
		pl_client_poll(cl, 100);
}

void
pl_client_drain(struct pl_client *cl, uint64_t ns)
{
	uint64_t end = pl_now_ns() + ns;

	while (!pl_stop && cl->leaving > 0 && pl_now_ns() < end)
		pl_client_poll(cl, 20);
}
