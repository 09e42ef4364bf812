#!/usr/bin/env bash
# The end-to-end suite: builds the release binaries (as the Dockerfile does),
# fetches Apache Kafka once into a cache outside the checkout
# (scripts/local-broker.sh), and runs e2e-tests, which start Kafka and both
# services as separate processes.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-release.sh
KAFKA_HOME=$(dirname "$(INSTALL_ONLY=1 scripts/local-broker.sh)")
export KAFKA_HOME
# One scenario at a time: each starts its own broker JVM and services on
# the two shared cores.
cargo test --locked -p e2e-tests -- --test-threads=1
