"""Section 2e: replaying a recorded program, inline: trace events per second of wall time.

The bundled compressor trace (configs/traces/xz_t2.smpt: xz -T2, ~50,000 events, thousands of
zero-page flushes with IPIs) replayed by the `linux` preset (every flush an exchange) and by
`netbsd5` (no zero page: few), with validate --trace's machine (the trace's CPUs, a 10 us
quantum). A smoke run replays the small sqlite trace instead and is not judged. The trace is
streamed, so memory does not grow with its length.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.machine import ROOT
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import VmCoordinator

TRACES = ROOT / "configs" / "traces"
POLICIES = ("linux", "netbsd5")


@dataclass(frozen=True)
class ReplayRow:
    policy: str
    events: int
    wall_s: float
    shootdown_ipis: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0


@dataclass
class ReplayResult:
    trace: str
    rows: list[ReplayRow]

    def events_per_s(self) -> float | None:
        """The slowest policy's rate (the target is for every design)."""
        return min((r.events_per_s for r in self.rows), default=None)

    def section(self) -> Section:
        table = Table(["policy", "trace events", "wall s", "events/s", "shootdown IPIs"],
                      [[r.policy, r.events, f"{r.wall_s:.2f}", Figure(r.events_per_s), r.shootdown_ipis]
                       for r in self.rows], title="2e. Replaying a recorded program (inline)")
        return Section(table, f"`{self.trace}` replayed on 2 CPUs with a 10 us quantum (validate --trace's "
                              f"machine), one core, the whole run timed (streamed reading included).")


def _config(trace: str, policy: str):
    return cfgmod.validate({"name": "bench_replay", "seed": 1,
                            "machine": {"ncpus": 2, "quantum_cycles": 25_000, "phys_pages": 1 << 20},
                            "workload": {"kind": "trace", "trace": trace}, "policies": [{"name": policy}],
                            "run": {"max_epochs": 1_000_000}})


def _replay(trace: str, policy: str) -> ReplayRow:
    cfg = _config(trace, policy)
    t0 = time.perf_counter()
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    while not vm.step(4096).done:
        pass
    wall = time.perf_counter() - t0
    c = vm.counters()
    return ReplayRow(policy, c.get("trace_events", 0), wall, c.get("shootdown_ipis", 0))


def bench_replay(sizes: Sizes) -> ReplayResult:
    name = "xz_t2.smpt" if sizes.judged else "sqlite.smpt"
    trace = str(TRACES / name)
    return ReplayResult(f"configs/traces/{name}", [_replay(trace, p) for p in POLICIES])
