#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A group call (gateway mode) as its people see it, with headless
# Chromiums running the web client (tests/browser/group_test.py): display
# names (kept in the room: never in sottod's log), join and leave notices,
# the speaking indicator from the microphone's level, the muted state, and
# the host's Lock (a new link refused, the host told) and Remove (the one
# removed told, without a retry). Every screen it passes is checked
# (axe-core, contrast, 44 px targets, no address shown) and photographed
# into $SOTTO_SCREENSHOTS (default: the test's own temp dir).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/browser/browser_lib.sh
. "$T_REPO/tests/browser/browser_lib.sh"
lib_init "$@"
B_GATEWAY=1
browser_init
# As gateway_browser.sh: in a namespace with only lo when root, so that
# Chromium's host candidates are loopback ones.
browser_netns || log "NOTE: not root: the browsers run on the host's network"
browser_server_start

shots=${SOTTO_SCREENSHOTS:-$T_DIR/screens}
names="$T_DIR/names"
browser_run_script "$T_REPO/tests/browser/group_test.py" \
	--token-key "t1:$B_TOKEN_KEY" --shots "$shots" --loopback --names-file "$names"
case $B_RC in
0) ;;
77) skip "browser driver skipped" ;;
*)
	show_server_log
	check_fail "group_test.py exited $B_RC"
	;;
esac
if [ -s "$names" ]; then
	while IFS= read -r n; do
		grep -qF "$n" "$SERVER_LOG" && check_fail "a display name ($n) is in sottod's log"
	done <"$names"
fi

server_stop TERM
lib_done
