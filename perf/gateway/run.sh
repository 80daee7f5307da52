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

. "$(dirname "$0")/../lib/lib.sh"

pl_bench_args gateway "$@"
set -- "${pl_args[@]}"

runs=${RUNS:-3}
packets=${PACKETS:-200000}
pl_pin_to "${CPU:-1}"
pin=("${pl_pin[@]}")

echo "machine: $(pl_cpu_model), $(nproc) cpus, $(uname -r); load: $(pl_loadavg)"
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

echo "== median of $runs runs"
printf '%-5s %5s %8s %9s %11s %11s\n' prof room out/in cyc/in Mpps_in/w Mpps_out/w
summary="RESULT runs=$runs"
for p in gcm cm; do
	for r in 3 10 50; do
		k=${p}_${r}
		c=$(printf '%s\n' "${results[@]}" | pl_field "${k}_cyc_in" | pl_median 3)
		[ -n "$c" ] || continue
		f=$(printf '%s\n' "${results[@]}" | pl_field "${k}_out_per_in" | pl_median 3)
		i=$(printf '%s\n' "${results[@]}" | pl_field "${k}_mpps_in" | pl_median 3)
		o=$(printf '%s\n' "${results[@]}" | pl_field "${k}_mpps_out" | pl_median 3)
		printf '%-5s %5s %8s %9s %11s %11s\n' "$p" "$r" "$f" "$c" "$i" "$o"
		summary="$summary ${k}_cyc_in=$c ${k}_mpps_in=$i ${k}_mpps_out=$o"
	done
done
echo
echo "$summary"
