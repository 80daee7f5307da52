#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SRTP cost per packet: libsrtp2 and dataplane/wire/srtp.c beside the cost of the
# same primitives (openssl speed, EVP). Prints one table; see README.md.
#
#   perf/srtp/run.sh [-b BUILD_DIR] [-- bench options]
#
# Uses BUILD_DIR/perf/srtp/bench_srtp if it was built, otherwise compiles
# the benchmark by hand into a temporary directory (cc, pkg-config libcrypto
# libsrtp2). Pinned to CPU ${CPU:-1} with taskset when that is available.
# Environment: PACKETS (20000 per repetition), REPS (9). About 45 s.
set -eu

. "$(dirname "$0")/../lib/lib.sh"

pl_bench_args --optional srtp "$@"
set -- "${pl_args[@]}"
if [ ! -x "$bench" ]; then
	tmp=$(mktemp -d /tmp/bench_srtp.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	echo "== no $bench: compiling into $tmp"
	bench=$tmp/bench_srtp
	# shellcheck disable=SC2046
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
		-I"$pl_root/dataplane/wire" "$pl_root/perf/srtp/bench_srtp.c" \
		"$pl_root/dataplane/wire/srtp.c" \
		$(pkg-config --cflags --libs libcrypto libsrtp2) -o "$bench"
fi

echo "machine: $(pl_cpu_model), $(nproc) cpus, $(uname -r); load: $(pl_loadavg)"
pl_pin_to "${CPU:-1}"
# bounded: a run is about 45 s at the defaults
timeout 600 "${pl_pin[@]}" "$bench" -n "${PACKETS:-20000}" -r "${REPS:-9}" "$@"
