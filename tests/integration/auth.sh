#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# TURN REST credentials: a username/password computed by hand with openssl
# works; a wrong secret, an expired username, a wrong password and a
# username without an expiry are all refused and relay nothing. A refusal
# is the one expected, not any failure: uclient gives up on its Allocate
# (exit 255, "Cannot complete Allocation"), sottod is still up, and it
# counted each as bad credentials (a 401 to Allocate) and created no
# allocation.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34840) || exit 1
peer=$(free_port_pair 34850) || exit 1
peer_start "$peer" "$T_CLI4"
if [ "$SERVER_KIND" = sottod ]; then
	mport=$(free_tcp_port 34830) || exit 1
	T_METRICS_LISTEN="127.0.0.1:$mport"
fi
server_start "$port" 51400 51799 1

# refused NAME ARGS...: uclient with ARGS must be refused as described above.
refused() {
	local name=$1
	shift
	[ "$SERVER_KIND" = sottod ] && metrics_scrape "$T_DIR/$name-before.txt"
	uclient_expect_nodata "$name" "$@" || return 1
	if [ "$UC_RC" -ne 255 ] || ! grep -q 'ERROR: Cannot complete Allocation' "$UC_LOG"; then
		show_uclient_log
		check_fail "$name: want exit 255 and 'Cannot complete Allocation', got exit $UC_RC"
		return 1
	fi
	server_alive || fail "$name: the server died"
	[ "$SERVER_KIND" = sottod ] || return 0
	local b="$T_DIR/$name-before.txt" a="$T_DIR/$name-after.txt" bad nocred
	metrics_scrape "$a"
	expect_deltas "$b" "$a" \
		'sotto_turn_auth_failures_total{reason="bad_credentials"} >= 1' \
		'sotto_turn_allocations_created_total = 0' || return 1
	# every Allocate answered 401: the challenges (no credentials yet) and
	# the refusals (bad credentials), nothing dropped unanswered
	delta_of "$b" "$a" 'sotto_turn_auth_failures_total{reason="bad_credentials"}' ||
		fail "$name: $DELTA_WHY"
	bad=$DELTA
	delta_of "$b" "$a" 'sotto_turn_auth_failures_total{reason="no_credentials"}' ||
		fail "$name: $DELTA_WHY"
	nocred=$DELTA
	expect_deltas "$b" "$a" \
		"sotto_turn_error_responses_total{method=\"allocate\",code=\"401\"} = $((bad + nocred))" \
		"sotto_turn_requests_total{method=\"allocate\"} = $((bad + nocred))"
}

now=$(date +%s)
args=(-c -e "$T_CLI4" -r "$peer" -m 2 -n 10 -p "$port")

# Valid, made by hand: shows the -u/-w path works, so the refusals below
# mean what they say.
user=$(rest_username $((now + 3600)) carol)
pass=$(rest_password "$T_SECRET" "$user")
uclient_expect_ok hand-made "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"

# The tool's own REST credentials with another secret.
refused wrong-secret -W "not-the-secret" -u carol "${args[@]}" "$T_SRV4"

# Expired an hour ago, correctly signed.
user=$(rest_username $((now - 3600)) carol)
pass=$(rest_password "$T_SECRET" "$user")
refused expired "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"

# Right username, password from another secret.
user=$(rest_username $((now + 3600)) carol)
pass=$(rest_password "other-secret" "$user")
refused wrong-password "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"

if [ "$SERVER_KIND" = sottod ]; then
	# No expiry in the username at all (coturn accepts this form).
	user=carol
	pass=$(rest_password "$T_SECRET" "$user")
	refused no-expiry "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"
fi

server_alive || fail "server died during the refusals"
server_stop TERM
lib_done
