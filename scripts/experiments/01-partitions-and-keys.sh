#!/usr/bin/env bash
# Experiment 1, partitions and keys: the record key is the order_id, so the
# same order_id always lands in the same partition (and keeps its order
# there), while different ids spread over the partitions.
source "$(dirname "$0")/lib.sh"
start_broker
start_producer

say "The same order_id three times (a client retrying):"
same=0190f3c4-5b6a-7d8e-9f01-23456789abcd
placements=()
for _ in 1 2 3; do
  answer=$(post_order "$same" | head -1)
  echo "$answer" | jq -c '{order_id, partition, offset}'
  placements+=("$(echo "$answer" | jq -r .partition)")
done
[ "$(printf '%s\n' "${placements[@]}" | sort -u | wc -l)" -eq 1 ] \
  || fail "one order_id landed in several partitions: ${placements[*]}"

say "Twelve orders with generated ids:"
partitions=$(for _ in $(seq 12); do post_order | head -1 | jq -r .partition; done | sort | uniq -c)
echo "$partitions" | awk '{print "partition " $2 ": " $1 " orders"}'
[ "$(echo "$partitions" | wc -l)" -ge 2 ] || fail "twelve ids all landed in one partition"
say "ok: one key, one partition; many keys, many partitions"
