#!/usr/bin/env bash
# An outside fuzzer against the published contract: schemathesis reads
# GET /openapi.json and sends POST /orders requests generated from it, both
# valid and invalid, to producer-service (in dev-stack, on librdkafka's mock
# cluster). It fails on any schema-valid request that is rejected, any
# invalid one that is accepted, any 5xx, and any answer that breaks its
# documented schema, status or headers.
#
#   EXAMPLES=300      generated requests per phase
#   ST_CACHE=~/.cache/orders-pipeline/schemathesis   where it is installed
#
# The first run installs schemathesis from PyPI into a virtualenv outside
# the checkout (under a minute).
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
cache=${ST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/schemathesis}
st=$cache/bin/st
if ! "$st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  echo "installing schemathesis $ST_VERSION into $cache (once)" >&2
  python3 -m venv "$cache"
  "$cache/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi

cargo build --locked --quiet -p dev-stack
port=18080
PRODUCER_HTTP_ADDR=127.0.0.1:$port PRODUCER_MANAGEMENT_ADDR=127.0.0.1:$((port + 1)) \
  CONSUMER_MANAGEMENT_ADDR=127.0.0.1:$((port + 2)) RUST_LOG=warn target/debug/dev-stack &
stack=$!
trap 'kill "$stack" 2>/dev/null; wait "$stack" 2>/dev/null || true' EXIT

base=http://127.0.0.1:$port
ready=http://127.0.0.1:$((port + 1))/readyz
for _ in $(seq 1 300); do
  curl -sf "$ready" >/dev/null && break
  kill -0 "$stack" 2>/dev/null || { echo "dev-stack exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$ready" >/dev/null || { echo "dev-stack never became ready" >&2; exit 1; }

"$st" --config-file scripts/schemathesis.toml run "$base/openapi.json" --url "$base" --checks all \
  --max-examples "${EXAMPLES:-300}" --no-color
