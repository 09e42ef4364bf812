#!/usr/bin/env bash
# The release build of both services: the Dockerfile runs this script and
# CI builds the end-to-end suite's binaries with it, so both build the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo build --release --locked -p producer-service -p consumer-service "$@"
