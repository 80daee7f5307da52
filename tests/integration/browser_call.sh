#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A real call between two headless Chromiums through sottod alone: the web
# client served by sottod, its HTTP API (room, invite, TURN credentials),
# WebSocket signaling with the SDP policy, and the TURN relay. Page A
# starts a call, page B opens A's invite link. Both must select a
# relay<->relay candidate pair on sottod's relayed addresses, reach DTLS
# connected, receive audio, and show the same verification code; then B
# leaves and A must be told, and a forged invite must be refused with the
# server's error shown on the page (tests/browser/call_test.py).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/browser/browser_lib.sh
. "$T_REPO/tests/browser/browser_lib.sh"
lib_init "$@"
browser_init
browser_server_start

browser_run call --timeout 30
case $B_RC in
0) ;;
77) skip "browser driver skipped" ;;
*)
	show_server_log
	check_fail "call_test.py call exited $B_RC"
	;;
esac

server_stop TERM
lib_done
