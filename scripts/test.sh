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
# Each meson run is checked against what it should have run: a test that
# `meson test --list` names (same suites) but that has no result counts as
# failed, and so does meson exiting other than 0, or 1 with a failed test to
# show for it (killed, crashed, out of its own time: 125, 127, 128+N...).
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
# SOTTO_TEST_BUILDS="normal asan fuzz" picks which builds to run;
# SOTTO_TEST_SUITES="unit" runs those suites instead of each build's own
# (a build's left-out suites stay left out; not allowed with CI=true).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)

# scripts/deps.sh installs axe-core: a browser test that cannot load it
# fails instead of leaving the accessibility check out
export SOTTO_REQUIRE_AXE=1

builds=${SOTTO_TEST_BUILDS:-normal asan fuzz}
work=$(mktemp -d "${TMPDIR:-/tmp}/sotto-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"
: >"$results"
start=$(date +%s)

note() { printf '=== %s\n' "$*" >&2; }

# record KIND NAME STATUS DETAIL: a result not from meson (builds).
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"; }

ci=0
ci_env=${CI:-}
case ${ci_env,,} in true | 1 | yes) ci=1 ;; esac
if [ -n "${SOTTO_TEST_SUITES:-}" ] && [ "$ci" -eq 1 ]; then
	record env SOTTO_TEST_SUITES FAIL "set in CI: every suite must run"
fi

if [ "${SOTTO_TEST_SKIP_DEPS:-0}" != 1 ]; then
	note "deps"
	if ! scripts/deps.sh; then
		record deps deps.sh FAIL "scripts/deps.sh failed"
	fi
fi

# run_suites BUILD DIR SUITE... [-SUITE...]: meson test in DIR, leaving out
# the -SUITEs; results go to the list, with meson's exit status and the
# names of the tests it should run (meson test --list, same suites).
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
	local logbase="testlog-sotto-$build" list="$work/list-$build.txt" rc
	rm -f "$dir/meson-logs/$logbase.json"
	note "test: $build ($*)"
	if ! meson test -C "$dir" --no-rebuild --list "${args[@]}" >"$list"; then
		record build "$build" FAIL "meson test --list $* failed"
		: >"$list"
	fi
	meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
		--logbase "$logbase" "${args[@]}"
	rc=$?
	[ "$rc" -eq 0 ] || note "meson test ($build) exited $rc"
	printf 'meson\t%s\t%s\t%s\t%s\t%s\n' "$build" \
		"$dir/meson-logs/$logbase.json" "$*" "$rc" "$list" >>"$results"
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
	if [ -n "${SOTTO_TEST_SUITES:-}" ]; then
		keep=()
		for s in "${suites[@]}"; do
			case $s in -*) keep+=("$s") ;; esac
		done
		# shellcheck disable=SC2206 # a list of suite names
		suites=($SOTTO_TEST_SUITES "${keep[@]}")
	fi
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

def how(rc):
    return "killed by signal %d" % (rc - 128) if rc > 128 else "exit %d" % rc

for row in open(sys.argv[1]):
    fields = row.rstrip("\n").split("\t")
    kind = fields[0]
    if kind != "meson":
        kind, name, status, detail = row.rstrip("\n").split("\t", 3)
        failed += 1
        problems.append("FAIL  %s %s: %s" % (kind, name, detail))
        continue
    build, path, suites, rc, listfile = fields[1:6]
    rc = int(rc)
    entries = []
    try:
        with open(path) as f:
            for l in f:
                try:
                    entries.append(json.loads(l))
                except ValueError:
                    pass    # a line cut short by a killed meson
    except OSError:
        pass
    try:
        with open(listfile) as f:
            # "project:suite[+suite] / test"; not meson's warnings
            listed = [l.strip() for l in f if " / " in l and not l.startswith("WARNING")]
    except OSError:
        listed = []
    # Every test meson lists must have a result: a test that never ran
    # (meson killed, crashed) must not vanish from the count.
    ran = set(e.get("name", "") for e in entries)
    missing = [n for n in listed if n not in ran]
    extra = sorted(ran - set(listed))
    if len(listed) != len(entries) or missing or extra:
        problems.append("FAIL  %s [%s]: meson listed %d tests and ran %d" % (
            build, suites, len(listed), len(entries)))
    for n in missing:
        problems.append("FAIL  %s/%s: never ran (meson %s)" % (build, n, how(rc)))
    for n in extra:
        problems.append("FAIL  %s/%s: ran but not listed" % (build, n))
    f_ = len(missing) + len(extra)
    if len(entries) > len(ran):
        f_ += 1
        problems.append("FAIL  %s [%s]: a test ran twice" % (build, suites))
    # meson test exits 1 when a test failed; anything else (a signal, its
    # own errors: 125, 127...) is a failure whatever the log says.
    bad = [e for e in entries if e.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP")]
    if rc not in (0, 1) or (rc == 1 and not bad) or (rc == 0 and bad):
        f_ += 1
        problems.append("FAIL  %s [%s]: meson test %s with %d failed test(s)" % (
            build, suites, how(rc), len(bad)))
    if not entries:
        f_ += 1
        problems.append("FAIL  %s [%s]: no tests ran" % (build, suites))
        failed += f_
        lines.append("%-7s %s: 0 passed, %d failed" % (build, suites, f_))
        continue
    # names read "project:suite / test"
    def suite_of(e):
        return e.get("name", "").split(" / ")[0].split(":")[-1].split("+")
    for s in [s for s in suites.split() if not s.startswith("-")]:
        if not any(s in suite_of(e) for e in entries):
            failed += 1
            problems.append("FAIL  %s: suite '%s' has no tests" % (build, s))
    p = sk = 0
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
