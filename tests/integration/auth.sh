#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# TURN REST credentials: a username/password computed by hand with openssl
# works; a wrong secret, an expired username, a wrong password and a
# username without an expiry are all refused and relay nothing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34840) || exit 1
peer=$(free_port_pair 34850) || exit 1
peer_start "$peer" "$T_CLI4"
server_start "$port" 51400 51799 1

now=$(date +%s)
args=(-c -e "$T_CLI4" -r "$peer" -m 2 -n 10 -p "$port")

# Valid, made by hand: shows the -u/-w path works, so the refusals below
# mean what they say.
user=$(rest_username $((now + 3600)) carol)
pass=$(rest_password "$T_SECRET" "$user")
uclient_expect_ok hand-made "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"

# The tool's own REST credentials with another secret.
uclient_expect_nodata wrong-secret -W "not-the-secret" -u carol "${args[@]}" "$T_SRV4"
[ "$UC_RC" -ne 0 ] || check_fail "wrong-secret: uclient exited 0"

# Expired an hour ago, correctly signed.
user=$(rest_username $((now - 3600)) carol)
pass=$(rest_password "$T_SECRET" "$user")
uclient_expect_nodata expired "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"
[ "$UC_RC" -ne 0 ] || check_fail "expired: uclient exited 0"

# Right username, password from another secret.
user=$(rest_username $((now + 3600)) carol)
pass=$(rest_password "other-secret" "$user")
uclient_expect_nodata wrong-password "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"
[ "$UC_RC" -ne 0 ] || check_fail "wrong-password: uclient exited 0"

if [ "$SERVER_KIND" = sottod ]; then
	# No expiry in the username at all (coturn accepts this form).
	user=carol
	pass=$(rest_password "$T_SECRET" "$user")
	uclient_expect_nodata no-expiry "${args[@]}" -u "$user" -w "$pass" "$T_SRV4"
	[ "$UC_RC" -ne 0 ] || check_fail "no-expiry: uclient exited 0"
fi

server_alive || fail "server died during the refusals"
server_stop TERM
lib_done
