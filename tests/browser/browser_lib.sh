# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# Globals here belong to lib.sh (T_DIR, SERVER_PID, T_PORT) or are read by
# the calling script (B_RC, PROXY_LOG):
# shellcheck disable=SC2034,SC2153
#
# What tests/integration/browser_*.sh share, on top of
# tests/integration/lib.sh: sottod with its HTTP API, signaling and web
# client on loopback, the Python driver (tests/browser/call_test.py) run as
# a tracked process, and the cleanup of every browser it started.
#
#     . "$(dirname "$0")/lib.sh"
#     . "$T_REPO/tests/browser/browser_lib.sh"
#     lib_init "$@"
#     browser_init
#     browser_server_start
#     browser_run call ...
#
# Fixed loopback ports (the integration suite runs one test at a time):
# TURN udp 18378, gateway media udp 18379 (with B_GATEWAY=1), HTTP tcp
# 18380, tamper proxies tcp 18381-18382, relayed addresses udp 50000-50999.
#
# udp driver only, except with B_DPDK=1 (set before browser_init; only
# gateway_browser.sh, registered as dpdk_gateway_browser too): then in dpdk
# mode sottod runs on lib.sh's topology (its namespace, DPDK port on the
# veth), TURN and the gateway on its port's T_SRV4, and the driver and its
# Chromiums in the client namespace (browser_dpdk). sottod's HTTP listener
# is a kernel socket on 127.0.0.1 in its own namespace; the client
# namespace reaches it through tests/browser/netns_tcp_proxy.py on
# 127.0.0.1:B_HTTP_PORT there, so the pages' origin is B_ORIGIN either way.

B_TURN_PORT=18378
# B_GATEWAY=1 (set before browser_server_start): sottod has gateway mode
# on B_GATEWAY_PORT with B_GATEWAY_SLOTS slots and legs ended after
# B_GATEWAY_CONSENT seconds without a valid ICE check.
B_GATEWAY=${B_GATEWAY:-0}
B_GATEWAY_PORT=18379
B_GATEWAY_SLOTS=${B_GATEWAY_SLOTS:-3}
B_GATEWAY_CONSENT=${B_GATEWAY_CONSENT:-30}
# browser_netns (before browser_server_start; root only): sottod, the
# driver and its Chromiums run in a network namespace of their own that
# has nothing but lo, so every address a browser can offer or pair is a
# loopback one. B_EXEC is the prefix that runs a command there (empty
# otherwise): the driver, its browsers and curl. B_SRV_EXEC runs sottod (the
# same but in dpdk mode, where it is sottod's namespace).
B_NS=""
B_EXEC=()
B_SRV_EXEC=()
B_DPDK=${B_DPDK:-0}
# dpdk mode: the HTTP proxy into sottod's namespace and its log.
B_HTTP_PROXY="$T_REPO/tests/browser/netns_tcp_proxy.py"
B_HTTP_PROXY_LOG=""
B_HTTP_PORT=18380
B_RELAY_MIN=50000
B_RELAY_MAX=50999
B_ORIGIN="http://127.0.0.1:$B_HTTP_PORT"
B_PYTHON=/usr/bin/python3
B_DRIVER="$T_REPO/tests/browser/call_test.py"
B_PROXY="$T_REPO/tests/browser/tamper_proxy.py"
B_WEB="$T_REPO/signaling/web"
# How long one run of the driver may take: two Chromiums start in seconds
# on an idle machine, in tens of seconds on a loaded CI box.
B_TIMEOUT=${B_TIMEOUT:-240}
# No __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1

# browser_init: skip unless the browser and the Python packages are here;
# install the cleanup that also ends stray browsers.
browser_init() {
	[ "$B_DPDK" = 1 ] || only_driver udp "the browsers reach sottod on loopback"
	only_sottod "the browser tests need sottod's HTTP API and signaling"
	only_udp_free "$B_TURN_PORT"
	[ "$B_GATEWAY" = 1 ] && only_udp_free "$B_GATEWAY_PORT"
	[ -x "$B_PYTHON" ] || skip "$B_PYTHON not found"
	# The same binaries tests/browser/sotto_browser.py runs.
	local c
	for c in "${SOTTO_CHROMIUM:-/usr/bin/chromium}" "${SOTTO_CHROMEDRIVER:-/usr/bin/chromedriver}"; do
		[ -x "$c" ] || skip "$c not found (Debian packages chromium, chromium-driver)"
	done
	need_cmd curl
	"$B_PYTHON" -c 'import selenium, websockets' 2>/dev/null ||
		skip "python3-selenium or python3-websockets is missing"
	B_DIR="$T_DIR/browser"
	mkdir -p "$B_DIR"
	trap browser_cleanup EXIT
}

only_udp_free() {
	udp_port_busy "$1" && fail "UDP port $1 is already in use"
	return 0
}

tcp_port_busy() {
	[ -n "$("${B_EXEC[@]}" ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# browser_netns: the namespace B_NS (named after this test's pid, so a run
# killed outright is cleaned up by the next), with lo up. Returns 1 (and
# changes nothing) without root or ip(8). lib.sh's client-side helpers
# (wait_stun, udp_port_busy) run there too, through CLI_EXEC.
browser_netns() {
	local f pid
	[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 || return 1
	for f in /run/netns/sotto-brw-[0-9]*; do
		[ -e "$f" ] || continue
		pid=${f##*-}
		[ -d "/proc/$pid" ] && continue
		log "removing the namespace of a dead run: $(basename "$f")"
		browser_netns_down "$(basename "$f")"
	done
	B_NS="sotto-brw-$$"
	ip netns add "$B_NS" || { B_NS=""; return 1; }
	ip netns exec "$B_NS" ip link set lo up ||
		{ browser_netns_down "$B_NS"; B_NS=""; return 1; }
	B_EXEC=(ip netns exec "$B_NS")
	B_SRV_EXEC=("${B_EXEC[@]}")
	CLI_EXEC=("${B_EXEC[@]}")
	log "namespace $B_NS: sottod and the browsers see only lo"
}

# browser_dpdk (dpdk mode, after lib_init built the topology): sottod in
# GW_NS, the driver, its browsers and curl in CLI_NS, where
# browser_server_start puts the HTTP proxy.
browser_dpdk() {
	if [ "$T_DRIVER" != dpdk ] || [ -z "$GW_NS" ] || [ -z "$CLI_NS" ]; then
		fail "browser_dpdk: no dpdk topology"
	fi
	B_EXEC=("${CLI_EXEC[@]}")
	B_SRV_EXEC=(ip netns exec "$GW_NS")
	log "dpdk: sottod in $GW_NS (media on $T_SRV4), browsers in $CLI_NS ($T_CLI4), HTTP through netns_tcp_proxy.py"
}

# browser_netns_down NAME: end what still runs in NAME (all of it this
# run's) and delete it.
browser_netns_down() {
	local ns=$1 sig pids i
	[ -e "/run/netns/$ns" ] || return 0
	for sig in TERM KILL; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086 # one pid a word
		kill -s "$sig" $pids 2>/dev/null
		for ((i = 0; i < 30; i++)); do
			[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] || break
			sleep 0.1
		done
	done
	ip netns del "$ns" 2>/dev/null ||
		log "WARNING: could not delete namespace $ns"
}

# browser_strays: pids of processes whose command line names a file in
# this test's browser dir (chromedriver's --log-path, Chromium's
# --user-data-dir). mktemp made the name unique, so these are ours alone.
browser_strays() {
	local f pid cmd
	[ -n "${B_DIR:-}" ] || return 0
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
		[[ $cmd == *"$B_DIR/"* ]] && echo "$pid"
	done
	return 0
}

browser_cleanup() {
	local rc=$? p i left
	# The driver first: on SIGTERM it quits its browsers itself.
	if [ -n "${B_RUN_PID:-}" ] && proc_alive "$B_RUN_PID"; then
		kill -TERM "$B_RUN_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			proc_alive "$B_RUN_PID" || break
			sleep 0.1
		done
	fi
	left=$(browser_strays)
	if [ -n "$left" ]; then
		log "ending stray browser processes: $(echo "$left" | tr '\n' ' ')"
		for p in $left; do kill -TERM "$p" 2>/dev/null; done
		sleep 1
		for p in $(browser_strays); do kill -KILL "$p" 2>/dev/null; done
	fi
	if [ -n "$B_NS" ]; then
		# sottod first, as lib_cleanup would, so it can still log
		# its shutdown; then whatever else is left in there.
		if [ -n "${SERVER_PID:-}" ] && proc_alive "$SERVER_PID"; then
			kill -TERM "$SERVER_PID" 2>/dev/null
			for ((i = 0; i < 50; i++)); do
				proc_alive "$SERVER_PID" || break
				sleep 0.1
			done
		fi
		browser_netns_down "$B_NS"
	fi
	(exit "$rc")
	lib_cleanup
}

# browser_write_config FILE: sottod with TURN, HTTP, signaling and the web
# client on loopback (TURN and the gateway on the DPDK port's T_SRV4 in
# dpdk mode; HTTP on loopback in sottod's namespace either way). No
# loopback peer allow-list: the relay's own relayed addresses are allowed
# peers, which is how two callers on one gateway reach each other, as in
# production.
browser_write_config() {
	local file=$1
	B_TURN_SECRET=$(openssl rand -hex 16)
	B_TOKEN_KEY=$(openssl rand -hex 32)
	cat >"$file" <<EOF
# generated by tests/integration/$T_NAME.sh
log_level: info
dataplane:
  driver: $T_DRIVER
  workers: 1
EOF
	if [ "$T_DRIVER" = dpdk ]; then
		{
			# Workers sleep when idle: the browsers need the CPUs.
			printf '  idle: adaptive\n'
			printf '  dpdk:\n'
			dpdk_eal_yaml
		} >>"$file"
	fi
	cat >>"$file" <<EOF
turn:
  listen:
    - "$T_SRV4:$B_TURN_PORT"
  relay:
    addresses:
      - "$T_SRV4"
    port_min: $B_RELAY_MIN
    port_max: $B_RELAY_MAX
  realm: sotto.test
  auth:
    secrets:
      - "$B_TURN_SECRET"
http:
  listen:
    - "127.0.0.1:$B_HTTP_PORT"
signaling:
  origins:
    - "$B_ORIGIN"
  anonymous_rooms: true
  token_keys:
    - id: t1
      secret: "$B_TOKEN_KEY"
  turn_urls:
    - "turn:$T_SRV4:$B_TURN_PORT?transport=udp"
  web_client: true
# The built-in metrics port and control socket are shared by every sottod
# on the host.
metrics:
  listen: ""
control:
  socket: ""
EOF
	if [ "$B_GATEWAY" = 1 ]; then
		cat >>"$file" <<EOF
gateway:
  listen:
    - "$T_SRV4:$B_GATEWAY_PORT"
  slots: $B_GATEWAY_SLOTS
  consent_timeout: $B_GATEWAY_CONSENT
EOF
	fi
}

# browser_server_start: sottod on a generated config; waits for TURN and
# /healthz, then checks that it serves this tree's web client under the
# strict CSP the client is written for.
browser_server_start() {
	local cfg="$T_DIR/sotto.yaml" i f
	tcp_port_busy "$B_HTTP_PORT" && fail "TCP port $B_HTTP_PORT is already in use"
	browser_write_config "$cfg"
	SERVER_LOG="$T_DIR/server.log"
	# ip netns exec execs sottod in place: SERVER_PID is sottod's.
	spawn "$SERVER_LOG" "${B_SRV_EXEC[@]}" "$SOTTOD" -c "$cfg"
	SERVER_PID=$SPAWN_PID
	T_PORT=$B_TURN_PORT
	[ "$T_DRIVER" = dpdk ] && browser_http_proxy_start
	wait_stun "$T_SRV4" "$B_TURN_PORT"
	for ((i = 0; i < 40; i++)); do
		if ! server_alive; then
			show_server_log
			fail "sottod exited before answering $B_ORIGIN/healthz"
		fi
		"${B_EXEC[@]}" curl -sf -o /dev/null "$B_ORIGIN/healthz" && break
		sleep 0.5
	done
	[ "$i" -lt 40 ] || {
		show_server_log
		fail "no answer from $B_ORIGIN/healthz within 20 s"
	}
	log "sottod up: TURN udp $T_SRV4:$B_TURN_PORT, HTTP $B_ORIGIN"
	local csp
	csp=$("${B_EXEC[@]}" curl -sf -D - -o "$T_DIR/index.html" "$B_ORIGIN/" | tr -d '\r' |
		sed -n 's/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: *//p')
	case $csp in
	*"default-src 'self'"*) log "web client served with CSP: $csp" ;;
	*) fail "GET / has no Content-Security-Policy with default-src 'self' (got '$csp')" ;;
	esac
	for f in index.html app.js style.css favicon.svg favicon.ico; do
		local path=/$f
		[ "$f" = index.html ] && path=/
		"${B_EXEC[@]}" curl -sf -o "$T_DIR/served-$f" "$B_ORIGIN$path" || fail "GET $path failed"
		cmp -s "$T_DIR/served-$f" "$B_WEB/$f" ||
			fail "GET $path is not signaling/web/$f (sottod built from an older tree?)"
	done
}

# browser_http_proxy_start (dpdk mode): tests/browser/netns_tcp_proxy.py in
# the client namespace on 127.0.0.1:B_HTTP_PORT, relaying each connection
# to sottod's 127.0.0.1:B_HTTP_PORT in GW_NS; waits until it listens.
browser_http_proxy_start() {
	local i
	B_HTTP_PROXY_LOG="$T_DIR/http-proxy.log"
	spawn "$B_HTTP_PROXY_LOG" "${B_EXEC[@]}" "$B_PYTHON" "$B_HTTP_PROXY" \
		--listen "127.0.0.1:$B_HTTP_PORT" --upstream "127.0.0.1:$B_HTTP_PORT" \
		--upstream-netns "/run/netns/$GW_NS"
	for ((i = 0; i < 50; i++)); do
		grep -q '^netns_tcp_proxy: listening' "$B_HTTP_PROXY_LOG" && return 0
		proc_alive "$SPAWN_PID" || break
		sleep 0.1
	done
	cat "$B_HTTP_PROXY_LOG" >&2
	fail "netns_tcp_proxy.py did not start on 127.0.0.1:$B_HTTP_PORT in $CLI_NS"
}

# browser_run ARGS...: tests/browser/call_test.py ARGS, tracked; sets B_RC.
browser_run() {
	browser_run_script "$B_DRIVER" "$@" \
		--relay "127.0.0.1:$B_RELAY_MIN-$B_RELAY_MAX"
}

# browser_run_script SCRIPT ARGS...: a driver in tests/browser/ with ARGS,
# --base and --tmpdir, tracked; sets B_RC.
browser_run_script() {
	local script=$1
	shift
	timeout "$B_TIMEOUT" "${B_EXEC[@]}" "$B_PYTHON" "$script" "$@" \
		--base "$B_ORIGIN" \
		--tmpdir "$B_DIR" &
	B_RUN_PID=$!
	T_PIDS+=("$B_RUN_PID")
	wait "$B_RUN_PID"
	B_RC=$?
	B_RUN_PID=""
}

# proxy_start PORT DIRECTION: the tamper proxy on 127.0.0.1:PORT in front
# of sottod's /v1/ws; waits until it listens.
proxy_start() {
	local port=$1 dir=$2 i
	tcp_port_busy "$port" && fail "TCP port $port (tamper proxy) is already in use"
	PROXY_LOG="$T_DIR/proxy-$port.log"
	spawn "$PROXY_LOG" "$B_PYTHON" "$B_PROXY" --listen "127.0.0.1:$port" \
		--upstream "ws://127.0.0.1:$B_HTTP_PORT/v1/ws" --direction "$dir"
	for ((i = 0; i < 50; i++)); do
		grep -q '^tamper_proxy: listening' "$PROXY_LOG" && return 0
		proc_alive "$SPAWN_PID" || break
		sleep 0.1
	done
	cat "$PROXY_LOG" >&2
	fail "tamper proxy did not start on 127.0.0.1:$port"
}
