#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Config validation: `sottod --check-config` accepts the shipped and the
# embedded config and the ones these tests generate; on a bad file it exits
# 1 and names every error as "file:line:col:"; the daemon refuses to start
# on a bad or missing config (exit 1) and binds nothing; a second daemon on
# a port in use refuses to start (exit 1). Every refusal is held to its
# exact status and message and to an output free of sanitizer reports
# (expect_exit): in build-asan/ a crash on an error path exits non-zero
# too.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "config checks"
only_driver udp "config checks do not depend on the driver"

repo=$(cd "$(dirname "$0")/../.." && pwd)

# check_config NAME STATUS REGEX ARGS...: sottod --check-config ARGS must
# exit STATUS saying REGEX (expect_exit); sets CC_OUT (stdout and stderr).
check_config() {
	local name=$1 want=$2 re=$3
	shift 3
	expect_exit "check-$name" "$want" "$re" "$SOTTOD" --check-config "$@"
	CC_OUT=$EX_OUT
}
# what sottod says when it refuses a config (control/daemon/main.c)
refused='^sottod: [0-9]+ errors? in the configuration; not starting$'

check_config shipped 0 "^$repo/configs/sotto.yaml: configuration OK\$" \
	-c "$repo/configs/sotto.yaml"
check_config embedded 0 '^<embedded>: configuration OK$'
gen="$T_DIR/generated.yaml"
write_config "$gen" 34900 52600 52999 1
check_config generated 0 ': configuration OK$' -c "$gen"

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
check_config bad 1 "$refused" -c "$bad"
grep -Eq "^$bad:5:[0-9]+:" "$CC_OUT" ||
	{ cat "$CC_OUT" >&2; check_fail "bad: no '$bad:5:COL:' error for the unknown key"; }
grep -Eq "^$bad:9:[0-9]+:" "$CC_OUT" ||
	{ cat "$CC_OUT" >&2; check_fail "bad: no '$bad:9:COL:' error for the bad port_min (all errors must be reported)"; }

# Broken YAML syntax.
broken="$T_DIR/broken.yaml"
printf 'turn:\n  listen: [127.0.0.1:34900\n' >"$broken"
check_config broken 1 "$refused" -c "$broken"
grep -Eq "^$broken:[0-9]+:[0-9]+:" "$CC_OUT" ||
	{ cat "$CC_OUT" >&2; check_fail "broken: no '$broken:LINE:COL:' error"; }

check_config missing 1 "^$T_DIR/does-not-exist.yaml:1:1: error: cannot open: No such file or directory\$" \
	-c "$T_DIR/does-not-exist.yaml"

# The daemon itself must refuse to start on the bad config, quickly, and
# must not bind its listen port.
port=$(free_port 34900) || exit 1
sed "s/34900/$port/" "$bad" >"$T_DIR/bad-run.yaml"
expect_exit bad-run 1 "$refused" "$SOTTOD" -c "$T_DIR/bad-run.yaml"
grep -Eq "bad-run.yaml:5:[0-9]+:" "$EX_OUT" ||
	{ cat "$EX_OUT" >&2; check_fail "sottod did not say where the bad config is wrong"; }
udp_port_busy "$port" && check_fail "port $port bound after a refused start"

# A second sottod on a port the first one holds must fail to start, not
# share it: the listeners use SO_REUSEPORT among workers (docs/security.md
# T12). The first one keeps answering.
server_start "$port" 52600 52799 0
twin="$T_DIR/twin.yaml"
write_config "$twin" "$port" 52800 52999 0
expect_exit twin 1 "cannot listen on $T_SRV4:$port \\(turn.listen\\): Address already in use" \
	"$SOTTOD" -c "$twin"
stun_binding "$T_SRV4" "$port" || check_fail "the first sottod stopped answering on $port"
server_stop TERM

lib_done
