#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# THE run command: installs dependencies, builds build/, and runs sottod on
# its embedded development config (configs/sotto.yaml: STUN/TURN on
# 127.0.0.1:3478 and [::1]:3478). Extra arguments go to sottod, e.g.
#
#   scripts/run.sh                      # embedded dev config
#   scripts/run.sh -c my.yaml           # another config
#   scripts/run.sh --check-config -c my.yaml
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh normal
exec build/sottod "$@"
