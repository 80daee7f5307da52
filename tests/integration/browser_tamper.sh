#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A signaling man in the middle cannot go unnoticed. Page B signals through
# tests/browser/tamper_proxy.py, which swaps the sha-256 DTLS fingerprint in
# the SDPs it forwards one way (a well-formed one, so sottod's SDP policy
# passes it). ICE must still connect over sottod's relay, but DTLS must
# fail, no audio may flow, and the two pages' verification codes must
# differ.
#
# Two runs, one per direction:
#   to-server  B's offer reaches A (the DTLS client) with a false
#              fingerprint: neither side may ever reach DTLS connected.
#   to-client  A's answer reaches B (the DTLS server) with a false
#              fingerprint: A may see connected for an instant (DTLS 1.3:
#              the client is done before the server checks its
#              certificate), then both must fail.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/browser/browser_lib.sh
. "$T_REPO/tests/browser/browser_lib.sh"
lib_init "$@"
browser_init
browser_server_start

port=18381
for dir in to-server to-client; do
	proxy_start "$port" "$dir"
	log "--- tampering $dir (proxy on 127.0.0.1:$port)"
	browser_run tamper --timeout 20 --ws-b "ws://127.0.0.1:$port/v1/ws"
	swaps=$(grep -c '^tamper_proxy: swap ' "$PROXY_LOG")
	log "proxy swapped $swaps fingerprint(s)"
	case $B_RC in
	0)
		[ "$swaps" -ge 1 ] || check_fail "$dir: the proxy swapped no fingerprint"
		;;
	77) skip "browser driver skipped" ;;
	*)
		cat "$PROXY_LOG" >&2
		show_server_log
		check_fail "$dir: call_test.py tamper exited $B_RC"
		;;
	esac
	port=$((port + 1))
done

server_stop TERM
lib_done
