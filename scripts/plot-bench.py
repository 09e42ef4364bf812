#!/usr/bin/env python3
"""Draws the benchmark's charts from the CSV files bench writes
(`bench --chart-data DIR`): throughput and p99 against connections,
producer-service next to the Strimzi Kafka Bridge, and consumer-service's
drain rate against the instances in its group.

    plot-bench.py DATA_DIR OUT_DIR   writes bench-connections.png and
                                     bench-consumers.png into OUT_DIR

scripts/bench.sh runs it with matplotlib from a cached virtual environment.
"""
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

OURS, BRIDGE = "producer-service", "Strimzi Kafka Bridge"


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def connections_chart(data, out):
    conns = [int(r["connections"]) for r in data]
    fig, (rate, p99) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for key, label, marker in (("ours", OURS, "o"), ("bridge", BRIDGE, "s")):
        rate.plot(conns, [float(r[f"{key}_rate"]) for r in data], marker=marker, label=label)
        p99.plot(conns, [float(r[f"{key}_p99_ms"]) for r in data], marker=marker, label=label)
    for ax, title, unit in ((rate, "Throughput, closed loop", "orders/s"),
                            (p99, "p99 latency, closed loop", "ms")):
        ax.set_xscale("log")
        ax.set_xticks(conns, [str(c) for c in conns])
        ax.set_xlabel("connections")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    p99.set_yscale("log")
    fig.savefig(out / "bench-connections.png", dpi=110)


def consumers_chart(data, out):
    instances = [int(r["instances"]) for r in data]
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    ax.bar([str(i) for i in instances], [float(r["rate"]) for r in data], color="tab:blue")
    ax.set_xlabel("consumer-service instances in one group")
    ax.set_ylabel("orders/s drained")
    ax.set_title("Drain rate: 6 partitions, 3 brokers, 2 cores")
    ax.grid(True, axis="y", alpha=0.3)
    fig.savefig(out / "bench-consumers.png", dpi=110)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    connections_chart(rows(data / "connections.csv"), out)
    consumers_chart(rows(data / "consumers.csv"), out)
    print(f"charts written to {out}")


if __name__ == "__main__":
    main()
