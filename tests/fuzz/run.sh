#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Builds every libFuzzer target (scripts/build.sh fuzz: clang, ASan+UBSan)
# and runs each for N seconds, for a quick look after a change:
#   tests/fuzz/run.sh [seconds] [target...]     (default: 60, all targets)
# scripts/fuzz-long.sh does the work, with the suite's flags: a crash,
# sanitizer report or timeout fails (exit 1, never libFuzzer's 77). New
# inputs stay in build-fuzz/long/<target>/corpus; the committed corpus is
# only read (scripts/fuzz-long.sh merges into it).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
FUZZ_SECONDS=$secs FUZZ_MERGE=0 exec "$here/../../scripts/fuzz-long.sh" 0 "$@"
