#!/usr/bin/env bash
# The benchmark, from a fresh clone: builds the release binaries, fetches
# Apache Kafka once (as scripts/e2e.sh does), and runs bench, which starts
# Kafka and the services and measures them next to raw Kafka clients.
#
#   scripts/bench.sh            full run (a few minutes), rewrites BENCHMARKS.md
#   scripts/bench.sh --smoke    seconds-long run that proves it still works
#
# Any other arguments go to bench (`target/release/bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-release.sh -p loadgen -p bench
KAFKA_HOME=$(dirname "$(INSTALL_ONLY=1 scripts/local-broker.sh)")
export KAFKA_HOME

if [ "$#" -eq 0 ]; then
  set -- --out BENCHMARKS.md
fi
exec target/release/bench "$@"
