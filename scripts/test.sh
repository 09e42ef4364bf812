#!/usr/bin/env bash
# The test command: every unit and integration test of the workspace. No
# Docker, no external broker: integration tests start librdkafka's mock
# cluster in-process on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --workspace "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
