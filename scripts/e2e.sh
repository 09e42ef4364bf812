#!/usr/bin/env bash
# The end-to-end suite: builds the release binaries (as the Dockerfile does),
# installs tansu once into a cache outside the checkout, and runs
# e2e-tests, which start tansu and both services as separate processes.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-release.sh
TANSU_BIN=$(INSTALL_ONLY=1 scripts/local-broker.sh)
export TANSU_BIN
# One scenario at a time: each starts its own broker and services, and
# consumer groups on tansu settle slower when the two cores are shared.
cargo test --locked -p e2e-tests -- --test-threads=1
