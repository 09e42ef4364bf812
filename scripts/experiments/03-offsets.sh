#!/usr/bin/env bash
# Experiment 3, offsets: a consumer group resumes from its committed offset,
# so a restarted consumer processes only what arrived while it was down; a
# new group with AUTO_OFFSET_RESET=earliest replays the whole topic.
source "$(dirname "$0")/lib.sh"
start_broker
start_producer
processed='.message == "order processed"'

say "Consumer in group 'shop' processes the first order, then stops:"
start_consumer shop-1 CONSUMER_GROUP=shop
first=$(post_order | head -1 | jq -r .order_id)
wait_log "$work/shop-1.log" "$processed and .order_id == \"$first\"" 90
kill -TERM "$consumer_pid"; wait "$consumer_pid" || true
jq -c "select($processed or .message == \"offsets committed\") | {message, order_id} | with_entries(select(.value != null))" "$work/shop-1.log"

say "Three orders while it is down, then it starts again:"
for _ in 1 2 3; do post_order | head -1 | jq -c '{order_id, partition, offset}'; done
start_consumer shop-2 CONSUMER_GROUP=shop
wait_log "$work/shop-2.log" "$processed" 90
within 10 logged "$work/shop-2.log" "$processed" 3 || true # checked exactly below
sleep 2 # anything more would be a replay
jq -c "select($processed) | {message, order_id, partition, offset}" "$work/shop-2.log"
[ "$(count_log "$work/shop-2.log" "$processed")" -eq 3 ] || fail "the restart did not process exactly the 3 new orders"
[ "$(count_log "$work/shop-2.log" "$processed and .order_id == \"$first\"")" -eq 0 ] \
  || fail "the restart processed the first order again"

say "A new group 'audit' with AUTO_OFFSET_RESET=earliest replays all four:"
start_consumer audit CONSUMER_GROUP=audit AUTO_OFFSET_RESET=earliest
within 90 logged "$work/audit.log" "$processed" 4 || true # checked exactly below
[ "$(count_log "$work/audit.log" "$processed")" -eq 4 ] || fail "the new group did not replay the 4 orders"
echo "audit processed $(count_log "$work/audit.log" "$processed") orders"
say "ok: committed offsets resume a group; a new group starts where AUTO_OFFSET_RESET says"
