#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The web client's flows as a person goes through them, with two and three
# headless Chromiums on sottod (tests/browser/flows_test.py): the pre-join
# screen (no microphone asked for before "Join with microphone"), the
# single-use invite refused on its second use, the 1:1 call locking itself
# and a third joiner refused with the creator told, the security code
# ("Codes match", a change of seat flagged, "Codes are different"), the
# creator's reload back into the call (asked before leaving, token in
# sessionStorage only), permanent errors without a retry, a keyboard-only
# call, and last the server stopped mid-call ("Lost connection to the
# server"). Every screen it passes is checked (axe-core, contrast, 44 px
# targets, no address shown) and photographed at 1280x900 and 390x844
# into $SOTTO_SCREENSHOTS (default: the test's own temp dir).
# SOTTO_FLOWS_ONLY=relay,errors,keyboard,stop runs some of the flows.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/browser/browser_lib.sh
. "$T_REPO/tests/browser/browser_lib.sh"
lib_init "$@"
browser_init
browser_server_start

shots=${SOTTO_SCREENSHOTS:-$T_DIR/screens}
browser_run_script "$T_REPO/tests/browser/flows_test.py" \
	--server-pid "$SERVER_PID" --token-key "t1:$B_TOKEN_KEY" --shots "$shots" \
	${SOTTO_FLOWS_ONLY:+--only "$SOTTO_FLOWS_ONLY"}
case $B_RC in
0) ;;
77) skip "browser driver skipped" ;;
*)
	show_server_log
	check_fail "flows_test.py exited $B_RC"
	;;
esac
log "screenshots in $shots"

# The driver stopped sottod (SIGTERM) in its last flow: it must have
# exited 0 by itself.
if [ -n "$SERVER_PID" ]; then
	for ((i = 0; i < 100; i++)); do
		server_alive || break
		sleep 0.1
	done
	if server_alive; then
		server_stop TERM
	else
		wait "$SERVER_PID"
		rc=$?
		SERVER_PID=""
		[ "$rc" -eq 0 ] || check_fail "sottod exited $rc after the driver's SIGTERM"
		sanitizer_report "$SERVER_LOG" && check_fail "a sanitizer report in $SERVER_LOG"
	fi
fi
lib_done
