#!/usr/bin/env python3
"""Draw docs/kernels_study.png from a run of configs/study_kernels.toml.

Usage: .venv/bin/python scripts/plot_kernels_study.py RUN_DIR [OUT.png]
Panels: tlb_flush loops per simulated second and munmap mean cycles against CPUs (one socket),
exit_storm exit mean cycles against CPUs (one socket), and tlb_flush loops per second against
sockets at the largest CPU count. One legend under the panels; CPU and socket counts on log-2
axes with the swept values as ticks; a log cycle axis only where the values span more than 30x.
"""

import json
import sys
from pathlib import Path

from smpsim.analysis.plotstyle import (LINESTYLES, MARKERS, cycles_axis, figure, figure_handles, log_axis,
                                       outside_legend, value_ticks, wide_span)

POLICIES = ["netbsd5", "seed", "netbsd10", "freebsd", "linux", "linux_invlpgb"]


def study_rows(run_dir: str) -> dict:
    """The study's points by (workload kind, CPUs, sockets, policy)."""
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    rows = {}
    for e in summary["points"]:
        p = e["params"]
        w = p["workload"]
        kind = w["kind"] if isinstance(w, dict) else w
        rows[(kind, p["machine.ncpus"], p.get("machine.sockets", 1), e["policy"])] = e
    return rows


def main(run_dir: str, out: str = "docs/kernels_study.png") -> None:
    rows = study_rows(run_dir)
    cpus = sorted({k[1] for k in rows})
    sockets = sorted({k[2] for k in rows})
    panels = [
        ("tlb_flush: loops per simulated second", "CPUs (one socket; a thread per CPU)", cpus,
         lambda pol, x: rows[("tlb_flush", x, 1, pol)]["counters"]["loops_per_sim_second"]),
        ("tlb_flush: munmap, mean cycles", "CPUs (one socket)", cpus,
         lambda pol, x: rows[("tlb_flush", x, 1, pol)]["latency"]["munmap"]["mean_cycles"]),
        ("exit_storm: exit, mean cycles", "CPUs (one socket)", cpus,
         lambda pol, x: rows[("exit_storm", x, 1, pol)]["latency"]["exit"]["mean_cycles"]),
        (f"tlb_flush, {max(cpus)} CPUs: loops per simulated second", "sockets", sockets,
         lambda pol, x: rows[("tlb_flush", max(cpus), x, pol)]["counters"]["loops_per_sim_second"]),
    ]
    # two by two: still legible when a mail client or the README column shrinks it to ~900 px
    fig, axes = figure(len(panels), width=4.6, height=3.3, ncols_max=2)
    for ax, (title, xlabel, xs, get) in zip(axes, panels):
        ys = []
        for i, pol in enumerate(POLICIES):
            # alike designs (netbsd5/seed/netbsd10, linux/linux_invlpgb) draw on top of each other:
            # earlier ones wider and with bigger markers, each its own line style, so all stay visible
            vals = [get(pol, x) for x in xs]
            ax.plot(xs, vals, label=pol, color=f"C{i}", linestyle=LINESTYLES[i % len(LINESTYLES)],
                    marker=MARKERS[i % len(MARKERS)], linewidth=max(1.2, 2.6 - 0.3 * i),
                    markersize=max(4.0, 8.0 - 0.8 * i))
            ys += vals
        if wide_span(ys):
            log_axis(ax.yaxis, ys)
        else:
            cycles_axis(ax.yaxis)
        value_ticks(ax.xaxis, xs, log2=True)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    outside_legend(fig, *figure_handles(fig), below=True)
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:])
