#!/usr/bin/env bash
# The test command:
#   1. every unit and integration test of the workspace, against
#      librdkafka's in-process mock cluster (no Docker, no broker), but
#      local-kafka's, which run its command on Apache Kafka (under a minute);
#   2. the end-to-end suite against Apache Kafka (scripts/e2e.sh; the first
#      run fetches Kafka from Maven Central, seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { "$@" 2>&1 | tee -a "$log"; }

status=0
run cargo test --locked --workspace --exclude e2e-tests || status=$?
if [ "$status" -eq 0 ]; then
  run scripts/e2e.sh || status=$?
fi

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
