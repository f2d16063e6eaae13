"""Section 3a: scaling on Ray: a fixed exit_storm with ncpus varied, wall time and memory.

exit_storm_quick's workload (8 processes of 256 pages, 2 threads, 3 epochs, exit
together), policy netbsd5, one `RayBackend.run_point` per CPU count (create the
CPU actors and the VM actor, run, kill). The actors' memory is read from
/proc/PID/status at every progress report while they are alive (PIDs from
`RayBackend.actor_pids`); the last reading is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.machine import Memory, memory_of
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.bench.timing import TimingSink
from smpsim.bench.workloads import storm_config
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.ray_backend import RayBackend

PROCESSES = 8
RUN_EPOCHS = 3


@dataclass(frozen=True)
class ScalingRow:
    ncpus: int
    epochs: int
    wall_s: float
    first_step_s: float | None      # actor start-up and the first step; None: no progress report
    memory: Memory                  # summed over the VM actor and the CPU actors

    @property
    def mib_per_actor(self) -> float:
        return self.memory.hwm_kib / 1024 / (self.ncpus + 1)


@dataclass
class ScalingResult:
    rows: list[ScalingRow]

    def row(self, ncpus: int) -> ScalingRow | None:
        return next((r for r in self.rows if r.ncpus == ncpus), None)

    def section(self) -> Section:
        rows = [[r.ncpus, r.epochs, Figure(r.wall_s, 2), Figure(r.first_step_s, 2),
                 Figure(r.memory.hwm_kib / 1024), Figure(r.memory.rss_kib / 1024), Figure(r.mib_per_actor)]
                for r in self.rows]
        table = Table(["ncpus", "epochs", "wall s", "to first step s", "peak memory MiB (Σ VmHWM)",
                       "RSS at end MiB (Σ VmRSS)", "MiB per actor"], rows,
                      title="3a. Scaling on Ray: a fixed exit_storm, ncpus varied")
        note = (f"exit_storm_quick's workload ({PROCESSES} processes of 256 pages, 2 threads, {RUN_EPOCHS} epochs, "
                "exit together), policy netbsd5, one `RayBackend.run_point` (create ncpus CPU actors + the VM "
                "actor, run, kill). Memory: the VM and CPU actor processes (PIDs from an actor call), summed "
                "VmHWM / VmRSS from /proc/PID/status read after the last step; 'to first step' covers actor "
                "start-up and the first 8 epochs.")
        return Section(table, note)


def _scale_point(ray_backend: RayBackend, ncpus: int) -> ScalingRow:
    cfg, policy = storm_config(ncpus, processes=PROCESSES, run_epochs=RUN_EPOCHS)
    seen: dict = {}

    def read_memory():
        if "pids" not in seen:          # the actors live for the whole point: ask once
            seen["pids"] = ray_backend.actor_pids()
        seen["memory"] = memory_of(seen["pids"])

    sink = TimingSink(read_memory)
    t0 = time.perf_counter()
    result = ray_backend.run_point(cfg, policy, workload=make_workload(cfg), point="base", check=False, trace=False, sink=sink)
    wall = time.perf_counter() - t0
    first = sink.marks[0][0] - t0 if sink.marks else None
    return ScalingRow(ncpus, result["epochs"], wall, first, seen.get("memory", Memory()))


def bench_scaling(sizes: Sizes, ray_backend: RayBackend) -> ScalingResult:
    return ScalingResult([_scale_point(ray_backend, n) for n in sizes.scale_ncpus])
