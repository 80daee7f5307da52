#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Configures (if needed) and builds one or more build trees:
#
#   scripts/build.sh [normal|asan|fuzz]...     (default: normal)
#
#   normal  build/       gcc, debugoptimized
#   asan    build-asan/  gcc, -Db_sanitize=address,undefined -Db_lundef=false,
#                        without perf/ (nothing there is a test)
#   fuzz    build-fuzz/  clang, -Dfuzz=true, ASan+UBSan; only the libFuzzer
#                        targets are built (the fuzz suite runs nothing else)
#
# Exits non-zero if any requested build failed (after trying all of them).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

# setup DIR [meson options...]: configure DIR, or reconfigure an existing one.
setup() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null ||
			meson setup --wipe "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

build_one() {
	case $1 in
	normal)
		setup build && ninja -C build
		;;
	asan)
		setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
			-Dperf=false && ninja -C build-asan
		;;
	fuzz)
		command -v clang >/dev/null || {
			echo "build.sh: clang not found (scripts/deps.sh installs it)" >&2
			return 1
		}
		CC=clang setup build-fuzz -Dfuzz=true -Dperf=false \
			-Db_sanitize=address,undefined -Db_lundef=false || return 1
		# shellcheck disable=SC2046
		ninja -C build-fuzz $(ninja -C build-fuzz -t targets all |
			sed -n 's|^\(tests/fuzz/fuzz_[a-z_0-9]*\):.*|\1|p' | sort -u)
		;;
	*)
		echo "build.sh: unknown build '$1' (normal|asan|fuzz)" >&2
		return 2
		;;
	esac
}

[ $# -gt 0 ] || set -- normal
rc=0
for b in "$@"; do
	echo "=== build: $b" >&2
	if ! build_one "$b"; then
		echo "=== build: $b FAILED" >&2
		rc=1
	fi
done
exit "$rc"
