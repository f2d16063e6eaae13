#!/usr/bin/env python3
"""Print the README's "Replaying a real program" table (markdown) from a run of
configs/study_real_traces.toml, so that it is regenerated, never retyped.

Usage: .venv/bin/python scripts/real_traces_tables.py RUN_DIR
Per trace: each design's kernel cycles, flushes initiated and remote flushes (IPIs), with the
real kernel's counts in the `real` column (docs/trace.md names the model counter of each).
"""

import sys
from pathlib import Path

from smpsim.analysis.load import load_run
from smpsim.analysis.real import real_of
from smpsim.analysis.results import collect
from smpsim.trace.compare import model_count

ROWS = (("kernel Mcycles", None), ("flushes initiated", "initiated"), ("remote flushes queued (IPIs)", "remote_queued"),
        ("remote flushes requested", "remote_requested"))


def main(run_dir: str) -> None:
    run = load_run(run_dir)
    results = collect(run)
    policies = list(dict.fromkeys(r.policy for r in results))
    print("| trace | | real | " + " | ".join(policies) + " |")
    print("|---|---|---:|" + "---:|" * len(policies))
    for point in dict.fromkeys(r.point for r in results):
        rs = {r.policy: r for r in results if r.point == point}
        real = real_of(run, point)
        name = Path(real["trace"]).stem
        for label, category in ROWS:
            if category is None:
                cells = ["—"] + [f"{rs[p].totals['kernel_cycles']['total'] / 1e6:,.1f}" for p in policies]
            else:
                cells = [f"{real['real'][category]:,}"] + [f"{model_count(rs[p].counters, category):,}"
                                                           for p in policies]
            print(f"| {name} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
