#!/usr/bin/env bash
# Runs tansu, a Kafka-compatible broker written in Rust, in the foreground on
# 127.0.0.1:${KAFKA_PORT:-9092}, with the topics `orders` (6 partitions) and
# `orders.dlq` created: the way to run the stack against a real
# Kafka-protocol broker without Docker. Ctrl-c stops it.
#
#   STORAGE=memory (default)  everything in memory, gone at exit
#   STORAGE=sqlite            ./tansu.db (or $TANSU_DB): survives restarts
#   KAFKA_PORT=9092           the listener port
#   TANSU_CACHE=~/.cache/orders-pipeline/tansu   where tansu is installed
#   INSTALL_ONLY=1            install (once) and exit without starting
#
# The first run installs tansu from crates.io into TANSU_CACHE, outside the
# checkout (about 15 minutes on 2 cores); later runs reuse it.
set -euo pipefail

TANSU_VERSION=0.6.0
cache=${TANSU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/tansu}
tansu=$cache/bin/tansu

if ! "$tansu" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "installing tansu $TANSU_VERSION into $cache (once; ~15 min on 2 cores)" >&2
  cargo install tansu --version "$TANSU_VERSION" --locked \
    --features dynostore,libsql --root "$cache" >&2
fi
if [ -n "${INSTALL_ONLY:-}" ]; then
  echo "$tansu"
  exit 0
fi

port=${KAFKA_PORT:-9092}
case ${STORAGE:-memory} in
  memory) storage=memory://tansu/ ;;
  sqlite) storage=sqlite://${TANSU_DB:-tansu.db} ;;
  *) echo "STORAGE must be memory or sqlite, got ${STORAGE}" >&2; exit 2 ;;
esac

"$tansu" broker \
  --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine "$storage" &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null' INT TERM

# Create the topics once the broker answers. With sqlite storage they may
# exist from an earlier run, so a failed create is reported, not fatal.
for _ in $(seq 50); do
  "$tansu" topic list --broker "tcp://127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 0.2
done
for spec in orders:6 orders.dlq:1; do
  "$tansu" topic create "${spec%%:*}" --partitions "${spec##*:}" \
    --broker "tcp://127.0.0.1:$port" >/dev/null 2>&1 \
    || echo "topic ${spec%%:*} not created (it may exist already)" >&2
done
echo "tansu ready on 127.0.0.1:$port (storage $storage) with topics orders, orders.dlq" >&2
wait "$broker"
