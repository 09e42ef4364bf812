#!/usr/bin/env bash
# Runs every experiment of docs/experiments.md and checks what it promises;
# CI runs it, so the document cannot drift from the code. Builds the release
# binaries and fetches Apache Kafka first (once).
#
#   DURATION=10   seconds of load in experiment 6 (CI uses fewer)
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/build-release.sh -p loadgen
INSTALL_ONLY=1 scripts/local-broker.sh >/dev/null
for experiment in scripts/experiments/[0-9][0-9]-*.sh; do
  echo "== $experiment"
  "$experiment"
done
echo "experiments: all passed"
