#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The gateway's ICE-lite and DTLS-SRTP server against OpenSSL's own DTLS
# client (`openssl s_client -dtls1_2`), through tests/peers/gw_dtls_probe.py:
# the probe makes a gateway room, offers a minimal audio SDP whose
# a=fingerprint is a certificate made here, does the ICE check with the
# answer's credentials from its "leg socket", and relays s_client's
# datagrams through that socket (s_client cannot pick its source port, and
# sotto takes DTLS only from the address whose check it answered). Cases,
# each judged by the probe (s_client's exit and output, the WebSocket) and
# by sottod's /metrics before and after:
#   a. SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80 offered: handshake done,
#      AEAD_AES_128_GCM picked, ECDHE-ECDSA AES-GCM, the server certificate
#      is the answer's fingerprint; dtls_handshakes_total and
#      legs_up_total +1, no DTLS failure. The same with only
#      SRTP_AES128_CM_SHA1_80 offered picks that.
#   b. the offer names another certificate's fingerprint: s_client fails,
#      the gateway sends a fatal bad_certificate alert and never its
#      ChangeCipherSpec, failures{fingerprint_mismatch} +1,
#      gateway-leg-ended "dtls_failed" on the WebSocket.
#   c. no acceptable SRTP profile: SRTP_AES128_CM_SHA1_32 only,
#      SRTP_AEAD_AES_256_GCM only, no use_srtp at all, and (s_client will
#      not offer them) a hand-made ClientHello with only the NULL profiles
#      0x0005/0x0006: each fails with a fatal handshake_failure alert and
#      failures{no_srtp_profile} +1.
#   d. cipher lists without ECDHE+AEAD (AES128-SHA: RSA key exchange, CBC;
#      ECDHE-ECDSA-AES128-SHA: CBC): each fails with a fatal
#      handshake_failure alert and failures{no_shared_cipher} +1.
#   Every failure: exactly one DTLS failure counted, no handshake, no leg
#   up, legs_ended{dtls_failed} +1 and gateway-leg-ended "dtls_failed".
#   e. ICE checks with a wrong password, a wrong remote ufrag (both
#      bad_integrity), an unknown ufrag (unknown_ufrag) and no FINGERPRINT
#      (malformed) go unanswered and are counted; a valid one is answered.
#   f. leg move: after a handshake, a valid check from another local port
#      without USE-CANDIDATE is answered, counted other_pair and moves
#      nothing (DTLS from that port is from an unknown address); with
#      USE-CANDIDATE it moves the leg (leg_moves +1), and then the old
#      port is the stranger: its valid check is other_pair, its DTLS
#      unknown and unanswered. A leg moves at most once a second: a
#      USE-CANDIDATE check from a third port right after the move is
#      answered, other_pair, and moves nothing; the same more than a
#      second after the move moves it (leg_moves +1 again).
#      And a check from another leg's address never binds: legs L1 (up,
#      at address A) and L2 (offered, unchecked); L2's valid check with
#      USE-CANDIDATE from A is answered but other_pair, DTLS from A is
#      still L1's (a ClientHello from A gets no ServerHello, L1's Finished
#      again its last flight), and L2's first check from its own port is
#      ok even without USE-CANDIDATE; L2 then does its handshake there.
#   g. a second offer from the same participant replaces its leg:
#      legs_ended{replaced} +1 without gateway-leg-ended, the old leg's
#      close_notify, the old ufrag's checks unknown_ufrag, and the new leg
#      does its own handshake.
#   j. consent (RFC 7675): a leg socket that answers none of the gateway's
#      own Binding requests: its valid check is answered, a ClientHello
#      after it gets no DTLS back, ever; the gateway's checks to it are
#      right (USERNAME, MESSAGE-INTEGRITY with the offer's ice-pwd,
#      FINGERPRINT, ICE-CONTROLLED), one transaction resent 8 times at
#      RFC 8445 pace, then consent_checks{timeout} +1, and the leg ends at
#      the handshake timeout. (Every other case answers them, as a browser
#      does: the probe's sockets answer the gateway's checks, and a)
#      checks that the first came before the gateway's first flight.)
# Those run on a sottod with gateway.consent_timeout 30 and
# handshake_timeout 10 (case e alone takes longer than 2 s after its
# offer); then it must stop on SIGTERM with status 0, and a second sottod
# starts with the minimums, consent_timeout 5 and handshake_timeout 2:
#   h. consent freshness (RFC 7675): of two legs up, the one that sends no
#      more checks ends 5 to 7 s after its last one with
#      legs_ended{consent_lost} +1 and gateway-leg-ended "consent_lost",
#      the legs gauge one lower right then; the one that checks every 2 s
#      is still up and answered 8.5 s on. And a leg whose only checks come
#      from another port (answered, other_pair) loses consent all the same.
#   i. handshake timeout: a leg that gets its check and then no DTLS, one
#      that sends a ClientHello and stops (the gateway resends its flight
#      meanwhile), and one that never even checks, each end 2 to 3 s after
#      the offer with legs_ended{handshake_timeout} +1 and
#      gateway-leg-ended "handshake_timeout", no DTLS failure counted, the
#      legs gauge back.
# The probe reads /metrics itself between the steps of f to i, and for the
# legs gauge while its WebSocket is open (closing it ends the leg anyway).
# The second sottod must stop on SIGTERM with status 0 too.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "gateway mode needs sottod's HTTP API, signaling and gateway"
only_driver udp "s_client, the relay and sottod's gateway all run on loopback"
need_cmd curl

PY=/usr/bin/python3
PROBE="$T_REPO/tests/peers/gw_dtls_probe.py"
[ -x "$PY" ] || skip "$PY not found"
"$PY" -c 'import websockets' 2>"$T_DIR/import.err" ||
	skip "the probe needs python3-websockets: $(tail -n 1 "$T_DIR/import.err")"
openssl s_client -help 2>&1 | grep -q -- '-use_srtp' ||
	skip "this openssl s_client has no -use_srtp"
export PYTHONDONTWRITEBYTECODE=1

# s_client's certificate, and another one whose fingerprint the offer of
# case b carries: self-signed EC P-256, as browsers make them.
for c in client other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T_DIR/$c.key" -out "$T_DIR/$c.pem" -days 2 \
		-subj "/CN=gw-dtls-$c" >"$T_DIR/req-$c.log" 2>&1 ||
		fail "openssl req (EC P-256) failed: $(tail -n 2 "$T_DIR/req-$c.log")"
done
# "sha256 Fingerprint=AB:CD:..." -> "AB:CD:..."
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
fp_client=$(fp_of "$T_DIR/client.pem")
fp_other=$(fp_of "$T_DIR/other.pem")
[[ $fp_client =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || fail "bad fingerprint '$fp_client'"
[ "$fp_client" != "$fp_other" ] || fail "two certificates with one fingerprint"

# start_sottod N CONSENT HANDSHAKE: sottod number N (0, 1) with these
# gateway.consent_timeout and handshake_timeout, on ports of its own; sets
# api, metrics, gw, SERVER_PID, SERVER_LOG and T_PORT.
start_sottod() {
	local n=$1 consent=$2 handshake=$3 base turn_port gw_port http_port
	local metrics_port cfg i healthy=0
	base=$((18680 + 20 * n))
	turn_port=$(free_port "$base") || exit 1
	gw_port=$(free_port $((turn_port + 1))) || exit 1
	http_port=$(free_tcp_port $((base + 2))) || exit 1
	metrics_port=$(free_tcp_port $((http_port + 1))) || exit 1
	api="http://127.0.0.1:$http_port"
	metrics="http://127.0.0.1:$metrics_port/metrics"
	gw="127.0.0.1:$gw_port"
	cfg="$T_DIR/sotto$n.yaml"
	cat >"$cfg" <<EOF
# generated by tests/integration/$T_NAME.sh
log_level: info
dataplane:
  driver: udp
  workers: 1
turn:
  realm: "$T_REALM"
  listen:
    - "127.0.0.1:$turn_port"
  relay:
    addresses:
      - 127.0.0.1
    port_min: 53000
    port_max: 53099
  auth:
    secrets:
      - "$T_SECRET"
gateway:
  listen:
    - "$gw"
  slots: 3
  consent_timeout: $consent
  handshake_timeout: $handshake
http:
  listen:
    - "127.0.0.1:$http_port"
signaling:
  origins:
    - "$api"
  allow_no_origin: true
  anonymous_rooms: true
  rooms_per_ip_per_minute: 100
  token_keys:
    - id: t1
      secret: "gateway-dtls-token-key-$$-0123456789"
  turn_urls:
    - "turn:127.0.0.1:$turn_port?transport=udp"
metrics:
  listen: "127.0.0.1:$metrics_port"
control:
  socket: "$T_DIR/control$n.sock"
EOF

	# lib.sh's server_alive, show_server_log and server_stop read these
	# shellcheck disable=SC2034
	SERVER_LOG="$T_DIR/server$n.log" T_PORT=$turn_port
	spawn "$SERVER_LOG" "$SOTTOD" -c "$cfg"
	# shellcheck disable=SC2034
	SERVER_PID=$SPAWN_PID
	wait_stun 127.0.0.1 "$turn_port"
	for ((i = 0; i < 50; i++)); do
		server_alive || break
		if curl -sf --max-time 2 "$api/healthz" 2>/dev/null | grep -q '"ok"'; then
			healthy=1
			break
		fi
		sleep 0.2
	done
	if [ "$healthy" -ne 1 ]; then
		show_server_log
		fail "no 200 {\"status\":\"ok\"} from $api/healthz"
	fi
	log "sottod $n: gateway $gw (consent_timeout $consent," \
		"handshake_timeout $handshake), HTTP $api, metrics $metrics"
}

start_sottod 0 30 10

# scrape FILE
scrape() {
	curl -sf --max-time 5 "$metrics" >"$1" || {
		check_fail "cannot scrape $metrics"
		: >"$1"
	}
}
# mval FILE NAME [LABEL]: the sum of NAME's samples whose labels contain
# LABEL (e.g. reason="srtp_auth"); 0 if none.
mval() {
	awk -v n="$2" -v l="${3:-}" '
		/^#/ { next }
		{ s = $1; i = index(s, "{"); name = i ? substr(s, 1, i - 1) : s }
		name == n && (l == "" || index(s, l)) { v += $NF }
		END { printf "%.0f\n", v }' "$1"
}
# has_series FILE NAME [LABEL]
has_series() {
	awk -v n="$2" -v l="${3:-}" '
		/^#/ { next }
		{ s = $1; i = index(s, "{"); name = i ? substr(s, 1, i - 1) : s }
		name == n && (l == "" || index(s, l)) { f = 1 }
		END { exit !f }' "$1"
}

# expect_delta CASE NAME LABEL OP N: the change of NAME{LABEL} over the
# case compares as OP (eq, ge) with N.
expect_delta() {
	local case=$1 name=$2 label=$3 op=$4 want=$5 b a d
	if ! has_series "$T_DIR/m-$case-after.txt" "$name" "$label"; then
		check_fail "$case: no series $name{$label} in /metrics"
		return
	fi
	b=$(mval "$T_DIR/m-$case-before.txt" "$name" "$label")
	a=$(mval "$T_DIR/m-$case-after.txt" "$name" "$label")
	d=$((a - b))
	if { [ "$op" = eq ] && [ "$d" -eq "$want" ]; } ||
		{ [ "$op" = ge ] && [ "$d" -ge "$want" ]; }; then
		log "ok: $case: $name{$label} +$d"
	else
		check_fail "$case: $name{$label} changed by $d ($b -> $a), want -$op $want"
	fi
}

# run_case CASE PROBE-ARGS...: one probe run between two scrapes.
run_case() {
	local case=$1 rc
	shift
	last_case=$case
	scrape "$T_DIR/m-$case-before.txt"
	timeout -k 5 60 "$PY" "$PROBE" --api "$api" --gateway "$gw" --name "$case" \
		--metrics "$metrics" --sclient-log "$T_DIR/sclient-$case.log" "$@" \
		>"$T_DIR/probe-$case.out" 2>"$T_DIR/probe-$case.log"
	rc=$?
	# counters settle within one control-loop turn
	sleep 0.3
	scrape "$T_DIR/m-$case-after.txt"
	grep -E '\] (ok|FAIL): ' "$T_DIR/probe-$case.log" | sed "s/^/  /" >&2
	if [ "$rc" -ne 0 ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			check_fail "$case: probe killed after 60 s"
		else
			check_fail "$case: probe exit $rc: $(grep -E '\] FAIL: ' "$T_DIR/probe-$case.log" | head -n 3 | sed -E 's/.*\] FAIL: //' | tr '\n' ';')"
		fi
		grep -E 'alert|error|SRTP|Cipher is' "$T_DIR/sclient-$case.log" 2>/dev/null |
			head -n 8 | sed 's/^/  s_client: /' >&2
	fi
	server_alive || {
		show_server_log
		fail "$case: sottod exited"
	}
}

F=sotto_gateway_dtls_failures_total
ok_hs() {
	local case=$1
	expect_delta "$case" sotto_gateway_dtls_handshakes_total "" eq 1
	expect_delta "$case" sotto_gateway_legs_up_total "" eq 1
	expect_delta "$case" "$F" "" eq 0
	expect_delta "$case" sotto_gateway_ice_checks_total 'result="ok"' ge 1
}
# failed_hs CASE REASON: one failure for REASON, none for any other.
failed_hs() {
	local case=$1 reason=$2
	expect_delta "$case" "$F" "reason=\"$reason\"" eq 1
	expect_delta "$case" "$F" "" eq 1
	expect_delta "$case" sotto_gateway_dtls_handshakes_total "" eq 0
	expect_delta "$case" sotto_gateway_legs_up_total "" eq 0
	expect_delta "$case" sotto_gateway_legs_ended_total 'reason="dtls_failed"' eq 1
}

hs=(--mode handshake --cert "$T_DIR/client.pem" --key "$T_DIR/client.key")

log "a: AEAD_AES_128_GCM and AES128_CM_SHA1_80 offered"
run_case a_gcm "${hs[@]}" --fingerprint "$fp_client" \
	--srtp SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80 \
	--expect success --want-profile SRTP_AEAD_AES_128_GCM
ok_hs a_gcm

log "a: AES128_CM_SHA1_80 only"
run_case a_cm80 "${hs[@]}" --fingerprint "$fp_client" \
	--srtp SRTP_AES128_CM_SHA1_80 --expect success --want-profile SRTP_AES128_CM_SHA1_80
ok_hs a_cm80

log "b: the offer carries another certificate's fingerprint"
run_case b_fp "${hs[@]}" --fingerprint "$fp_other" \
	--srtp SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80 \
	--expect fail --want-alert 42 --leg-ended dtls_failed
failed_hs b_fp fingerprint_mismatch

for p in SRTP_AES128_CM_SHA1_32 SRTP_AEAD_AES_256_GCM; do
	log "c: only $p offered"
	run_case "c_$p" "${hs[@]}" --fingerprint "$fp_client" --srtp "$p" \
		--expect fail --want-alert 40 --leg-ended dtls_failed
	failed_hs "c_$p" no_srtp_profile
done
log "c: no use_srtp extension"
run_case c_none "${hs[@]}" --fingerprint "$fp_client" --srtp "" \
	--expect fail --want-alert 40 --leg-ended dtls_failed
failed_hs c_none no_srtp_profile
log "c: a ClientHello offering only SRTP_NULL_SHA1_80 and SRTP_NULL_SHA1_32"
run_case c_null --mode raw-hello --fingerprint "$fp_client" \
	--raw-profiles 0x0005,0x0006 --want-alert 40 --leg-ended dtls_failed
failed_hs c_null no_srtp_profile

for c in AES128-SHA ECDHE-ECDSA-AES128-SHA; do
	log "d: -cipher $c"
	run_case "d_$c" "${hs[@]}" --fingerprint "$fp_client" \
		--srtp SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80 --cipher "$c" \
		--expect fail --want-alert 40 --leg-ended dtls_failed
	failed_hs "d_$c" no_shared_cipher
done

log "e: ICE checks that must go unanswered"
run_case e_ice --mode ice --fingerprint "$fp_client"
I=sotto_gateway_ice_checks_total
expect_delta e_ice "$I" 'result="bad_integrity"' eq 2
expect_delta e_ice "$I" 'result="unknown_ufrag"' eq 1
expect_delta e_ice "$I" 'result="malformed"' eq 1
expect_delta e_ice "$I" 'result="ok"' eq 1

E=sotto_gateway_legs_ended_total
srtp=SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80
# gone CASE: every leg the case made is gone after it (the legs gauge).
gone() { expect_delta "$1" sotto_gateway_legs "" eq 0; }
# dump_on_failure: the gateway's metrics after the last case, sottod's log.
dump_on_failure() {
	[ "$T_FAILED" -ne 0 ] || return 0
	grep -E '^sotto_gateway' "$T_DIR/m-$last_case-after.txt" | sed 's/^/  /' >&2
	show_server_log
}

log "f: a valid check from another port moves the leg only with USE-CANDIDATE, at most once a second"
run_case f_move "${hs[@]}" --mode move --fingerprint "$fp_client" --srtp "$srtp"
ok_hs f_move
expect_delta f_move sotto_gateway_leg_moves_total "" eq 2
expect_delta f_move "$I" 'result="other_pair"' eq 3
expect_delta f_move "$I" 'result="ok"' ge 5
expect_delta f_move sotto_gateway_dtls_unknown_source_total "" eq 3
expect_delta f_move "$E" 'reason="left"' eq 1
expect_delta f_move "$E" "" eq 1
gone f_move

log "f: a check from another leg's address is answered but never binds"
run_case f_steal "${hs[@]}" --mode steal --fingerprint "$fp_client" --srtp "$srtp"
expect_delta f_steal sotto_gateway_dtls_handshakes_total "" eq 2
expect_delta f_steal sotto_gateway_legs_up_total "" eq 2
expect_delta f_steal "$F" "" eq 0
expect_delta f_steal "$I" 'result="other_pair"' eq 1
expect_delta f_steal sotto_gateway_leg_moves_total "" eq 0
expect_delta f_steal sotto_gateway_dtls_unknown_source_total "" eq 0
expect_delta f_steal "$E" 'reason="left"' eq 2
expect_delta f_steal "$E" "" eq 2
gone f_steal

log "g: a second offer from the same participant replaces its leg"
run_case g_reoffer "${hs[@]}" --mode reoffer --fingerprint "$fp_client" --srtp "$srtp"
expect_delta g_reoffer sotto_gateway_offers_total "" eq 2
expect_delta g_reoffer sotto_gateway_dtls_handshakes_total "" eq 2
expect_delta g_reoffer sotto_gateway_legs_up_total "" eq 2
expect_delta g_reoffer "$F" "" eq 0
expect_delta g_reoffer "$E" 'reason="replaced"' eq 1
expect_delta g_reoffer "$E" 'reason="left"' eq 1
expect_delta g_reoffer "$E" "" eq 2
expect_delta g_reoffer "$I" 'result="unknown_ufrag"' eq 1
gone g_reoffer

log "j: consent: no DTLS to an address that does not answer the gateway's checks"
run_case j_deaf --mode deaf --handshake 10 --fingerprint "$fp_client"
C=sotto_gateway_consent_checks_total
expect_delta j_deaf "$C" 'result="sent"' eq 8
expect_delta j_deaf "$C" 'result="timeout"' eq 1
expect_delta j_deaf "$C" 'result="answered"' eq 0
expect_delta j_deaf "$E" 'reason="handshake_timeout"' eq 1
expect_delta j_deaf "$E" "" eq 1
expect_delta j_deaf sotto_gateway_dtls_handshakes_total "" eq 0
expect_delta j_deaf "$F" "" eq 0
gone j_deaf

dump_on_failure
server_stop TERM

start_sottod 1 5 2

log "h: consent: a leg without checks for 5 s ends, one checking every 2 s stays"
run_case h_consent "${hs[@]}" --mode consent --consent 5 --fingerprint "$fp_client" \
	--srtp "$srtp"
expect_delta h_consent sotto_gateway_dtls_handshakes_total "" eq 2
expect_delta h_consent sotto_gateway_legs_up_total "" eq 2
expect_delta h_consent "$F" "" eq 0
expect_delta h_consent "$E" 'reason="consent_lost"' eq 1
expect_delta h_consent "$E" 'reason="left"' eq 1
expect_delta h_consent "$E" "" eq 2
expect_delta h_consent "$I" 'result="unknown_ufrag"' eq 1
gone h_consent

log "h: consent: checks from another port (answered, other_pair) do not keep a leg"
run_case h_stray "${hs[@]}" --mode consent-stray --consent 5 --fingerprint "$fp_client" \
	--srtp "$srtp"
expect_delta h_stray sotto_gateway_legs_up_total "" eq 1
expect_delta h_stray "$E" 'reason="consent_lost"' eq 1
expect_delta h_stray "$E" "" eq 1
expect_delta h_stray "$I" 'result="other_pair"' eq 4
expect_delta h_stray sotto_gateway_leg_moves_total "" eq 0
expect_delta h_stray "$I" 'result="unknown_ufrag"' eq 1
gone h_stray

for v in none hello nocheck; do
	c="i_timeout_$v"
	log "i: handshake timeout, after the answer: $v"
	run_case "$c" --mode timeout --dtls "$v" --handshake 2 --fingerprint "$fp_client"
	expect_delta "$c" "$E" 'reason="handshake_timeout"' eq 1
	expect_delta "$c" "$E" "" eq 1
	expect_delta "$c" "$F" "" eq 0
	expect_delta "$c" sotto_gateway_dtls_handshakes_total "" eq 0
	expect_delta "$c" sotto_gateway_legs_up_total "" eq 0
	expect_delta "$c" "$I" 'result="unknown_ufrag"' eq 1
	gone "$c"
done
expect_delta i_timeout_hello sotto_gateway_dtls_retransmits_total "" ge 1
expect_delta i_timeout_nocheck "$I" 'result="ok"' eq 0
expect_delta i_timeout_none "$I" 'result="ok"' eq 1

dump_on_failure
server_stop TERM
lib_done
