#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# dp_fastpath cost: the benchmark RUNS times natively (median of the runs'
# medians per mode), then once under callgrind for instructions per packet,
# which a noisy machine does not change.
#
#   perf/fastpath/run.sh [-b BUILD_DIR] [-- bench options]
#
# Environment: RUNS (3), PACKETS (1000000 per mode and repetition),
# CG_PACKETS (200000 per mode under callgrind), CG_DIR (kept callgrind
# output; a temporary directory by default).
set -eu

. "$(dirname "$0")/../lib/lib.sh"

pl_bench_args fastpath "$@"
set -- "${pl_args[@]}"

runs=${RUNS:-3}
packets=${PACKETS:-1000000}
cg_packets=${CG_PACKETS:-200000}
modes="c2p p2c_chan p2c_di mixed"

echo "machine: $(pl_cpu_model), $(nproc) cpus"
echo

results=()
for i in $(seq "$runs"); do
	echo "== native run $i/$runs: $bench -p $packets $*"
	# bounded: a run is about 20 s at the defaults
	out=$(timeout 120 "$bench" -p "$packets" "$@")
	echo "$out" | grep -v '^RESULT'
	results+=("$(echo "$out" | grep '^RESULT')")
	echo
done

# median over runs of each mode's cycles, ns and Mpps

echo "== median of $runs runs (each the median of its repetitions)"
printf '%-10s %10s %10s %12s\n' mode cyc/pkt ns/pkt Mpps/worker
summary="RESULT runs=$runs"
for m in $modes; do
	c=$(printf '%s\n' "${results[@]}" | pl_field "${m}_cycles" | pl_median 2)
	[ -n "$c" ] || continue
	n=$(printf '%s\n' "${results[@]}" | pl_field "${m}_ns" | pl_median 2)
	p=$(printf '%s\n' "${results[@]}" | pl_field "${m}_mpps" | pl_median 2)
	printf '%-10s %10s %10s %12s\n' "$m" "$c" "$n" "$p"
	summary="$summary ${m}_cycles=$c ${m}_ns=$n ${m}_mpps=$p"
done
echo

if ! command -v valgrind > /dev/null; then
	echo "$summary"
	echo "valgrind not installed: no instructions per packet" >&2
	exit 0
fi

cgdir=${CG_DIR:-$(mktemp -d /tmp/bench_fastpath_cg.XXXXXX)}
mkdir -p "$cgdir"
echo "== callgrind: only dp_fastpath and what it calls is counted ($cgdir)"
# the benchmark dumps after the warm-up and after each mode, naming the
# dump "mode=M packets=N"
timeout 120 valgrind --tool=callgrind --toggle-collect=dp_fastpath \
	--callgrind-out-file="$cgdir/callgrind.out.%p" \
	"$bench" -p "$cg_packets" -r 1 -w 32768 "$@" > "$cgdir/bench.out" \
	2> "$cgdir/valgrind.err" ||
	{ echo "callgrind run failed, see $cgdir" >&2; exit 1; }

printf '%-10s %10s %14s %10s\n' mode packets Ir Ir/pkt
for f in "$cgdir"/callgrind.out.*.*; do
	desc=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
	m=$(echo "$desc" | pl_field mode)
	n=$(echo "$desc" | pl_field packets)
	ir=$(sed -n 's/^totals: *//p; s/^summary: *//p' "$f" | head -1)
	[ -n "$m" ] && [ "$m" != warmup ] && [ "${n:-0}" -gt 0 ] || continue
	ipp=$(awk -v i="$ir" -v n="$n" 'BEGIN { printf "%.1f", i / n }')
	printf '%-10s %10s %14s %10s\n' "$m" "$n" "$ir" "$ipp"
	summary="$summary ${m}_ir=$ipp"
	# where the instructions go, per function (inlined code by header)
	callgrind_annotate --threshold=100 --auto=no "$f" 2> /dev/null |
		grep -E '^ *[0-9,]+ \(' |
		grep -vE 'PROGRAM TOTALS|below main|libc_start|0x0000' |
		sed 's/^/             /' > "$cgdir/$m.functions"
done
echo
for m in $modes; do
	[ -s "$cgdir/$m.functions" ] || continue
	echo "-- $m, Ir by function:"
	cat "$cgdir/$m.functions"
done
echo
echo "$summary"
