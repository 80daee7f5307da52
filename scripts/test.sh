#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# THE test command (CI runs it through .ci/run):
#
#   1. scripts/deps.sh (Debian packages)
#   2. build/       normal build      → meson test suites unit, integration
#   3. build-asan/  ASan+UBSan build  → meson test suites unit, integration,
#                   without the dpdk, browser and load suites
#   4. build-fuzz/  clang + libFuzzer → meson test suite fuzz
#   5. a summary whose last line is "N passed, N failed" (", N skipped" when
#      there are skips). With CI=true a skipped test counts as failed, with
#      its reason printed: CI has every dependency, so a skip hides a gap.
#
# Exits non-zero if anything failed (a failed build counts as one failure).
#
# Sanitizer settings for build-asan/: leak detection is ON
# (detect_leaks=1). sottod calls rte_eal_cleanup() on shutdown, so what the
# EAL allocates is released; any DPDK-internal allocation that is not is
# listed in tests/integration/lsan.supp (today only libxdp's, from the
# AF_XDP driver; suppressed by library, not disabled wholesale), so leaks in
# sotto's own code still fail the run —
# both in the unit tests and in sottod's exit status checked by the
# integration tests after SIGTERM. UBSan halts on the first error.
#
# Environment: SOTTO_TEST_SKIP_DEPS=1 skips step 1 (offline re-runs);
# SOTTO_TEST_BUILDS="normal asan fuzz" picks which builds to run.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)

builds=${SOTTO_TEST_BUILDS:-normal asan fuzz}
work=$(mktemp -d "${TMPDIR:-/tmp}/sotto-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"
: >"$results"
start=$(date +%s)

note() { printf '=== %s\n' "$*" >&2; }

# record KIND NAME STATUS DETAIL: a result not from meson (builds).
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"; }

if [ "${SOTTO_TEST_SKIP_DEPS:-0}" != 1 ]; then
	note "deps"
	if ! scripts/deps.sh; then
		record deps deps.sh FAIL "scripts/deps.sh failed"
	fi
fi

# run_suites BUILD DIR SUITE... [-SUITE...]: meson test in DIR, leaving out
# the -SUITEs; results go to the list.
run_suites() {
	local build=$1 dir=$2
	shift 2
	local args=() s
	for s in "$@"; do
		case $s in
		-*) args+=(--no-suite "${s#-}") ;;
		*) args+=(--suite "$s") ;;
		esac
	done
	local logbase="testlog-sotto-$build"
	rm -f "$dir/meson-logs/$logbase.json"
	note "test: $build ($*)"
	meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
		--logbase "$logbase" "${args[@]}"
	printf 'meson\t%s\t%s\t%s\n' "$build" "$dir/meson-logs/$logbase.json" "$*" >>"$results"
}

for b in $builds; do
	case $b in
	normal) dir=build suites=(unit integration) ;;
	# the dpdk driver's own code (l2l3.c) has sanitized unit tests;
	# browser and load tests add time, not sotto code paths (see
	# tests/integration/meson.build)
	asan) dir=build-asan suites=(unit integration -dpdk -browser -load) ;;
	fuzz) dir=build-fuzz suites=(fuzz) ;;
	*)
		record build "$b" FAIL "unknown build '$b'"
		continue
		;;
	esac
	note "build: $b"
	if ! scripts/build.sh "$b"; then
		record build "$b" FAIL "build failed (see output above)"
		continue
	fi
	if [ "$b" = asan ]; then
		ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:print_summary=1:detect_stack_use_after_return=0" \
			LSAN_OPTIONS="suppressions=$repo/tests/integration/lsan.supp:print_suppressions=0" \
			UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1" \
			run_suites "$b" "$dir" "${suites[@]}"
	else
		run_suites "$b" "$dir" "${suites[@]}"
	fi
done

elapsed=$(($(date +%s) - start))
CI=${CI:-} ELAPSED=$elapsed /usr/bin/python3 - "$results" <<'PY'
import json, os, sys

ci = os.environ.get("CI", "").lower() in ("true", "1", "yes")
passed, failed, skipped = 0, 0, 0
lines = []          # per-run tallies
problems = []       # failed and skipped tests with reasons

def reason(entry):
    out = ((entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")).splitlines()
    for ln in out:
        if "SKIP:" in ln:
            return ln.strip()
    for ln in out:
        if "skip" in ln.lower():
            return ln.strip()
    return "no reason printed"

for row in open(sys.argv[1]):
    kind, name, status, detail = row.rstrip("\n").split("\t", 3)
    if kind != "meson":
        failed += 1
        problems.append("FAIL  %s %s: %s" % (kind, name, detail))
        continue
    build, path, suites = name, status, detail
    entries = []
    try:
        with open(path) as f:
            entries = [json.loads(l) for l in f if l.strip()]
    except OSError:
        pass
    if not entries:
        failed += 1
        problems.append("FAIL  %s [%s]: no tests ran" % (build, suites))
        continue
    # names read "project:suite / test"
    def suite_of(e):
        return e.get("name", "").split(" / ")[0].split(":")[-1]
    for s in [s for s in suites.split() if not s.startswith("-")]:
        if not any(suite_of(e) == s for e in entries):
            failed += 1
            problems.append("FAIL  %s: suite '%s' has no tests" % (build, s))
    p = f_ = sk = 0
    for e in entries:
        r = e.get("result", "")
        tname = "%s/%s" % (build, e.get("name", "?"))
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            why = reason(e)
            if ci:
                f_ += 1
                problems.append("FAIL  %s: skipped in CI (%s)" % (tname, why))
            else:
                sk += 1
                problems.append("SKIP  %s: %s" % (tname, why))
        else:
            f_ += 1
            problems.append("FAIL  %s: %s (exit %s)" % (tname, r, e.get("returncode")))
    lines.append("%-7s %s: %d passed, %d failed%s" % (
        build, suites, p, f_, ", %d skipped" % sk if sk else ""))
    passed += p
    failed += f_
    skipped += sk

print()
print("=== summary (%s s)" % os.environ.get("ELAPSED", "?"))
for l in lines:
    print(l)
for pr in problems:
    print(pr)
last = "%d passed, %d failed" % (passed, failed)
if skipped:
    last += ", %d skipped" % skipped
print(last)
sys.exit(1 if failed else 0)
PY
