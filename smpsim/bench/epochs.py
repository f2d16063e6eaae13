"""Section 2c: epochs per second of a whole simulation, inline and on Ray, against the CPU count.

An exit_storm with one 256-page, 2-thread process per CPU, policy netbsd5, one
`run_point` per backend (inline: the median of a few). 'all' includes creating
and killing the actors; 'steady' is between the first and the last progress
report, so it leaves the actors' start-up out.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.bench.timing import TimingSink
from smpsim.bench.workloads import default_accesses_per_quantum, storm_config
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.backend import Backend
from smpsim.runtime.inline_backend import InlineBackend


@dataclass(frozen=True)
class EpochsRow:
    ncpus: int
    backend: str
    epochs: int
    wall_s: float
    steady_per_s: float | None      # None: fewer than two progress reports

    @property
    def all_per_s(self) -> float:
        return self.epochs / self.wall_s


@dataclass
class EpochsResult:
    sizes: Sizes
    rows: list[EpochsRow]

    def section(self) -> Section:
        rows = [[r.ncpus, r.backend, r.epochs, Figure(r.wall_s, 2), Figure(r.all_per_s, 1),
                 Figure(r.steady_per_s, 1)] for r in self.rows]
        table = Table(["CPUs", "backend", "epochs", "wall s", "epochs/s (all)", "epochs/s (steady)"], rows,
                      title="2c. Epochs per second", label_cols=2)
        sz = self.sizes
        note = (f"exit_storm with one 256-page, 2-thread process per CPU running {sz.epoch_run_epochs} epochs "
                f"({default_accesses_per_quantum():,} accesses per quantum), policy netbsd5, one `run_point` each "
                f"(inline: median of {sz.inline_repeats}). 'all' includes creating and killing the actors; "
                f"'steady' is between the first and the last progress report (8 epochs per step).")
        return Section(table, note)


def bench_epochs(sizes: Sizes, ray_backend: Backend | None) -> EpochsResult:
    backends = [("inline", InlineBackend())] + ([("ray", ray_backend)] if ray_backend is not None else [])
    rows = []
    for n in sizes.epoch_ncpus:
        cfg, policy = storm_config(n, processes=n, run_epochs=sizes.epoch_run_epochs)
        for name, backend in backends:
            runs = []
            for _ in range(sizes.inline_repeats if name == "inline" else 1):
                sink = TimingSink()
                t0 = time.perf_counter()
                r = backend.run_point(cfg, policy, workload=make_workload(cfg), point="base", check=False, trace=False, sink=sink)
                runs.append((time.perf_counter() - t0, sink.steady_rate(), r["epochs"]))
            steady = [x[1] for x in runs if x[1] is not None]
            rows.append(EpochsRow(n, name, runs[0][2], statistics.median(x[0] for x in runs),
                                  statistics.median(steady) if steady else None))
    return EpochsResult(sizes, rows)
