"""Section 2d: configs/exit_storm_quick.toml end to end through the runner, inline and on Ray.

`runner.run` does everything `smpsim run` does (validation, run directory, every
policy, summary); on Ray the CPU and VM actors are created and reused as the
RayBackend does, on the already-running cluster (no cluster start-up). The
16-CPU Ray figure is what the wall-time target bounds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.experiments import config as cfgmod
from smpsim.experiments.runner import RunRequest, run

QUICK_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "exit_storm_quick.toml"


@dataclass(frozen=True)
class QuickRow:
    ncpus: int
    as_in_file: bool
    backend: str
    wall_s: float


@dataclass
class QuickConfigResult:
    rows: list[QuickRow]

    def ray_wall_s(self) -> dict[int, float]:
        return {r.ncpus: r.wall_s for r in self.rows if r.backend == "ray"}

    def section(self) -> Section:
        rows = [[f"{r.ncpus} (as in the file)" if r.as_in_file else r.ncpus, r.backend, Figure(r.wall_s, 2)]
                for r in self.rows]
        table = Table(["CPUs", "backend", "wall s"], rows, label_cols=2,
                      title="2d. configs/exit_storm_quick.toml end to end (runner.run, 4 policies)")
        note = ("`runner.run(RunRequest(backend=..., progress=False))`: validation, run directory, every "
                "policy (on Ray: the CPU and VM actors as RayBackend creates and reuses them), summary. "
                "Ray wall time is on the already-running cluster (no cluster start-up).")
        return Section(table, note)


def run_quick_config(backend: str, ncpus: int | None, out_root: Path) -> float:
    """Wall seconds of one runner.run of the quick config (`ncpus` None: as in the file)."""
    overrides = [f"machine.ncpus={ncpus}"] if ncpus else []
    out = out_root / f"{backend}-{ncpus or 'default'}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    run(RunRequest(config_path=str(QUICK_CONFIG), overrides=overrides, backend=backend, out=str(out),
                   progress=False))
    return time.perf_counter() - t0


def bench_quick_config(sizes: Sizes, use_ray: bool, out_root: Path) -> QuickConfigResult:
    file_ncpus = cfgmod.load(QUICK_CONFIG)[0].machine.ncpus
    # a smoke run skips the file's own size: one size is enough to show the path works
    sizes_to_run = (sizes.quick_ncpus,) if sizes.mode == "smoke" else (None, sizes.quick_ncpus)
    rows = []
    for ncpus in sizes_to_run:
        for backend in ("inline", "ray") if use_ray else ("inline",):
            wall = run_quick_config(backend, ncpus, out_root)
            rows.append(QuickRow(ncpus or file_ncpus, ncpus is None, backend, wall))
    return QuickConfigResult(rows)
