#!/usr/bin/env bash
# Where each order's CPU goes: runs one of the benchmark's loads on Apache
# Kafka under `perf record` and draws a CPU flame graph (SVG) of the service:
#
#   scripts/profile.sh producer [OUT.svg]   producer-service, 256 connections,
#                                           closed loop, 10 s
#   scripts/profile.sh consumer [OUT.svg]   consumer-service draining 200,000
#                                           prefilled orders
#
# OUT defaults to target/profile/<service>.svg. It prints the run's rate and
# CPU per order too. Any further arguments go to bench (`--seconds N`,
# `--drain-count N`). Needs root or perf_event_paranoid <= 1, perf (Debian:
# linux-perf, installed here if missing) and inferno's flame graph tools
# (crates.io, installed once into ~/.cache/orders-pipeline/tools).
set -euo pipefail
cd "$(dirname "$0")/.."

INFERNO_VERSION=0.12.8
which=${1:?usage: scripts/profile.sh producer|consumer [OUT.svg] [bench arguments]}
shift
out=target/profile/$which.svg
if [ $# -gt 0 ] && [[ $1 != --* ]]; then
  out=$1
  shift
fi

if ! command -v perf >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf >/dev/null
fi
tools=${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/tools
if [ ! -x "$tools/bin/inferno-flamegraph" ]; then
  cargo install --quiet --locked --root "$tools" inferno --version "$INFERNO_VERSION"
fi

scripts/build-release.sh -p loadgen -p bench
KAFKA_HOME=$(dirname "$(INSTALL_ONLY=1 scripts/local-broker.sh)")
export KAFKA_HOME
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

target/release/bench --profile "$which" --perf-data "$work/perf.data" "$@"
mkdir -p "$(dirname "$out")"
# DWARF unwinding happens here, from the stacks perf copied: a minute or two.
perf script -i "$work/perf.data" 2>/dev/null |
  "$tools/bin/inferno-collapse-perf" |
  "$tools/bin/inferno-flamegraph" --minwidth 1 --title "$which-service, $(git rev-parse --short HEAD)" >"$out"
echo "flame graph: $out"
