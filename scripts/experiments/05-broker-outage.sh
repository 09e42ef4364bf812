#!/usr/bin/env bash
# Experiment 5, broker outage: with the broker gone the producer is not
# ready and answers 503 with Retry-After (nothing is accepted that is not
# stored); when the broker is back, readiness returns by itself and the
# next order is stored.
source "$(dirname "$0")/lib.sh"
export DELIVERY_TIMEOUT_MS=3000
# The broker keeps its data across the restart.
KEEP_BROKER_DATA=1
start_broker
start_producer
# readyz_is STATUS: whether the producer's /readyz (on its management
# listener) answers STATUS.
readyz_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$management/readyz")" = "$1" ]; }

say "Broker stopped; posting an order:"
stop_broker
answer=$(curl -s -i -X POST "$producer/orders" -H 'content-type: application/json' -d @"$root/examples/order.json")
echo "$answer" | grep -iE '^HTTP/|^retry-after|"type"' | tr -d '\r'
echo "$answer" | head -1 | grep -q ' 503' || fail "expected 503 while the broker is down"
echo "$answer" | grep -qi '^retry-after:' || fail "expected a Retry-After header"
within 10 readyz_is 503 || fail "expected /readyz 503"
echo "/readyz: 503"

say "Broker started again (same port, same data):"
start_broker
within 30 readyz_is 200 || fail "not ready within 30 s of the broker's return"
echo "/readyz: 200"
status=$(post_order | tail -1)
echo "POST /orders: $status"
[ "$status" = 201 ] || fail "expected 201 once the broker is back, got $status"
say "ok: 503 with Retry-After while down, ready again and storing once the broker is back"
