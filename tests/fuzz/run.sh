#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Builds every libFuzzer target with clang and runs each for N seconds.
#   tests/fuzz/run.sh [seconds] [target...]     (default: 60, all targets)
# New inputs go to build-fuzz/corpus/<target>; the seed corpus in the tree is
# only read. Crashes are left as build-fuzz/crash-* with the target's name.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$top/build-fuzz}
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=$*
if [ -z "$targets" ]; then
	for f in "$here"/fuzz_*.c; do
		f=${f##*/fuzz_}
		targets="$targets ${f%.c}"
	done
fi
cc=${CC:-clang}
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

mkdir -p "$out"
for t in $targets; do
	echo "== fuzz_$t: building"
	# shellcheck disable=SC2086
	$cc $flags -I"$top/dataplane" -I"$top/signaling" -I"$top/control" \
		"$here/fuzz_$t.c" \
		"$top/dataplane/stun.c" "$top/dataplane/addr.c" "$top/dataplane/srtp.c" \
		"$top/signaling/sdp_policy.c" "$top/signaling/sig_token.c" \
		"$top/control/gw_sdp.c" "$top/control/dtls.c" \
		-ljansson -lssl -lcrypto -o "$out/fuzz_$t"
	mkdir -p "$out/corpus/$t"
	echo "== fuzz_$t: running ${secs}s"
	# SDPs from a browser with video and data run past 4 KiB
	max_len=4096
	case $t in sdp | gw_sdp) max_len=16384 ;; esac
	(cd "$out" && "./fuzz_$t" -max_total_time="$secs" -max_len=$max_len \
		-artifact_prefix="$out/crash-$t-" \
		"$out/corpus/$t" "$here/corpus/$t")
done
echo "== no findings"
