#!/usr/bin/env bash
# The test command: every unit and integration test of the workspace. No
# Docker, no external broker: integration tests start librdkafka's mock
# cluster in-process on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --workspace "$@"
