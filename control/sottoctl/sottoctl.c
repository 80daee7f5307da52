/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sottoctl: the operator's command line for sottod.
 *
 * Every daemon command is one request and one response on the control
 * socket (docs/operations.md, "The control socket"): newline-delimited
 * JSON, {"cmd": ...} out, {"ok": ..., "result"|"error"...} back. The
 * answer is printed as tables for people or, with --json, as the daemon's
 * result object for scripts. check-config and probe run here and never
 * touch the socket.
 *
 * Exit codes: 0 ok, 1 the daemon (or the config file) said no, 2 usage,
 * 3 the daemon could not be reached or did not answer in time.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "probe.h"

#define EXIT_DAEMON 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

#define DEFAULT_SOCKET "/run/sotto/sottod.sock"
#define DEFAULT_TIMEOUT_S 5.0
#define MAX_TIMEOUT_S 86400.0
/* A full allocation list of a busy relay fits; a runaway answer does not. */
#define MAX_RESPONSE (16u << 20)
#define ROOM_ID_MIN 8
#define ROOM_ID_MAX 32
#define USER_MAX 255

struct ctl_opts {
	const char *socket;      /* -s */
	const char *config;      /* -c */
	double timeout_s;
	bool json;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sottoctl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   sottod's control socket (default: "
		"$SOTTO_CTL_SOCKET,\n"
		"                      else " DEFAULT_SOCKET ")\n"
		"  -c, --config FILE   take the socket path (control.socket) "
		"from FILE\n"
		"      --json          print the daemon's result as JSON\n"
		"  -t, --timeout SEC   give up on the daemon after SEC seconds "
		"(default 5)\n"
		"  -h, --help          this text\n"
		"      --version       print the version\n"
		"\n"
		"Commands:\n"
		"  status                         version, uptime, driver, "
		"totals\n"
		"  allocations [--user USER]      TURN allocations\n"
		"  allocation show ID             one allocation, its peers "
		"and channels\n"
		"  allocation kill ID             end it; its relayed port "
		"stops at once\n"
		"  rooms                          signaling rooms\n"
		"  room show ID                   one room (>= 8 hex digits of "
		"its id)\n"
		"  room close ID                  close it, disconnect everyone\n"
		"  workers                        per-worker packet rates and "
		"busy ratio\n"
		"  drain                          refuse new allocations and "
		"rooms, keep calls\n"
		"  undrain                        accept them again\n"
		"  reload                         re-read sottod's config file\n"
		"  credentials issue --user USER [--ttl SEC]\n"
		"                                 TURN REST credentials for a "
		"test\n"
		"  log-level LEVEL                error, warn, info or debug\n"
		"  check-config FILE              validate FILE here, without "
		"the daemon\n"
		"  probe [ARGS]                   a synthetic call through the "
		"relay\n"
		"                                 (sottoctl probe --help)\n"
		"\n"
		"Exit status: 0 ok, 1 error from the daemon, 2 usage, 3 daemon "
		"unreachable.\n");
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sottoctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(sottoctl --help for usage)\n", stderr);
	return EXIT_USAGE;
}

/* ---- formatting -------------------------------------------------------- */

/* 45s, 5m12s, 3h04m, 2d05h: two units are enough to read at a glance. */
static const char *
fmt_duration(char *buf, size_t len, json_t *v)
{
	long long s;

	if (!json_is_number(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	s = llround(json_number_value(v));
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

static bool
flat_object(json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		if (json_is_object(v) || json_is_array(v))
			return false;
	return true;
}

static const char *fmt_value(char *buf, size_t len, json_t *v);

/* {"to_peer": 5, "to_client": 7} as "to_peer 5, to_client 7" */
static void
fmt_flat(char *buf, size_t len, json_t *obj)
{
	const char *key;
	json_t *v;
	size_t off = 0;
	char val[128];

	buf[0] = '\0';
	json_object_foreach(obj, key, v) {
		int n = snprintf(buf + off, len - off, "%s%s %s",
				 off ? ", " : "", key,
				 fmt_value(val, sizeof(val), v));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += n;
	}
}

/* Any JSON value as a table cell: strings bare, null and missing as "-". */
static const char *
fmt_value(char *buf, size_t len, json_t *v)
{
	char *s;

	if (v == NULL || json_is_null(v))
		snprintf(buf, len, "-");
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.6g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_object(v) && flat_object(v))
		fmt_flat(buf, len, v);
	else if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
		snprintf(buf, len, "%s", s);
		free(s);
	} else
		snprintf(buf, len, "?");
	return buf;
}

static const char *
fmt_rate(char *buf, size_t len, json_t *v)
{
	if (!json_is_number(v))
		return fmt_value(buf, len, v);
	snprintf(buf, len, "%.0f", json_number_value(v));
	return buf;
}

static const char *
fmt_percent(char *buf, size_t len, json_t *ratio)
{
	if (!json_is_number(ratio))
		return fmt_value(buf, len, ratio);
	snprintf(buf, len, "%.1f", json_number_value(ratio) * 100.0);
	return buf;
}

/* Unix time as "1795000000 (2026-11-19 07:33:20 UTC)". */
static const char *
fmt_epoch(char *buf, size_t len, json_t *v)
{
	struct tm tm;
	time_t t;

	if (!json_is_integer(v))
		return fmt_value(buf, len, v);
	t = (time_t)json_integer_value(v);
	if (gmtime_r(&t, &tm) == NULL)
		return fmt_value(buf, len, v);
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT " (%04d-%02d-%02d %02d:%02d:%02d UTC)",
		 json_integer_value(v), tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

/* RFC 8656 §12: channel numbers are read in hex (0x4000...). */
static const char *
fmt_channel(char *buf, size_t len, json_t *v)
{
	if (!json_is_integer(v))
		return fmt_value(buf, len, v);
	snprintf(buf, len, "0x%04" PRIx64, (uint64_t)json_integer_value(v));
	return buf;
}

/* ---- key: value blocks -------------------------------------------------- */

enum kv_kind { KV_AUTO, KV_DURATION, KV_EPOCH };

struct kv_spec {
	const char *key;    /* in the result */
	const char *label;  /* printed */
	enum kv_kind kind;
};

static bool
kv_listed(const struct kv_spec *spec, const char *const *skip, const char *key)
{
	for (; spec && spec->key; spec++)
		if (strcmp(spec->key, key) == 0)
			return true;
	for (; skip && *skip; skip++)
		if (strcmp(*skip, key) == 0)
			return true;
	return false;
}

static void
kv_line(const char *label, int width, const char *value)
{
	printf("%s:%*s %s\n", label, width - (int)strlen(label), "", value);
}

/*
 * The keys of spec in its order, then whatever else the daemon sent (a
 * newer sottod may add fields), except those in skip, which the caller
 * prints as tables of their own.
 */
static void
print_kv(json_t *obj, const struct kv_spec *spec, const char *const *skip)
{
	const struct kv_spec *s;
	const char *key;
	json_t *v;
	char buf[512];
	int width = 0;

	for (s = spec; s->key; s++)
		if (json_object_get(obj, s->key) && (int)strlen(s->label) > width)
			width = strlen(s->label);
	json_object_foreach(obj, key, v)
		if (!kv_listed(spec, skip, key) && (int)strlen(key) > width)
			width = strlen(key);

	for (s = spec; s->key; s++) {
		v = json_object_get(obj, s->key);
		if (v == NULL)
			continue;
		switch (s->kind) {
		case KV_DURATION: fmt_duration(buf, sizeof(buf), v); break;
		case KV_EPOCH: fmt_epoch(buf, sizeof(buf), v); break;
		default: fmt_value(buf, sizeof(buf), v); break;
		}
		kv_line(s->label, width, buf);
	}
	json_object_foreach(obj, key, v)
		if (!kv_listed(spec, skip, key))
			kv_line(key, width, fmt_value(buf, sizeof(buf), v));
}

/* ---- tables ----------------------------------------------------------- */

#define TABLE_MAX_COLS 10

struct table {
	unsigned n_cols, n_rows, cap_rows;
	const char *head[TABLE_MAX_COLS];
	bool right[TABLE_MAX_COLS];  /* numbers line up on the right */
	char **cells;                /* n_rows * n_cols */
};

static void
table_init(struct table *t, const char *const *head, const char *align)
{
	memset(t, 0, sizeof(*t));
	for (; head[t->n_cols] && t->n_cols < TABLE_MAX_COLS; t->n_cols++) {
		t->head[t->n_cols] = head[t->n_cols];
		t->right[t->n_cols] = align[t->n_cols] == 'r';
	}
}

/* Adds a row of n_cols strings (copied). 0 or -ENOMEM. */
static int
table_add(struct table *t, char *const *row)
{
	unsigned i;

	if (t->n_rows == t->cap_rows) {
		unsigned cap = t->cap_rows ? t->cap_rows * 2 : 16;
		char **c = realloc(t->cells, sizeof(*c) * cap * t->n_cols);

		if (c == NULL)
			return -ENOMEM;
		t->cells = c;
		t->cap_rows = cap;
	}
	for (i = 0; i < t->n_cols; i++) {
		t->cells[t->n_rows * t->n_cols + i] = strdup(row[i]);
		if (t->cells[t->n_rows * t->n_cols + i] == NULL) {
			while (i-- > 0)
				free(t->cells[t->n_rows * t->n_cols + i]);
			return -ENOMEM;
		}
	}
	t->n_rows++;
	return 0;
}

static void
table_print(const struct table *t)
{
	size_t w[TABLE_MAX_COLS];
	unsigned r, i;

	for (i = 0; i < t->n_cols; i++)
		w[i] = strlen(t->head[i]);
	for (r = 0; r < t->n_rows; r++)
		for (i = 0; i < t->n_cols; i++) {
			size_t l = strlen(t->cells[r * t->n_cols + i]);
			if (l > w[i])
				w[i] = l;
		}
	for (r = 0; r <= t->n_rows; r++) {
		for (i = 0; i < t->n_cols; i++) {
			const char *s = r == 0 ? t->head[i]
					       : t->cells[(r - 1) * t->n_cols + i];
			bool last = i + 1 == t->n_cols;

			if (t->right[i])
				printf("%*s", (int)w[i], s);
			else if (last)
				fputs(s, stdout);
			else
				printf("%-*s", (int)w[i], s);
			fputs(last ? "\n" : "  ", stdout);
		}
	}
}

static void
table_free(struct table *t)
{
	for (unsigned i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
}

#define CELL 256

/* ---- the daemon's answers, for people ---------------------------------- */

static int
out_of_memory(void)
{
	fprintf(stderr, "sottoctl: out of memory\n");
	return EXIT_DAEMON;
}

static int
print_status(json_t *res)
{
	static const struct kv_spec spec[] = {
		{ "version", "version", KV_AUTO },
		{ "uptime_s", "uptime", KV_DURATION },
		{ "driver", "driver", KV_AUTO },
		{ "workers", "workers", KV_AUTO },
		{ "draining", "draining", KV_AUTO },
		{ "log_level", "log_level", KV_AUTO },
		{ "allocations", "allocations", KV_AUTO },
		{ "permissions", "permissions", KV_AUTO },
		{ "channels", "channels", KV_AUTO },
		{ "rooms", "rooms", KV_AUTO },
		{ "participants", "participants", KV_AUTO },
		{ "ws_connections", "ws_connections", KV_AUTO },
		{ "http_connections", "http_connections", KV_AUTO },
		{ "gateway_rooms", "gateway_rooms", KV_AUTO },
		{ "gateway_legs", "gateway_legs", KV_AUTO },
		{ "gateway_legs_up", "gateway_legs_up", KV_AUTO },
		{ NULL, NULL, KV_AUTO },
	};
	print_kv(res, spec, NULL);
	return 0;
}

/* One column of a list: its header, the JSON key and how to show it. */
struct column {
	const char *head;
	const char *key;
	const char *(*fmt)(char *buf, size_t len, json_t *v);
	char align;                  /* 'l' or 'r' (numbers) */
};

/* Prints an array of objects as a table; cols ends with a NULL head. */
static int
print_list(json_t *list, const struct column *cols)
{
	const char *head[TABLE_MAX_COLS + 1];
	char align[TABLE_MAX_COLS + 1];
	char c[TABLE_MAX_COLS][CELL], *row[TABLE_MAX_COLS];
	unsigned n = 0;
	struct table t;
	json_t *o;
	size_t i;
	int rc = 0;

	for (; cols[n].head != NULL && n < TABLE_MAX_COLS; n++) {
		head[n] = cols[n].head;
		align[n] = cols[n].align;
		row[n] = c[n];
	}
	head[n] = NULL;
	align[n] = '\0';
	table_init(&t, head, align);
	json_array_foreach(list, i, o) {
		for (unsigned k = 0; k < n; k++)
			cols[k].fmt(c[k], CELL, json_object_get(o, cols[k].key));
		if (table_add(&t, row) < 0) {
			rc = out_of_memory();
			break;
		}
	}
	if (rc == 0)
		table_print(&t);
	table_free(&t);
	return rc;
}

/* The list under key in res, or NULL after saying it is missing. */
static json_t *
list_of(json_t *res, const char *key, const char *what)
{
	json_t *list = json_object_get(res, key);

	if (!json_is_array(list)) {
		fprintf(stderr, "sottoctl: the answer has no %s list\n", what);
		return NULL;
	}
	return list;
}

static int
print_allocations(json_t *res)
{
	static const struct column cols[] = {
		{ "ID", "id", fmt_value, 'r' },
		{ "USER", "user", fmt_value, 'l' },
		{ "CLIENT", "client", fmt_value, 'l' },
		{ "RELAYED", "relayed", fmt_value, 'l' },
		{ "AGE", "age_s", fmt_duration, 'r' },
		{ "EXPIRES", "expires_in_s", fmt_duration, 'r' },
		{ "PERMS", "permissions", fmt_value, 'r' },
		{ "CHANS", "channels", fmt_value, 'r' },
		{ NULL, NULL, NULL, 0 },
	};
	json_t *list = list_of(res, "allocations", "allocation");

	return list ? print_list(list, cols) : EXIT_DAEMON;
}

static int
print_allocation(json_t *res)
{
	static const struct kv_spec spec[] = {
		{ "id", "id", KV_AUTO },
		{ "user", "user", KV_AUTO },
		{ "client", "client", KV_AUTO },
		{ "relayed", "relayed", KV_AUTO },
		{ "age_s", "age", KV_DURATION },
		{ "expires_in_s", "expires in", KV_DURATION },
		{ "permissions", "permissions", KV_AUTO },
		{ "channels", "channels", KV_AUTO },
		{ NULL, NULL, KV_AUTO },
	};
	static const char *const skip[] = { "peers", "channel_list", NULL };
	static const struct column cols[] = {
		{ "CHANNEL", "number", fmt_channel, 'l' },
		{ "PEER", "peer", fmt_value, 'l' },
		{ NULL, NULL, NULL, 0 },
	};
	json_t *peers = json_object_get(res, "peers");
	json_t *chans = json_object_get(res, "channel_list"), *v;
	char buf[CELL];
	size_t i;

	print_kv(res, spec, skip);
	if (json_is_array(peers)) {
		printf("\npermitted peers:%s\n",
		       json_array_size(peers) ? "" : " none");
		json_array_foreach(peers, i, v)
			printf("  %s\n", fmt_value(buf, sizeof(buf), v));
	}
	if (!json_is_array(chans))
		return 0;
	if (json_array_size(chans) == 0) {
		printf("\nchannels: none\n");
		return 0;
	}
	putchar('\n');
	return print_list(chans, cols);
}

static int
print_rooms(json_t *res)
{
	static const struct column cols[] = {
		{ "ROOM", "room", fmt_value, 'l' },
		{ "MODE", "mode", fmt_value, 'l' },
		{ "PARTICIPANTS", "participants", fmt_value, 'r' },
		{ "MAX", "max_participants", fmt_value, 'r' },
		{ "LOCKED", "locked", fmt_value, 'l' },
		{ "AGE", "age_s", fmt_duration, 'r' },
		{ "EXPIRES", "expires_in_s", fmt_duration, 'r' },
		{ NULL, NULL, NULL, 0 },
	};
	json_t *list = list_of(res, "rooms", "room");

	return list ? print_list(list, cols) : EXIT_DAEMON;
}

static int
print_room(json_t *res)
{
	static const struct kv_spec spec[] = {
		{ "room", "room", KV_AUTO },
		{ "mode", "mode", KV_AUTO },
		{ "participants", "participants", KV_AUTO },
		{ "max_participants", "max participants", KV_AUTO },
		{ "locked", "locked", KV_AUTO },
		{ "age_s", "age", KV_DURATION },
		{ "expires_in_s", "expires in", KV_DURATION },
		{ NULL, NULL, KV_AUTO },
	};
	static const char *const skip[] = { "peers", NULL };
	static const struct column cols[] = {
		{ "PEER", "peer", fmt_value, 'l' },
		{ "ROLE", "role", fmt_value, 'l' },
		{ "CONNECTED", "connected_s", fmt_duration, 'r' },
		{ NULL, NULL, NULL, 0 },
	};
	json_t *peers = json_object_get(res, "peers");

	print_kv(res, spec, skip);
	if (!json_is_array(peers))
		return 0;
	if (json_array_size(peers) == 0) {
		printf("\npeers: none\n");
		return 0;
	}
	putchar('\n');
	return print_list(peers, cols);
}

static int
print_workers(json_t *res)
{
	static const struct column cols[] = {
		{ "ID", "id", fmt_value, 'r' },
		{ "RX/s", "rx_pps", fmt_rate, 'r' },
		{ "TX/s", "tx_pps", fmt_rate, 'r' },
		{ "BUSY%", "busy_ratio", fmt_percent, 'r' },
		{ "RX", "rx_packets", fmt_value, 'r' },
		{ "TX", "tx_packets", fmt_value, 'r' },
		{ NULL, NULL, NULL, 0 },
	};
	json_t *list = list_of(res, "workers", "worker");

	return list ? print_list(list, cols) : EXIT_DAEMON;
}

static int
print_drain(json_t *res)
{
	char a[CELL], r[CELL], p[CELL];

	printf("draining: new allocations and rooms are refused; still in use: "
	       "%s allocations, %s rooms, %s participants\n",
	       fmt_value(a, CELL, json_object_get(res, "allocations")),
	       fmt_value(r, CELL, json_object_get(res, "rooms")),
	       fmt_value(p, CELL, json_object_get(res, "participants")));
	return 0;
}

static int
print_undrain(json_t *res)
{
	(void)res;
	printf("accepting new allocations and rooms again\n");
	return 0;
}

static int
print_reload(json_t *res)
{
	(void)res;
	printf("configuration reloaded\n");
	return 0;
}

static int
print_killed(json_t *res)
{
	char buf[CELL];

	printf("allocation %s killed\n",
	       fmt_value(buf, sizeof(buf), json_object_get(res, "killed")));
	return 0;
}

static int
print_closed(json_t *res)
{
	char buf[CELL];

	printf("room %s closed\n",
	       fmt_value(buf, sizeof(buf), json_object_get(res, "closed")));
	return 0;
}

static int
print_credentials(json_t *res)
{
	static const struct kv_spec spec[] = {
		{ "username", "username", KV_AUTO },
		{ "credential", "credential", KV_AUTO },
		{ "expires_at", "expires_at", KV_EPOCH },
		{ NULL, NULL, KV_AUTO },
	};
	print_kv(res, spec, NULL);
	return 0;
}

static int
print_log_level(json_t *res)
{
	char buf[CELL];

	printf("log level: %s\n",
	       fmt_value(buf, sizeof(buf), json_object_get(res, "log_level")));
	return 0;
}

/* ---- the socket -------------------------------------------------------- */

static uint64_t
now_ms(void)
{
	return clock_mono_ms();
}

/* Waits for ev on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	uint64_t now;
	int n;

	for (;;) {
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now > INT32_MAX ? INT32_MAX
								  : deadline - now));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * One request, one answer line (without its newline, NUL-terminated, in
 * *out, which the caller frees). 0 or -errno: -ETIMEDOUT when the daemon
 * was too slow, -EPIPE when it closed first, -EMSGSIZE when the answer
 * was too long; *stage says what failed, for the message.
 */
static int
exchange(const char *path, const char *req, size_t req_len, double timeout_s,
	 char **out, const char **stage)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + (uint64_t)(timeout_s * 1000.0);
	size_t sent = 0, len = 0, cap = 0;
	char *buf = NULL, *nl;
	int fd, rc;

	*out = NULL;
	*stage = "connect";
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		/* A Unix socket says EAGAIN when the daemon's backlog is
		 * full, never EINPROGRESS, and poll() does not say when
		 * there is room: try again every 10 ms. */
		rc = -errno;
		while (rc == -EAGAIN) {
			struct timespec pause = { 0, 10 * 1000 * 1000 };

			if (now_ms() >= deadline) {
				rc = -ETIMEDOUT;
				break;
			}
			nanosleep(&pause, NULL);
			rc = connect(fd, (struct sockaddr *)&sun,
				     sizeof(sun)) == 0 ? 0 : -errno;
		}
		if (rc < 0)
			goto out;
	}

	*stage = "send";
	while (sent < req_len) {
		ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		sent += n;
	}

	*stage = "receive";
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *b;

			if (ncap > MAX_RESPONSE + 1)
				ncap = MAX_RESPONSE + 1;
			if (ncap <= len) {
				rc = -EMSGSIZE;
				goto out;
			}
			b = realloc(buf, ncap + 1);
			if (b == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			buf = b;
			cap = ncap;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			rc = -EPIPE;
			goto out;
		}
		nl = memchr(buf + len, '\n', n);
		len += n;
		if (nl != NULL) {
			*nl = '\0';
			if ((size_t)(nl - buf) > MAX_RESPONSE) {
				rc = -EMSGSIZE;
				goto out;
			}
			*out = buf;
			buf = NULL;
			rc = 0;
			goto out;
		}
	}
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- commands ---------------------------------------------------------- */

typedef int (*print_fn)(json_t *result);

static void
print_daemon_error(json_t *resp)
{
	json_t *reason = json_object_get(resp, "reason");
	json_t *error = json_object_get(resp, "error");
	json_t *errors = json_object_get(resp, "errors"), *e;
	size_t i;

	if (json_is_string(reason))
		fprintf(stderr, "sottoctl: %s\n", json_string_value(reason));
	else if (json_is_string(error))
		fprintf(stderr, "sottoctl: %s\n", json_string_value(error));
	else
		fprintf(stderr, "sottoctl: the daemon refused without a reason\n");
	json_array_foreach(errors, i, e)
		if (json_is_string(e))
			fprintf(stderr, "%s\n", json_string_value(e));
}

/*
 * Sends req (which it takes) and prints the answer. Returns the exit
 * code.
 */
static int
run_daemon(const struct ctl_opts *o, const char *path, json_t *req,
	   print_fn print)
{
	json_t *resp = NULL, *result, *ok;
	json_error_t jerr;
	const char *stage;
	char *text, *line = NULL;
	size_t len;
	int rc;

	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL)
		return out_of_memory();
	/* one line: json_dumps never writes a raw newline (it escapes them) */
	len = strlen(text);
	text[len] = '\n';
	rc = exchange(path, text, len + 1, o->timeout_s, &line, &stage);
	free(text);
	if (rc == -EMSGSIZE) {
		fprintf(stderr, "sottoctl: the answer from sottod is longer than "
			"%u MiB\n", MAX_RESPONSE >> 20);
		return EXIT_DAEMON;
	}
	if (rc == -ENOMEM)
		return out_of_memory();
	if (rc == -ETIMEDOUT) {
		fprintf(stderr, "sottoctl: cannot reach sottod at %s: no answer "
			"within %g s\n", path, o->timeout_s);
		return EXIT_UNREACHABLE;
	}
	if (rc == -EPIPE && strcmp(stage, "receive") == 0) {
		fprintf(stderr, "sottoctl: cannot reach sottod at %s: it closed "
			"the connection without answering\n", path);
		return EXIT_UNREACHABLE;
	}
	if (rc < 0) {
		fprintf(stderr, "sottoctl: cannot reach sottod at %s: %s\n",
			path, strerror(-rc));
		return EXIT_UNREACHABLE;
	}

	resp = json_loads(line, 0, &jerr);
	free(line);
	if (!json_is_object(resp)) {
		fprintf(stderr, "sottoctl: sottod sent an answer that is not a "
			"JSON object: %s\n", resp ? "wrong type" : jerr.text);
		rc = EXIT_DAEMON;
		goto out;
	}
	ok = json_object_get(resp, "ok");
	if (!json_is_boolean(ok)) {
		fprintf(stderr, "sottoctl: sottod's answer has no \"ok\"\n");
		rc = EXIT_DAEMON;
		goto out;
	}
	if (!json_is_true(ok)) {
		print_daemon_error(resp);
		rc = EXIT_DAEMON;
		goto out;
	}
	result = json_object_get(resp, "result");
	if (result == NULL) {
		/* print an empty object, so --json always yields a document */
		result = json_object();
		if (result == NULL || json_object_set_new(resp, "result", result)) {
			rc = out_of_memory();
			goto out;
		}
	}
	if (o->json) {
		rc = json_dumpf(result, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		putchar('\n');
		rc = rc < 0 ? EXIT_DAEMON : 0;
	} else if (!json_is_object(result)) {
		fprintf(stderr, "sottoctl: sottod's result is not an object\n");
		rc = EXIT_DAEMON;
	} else {
		rc = print(result);
	}
out:
	json_decref(resp);
	return rc;
}

/* check-config FILE: the same loader and messages as sottod's. */
static int
check_config(const struct ctl_opts *o, const char *file)
{
	struct sotto_config cfg;
	char *errs = NULL;
	size_t errs_len = 0;
	FILE *f;
	int n, rc = 0;

	f = open_memstream(&errs, &errs_len);
	if (f == NULL)
		return out_of_memory();
	config_defaults(&cfg);
	n = config_load_file(&cfg, file, f);
	config_free(&cfg);
	fclose(f);

	if (o->json) {
		json_t *doc, *list;
		char *line, *save = NULL;

		list = json_array();
		for (line = strtok_r(errs, "\n", &save); line && list;
		     line = strtok_r(NULL, "\n", &save))
			if (json_array_append_new(list, json_string(line)) < 0) {
				json_decref(list);
				list = NULL;
			}
		doc = json_pack("{s:s, s:b, s:o?}", "file", file, "ok", n == 0,
				"errors", list);
		if (doc == NULL) {
			rc = out_of_memory();
			goto out;
		}
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	} else if (n == 0) {
		printf("%s: configuration OK\n", file);
	} else {
		fputs(errs, stderr);
	}
	if (n != 0) {
		fprintf(stderr, "sottoctl: %s: %d error%s\n", file, n,
			n == 1 ? "" : "s");
		rc = EXIT_DAEMON;
	}
out:
	free(errs);
	return rc;
}

/* Where the daemon listens: -s, -c's control.socket, the environment. */
static int
socket_path(const struct ctl_opts *o, char *path, size_t len)
{
	const char *env = getenv("SOTTO_CTL_SOCKET");
	struct sotto_config cfg;
	int n;

	if (o->socket != NULL) {
		snprintf(path, len, "%s", o->socket);
	} else if (o->config != NULL) {
		const char *sec = getenv("SOTTO_TURN_SECRET");

		/* sottod may take its TURN secret from its own environment,
		 * which the operator's shell lacks, and the loader refuses a
		 * config without one. sottoctl never uses the secret: stand
		 * one in rather than refuse a file the daemon runs with. */
		if ((sec == NULL || sec[0] == '\0') &&
		    setenv("SOTTO_TURN_SECRET", "sottoctl-needs-no-secret", 1) < 0)
			return out_of_memory();
		config_defaults(&cfg);
		n = config_load_file(&cfg, o->config, stderr);
		snprintf(path, len, "%s", cfg.control.socket);
		config_free(&cfg);
		if (n != 0)
			return usage_error("%s: %d error%s; cannot take the socket "
					   "path from it", o->config, n,
					   n == 1 ? "" : "s");
		if (path[0] == '\0') {
			fprintf(stderr, "sottoctl: cannot reach sottod: %s turns "
				"the control socket off (control.socket: \"\")\n",
				o->config);
			return EXIT_UNREACHABLE;
		}
	} else if (env != NULL && env[0] != '\0') {
		snprintf(path, len, "%s", env);
	} else {
		snprintf(path, len, "%s", DEFAULT_SOCKET);
	}
	if (path[0] == '\0')
		return usage_error("empty socket path");
	/* sun_path takes 107 characters and the NUL */
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return usage_error("socket path longer than %zu characters: %s",
				   sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
				   path);
	return 0;
}

static bool
is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* A decimal in [min, max], nothing else ("12x", "-1", "" and " 1" fail). */
static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/*
 * The command's own options: --json anywhere, and each name in names
 * ("user", "ttl") as --name VALUE or --name=VALUE into vals[]. Everything
 * else is a positional argument, moved to the front of args in order.
 * Returns the number of positionals, or -1 after a usage message.
 */
static int
parse_cmd_args(int argc, char **args, struct ctl_opts *o,
	       const char *const *names, const char **vals)
{
	int i, n_pos = 0;

	for (i = 0; i < argc; i++) {
		const char *a = args[i];
		bool matched = false;

		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				args[n_pos++] = args[i];
			break;
		}
		for (unsigned k = 0; names && names[k]; k++) {
			size_t l = strlen(names[k]);

			if (strncmp(a, "--", 2) != 0 ||
			    strncmp(a + 2, names[k], l) != 0)
				continue;
			if (a[2 + l] == '=') {
				vals[k] = a + 3 + l;
			} else if (a[2 + l] == '\0') {
				if (i + 1 >= argc) {
					usage_error("%s needs a value", a);
					return -1;
				}
				vals[k] = args[++i];
			} else {
				continue;
			}
			matched = true;
			break;
		}
		if (matched)
			continue;
		if (a[0] == '-' && a[1] != '\0') {
			usage_error("unknown option %s", a);
			return -1;
		}
		args[n_pos++] = args[i];
	}
	return n_pos;
}

static int
run_command(struct ctl_opts *o, int argc, char **argv)
{
	static const char *const user_opt[] = { "user", NULL };
	static const char *const cred_opts[] = { "user", "ttl", NULL };
	const char *cmd = argv[0], *vals[2] = { NULL, NULL };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char **args = argv + 1;
	const char *const *names = NULL;
	json_t *req = NULL;
	print_fn print = NULL;
	int n, rc;

	if (strcmp(cmd, "allocations") == 0 ||
	    strcmp(cmd, "credentials") == 0)
		names = strcmp(cmd, "allocations") == 0 ? user_opt : cred_opts;
	n = parse_cmd_args(argc - 1, args, o, names, vals);
	if (n < 0)
		return EXIT_USAGE;

	if (strcmp(cmd, "check-config") == 0) {
		if (n != 1)
			return usage_error("check-config takes one FILE");
		return check_config(o, args[0]);
	}

	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "rooms") == 0 ||
	    strcmp(cmd, "workers") == 0 || strcmp(cmd, "drain") == 0 ||
	    strcmp(cmd, "undrain") == 0 || strcmp(cmd, "reload") == 0) {
		if (n != 0)
			return usage_error("%s takes no arguments", cmd);
		req = json_pack("{s:s}", "cmd", cmd);
		print = strcmp(cmd, "status") == 0 ? print_status
		      : strcmp(cmd, "rooms") == 0 ? print_rooms
		      : strcmp(cmd, "workers") == 0 ? print_workers
		      : strcmp(cmd, "drain") == 0 ? print_drain
		      : strcmp(cmd, "undrain") == 0 ? print_undrain
		      : print_reload;
	} else if (strcmp(cmd, "allocations") == 0) {
		if (n != 0)
			return usage_error("allocations takes no arguments "
					   "besides --user USER");
		if (vals[0] != NULL && (vals[0][0] == '\0' ||
					strlen(vals[0]) > USER_MAX))
			return usage_error("--user: want 1..%d characters",
					   USER_MAX);
		req = json_pack("{s:s, s:s*}", "cmd", "allocations",
				"user", vals[0]);
		print = print_allocations;
	} else if (strcmp(cmd, "allocation") == 0) {
		uint64_t id;
		bool show;

		if (n < 1 || (strcmp(args[0], "show") != 0 &&
			      strcmp(args[0], "kill") != 0))
			return usage_error("allocation show|kill ID");
		show = strcmp(args[0], "show") == 0;
		if (n != 2)
			return usage_error("allocation %s takes one ID", args[0]);
		/* the id column of `sottoctl allocations` */
		if (parse_u64(args[1], 0, INT64_MAX, &id) < 0)
			return usage_error("allocation %s: ID is a number, not "
					   "\"%s\"", args[0], args[1]);
		req = json_pack("{s:s, s:I}", "cmd",
				show ? "allocation.show" : "allocation.kill",
				"id", (json_int_t)id);
		print = show ? print_allocation : print_killed;
	} else if (strcmp(cmd, "room") == 0) {
		bool show;

		if (n < 1 || (strcmp(args[0], "show") != 0 &&
			      strcmp(args[0], "close") != 0))
			return usage_error("room show|close ID");
		show = strcmp(args[0], "show") == 0;
		if (n != 2)
			return usage_error("room %s takes one ID", args[0]);
		if (strlen(args[1]) < ROOM_ID_MIN ||
		    strlen(args[1]) > ROOM_ID_MAX || !is_hex(args[1]))
			return usage_error("room %s: ID is %d to %d hex digits of "
					   "the room id, not \"%s\"", args[0],
					   ROOM_ID_MIN, ROOM_ID_MAX, args[1]);
		req = json_pack("{s:s, s:s}", "cmd",
				show ? "room.show" : "room.close", "id", args[1]);
		print = show ? print_room : print_closed;
	} else if (strcmp(cmd, "credentials") == 0) {
		uint64_t ttl = 0;

		if (n != 1 || strcmp(args[0], "issue") != 0)
			return usage_error("credentials issue --user USER "
					   "[--ttl SEC]");
		if (vals[0] == NULL || vals[0][0] == '\0' ||
		    strlen(vals[0]) > USER_MAX)
			return usage_error("credentials issue needs --user USER "
					   "(1..%d characters)", USER_MAX);
		if (vals[1] != NULL &&
		    parse_u64(vals[1], 1, UINT32_MAX, &ttl) < 0)
			return usage_error("--ttl: want seconds, 1..%" PRIu32
					   ", not \"%s\"", UINT32_MAX, vals[1]);
		req = vals[1] ? json_pack("{s:s, s:s, s:I}", "cmd",
					  "credentials.issue", "user", vals[0],
					  "ttl", (json_int_t)ttl)
			      : json_pack("{s:s, s:s}", "cmd",
					  "credentials.issue", "user", vals[0]);
		print = print_credentials;
	} else if (strcmp(cmd, "log-level") == 0) {
		static const char *const levels[] = { "error", "warn", "info",
			"debug", NULL };
		unsigned k;

		if (n != 1)
			return usage_error("log-level LEVEL (error, warn, info "
					   "or debug)");
		for (k = 0; levels[k] && strcmp(levels[k], args[0]) != 0; k++)
			;
		if (levels[k] == NULL)
			return usage_error("log-level: want error, warn, info or "
					   "debug, not \"%s\"", args[0]);
		req = json_pack("{s:s, s:s}", "cmd", "log_level", "level",
				args[0]);
		print = print_log_level;
	} else {
		return usage_error("unknown command \"%s\"", cmd);
	}
	if (req == NULL)
		return out_of_memory();

	rc = socket_path(o, path, sizeof(path));
	if (rc != 0) {
		json_decref(req);
		return rc;
	}
	return run_daemon(o, path, req, print);
}

/*
 * probe runs here and parses its own options (argv[0] is "probe"); a
 * --json given before the command is passed on, so `sottoctl --json
 * probe` means what it does for every other command.
 */
static int
run_probe(const struct ctl_opts *o, int argc, char **argv)
{
	char **v;
	int rc;

	if (!o->json)
		return probe_main(argc, argv);
	v = calloc(argc + 2, sizeof(*v));
	if (v == NULL)
		return out_of_memory();
	v[0] = argv[0];
	v[1] = (char *)"--json";
	memcpy(v + 2, argv + 1, (argc - 1) * sizeof(*v));
	rc = probe_main(argc + 1, v);
	free(v);
	return rc;
}

int
main(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_VERSION };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_opts o = { .timeout_s = DEFAULT_TIMEOUT_S };
	char *end;
	int c;

	/* "+": options stop at the command, whose arguments are its own */
	while ((c = getopt_long(argc, argv, "+s:c:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.socket = optarg; break;
		case 'c': o.config = optarg; break;
		case OPT_JSON: o.json = true; break;
		case 't':
			errno = 0;
			o.timeout_s = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !isfinite(o.timeout_s) || o.timeout_s <= 0 ||
			    o.timeout_s > MAX_TIMEOUT_S)
				return usage_error("--timeout: want seconds, "
						   "more than 0 and at most %g, "
						   "not \"%s\"", MAX_TIMEOUT_S,
						   optarg);
			break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION: printf("sottoctl %s\n", SOTTO_VERSION); return 0;
		default:
			fputs("(sottoctl --help for usage)\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (o.socket && o.config)
		return usage_error("-s and -c both name the socket; give one");
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[optind], "probe") == 0)
		return run_probe(&o, argc - optind, argv + optind);
	return run_command(&o, argc - optind, argv + optind);
}
