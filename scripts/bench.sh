#!/usr/bin/env bash
# The benchmark, from a fresh clone: builds the release binaries, installs
# tansu once (as scripts/e2e.sh does), and runs bench, which starts tansu and
# the services and measures them next to raw Kafka clients.
#
#   scripts/bench.sh            full run (a few minutes), rewrites BENCHMARKS.md
#   scripts/bench.sh --smoke    seconds-long run that proves it still works
#
# Any other arguments go to bench (`target/release/bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-release.sh -p loadgen -p bench
TANSU_BIN=$(INSTALL_ONLY=1 scripts/local-broker.sh)
export TANSU_BIN

if [ "$#" -eq 0 ]; then
  set -- --out BENCHMARKS.md
fi
exec target/release/bench "$@"
