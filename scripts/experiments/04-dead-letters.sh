#!/usr/bin/env bash
# Experiment 4, dead letters: a record that is not a valid order goes to
# orders.dlq with headers saying why and where it came from, and the orders
# behind it keep flowing.
source "$(dirname "$0")/lib.sh"
start_broker
start_producer
start_consumer worker CONSUMER_GROUP=shop
processed='.message == "order processed"'

say "A malformed record straight to the topic (loadgen send), then a valid order:"
"$bin/loadgen" send --key not-an-order '{"order_id": "truncated'
after=$(post_order | head -1 | jq -r .order_id)
wait_log "$work/worker.log" "$processed and .order_id == \"$after\"" 90
wait_log "$work/worker.log" '.message == "poison record; dead-lettering it"' 10
jq -c 'select(.message == "poison record; dead-lettering it" or .message == "order processed") | {level, message, key, order_id, reason} | with_entries(select(.value != null))' "$work/worker.log"

say "The dead letter in orders.dlq, with its reason headers:"
"$bin/loadgen" show --topic orders.dlq | tee "$work/dlq.out" | jq .
grep -q 'dlq-reason' "$work/dlq.out" || fail "no dlq-reason header on the dead letter"
grep -q 'malformed order JSON' "$work/dlq.out" || fail "the reason does not say why"
say "ok: poison went to orders.dlq with its reason; the next order was processed"
