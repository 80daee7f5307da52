/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sotto-sig-bench: signaling load through sottod's HTTP API and WebSocket
 * rooms (docs/signaling.md), many connections from one process.
 *
 * The unit of work is a pair, what two browsers do to set up a call:
 *
 *   POST /v1/rooms                  -> room id, creator token
 *   POST /v1/rooms/{id}/invites     -> member token (Bearer creator token)
 *   creator: GET /v1/ws (upgrade), {"type":"join"} -> "joined"
 *   member:  GET /v1/ws (upgrade), {"type":"join"} -> "joined" with the
 *            creator in "peers"; with offers on, the member then sends
 *            {"type":"offer","to":creator,"sdp":...} and the pair is done
 *            when the creator receives the (rewritten) offer, otherwise
 *            when the member has "joined" and the creator "peer-joined".
 *
 * Three phases, each optional, run in this order on one server:
 *
 *   hold     -n N: N/2 pairs join and stay, answering the server's pings,
 *            for -d seconds; the server's VmRSS before and after gives
 *            memory per connection.
 *   latency  -r R -t T: R new pairs per second for T seconds, with offers,
 *            on top of the held connections; join -> offer latency is the
 *            time from the member sending its join to the creator
 *            receiving the offer (both ends are this process, so one
 *            CLOCK_MONOTONIC serves both).
 *   joins    -j J: J joins (J/2 pairs) as fast as the server takes them,
 *            -W pairs in flight at once.
 *
 * Pairs of the latency and joins phases leave ({"type":"leave"}) once done,
 * so the server closes first and the TIME_WAIT state stays on its side.
 *
 * HTTP requests go over a small pool of keep-alive connections (-H). The
 * WebSocket client is written by hand (RFC 6455 §5: masked client frames,
 * unmasked server frames, pings answered with pongs, fragments
 * reassembled); JSON is parsed with jansson. One thread, non-blocking
 * sockets, edge-triggered epoll. Traffic goes only to the address given
 * with -s (loopback by default).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define SB_RX_CHUNK (256u << 10)
#define SB_MAX_IN (1u << 20)          /* unparsed input per connection */
#define SB_MAX_HTTP 256
#define SB_PAIR_TIMEOUT_NS (30 * NS_PER_S)
#define SB_DRAIN_NS (15 * NS_PER_S)   /* latency phase: wait for stragglers */
#define SB_MAX_ERRORS 24
#define SB_HTTP_RETRY_NS (50 * 1000000ull)
#define SB_EVENTS 512

#define NS_PER_S 1000000000ull

enum sb_kind { K_HTTP, K_WS };

enum sb_state {
	S_CONNECTING,
	S_UPGRADING,  /* WS: upgrade request sent, waiting for 101 */
	S_OPEN,
	S_LEAVING,    /* WS: leave sent, waiting for the server to close */
	S_CLOSED,
};

enum sb_role { R_CREATOR, R_MEMBER };

enum sb_step { P_IDLE, P_ROOM, P_INVITE, P_CREATOR, P_MEMBER, P_DONE, P_FAILED };

enum sb_phase_id { PH_HOLD, PH_LATENCY, PH_JOINS, PH_COUNT };

struct sb_buf {
	uint8_t *p;
	size_t len, cap;
};

struct sb_pair;

struct sb_conn {
	int fd;
	uint8_t kind;           /* enum sb_kind */
	uint8_t state;          /* enum sb_state */
	uint8_t role;           /* enum sb_role (WS) */
	uint8_t msg_op;         /* opcode of the fragmented message, 0: none */
	bool close_after;       /* HTTP: the server said Connection: close */
	bool close_sent;        /* WS: our close frame is out */
	struct sb_pair *pair;   /* WS: its pair; HTTP: the pair being served */
	uint8_t http_req;       /* HTTP: P_ROOM or P_INVITE being served */
	uint16_t http_slot;
	struct sb_buf in;       /* unparsed input, kept only across reads */
	struct sb_buf out;      /* unsent output */
	struct sb_buf msg;      /* fragments of one message */
	struct sb_conn *next_free;
};

struct sb_pair {
	uint8_t phase;          /* enum sb_phase_id */
	uint8_t step;           /* enum sb_step */
	bool c_joined, c_saw_peer, m_joined, got_offer;
	char room[40];
	char *ctok, *mtok;
	struct sb_conn *c, *m;
	struct sb_pair *qnext;  /* HTTP request queue */
	uint64_t t_start, t_join, t_ack, t_offer;
};

struct sb_phase {
	const char *name;
	struct sb_pair *pairs;
	unsigned n;
	unsigned started, done, failed, inflight;
	bool offer, stay;
	uint32_t *lat_us;       /* member join sent -> creator has the offer */
	uint32_t *ack_us;       /* member join sent -> member has "joined" */
	unsigned n_lat;
	uint64_t t_first, t_last;
};

struct sb_error {
	char code[48];
	unsigned count;
};

struct sb {
	int ep;
	struct sockaddr_in ws_addr, api_addr;
	char host[64];          /* Host header */
	char origin[128];       /* Origin header, "" for none */
	int server_pid;
	bool quiet;
	unsigned n_http;
	uint64_t rng;

	char *sdp_json;         /* the offer SDP as a JSON string literal */
	size_t sdp_json_len;

	struct sb_conn *http[SB_MAX_HTTP];
	uint64_t http_retry_ns;  /* no new pool connection before this */
	struct sb_pair *q_head, *q_tail;
	struct sb_conn *to_free;

	struct sb_phase ph[PH_COUNT];
	struct sb_error errors[SB_MAX_ERRORS];

	unsigned ws_open;       /* WebSocket connections past their 101 */
	unsigned leaving;       /* leave sent, the server has not closed yet */
	unsigned conns;         /* sockets open */
	uint64_t pings, connect_errors, held_lost;
	uint8_t *rx;
};

static volatile sig_atomic_t sb_stop;

static void
on_signal(int sig)
{
	(void)sig;
	sb_stop = 1;
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * NS_PER_S + (uint64_t)t.tv_nsec;
}

/* xorshift64*: masking keys and Sec-WebSocket-Key nonces. RFC 6455 §5.3
 * wants unpredictable masks to protect proxies from a hostile page; a
 * load generator talking to its own server needs only distinct ones. */
static uint64_t
rng_next(struct sb *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545F4914F6CDD1Dull;
}

/* ---- /proc readers ---- */

static int
proc_cpu_ticks(int pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -EIO;
	buf[r] = '\0';
	/* comm may hold spaces and parens: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -EIO;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -EIO;
	*ticks = (uint64_t)ut + st;
	return 0;
}

/* Server CPU seconds (utime + stime, all threads) since boot of the
 * process, or -1. */
static double
server_cpu_s(const struct sb *g)
{
	uint64_t t;

	if (g->server_pid <= 0 || proc_cpu_ticks(g->server_pid, &t) < 0)
		return -1;
	return (double)t / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_rss_kb(const char *pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long
server_rss_kb(const struct sb *g)
{
	char pid[16];

	if (g->server_pid <= 0)
		return -1;
	snprintf(pid, sizeof(pid), "%d", g->server_pid);
	return proc_rss_kb(pid);
}

/*
 * Seconds the threads of process pid ("self" for us) spent runnable but
 * waiting for a CPU (the second field of /proc/PID/task/TID/schedstat),
 * or -1: on a shared machine, time taken by other processes shows here
 * and not as CPU time.
 */
static double
proc_runq_wait_s(const char *pid)
{
	char path[320], line[128];
	unsigned long long run, wait, sum = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	dir = opendir(path);
	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat", pid,
			 d->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%llu %llu", &run, &wait) == 2)
			sum += wait;
		fclose(f);
	}
	closedir(dir);
	return (double)sum / 1e9;
}

static double
server_runq_wait_s(const struct sb *g)
{
	char pid[16];

	if (g->server_pid <= 0)
		return -1;
	snprintf(pid, sizeof(pid), "%d", g->server_pid);
	return proc_runq_wait_s(pid);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* ---- buffers ---- */

static int
buf_append(struct sb_buf *b, const void *p, size_t len)
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

/* Drops the first n bytes; an emptied buffer gives its memory back, so an
 * idle connection costs only its struct. */
static void
buf_consume(struct sb_buf *b, size_t n)
{
	if (n >= b->len) {
		free(b->p);
		b->p = NULL;
		b->len = b->cap = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static void
buf_free(struct sb_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- errors seen, by code ---- */

static void
note_error(struct sb *g, const char *code)
{
	for (unsigned i = 0; i < SB_MAX_ERRORS; i++) {
		if (g->errors[i].count == 0) {
			snprintf(g->errors[i].code, sizeof(g->errors[i].code),
				 "%s", code);
			g->errors[i].count = 1;
			return;
		}
		if (strcmp(g->errors[i].code, code) == 0) {
			g->errors[i].count++;
			return;
		}
	}
}

/* ---- connections ---- */

static void pair_fail(struct sb *g, struct sb_pair *p, const char *why);
static void http_pump(struct sb *g);

static void
conn_flush(struct sb *g, struct sb_conn *c)
{
	size_t off = 0;

	(void)g;
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
	buf_consume(&c->out, off);
}

static int
conn_send(struct sb *g, struct sb_conn *c, const void *p, size_t len)
{
	if (buf_append(&c->out, p, len) < 0)
		return -ENOMEM;
	if (c->state != S_CONNECTING)
		conn_flush(g, c);
	return 0;
}

/* Closes the socket at once; the struct is freed after the current batch
 * of events, which may still name it. */
static void
conn_close(struct sb *g, struct sb_conn *c)
{
	if (c->state == S_CLOSED)
		return;
	if (c->kind == K_WS && c->state >= S_OPEN)
		g->ws_open--;
	if (c->state == S_LEAVING)
		g->leaving--;
	c->state = S_CLOSED;
	close(c->fd);
	c->fd = -1;
	g->conns--;
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->msg);
	c->next_free = g->to_free;
	g->to_free = c;
}

static struct sb_conn *
conn_open(struct sb *g, enum sb_kind kind, const struct sockaddr_in *to)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					    EPOLLET };
	struct sb_conn *c = calloc(1, sizeof(*c));
	int one = 1, fd;

	if (c == NULL)
		return NULL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g->connect_errors++;
		note_error(g, errno == EMFILE ? "client_emfile" : "client_socket");
		free(c);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
	    errno != EINPROGRESS) {
		g->connect_errors++;
		note_error(g, errno == EADDRNOTAVAIL ? "client_no_ports" :
						       "client_connect");
		close(fd);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->kind = (uint8_t)kind;
	c->state = S_CONNECTING;
	ev.data.ptr = c;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	g->conns++;
	return c;
}

/* ---- WebSocket frames (RFC 6455 §5.2) ---- */

static int
ws_send_frame(struct sb *g, struct sb_conn *c, uint8_t op, const void *data,
	      size_t len)
{
	uint8_t hdr[14], mask[4];
	size_t h = 0, at;
	uint64_t r = rng_next(g);

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
	if (buf_append(&c->out, hdr, h) < 0 ||
	    buf_append(&c->out, data, len) < 0)
		return -ENOMEM;
	at = c->out.len - len;
	for (size_t i = 0; i < len; i++)
		c->out.p[at + i] ^= mask[i & 3];
	if (c->state != S_CONNECTING)
		conn_flush(g, c);
	return 0;
}

static int
ws_send_text(struct sb *g, struct sb_conn *c, const char *s, size_t len)
{
	return ws_send_frame(g, c, 0x1, s, len);
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 16 random bytes, base64: a Sec-WebSocket-Key (RFC 6455 §4.1). */
static void
ws_key(struct sb *g, char out[25])
{
	uint8_t k[18] = { 0 };
	uint64_t a = rng_next(g), b = rng_next(g);
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

/* ---- pairs ---- */

static void
phase_pair_ended(struct sb *g, struct sb_pair *p)
{
	struct sb_phase *ph = &g->ph[p->phase];
	uint64_t t = now_ns();

	ph->inflight--;
	if (t > ph->t_last)
		ph->t_last = t;
}

static void
free_tokens(struct sb_pair *p)
{
	if (p->ctok != NULL)
		explicit_bzero(p->ctok, strlen(p->ctok));
	if (p->mtok != NULL)
		explicit_bzero(p->mtok, strlen(p->mtok));
	free(p->ctok);
	free(p->mtok);
	p->ctok = p->mtok = NULL;
}

static void
pair_fail(struct sb *g, struct sb_pair *p, const char *why)
{
	if (p->step == P_FAILED)
		return;
	if (p->step == P_DONE) {
		/* a held pair that lost a connection */
		g->held_lost++;
	} else {
		g->ph[p->phase].failed++;
		phase_pair_ended(g, p);
	}
	note_error(g, why);
	p->step = P_FAILED;
	free_tokens(p);
	if (p->c != NULL) {
		p->c->pair = NULL;
		conn_close(g, p->c);
		p->c = NULL;
	}
	if (p->m != NULL) {
		p->m->pair = NULL;
		conn_close(g, p->m);
		p->m = NULL;
	}
}

static void
ws_leave(struct sb *g, struct sb_conn *c)
{
	static const char leave[] = "{\"type\":\"leave\"}";

	if (c == NULL || c->state != S_OPEN)
		return;
	c->pair = NULL;
	c->state = S_LEAVING;
	g->leaving++;
	ws_send_text(g, c, leave, sizeof(leave) - 1);
}

static void
pair_check_done(struct sb *g, struct sb_pair *p)
{
	struct sb_phase *ph = &g->ph[p->phase];
	bool done = ph->offer ? p->got_offer : (p->m_joined && p->c_saw_peer);

	if (!done || p->step != P_MEMBER)
		return;
	p->step = P_DONE;
	ph->done++;
	phase_pair_ended(g, p);
	if (ph->offer && p->t_offer >= p->t_join)
		ph->lat_us[ph->n_lat] = (uint32_t)((p->t_offer - p->t_join) / 1000);
	if (p->t_ack >= p->t_join)
		ph->ack_us[ph->n_lat] = (uint32_t)((p->t_ack - p->t_join) / 1000);
	ph->n_lat++;
	free_tokens(p);
	if (!ph->stay) {
		ws_leave(g, p->c);
		ws_leave(g, p->m);
		p->c = p->m = NULL;
	}
}

static void
ws_connect(struct sb *g, struct sb_pair *p, enum sb_role role)
{
	struct sb_conn *c = conn_open(g, K_WS, &g->ws_addr);

	if (c == NULL) {
		pair_fail(g, p, "ws_connect");
		return;
	}
	c->role = (uint8_t)role;
	c->pair = p;
	if (role == R_CREATOR)
		p->c = c;
	else
		p->m = c;
}

static void
ws_upgrade_request(struct sb *g, struct sb_conn *c)
{
	char req[512], key[25];
	int n;

	ws_key(g, key);
	n = snprintf(req, sizeof(req),
		     "GET /v1/ws HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "%s%s%s"
		     "\r\n",
		     g->host, key, g->origin[0] ? "Origin: " : "", g->origin,
		     g->origin[0] ? "\r\n" : "");
	c->state = S_UPGRADING;
	conn_send(g, c, req, (size_t)n);
}

static void
ws_send_join(struct sb *g, struct sb_conn *c, const char *tok)
{
	json_t *j = json_pack("{s:s, s:s}", "type", "join", "token", tok);
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (txt == NULL) {
		pair_fail(g, c->pair, "client_oom");
		return;
	}
	ws_send_text(g, c, txt, strlen(txt));
	explicit_bzero(txt, strlen(txt));
	free(txt);
}

static void
ws_send_offer(struct sb *g, struct sb_conn *c, const char *to)
{
	static const char a[] = "{\"type\":\"offer\",\"to\":\"",
			  b[] = "\",\"sdp\":", z[] = "}";
	size_t tl = strlen(to);
	size_t len = sizeof(a) - 1 + tl + sizeof(b) - 1 + g->sdp_json_len + 1;
	char *m = malloc(len);

	if (m == NULL) {
		pair_fail(g, c->pair, "client_oom");
		return;
	}
	memcpy(m, a, sizeof(a) - 1);
	memcpy(m + sizeof(a) - 1, to, tl);
	memcpy(m + sizeof(a) - 1 + tl, b, sizeof(b) - 1);
	memcpy(m + sizeof(a) - 1 + tl + sizeof(b) - 1, g->sdp_json,
	       g->sdp_json_len);
	memcpy(m + len - 1, z, 1);
	ws_send_text(g, c, m, len);
	free(m);
}

/* A text message from the server, on a connection of pair p. */
static void
ws_on_text(struct sb *g, struct sb_conn *c, const uint8_t *data, size_t len)
{
	struct sb_pair *p = c->pair;
	json_error_t err;
	json_t *j;
	const char *type;

	if (p == NULL)
		return; /* leaving, or a held pair's chatter */
	j = json_loadb((const char *)data, len, 0, &err);
	type = json_string_value(json_object_get(j, "type"));
	if (type == NULL) {
		json_decref(j);
		pair_fail(g, p, "client_bad_json");
		return;
	}
	if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(j, "error"));
		char why[64];

		snprintf(why, sizeof(why), "ws_%s", code ? code : "?");
		json_decref(j);
		pair_fail(g, p, why);
		return;
	}
	if (strcmp(type, "joined") == 0) {
		if (c->role == R_CREATOR && !p->c_joined) {
			p->c_joined = true;
			p->step = P_MEMBER;
			ws_connect(g, p, R_MEMBER);
		} else if (c->role == R_MEMBER && !p->m_joined) {
			const char *to = json_string_value(
				json_array_get(json_object_get(j, "peers"), 0));

			p->m_joined = true;
			p->t_ack = now_ns();
			if (to == NULL) {
				json_decref(j);
				pair_fail(g, p, "joined_without_peer");
				return;
			}
			if (g->ph[p->phase].offer)
				ws_send_offer(g, c, to);
		}
	} else if (strcmp(type, "peer-joined") == 0) {
		if (c->role == R_CREATOR)
			p->c_saw_peer = true;
	} else if (strcmp(type, "offer") == 0) {
		if (c->role == R_CREATOR && !p->got_offer &&
		    json_is_string(json_object_get(j, "sdp"))) {
			p->got_offer = true;
			p->t_offer = now_ns();
		}
	}
	json_decref(j);
	if (c->pair != NULL)
		pair_check_done(g, p);
}

/*
 * Parses frames in [p, p+len); returns the bytes consumed, or -1 after
 * closing c. Frames from the server are unmasked; a masked one is
 * unmasked anyway.
 */
static ssize_t
ws_parse(struct sb *g, struct sb_conn *c, uint8_t *p, size_t len)
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
		if (plen > SB_MAX_IN) {
			if (c->pair != NULL)
				pair_fail(g, c->pair, "ws_frame_too_large");
			else
				conn_close(g, c);
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
			    buf_append(&c->msg, data, (size_t)plen) < 0)
				goto protocol_error;
			if (fin) {
				if (c->msg_op == 0x1)
					ws_on_text(g, c, c->msg.p, c->msg.len);
				buf_free(&c->msg);
				c->msg_op = 0;
			}
			break;
		case 0x1: /* text */
		case 0x2: /* binary: not in this protocol, ignored */
			if (!fin) {
				c->msg_op = op;
				if (buf_append(&c->msg, data, (size_t)plen) < 0)
					goto protocol_error;
			} else if (op == 0x1) {
				ws_on_text(g, c, data, (size_t)plen);
			}
			break;
		case 0x8: /* close: answer it (RFC 6455 §5.5.1), the server
			   * closes the TCP connection */
			if (!c->close_sent) {
				c->close_sent = true;
				ws_send_frame(g, c, 0x8, data,
					      plen >= 2 ? 2 : 0);
			}
			if (c->pair != NULL) {
				char why[64];
				unsigned code = plen >= 2 ?
					(unsigned)data[0] << 8 | data[1] : 0;

				snprintf(why, sizeof(why), "ws_close_%u", code);
				pair_fail(g, c->pair, why);
				return -1;
			}
			break;
		case 0x9: /* ping */
			g->pings++;
			ws_send_frame(g, c, 0xA, data, (size_t)plen);
			break;
		case 0xA: /* pong */
			break;
		default:
			goto protocol_error;
		}
		if (c->state == S_CLOSED)
			return -1;
	}
	return (ssize_t)off;

protocol_error:
	if (c->pair != NULL)
		pair_fail(g, c->pair, "ws_protocol_error");
	else
		conn_close(g, c);
	return -1;
}

/* The 101 answer to the upgrade; returns the header bytes consumed, 0 if
 * incomplete, -1 after failing the pair. */
static ssize_t
ws_parse_upgrade(struct sb *g, struct sb_conn *c, const uint8_t *p, size_t len)
{
	const uint8_t *end = memmem(p, len, "\r\n\r\n", 4);
	struct sb_pair *pair = c->pair;
	int status = 0;

	if (end == NULL)
		return len > 16384 ? (pair_fail(g, pair, "ws_bad_upgrade"), -1)
				   : 0;
	if (sscanf((const char *)p, "HTTP/1.%*d %d", &status) != 1 ||
	    status != 101) {
		char why[48];

		snprintf(why, sizeof(why), "ws_upgrade_%d", status);
		pair_fail(g, pair, why);
		return -1;
	}
	c->state = S_OPEN;
	g->ws_open++;
	if (c->role == R_CREATOR) {
		ws_send_join(g, c, pair->ctok);
	} else {
		pair->t_join = now_ns();
		ws_send_join(g, c, pair->mtok);
	}
	return end + 4 - p;
}

/* ---- HTTP API over the keep-alive pool ---- */

static void
http_enqueue(struct sb *g, struct sb_pair *p)
{
	p->qnext = NULL;
	if (g->q_tail != NULL)
		g->q_tail->qnext = p;
	else
		g->q_head = p;
	g->q_tail = p;
}

static void
http_send_request(struct sb *g, struct sb_conn *c, struct sb_pair *p)
{
	char req[1024];
	int n;

	c->pair = p;
	c->http_req = p->step;
	if (p->step == P_ROOM)
		n = snprintf(req, sizeof(req),
			     "POST /v1/rooms HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "Content-Length: 0\r\n\r\n",
			     g->host);
	else
		n = snprintf(req, sizeof(req),
			     "POST /v1/rooms/%s/invites HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "Authorization: Bearer %s\r\n"
			     "Content-Length: 0\r\n\r\n",
			     p->room, g->host, p->ctok);
	if (n <= 0 || (size_t)n >= sizeof(req)) {
		c->pair = NULL;
		pair_fail(g, p, "client_request_too_long");
		return;
	}
	conn_send(g, c, req, (size_t)n);
}

/* Gives queued requests to idle pool connections, opening connections up
 * to the pool size as needed. */
static void
http_pump(struct sb *g)
{
	for (unsigned i = 0; i < g->n_http && g->q_head != NULL; i++) {
		struct sb_conn *c = g->http[i];
		struct sb_pair *p;

		if (c == NULL) {
			/* a refused connection is retried after a pause,
			 * not in a loop */
			if (g->http_retry_ns > now_ns())
				continue;
			c = conn_open(g, K_HTTP, &g->api_addr);
			if (c == NULL)
				continue;
			c->http_slot = (uint16_t)i;
			g->http[i] = c;
		}
		if (c->pair != NULL || c->state != S_OPEN)
			continue;
		/* skip pairs that failed while queued */
		while ((p = g->q_head) != NULL) {
			g->q_head = p->qnext;
			if (g->q_head == NULL)
				g->q_tail = NULL;
			if (p->step == P_ROOM || p->step == P_INVITE)
				break;
		}
		if (p != NULL)
			http_send_request(g, c, p);
	}
}

static void
http_conn_gone(struct sb *g, struct sb_conn *c)
{
	struct sb_pair *p = c->pair;

	g->http[c->http_slot] = NULL;
	c->pair = NULL;
	conn_close(g, c);
	if (p != NULL)
		pair_fail(g, p, "http_closed");
}

static void
http_on_response(struct sb *g, struct sb_pair *p, int req, int status,
		 const uint8_t *body, size_t blen)
{
	json_error_t err;
	json_t *j;
	const char *tok, *room;

	if (p == NULL || p->step != req)
		return;
	if (status != 201) {
		char why[48];

		snprintf(why, sizeof(why), "http_%s_%d",
			 req == P_ROOM ? "room" : "invite", status);
		pair_fail(g, p, why);
		return;
	}
	j = json_loadb((const char *)body, blen, 0, &err);
	tok = json_string_value(json_object_get(j, "token"));
	room = json_string_value(json_object_get(j, "room"));
	if (tok == NULL || (req == P_ROOM && (room == NULL ||
					      strlen(room) >= sizeof(p->room)))) {
		json_decref(j);
		pair_fail(g, p, "http_bad_body");
		return;
	}
	if (req == P_ROOM) {
		snprintf(p->room, sizeof(p->room), "%s", room);
		p->ctok = strdup(tok);
	} else {
		p->mtok = strdup(tok);
	}
	json_decref(j);
	if ((req == P_ROOM ? p->ctok : p->mtok) == NULL) {
		pair_fail(g, p, "client_oom");
	} else if (req == P_ROOM) {
		p->step = P_INVITE;
		http_enqueue(g, p);
	} else {
		p->step = P_CREATOR;
		ws_connect(g, p, R_CREATOR);
	}
}

/* Parses responses in [p, p+len); returns the bytes consumed or -1 after
 * closing c. */
static ssize_t
http_parse(struct sb *g, struct sb_conn *c, const uint8_t *p, size_t len)
{
	const uint8_t *end = memmem(p, len, "\r\n\r\n", 4);
	size_t hlen, clen = 0;
	int status = 0;
	const char *h;
	char head[4096];
	struct sb_pair *pair;

	if (end == NULL) {
		if (len > sizeof(head)) {
			http_conn_gone(g, c);
			return -1;
		}
		return 0;
	}
	hlen = (size_t)(end + 4 - p);
	if (hlen >= sizeof(head)) {
		http_conn_gone(g, c);
		return -1;
	}
	memcpy(head, p, hlen);
	head[hlen] = '\0';
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
		http_conn_gone(g, c);
		return -1;
	}
	for (h = strchr(head, '\n'); h != NULL; h = strchr(h + 1, '\n')) {
		const char *v = h + 1, *eol = strchr(v, '\r');
		const char *close_tok;

		if (strncasecmp(v, "Content-Length:", 15) == 0) {
			clen = strtoul(v + 15, NULL, 10);
		} else if (strncasecmp(v, "Connection:", 11) == 0) {
			close_tok = strcasestr(v + 11, "close");
			if (close_tok != NULL && eol != NULL && close_tok < eol)
				c->close_after = true;
		}
	}
	if (clen > SB_MAX_IN) {
		http_conn_gone(g, c);
		return -1;
	}
	if (len < hlen + clen)
		return 0;
	pair = c->pair;
	c->pair = NULL;
	http_on_response(g, pair, c->http_req, status, p + hlen, clen);
	if (c->close_after) {
		http_conn_gone(g, c);
		return -1;
	}
	return (ssize_t)(hlen + clen);
}

/* ---- events ---- */

/* Feeds input to the connection's parser; returns false once c closed. */
static bool
conn_input(struct sb *g, struct sb_conn *c, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len && c->state != S_CLOSED) {
		ssize_t n;

		if (c->kind == K_HTTP)
			n = http_parse(g, c, p + off, len - off);
		else if (c->state == S_UPGRADING)
			n = ws_parse_upgrade(g, c, p + off, len - off);
		else
			n = ws_parse(g, c, p + off, len - off);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (c->state == S_CLOSED)
		return false;
	if (off < len) {
		if (len - off > SB_MAX_IN) {
			if (c->pair != NULL && c->kind == K_WS)
				pair_fail(g, c->pair, "client_input_overflow");
			else if (c->kind == K_HTTP)
				http_conn_gone(g, c);
			else
				conn_close(g, c);
			return false;
		}
		if (p != c->in.p) {
			buf_consume(&c->in, c->in.len);
			buf_append(&c->in, p + off, len - off);
		} else {
			buf_consume(&c->in, off);
		}
	} else {
		buf_consume(&c->in, c->in.len);
	}
	return true;
}

static void
conn_readable(struct sb *g, struct sb_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, g->rx, SB_RX_CHUNK, 0);

		if (n > 0) {
			bool alive;

			if (c->in.len > 0) {
				/* the rest of a partial message */
				if (buf_append(&c->in, g->rx, (size_t)n) < 0) {
					conn_close(g, c);
					return;
				}
				alive = conn_input(g, c, c->in.p, c->in.len);
			} else {
				alive = conn_input(g, c, g->rx, (size_t)n);
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
		if (c->kind == K_HTTP) {
			http_conn_gone(g, c);
		} else if (c->pair != NULL) {
			pair_fail(g, c->pair, n == 0 ? "ws_eof" : "ws_reset");
		} else {
			conn_close(g, c);
		}
		return;
	}
}

static void
conn_event(struct sb *g, struct sb_conn *c, uint32_t ev)
{
	if (c->state == S_CLOSED)
		return;
	if (c->state == S_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
			g->connect_errors++;
			if (c->kind == K_HTTP) {
				note_error(g, "http_connect");
				g->http_retry_ns = now_ns() + SB_HTTP_RETRY_NS;
				http_conn_gone(g, c);
			} else if (c->pair != NULL) {
				pair_fail(g, c->pair, "ws_connect_refused");
			} else {
				conn_close(g, c);
			}
			return;
		}
		if (c->kind == K_HTTP) {
			c->state = S_OPEN;
			conn_flush(g, c);
			http_pump(g);
		} else {
			ws_upgrade_request(g, c);
		}
	} else if (ev & EPOLLOUT) {
		conn_flush(g, c);
	}
	if (c->state != S_CLOSED && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP |
					   EPOLLERR)))
		conn_readable(g, c);
}

static void
free_closed(struct sb *g)
{
	while (g->to_free != NULL) {
		struct sb_conn *c = g->to_free;

		g->to_free = c->next_free;
		free(c);
	}
}

/* One pass of the loop: events for at most timeout_ms. */
static void
poll_once(struct sb *g, int timeout_ms)
{
	struct epoll_event ev[SB_EVENTS];
	int n = epoll_wait(g->ep, ev, SB_EVENTS, timeout_ms);

	for (int i = 0; i < n; i++)
		conn_event(g, ev[i].data.ptr, ev[i].events);
	free_closed(g);
	if (g->q_head != NULL)
		http_pump(g);
}

static void
pair_start(struct sb *g, struct sb_pair *p, enum sb_phase_id ph)
{
	struct sb_phase *phase = &g->ph[ph];

	p->phase = (uint8_t)ph;
	p->step = P_ROOM;
	p->t_start = now_ns();
	if (phase->started == 0)
		phase->t_first = p->t_start;
	phase->started++;
	phase->inflight++;
	http_enqueue(g, p);
	http_pump(g);
}

/* Fails pairs of phase ph that have been at it for longer than the
 * timeout: a stuck connection shows up as a count, not as a hang. */
static void
expire_pairs(struct sb *g, enum sb_phase_id ph, uint64_t now)
{
	struct sb_phase *phase = &g->ph[ph];

	for (unsigned i = 0; i < phase->started; i++) {
		struct sb_pair *p = &phase->pairs[i];

		if (p->step != P_DONE && p->step != P_FAILED &&
		    now > p->t_start + SB_PAIR_TIMEOUT_NS) {
			static const char *names[] = {
				"timeout_idle", "timeout_room", "timeout_invite",
				"timeout_creator_join", "timeout_member_join",
			};

			pair_fail(g, p, names[p->step]);
		}
	}
}

/*
 * Runs phase ph: starts its pairs (all at once within the window when
 * rate is 0, else rate per second), until every pair is done or failed.
 */
static void
run_phase(struct sb *g, enum sb_phase_id ph, unsigned window, double rate)
{
	struct sb_phase *phase = &g->ph[ph];
	uint64_t t0 = now_ns(), next_expire = t0 + NS_PER_S;
	uint64_t interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
	uint64_t hard_end = UINT64_MAX;

	if (rate > 0)
		hard_end = t0 + (uint64_t)phase->n * interval + SB_DRAIN_NS +
			   SB_PAIR_TIMEOUT_NS;
	while (!sb_stop && (phase->started < phase->n || phase->inflight > 0)) {
		uint64_t now = now_ns();
		int timeout = 100;

		if (now > hard_end)
			break;
		if (rate > 0) {
			while (phase->started < phase->n &&
			       now >= t0 + phase->started * interval)
				pair_start(g, &phase->pairs[phase->started], ph);
			if (phase->started < phase->n) {
				uint64_t due = t0 + phase->started * interval;

				timeout = due > now ? (int)((due - now) / 1000000) : 0;
			}
		} else {
			while (phase->started < phase->n &&
			       phase->inflight < window)
				pair_start(g, &phase->pairs[phase->started], ph);
		}
		if (now >= next_expire) {
			expire_pairs(g, ph, now);
			next_expire = now + NS_PER_S;
		}
		poll_once(g, timeout);
	}
	/* whatever is still going when the phase ends counts as failed */
	for (unsigned i = 0; i < phase->started; i++) {
		struct sb_pair *p = &phase->pairs[i];

		if (p->step != P_DONE && p->step != P_FAILED)
			pair_fail(g, p, "phase_ended");
	}
	free_closed(g);
}

/* Lets the server close the connections of pairs that left (their close
 * handshake answered), for at most ns: a load generator that exits with
 * them open would count as clients vanishing. */
static void
drain_leaving(struct sb *g, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (!sb_stop && g->leaving > 0 && now_ns() < end)
		poll_once(g, 100);
}

/* Keeps every connection serviced (pings answered) for ns. */
static void
idle_for(struct sb *g, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (!sb_stop && now_ns() < end)
		poll_once(g, 100);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t
pct(const uint32_t *v, unsigned n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q / 100.0 * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* Held connections: both ends of a done pair of the hold phase, open. */
static unsigned
count_held(const struct sb *g)
{
	const struct sb_phase *ph = &g->ph[PH_HOLD];
	unsigned n = 0;

	for (unsigned i = 0; i < ph->n; i++) {
		const struct sb_pair *p = &ph->pairs[i];

		if (p->step != P_DONE)
			continue;
		n += p->c != NULL && p->c->state == S_OPEN;
		n += p->m != NULL && p->m->state == S_OPEN;
	}
	return n;
}

static void
print_errors(const struct sb *g)
{
	printf("ERRORS");
	if (g->errors[0].count == 0)
		printf(" none");
	for (unsigned i = 0; i < SB_MAX_ERRORS && g->errors[i].count; i++)
		printf(" %s=%u", g->errors[i].code, g->errors[i].count);
	printf("\n");
}

/* The SDP file as a JSON string literal ("v=0\r\n..."). */
static int
load_sdp(struct sb *g, const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;
	json_t *s;

	if (f == NULL)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n == sizeof(buf))
		return -EINVAL;
	s = json_stringn(buf, n);
	g->sdp_json = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	if (g->sdp_json == NULL)
		return -EINVAL;
	g->sdp_json_len = strlen(g->sdp_json);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: sotto-sig-bench -p port [-s ip] [-A api-port] [-P server-pid]\n"
		"         [-n held] [-d hold-s] [-r pairs/s -t s] [-j joins]\n"
		"         [-W pairs-in-flight] [-O] [-f offer.sdp] [-H http-conns]\n"
		"         [-o origin] [-q]\n"
		"  -n N   N WebSocket connections (N/2 rooms) join and stay -d s\n"
		"  -r/-t  R pairs/s for T s, member offers, join->offer latency\n"
		"  -j J   J joins (J/2 pairs) as fast as possible, -W in flight;\n"
		"         -O: each pair also relays an offer\n"
		"  -A     port of the HTTP API when it is not the WebSocket's\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sb *g = calloc(1, sizeof(*g));
	const char *ip = "127.0.0.1", *sdp_path = NULL, *origin = NULL;
	unsigned port = 0, api_port = 0, held = 0, hold_s = 30, joins = 0;
	unsigned window = 128, lat_s = 20;
	double lat_rate = 0;
	bool joins_offer = false;
	struct rlimit rl;
	struct in_addr a4;
	int c;

	if (g == NULL)
		return 1;
	g->n_http = 32;
	while ((c = getopt(argc, argv, "s:p:A:P:n:d:r:t:j:W:Of:H:o:qh")) != -1) {
		switch (c) {
		case 's': ip = optarg; break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'A': api_port = (unsigned)atoi(optarg); break;
		case 'P': g->server_pid = atoi(optarg); break;
		case 'n': held = (unsigned)atoi(optarg); break;
		case 'd': hold_s = (unsigned)atoi(optarg); break;
		case 'r': lat_rate = atof(optarg); break;
		case 't': lat_s = (unsigned)atoi(optarg); break;
		case 'j': joins = (unsigned)atoi(optarg); break;
		case 'W': window = (unsigned)atoi(optarg); break;
		case 'O': joins_offer = true; break;
		case 'f': sdp_path = optarg; break;
		case 'H': g->n_http = (unsigned)atoi(optarg); break;
		case 'o': origin = optarg; break;
		case 'q': g->quiet = true; break;
		default: usage();
		}
	}
	if (api_port == 0)
		api_port = port;
	if (port == 0 || port > 65535 || api_port > 65535 ||
	    inet_pton(AF_INET, ip, &a4) != 1 || held > 1000000 ||
	    joins > 10000000 || window == 0 || g->n_http == 0 ||
	    g->n_http > SB_MAX_HTTP || hold_s > 3600 || lat_s > 3600 ||
	    lat_rate < 0 || lat_rate > 100000 ||
	    (held == 0 && lat_rate == 0 && joins == 0))
		usage();
	if ((lat_rate > 0 || joins_offer) && sdp_path == NULL) {
		fprintf(stderr, "sig-bench: offers need -f offer.sdp\n");
		return 2;
	}
	if (sdp_path != NULL && load_sdp(g, sdp_path) < 0) {
		fprintf(stderr, "sig-bench: cannot read %s\n", sdp_path);
		return 2;
	}
	g->ws_addr.sin_family = AF_INET;
	g->ws_addr.sin_addr = a4;
	g->ws_addr.sin_port = htons((uint16_t)port);
	g->api_addr = g->ws_addr;
	g->api_addr.sin_port = htons((uint16_t)api_port);
	snprintf(g->host, sizeof(g->host), "%s:%u", ip, port);
	snprintf(g->origin, sizeof(g->origin), "%s", origin ? origin : "");
	if (getrandom(&g->rng, sizeof(g->rng), 0) != sizeof(g->rng) ||
	    g->rng == 0)
		g->rng = (uint64_t)now_ns() | 1;

	/* two descriptors per pair in the hold phase, plus the rest: as
	 * many as we are allowed */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	g->ep = epoll_create1(EPOLL_CLOEXEC);
	g->rx = malloc(SB_RX_CHUNK);
	g->ph[PH_HOLD] = (struct sb_phase){ .name = "hold", .n = held / 2,
					    .stay = true };
	g->ph[PH_LATENCY] = (struct sb_phase){
		.name = "latency", .n = (unsigned)(lat_rate * lat_s),
		.offer = true };
	g->ph[PH_JOINS] = (struct sb_phase){ .name = "joins", .n = joins / 2,
					     .offer = joins_offer };
	for (int i = 0; i < PH_COUNT; i++) {
		struct sb_phase *ph = &g->ph[i];
		size_t n = ph->n ? ph->n : 1;

		ph->pairs = calloc(n, sizeof(*ph->pairs));
		ph->lat_us = calloc(n, sizeof(*ph->lat_us));
		ph->ack_us = calloc(n, sizeof(*ph->ack_us));
		if (ph->pairs == NULL || ph->lat_us == NULL || ph->ack_us == NULL)
			return 1;
	}
	if (g->ep < 0 || g->rx == NULL) {
		perror("sig-bench: init");
		return 1;
	}

	if (held > 0) {
		struct sb_phase *ph = &g->ph[PH_HOLD];
		long rss0 = server_rss_kb(g), rss_set, rss1, lg_rss;
		double cpu0 = server_cpu_s(g), cpu1, cpu2;
		double w0 = server_runq_wait_s(g), lw0 = proc_runq_wait_s("self");
		uint64_t t = now_ns(), pings0;
		unsigned at_start, at_end;
		double setup_s;

		if (!g->quiet)
			fprintf(stderr, "sig-bench: hold: %u connections (%u rooms)\n",
				ph->n * 2, ph->n);
		run_phase(g, PH_HOLD, window, 0);
		setup_s = (double)(now_ns() - t) / 1e9;
		cpu1 = server_cpu_s(g);
		rss_set = server_rss_kb(g);
		at_start = count_held(g);
		pings0 = g->pings;
		if (!g->quiet)
			fprintf(stderr, "sig-bench: %u joined in %.2f s; holding %u s\n",
				at_start, setup_s, hold_s);
		idle_for(g, (uint64_t)hold_s * NS_PER_S);
		at_end = count_held(g);
		rss1 = server_rss_kb(g);
		cpu2 = server_cpu_s(g);
		lg_rss = proc_rss_kb("self");
		printf("RESULT phase=hold requested=%u joined=%u held=%u "
		       "setup_s=%.2f hold_s=%u lost=%" PRIu64 " pings=%" PRIu64
		       " rss0_kb=%ld rss_joined_kb=%ld rss_kb=%ld "
		       "bytes_per_conn=%ld setup_cpu_s=%.2f hold_cpu_s=%.2f "
		       "lg_rss_kb=%ld lg_bytes_per_conn=%ld lg_cpu_s=%.2f "
		       "srv_runq_wait_s=%.2f lg_runq_wait_s=%.2f\n",
		       ph->n * 2, at_start, at_end, setup_s, hold_s,
		       g->held_lost, g->pings - pings0, rss0, rss_set, rss1,
		       at_end && rss0 >= 0 && rss1 >= 0 ?
			       (rss1 - rss0) * 1024 / (long)at_end : -1,
		       cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1,
		       cpu1 >= 0 && cpu2 >= 0 ? cpu2 - cpu1 : -1, lg_rss,
		       at_end && lg_rss >= 0 ? lg_rss * 1024 / (long)at_end : -1,
		       self_cpu_s(), server_runq_wait_s(g) - w0,
		       proc_runq_wait_s("self") - lw0);
		fflush(stdout);
	}

	if (lat_rate > 0) {
		struct sb_phase *ph = &g->ph[PH_LATENCY];
		double cpu0 = server_cpu_s(g), cpu1, lg0 = self_cpu_s(), el;
		double w0 = server_runq_wait_s(g), lw0 = proc_runq_wait_s("self");
		unsigned held0 = count_held(g);

		if (!g->quiet)
			fprintf(stderr, "sig-bench: latency: %.0f pairs/s for %u s "
				"on top of %u held connections\n",
				lat_rate, lat_s, held0);
		run_phase(g, PH_LATENCY, 0, lat_rate);
		cpu1 = server_cpu_s(g);
		el = (double)(ph->t_last - ph->t_first) / 1e9;
		qsort(ph->lat_us, ph->n_lat, sizeof(*ph->lat_us), cmp_u32);
		qsort(ph->ack_us, ph->n_lat, sizeof(*ph->ack_us), cmp_u32);
		printf("RESULT phase=latency rate=%.0f duration_s=%u pairs=%u "
		       "done=%u failed=%u held=%u elapsed_s=%.2f "
		       "offer_p50_us=%u offer_p90_us=%u offer_p99_us=%u "
		       "offer_max_us=%u joined_p50_us=%u joined_p99_us=%u "
		       "joined_max_us=%u cpu_s=%.2f lg_cpu_s=%.2f "
		       "srv_runq_wait_s=%.2f lg_runq_wait_s=%.2f\n",
		       lat_rate, lat_s, ph->n, ph->done, ph->failed, held0, el,
		       pct(ph->lat_us, ph->n_lat, 50), pct(ph->lat_us, ph->n_lat, 90),
		       pct(ph->lat_us, ph->n_lat, 99),
		       ph->n_lat ? ph->lat_us[ph->n_lat - 1] : 0,
		       pct(ph->ack_us, ph->n_lat, 50), pct(ph->ack_us, ph->n_lat, 99),
		       ph->n_lat ? ph->ack_us[ph->n_lat - 1] : 0,
		       cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1,
		       self_cpu_s() - lg0, server_runq_wait_s(g) - w0,
		       proc_runq_wait_s("self") - lw0);
		fflush(stdout);
	}

	if (joins > 0) {
		struct sb_phase *ph = &g->ph[PH_JOINS];
		double cpu0 = server_cpu_s(g), cpu1, lg0 = self_cpu_s(), el;
		double w0 = server_runq_wait_s(g), lw0 = proc_runq_wait_s("self");
		unsigned held0 = count_held(g);

		if (!g->quiet)
			fprintf(stderr, "sig-bench: joins: %u pairs, %u in flight%s\n",
				ph->n, window, joins_offer ? ", with offers" : "");
		run_phase(g, PH_JOINS, window, 0);
		cpu1 = server_cpu_s(g);
		el = (double)(ph->t_last - ph->t_first) / 1e9;
		qsort(ph->ack_us, ph->n_lat, sizeof(*ph->ack_us), cmp_u32);
		printf("RESULT phase=joins pairs=%u window=%u offers=%d done=%u "
		       "failed=%u held=%u elapsed_s=%.2f joins_per_s=%.0f "
		       "pairs_per_s=%.0f joined_p50_us=%u joined_p99_us=%u "
		       "cpu_s=%.2f cpu_us_per_join=%.0f lg_cpu_s=%.2f "
		       "srv_runq_wait_s=%.2f lg_runq_wait_s=%.2f\n",
		       ph->n, window, joins_offer, ph->done, ph->failed, held0, el,
		       el > 0 ? 2.0 * ph->done / el : 0,
		       el > 0 ? ph->done / el : 0,
		       pct(ph->ack_us, ph->n_lat, 50), pct(ph->ack_us, ph->n_lat, 99),
		       cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1,
		       cpu0 >= 0 && cpu1 >= 0 && ph->done ?
			       (cpu1 - cpu0) * 1e6 / (2.0 * ph->done) : -1,
		       self_cpu_s() - lg0, server_runq_wait_s(g) - w0,
		       proc_runq_wait_s("self") - lw0);
		fflush(stdout);
	}
	drain_leaving(g, SB_DRAIN_NS);
	print_errors(g);
	if (held > 0)
		printf("RESULT phase=end held=%u lost=%" PRIu64 "\n",
		       count_held(g), g->held_lost);
	return sb_stop ? 130 : 0;
}
