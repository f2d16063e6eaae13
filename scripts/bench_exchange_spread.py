#!/usr/bin/env python
"""The shootdown exchange against the bare-Ray floor at every fan-out 1-15, repeated to show the spread.

Runs `smpsim.bench.exchange.bench_exchange` (the BENCHMARKS.md section 1 measurement: interleaved
floor / floor+bytes / smpsim calls, rotated order) `--repeat` times on one local cluster and prints a
Markdown table of smpsim/floor per fan-out and repeat, with the median and the spread.

    .venv/bin/python scripts/bench_exchange_spread.py [--repeat 3] [--iters 150]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smpsim.bench.exchange import bench_exchange  # noqa: E402
from smpsim.bench.sizes import SIZES  # noqa: E402
from smpsim.runtime.ray_cluster import start_local  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=150)
    a = ap.parse_args()
    sizes = replace(SIZES["quick"], fanouts=tuple(range(1, 16)), exchange_iters=a.iters)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    conn = start_local(2)
    try:
        runs = []
        for r in range(a.repeat):
            res = bench_exchange(sizes)
            runs.append({t.k: (t.ratio, t.floor.median_wall, t.smpsim.median_wall) for t in res.fanouts})
            print(f"repeat {r + 1} done", file=sys.stderr, flush=True)
    finally:
        conn.close()
    head = " | ".join(f"run {i + 1}" for i in range(a.repeat))
    print(f"| k | {head} | median | min-max | floor median us (run 1) | smpsim median us (run 1) |")
    print("|---:|" + "---:|" * a.repeat + "---:|---|---:|---:|")
    for k in sizes.fanouts:
        ratios = [run[k][0] for run in runs]
        cells = " | ".join(f"{x:.2f}" for x in ratios)
        print(f"| {k} | {cells} | {statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} | "
              f"{runs[0][k][1] / 1000:,.0f} | {runs[0][k][2] / 1000:,.0f} |")
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
