#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sottoctl against a running sottod, over the control socket:
#
#   the socket                 -> mode 0600; -s, -c FILE and $SOTTO_CTL_SOCKET
#                                 all reach it
#   status, workers            -> driver udp, 1 worker, sottod's version
#   allocations [--user]       -> lists a running turnutils_uclient's
#                                 allocations, the filter keeps only its user
#   allocation show/kill       -> peers and channels; a killed one is gone;
#                                 an unknown id is exit 1
#   rooms, room show/close     -> a room made with POST /v1/rooms, found by
#                                 its first 8 hex digits, gone once closed
#   credentials issue          -> a username/credential uclient can use
#   drain                      -> POST /v1/rooms and /readyz 503, a new
#                                 Allocate fails, a call set up before goes
#                                 on with nothing lost; undrain restores
#   reload                     -> a good change applies; a broken file is
#                                 refused with file:line:col, the old config
#                                 stays and a call across it loses nothing
#   log-level                  -> status shows the new level
#   every command with --json  -> one JSON document
#   bad usage                  -> exit 2; no answer -> exit 3; daemon
#                                 stopped -> exit 3
#
# Usage: sottoctl.sh SOTTOD SOTTOCTL
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$1"
only_sottod "the control socket"
# The socket and the HTTP API do not depend on the packet driver.
only_driver udp "sottoctl drives the control socket, the same for both drivers"

CTL=${2:-${SOTTOCTL:-}}
[ -n "$CTL" ] || fail "usage: $0 SOTTOD SOTTOCTL (or set SOTTOCTL)"
[ -x "$CTL" ] || fail "not executable: $CTL"
need_cmd curl stat
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not found"

# --- helpers ---------------------------------------------------------------

# ctl NAME ARGS...: runs sottoctl on this test's socket; sets C_RC, C_OUT
# (stdout file), C_ERR (stderr file).
C_N=0
ctl_raw() {
	local name=$1
	shift
	C_N=$((C_N + 1))
	C_OUT="$T_DIR/ctl-$C_N-$name.out"
	C_ERR="$T_DIR/ctl-$C_N-$name.err"
	timeout 30 "$CTL" "$@" >"$C_OUT" 2>"$C_ERR"
	C_RC=$?
	# an exit 1/2/3 that expect_rc wants must not stand in for a sanitized
	# sottoctl that crashed or leaked on its error path
	if sanitizer_report "$C_ERR"; then
		check_fail "$name: a sanitizer report from sottoctl $* (exit $C_RC)"
	fi
	return 0
}
ctl() {
	local name=$1
	shift
	ctl_raw "$name" -s "$SOCK" "$@"
}

show_ctl() {
	log "--- $1: exit $C_RC, stdout:"
	cat "$C_OUT" >&2
	log "--- stderr:"
	cat "$C_ERR" >&2
	log "---"
}

# expect_rc WANT NAME ARGS...: sottoctl must exit WANT; an error (exit 1,
# 2, 3) must say why on stderr with the "sottoctl:" prefix.
expect_rc() {
	local want=$1 name=$2
	shift 2
	ctl "$name" "$@"
	if [ "$C_RC" -ne "$want" ]; then
		show_ctl "$name"
		check_fail "$name: sottoctl $*: exit $C_RC, want $want"
		return 1
	fi
	if [ "$want" -ne 0 ] && ! grep -q '^sottoctl: ' "$C_ERR"; then
		show_ctl "$name"
		check_fail "$name: exit $want without a \"sottoctl: \" message"
		return 1
	fi
	return 0
}

# expect_json NAME ARGS...: exit 0 and stdout one JSON document (kept in
# C_OUT for json_check).
expect_json() {
	local name=$1
	shift
	expect_rc 0 "$name" --json "$@" || return 1
	if ! "$PY" -c 'import json,sys; json.load(sys.stdin)' <"$C_OUT"; then
		show_ctl "$name"
		check_fail "$name: --json output is not one JSON document"
		return 1
	fi
	return 0
}

# json_check NAME EXPR [ARG]: EXPR (Python, d = the document in C_OUT,
# a = ARG) must hold.
json_check() {
	local name=$1 expr=$2 arg=${3:-}
	if ! "$PY" -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
a = sys.argv[3]
sys.exit(0 if eval(sys.argv[2]) else 1)
' "$C_OUT" "$expr" "$arg"; then
		show_ctl "$name"
		check_fail "$name: want $expr (a = '$arg')"
		return 1
	fi
	return 0
}

# json_get EXPR: prints EXPR evaluated on the document in C_OUT.
json_get() {
	"$PY" -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
print(eval(sys.argv[2]))
' "$C_OUT" "$1"
}

# out_has NAME REGEX: the human output (C_OUT) must match.
out_has() {
	if ! grep -Eq -- "$2" "$C_OUT"; then
		show_ctl "$1"
		check_fail "$1: no line matching /$2/ in the output"
		return 1
	fi
	return 0
}

# uc_bg NAME ARGS...: a turnutils_uclient in the background; UC_PID.
uc_bg() {
	local name=$1
	shift
	spawn "$T_DIR/$name.log" timeout "$T_TIMEOUT" turnutils_uclient "$@"
	UC_PID=$SPAWN_PID
}

# uc_bg_expect_ok NAME PID: waits for a uc_bg run; it must have delivered
# every message.
uc_bg_expect_ok() {
	local name=$1 pid=$2
	wait "$pid"
	UC_RC=$?
	UC_LOG="$T_DIR/$name.log"
	uclient_counts
	if [ "$UC_RC" -ne 0 ] || [ -z "$UC_SENT" ] || [ -z "$UC_LOST" ] ||
		[ "$UC_SENT" -eq 0 ] || [ "$UC_RECV" -ne "$UC_SENT" ] ||
		[ "$UC_LOST" -ne 0 ]; then
		show_uclient_log
		server_alive || show_server_log
		check_fail "$name: want exit 0 and all messages back; got exit $UC_RC, sent ${UC_SENT:-?}, received ${UC_RECV:-?}, lost ${UC_LOST:-?}"
		return 1
	fi
	log "ok: $name: sent $UC_SENT, received $UC_RECV, lost 0"
}

# wait_allocs USER N: up to 10 s for USER to hold at least N allocations;
# leaves the --json list in C_OUT.
wait_allocs() {
	local user=$1 n=$2 i
	for ((i = 0; i < 50; i++)); do
		ctl "wait-$user" --json allocations --user "$user"
		if [ "$C_RC" -eq 0 ] &&
			[ "$(json_get 'len(d["allocations"])' 2>/dev/null)" -ge "$n" ] 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	show_ctl "allocations --user $user"
	check_fail "$user: fewer than $n allocations listed after 10 s"
	return 1
}

# http METHOD PATH [BODY]: sets H_CODE, H_BODY (file).
H_N=0
http() {
	H_N=$((H_N + 1))
	H_BODY="$T_DIR/http-$H_N.body"
	local args=(-s -o "$H_BODY" -w '%{http_code}' --max-time 10 -X "$1")
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' -d "$3")
	H_CODE=$(curl "${args[@]}" "http://127.0.0.1:$HPORT$2") || H_CODE=000
}

# --- the daemon ------------------------------------------------------------

port=$(free_port 34860) || exit 1
HPORT=$(free_tcp_port 18480) || exit 1
SOCK="$T_DIR/ctl.sock"
CFG="$T_DIR/sotto.yaml"

# write_config's file, then HTTP with anonymous rooms (curl sends no
# Origin), no metrics listener and the control socket in the test dir.
write_sotto_config() {
	local level=$1
	write_config "$CFG.new" "$port" 51000 51499 0
	# write_config may name a metrics listener and a socket of its own:
	# drop those sections for this test's
	awk -v level="$level" '
		/^[^ #]/ { skip = ($1 == "metrics:" || $1 == "control:") }
		/^log_level:/ { print "log_level: " level; next }
		!skip { print }
	' "$CFG.new" >"$CFG.tmp"
	mv "$CFG.tmp" "$CFG.new"
	cat >>"$CFG.new" <<EOF
http:
  listen:
    - "127.0.0.1:$HPORT"
signaling:
  anonymous_rooms: true
  allow_no_origin: true
  rooms_per_ip_per_minute: 1000
metrics:
  listen: ""
control:
  socket: "$SOCK"
EOF
	mv "$CFG.new" "$CFG"
}
write_sotto_config info
"$SOTTOD" --check-config -c "$CFG" >"$T_DIR/check.out" 2>&1 || {
	cat "$T_DIR/check.out" >&2
	fail "sottod --check-config refuses the generated config"
}
SERVER_LOG="$T_DIR/server.log"
T_PORT=$port
spawn "$SERVER_LOG" "$SOTTOD" -c "$CFG"
SERVER_PID=$SPAWN_PID
wait_stun "$T_SRV4" "$port"
for ((i = 0; i < 50; i++)); do
	[ -S "$SOCK" ] && break
	sleep 0.1
done
[ -S "$SOCK" ] || { show_server_log; fail "no control socket at $SOCK"; }

# --- the socket and how sottoctl finds it ----------------------------------

mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] || check_fail "control socket mode $mode, want 600"
owner=$(stat -c %u "$SOCK")
[ "$owner" = "$(id -u)" ] || check_fail "control socket owner $owner, want $(id -u)"

ctl_raw status-config -c "$CFG" status
[ "$C_RC" -eq 0 ] || { show_ctl status-config; check_fail "-c CONFIG: exit $C_RC"; }
# A deployment may give sottod its secret in its environment only: the
# operator's sottoctl -c reads the same file without it.
awk '/^  auth:$/ { skip = 1; next } skip && /^    / { next } { skip = 0; print }' \
	"$CFG" >"$T_DIR/nosecret.yaml"
ctl_raw check-nosecret check-config "$T_DIR/nosecret.yaml"
if ! { [ "$C_RC" -eq 1 ] && grep -q 'no TURN secret' "$C_ERR"; }; then
	show_ctl check-nosecret
	check_fail "the copy of the config without a secret still has one"
fi
ctl_raw status-nosecret -c "$T_DIR/nosecret.yaml" status
[ "$C_RC" -eq 0 ] || { show_ctl status-nosecret; check_fail "-c CONFIG without a TURN secret: exit $C_RC"; }
SOTTO_CTL_SOCKET=$SOCK ctl_raw status-env status
[ "$C_RC" -eq 0 ] || { show_ctl status-env; check_fail "\$SOTTO_CTL_SOCKET: exit $C_RC"; }

# --- status, workers -------------------------------------------------------

version=$("$SOTTOD" --version | awk '{print $2}')
if expect_rc 0 status status; then
	out_has status '^driver: +udp$'
	out_has status '^workers: +1$'
	out_has status "^version: +$version\$"
	out_has status '^uptime: +[0-9]+(s|m[0-9]{2}s)$'
fi
if expect_json status-json status; then
	json_check status-json 'd["driver"] == "udp" and d["workers"] == 1'
	json_check status-json 'd["version"] == a' "$version"
	json_check status-json 'd["draining"] is False and d["log_level"] == "info"'
	json_check status-json 'isinstance(d["uptime_s"], int) and d["uptime_s"] >= 0'
	json_check status-json 'all(k in d for k in ("allocations", "permissions", "channels", "rooms", "participants", "ws_connections", "http_connections"))'
	json_check status-json 'set(d["relayed_packets"]) == {"to_peer", "to_client"} and set(d["relayed_bytes"]) == {"to_peer", "to_client"}'
	# nothing has connected over HTTP yet: sottoctl's own connection to
	# the control socket is not an HTTP one
	json_check status-json 'd["http_connections"] == 0 and d["ws_connections"] == 0'
	json_check status-json 'd["allocations"] == 0 and d["rooms"] == 0'
fi
# --json before or after the command
expect_json status-json-after status && ctl status-json-after2 status --json &&
	json_check status-json-after2 'd["driver"] == "udp"'

if expect_rc 0 workers workers; then
	out_has workers '^ID +RX/s +TX/s +BUSY%'
	out_has workers '^ +0 '
fi
if expect_json workers-json workers; then
	json_check workers-json 'len(d["workers"]) == 1'
	json_check workers-json 'all(0 <= w["busy_ratio"] <= 1 and w["rx_pps"] >= 0 and w["tx_pps"] >= 0 for w in d["workers"])'
	json_check workers-json 'all(k in d["workers"][0] for k in ("id", "rx_packets", "tx_packets"))'
fi

# --- allocations -----------------------------------------------------------

# A pair of clients relaying to each other for ~8 s (400 x 20 ms).
uc_bg uc-alice -y -c -W "$T_SECRET" -u alice -p "$port" -m 1 -n 400 -l 170 -z 20 "$T_SRV4"
alice_pid=$UC_PID
if wait_allocs alice 1; then
	json_check allocs-alice 'all(x["user"] == "alice" for x in d["allocations"])'
	json_check allocs-alice 'all(k in x for x in d["allocations"] for k in ("id", "user", "client", "relayed", "age_s", "expires_in_s", "permissions", "channels"))'
	aid=$(json_get 'd["allocations"][0]["id"]')
	relayed=$(json_get 'd["allocations"][0]["relayed"]')

	if expect_rc 0 allocs allocations; then
		out_has allocs '^ *ID +USER +CLIENT +RELAYED +AGE +EXPIRES +PERMS +CHANS$'
		out_has allocs "^ *$aid +alice +127\\.0\\.0\\.1:[0-9]+ +$relayed "
	fi
	expect_json allocs-all allocations &&
		json_check allocs-all 'any(x["id"] == int(a) for x in d["allocations"])' "$aid"
	expect_json allocs-nobody allocations --user nobody &&
		json_check allocs-nobody 'd["allocations"] == []'
	expect_rc 0 allocs-nobody-human allocations --user nobody &&
		{ grep -q alice "$C_OUT" && check_fail "allocations --user nobody lists alice"; }

	if expect_json alloc-show allocation show "$aid"; then
		json_check alloc-show 'd["id"] == int(a) and d["user"] == "alice"' "$aid"
		json_check alloc-show 'isinstance(d["peers"], list) and isinstance(d["channel_list"], list)'
		json_check alloc-show 'len(d["peers"]) == d["permissions"] and len(d["channel_list"]) == d["channels"]'
		json_check alloc-show 'all(0x4000 <= c["number"] <= 0x7FFF for c in d["channel_list"])'
	fi
	if expect_rc 0 alloc-show-human allocation show "$aid"; then
		out_has alloc-show-human "^id: +$aid\$"
		out_has alloc-show-human "^relayed: +$relayed\$"
	fi
fi
# watching the relay must not disturb it
uc_bg_expect_ok uc-alice "$alice_pid"
# ... and what it relayed is counted, both ways
expect_json status-relayed status &&
	json_check status-relayed 'd["relayed_packets"]["to_peer"] >= int(a) and d["relayed_packets"]["to_client"] >= int(a) and d["relayed_bytes"]["to_peer"] >= 170 * int(a)' "${UC_SENT:-1}"

# allocation kill: the victim's allocations are gone from the list at once.
uc_bg uc-victim -y -c -W "$T_SECRET" -u victim -p "$port" -m 1 -n 1000 -l 170 -z 20 "$T_SRV4"
victim_pid=$UC_PID
if wait_allocs victim 2; then
	vid=$(json_get 'd["allocations"][0]["id"]')
	vid2=$(json_get 'd["allocations"][1]["id"]')
	expect_json kill allocation kill "$vid" &&
		json_check kill 'd["killed"] == int(a)' "$vid"
	expect_json kill-after allocations --user victim &&
		json_check kill-after 'all(x["id"] != int(a) for x in d["allocations"])' "$vid"
	expect_rc 1 kill-show allocation show "$vid"
	expect_rc 1 kill-again allocation kill "$vid"
	if expect_rc 0 kill-human allocation kill "$vid2"; then
		out_has kill-human "$vid2"
	fi
	expect_json kill-after2 allocations --user victim &&
		json_check kill-after2 'all(x["id"] not in (int(a.split()[0]), int(a.split()[1])) for x in d["allocations"])' "$vid $vid2"
	# With all of them killed nothing is relayed any more, though the
	# client goes on sending.
	if expect_json kill-rest allocations --user victim; then
		for id in $(json_get '" ".join(str(x["id"]) for x in d["allocations"])'); do
			expect_rc 0 kill-rest allocation kill "$id"
		done
	fi
	sleep 0.3
	expect_json kill-count1 status
	n1=$(json_get 'd["relayed_packets"]["to_peer"] + d["relayed_packets"]["to_client"]')
	sleep 1
	expect_json kill-count2 status
	n2=$(json_get 'd["relayed_packets"]["to_peer"] + d["relayed_packets"]["to_client"]')
	[ "$n1" = "$n2" ] ||
		check_fail "packets still relayed after every allocation of the client was killed ($n1, then $n2)"
	proc_alive "$victim_pid" ||
		check_fail "the client whose allocations were killed stopped sending early: the check above proves nothing"
fi
proc_alive "$victim_pid" && kill "$victim_pid" 2>/dev/null
wait "$victim_pid" 2>/dev/null

expect_rc 1 alloc-unknown allocation show 999999999
expect_rc 1 alloc-unknown-kill allocation kill 999999999
grep -q '999999999' "$C_ERR" || { show_ctl alloc-unknown-kill; check_fail "unknown allocation: the message does not name the id"; }

# --- rooms -----------------------------------------------------------------

http POST /v1/rooms '{"max_participants": 2}'
if [ "$H_CODE" != 201 ]; then
	cat "$H_BODY" >&2
	check_fail "POST /v1/rooms: HTTP $H_CODE, want 201"
else
	room=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["room"])' <"$H_BODY")
	short=${room:0:8}
	if expect_rc 0 rooms rooms; then
		out_has rooms '^ROOM +MODE +PARTICIPANTS +MAX +LOCKED +AGE +EXPIRES$'
		out_has rooms "^$short +relay +0 +2 +no "
	fi
	expect_json rooms-json rooms &&
		json_check rooms-json '[r for r in d["rooms"] if r["room"] == a][0]["max_participants"] == 2' "$short"
	expect_json room-show room show "$short" &&
		json_check room-show 'd["room"] == a and d["participants"] == 0 and d["peers"] == [] and d["locked"] is False' "$short"
	expect_rc 0 room-show-full room show "$room" && out_has room-show-full "^room: +$short"
	expect_rc 1 room-unknown room show 00000000
	expect_json room-close room close "$short" &&
		json_check room-close 'a.startswith(d["closed"]) or d["closed"].startswith(a)' "$room"
	expect_json rooms-after rooms &&
		json_check rooms-after 'all(r["room"] != a for r in d["rooms"])' "$short"
	expect_rc 1 room-show-closed room show "$short"
	expect_rc 1 room-close-again room close "$short"
	# a second room, closed with the human output
	http POST /v1/rooms '{}'
	if [ "$H_CODE" = 201 ]; then
		room2=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["room"])' <"$H_BODY")
		expect_rc 0 room-close-human room close "$room2" && out_has room-close-human "${room2:0:8}"
	else
		check_fail "second POST /v1/rooms: HTTP $H_CODE"
	fi
fi

# --- credentials -----------------------------------------------------------

before=$(date +%s)
if expect_json creds credentials issue --user carol --ttl 600; then
	json_check creds 'd["username"].endswith(":carol") and len(d["credential"]) > 0'
	json_check creds 'abs(d["expires_at"] - (int(a) + 600)) <= 30' "$before"
	c_user=$(json_get 'd["username"]')
	c_pass=$(json_get 'd["credential"]')
	uclient_expect_ok uc-issued -y -c -u "$c_user" -w "$c_pass" -p "$port" -m 2 -n 20 -l 170 "$T_SRV4"
fi
expect_rc 0 creds-human credentials issue --user carol &&
	out_has creds-human '^username: +[0-9]+:carol$' &&
	out_has creds-human '^credential: +[A-Za-z0-9+/]+=*$'

# --- drain -----------------------------------------------------------------

# A call set up before the drain, still running after the checks below
# (~20 s).
uc_bg uc-steady -y -c -W "$T_SECRET" -u steady -p "$port" -m 1 -n 1000 -l 170 -z 20 "$T_SRV4"
steady_pid=$UC_PID
if wait_allocs steady 2; then
	if expect_json drain drain; then
		json_check drain 'd["draining"] is True and d["allocations"] >= 2'
		json_check drain 'all(isinstance(d[k], int) for k in ("rooms", "participants"))'
	fi
	expect_json drain-status status && json_check drain-status 'd["draining"] is True'
	expect_rc 0 drain-human drain && out_has drain-human 'draining'

	http POST /v1/rooms '{}'
	[ "$H_CODE" = 503 ] || check_fail "POST /v1/rooms while draining: HTTP $H_CODE, want 503"
	http GET /readyz
	[ "$H_CODE" = 503 ] || check_fail "/readyz while draining: HTTP $H_CODE, want 503"
	T_TIMEOUT=30 uclient_expect_nodata uc-drained -y -c -W "$T_SECRET" -u late -p "$port" -m 1 -n 10 -l 170 "$T_SRV4"
	expect_json drain-late allocations --user late &&
		json_check drain-late 'd["allocations"] == []'

	proc_alive "$steady_pid" ||
		check_fail "the call from before the drain ended before the drain checks did (host too slow?)"

	expect_json undrain undrain && json_check undrain 'd["draining"] is False'
	expect_rc 0 undrain-human undrain
	expect_json undrain-status status && json_check undrain-status 'd["draining"] is False'
	http POST /v1/rooms '{}'
	[ "$H_CODE" = 201 ] || check_fail "POST /v1/rooms after undrain: HTTP $H_CODE, want 201"
	http GET /readyz
	[ "$H_CODE" = 200 ] || check_fail "/readyz after undrain: HTTP $H_CODE, want 200"
	uclient_expect_ok uc-undrained -y -c -W "$T_SECRET" -u late -p "$port" -m 1 -n 10 -l 170 "$T_SRV4"
fi
uc_bg_expect_ok uc-steady "$steady_pid"

# --- reload ----------------------------------------------------------------

write_sotto_config warn
expect_json reload reload
expect_json reload-status status && json_check reload-status 'd["log_level"] == "warn"'
write_sotto_config info
expect_rc 0 reload-human reload && out_has reload-human 'reload'

# A broken file while a call runs: refused, nothing changes, the call goes on.
uc_bg uc-reload -y -c -W "$T_SECRET" -u across -p "$port" -m 1 -n 300 -l 170 -z 20 "$T_SRV4"
reload_pid=$UC_PID
wait_allocs across 2
write_sotto_config debug
printf 'no_such_key: 1\n' >>"$CFG"
bad_line=$(wc -l <"$CFG")
if expect_rc 1 reload-bad reload; then
	grep -qF "$CFG:$bad_line:1: error:" "$C_ERR" || {
		show_ctl reload-bad
		check_fail "reload of a broken file: no \"$CFG:$bad_line:1: error:\" line"
	}
fi
ctl reload-bad-json --json reload
[ "$C_RC" -eq 1 ] || { show_ctl reload-bad-json; check_fail "reload --json of a broken file: exit $C_RC, want 1"; }
# log_level debug was in the refused file: the old level stays
expect_json reload-bad-status status && json_check reload-bad-status 'd["log_level"] == "info"'
uc_bg_expect_ok uc-reload "$reload_pid"
write_sotto_config info
expect_rc 0 reload-fixed reload

# --- log-level -------------------------------------------------------------

expect_json log-debug log-level debug && json_check log-debug 'd["log_level"] == "debug"'
expect_json log-status status && json_check log-status 'd["log_level"] == "debug"'
expect_rc 0 log-status-human status && out_has log-status-human '^log_level: +debug$'
expect_rc 0 log-info log-level info && out_has log-info 'info'
expect_json log-status2 status && json_check log-status2 'd["log_level"] == "info"'

# --- check-config (local) --------------------------------------------------

expect_rc 0 check-good check-config "$CFG" && out_has check-good 'configuration OK'
printf 'log_level: loud\n' >"$T_DIR/bad.yaml"
expect_rc 1 check-bad check-config "$T_DIR/bad.yaml" &&
	{ grep -qF "$T_DIR/bad.yaml:1:12: error:" "$C_ERR" ||
		{ show_ctl check-bad; check_fail "check-config: no file:line:col error"; }; }
ctl check-bad-json --json check-config "$T_DIR/bad.yaml"
if [ "$C_RC" -ne 1 ]; then
	show_ctl check-bad-json
	check_fail "check-config --json of a bad file: exit $C_RC, want 1"
else
	json_check check-bad-json 'd["ok"] is False and any(":1:12: error:" in e for e in d["errors"])'
fi

# --- usage errors: exit 2 --------------------------------------------------

for args in "" "frobnicate" "allocation" "allocation show" "allocation show x1" \
	"allocation frob 1" "allocation show 1 2" "room show" "room show xyz" \
	"room close" "log-level" "log-level loud" "credentials issue" \
	"credentials issue --user bob --ttl ten" "credentials issue --user bob --ttl 0" \
	"credentials" "status extra" "allocations --bogus" "--timeout 0 status" \
	"--timeout abc status" "check-config"; do
	# shellcheck disable=SC2086 # word splitting is the point
	ctl usage $args
	if [ "$C_RC" -ne 2 ]; then
		show_ctl usage
		check_fail "sottoctl $args: exit $C_RC, want 2"
	elif [ ! -s "$C_ERR" ]; then
		check_fail "sottoctl $args: exit 2 without a message"
	fi
done
ctl_raw help --help
if ! { [ "$C_RC" -eq 0 ] && grep -q '^usage: sottoctl' "$C_OUT"; }; then
	check_fail "--help: exit $C_RC, want 0 and the usage on stdout"
fi
ctl_raw version --version
if ! { [ "$C_RC" -eq 0 ] && grep -qx "sottoctl $version" "$C_OUT"; }; then
	check_fail "--version: exit $C_RC, \"$(cat "$C_OUT")\", want \"sottoctl $version\""
fi

# --- unreachable: exit 3 ---------------------------------------------------

# A socket nobody accepts on: no answer within --timeout.
spawn "$T_DIR/mute.log" "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
time.sleep(60)
' "$T_DIR/mute.sock"
mute_pid=$SPAWN_PID
for ((i = 0; i < 50; i++)); do
	[ -S "$T_DIR/mute.sock" ] && break
	sleep 0.1
done
t0=$(date +%s)
ctl_raw mute -s "$T_DIR/mute.sock" -t 1 status
t1=$(date +%s)
[ "$C_RC" -eq 3 ] || { show_ctl mute; check_fail "no answer: exit $C_RC, want 3"; }
[ $((t1 - t0)) -le 5 ] || check_fail "no answer: took $((t1 - t0)) s with --timeout 1"
kill "$mute_pid" 2>/dev/null

ctl_raw nosock -s "$T_DIR/nonexistent.sock" status
if ! { [ "$C_RC" -eq 3 ] && grep -qF "cannot reach sottod at $T_DIR/nonexistent.sock" "$C_ERR"; }; then
	show_ctl nosock
	check_fail "no socket: exit $C_RC, want 3 and the path"
fi

server_stop TERM
ctl_raw down -s "$SOCK" status
if ! { [ "$C_RC" -eq 3 ] && grep -qF "cannot reach sottod at $SOCK" "$C_ERR"; }; then
	show_ctl down
	check_fail "daemon stopped: exit $C_RC, want 3 and the path"
fi
ctl_raw down-json -s "$SOCK" --json allocations
[ "$C_RC" -eq 3 ] || { show_ctl down-json; check_fail "daemon stopped, --json: exit $C_RC, want 3"; }

lib_done
