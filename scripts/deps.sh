#!/usr/bin/env bash
# Install every Debian package sotto needs to build, test and benchmark.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

pkgs=(
	# build
	build-essential pkg-config meson ninja-build clang llvm
	libdpdk-dev dpdk liburing-dev libyaml-dev libssl-dev libsrtp2-dev libopus-dev
	libnuma-dev libpcap-dev libbsd-dev libelf-dev libjansson-dev
	libhttp-parser-dev libwslay-dev libcap-dev libseccomp-dev
	# tests and benchmarks
	coturn iproute2 procps psmisc valgrind python3 ca-certificates
	# dpdk driver tests (scripts/netns.sh): veth offloads, ping checks,
	# flock/mountpoint for scripts/hugepages.sh
	ethtool iputils-ping util-linux
	# signaling: the real browser, a Python WebRTC peer, HTTP/WebSocket
	# clients for the API tests, and promtool for the metrics exposition
	chromium chromium-driver python3-selenium python3-aiortc python3-websockets
	curl prometheus
)

# the browser tests' accessibility check loads axe-core (npm registry,
# pinned in tests/browser/package-lock.json): Debian's Node.js and npm
# unless the machine has its own
command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# coturn's package would enable a system service; the tests run its
	# client tools only and the benchmark starts turnserver by hand on
	# loopback.
	$SUDO mkdir -p /usr/sbin
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod +x /usr/sbin/policy-rc.d
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
	$SUDO rm -f /usr/sbin/policy-rc.d
fi

# npm packages the tests load, exactly as locked (no install scripts)
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$top/tests/browser/node_modules/axe-core/axe.min.js" ]; then
	npm ci --prefix "$top/tests/browser" --omit=dev --ignore-scripts \
		--no-audit --no-fund
fi
