#!/usr/bin/env bash
# Runs the Strimzi Kafka Bridge (HTTP to Kafka, io.strimzi:kafka-bridge) in
# the foreground with `java`, on 127.0.0.1:${BRIDGE_PORT:-8082}, against the
# broker(s) of scripts/local-broker.sh. One line on stderr says when it is
# ready (GET /ready answers 204, as /healthy does), with the pid of the JVM:
#   Strimzi Kafka Bridge 0.33.1 ready on 127.0.0.1:8082 (Kafka 127.0.0.1:9092) in 2.1s; pid 4242
# The script becomes the JVM (exec): SIGTERM or ctrl-c stops the bridge at
# once (exit status 143 or 130, the script's). Bridge 0.x has no shutdown
# hook: requests in flight get no answer (a record is only ever acknowledged
# over HTTP once Kafka has acknowledged it); 1.x closes Vert.x first.
#
#   KAFKA_BOOTSTRAP=127.0.0.1:9092  kafka.bootstrap.servers
#   BRIDGE_PORT=8082          http.port. From 1.0 on, /ready, /healthy and
#                             /metrics are on http.management.port, which
#                             this script sets to BRIDGE_PORT+1
#   BRIDGE_JAVA_OPTS=         more JVM options, split on spaces
#                             (e.g. -XX:ActiveProcessorCount=2 -Xmx256m)
#   BRIDGE_LOG_LEVEL=WARN     log level, on stderr
#   BRIDGE_START_TIMEOUT=120  seconds to wait for /ready before saying so
#   BRIDGE_CACHE=~/.cache/orders-pipeline/kafka-bridge  where it is fetched to
#   BRIDGE_SRC=dir            build the bridge from its source instead of
#                             fetching it (see below): a source tree of
#                             BRIDGE_VERSION, or a git directory of
#                             strimzi-kafka-bridge with its tag
#   INSTALL_ONLY=1            fetch (once) and exit, printing the libs
#                             directory on stdout
#   JAVA_HOME                 the Java to use (else `java` on PATH; 17+,
#                             21+ for bridge 1.x)
#
# The configuration is written at each start to
# BRIDGE_CACHE/<version>/run/<port>.properties: the bridge's own defaults,
# but for the addresses and the producer's acks=all and
# enable.idempotence=true (its sample configuration sets acks=1, which turns
# idempotence off). The bridge adds every environment variable whose name
# starts with bridge., kafka. or http. (env 'kafka.producer.linger.ms=20' ...).
#
# For benchmarks: the bridge opens one Kafka producer per HTTP connection
# (closed with it; the first request on a connection waits for it, ~0.25 s),
# so clients should keep connections alive. Bridge 0.x sends from the JVM's
# common ForkJoinPool (parallelism: cores - 1, so 1 with
# -XX:ActiveProcessorCount=2; -Djava.util.concurrent.ForkJoinPool.common.parallelism=N
# changes it); 1.x from its own pool (bridge.executor.pool.size).
# POST /topics/orders with application/vnd.kafka.json.v2+json stores a string
# key JSON-encoded (with its quotes); application/vnd.kafka.text.v2+json
# stores key and value as given (the value then a string).
#
# The first run fetches the bridge and its runtime dependencies from Maven
# Central with `mvn` (a throwaway pom.xml and Maven repository in a temporary
# directory, moved into BRIDGE_CACHE/<version> once complete). A Maven
# repository without io.strimzi:kafka-bridge (the one reached here has none)
# needs BRIDGE_SRC: the bridge is then built with `mvn package` (tests,
# checkstyle, spotbugs and javadoc skipped), its dependencies from Maven.
set -euo pipefail

# 1.1.0 is newer, but its dependencies (kafka-oauth 0.18, vert.x 5.1) are not
# all served here; 0.33.1 uses Kafka clients 4.1.0, Vert.x 5.0.4 and Java 17.
BRIDGE_VERSION=0.33.1
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

version=$BRIDGE_VERSION
case $version in 0.*) need_java=17 ;; *) need_java=21 ;; esac
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
java_major=$("$java_bin" -version 2>&1 | sed -n '1s/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' || true)
if [ -z "$java_major" ] || [ "$java_major" -lt "$need_java" ]; then
  echo "strimzi-bridge.sh needs Java $need_java or newer for bridge $version (found: ${java_major:-none}): set JAVA_HOME" >&2
  exit 2
fi

cache=${BRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/kafka-bridge}
home=$cache/$version
libs=$home/libs

fetch_dir=
mvn_pid=
# shellcheck disable=SC2317  # runs from the EXIT trap
cleanup() {
  [ -z "$mvn_pid" ] || kill "$mvn_pid" 2>/dev/null || true
  [ -z "$fetch_dir" ] || rm -rf "$fetch_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# maven ARGS...: mvn in the background (a signal stops it at once), its
# output in $fetch_dir/mvn.log, shown if it fails.
maven() {
  mvn -B -q -Dmaven.repo.local="$fetch_dir/m2" "$@" >"$fetch_dir/mvn.log" 2>&1 &
  mvn_pid=$!
  local rc=0
  wait "$mvn_pid" || rc=$?
  mvn_pid=
  [ "$rc" = 0 ] || cat "$fetch_dir/mvn.log" >&2
  return "$rc"
}

# fetch: the bridge's jars into $libs and its logging configuration into
# $home, through a temporary directory that becomes $home when complete.
fetch() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "strimzi-bridge.sh needs Maven to fetch the bridge once: apt-get install maven" >&2
    exit 2
  fi
  mkdir -p "$cache"
  fetch_dir=$(mktemp -d "$cache/.fetch-$version.XXXXXX")
  mkdir "$fetch_dir/home"
  if [ -n "${BRIDGE_SRC:-}" ]; then
    echo "building Strimzi Kafka Bridge $version from $BRIDGE_SRC into $home (once)" >&2
    local src=$fetch_dir/src
    mkdir "$src"
    if [ -f "$BRIDGE_SRC/pom.xml" ]; then
      cp -R "$BRIDGE_SRC/." "$src"
      rm -rf "$src/target"
    else
      git --git-dir="$BRIDGE_SRC" archive "refs/tags/$version" | tar -x -C "$src"
    fi
    if [ "$(cat "$src/release.version" 2>/dev/null)" != "$version" ]; then
      echo "$BRIDGE_SRC is not the source of bridge $version (release.version: $(cat "$src/release.version" 2>/dev/null || echo none))" >&2
      exit 2
    fi
    maven -f "$src/pom.xml" -DskipTests -Dcheckstyle.skip -Dspotbugs.skip \
      -Dmaven.javadoc.skip -Dmaven.source.skip -Dmdep.analyze.skip package || {
      echo "could not build the bridge (Maven's output is above)" >&2
      exit 1
    }
    mv "$src/target/kafka-bridge-$version/kafka-bridge-$version/libs" "$fetch_dir/home/libs"
  else
    echo "fetching Strimzi Kafka Bridge $version from Maven Central into $home (once)" >&2
    cat >"$fetch_dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>local-kafka-bridge</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>kafka-bridge</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
EOF
    maven -f "$fetch_dir/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$fetch_dir/home/libs" || {
      echo "could not fetch io.strimzi:kafka-bridge:$version (Maven's output is above); without it on Maven, build it from its source: BRIDGE_SRC=<source tree or git directory of strimzi-kafka-bridge>" >&2
      exit 1
    }
  fi
  cat >"$fetch_dir/home/log4j2.properties" <<'EOF'
# Written by scripts/strimzi-bridge.sh; bridge.log.level is set by it.
name = strimzi-bridge
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = bridge %d{HH:mm:ss.SSS} %p %m (%c)%n
rootLogger.level = ${sys:bridge.log.level:-WARN}
rootLogger.appenderRef.stderr.ref = stderr
EOF
  # Another run may have finished the same fetch meanwhile: keep its copy.
  mv -T "$fetch_dir/home" "$home" 2>/dev/null || [ -d "$libs" ] || {
    echo "could not move the fetched bridge to $home" >&2
    exit 1
  }
  rm -rf "$fetch_dir"
  fetch_dir=
}

[ -d "$libs" ] || fetch
if [ -n "${INSTALL_ONLY:-}" ]; then
  echo "$libs"
  exit 0
fi

bootstrap=${KAFKA_BOOTSTRAP:-127.0.0.1:9092}
port=${BRIDGE_PORT:-8082}
timeout=${BRIDGE_START_TIMEOUT:-120}
case $port in
  ''|*[!0-9]*) echo "BRIDGE_PORT must be a port number, got '$port'" >&2; exit 2 ;;
esac
case $timeout in
  ''|*[!0-9]*) echo "BRIDGE_START_TIMEOUT must be a number of seconds, got '$timeout'" >&2; exit 2 ;;
esac
if ! command -v curl >/dev/null 2>&1; then
  echo "strimzi-bridge.sh needs curl to see when the bridge is ready: apt-get install curl" >&2
  exit 2
fi
management_port=$((port + 1))
case $version in 0.*) ready_port=$port ;; *) ready_port=$management_port ;; esac
for p in "$port" "$management_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "127.0.0.1:$p is already in use; set BRIDGE_PORT" >&2
    exit 1
  fi
done

mkdir -p "$home/run"
config=$home/run/$port.properties
cat >"$config" <<EOF
# Written by scripts/strimzi-bridge.sh at each start.
bridge.id=orders-bridge
kafka.bootstrap.servers=$bootstrap
kafka.producer.acks=all
kafka.producer.enable.idempotence=true
kafka.consumer.auto.offset.reset=earliest
http.host=127.0.0.1
http.port=$port
http.management.port=$management_port
http.cors.enabled=false
http.consumer.enabled=true
http.producer.enabled=true
EOF

read -r -a extra_opts <<<"${BRIDGE_JAVA_OPTS:-}"
# As the bridge's bin/kafka_bridge_run.sh does.
java_opts=(-Dvertx.cacheDirBase="${TMPDIR:-/tmp}/vertx-cache" -Djava.security.egd=file:/dev/./urandom
  -Dlog4j2.configurationFile="$home/log4j2.properties" -Dbridge.log.level="${BRIDGE_LOG_LEVEL:-WARN}"
  "${extra_opts[@]+"${extra_opts[@]}"}")

# The readiness line, from a process of its own (not a child of the JVM);
# $$ is the JVM once the script has exec'd it.
start_us=${EPOCHREALTIME//[!0-9]/}
(
  (
    until curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$ready_port/ready"; do
      kill -0 $$ 2>/dev/null || exit 0
      if [ $((${EPOCHREALTIME//[!0-9]/} - start_us)) -ge $((timeout * 1000000)) ]; then
        echo "the bridge is not ready on 127.0.0.1:$ready_port/ready after ${timeout}s" >&2
        exit 0
      fi
      sleep 0.1
    done
    ms=$(((${EPOCHREALTIME//[!0-9]/} - start_us) / 1000))
    printf 'Strimzi Kafka Bridge %s ready on 127.0.0.1:%s (Kafka %s) in %d.%01ds; pid %s\n' \
      "$version" "$port" "$bootstrap" $((ms / 1000)) $((ms % 1000 / 100)) $$ >&2
  ) &
)

trap - EXIT INT TERM
exec "$java_bin" "${java_opts[@]}" -cp "$libs/*" io.strimzi.kafka.bridge.Application \
  --config-file="$config"
