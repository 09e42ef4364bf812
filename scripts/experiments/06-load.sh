#!/usr/bin/env bash
# Experiment 6, back-pressure and throughput: loadgen drives POST /orders
# with 64 connections for DURATION seconds (default 10) and reads the topic
# back; every order answered 201 must arrive, none twice.
source "$(dirname "$0")/lib.sh"
start_broker
start_producer

say "loadgen http --concurrency 64 --duration-secs ${DURATION:-10} --track:"
"$bin/loadgen" http --url "$producer" --concurrency 64 --duration-secs "${DURATION:-10}" \
  --track --brokers "$KAFKA_BROKERS" --quiet | tee "$work/loadgen.out"
grep -Eq '^[0-9]+ requests in .*/s successful' "$work/loadgen.out" || fail "no throughput figure"
grep -q 'lost 0, duplicated 0' "$work/loadgen.out" || fail "orders were lost or duplicated (or not tracked)"
say "ok: read the orders/s and latency percentiles above"
