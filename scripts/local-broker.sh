#!/usr/bin/env bash
# Runs Apache Kafka itself (no Docker) in the foreground on
# 127.0.0.1:${KAFKA_PORT:-9092}, topics `orders` (6 partitions) and
# `orders.dlq` created; one line on stderr says when it is ready. It is the
# workspace's `local-kafka` command (local-kafka/, built here on first use),
# which the tests start Kafka with too; every setting is an environment
# variable (KAFKA_PORT, BROKERS=3, ZOOKEEPER=1, KAFKA_DATA, SASL_USERS,
# KAFKA_HEAP, KAFKA_LOG_LEVEL, KAFKA_START_TIMEOUT, KAFKA_CACHE,
# INSTALL_ONLY=1, ZK_KAFKA_VERSION) or an option:
#   scripts/local-broker.sh --help
#   KAFKA_HOME=$(dirname "$(INSTALL_ONLY=1 scripts/local-broker.sh)")   # fetch only
# Cargo's messages go to stderr, so stdout holds only what INSTALL_ONLY
# prints; cargo run replaces itself with the command, so signals reach it.
set -euo pipefail
exec cargo run --locked --release --quiet \
  --manifest-path "$(dirname "$0")/../Cargo.toml" -p local-kafka -- "$@"
