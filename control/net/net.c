/* SPDX-License-Identifier: BSD-3-Clause */
#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>

#include "clock.h"
#include "log.h"
#include "rate_limit.h"

/* user_data = pointer | op; pointers from malloc are 16-byte aligned. */
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3, OP_MASK = 7 };

#define NET_BGID 1
#define NET_NBUFS 256            /* power of two */
#define NET_BUF_SIZE 16384
#define NET_TX_MAX (1u << 20)     /* unsent output per connection */
#define NET_TX_MAX_UNIX (256u << 20)
#define NET_RX_MAX (128u << 10)   /* unconsumed input per connection */
#define NET_DRAIN_MS 2000         /* lingering close after our FIN */
#define NET_TLS_SCRATCH 16384
#define NET_RL_SLOTS 65536

struct net_buf {
	uint8_t *p;
	size_t len, off, cap;
};

struct listener {
	struct net *net;
	int fd;
	SSL_CTX *tls;
	net_accept_fn accept;
	void *arg;
	bool unix_socket;
	bool armed;
	bool paused;         /* out of descriptors: re-armed on the next tick */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct listener *next;
};

struct conn {
	struct net_conn pub; /* first: net_conn * and conn * convert */
	struct net *net;
	int fd;
	SSL *ssl;
	BIO *rbio, *wbio;    /* owned by ssl */
	struct conn *prev, *next;
	struct net_buf rx;   /* plaintext not consumed yet */
	struct net_buf out;  /* being sent */
	struct net_buf pend; /* queued while out is in flight */
	uint64_t drain_since;
	bool recv_armed, send_armed;
	bool closing;        /* no more protocol callbacks */
	bool flush_close;    /* close once output is written */
	bool draining;       /* FIN sent, reading to EOF before close */
	bool fd_shut;
	bool released;
	bool counted;        /* holds a place in net.per_src */
	unsigned in_cb;      /* inside a completion or callback: do not free */
};

struct net {
	struct io_uring *ring;
	unsigned max_conns;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	struct listener *listeners;
	struct conn *conns;
	struct conn *reap;   /* released, freed by net_reap() */
	bool stopping;       /* net_free() running: no new operations */
	struct net_limits lim;
	struct src_count *per_src;  /* open TCP connections per source */
	struct rate_limit *tls_rl;  /* TLS handshakes per source */
	struct net_stats st;
	uint8_t scratch[NET_TLS_SCRATCH];
};

static struct io_uring_sqe *
get_sqe(struct net *n)
{
	struct io_uring_sqe *sqe;

	if (n->stopping)
		return NULL; /* the ring is gone or going: arm nothing */
	sqe = io_uring_get_sqe(n->ring);
	for (int i = 0; sqe == NULL && i < 3; i++) {
		/* the SQ is full: hand it to the kernel and take a slot */
		io_uring_submit(n->ring);
		sqe = io_uring_get_sqe(n->ring);
	}
	/* NULL only if the kernel keeps refusing: the caller gives up on
	 * that operation (closes the connection, or retries next tick) */
	return sqe;
}

/* ---- setup ------------------------------------------------------------ */

struct net *
net_new(struct io_uring *ring, unsigned max_conns)
{
	size_t ring_bytes = NET_NBUFS * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg = { 0 };
	struct net *n = calloc(1, sizeof(*n));
	int ret;

	if (n == NULL)
		return NULL;
	n->ring = ring;
	n->max_conns = max_conns;
	n->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	n->bufs = malloc((size_t)NET_NBUFS * NET_BUF_SIZE);
	if (n->br == MAP_FAILED || n->bufs == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	io_uring_buf_ring_init(n->br);
	reg.ring_addr = (uintptr_t)n->br;
	reg.ring_entries = NET_NBUFS;
	reg.bgid = NET_BGID;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret < 0)
		goto fail;
	for (unsigned i = 0; i < NET_NBUFS; i++)
		io_uring_buf_ring_add(n->br, n->bufs + (size_t)i * NET_BUF_SIZE,
				      NET_BUF_SIZE, (unsigned short)i,
				      io_uring_buf_ring_mask(NET_NBUFS), (int)i);
	io_uring_buf_ring_advance(n->br, NET_NBUFS);
	return n;
fail:
	if (n->br != MAP_FAILED && n->br != NULL)
		munmap(n->br, ring_bytes);
	free(n->bufs);
	free(n);
	errno = -ret;
	return NULL;
}

static void conn_free(struct conn *c);

void
net_free(struct net *n)
{
	if (n == NULL)
		return;
	/* the ring has exited (net.h): callbacks below may try to send;
	 * nothing is armed any more */
	n->stopping = true;
	net_stop_listening(n);
	while (n->listeners != NULL) {
		struct listener *l = n->listeners;

		n->listeners = l->next;
		free(l);
	}
	while (n->conns != NULL) {
		struct conn *c = n->conns;

		if (!c->closing) {
			c->closing = true;
			if (c->pub.ops != NULL && c->pub.ops->closed != NULL)
				c->pub.ops->closed(&c->pub);
		}
		conn_free(c);
	}
	net_reap(n);
	munmap(n->br, NET_NBUFS * sizeof(struct io_uring_buf));
	explicit_bzero(n->bufs, (size_t)NET_NBUFS * NET_BUF_SIZE);
	free(n->bufs);
	src_count_free(n->per_src);
	rate_limit_free(n->tls_rl);
	explicit_bzero(n->scratch, sizeof(n->scratch));
	free(n);
}

int
net_set_limits(struct net *n, const struct net_limits *l)
{
	struct src_count *sc = NULL;
	struct rate_limit *rl = NULL;

	/* counts start with the first connection: none may be open yet */
	if (n->st.accepted > 0)
		return -EBUSY;
	/* the table is sized by max_conns, so only when there is a cap */
	if (l->conns_per_ip > 0 && (sc = src_count_new(n->max_conns)) == NULL)
		return -errno;
	if (l->tls_handshakes_per_ip > 0 &&
	    (rl = rate_limit_new(l->tls_handshakes_per_ip, 0,
				 NET_RL_SLOTS)) == NULL) {
		src_count_free(sc);
		return -ENOMEM;
	}
	src_count_free(n->per_src);
	rate_limit_free(n->tls_rl);
	n->per_src = sc;
	n->tls_rl = rl;
	n->lim = *l;
	return 0;
}

SSL_CTX *
net_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* TLS 1.2: ECDHE with AEAD only; TLS 1.3 suites are all AEAD */
	if (SSL_CTX_set_cipher_list(ctx,
				    "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	/* CLEANSE_PLAINTEXT: OpenSSL wipes the records it decrypted (a
	 * bearer token, a join) before it frees or reuses their buffers */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_COMPRESSION |
				 SSL_OP_CLEANSE_PLAINTEXT);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
fail:
	snprintf(err, errlen, "%s",
		 ERR_reason_error_string(ERR_peek_last_error()) ?
			 ERR_reason_error_string(ERR_peek_last_error()) :
			 "cannot create the TLS context");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static void
arm_accept(struct listener *l)
{
	struct io_uring_sqe *sqe = get_sqe(l->net);

	if (sqe == NULL) {
		l->paused = true; /* net_tick tries again */
		return;
	}
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, (uintptr_t)l | OP_ACCEPT);
	l->armed = true;
}

static int
add_listener(struct net *n, int fd, SSL_CTX *tls, net_accept_fn accept,
	     void *arg, const char *path)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		close(fd);
		return -ENOMEM;
	}
	l->net = n;
	l->fd = fd;
	l->tls = tls;
	l->accept = accept;
	l->arg = arg;
	if (path != NULL) {
		l->unix_socket = true;
		snprintf(l->path, sizeof(l->path), "%s", path);
	}
	l->next = n->listeners;
	n->listeners = l;
	arm_accept(l);
	return 0;
}

int
net_listen_tcp(struct net *n, const struct sotto_addr *a, SSL_CTX *tls,
	       net_accept_fn accept, void *arg)
{
	union sotto_sockaddr sa;
	socklen_t salen = sotto_addr_to_sockaddr_u(a, &sa);
	int one = 1, fd, ret;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &sa.sa, salen) < 0 || listen(fd, 4096) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return add_listener(n, fd, tls, accept, arg, NULL);
}

int
net_listen_unix(struct net *n, const char *path, unsigned mode,
		net_accept_fn accept, void *arg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	/* a socket left by a previous run is replaced; anything else at
	 * that path is not ours to remove */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* no window in which the socket exists with a wider mode */
	if (fchmod(fd, mode) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return add_listener(n, fd, NULL, accept, arg, path);
}

void
net_stop_listening(struct net *n)
{
	for (struct listener *l = n->listeners; l != NULL; l = l->next) {
		if (l->fd < 0)
			continue;
		/* the armed accept completes with -ECANCELED later; l stays
		 * allocated (retired, fd -1) until net_free for that CQE */
		if (l->armed) {
			struct io_uring_sqe *sqe = get_sqe(n);

			if (sqe != NULL) {
				io_uring_prep_cancel64(sqe, (uintptr_t)l | OP_ACCEPT, 0);
				io_uring_sqe_set_data64(sqe, 0);
			}
		}
		if (l->unix_socket)
			unlink(l->path);
		close(l->fd);
		l->fd = -1;
		l->accept = NULL;
	}
}

/* ---- connections ------------------------------------------------------ */

/*
 * Connection buffers hold plaintext HTTP and WebSocket bytes: bearer
 * tokens, room tokens and TURN credentials in requests and answers. They
 * are wiped before they are freed, grown or reused, so no heap block
 * handed back to malloc still carries one.
 */
static void
buf_free(struct net_buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
buf_append(struct net_buf *b, const void *p, size_t len, size_t max)
{
	if (b->len + len > max)
		return -ENOBUFS;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		uint8_t *q;

		while (cap < b->len + len)
			cap *= 2;
		/* not realloc: it would leave the old block unwiped */
		q = malloc(cap);
		if (q == NULL)
			return -ENOMEM;
		if (b->p != NULL) {
			memcpy(q, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

/*
 * Releases c: fd, TLS and buffers go now; the struct itself waits on the
 * reap list until the loop calls net_reap(), so a loop over connections
 * (net_tick) or a caller up the stack never follows a freed pointer.
 */
static void
conn_free(struct conn *c)
{
	struct net *n = c->net;

	if (c->released)
		return;
	c->released = true;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->fd >= 0)
		close(c->fd);
	if (c->counted)
		src_count_put(n->per_src, &c->pub.peer);
	SSL_free(c->ssl);
	buf_free(&c->rx);
	buf_free(&c->out);
	buf_free(&c->pend);
	n->st.closed++;
	n->st.current--;
	if (c->pub.unix_socket)
		n->st.current_unix--;
	c->pub.ops = NULL;
	c->next = n->reap;
	n->reap = c;
}

void
net_reap(struct net *n)
{
	while (n->reap != NULL) {
		struct conn *c = n->reap;

		n->reap = c->next;
		free(c);
	}
}

/* Frees c once no operation of the ring refers to it any more. */
static void
conn_maybe_free(struct conn *c)
{
	if (c->closing && !c->flush_close && !c->draining && !c->recv_armed &&
	    !c->send_armed && !c->in_cb)
		conn_free(c);
}

static void
conn_shut(struct conn *c)
{
	if (!c->fd_shut) {
		/* ends the multishot recv and any send in flight */
		shutdown(c->fd, SHUT_RDWR);
		c->fd_shut = true;
	}
	c->flush_close = false;
	c->draining = false;
	conn_maybe_free(c);
}

static void
conn_kill(struct conn *c)
{
	if (!c->closing) {
		c->closing = true;
		if (c->pub.ops != NULL && c->pub.ops->closed != NULL)
			c->pub.ops->closed(&c->pub);
	}
	conn_shut(c);
}

static void conn_kill(struct conn *c);

static void
arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(c->net);

	if (sqe == NULL) {
		conn_kill(c);
		return;
	}
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = NET_BGID;
	io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_RECV);
	c->recv_armed = true;
}

static void
arm_send(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(c->net);

	if (sqe == NULL) {
		conn_kill(c);
		return;
	}
	io_uring_prep_send(sqe, c->fd, c->out.p + c->out.off,
			   c->out.len - c->out.off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_SEND);
	c->send_armed = true;
}

static void start_drain(struct conn *c);

static void
kick_send(struct conn *c)
{
	if (c->send_armed || c->fd_shut)
		return;
	if (c->out.off == c->out.len && c->pend.len > 0) {
		struct net_buf t = c->out;

		c->out = c->pend;
		c->pend = t;
		c->pend.len = c->pend.off = 0;
		c->out.off = 0;
	}
	if (c->out.off < c->out.len)
		arm_send(c);
	else if (c->flush_close)
		start_drain(c);
}

static int
queue_raw(struct conn *c, const void *p, size_t len)
{
	int ret;

	if (len == 0)
		return 0;
	/* the control socket's answers (a long allocation list) may be
	 * big; it is 0600, so its reader is the operator */
	size_t max = c->pub.unix_socket ? NET_TX_MAX_UNIX : NET_TX_MAX;

	ret = buf_append(&c->pend, p, len, max - (c->out.len - c->out.off));
	if (ret < 0) {
		c->net->st.overflows++;
		conn_kill(c);
		return -ENOBUFS;
	}
	kick_send(c);
	return 0;
}

/* Moves whatever TLS wrote into the write BIO onto the wire. */
static int
flush_tls(struct conn *c)
{
	char *p;
	long len = BIO_get_mem_data(c->wbio, &p);
	int ret;

	if (len <= 0)
		return 0;
	ret = queue_raw(c, p, (size_t)len);
	(void)BIO_reset(c->wbio);
	return ret;
}

static void
start_drain(struct conn *c)
{
	/* our FIN goes out; read (and drop) until theirs, so the kernel
	 * does not answer late input with a reset that could destroy the
	 * response still in flight */
	c->flush_close = false;
	c->draining = true;
	c->drain_since = 0;
	shutdown(c->fd, SHUT_WR);
	if (!c->recv_armed)
		conn_shut(c);
}

int
net_send(struct net_conn *pc, const void *p, size_t len)
{
	struct conn *c = (struct conn *)pc;

	if (c->closing && !c->flush_close)
		return -EPIPE;
	if (c->ssl != NULL) {
		while (len > 0) {
			int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
			int w = SSL_write(c->ssl, p, chunk);

			if (w <= 0) {
				c->net->st.tls_failures++;
				ERR_clear_error();
				conn_kill(c);
				return -EIO;
			}
			p = (const uint8_t *)p + w;
			len -= (size_t)w;
		}
		return flush_tls(c);
	}
	return queue_raw(c, p, len);
}

void
net_close(struct net_conn *pc, bool flush)
{
	struct conn *c = (struct conn *)pc;

	if (c->closing)
		return;
	c->closing = true;
	if (c->pub.ops != NULL && c->pub.ops->closed != NULL)
		c->pub.ops->closed(&c->pub);
	c->pub.ops = NULL;
	if (!flush || c->fd_shut) {
		conn_shut(c);
		return;
	}
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
		SSL_shutdown(c->ssl); /* queues close_notify */
		ERR_clear_error();
		flush_tls(c);
	}
	c->flush_close = true;
	kick_send(c);
}

/* Hands plaintext to the protocol; keeps what it did not consume. */
static void
deliver(struct conn *c, const uint8_t *p, size_t len)
{
	const uint8_t *q;
	size_t qlen;

	if (c->rx.len > 0) {
		if (buf_append(&c->rx, p, len, NET_RX_MAX) < 0) {
			conn_kill(c);
			return;
		}
		q = c->rx.p;
		qlen = c->rx.len;
	} else {
		q = p;
		qlen = len;
	}
	while (qlen > 0 && !c->closing) {
		ssize_t used = c->pub.ops->data(&c->pub, q, qlen);

		if (c->closing)
			return; /* the protocol closed it; its state is gone */
		if (used < 0) {
			net_close(&c->pub, true);
			return;
		}
		if (used == 0)
			break;
		q += used;
		qlen -= (size_t)used;
	}
	if (c->rx.len > 0) {
		size_t old = c->rx.len;

		memmove(c->rx.p, q, qlen);
		c->rx.len = qlen;
		explicit_bzero(c->rx.p + qlen, old - qlen);
	} else if (qlen > 0 && buf_append(&c->rx, q, qlen, NET_RX_MAX) < 0) {
		conn_kill(c);
	}
}

static void
on_bytes(struct conn *c, const uint8_t *p, size_t len)
{
	c->net->st.rx_bytes += len;
	if (c->closing)
		return; /* draining or shut: input is dropped */
	if (c->ssl == NULL) {
		deliver(c, p, len);
		return;
	}
	if (BIO_write(c->rbio, p, (int)len) != (int)len) {
		conn_kill(c);
		return;
	}
	for (;;) {
		int r = SSL_read(c->ssl, c->net->scratch,
				 sizeof(c->net->scratch));

		if (r > 0) {
			deliver(c, c->net->scratch, (size_t)r);
			explicit_bzero(c->net->scratch, (size_t)r);
			if (c->closing)
				return;
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			flush_tls(c);
			return;
		case SSL_ERROR_ZERO_RETURN: /* close_notify */
			flush_tls(c);
			net_close(&c->pub, true);
			return;
		default:
			c->net->st.tls_failures++;
			ERR_clear_error();
			flush_tls(c); /* a fatal alert, if any, goes out */
			net_close(&c->pub, true);
			return;
		}
	}
}

/*
 * Per-source limits (net_limits) on a connection just accepted: the cap on
 * open connections first, so a source refused for it spends no handshake
 * budget. false: refused and counted; the caller closes.
 */
static bool
admit(struct net *n, const struct listener *l, const struct sotto_addr *peer)
{
	if (n->per_src != NULL &&
	    !src_count_take(n->per_src, peer, n->lim.conns_per_ip)) {
		n->st.refused++;
		n->st.refused_per_ip++;
		return false;
	}
	if (l->tls != NULL && n->tls_rl != NULL &&
	    !rate_limit_allow(n->tls_rl, peer, clock_mono_ms())) {
		if (n->per_src != NULL)
			src_count_put(n->per_src, peer);
		n->st.refused++;
		n->st.refused_tls_rate++;
		return false;
	}
	return true;
}

static void
on_accept(struct net *n, struct listener *l, const struct io_uring_cqe *cqe)
{
	union sotto_sockaddr sa;
	socklen_t salen = sizeof(sa);
	struct sotto_addr peer = { 0 };
	struct conn *c;
	int one = 1, ret;

	if (cqe->res == -EMFILE || cqe->res == -ENFILE) {
		/* re-arming now would fail again at once, forever: wait for
		 * the next tick (a connection may have closed by then) */
		n->st.refused++;
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			l->armed = false;
		} else if (!l->paused) {
			/* a multishot accept would keep failing: stop it */
			struct io_uring_sqe *sqe = get_sqe(n);

			if (sqe != NULL) {
				io_uring_prep_cancel64(sqe, (uintptr_t)l | OP_ACCEPT, 0);
				io_uring_sqe_set_data64(sqe, 0);
			}
		}
		if (!l->paused)
			log_warn("net", "out of file descriptors: not accepting for a second");
		l->paused = true;
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		l->armed = false;
		if (l->accept != NULL && l->fd >= 0 && !l->paused)
			arm_accept(l);
	}
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED && cqe->res != -EINVAL)
			log_warn("net", "accept: %s", strerror(-cqe->res));
		return;
	}
	/* the control socket has its own room: HTTP clients filling
	 * max_connections must not lock the operator out */
	if ((!l->unix_socket &&
	     n->st.current - n->st.current_unix >= n->max_conns) ||
	    (l->unix_socket && n->st.current_unix >= 16) || l->accept == NULL) {
		n->st.refused++;
		close(cqe->res);
		return;
	}
	if (!l->unix_socket &&
	    (getpeername(cqe->res, &sa.sa, &salen) != 0 ||
	     sotto_addr_from_sockaddr(&peer, &sa.sa) != 0)) {
		/* gone already, or no address to limit it by */
		n->st.refused++;
		close(cqe->res);
		return;
	}
	if (!l->unix_socket && !admit(n, l, &peer)) {
		close(cqe->res);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (!l->unix_socket && n->per_src != NULL)
			src_count_put(n->per_src, &peer);
		n->st.refused++;
		close(cqe->res);
		return;
	}
	c->net = n;
	c->fd = cqe->res;
	c->pub.unix_socket = l->unix_socket;
	c->pub.listener_arg = l->arg;
	if (!l->unix_socket) {
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->pub.peer = peer;
		c->counted = n->per_src != NULL;
	}
	c->next = n->conns;
	if (n->conns != NULL)
		n->conns->prev = c;
	n->conns = c;
	n->st.accepted++;
	n->st.current++;
	if (c->pub.unix_socket)
		n->st.current_unix++;
	if (l->tls != NULL) {
		c->ssl = SSL_new(l->tls);
		c->rbio = BIO_new(BIO_s_mem());
		c->wbio = BIO_new(BIO_s_mem());
		if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
			BIO_free(c->rbio);
			BIO_free(c->wbio);
			c->closing = true;
			n->st.refused++;
			conn_shut(c);
			return;
		}
		BIO_set_mem_eof_return(c->rbio, -1);
		SSL_set_bio(c->ssl, c->rbio, c->wbio);
		SSL_set_accept_state(c->ssl);
		c->pub.tls = true;
	}
	c->in_cb++;
	ret = l->accept(&c->pub, l->arg);
	c->in_cb--;
	if (ret < 0 || c->pub.ops == NULL) {
		c->closing = true;
		n->st.refused++;
		conn_shut(c);
		return;
	}
	arm_recv(c);
}

static void
on_recv(struct net *n, struct conn *c, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		c->recv_armed = false;
	if (cqe->res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p = n->bufs + (size_t)bid * NET_BUF_SIZE;

		if (!c->fd_shut && !c->draining)
			on_bytes(c, p, (size_t)cqe->res);
		explicit_bzero(p, (size_t)cqe->res);
		io_uring_buf_ring_add(n->br, p, NET_BUF_SIZE,
				      (unsigned short)bid,
				      io_uring_buf_ring_mask(NET_NBUFS), 0);
		io_uring_buf_ring_advance(n->br, 1);
		if (!more && !c->fd_shut)
			arm_recv(c);
	} else if (cqe->res == -ENOBUFS && !c->fd_shut) {
		/* every buffer is in use by CQEs not handled yet; they are
		 * returned as this batch is processed */
		n->st.nobufs++;
		if (!more)
			arm_recv(c);
	} else if (!more) {
		/* EOF or error: a peer that half-closes after its request
		 * still gets the answer already queued */
		if (c->draining || cqe->res < 0)
			conn_shut(c);
		else if (!c->closing)
			net_close(&c->pub, true);
		else if (!c->flush_close)
			conn_shut(c);
	}
	conn_maybe_free(c);
}

static void
on_send(struct net *n, struct conn *c, const struct io_uring_cqe *cqe)
{
	c->send_armed = false;
	if (cqe->res < 0) {
		conn_kill(c);
		return;
	}
	n->st.tx_bytes += (uint64_t)cqe->res;
	c->out.off += (size_t)cqe->res;
	if (c->out.off == c->out.len) {
		explicit_bzero(c->out.p, c->out.len);
		c->out.len = c->out.off = 0;
	}
	if (c->fd_shut) {
		conn_maybe_free(c);
		return;
	}
	kick_send(c);
}

void
net_complete(struct net *n, const struct io_uring_cqe *cqe)
{
	uintptr_t ud = (uintptr_t)cqe->user_data;
	void *obj = (void *)(ud & ~(uintptr_t)OP_MASK);

	switch (ud & OP_MASK) {
	case OP_ACCEPT:
		on_accept(n, obj, cqe);
		break;
	case OP_RECV:
	case OP_SEND: {
		struct conn *c = obj;

		/* whatever the handlers do, c stays allocated until here */
		c->in_cb++;
		if ((ud & OP_MASK) == OP_RECV)
			on_recv(n, c, cqe);
		else
			on_send(n, c, cqe);
		c->in_cb--;
		conn_maybe_free(c);
		break;
	}
	}
}

void
net_tick(struct net *n, uint64_t now_ms)
{
	struct conn *c = n->conns;

	for (struct listener *l = n->listeners; l != NULL; l = l->next)
		if (l->paused && l->fd >= 0 && l->accept != NULL) {
			l->paused = false;
			if (!l->armed)
				arm_accept(l);
		}

	while (c != NULL) {
		struct conn *next = c->next;

		if (c->released) {
			/* released by an earlier tick in this pass: its
			 * next pointer is the reap list's; stop here, the
			 * rest get their tick next second */
			break;
		}
		if (c->draining || c->flush_close) {
			/* bounded: a peer that never reads or never closes
			 * does not keep the connection */
			if (c->drain_since == 0)
				c->drain_since = now_ms;
			else if (now_ms > c->drain_since &&
				 now_ms - c->drain_since >= NET_DRAIN_MS)
				conn_shut(c);
		} else if (!c->closing && c->pub.ops->tick != NULL) {
			c->pub.ops->tick(&c->pub, now_ms);
		}
		c = next;
	}
}

void
net_get_stats(const struct net *n, struct net_stats *st)
{
	*st = n->st;
}
