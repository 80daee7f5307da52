/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_PROBE_H
#define SOTTO_PROBE_H

/*
 * sottoctl probe: a synthetic call through the relay, placed the way a
 * client places one (TURN REST credentials, Allocate, CreatePermission,
 * ChannelBind, Opus in RTP in ChannelData), measured end to end: loss,
 * one-way latency, RFC 3550 jitter, and the tone that comes out of the
 * decoder.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* sottoctl's exit codes */
#define PROBE_EXIT_OK 0
#define PROBE_EXIT_FAIL 1        /* a threshold failed, or a local error */
#define PROBE_EXIT_USAGE 2
#define PROBE_EXIT_UNREACHABLE 3 /* no server, or the call could not be set up */

#define PROBE_SECONDS_MAX 600

struct probe_opts {
	struct sotto_addr server;
	char secret[256];
	char user[64];           /* REST user id; the probe prepends the expiry */
	char realm[128];         /* empty: take the server's */
	unsigned seconds;        /* of tone, 1..PROBE_SECONDS_MAX */
	unsigned refresh_s;      /* ChannelBind + Refresh this often in a call */
	double tone_hz;
	double tone_dbfs;        /* peak level, full-scale sine = 0 dBFS */
	/* thresholds */
	double max_loss_pct;
	double max_p99_ms;
	double max_jitter_ms;
	double max_freq_err_pct; /* of tone_hz */
	double max_level_err_db; /* from the level that was sent */
	bool json;
};

/* The checks, in report order; bit i of probe_report.failed_mask is check i. */
#define PROBE_CHECKS(X) \
	X(LOSS, "loss") \
	X(LATENCY, "latency") \
	X(JITTER, "jitter") \
	X(FREQUENCY, "frequency") \
	X(LEVEL, "level") \
	X(REFRESH, "refresh")

enum probe_check {
#define PROBE_CHECK_ENUM(id, name) PROBE_CHECK_##id,
	PROBE_CHECKS(PROBE_CHECK_ENUM)
#undef PROBE_CHECK_ENUM
	PROBE_CHECK_N
};

struct probe_report {
	char realm[128];         /* the one used (printable ASCII only) */
	struct sotto_addr relayed[2]; /* A's, B's */
	double setup_ms;         /* first Allocate to the last ChannelBind answer */
	unsigned requests;       /* STUN transactions started */
	unsigned retransmits;

	uint64_t sent;           /* RTP packets A sent */
	uint64_t received;       /* distinct ones B got on its channel */
	uint64_t lost;
	double loss_pct;
	uint64_t duplicates;
	uint64_t stray;          /* datagrams that were none of ours */
	uint64_t tx_errors;      /* sends the kernel refused */
	unsigned fec_frames;     /* lost frames rebuilt from the next one's FEC */
	unsigned plc_frames;     /* lost frames concealed without it */

	double lat_p50_ms;
	double lat_p99_ms;
	double lat_max_ms;
	double jitter_ms;        /* RFC 3550 §6.4.1 J at the end of the call */

	double sent_hz;          /* dominant frequency of the PCM encoded */
	double sent_dbfs;
	double freq_hz;          /* ... and of the PCM decoded */
	double level_dbfs;

	unsigned failed_mask;    /* 1 << enum probe_check */
	bool pass;
	char failed[512];        /* what failed, "; "-separated, for people */
	char refresh_error[160]; /* the first refresh during the call that failed */

	/* when probe_run() returns < 0 */
	char error[256];
	bool local_error;        /* on this host (memory, codec), not the server */
};

void probe_opts_default(struct probe_opts *o);

/*
 * Places the call described by o and fills r. Returns 0 when the call ran
 * (r->pass says whether it met the thresholds), or -errno when it could not
 * be set up: r->error says why and r->local_error whether the cause is here
 * rather than the server. Allocations made are deleted before returning.
 */
int probe_run(const struct probe_opts *o, struct probe_report *r);

/*
 * `sottoctl probe [options]`: argv[0] is "probe". Parses, runs, prints the
 * report (stdout) or the error (stderr) and returns the exit code
 * (PROBE_EXIT_*).
 */
int probe_main(int argc, char **argv);

#endif
