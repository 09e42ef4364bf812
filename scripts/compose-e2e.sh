#!/usr/bin/env bash
# `docker compose up --build` for real, on both stacks (docker-compose.yml:
# ZooKeeper and Kafka 3.9; docker-compose.kraft.yml: Kafka 4.1 in KRaft
# mode), with Debian's docker.io engine and docker-compose 1.29:
#   0. first, .ci/images/test.sh: the Kafka, ZooKeeper and Prometheus images
#      refuse what the real ones refuse (copies of the compose files with one
#      edit each fail to come up, saying why) and translate the environment
#      as they do;
#   1. both services, their dependencies and Prometheus (the `observability`
#      profile) built and started, every container healthy (kafka-init
#      exited 0) within HEALTHY_WITHIN seconds;
#   2. the README's "Post an order" commands, run as written: 201, the
#      consumer's "order processed" line for that order_id, then 422;
#   3. --scale consumer-service=3: the three own two partitions each;
#   4. 500 orders POSTed while one consumer container restarts: every order
#      answered 201 is processed (read from the consumers' logs);
#   4b. Prometheus scrapes the producer and all three consumers (targets
#      up), its orders_published_total{result="acked"} is the number of
#      orders answered 201, and every metric the Grafana dashboard queries
#      is among the series it holds;
#   5. `stop`: producer and consumers exit 0 (a container still running at
#      the end of its grace period is killed, exit 137);
#   6. `down -v` leaves no container, volume or network of the project, the
#      anonymous volumes of the images' VOLUMEs included.
#
# Where no registry is reachable (this project's CI), .ci/images/build.sh
# first builds the images the Dockerfile and the compose files name (stand-
# ins; an image of that name it did not build, a real one, it leaves alone).
# Kafka UI and Grafana cannot be built here, so `up` names the two services
# and Prometheus, which brings up only them and their dependencies; Grafana's
# provisioning is checked statically (scripts/check-grafana.py). The
# queries the checks ask of the running stack are in compose-e2e-lib.sh.
#
# Installs docker.io, docker-compose and debootstrap where missing (Debian),
# and starts dockerd when no engine answers; whatever it started, engine
# included, is stopped at exit, on failure too. Runs as root. The containers
# talk on the network compose creates; the host reaches them on the
# loopback ports the compose files publish (8080, 9080, 9090, 29092), which
# must be free.
#
#   STACKS="docker-compose.yml docker-compose.kraft.yml"   the files to run
#   HEALTHY_WITHIN=120   seconds from `up` to every container healthy
#   KEEP=1               keep the logs (their folder is printed)
set -euo pipefail
cd "$(dirname "$0")/.."

STACKS=${STACKS:-docker-compose.yml docker-compose.kraft.yml}
HEALTHY_WITHIN=${HEALTHY_WITHIN:-120}
ORDERS=500
project=orders-compose-e2e
logs=$(mktemp -d)
started_dockerd=""
file=""
poster=""

say() { printf '%s compose-e2e: %s\n' "$(date +%T)" "$*" >&2; }
fail() {
  say "FAILED ($file): $*"
  exit 1
}
compose() { docker-compose --ansi never --profile observability -p "$project" -f "$file" "$@"; }
# The services log in colour; the checks read plain text.
plain() { sed 's/\x1b\[[0-9;]*m//g'; }

# Polls CONDITION (a command) once a second until it holds, or fails after
# LIMIT seconds: the events waited for here (health, log lines) have no
# notification a shell can wait on. CONDITION may say in $detail what it saw.
detail=""
wait_until() {
  local what=$1 limit=$2 start=$SECONDS
  shift 2
  detail=""
  until "$@"; do
    ((SECONDS - start < limit)) || fail "$what: not within $limit s${detail:+ ($detail)}"
    sleep 1
  done
}

cleanup() {
  local status=$?
  set +e
  # A failed check leaves the orders loop posting into a stack going down.
  if [ -n "$poster" ]; then
    kill "$poster" 2>/dev/null
    wait "$poster" 2>/dev/null
  fi
  for stack in $STACKS; do
    docker-compose --ansi never --profile observability -p "$project" -f "$stack" \
      down -v --remove-orphans --timeout 30 >>"$logs/down.log" 2>&1
  done
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd"
    for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
    kill -9 "$started_dockerd" 2>/dev/null
    say "stopped the engine it started"
  fi
  if ((status)) || [ -n "${KEEP:-}" ]; then
    say "logs kept in $logs"
  else
    rm -rf "$logs"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The engine ------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  say "installing ${missing[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  dockerd >"$logs/dockerd.log" 2>&1 &
  started_dockerd=$!
  wait_until "the Docker engine" 60 docker info >/dev/null 2>&1
fi
say "engine: $(docker version -f 'Docker {{.Server.Version}}'), $(docker-compose version --short | head -1)"

images_start=$SECONDS
.ci/images/build.sh
say "fixture images ready in $((SECONDS - images_start)) s"

images_start=$SECONDS
.ci/images/test.sh
say "Kafka, ZooKeeper and Prometheus images checked in $((SECONDS - images_start)) s"

# The checks -------------------------------------------------------------------
# The queries and conditions the checks use, on the running stack.
# shellcheck source=scripts/compose-e2e-lib.sh
source scripts/compose-e2e-lib.sh

run_stack() {
  file=$1
  local start
  say "== $file"

  start=$SECONDS
  compose build producer-service consumer-service >"$logs/build.log" 2>&1 ||
    { tail -30 "$logs/build.log" >&2; fail "build"; }
  say "services built in $((SECONDS - start)) s"

  start=$SECONDS
  compose up -d producer-service consumer-service prometheus >"$logs/up.log" 2>&1 ||
    { tail -30 "$logs/up.log" >&2; states >&2; fail "up"; }
  wait_until "every container healthy" "$HEALTHY_WITHIN" all_healthy
  say "every container healthy $((SECONDS - start)) s after up (bound $HEALTHY_WITHIN s):"
  sed 's/^/    /' "$logs/states" >&2

  # The README's walk-through, its commands as written.
  rm -f "$logs"/readme-*.sh
  readme_commands
  if [ ! -f "$logs/readme-1.sh" ] || [ ! -f "$logs/readme-2.sh" ]; then
    fail "README: no two sh blocks under '### Post an order'"
  fi
  bash -e "$logs/readme-1.sh" >"$logs/answer-1" 2>"$logs/answer-1.stderr" || fail "README's POST failed"
  head -1 "$logs/answer-1" | grep -q '^HTTP/1.1 201' || { cat "$logs/answer-1" >&2; fail "README's order: not 201"; }
  local order_id
  order_id=$(tail -1 "$logs/answer-1" | jq -r .order_id)
  wait_until "the consumer's line for order $order_id" 30 processed_one "$order_id"
  say "README order: 201, then: $(processed | grep "order_id=$order_id " | sed 's/.*\(order processed\)/\1/')"
  bash -e "$logs/readme-2.sh" >"$logs/answer-2" 2>"$logs/answer-2.stderr" || fail "README's invalid POST failed"
  [ "$(jq .status "$logs/answer-2")" = 422 ] || { cat "$logs/answer-2" >&2; fail "README's invalid order: not 422"; }
  say "README invalid order: 422 $(jq -c '[.errors[].field]' "$logs/answer-2")"

  # Three consumers, six partitions.
  start=$SECONDS
  compose up -d --scale consumer-service=3 consumer-service >>"$logs/up.log" 2>&1 || fail "scale to 3"
  wait_until "three consumers owning two partitions each" 90 two_each
  say "scaled to 3 consumers, partitions owned: $(awk '{printf "%s ", $2}' "$logs/owned")($((SECONDS - start)) s)"

  # Orders while a consumer restarts.
  local victim
  victim=$(compose ps -q consumer-service | sed -n 1p)
  mkdir -p "$logs/orders"
  rm -f "$logs/orders"/*
  (
    for i in $(seq "$ORDERS"); do
      curl -s -o "$logs/orders/$i.json" -w '%{http_code}\n' -X POST localhost:8080/orders \
        -H 'content-type: application/json' -d @examples/order.json || echo 000
    done >"$logs/codes"
  ) &
  poster=$!
  wait_until "the first 100 orders answered" 60 answered_at_least 100
  docker restart -t 30 "$victim" >/dev/null
  local during
  during=$(answered)
  wait "$poster"
  poster=""
  ((during < ORDERS)) || fail "the orders were all sent before the restart ended; nothing was sent during it"
  local created
  created=$(grep -c '^201$' "$logs/codes" || true)
  [ "$created" -eq "$ORDERS" ] || fail "$created of $ORDERS orders answered 201: $(sort "$logs/codes" | uniq -c | tr '\n' ' ')"
  cat "$logs"/orders/*.json | jq -r .order_id | sort -u >"$logs/accepted"
  start=$SECONDS
  wait_until "every accepted order processed" 120 all_processed
  say "$ORDERS orders, consumer $(cut -c1-12 <<<"$victim") restarted when $during had been answered: all 201, all processed ($((SECONDS - start)) s after the last answer)"

  # What Prometheus saw: the README's order and the 500, each answered 201.
  start=$SECONDS
  wait_until "Prometheus: producer-service and three consumer-service targets up" 60 targets_up
  acked_expected=$((1 + created)) acked_seen=""
  wait_until "Prometheus: orders_published_total{result=\"acked\"} = $acked_expected" 60 acked_counted
  wait_until "Prometheus: the dashboard's metrics among its series" 60 dashboard_metrics_held
  say "Prometheus: 4 targets up, orders_published_total{result=\"acked\"} = $acked_seen, the dashboard's $(scripts/check-grafana.py --metrics | wc -l) metrics held ($((SECONDS - start)) s)"

  # Stop: the services drain, flush, commit and leave, and exit 0.
  local services
  services=$(compose ps -q producer-service consumer-service)
  start=$SECONDS
  compose stop >"$logs/stop.log" 2>&1 || fail "stop"
  # shellcheck disable=SC2086 # one argument per container id
  docker inspect -f '{{.Name}} {{.State.ExitCode}}' $services >"$logs/exits"
  awk '$2 != 0' "$logs/exits" | grep . >/dev/null && fail "exit codes after stop: $(tr '\n' ' ' <"$logs/exits")"
  say "stop: $(awk '{printf "%s=%s ", substr($1, 2), $2}' "$logs/exits")(all 0; $((SECONDS - start)) s for the whole stack)"

  # The images' VOLUMEs give every container of them anonymous volumes,
  # which carry no project label: remembered by name before `down -v`.
  local volumes named anonymous
  volumes=$(mounted_volumes)
  named=$(docker volume ls -q --filter "label=com.docker.compose.project=$project" | sort -u)
  anonymous=$(comm -23 <(echo "$volumes") <(echo "$named") | grep -c . || true)
  ((anonymous > 0)) || fail "no anonymous volume mounted: the Kafka images' VOLUMEs are gone"
  compose down -v --remove-orphans >>"$logs/down.log" 2>&1 || fail "down -v"
  local left volume
  left=$(
    docker ps -aq --filter "label=com.docker.compose.project=$project"
    docker volume ls -q --filter "label=com.docker.compose.project=$project"
    docker network ls -q --filter "label=com.docker.compose.project=$project"
    for volume in $volumes; do
      if docker volume inspect "$volume" >/dev/null 2>&1; then echo "$volume"; fi
    done
  )
  [ -z "$left" ] || fail "left behind after down -v: $left"
  say "down -v: no container, volume ($(grep -c . <<<"$named") named, $anonymous anonymous) or network left"
}

for stack in $STACKS; do
  run_stack "$stack"
done
say "passed: $STACKS"
