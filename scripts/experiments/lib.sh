# Shared by the experiment scripts: starts Apache Kafka (scripts/local-broker.sh)
# and the release binaries on free ports, each logging JSON to a file in
# $work, and gives the checks the experiments make. Sourced, not run.
#
#   KEEP=1   keep $work (the logs) after the experiment
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BIN_DIR:-$root/target/release}
work=$(mktemp -d)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "logs kept in $work" >&2; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

say() { printf '\n# %s\n' "$*" >&2; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# within SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds;
# fails (returns 1) if it has not after SECONDS.
within() {
  local timeout=$1; shift
  for _ in $(seq $((timeout * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}

# count_log FILE JQ_FILTER: how many JSON log lines match.
count_log() { jq -c "select($2)" "$1" 2>/dev/null | wc -l; }

# logged FILE JQ_FILTER [AT_LEAST]: whether at least AT_LEAST (1) lines match.
logged() { [ -f "$1" ] && [ "$(count_log "$1" "$2")" -ge "${3:-1}" ]; }

# wait_log FILE JQ_FILTER [SECONDS]: until a JSON log line matches the filter.
wait_log() {
  local file=$1 filter=$2 timeout=${3:-60}
  within "$timeout" logged "$file" "$filter" \
    || fail "no line matching '$filter' in $(basename "$file") within ${timeout}s"
}


kafka_port=$(free_port)
export KAFKA_BROKERS=127.0.0.1:$kafka_port LOG_FORMAT=json

# start_broker: Apache Kafka on $kafka_port (its data in $work/kafka with
# KEEP_BROKER_DATA=1, so that a restart finds it).
start_broker() {
  local data=${KEEP_BROKER_DATA:+$work/kafka}
  KAFKA_PORT=$kafka_port KAFKA_DATA=$data "$root/scripts/local-broker.sh" >"$work/broker.log" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  within 120 grep -q " ready on " "$work/broker.log" || fail "Kafka did not start: $(cat "$work/broker.log")"
}

stop_broker() {
  kill -TERM "$broker_pid"
  wait "$broker_pid" 2>/dev/null || true
}

producer_port=$(free_port)
producer=http://127.0.0.1:$producer_port
management_port=$(free_port)
management=http://127.0.0.1:$management_port

start_producer() {
  HTTP_ADDR=127.0.0.1:$producer_port MANAGEMENT_ADDR=127.0.0.1:$management_port \
    "$bin/producer-service" >"$work/producer.log" 2>&1 &
  pids+=("$!")
  wait_log "$work/producer.log" '.message == "reached Kafka; ready"' 30
}

# start_consumer NAME [ENV=VALUE...]: a consumer-service logging to $work/NAME.log;
# its pid is in consumer_pid.
start_consumer() {
  local name=$1; shift
  env MANAGEMENT_ADDR=127.0.0.1:0 COMMIT_INTERVAL_MS=500 "$@" "$bin/consumer-service" >"$work/$name.log" 2>&1 &
  consumer_pid=$!
  pids+=("$consumer_pid")
}

# post_order [ORDER_ID]: POSTs examples/order.json (with that order_id);
# prints the status line's code and the body.
post_order() {
  local body
  body=$(jq -c --arg id "${1:-}" 'if $id == "" then . else .order_id = $id end' "$root/examples/order.json")
  curl -s -w '\n%{http_code}\n' -X POST "$producer/orders" -H 'content-type: application/json' -d "$body"
}
