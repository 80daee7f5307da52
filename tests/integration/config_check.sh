#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Config validation: `sottod --check-config` accepts the shipped and the
# embedded config and the ones these tests generate; on a bad file it exits
# non-zero and names every error as "file:line:col:"; the daemon refuses to
# start on a bad or missing config and binds nothing; a second daemon on a
# port in use refuses to start.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "config checks"
only_driver udp "config checks do not depend on the driver"

repo=$(cd "$(dirname "$0")/../.." && pwd)

# check_config NAME WANT_STATUS(0|nonzero) ARGS...: sets CC_OUT (stderr+stdout).
check_config() {
	local name=$1 want=$2 rc
	shift 2
	CC_OUT="$T_DIR/check-$name.txt"
	timeout 30 "$SOTTOD" --check-config "$@" >"$CC_OUT" 2>&1
	rc=$?
	if [ "$rc" -eq 124 ]; then
		check_fail "$name: --check-config hung"
	elif [ "$want" = 0 ] && [ "$rc" -ne 0 ]; then
		cat "$CC_OUT" >&2
		check_fail "$name: --check-config exit $rc, want 0"
	elif [ "$want" != 0 ] && [ "$rc" -eq 0 ]; then
		cat "$CC_OUT" >&2
		check_fail "$name: --check-config exit 0, want non-zero"
	else
		log "ok: $name: --check-config exit $rc"
	fi
}

check_config shipped 0 -c "$repo/configs/sotto.yaml"
check_config embedded 0
gen="$T_DIR/generated.yaml"
write_config "$gen" 34900 52600 52999 1
check_config generated 0 -c "$gen"

# Two errors on known lines: an unknown key (line 5) and a bad value (line 9).
bad="$T_DIR/bad.yaml"
cat >"$bad" <<'YAML'
log_level: info
turn:
  listen:
    - 127.0.0.1:34900
  no_such_key: 1
  relay:
    addresses:
      - 127.0.0.1
    port_min: not-a-number
    port_max: 52999
YAML
check_config bad nonzero -c "$bad"
grep -Eq "^$bad:5:[0-9]+:" "$CC_OUT" ||
	{ cat "$CC_OUT" >&2; check_fail "bad: no '$bad:5:COL:' error for the unknown key"; }
grep -Eq "^$bad:9:[0-9]+:" "$CC_OUT" ||
	{ cat "$CC_OUT" >&2; check_fail "bad: no '$bad:9:COL:' error for the bad port_min (all errors must be reported)"; }

# Broken YAML syntax.
broken="$T_DIR/broken.yaml"
printf 'turn:\n  listen: [127.0.0.1:34900\n' >"$broken"
check_config broken nonzero -c "$broken"
grep -Eq "^$broken:[0-9]+:[0-9]+:" "$CC_OUT" ||
	{ cat "$CC_OUT" >&2; check_fail "broken: no '$broken:LINE:COL:' error"; }

check_config missing nonzero -c "$T_DIR/does-not-exist.yaml"

# The daemon itself must refuse to start on the bad config, quickly, and
# must not bind its listen port.
port=$(free_port 34900) || exit 1
sed "s/34900/$port/" "$bad" >"$T_DIR/bad-run.yaml"
timeout 20 "$SOTTOD" -c "$T_DIR/bad-run.yaml" >"$T_DIR/bad-run.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
	cat "$T_DIR/bad-run.txt" >&2
	check_fail "sottod started on a bad config (exit $rc, want non-zero and prompt)"
else
	log "ok: sottod refused the bad config (exit $rc)"
fi
grep -Eq "bad-run.yaml:5:[0-9]+:" "$T_DIR/bad-run.txt" ||
	{ cat "$T_DIR/bad-run.txt" >&2; check_fail "sottod did not say where the bad config is wrong"; }
udp_port_busy "$port" && check_fail "port $port bound after a refused start"

# A second sottod on a port the first one holds must fail to start, not
# share it: the listeners use SO_REUSEPORT among workers (docs/security.md
# T12). The first one keeps answering.
server_start "$port" 52600 52799 0
twin="$T_DIR/twin.yaml"
write_config "$twin" "$port" 52800 52999 0
timeout 20 "$SOTTOD" -c "$twin" >"$T_DIR/twin.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
	cat "$T_DIR/twin.txt" >&2
	check_fail "a second sottod started on port $port (exit $rc)"
else
	log "ok: a second sottod on port $port refused to start (exit $rc)"
fi
grep -q "cannot listen" "$T_DIR/twin.txt" ||
	{ cat "$T_DIR/twin.txt" >&2; check_fail "the second sottod did not say why it stopped"; }
stun_binding "$T_SRV4" "$port" || check_fail "the first sottod stopped answering on $port"
server_stop TERM

lib_done
