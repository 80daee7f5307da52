/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_NET_H
#define SOTTO_NET_H

/*
 * Stream connections on the control thread's io_uring: TCP (optionally
 * TLS, with OpenSSL on memory BIOs) and Unix sockets, for the HTTP API,
 * WebSocket signaling, metrics and the control socket.
 *
 * Every listener accepts with a multishot accept; every connection reads
 * with a multishot recv from one shared ring of provided buffers, so an
 * idle connection holds no receive buffer (10,000 idle WebSocket clients
 * cost their struct and their TLS state, nothing more). At most one send is
 * in flight per connection; bytes queued meanwhile wait in a second buffer.
 *
 * Nothing here blocks, and nothing here is thread-safe: it all runs on the
 * control thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <liburing.h>
#include <openssl/ssl.h>

#include "addr.h"

struct net;
struct net_conn;

/* What runs over a connection; a connection may switch (HTTP → WebSocket). */
struct net_conn_ops {
	/* Bytes arrived (decrypted). Returns how many were consumed (the
	 * rest is kept and offered again with more), or -1 to close. */
	ssize_t (*data)(struct net_conn *c, const uint8_t *p, size_t len);
	/* Once a second: deadlines and keepalives. */
	void (*tick)(struct net_conn *c, uint64_t now_ms);
	/* The connection is gone; free the protocol state. */
	void (*closed)(struct net_conn *c);
};

/* A listener's accept hook: set c->ops and c->proto, 0 to keep, <0 to refuse. */
typedef int (*net_accept_fn)(struct net_conn *c, void *arg);

struct net_conn {
	const struct net_conn_ops *ops;
	void *proto;                /* the protocol's state */
	struct sotto_addr peer;     /* family 0 for Unix sockets */
	bool tls;
	bool unix_socket;
	uint64_t accepted_ms;
	void *listener_arg;         /* the arg given with the listener */
};

struct net_stats {
	uint64_t accepted, closed, current;
	uint64_t refused;            /* closed at once, every reason below too */
	uint64_t refused_per_ip;     /* net_limits.conns_per_ip */
	uint64_t refused_tls_rate;   /* net_limits.tls_handshakes_per_ip */
	uint64_t current_unix;       /* of current: control-socket connections */
	uint64_t rx_bytes, tx_bytes;
	uint64_t tls_failures;       /* handshake or record errors */
	uint64_t overflows;          /* closed for queueing too much output */
	uint64_t nobufs;             /* receive rearmed after the buffer ring ran dry */
};

/* n is used with ring; the caller's loop hands every CQE whose user_data
 * net_owns() to net_complete(). */
struct net *net_new(struct io_uring *ring, unsigned max_conns);
/* After io_uring_queue_exit() on the ring (which ends every operation in
 * flight): closes what is left, calling each ops->closed, and frees. */
void net_free(struct net *n);

/*
 * Per-source limits on TCP listeners, keyed as rate_limit.h keys sources:
 * an IPv4 address or IPv6 /64, and RL_NET48_FACTOR times as much per IPv6
 * /48. A connection over a limit is closed as soon as it is accepted,
 * before any byte is read or TLS state made, and counted in net_stats.
 */
struct net_limits {
	uint32_t conns_per_ip;          /* open at once; 0 = no cap */
	/* new connections per second on a TLS listener (each is a
	 * handshake, the costly part of a connection); 0 = no limit */
	uint32_t tls_handshakes_per_ip;
};
/* Before the first listener; 0 or -errno. */
int net_set_limits(struct net *n, const struct net_limits *l);

/* A TLS server context (TLS 1.2+, ECDHE, AEAD) from PEM files; NULL and a
 * message in err on failure. */
SSL_CTX *net_tls_ctx_new(const char *cert, const char *key, char *err,
			 size_t errlen);

/* Listens on a TCP address (tls NULL = plain) or on a Unix socket path
 * (created with mode, an existing socket file is replaced). 0 or -errno. */
int net_listen_tcp(struct net *n, const struct sotto_addr *a, SSL_CTX *tls,
		   net_accept_fn accept, void *arg);
int net_listen_unix(struct net *n, const char *path, unsigned mode,
		    net_accept_fn accept, void *arg);

static inline bool
net_owns(uint64_t user_data)
{
	/* the loop's own user_data are small integers; ours are pointers */
	return user_data >= 4096;
}
void net_complete(struct net *n, const struct io_uring_cqe *cqe);
/* Once a second from the loop: connection ticks and deadlines. */
void net_tick(struct net *n, uint64_t now_ms);
/* Frees connections released since the last call; the loop calls it once
 * per batch of completions, when no handler is on the stack. */
void net_reap(struct net *n);

/* Queues bytes (encrypted first under TLS). 0, or -ENOBUFS when the
 * connection already has too much unsent output (it is then closed). */
int net_send(struct net_conn *c, const void *p, size_t len);
/* Closes now, or once queued output is written (flush). ops->closed runs
 * exactly once, from here or later. */
void net_close(struct net_conn *c, bool flush);

void net_get_stats(const struct net *n, struct net_stats *st);

/* Closes every listener (a stopping daemon takes no new connections). */
void net_stop_listening(struct net *n);

#endif
