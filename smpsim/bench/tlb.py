"""Section 2a: TLB lookups per second per CPU during quanta.

Quanta of lookups over a working set (the default 1536-entry 6-way STLB: 256
pages fit it, 4096 do not), each quantum's misses filled by the next, as the
coordinator does. Measured three ways: a SimCpu in this process; inside a CPU
actor (its `CpuWorker.handle`: decode, SimCpu.run_quantum, encode; what the
target bounds); and from the caller through `RayTransport.exchange` (adding the
round trip).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.bench.targets import LookupRate
from smpsim.bench.workloads import BASE_VA, PMAP, cpu_setups
from smpsim.cpus.cpu import SimCpu
from smpsim.runtime.probes import CpuActors, QuantaRate, QuantaSpec, run_quanta


class Where(Enum):
    IN_PROCESS = "SimCpu.handle in this process"
    IN_ACTOR = "CpuActor: `CpuWorker.handle` in the actor (bytes in, bytes out)"
    ROUND_TRIP = "CpuActor: `RayTransport.exchange` from the caller (adds the round trip)"


@dataclass(frozen=True)
class TlbRow:
    where: Where
    working_set: int
    rate: QuantaRate


@dataclass
class TlbResult:
    sizes: Sizes
    rows: list[TlbRow]

    def lookups(self, where: Where) -> dict[int, LookupRate]:
        """Working set -> lookups per second measured `where`."""
        return {r.working_set: LookupRate(r.rate.per_s, r.rate.per_cpu_s) for r in self.rows if r.where is where}

    def section(self) -> Section:
        # the caller's thread is idle while the actor works: its CPU time says nothing about lookups
        rows = [[r.where.value, r.working_set, self.sizes.accesses, Figure(100 * r.rate.hit_rate, unit="%"),
                 Figure(r.rate.per_s), Figure(r.rate.per_cpu_s if r.where is not Where.ROUND_TRIP else None)]
                for r in self.rows]
        table = Table(["where", "working set (pages)", "accesses/quantum", "hit rate", "lookups/s (wall)",
                       "lookups/s (CPU time)"], rows, title="2a. TLB lookups per second per CPU during quanta")
        note = (f"{self.sizes.tlb_quanta} quanta after a first one from an empty TLB; each quantum's misses are "
                f"filled by the next, as the coordinator does. Only the CPU's handling of each quantum is "
                f"timed (in the actor: decode the request, SimCpu.run_quantum, encode the reply), in wall "
                f"time and in the thread's CPU time (which other processes on the machine do not inflate). "
                f"The TLB is the default 1536-entry 6-way STLB: 256 pages fit it, 4096 do not.")
        return Section(table, note)


def quanta_spec(sizes: Sizes, working_set: int) -> QuantaSpec:
    return QuantaSpec(PMAP, BASE_VA, working_set, sizes.accesses, sizes.tlb_quanta)


def bench_tlb(sizes: Sizes, use_ray: bool) -> TlbResult:
    rows = []
    for ws in sizes.working_sets:
        cpu = SimCpu(cpu_setups(1)[0])
        rows.append(TlbRow(Where.IN_PROCESS, ws, run_quanta(cpu.handle, 0, quanta_spec(sizes, ws))))
    if use_ray:
        with CpuActors(1, timeout_s=120.0) as actors:
            for ws in sizes.working_sets:
                spec = quanta_spec(sizes, ws)
                actors.setup(cpu_setups(1))       # a fresh SimCpu: empty TLB
                rows.append(TlbRow(Where.IN_ACTOR, ws, actors.run_quanta(0, spec)))
                actors.setup(cpu_setups(1))
                rate = run_quanta(lambda q: actors.exchange([0], [q]).replies[0], 0, spec)
                rows.append(TlbRow(Where.ROUND_TRIP, ws, rate))
    return TlbResult(sizes, rows)
