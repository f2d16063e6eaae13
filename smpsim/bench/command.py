"""The benchmark command (`scripts/bench.py`, `smpsim bench`): options, the order of the runs, the report.

`run_benchmarks` runs every section at the chosen sizes, prints each as it is
done, judges the targets and returns the `Report`; `main` adds the machine
header and appends the Markdown to BENCHMARKS.md (or `--out`). Ray parts run on
the Ray this process already has (the tests' session cluster), else on a fresh
loopback-only local cluster that is shut down at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from smpsim.bench.epochs import bench_epochs
from smpsim.bench.exchange import bench_exchange
from smpsim.bench.machine import ROOT, loadavg, machine_info
from smpsim.bench.many_actors import bench_many_actors
from smpsim.bench.profile import profile_missed
from smpsim.bench.quick_config import bench_quick_config
from smpsim.bench.replay import bench_replay
from smpsim.bench.report import Report, Section, log, render, write_report
from smpsim.bench.scaling import bench_scaling
from smpsim.bench.sizes import SIZES, Sizes
from smpsim.bench.targets import Measurements, evaluate, targets_table
from smpsim.bench.tlb import Where, bench_tlb
from smpsim.bench.vm_ops import bench_vm_ops

DEFAULT_REPORT = ROOT / "BENCHMARKS.md"
RAY_TIMEOUT_S = 120.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smpsim bench", description=(
        "Measure simulator throughput, exchange overhead against bare Ray and scaling with ncpus, "
        "and append the results to BENCHMARKS.md."))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true",
                      help="tiny sizes, seconds; writes nothing unless --out is given")
    size.add_argument("--quick", action="store_true", help="fewer iterations (about half the full run's time)")
    p.add_argument("--out", type=Path, default=None,
                   help="Markdown file to append the results to (default BENCHMARKS.md at the repository root)")
    p.add_argument("--no-write", action="store_true", help="print only, write no file")
    p.add_argument("--no-ray", action="store_true", help="leave out every part that needs Ray")
    p.add_argument("--profile", action="store_true",
                   help="sample the hot paths of missed targets with py-spy and add the summaries")
    return p


def run_benchmarks(sizes: Sizes, *, use_ray: bool = True, profile: bool = False,
                   workdir: Path | None = None) -> Report:
    """Every section at `sizes` (the Ray ones only with `use_ray`), the targets judged, profiles if asked."""
    report = Report(sizes, use_ray)
    measured = Measurements(sizes, use_ray)

    def add(section: Section) -> None:
        report.sections.append(section)
        log(section.markdown())

    ray_backend = None
    scaling = None
    with tempfile.TemporaryDirectory(prefix="smpsim-bench-") as tmp:
        workdir = workdir or Path(tmp)
        try:
            if use_ray:
                from smpsim.runtime.ray_backend import RayBackend
                # "local": never a cluster RAY_ADDRESS names; reuses this process's Ray if it has one
                ray_backend = RayBackend(address="local", timeout_s=RAY_TIMEOUT_S)
                exchange = bench_exchange(sizes)
                add(exchange.section())
                measured.exchange_ratio = exchange.ratios()
            tlb = bench_tlb(sizes, use_ray)
            add(tlb.section())
            measured.in_process_lookups = tlb.lookups(Where.IN_PROCESS)
            measured.actor_lookups = tlb.lookups(Where.IN_ACTOR)
            add(bench_vm_ops(sizes).section())
            add(bench_epochs(sizes, ray_backend).section())
            quick = bench_quick_config(sizes, use_ray, workdir)
            add(quick.section())
            measured.quick_ray_wall_s = quick.ray_wall_s()
            replay = bench_replay(sizes)
            add(replay.section())
            measured.replay_events_per_s = replay.events_per_s()
            if use_ray:
                scaling = bench_scaling(sizes, ray_backend)
                add(scaling.section())
                add(bench_many_actors(sizes).section())
            report.measurements = measured
            report.targets = evaluate(measured)
            if profile:
                profiles = profile_missed(report.targets, sizes, use_ray, workdir, scaling)
                report.profiles, report.notes = profiles.sections, report.notes + profiles.notes
                for s in profiles.sections:
                    log(s.markdown(level=4))
        finally:
            if ray_backend is not None:
                ray_backend.close()
    return report


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    started = time.perf_counter()
    info = machine_info()
    log(f"smpsim bench ({mode}): {info.model}, {info.nproc} CPUs, {info.memory}, "
        f"Ray {info.ray}, Python {info.python}, load {info.load}\n")
    report = run_benchmarks(SIZES[mode], use_ray=not args.no_ray, profile=args.profile)
    log(Section(targets_table(report.targets)).markdown())
    if args.no_write or (args.smoke and args.out is None):
        return 0
    text = render(report, info, argv, loadavg(), time.perf_counter() - started)
    out = args.out if args.out is not None else DEFAULT_REPORT
    write_report(out, text)
    log(f"appended to {out}")
    return 0
