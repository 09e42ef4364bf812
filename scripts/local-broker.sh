#!/usr/bin/env bash
# Runs tansu, a Kafka-compatible broker written in Rust, in the foreground on
# 127.0.0.1:${KAFKA_PORT:-9092}, with the topics `orders` (6 partitions) and
# `orders.dlq` created: the way to run the stack against a real
# Kafka-protocol broker without Docker. Ctrl-c stops it.
#
#   STORAGE=memory (default)  everything in memory, gone at exit
#   STORAGE=sqlite            ./tansu.db (or $TANSU_DB): survives restarts
#   KAFKA_PORT=9092           the listener port
#   SASL_USERS=name:pw[,name:pw...]  require SASL authentication
#                             (security.protocol=SASL_PLAINTEXT, mechanism
#                             SCRAM-SHA-512 or SCRAM-SHA-256; PLAIN is not
#                             supported) with these users. Needs sqlite: with
#                             STORAGE unset it switches to sqlite (and says
#                             so); STORAGE=memory is an error. The broker
#                             first runs without authentication to create the
#                             topics and users (an existing user's password is
#                             overwritten; users from earlier runs that are not
#                             listed stay in the database), then restarts
#                             with --authentication on the same database.
#                             Names cannot contain ':' or ','; passwords
#                             cannot contain ','.
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
sasl_users=${SASL_USERS:-}
if [ -n "$sasl_users" ]; then
  # Users live in the storage engine, and tansu can only create them while
  # it does not require authentication: only sqlite survives the restart.
  case ${STORAGE:-} in
    '') echo "SASL_USERS is set: using STORAGE=sqlite (${TANSU_DB:-tansu.db})" >&2
        STORAGE=sqlite ;;
    sqlite) ;;
    *) echo "SASL_USERS needs STORAGE=sqlite, got STORAGE=${STORAGE}" >&2; exit 2 ;;
  esac
  IFS=, read -r -a users <<<"$sasl_users"
  for user in "${users[@]}"; do
    case $user in
      ?*:?*) ;;
      *) echo "SASL_USERS entries must be name:password, got '${user}'" >&2; exit 2 ;;
    esac
  done
fi
case ${STORAGE:-memory} in
  memory) storage=memory://tansu/ ;;
  sqlite) storage=sqlite://${TANSU_DB:-tansu.db} ;;
  *) echo "STORAGE must be memory or sqlite, got ${STORAGE}" >&2; exit 2 ;;
esac

broker=
# stop_broker: TERM the running tansu (if any) and wait until it is gone. Also
# runs on every exit of this script, so ctrl-c or a failure never leaves a
# tansu behind.
stop_broker() {
  [ -z "$broker" ] || { kill -TERM "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; } || true
  broker=
}
trap stop_broker EXIT
trap 'exit 130' INT TERM

# listening: whether something accepts connections on the port.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# start_broker [ARGS...]: tansu broker in the background (pid in $broker).
start_broker() {
  if listening; then
    echo "127.0.0.1:$port is already in use (another broker?); set KAFKA_PORT" >&2
    exit 1
  fi
  "$tansu" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "$storage" "$@" &
  broker=$!
}

# wait_for_port: until the listener accepts connections (a bare connect, so it
# also works once the broker requires authentication); fails if tansu exited.
wait_for_port() {
  for _ in $(seq 50); do
    kill -0 "$broker" 2>/dev/null || { echo "tansu exited before it was ready" >&2; exit 1; }
    listening && return 0
    sleep 0.2
  done
  echo "tansu does not listen on 127.0.0.1:$port after 10s" >&2
  exit 1
}

start_broker
wait_for_port

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

auth=
if [ -n "$sasl_users" ]; then
  names=
  for user in "${users[@]}"; do
    for mechanism in scram512 scram256; do
      if ! "$tansu" user create "${user%%:*}" "${user#*:}" \
        --mechanism "$mechanism" --broker "tcp://127.0.0.1:$port" >/dev/null; then
        echo "could not create SASL user ${user%%:*} ($mechanism)" >&2
        exit 1
      fi
    done
    names+="${names:+, }${user%%:*}"
  done
  echo "SASL users created ($names); restarting tansu with --authentication" >&2
  stop_broker
  start_broker --authentication
  wait_for_port
  auth="; SASL_PLAINTEXT with SCRAM-SHA-512/256 required, users: $names"
fi
echo "tansu ready on 127.0.0.1:$port (storage $storage$auth) with topics orders, orders.dlq" >&2
wait "$broker"
