#!/usr/bin/env python3
"""Draw docs/kernels_study.png from a run of configs/study_kernels.toml.

Usage: .venv/bin/python scripts/plot_kernels_study.py RUN_DIR [OUT.png]
Panels: tlb_flush loops per simulated second and munmap mean cycles against CPUs (one socket),
exit_storm exit mean cycles against CPUs (one socket), and tlb_flush loops per second against
sockets at 64 CPUs.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

POLICIES = ["netbsd5", "seed", "netbsd10", "freebsd", "linux", "linux_invlpgb"]


def main(run_dir: str, out: str = "docs/kernels_study.png") -> None:
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    rows = {}
    for e in summary["points"]:
        p = e["params"]
        w = p["workload"]
        kind = w["kind"] if isinstance(w, dict) else w
        rows[(kind, p["machine.ncpus"], p.get("machine.sockets", 1), e["policy"])] = e
    cpus = sorted({k[1] for k in rows})
    sockets = sorted({k[2] for k in rows})
    panels = [
        ("tlb_flush: loops per simulated second (thousands)", "CPUs (one socket; a thread per CPU)", cpus,
         lambda pol, x: rows[("tlb_flush", x, 1, pol)]["counters"]["loops_per_sim_second"] / 1000, True),
        ("tlb_flush: munmap, mean cycles", "CPUs (one socket)", cpus,
         lambda pol, x: rows[("tlb_flush", x, 1, pol)]["latency"]["munmap"]["mean_cycles"], True),
        ("exit_storm: exit, mean cycles", "CPUs (one socket)", cpus,
         lambda pol, x: rows[("exit_storm", x, 1, pol)]["latency"]["exit"]["mean_cycles"], False),
        ("tlb_flush at 64 CPUs: loops per sim. second (k)", "sockets", sockets,
         lambda pol, x: rows[("tlb_flush", max(cpus), x, pol)]["counters"]["loops_per_sim_second"] / 1000, False),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 4))
    for ax, (title, xlabel, xs, get, log) in zip(axes, panels):
        for pol in POLICIES:
            ax.plot(xs, [get(pol, x) for x in xs], marker="o", label=pol)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_xticks(xs)
        if log:
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


if __name__ == "__main__":
    main(*sys.argv[1:])
