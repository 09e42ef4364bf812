#!/usr/bin/env bash
# Proves that the Kafka, ZooKeeper and Prometheus images the compose files
# run refuse what the real images refuse and translate the environment as
# they do, so that a compose edit that would break the stack for users breaks
# CI too. Run by scripts/compose-e2e.sh after .ci/images/build.sh; needs a
# running Docker engine, docker-compose and those images. The checks look
# only at what the real images have too (their paths, scripts and behaviour,
# as read in their sources), so that where the real ones were pulled, which
# build.sh then leaves in place, they test those; that has not been run
# here, where no registry is reachable. How each check runs an image or a
# compose file and judges the outcome is in test-lib.sh.
#
#   1. the images' user, VOLUMEs, ports, entry point and command are the
#      real ones';
#   2. cp-zookeeper writes only its fixed table of ZOOKEEPER_* variables;
#      cp-kafka derives its listeners from the advertised ones and keeps its
#      data in /var/lib/kafka/data; apache/kafka without CLUSTER_ID or
#      KAFKA_LOG_DIRS formats /tmp/kafka-logs with its default cluster id;
#   3. copies of the compose files with one edit each fail to come up
#      (`up`, the container exits non-zero and restarts), the log saying
#      why: docker-compose.yml without KAFKA_ADVERTISED_LISTENERS, with
#      KAFKA_PORT, without KAFKA_ZOOKEEPER_CONNECT, and without
#      ZOOKEEPER_CLIENT_PORT; docker-compose.kraft.yml without
#      KAFKA_ADVERTISED_LISTENERS (Kafka 4 refuses to advertise 0.0.0.0);
#   4. cp-kafka refuses an unwritable data directory and waits for ZooKeeper,
#      failing when it does not answer; an apache/kafka controller-only node
#      refuses advertised listeners;
#   5. build.sh leaves an image it did not build alone (an unlabelled image
#      stands in for the real Prometheus for the time of the check), and
#      the Rust image is the Dockerfile's RUST_VERSION.
set -euo pipefail
cd "$(dirname "$0")/../.."

project=orders-stand-in-test
logs=$(mktemp -d)
apache=apache/kafka:4.1.0
cp_kafka=confluentinc/cp-kafka:7.9.0
cp_zookeeper=confluentinc/cp-zookeeper:7.9.0
prometheus=$(awk '$1 == "image:" && $2 ~ /^prom\/prometheus:/ { print $2; exit }' docker-compose.yml)
checks=0
copy=""
containers=()
network=""
stand_in="" # the Prometheus image to tag back after check 5
fake=""

say() { printf '%s stand-ins: %s\n' "$(date +%T)" "$*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}
passed() {
  checks=$((checks + 1))
  say "ok: $*"
}

cleanup() {
  local status=$?
  set +e
  ((${#containers[@]})) && docker rm -f -v "${containers[@]}" >/dev/null 2>&1
  [ -n "$network" ] && docker network rm "$network" >/dev/null 2>&1
  [ -n "$stand_in" ] && docker tag "$stand_in" "$prometheus"
  [ -n "$fake" ] && docker rmi "$fake" >/dev/null 2>&1
  [ -n "$copy" ] && docker-compose --ansi never -p "$project" -f "$copy" --project-directory . \
    down -v --remove-orphans --timeout 5 >/dev/null 2>&1
  if ((status)); then say "logs kept in $logs"; else rm -rf "$logs"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The ways the checks below run images and compose files, and judge them.
# shellcheck source=.ci/images/test-lib.sh
source .ci/images/test-lib.sh

for image in "$apache" "$cp_kafka" "$cp_zookeeper" "$prometheus"; do
  docker image inspect "$image" >/dev/null 2>&1 || fail "$image: no such image (run .ci/images/build.sh first)"
done

# 1. What a compose file can depend on in each image --------------------------
expect "$apache" '{{.Config.User}}' appuser
expect "$apache" '{{json .Config.Volumes}}' '{"/etc/kafka/secrets":{},"/mnt/shared/config":{},"/var/lib/kafka/data":{}}'
expect "$apache" '{{json .Config.ExposedPorts}}' '{"9092/tcp":{}}'
expect "$apache" '{{json .Config.Cmd}}' '["/etc/kafka/docker/run"]'
for image in "$cp_kafka" "$cp_zookeeper"; do
  expect "$image" '{{.Config.User}}' appuser
  expect "$image" '{{.Config.WorkingDir}}' /home/appuser
  expect "$image" '{{json .Config.Cmd}}' '["/etc/confluent/docker/run"]'
done
expect "$cp_kafka" '{{json .Config.Volumes}}' '{"/etc/kafka/secrets":{},"/var/lib/kafka/data":{}}'
expect "$cp_kafka" '{{json .Config.ExposedPorts}}' '{"9092/tcp":{}}'
expect "$cp_zookeeper" '{{json .Config.Volumes}}' '{"/etc/zookeeper/secrets":{},"/var/lib/zookeeper/data":{},"/var/lib/zookeeper/log":{}}'
expect "$cp_zookeeper" '{{json .Config.ExposedPorts}}' '{"2181/tcp":{},"2888/tcp":{},"3888/tcp":{}}'
expect "$prometheus" '{{.Config.User}}' nobody
expect "$prometheus" '{{.Config.WorkingDir}}' /prometheus
expect "$prometheus" '{{json .Config.Volumes}}' '{"/prometheus":{}}'
expect "$prometheus" '{{json .Config.ExposedPorts}}' '{"9090/tcp":{}}'
expect "$prometheus" '{{json .Config.Entrypoint}}' '["/bin/prometheus"]'
expect "$prometheus" '{{json .Config.Cmd}}' '["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"]'
for image in "$apache" "$cp_kafka" "$cp_zookeeper"; do
  ids=$(docker run --rm --entrypoint sh "$image" -c 'echo "$(id -u):$(id -g)"')
  [ "$ids" = 1000:1000 ] || fail "$image runs as $ids, the real image as 1000:1000 (appuser)"
done
ids=$(docker run --rm --entrypoint sh "$prometheus" -c 'echo "$(id -u):$(id -g)"')
[ "$ids" = 65534:65534 ] || fail "$prometheus runs as $ids, the real image as 65534:65534 (nobody)"
passed "user, VOLUMEs, ports, working directory, entry point and command as the real images'"

# 2. Translation ------------------------------------------------------------------
got=$(properties "$cp_zookeeper" /etc/kafka/zookeeper.properties \
  -e ZOOKEEPER_CLIENT_PORT=2181 -e ZOOKEEPER_TICK_TIME=2000 -e ZOOKEEPER_ADMIN_ENABLE_SERVER=false \
  -e ZOOKEEPER_4LW_COMMANDS_WHITELIST=ruok -e ZOOKEEPER_MADE_UP=1)
want=$(printf '%s\n' admin.enableServer=false clientPort=2181 dataDir=/var/lib/zookeeper/data \
  dataLogDir=/var/lib/zookeeper/log tickTime=2000 | sort)
[ "$got" = "$want" ] || fail "cp-zookeeper's zookeeper.properties:
$got
expected (its fixed table: ADMIN_ENABLE_SERVER is admin.enableServer, unknown variables ignored):
$want"
passed "cp-zookeeper: only its fixed table of ZOOKEEPER_* variables, by the table's names"

got=$(properties "$cp_kafka" /etc/kafka/kafka.properties \
  -e KAFKA_ZOOKEEPER_CONNECT=zookeeper:2181 -e KAFKA_ADVERTISED_LISTENERS=INTERNAL://kafka:9092,HOST://localhost:29092 \
  -e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=INTERNAL:PLAINTEXT,HOST:PLAINTEXT -e KAFKA_CONFLUENT_SUPPORT__X___Y=1)
want=$(printf '%s\n' advertised.listeners=INTERNAL://kafka:9092,HOST://localhost:29092 \
  confluent.support_x-y=1 listener.security.protocol.map=INTERNAL:PLAINTEXT,HOST:PLAINTEXT \
  listeners=INTERNAL://0.0.0.0:9092,HOST://0.0.0.0:29092 log.dirs=/var/lib/kafka/data \
  zookeeper.connect=zookeeper:2181 | sort)
[ "$got" = "$want" ] || fail "cp-kafka's kafka.properties:
$got
expected (listeners derived from the advertised ones, log.dirs defaulted, __ as _ and ___ as -):
$want"
passed "cp-kafka: KAFKA_* as properties, listeners derived from the advertised listeners, log.dirs /var/lib/kafka/data"

# apache/kafka with the KRaft compose file's broker variables, but neither
# CLUSTER_ID nor KAFKA_LOG_DIRS: the real image's default id, and Kafka's own
# default log directory, since the wrapper adds no property of its own.
name=$project-apache-defaults
containers+=("$name")
docker run -d --name "$name" -e KAFKA_NODE_ID=1 -e KAFKA_PROCESS_ROLES=broker,controller \
  -e KAFKA_CONTROLLER_QUORUM_VOTERS=1@localhost:9093 -e KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER \
  -e KAFKA_LISTENERS=PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093 \
  -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 \
  -e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT \
  -e KAFKA_HEAP_OPTS=-Xmx256m "$apache" >/dev/null
started() {
  docker logs "$name" >"$logs/apache.log" 2>&1
  grep -q 'Kafka Server started' "$logs/apache.log" && return 0
  [ "$(docker inspect -f '{{.State.Running}}' "$name")" = true ] ||
    { tail -20 "$logs/apache.log" >&2; fail "apache/kafka without CLUSTER_ID exited"; }
  return 1
}
wait_until "apache/kafka started without CLUSTER_ID" 90 started
grep -q 'CLUSTER_ID not set. Setting it to default value: "5L6g3nShT-eMCtK--X86sw"' "$logs/apache.log" ||
  fail "apache/kafka did not say it used its default CLUSTER_ID"
meta=$(docker exec "$name" cat /tmp/kafka-logs/meta.properties) ||
  fail "apache/kafka without KAFKA_LOG_DIRS: no /tmp/kafka-logs/meta.properties (Kafka's default log.dir)"
grep -qx 'cluster.id=5L6g3nShT-eMCtK--X86sw' <<<"$meta" || fail "apache/kafka's default cluster id: $meta"
docker exec "$name" grep -q '^log.dirs\?=' /opt/kafka/config/server.properties &&
  fail "apache/kafka wrote a log directory of its own into server.properties"
docker rm -f -v "$name" >/dev/null
passed "apache/kafka: default CLUSTER_ID 5L6g3nShT-eMCtK--X86sw, Kafka's default /tmp/kafka-logs, nothing added to server.properties"

# 3. Compose files with one edit each fail to come up ---------------------------
edited docker-compose.yml kafka KAFKA_ADVERTISED_LISTENERS
refused kafka "KAFKA_ADVERTISED_LISTENERS is required."
passed "docker-compose.yml without KAFKA_ADVERTISED_LISTENERS: cp-kafka refuses to start"

edited docker-compose.yml kafka KAFKA_PORT 9092
refused kafka "port is deprecated. Please use KAFKA_ADVERTISED_LISTENERS instead."
passed "docker-compose.yml with KAFKA_PORT: cp-kafka refuses to start"

edited docker-compose.yml kafka KAFKA_ZOOKEEPER_CONNECT
refused kafka "KAFKA_ZOOKEEPER_CONNECT is required."
passed "docker-compose.yml without KAFKA_ZOOKEEPER_CONNECT: cp-kafka refuses to start"

edited docker-compose.yml zookeeper ZOOKEEPER_CLIENT_PORT
refused zookeeper "one of (ZOOKEEPER_CLIENT_PORT,ZOOKEEPER_SECURE_CLIENT_PORT) is required."
passed "docker-compose.yml without ZOOKEEPER_CLIENT_PORT: cp-zookeeper refuses to start"

edited docker-compose.kraft.yml kafka KAFKA_ADVERTISED_LISTENERS
refused kafka "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0"
passed "docker-compose.kraft.yml without KAFKA_ADVERTISED_LISTENERS: Kafka 4 refuses to advertise 0.0.0.0"

# 4. Other refusals ---------------------------------------------------------------
zk_mode=(-e KAFKA_ZOOKEEPER_CONNECT=zookeeper:2181 -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092)

refuses_run "cp-kafka refuses a read-only data directory" "dub path /var/lib/kafka/data writable] FAILED" \
  "${zk_mode[@]}" --tmpfs /var/lib/kafka/data:ro "$cp_kafka"

# No ZooKeeper on the network: the broker waits for it, and gives up.
network=$project-net
docker network create "$network" >/dev/null
refuses_run "cp-kafka waits for ZooKeeper, then gives up" "===> Check if Zookeeper is healthy" \
  "${zk_mode[@]}" -e KAFKA_CUB_ZK_TIMEOUT=5 --network "$network" "$cp_kafka"
docker network rm "$network" >/dev/null
network=""

refuses_run "an apache/kafka controller-only node refuses advertised listeners" \
  "KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller." \
  -e KAFKA_PROCESS_ROLES=controller -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092 "$apache"

# 5. The builder ---------------------------------------------------------------------
rust_version=$(dockerfile_arg RUST_VERSION)
rust_tag=rust:$rust_version-slim-$(dockerfile_arg DEBIAN_RELEASE)
rust_env=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$rust_tag" 2>/dev/null | sed -n 's/^RUST_VERSION=//p') ||
  fail "no $rust_tag, the image the Dockerfile's RUST_VERSION names"
[[ $rust_env == "$rust_version" || $rust_env == "$rust_version".* ]] ||
  fail "$rust_tag holds Rust $rust_env, not the Dockerfile's $rust_version"
passed "$rust_tag holds Rust $rust_env, the Dockerfile's RUST_VERSION=$rust_version"

# An unlabelled, empty image under Prometheus' name, as the real one pulled
# from a registry would be there: build.sh must use it, not replace it.
stand_in=$(docker image inspect -f '{{.Id}}' "$prometheus")
fake=$(tar -cf - --files-from /dev/null | docker import -)
docker tag "$fake" "$prometheus"
.ci/images/build.sh >"$logs/build.log" 2>&1 || { tail -20 "$logs/build.log" >&2; fail "build.sh with a foreign $prometheus"; }
[ "$(docker image inspect -f '{{.Id}}' "$prometheus")" = "$fake" ] || fail "build.sh replaced $prometheus, which it had not built"
grep -qF "$prometheus exists and was not built here" "$logs/build.log" || fail "build.sh did not say it uses $prometheus as it is"
docker tag "$stand_in" "$prometheus"
stand_in=""
docker rmi "$fake" >/dev/null
fake=""
passed "build.sh leaves an image of a stand-in's name that it did not build alone, and says so"

say "passed: $checks checks"
