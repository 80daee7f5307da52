/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load generators' TCP client: many non-blocking connections to one
 * server in one thread, edge-triggered epoll. A connection is either on
 * the HTTP keep-alive pool (pl_http.h) or a WebSocket (pl_ws.h); the
 * program gets what arrives through its ops.
 *
 * The program embeds struct pl_client in its own state and struct pl_conn
 * first in its own connection struct (conn_size), and finds them again with
 * PL_CONTAINER_OF in its ops.
 */
#ifndef PL_CLIENT_H
#define PL_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_clock.h"
#include "pl_errors.h"

#define PL_CONTAINER_OF(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#define PL_RX_CHUNK (256u << 10)
#define PL_MAX_IN (1u << 20)    /* unparsed input per connection */
#define PL_HTTP_MAX 256         /* pool connections at most */
#define PL_HTTP_RETRY_NS (50 * PL_NS_PER_MS)
#define PL_EVENTS 512

/* The first byte of whatever epoll's data points at: a connection's kind,
 * or PL_KIND_OTHER for the program's own descriptors (ops->other_event). */
enum pl_kind { PL_KIND_HTTP, PL_KIND_WS, PL_KIND_OTHER };

enum pl_conn_state {
	PL_CONNECTING,
	PL_UPGRADING,   /* WS: upgrade request sent, waiting for 101 */
	PL_OPEN,
	PL_LEAVING,     /* WS: leave sent, waiting for the server to close */
	PL_CLOSED,
};

struct pl_buf {
	uint8_t *p;
	size_t len, cap;
};

/* A request queued for or served by the HTTP pool, embedded in the
 * program's own. */
struct pl_http_req {
	struct pl_http_req *next;
};

struct pl_conn {
	uint8_t kind;           /* first: epoll data points at it */
	uint8_t state;          /* enum pl_conn_state */
	uint8_t msg_op;         /* WS: opcode of the fragmented message, 0: none */
	bool close_after;       /* HTTP: the server said Connection: close */
	bool close_sent;        /* WS: our close frame is out */
	int fd;
	uint16_t http_slot;
	struct pl_http_req *req; /* HTTP: the request being served */
	struct pl_buf in;       /* unparsed input, kept only across reads */
	struct pl_buf out;      /* unsent output */
	struct pl_buf msg;      /* WS: fragments of one message */
	struct pl_conn *next_free;
};

struct pl_client;

struct pl_client_ops {
	/* the WebSocket's upgrade was answered with 101 */
	void (*ws_open)(struct pl_client *cl, struct pl_conn *c);
	/* a whole text message */
	void (*ws_text)(struct pl_client *cl, struct pl_conn *c,
			const uint8_t *p, size_t len);
	/* the WebSocket is gone or unusable (why: the error code); the
	 * program lets go of it and closes it (pl_conn_close) */
	void (*ws_fail)(struct pl_client *cl, struct pl_conn *c,
			const char *why);
	/* writes q's request on the idle pool connection c (pl_http_post);
	 * false: q is stale (its owner failed while it was queued) */
	bool (*http_send)(struct pl_client *cl, struct pl_conn *c,
			  struct pl_http_req *q);
	/* q's response */
	void (*http_response)(struct pl_client *cl, struct pl_http_req *q,
			      int status, const uint8_t *body, size_t len);
	/* the connection serving q closed before its response */
	void (*http_gone)(struct pl_client *cl, struct pl_http_req *q);
	/* events on a descriptor of the program's (kind PL_KIND_OTHER);
	 * NULL if it has none */
	void (*other_event)(struct pl_client *cl, uint8_t *kind,
			    uint32_t events);
};

struct pl_client {
	const struct pl_client_ops *ops;
	size_t conn_size;
	int ep;
	struct sockaddr_in ws_addr, api_addr;
	char host[80];          /* Host header */
	char origin[128];       /* Origin header, "" for none */
	uint64_t rng;           /* pl_rng.h: masks, keys, the program's own */
	uint8_t *rx;

	unsigned n_http;        /* pool size */
	struct pl_conn *http[PL_HTTP_MAX];
	uint64_t http_retry_ns; /* no new pool connection before this */
	struct pl_http_req *q_head, *q_tail;
	struct pl_conn *to_free;

	unsigned conns;         /* sockets open */
	unsigned ws_open;       /* WebSockets past their 101 */
	unsigned leaving;       /* leave sent, the server has not closed yet */
	uint64_t pings, connect_errors;
	struct pl_errors errors;
};

/* Epoll, the receive buffer, the rng; the addresses, host, origin and
 * n_http are the program's to fill. 0 or -errno. */
int pl_client_init(struct pl_client *cl, const struct pl_client_ops *ops,
		   size_t conn_size);

/* A connection to ws_addr (WS) or api_addr (HTTP), connecting; NULL (the
 * reason counted in errors) if it cannot be opened. */
struct pl_conn *pl_conn_open(struct pl_client *cl, enum pl_kind kind);
/* Queues p and sends what the socket takes. 0 or -ENOMEM. */
int pl_conn_send(struct pl_conn *c, const void *p, size_t len);
void pl_conn_flush(struct pl_conn *c);
/* Closes the socket at once; the struct is freed after the current batch
 * of events, which may still name it. */
void pl_conn_close(struct pl_client *cl, struct pl_conn *c);

/* One pass: events for at most timeout_ms, then closed connections
 * freed and queued requests handed to the pool. */
void pl_client_poll(struct pl_client *cl, int timeout_ms);
void pl_client_free_closed(struct pl_client *cl);
/* Serves every connection for ns (pings answered). */
void pl_client_idle(struct pl_client *cl, uint64_t ns);
/* Lets the server close the connections that left (their close
 * handshake answered), for at most ns: a load generator that exits with
 * them open would count as clients vanishing, and TIME_WAIT stays on the
 * server's side. */
void pl_client_drain(struct pl_client *cl, uint64_t ns);

int pl_buf_append(struct pl_buf *b, const void *p, size_t len);
/* Drops the first n bytes; an emptied buffer gives its memory back, so an
 * idle connection costs only its struct. */
void pl_buf_consume(struct pl_buf *b, size_t n);
void pl_buf_free(struct pl_buf *b);

static inline void
pl_client_error(struct pl_client *cl, const char *code)
{
	pl_errors_note(&cl->errors, code);
}

#endif
