#!/usr/bin/env bash
# Creates the orders topic and its dead-letter topic if they do not exist,
# and sets min.insync.replicas on both, so running it again changes nothing.
# Runs in the topics Job (apache/kafka image) with the services' own Kafka
# settings: KAFKA_BROKERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
# KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_CA_LOCATION,
# ORDERS_TOPIC, DLQ_TOPIC; and ORDERS_PARTITIONS, DLQ_PARTITIONS,
# REPLICATION_FACTOR, MIN_INSYNC_REPLICAS. KAFKA_BIN is where Kafka's tools are.
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
props=${CLIENT_PROPERTIES:-/tmp/client.properties}

# The Java clients' spelling of the settings the Rust services take.
{
  echo "security.protocol=${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}"
  if [ -n "${KAFKA_SSL_CA_LOCATION:-}" ]; then
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$KAFKA_SSL_CA_LOCATION"
  fi
  if [ -n "${KAFKA_SASL_MECHANISM:-}" ]; then
    case "$KAFKA_SASL_MECHANISM" in
      PLAIN) module=org.apache.kafka.common.security.plain.PlainLoginModule ;;
      SCRAM-SHA-256 | SCRAM-SHA-512) module=org.apache.kafka.common.security.scram.ScramLoginModule ;;
      *) echo "unsupported KAFKA_SASL_MECHANISM: $KAFKA_SASL_MECHANISM" >&2; exit 1 ;;
    esac
    password=$(cat "${KAFKA_SASL_PASSWORD_FILE:?KAFKA_SASL_PASSWORD_FILE is required with SASL}")
    echo "sasl.mechanism=$KAFKA_SASL_MECHANISM"
    echo "sasl.jaas.config=$module required username=\"${KAFKA_SASL_USERNAME:?}\" password=\"$password\";"
  fi
} >"$props"

kafka() {
  local tool=$1
  shift
  "$bin/$tool" --bootstrap-server "${KAFKA_BROKERS:?}" --command-config "$props" "$@"
}

ensure() {
  local topic=$1 partitions=$2
  kafka kafka-topics.sh --create --if-not-exists --topic "$topic" \
    --partitions "$partitions" --replication-factor "$REPLICATION_FACTOR" \
    --config "min.insync.replicas=$MIN_INSYNC_REPLICAS"
  # --create leaves an existing topic as it is: set its durability anyway.
  kafka kafka-configs.sh --alter --entity-type topics --entity-name "$topic" \
    --add-config "min.insync.replicas=$MIN_INSYNC_REPLICAS"
  local description count
  description=$(kafka kafka-topics.sh --describe --topic "$topic")
  echo "$description"
  count=$(sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' <<<"$description" | head -n 1)
  # Partitions are not added here: it would move keys (order ids) to other
  # partitions, and with them the per-order ordering. An operator decides.
  if [ "${count:-0}" -lt "$partitions" ]; then
    echo "$topic has ${count:-no} partitions, fewer than $partitions" >&2
    exit 1
  fi
}

ensure "${ORDERS_TOPIC:?}" "${ORDERS_PARTITIONS:?}"
ensure "${DLQ_TOPIC:?}" "${DLQ_PARTITIONS:?}"
echo "topics ready: $ORDERS_TOPIC ($ORDERS_PARTITIONS partitions), $DLQ_TOPIC"
