#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A group call in gateway mode between three headless Chromiums running the
# web client served by sottod: page A chooses "group (gateway)" and starts
# a call, B and C open its invite link. Each page has one peer connection,
# to sottod's gateway (ICE-lite, DTLS server, on 127.0.0.1:18379), and must
# reach DTLS connected with SRTP AEAD_AES_128_GCM, see only sotto's media
# address as a remote candidate, receive audio on a slot per other caller
# (bytes and packets growing), hear the other two callers' tones and not its
# own, and show the hop-by-hop notice instead of a verification code. Then
# B's browser is frozen past the gateway's consent timeout: sottod must end
# its leg and say so (gateway-leg-ended), and B must offer again by itself
# and be heard again. Last, C leaves and A and B must be told
# (tests/browser/gateway_test.py).
#
# dpdk driver (dpdk_gateway_browser): sottod runs in lib.sh's topology, its
# gateway (and TURN) on its DPDK port's address (T_SRV4, 198.18.0.1:18379),
# the driver and the Chromiums in the client namespace, whose only
# non-loopback address is T_CLI4 on the veth: the same checks, and the
# selected pairs' local ends must be T_CLI4. sottod's HTTP listener is on
# 127.0.0.1 in its own namespace; tests/browser/netns_tcp_proxy.py relays
# 127.0.0.1:18380 in the client namespace to it, so the pages' origin is
# http://127.0.0.1:18380 in both modes (browser_lib.sh).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/browser/browser_lib.sh
. "$T_REPO/tests/browser/browser_lib.sh"
lib_init "$@"
B_GATEWAY=1
B_DPDK=1
# Short, so that freezing one browser ends its leg within the test
# (Chromium refreshes consent every few seconds).
B_GATEWAY_CONSENT=10
browser_init
# Chromium offers every interface's address as a host candidate, and pairs
# them all with sotto's 127.0.0.1 (the kernel delivers those locally), so
# on the host it may pick its non-loopback address and make sottod send
# there. In a namespace with only lo, everything is loopback; that needs
# root.
extra=()
if [ "$T_DRIVER" = dpdk ]; then
	browser_dpdk
	extra=(--local-address "$T_CLI4")
elif browser_netns; then
	extra=(--loopback-only)
else
	log "NOTE: not root: the browsers run on the host's network; their selected pair may use a non-loopback local address"
fi
browser_server_start

browser_run_script "$T_REPO/tests/browser/gateway_test.py" \
	--gateway "$T_SRV4:$B_GATEWAY_PORT" --slots "$B_GATEWAY_SLOTS" --timeout 40 \
	--leg-loss "$B_GATEWAY_CONSENT" "${extra[@]}"
case $B_RC in
0) ;;
77) skip "browser driver skipped" ;;
*)
	show_server_log
	check_fail "gateway_test.py exited $B_RC"
	;;
esac

server_stop TERM
lib_done
