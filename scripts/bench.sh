#!/usr/bin/env bash
# The benchmark, from a fresh clone: builds the release binaries, fetches
# Apache Kafka and the Strimzi Kafka Bridge once (into ~/.cache), and runs
# bench, which starts Kafka, the services and the bridge and measures them
# side by side with raw Kafka clients; then draws the charts with matplotlib
# (a pinned version, in a virtual environment cached beside the rest).
#
#   scripts/bench.sh            full run (about ten minutes), rewrites
#                               BENCHMARKS.md and docs/bench-*.png
#   scripts/bench.sh --smoke    seconds-long run of every step, the bridge
#                               included, charts drawn into a temporary folder
#
# Any other arguments go to bench (`target/release/bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

MATPLOTLIB_VERSION=3.10.7
venv=${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/plot-venv-$MATPLOTLIB_VERSION

scripts/build-release.sh -p loadgen -p bench
KAFKA_HOME=$(dirname "$(INSTALL_ONLY=1 scripts/local-broker.sh)")
export KAFKA_HOME
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
# The bridge comes from Maven Central, or from its source (BRIDGE_SRC, see
# scripts/strimzi-bridge.sh) where the Maven repository lacks it, as the one
# this project's machines and CI reach does: they have its unmodified source
# in ../shared/vendor/ (checked against its published checksum first). Once
# built, it is cached. A smoke run on a machine with neither goes on without
# the bridge, saying so; the full run needs it.
VENDORED_BRIDGE=../shared/vendor/strimzi-kafka-bridge-0.33.1-src.tar.gz
VENDORED_BRIDGE_SHA256=1ea2d2439e12d2a5e4172ad774c8b814b464b534ebe9d0fc9f5171eb3eb94042
bridge_ready() { INSTALL_ONLY=1 "$@" scripts/strimzi-bridge.sh >/dev/null 2>>"$data/bridge.log"; }
if ! bridge_ready && [ -f "$VENDORED_BRIDGE" ]; then
  echo "$VENDORED_BRIDGE_SHA256  $VENDORED_BRIDGE" | sha256sum --check --quiet >>"$data/bridge.log" 2>&1 &&
    mkdir "$data/bridge-src" &&
    tar -xzf "$VENDORED_BRIDGE" -C "$data/bridge-src" --strip-components=1 &&
    bridge_ready env BRIDGE_SRC="$data/bridge-src" || true
fi
if ! bridge_ready; then
  if [ "${1:-}" != --smoke ]; then
    cat "$data/bridge.log" >&2
    exit 1
  fi
  echo "bench.sh: the Strimzi Kafka Bridge is not available on this machine, so this smoke run leaves it out:" >&2
  sed 's/^/  /' "$data/bridge.log" >&2
  set -- "$@" --no-bridge
fi
if [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv.tmp"
  python3 -m venv "$venv.tmp"
  "$venv.tmp/bin/pip" install -q "matplotlib==$MATPLOTLIB_VERSION"
  mv "$venv.tmp" "$venv"
fi

charts=docs
if [ "$#" -eq 0 ]; then
  set -- --out BENCHMARKS.md
elif [ "$1" = --smoke ]; then
  charts=$data/charts
fi
target/release/bench --chart-data "$data" "$@"
"$venv/bin/python" scripts/plot-bench.py "$data" "$charts"
