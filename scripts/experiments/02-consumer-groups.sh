#!/usr/bin/env bash
# Experiment 2, consumer groups: the orders topic's six partitions are shared
# by the consumers of one group; a second consumer takes some over, and when
# it leaves, the first gets them back.
source "$(dirname "$0")/lib.sh"
start_broker
assigned='.message == "partitions assigned" and .partitions != "none"'
# last_assignment LOG: the partitions in the last "partitions assigned" line.
last_assignment() { jq -r 'select(.message == "partitions assigned") | .partitions' "$1" | tail -1; }
partition_count() { last_assignment "$1" | tr ',' '\n' | grep -c . || true; }
# holds LOG N: whether the consumer of LOG was last assigned N partitions.
holds() { [ "$(partition_count "$1")" -eq "$2" ]; }
# share_all_six: whether the two consumers hold the six partitions between them.
share_all_six() {
  [ $(( $(partition_count "$work/first.log") + $(partition_count "$work/second.log") )) -eq 6 ]
}

say "First consumer in group 'shop':"
start_consumer first CONSUMER_GROUP=shop
first_pid=$consumer_pid
wait_log "$work/first.log" "$assigned" 90
echo "first: $(last_assignment "$work/first.log")"

say "A second consumer joins:"
start_consumer second CONSUMER_GROUP=shop
second_pid=$consumer_pid
wait_log "$work/second.log" "$assigned" 120
shared=yes
within 60 share_all_six || shared=no
echo "first:  $(last_assignment "$work/first.log")"
echo "second: $(last_assignment "$work/second.log")"
[ "$(partition_count "$work/second.log")" -ge 1 ] || fail "the second consumer got nothing"
[ "$shared" = yes ] || fail "the two consumers do not hold the six partitions between them"

say "The second consumer stops (SIGTERM: it commits and leaves the group):"
kill -TERM "$second_pid"; wait "$second_pid" || true
returned=yes
within 120 holds "$work/first.log" 6 || returned=no
echo "first: $(last_assignment "$work/first.log")"
[ "$returned" = yes ] || fail "the first consumer did not get all six back"
kill -TERM "$first_pid"
say "ok: a group shares the partitions and rebalances when members come and go"
