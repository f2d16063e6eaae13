"""Section 2b: VM operations per second in the coordinator (inline).

One process whose threads run on 4 CPUs (its pmap loaded on all of them) maps a
range, faults every page in (`uvm_fault`: page allocation, PTPs, `pmap_enter`,
PV insert), then unmaps it in small ranges (`uvm_unmap`: `pmap_remove`, PV
removal, page free, `pmap_update` with its shootdown through the inline
transport). The operations are called directly on the coordinator's kernel, so
only the VM code is timed, not the event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import uvm
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op

NCPUS = 4
POLICIES = ("netbsd5", "seed")
MAP_BASE_VA = 64 << 18


@dataclass(frozen=True)
class VmOpsRow:
    policy: str
    faults: int
    fault_ns: int
    pages_removed: int
    munmaps: int
    unmap_ns: int
    shootdown_exchanges: int

    @property
    def faults_per_s(self) -> float:
        return self.faults / (self.fault_ns / 1e9)

    @property
    def removes_per_s(self) -> float:
        return self.pages_removed / (self.unmap_ns / 1e9)

    @property
    def munmaps_per_s(self) -> float:
        return self.munmaps / (self.unmap_ns / 1e9)


@dataclass
class VmOpsResult:
    sizes: Sizes
    rows: list[VmOpsRow]

    def section(self) -> Section:
        rows = [[r.policy, Figure(r.faults_per_s), Figure(r.removes_per_s), Figure(r.munmaps_per_s),
                 r.shootdown_exchanges, r.munmaps] for r in self.rows]
        table = Table(["policy", "faults/s", "pages removed/s", "munmaps/s", "shootdown exchanges", "munmaps"],
                      rows, title="2b. VM operations per second in the coordinator (inline)")
        note = (f"One process with threads on {NCPUS} CPUs (its pmap loaded on all of them): "
                f"{self.sizes.vm_pages} faults (`uvm_fault`: page allocation, PTPs, `pmap_enter`, PV insert), then "
                f"`uvm_unmap` of {self.sizes.vm_munmap_pages}-page ranges (`pmap_remove`, PV removal, page free, "
                f"`pmap_update` with its shootdown through the inline transport).")
        return Section(table, note)


def _one_process_config(policy: str, pages: int):
    data = {"name": "bench_vm", "seed": 1,
            "machine": {"ncpus": NCPUS, "phys_pages": max(65536, 4 * pages), "accesses_per_quantum": 0},
            "workload": {"kind": "exit_storm", "processes": 1, "pages": 64, "entries": 1, "threads": NCPUS,
                         "run_epochs": 100_000},
            "policies": [{"name": policy}]}
    return cfgmod.validate(data)


def _measure(policy: str, sizes: Sizes) -> VmOpsRow:
    cfg = _one_process_config(policy, sizes.vm_pages)
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    vm.step(3)                              # spawned, its threads run (pmap loaded) on every CPU
    k = vm.k
    proc = next(iter(k.procs.values()))
    t = vm.epoch * cfg.machine.quantum_cycles
    op = Op("mmap", 0, t, k.counters)
    uvm.uvm_map(k, op, proc, MAP_BASE_VA, sizes.vm_pages)
    t = op.t
    faults0 = k.counters["page_faults"]
    t0 = time.perf_counter_ns()
    for va in range(MAP_BASE_VA, MAP_BASE_VA + sizes.vm_pages):
        op = Op("fault", 0, t, k.counters)
        uvm.uvm_fault(k, op, proc, va)
        t = op.t
    fault_ns = time.perf_counter_ns() - t0
    faults = k.counters["page_faults"] - faults0
    step = sizes.vm_munmap_pages
    removes0, shootdowns0 = k.counters["pv_removes"], k.counters["shootdown_exchanges"]
    t0 = time.perf_counter_ns()
    for start in range(MAP_BASE_VA, MAP_BASE_VA + sizes.vm_pages, step):
        op = Op("munmap", 0, t, k.counters)
        uvm.uvm_unmap(k, op, proc, start, step, "munmap")
        t = op.t
    unmap_ns = time.perf_counter_ns() - t0
    return VmOpsRow(policy, faults, fault_ns, k.counters["pv_removes"] - removes0, sizes.vm_pages // step,
                    unmap_ns, k.counters["shootdown_exchanges"] - shootdowns0)


def bench_vm_ops(sizes: Sizes) -> VmOpsResult:
    return VmOpsResult(sizes, [_measure(policy, sizes) for policy in POLICIES])
