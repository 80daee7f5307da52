#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The process's own guards (issue 18): the seccomp filters refuse a system
# call outside the control thread's list (a worker's, made through a test-only
# LD_PRELOAD shim, forbidden_syscall.so), log it and end the process with
# status 159, while SOTTO_SECCOMP=log lets the same call through; and a
# relay address the host does not have stops sottod at start with a line
# naming it, instead of 508s at the first Allocate.
#
#   sandbox.sh SOTTOD SHIM
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
shim=$2
lib_init "$1"
only_sottod "sottod's own guards"
only_driver udp "the guards do not depend on the driver"
[ -f "$shim" ] || fail "no test shim at $shim"

cfg="$T_DIR/sotto.yaml"
write_config "$cfg" 35100 53100 53199 0

# run_shimmed AFTER MODE OUT: sottod with the shim set to make the forbidden
# call AFTER seconds in; returns sottod's status (124: still running at 20 s)
run_shimmed() {
	local after=$1 mode=$2 out=$3
	SOTTO_SECCOMP=$mode SOTTO_TEST_FORBIDDEN_AFTER=$after \
		LD_PRELOAD="$shim" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		timeout 20 "$SOTTOD" -c "$cfg" >"$out" 2>&1
}

out="$T_DIR/forbidden.log"
run_shimmed 3 on "$out"
rc=$?
if [ "$rc" -ne 159 ]; then
	cat "$out" >&2
	check_fail "forbidden call: sottod exited $rc, want 159 (SIGSYS, refused)"
elif ! grep -q 'seccomp: a control thread made forbidden system call 7' "$out"; then
	cat "$out" >&2
	check_fail "forbidden call: no log line naming the control thread and poll (7)"
else
	log "ok: poll (a worker's call) from the control thread refused, logged, status 159"
fi
grep -q 'sottod .* ready' "$out" ||
	check_fail "forbidden call: sottod never got ready before the call"

# the same call in log mode: allowed (the kernel logs it), sottod runs on
out="$T_DIR/logged.log"
run_shimmed 1 log "$out"
rc=$?
if [ "$rc" -ne 124 ]; then
	cat "$out" >&2
	check_fail "log mode: sottod exited $rc; the call must be let through"
else
	log "ok: log mode lets it through"
fi

# a relay address this host does not have (TEST-NET-1: never local)
bad="$T_DIR/bad-relay.yaml"
sed 's/^      - "127\.0\.0\.1"$/      - "192.0.2.1"/' "$cfg" >"$bad"
grep -q '192.0.2.1' "$bad" || fail "could not write the bad-relay config"
out="$T_DIR/bad-relay.log"
timeout 20 "$SOTTOD" -c "$bad" >"$out" 2>&1
rc=$?
if [ "$rc" -ne 1 ]; then
	cat "$out" >&2
	check_fail "unbindable relay: sottod exited $rc, want 1"
elif ! grep -q 'turn.relay.addresses: cannot bind 192.0.2.1' "$out"; then
	cat "$out" >&2
	check_fail "unbindable relay: no line naming 192.0.2.1"
else
	log "ok: unbindable relay address refused at start, named"
fi

lib_done
