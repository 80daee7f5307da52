#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# dp_gw_input cost: the benchmark RUNS times (each the median of its
# repetitions), then the median over runs per profile and room size.
#
#   perf/gateway/run.sh [-b BUILD_DIR] [-- bench options]
#
# Environment: RUNS (3), PACKETS (200000 input packets per repetition).
# Pinned to CPU ${CPU:-1} with taskset when there is more than one.
set -eu

build=build
while [ $# -gt 0 ]; do
	case "$1" in
	-b) build=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-- bench options]" >&2; exit 2 ;;
	esac
done
bench=$build/perf/gateway/bench_gateway
if [ ! -x "$bench" ]; then
	echo "$0: no $bench; build first (ninja -C $build)" >&2
	exit 1
fi

runs=${RUNS:-3}
packets=${PACKETS:-200000}
pin=()
if command -v taskset > /dev/null && [ "$(nproc)" -gt 1 ]; then
	pin=(taskset -c "${CPU:-1}")
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "machine: $cpu, $(nproc) cpus, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

results=()
for i in $(seq "$runs"); do
	echo "== run $i/$runs: ${pin[*]} $bench -p $packets $*"
	# bounded: a run is about 30 s on an idle machine at the defaults
	out=$(timeout 600 "${pin[@]}" "$bench" -p "$packets" "$@")
	echo "$out" | grep -v '^RESULT'
	results+=("$(echo "$out" | grep '^RESULT')")
	echo
done

median() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
	else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

echo "== median of $runs runs"
printf '%-5s %5s %8s %9s %11s %11s\n' prof room out/in cyc/in Mpps_in/w Mpps_out/w
summary="RESULT runs=$runs"
for p in gcm cm; do
	for r in 3 10 50; do
		k=${p}_${r}
		c=$(printf '%s\n' "${results[@]}" | field "${k}_cyc_in" | median)
		[ -n "$c" ] || continue
		f=$(printf '%s\n' "${results[@]}" | field "${k}_out_per_in" | median)
		i=$(printf '%s\n' "${results[@]}" | field "${k}_mpps_in" | median)
		o=$(printf '%s\n' "${results[@]}" | field "${k}_mpps_out" | median)
		printf '%-5s %5s %8s %9s %11s %11s\n' "$p" "$r" "$f" "$c" "$i" "$o"
		summary="$summary ${k}_cyc_in=$c ${k}_mpps_in=$i ${k}_mpps_out=$o"
	done
done
echo
echo "$summary"
