#!/usr/bin/env bash
# Runs Apache Kafka itself (no Docker) in the foreground, its client listener
# on 127.0.0.1:${KAFKA_PORT:-9092}, with the topics `orders` (6 partitions)
# and `orders.dlq` (1 partition) created: the way to run the stack against
# the real broker without Docker. One line on stderr says when it is ready,
# with the pid of each JVM:
#   Apache Kafka 4.1.0 ready on 127.0.0.1:9092 (1 broker, KRaft) with topics orders, orders.dlq in 5s; pids kafka-1=4242
# Ctrl-c, SIGTERM or any exit of the script stops every JVM it started and
# waits for them (KILL after 60 s, or at a second ctrl-c). A broker that
# exits is reported; the script ends when no broker is left (a three-node
# cluster keeps running with one killed), or when ZooKeeper exits.
#
#   KAFKA_PORT=9092           the client port (PLAINTEXT, or SASL_PLAINTEXT
#                             with SASL_USERS). Other ports derived from it,
#                             all on 127.0.0.1, for broker N = 1..BROKERS:
#                               KAFKA_PORT+N-1     client listener of broker N
#                               KAFKA_PORT+10+N-1  KRaft controller of node N
#                               KAFKA_PORT+20+N-1  replication and this
#                                                  script's admin commands,
#                                                  without authentication
#                                                  (only with SASL_USERS)
#                               KAFKA_PORT+100     ZooKeeper (ZOOKEEPER=1)
#   BROKERS=1                 1, or 3: a three-node cluster, every node broker
#                             and controller (a quorum of 3), clients on
#                             KAFKA_PORT..KAFKA_PORT+2; topics (internal ones
#                             too) get replication factor 3 and
#                             min.insync.replicas=2, and
#                             unclean.leader.election.enable=false
#   ZOOKEEPER=1               ZooKeeper mode instead of KRaft: Apache Kafka
#                             3.9.1 (ZooKeeper mode was removed in 4.0) and
#                             the ZooKeeper it depends on (3.8.4), which runs
#                             standalone (ZooKeeperServerMain, what
#                             QuorumPeerMain runs without a quorum) on
#                             KAFKA_PORT+100, its admin server off.
#                             Works with BROKERS=3 (one ZooKeeper).
#   KAFKA_DATA=dir            keep the data in dir across restarts (created if
#                             missing; formatted only the first time). It
#                             remembers its layout (KRaft or ZooKeeper, 1 or 3
#                             brokers): another layout on it is an error.
#                             Unset: a temporary directory, removed at exit.
#   SASL_USERS=name:pw[,name:pw...]  require SASL authentication on the
#                             client listeners (security.protocol=
#                             SASL_PLAINTEXT, mechanism SCRAM-SHA-512 or
#                             SCRAM-SHA-256; PLAIN is not enabled) with these
#                             users, created or updated (an existing user's
#                             password is overwritten) at every start through
#                             Kafka's admin API (kafka-configs); users of
#                             earlier runs kept in KAFKA_DATA stay. Names
#                             cannot contain ':' or ',', passwords ','.
#   KAFKA_HEAP=512m           -Xmx of each broker JVM (ZooKeeper gets 128m,
#                             the short-lived tool JVMs 256m)
#   KAFKA_LOG_LEVEL=WARN      log level of the JVMs (all on stderr, each line
#                             prefixed with kafka-N or zookeeper)
#   KAFKA_START_TIMEOUT=120   seconds to wait for the cluster and its topics
#   KAFKA_CACHE=~/.cache/orders-pipeline/kafka   where Kafka is fetched to
#   INSTALL_ONLY=1            fetch (once) and exit, printing the libs
#                             directory (the 3.9.1 one with ZOOKEEPER=1) on
#                             stdout; its jars run any Kafka tool:
#                             java -cp "$libs/*" org.apache.kafka.tools.TopicCommand ...
#   ZK_KAFKA_VERSION=3.9.1    with ZOOKEEPER=1 INSTALL_ONLY=1: another 3.9.x
#                             to fetch (.ci/images/build.sh fetches 3.9.0, the
#                             Kafka confluentinc/cp-kafka:7.9.0 ships)
#   JAVA_HOME                 the Java to use (else `java` on PATH; 17+)
#
# The first run fetches Kafka's jars from Maven Central with `mvn` (a
# throwaway pom.xml and Maven repository in a temporary directory, moved into
# KAFKA_CACHE/<version> once complete, so an interrupted fetch is never used)
# with a logging configuration beside them; later runs reuse them. Needs
# Java 17+ and, for the fetch, Maven.
set -euo pipefail

KRAFT_VERSION=4.1.0
ZK_KAFKA_VERSION=${ZK_KAFKA_VERSION:-3.9.1}
# The log4j2 of kafka-server 4.1.0, and the reload4j of Kafka 3.9.1.
LOG4J2_VERSION=2.24.3
RELOAD4J_VERSION=1.2.25
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
java_major=$("$java_bin" -version 2>&1 | sed -n '1s/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' || true)
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
  echo "local-broker.sh needs Java 17 or newer (found: ${java_major:-none}): apt-get install openjdk-17-jre-headless" >&2
  exit 2
fi

zookeeper=${ZOOKEEPER:-}
case $zookeeper in
  ''|0) zookeeper= ; version=$KRAFT_VERSION; mode=KRaft ;;
  1) version=$ZK_KAFKA_VERSION; mode=ZooKeeper ;;
  *) echo "ZOOKEEPER must be 1 or unset, got '$zookeeper'" >&2; exit 2 ;;
esac
cache=${KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/kafka}
home=$cache/$version
libs=$home/libs

# Files to remove and JVMs to stop at exit.
fetch_dir=
data=
remove_data=
pids=()     # brokers, in node order
zk_pid=
tools=()    # short-lived tool JVMs

# finish_tool PID: its exit status, once it has exited.
finish_tool() {
  local rc=0 kept=() t
  wait "$1" || rc=$?
  for t in "${tools[@]}"; do [ "$t" = "$1" ] || kept+=("$t"); done
  tools=("${kept[@]+"${kept[@]}"}")
  return "$rc"
}

# fetch: Kafka $version's jars into $libs and its logging configuration into
# $home, through a temporary directory that becomes $home only when complete.
fetch() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "local-broker.sh needs Maven to fetch Apache Kafka $version once: apt-get install maven" >&2
    exit 2
  fi
  echo "fetching Apache Kafka $version from Maven Central into $home (once)" >&2
  mkdir -p "$cache"
  fetch_dir=$(mktemp -d "$cache/.fetch-$version.XXXXXX")
  local deps
  # kafka-tools brings connect-runtime (Jetty, Jersey) for one tool this
  # script does not use: left out.
  deps="
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jakarta.rs</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jaxrs</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>"
  if [ -n "$zookeeper" ]; then
    # Kafka 3.9 logs through slf4j to reload4j (log4j 1.x); kafka-tools
    # brings the slf4j binding, connect-runtime brought reload4j itself.
    deps+="
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>$RELOAD4J_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>"
  else
    # Kafka 4 logs through slf4j 1.7 to log4j2, whose core kafka-server
    # brings; the binding is not a dependency of any Kafka jar.
    deps+="
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J2_VERSION</version></dependency>"
  fi
  cat >"$fetch_dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>local-kafka</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>$deps
  </dependencies>
</project>
EOF
  # In the background, like the tools below, so that a signal stops it at once.
  mvn -B -q -C -f "$fetch_dir/pom.xml" -Dmaven.repo.local="$fetch_dir/m2" \
    "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime \
    -DoutputDirectory="$fetch_dir/home/libs" >"$fetch_dir/mvn.log" 2>&1 &
  tools+=("$!")
  if ! finish_tool "$!"; then
    cat "$fetch_dir/mvn.log" >&2
    echo "could not fetch Apache Kafka $version with Maven (its output is above)" >&2
    exit 1
  fi
  if [ -n "$zookeeper" ]; then
    cat >"$fetch_dir/home/log4j.properties" <<'EOF'
# Written by scripts/local-broker.sh. local.kafka.{level,name} are set by it.
log4j.rootLogger=${local.kafka.level}, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=${local.kafka.name} %d{HH:mm:ss.SSS} %p %m (%c)%n
# A warning with a stack trace at every start, while the broker's own
# listener is not up yet.
log4j.logger.kafka.controller.RequestSendThread=ERROR
# "maxCnxns is not configured, using default value 0" (0 is no limit).
log4j.logger.org.apache.zookeeper.server.ServerCnxnFactory=ERROR
EOF
  else
    cat >"$fetch_dir/home/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/local-broker.sh. local.kafka.{level,name} are set by it. -->
<Configuration status="warn">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="${sys:local.kafka.name:-kafka} %d{HH:mm:ss.SSS} %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="${sys:local.kafka.level:-WARN}"><AppenderRef ref="stderr"/></Root>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
  </Loggers>
</Configuration>
EOF
  fi
  # Another run may have finished the same fetch meanwhile: keep its copy.
  mv -T "$fetch_dir/home" "$home" 2>/dev/null || [ -d "$libs" ] || {
    echo "could not move the fetched Kafka to $home" >&2
    exit 1
  }
  rm -rf "$fetch_dir"
  fetch_dir=
}

# alive PID: whether that process still runs.
alive() { kill -0 "$1" 2>/dev/null; }

# shellcheck disable=SC2317  # stop and cleanup run from the EXIT trap
# stop PID...: TERM them, wait up to 60 s for them to exit, then KILL what is
# left. A second ctrl-c or TERM meanwhile kills at once.
stop() {
  local pid deadline=$((SECONDS + 60)) left
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  while :; do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -gt 0 ] || break
    if [ -n "$force" ] || [ "$SECONDS" -ge "$deadline" ]; then
      echo "killing ${#left[@]} JVM(s) that did not stop" >&2
      kill -KILL "${left[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# cleanup: on every exit, stop the tools, the brokers, then ZooKeeper, and
# remove the temporary files.
force=
# shellcheck disable=SC2317
cleanup() {
  trap 'force=1' INT TERM
  [ ${#tools[@]} -eq 0 ] || stop "${tools[@]}"
  [ ${#pids[@]} -eq 0 ] || stop "${pids[@]}"
  [ -z "$zk_pid" ] || stop "$zk_pid"
  [ -z "$fetch_dir" ] || rm -rf "$fetch_dir"
  if [ -n "$remove_data" ]; then rm -rf "$data"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -d "$libs" ] || fetch
if [ -n "${INSTALL_ONLY:-}" ]; then
  echo "$libs"
  exit 0
fi

port=${KAFKA_PORT:-9092}
brokers=${BROKERS:-1}
heap=${KAFKA_HEAP:-512m}
level=${KAFKA_LOG_LEVEL:-WARN}
timeout=${KAFKA_START_TIMEOUT:-120}
case $port in
  ''|*[!0-9]*) echo "KAFKA_PORT must be a port number, got '$port'" >&2; exit 2 ;;
esac
if [ "$port" -lt 1024 ] || [ "$port" -gt 65435 ]; then
  echo "KAFKA_PORT must be within 1024..65435 (KAFKA_PORT+100 is used too), got $port" >&2
  exit 2
fi
case $brokers in
  1|3) ;;
  *) echo "BROKERS must be 1 or 3, got '$brokers'" >&2; exit 2 ;;
esac
case $timeout in
  ''|*[!0-9]*) echo "KAFKA_START_TIMEOUT must be a number of seconds, got '$timeout'" >&2; exit 2 ;;
esac

sasl_users=${SASL_USERS:-}
users=()
if [ -n "$sasl_users" ]; then
  IFS=, read -r -a users <<<"$sasl_users"
  for i in "${!users[@]}"; do
    case ${users[$i]} in
      ?*:?*) ;;
      *) echo "SASL_USERS entry $((i + 1)) is not name:password" >&2; exit 2 ;;
    esac
  done
fi

if [ "$brokers" = 3 ]; then rf=3 isr=2; else rf=1 isr=1; fi
client_port() { echo $((port + $1 - 1)); }
controller_port() { echo $((port + 10 + $1 - 1)); }
# admin_port N: where this script's tools reach broker N (and brokers each
# other): the client listener, or without authentication with SASL_USERS.
admin_port() {
  if [ ${#users[@]} -gt 0 ]; then echo $((port + 20 + $1 - 1)); else client_port "$1"; fi
}
zk_port=$((port + 100))

# listening PORT: whether something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ports=()
for n in $(seq "$brokers"); do
  ports+=("$(client_port "$n")")
  [ -n "$zookeeper" ] || ports+=("$(controller_port "$n")")
  [ ${#users[@]} -eq 0 ] || ports+=("$(admin_port "$n")")
done
[ -z "$zookeeper" ] || ports+=("$zk_port")
for p in "${ports[@]}"; do
  if listening "$p"; then
    echo "127.0.0.1:$p is already in use (another broker?); set KAFKA_PORT" >&2
    exit 1
  fi
done

if [ -n "${KAFKA_DATA:-}" ]; then
  mkdir -p "$KAFKA_DATA"
  data=$(cd "$KAFKA_DATA" && pwd)
else
  data=$(mktemp -d "${TMPDIR:-/tmp}/local-kafka.XXXXXX")
  remove_data=1
fi
layout="$mode $brokers"
if [ -f "$data/layout" ]; then
  if [ "$(cat "$data/layout")" != "$layout" ]; then
    echo "KAFKA_DATA=$data holds a cluster of another layout ($(cat "$data/layout"), not $layout): use another directory or the same ZOOKEEPER and BROKERS" >&2
    exit 2
  fi
else
  echo "$layout" >"$data/layout"
fi

jvm_opts=(-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "-Dlocal.kafka.level=$level")
if [ -n "$zookeeper" ]; then
  jvm_opts+=("-Dlog4j.configuration=file:$home/log4j.properties")
else
  jvm_opts+=("-Dlog4j2.configurationFile=$home/log4j2.xml")
fi
# As kafka-run-class.sh does for servers.
server_opts=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent "${jvm_opts[@]}")
# Tools run for a second or two: the quick JIT and a small serial heap.
tool_opts=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${jvm_opts[@]}" -Dlocal.kafka.name=tool)
cat >"$data/admin.properties" <<EOF
request.timeout.ms=10000
default.api.timeout.ms=20000
EOF

# tool LOG CLASS ARGS...: a Kafka tool JVM in the background (so that a
# signal stops the script at once), its output in LOG; its pid in tool_pid.
tool() {
  local log=$1; shift
  "$java_bin" "${tool_opts[@]}" -cp "$libs/*" "$@" >"$log" 2>&1 &
  tool_pid=$!
  tools+=("$tool_pid")
}

# check_alive: fails if a JVM exited before the cluster was ready.
check_alive() {
  local n
  if [ -n "$zk_pid" ] && ! alive "$zk_pid"; then
    echo "ZooKeeper exited before it was ready (its log is above)" >&2
    exit 1
  fi
  for n in $(seq ${#pids[@]}); do
    if ! alive "${pids[$((n - 1))]}"; then
      echo "broker $n exited before it was ready (its log is above)" >&2
      exit 1
    fi
  done
}

# wait_for_port PORT WHAT: until 127.0.0.1:PORT accepts connections.
wait_for_port() {
  until listening "$1"; do
    check_alive
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$2 does not listen on 127.0.0.1:$1 after ${timeout}s" >&2
      exit 1
    fi
    sleep 0.1
  done
}

deadline=$((SECONDS + timeout))
started=$SECONDS

if [ -n "$zookeeper" ]; then
  mkdir -p "$data/zookeeper"
  cat >"$data/zoo.cfg" <<EOF
dataDir=$data/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
tickTime=2000
initLimit=10
syncLimit=5
maxClientCnxns=0
admin.enableServer=false
EOF
  "$java_bin" -Xmx128m "${server_opts[@]}" -Dlocal.kafka.name=zookeeper -cp "$libs/*" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$data/zoo.cfg" &
  zk_pid=$!
  wait_for_port "$zk_port" ZooKeeper
fi

voters=
for n in $(seq "$brokers"); do
  voters+="${voters:+,}$n@127.0.0.1:$(controller_port "$n")"
done

# server_properties N: the configuration of node N.
server_properties() {
  local n=$1 listeners advertised map inter
  listeners="CLIENT://127.0.0.1:$(client_port "$n")"
  advertised=$listeners
  map=CLIENT:PLAINTEXT
  inter=CLIENT
  if [ ${#users[@]} -gt 0 ]; then
    listeners+=",INTERNAL://127.0.0.1:$(admin_port "$n")"
    advertised=$listeners
    map="CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT"
    inter=INTERNAL
  fi
  if [ -n "$zookeeper" ]; then
    cat <<EOF
broker.id=$n
zookeeper.connect=127.0.0.1:$zk_port
EOF
    # Stopped together, three brokers each try in vain to hand their
    # partitions to the others (measured: 14 s and a hundred errors; one
    # after the other, 16 s). Without it a stopped broker still closes its
    # ZooKeeper session, and the controller moves its leaders at once.
    echo controlled.shutdown.enable=false
  else
    listeners+=",CONTROLLER://127.0.0.1:$(controller_port "$n")"
    map+=",CONTROLLER:PLAINTEXT"
    cat <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
EOF
  fi
  cat <<EOF
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$map
inter.broker.listener.name=$inter
log.dirs=$data/node-$n/logs
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
unclean.leader.election.enable=false
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
EOF
  if [ ${#users[@]} -eq 0 ]; then return 0; fi
  cat <<EOF
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
}

for n in $(seq "$brokers"); do
  mkdir -p "$data/node-$n"
  server_properties "$n" >"$data/node-$n/server.properties"
done

if [ -z "$zookeeper" ]; then
  # Format the nodes not yet formatted, with the cluster id of those that are.
  cluster_id=
  for n in $(seq "$brokers"); do
    [ -n "$cluster_id" ] || [ ! -f "$data/node-$n/logs/meta.properties" ] \
      || cluster_id=$(sed -n 's/^cluster.id=//p' "$data/node-$n/logs/meta.properties")
  done
  while [ -z "$cluster_id" ]; do
    # What kafka-storage random-uuid prints: 16 random bytes in URL-safe
    # base64, not starting with '-'.
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    case $cluster_id in -*) cluster_id= ;; esac
  done
  formatting=()
  for n in $(seq "$brokers"); do
    [ ! -f "$data/node-$n/logs/meta.properties" ] || continue
    tool "$data/node-$n/format.log" kafka.tools.StorageTool format \
      --config "$data/node-$n/server.properties" --cluster-id "$cluster_id"
    formatting+=("$n:$tool_pid")
  done
  for f in "${formatting[@]+"${formatting[@]}"}"; do
    if ! finish_tool "${f#*:}"; then
      echo "formatting the storage of node ${f%%:*} failed:" >&2
      cat "$data/node-${f%%:*}/format.log" >&2
      exit 1
    fi
  done
fi

for n in $(seq "$brokers"); do
  "$java_bin" "-Xmx$heap" "${server_opts[@]}" "-Dlocal.kafka.name=kafka-$n" -cp "$libs/*" \
    kafka.Kafka "$data/node-$n/server.properties" &
  pids+=("$!")
done
for n in $(seq "$brokers"); do
  wait_for_port "$(admin_port "$n")" "broker $n"
done

bootstrap=
for n in $(seq "$brokers"); do bootstrap+="${bootstrap:+,}127.0.0.1:$(admin_port "$n")"; done

# Create the topics once the brokers answer: until then (brokers not yet
# registered, no controller yet) the tool fails and is run again. They may
# exist from an earlier run (KAFKA_DATA).
topic_args=()
[ "$rf" = 1 ] || topic_args=(--config min.insync.replicas="$isr")
pending=(orders:6 orders.dlq:1)
while :; do
  running=()
  for spec in "${pending[@]}"; do
    tool "$data/topic-${spec%%:*}.log" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$bootstrap" --command-config "$data/admin.properties" \
      --create --if-not-exists --topic "${spec%%:*}" --partitions "${spec##*:}" \
      --replication-factor "$rf" "${topic_args[@]+"${topic_args[@]}"}"
    running+=("$spec:$tool_pid")
  done
  pending=()
  for r in "${running[@]}"; do
    finish_tool "${r##*:}" || pending+=("${r%:*}")
  done
  [ ${#pending[@]} -gt 0 ] || break
  check_alive
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "could not create the topics within ${timeout}s:" >&2
    for spec in "${pending[@]}"; do cat "$data/topic-${spec%%:*}.log" >&2; done
    exit 1
  fi
  sleep 0.5
done

auth=
if [ ${#users[@]} -gt 0 ]; then
  # Created or updated through the admin API (works for KRaft and ZooKeeper
  # alike, on new or kept data), one mechanism a request: Kafka 4.1 refuses
  # two credentials of one user in a request ("A user credential cannot be
  # altered twice in the same request"). The password goes in a properties
  # file (backslashes escaped) rather than on a command line.
  names=
  creating=()
  for i in "${!users[@]}"; do
    user=${users[$i]}
    password=${user#*:}
    password=${password//\\/\\\\}
    for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
      (umask 077 && printf '%s=password=%s\n' "$mechanism" "$password" >"$data/user-$i-$mechanism.properties")
      tool "$data/user-$i-$mechanism.log" kafka.admin.ConfigCommand \
        --bootstrap-server "$bootstrap" --command-config "$data/admin.properties" \
        --alter --entity-type users --entity-name "${user%%:*}" \
        --add-config-file "$data/user-$i-$mechanism.properties"
      creating+=("$i-$mechanism:$tool_pid")
    done
    names+="${names:+, }${user%%:*}"
  done
  failed=
  for c in "${creating[@]}"; do
    what=${c%%:*}
    file=$data/user-$what
    if ! finish_tool "${c#*:}"; then
      echo "could not create the SASL user ${users[${what%%-*}]%%:*} (${what#*-}):" >&2
      cat "$file.log" >&2
      failed=1
    fi
    rm -f "$file.properties" "$file.log"
  done
  [ -z "$failed" ] || exit 1
  auth="; SASL_PLAINTEXT with SCRAM-SHA-512/256 required, users: $names"
fi

what="1 broker"
[ "$brokers" = 1 ] || what="3 brokers, replication factor 3, min.insync.replicas=2"
clients=127.0.0.1:$port
[ "$brokers" = 1 ] || clients+=",127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2))"
if [ -n "$zookeeper" ]; then what+=", ZooKeeper on 127.0.0.1:$zk_port"; else what+=", KRaft"; fi
jvms=
for n in $(seq "$brokers"); do jvms+="${jvms:+ }kafka-$n=${pids[$((n - 1))]}"; done
[ -z "$zk_pid" ] || jvms+=" zookeeper=$zk_pid"
echo "Apache Kafka $version ready on $clients ($what$auth) with topics orders, orders.dlq in $((SECONDS - started))s; pids $jvms" >&2

# Until every broker has exited (a broker killed in a three-node cluster
# leaves the others running), ZooKeeper exits, or a signal arrives.
live=("${pids[@]}")
while :; do
  wait -n "${live[@]}" ${zk_pid:+"$zk_pid"} || true
  if [ -n "$zk_pid" ] && ! alive "$zk_pid"; then
    echo "ZooKeeper exited; stopping the brokers" >&2
    exit 1
  fi
  still=()
  for n in $(seq "$brokers"); do
    pid=${pids[$((n - 1))]}
    if alive "$pid"; then
      still+=("$pid")
    elif [[ " ${live[*]} " == *" $pid "* ]]; then
      echo "broker $n (kafka-$n, pid $pid) exited" >&2
    fi
  done
  [ ${#still[@]} -gt 0 ] || break
  live=("${still[@]}")
done
echo "every broker exited" >&2
exit 1
