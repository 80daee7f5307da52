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

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
while [ $# -gt 0 ]; do
	case "$1" in
	-b) build=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-- bench options]" >&2; exit 2 ;;
	esac
done

bench=$build/perf/srtp/bench_srtp
if [ ! -x "$bench" ]; then
	tmp=$(mktemp -d /tmp/bench_srtp.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	bench=$tmp/bench_srtp
	echo "== no $build/perf/srtp/bench_srtp: compiling into $tmp"
	# shellcheck disable=SC2046
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
		-I"$top/dataplane/wire" "$top/perf/srtp/bench_srtp.c" \
		"$top/dataplane/srtp.c" \
		$(pkg-config --cflags --libs libcrypto libsrtp2) -o "$bench"
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "machine: $cpu, $(nproc) cpus, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
pin=()
if command -v taskset > /dev/null && [ "$(nproc)" -gt 1 ]; then
	pin=(taskset -c "${CPU:-1}")
fi
# bounded: a run is about 45 s at the defaults
timeout 600 "${pin[@]}" "$bench" -n "${PACKETS:-20000}" -r "${REPS:-9}" "$@"
