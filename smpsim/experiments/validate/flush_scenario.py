"""One removal and the shootdown it sends, measured on a small inline model (validate's flush cases).

A process with threads on CPUs 0 and 1 (its mm loaded on both) maps a private region, touches
every page (so every PTE has its accessed bit set and may be cached), and CPU 0 then removes
`npages` of it with one operation (`munmap` today; any operation with the same signature, e.g.
madvise(MADV_DONTNEED), can be passed in). What comes back is what that one operation's
shootdown did: INVLPGs on each CPU, whether it was a full flush, the initiator's shootdown
cycles and the targets' flush work. The policy decides everything else (flush rule,
shootdown, lazy TLB), so every `policy.X=` switch reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

from smpsim.experiments import config as cfgmod
from smpsim.experiments.config import PolicyConfig
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import uvm
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op

REGION = 5 << 18                # a page-directory-aligned VA (page number) no workload region uses


@dataclass(frozen=True)
class FlushOutcome:
    invlpg: int                 # INVLPGs executed, all CPUs
    full_flushes: int           # shootdowns sent as a full flush
    exchanges: int              # shootdown exchanges (IPI rounds)
    shootdown_cycles: int       # the initiator's shootdown cycles
    ptps_freed: int


def munmap(k, op, proc, start: int, npages: int) -> None:
    uvm.uvm_unmap(k, op, proc, start, npages)


def loaded_process(policy: PolicyConfig, costs: dict, ncpus: int = 2, sockets: int = 1):
    """A started model with one process whose threads run on every CPU, its mm loaded on all."""
    cfg = cfgmod.validate({"name": "flush", "seed": 1, "machine": {"ncpus": ncpus, "sockets": sockets,
                                                                   "phys_pages": 8192},
                           "costs": costs, "policies": [policy.model_dump()],
                           "workload": {"kind": "munmap_fanout", "threads": ncpus, "region_pages": 1, "rounds": 1}})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    k = vm.k
    for _ in range(64):
        proc = next(iter(k.procs.values()), None)
        if proc is not None and len(proc.pmap.pm_cpus) == ncpus and all(v.state == "VALID" for v in k.views):
            return k, proc
        vm.step(1)
    raise RuntimeError(f"the process never had its mm loaded on all {ncpus} CPUs")


def remove_and_flush(policy: PolicyConfig, costs: dict, npages: int, *, mapping: int = 256, offset: int = 64,
                     operation=munmap, whole: bool = False, ncpus: int = 2, sockets: int = 1) -> FlushOutcome:
    """Map `mapping` pages at a page-directory boundary, touch them all, then remove `npages`
    from `offset` (with `whole`, the mapping is `npages` long and all of it goes, freeing its
    page-table page). `ncpus` / `sockets`: the machine, the mm loaded on every CPU."""
    k, proc = loaded_process(policy, costs, ncpus, sockets)
    t = max(v.busy_until for v in k.views) + 1
    mop = Op("mmap", 0, t, k.counters)
    size, start = (npages, REGION) if whole else (mapping, REGION + offset)
    uvm.uvm_map(k, mop, proc, REGION, size, prefault=size, touch=True)
    before = dict(k.counters)
    op = Op("munmap", 0, mop.t, k.counters)
    operation(k, op, proc, start, npages)
    d = k.counters.delta(before)
    return FlushOutcome(d.get("shootdown_invlpg", 0), d.get("shootdown_full_flushes", 0),
                        d.get("shootdown_exchanges", 0), op.parts["shootdown"], d.get("ptp_freed", 0))


def exit_deltas(policy: PolicyConfig, costs: dict, pages: int = 256, entries: int = 4) -> list[dict]:
    """The counter deltas of each exit of one process with threads on 2 CPUs (inline run)."""
    cfg = cfgmod.validate({"name": "exit", "seed": 1, "machine": {"ncpus": 2, "phys_pages": 8192},
                           "costs": costs, "policies": [policy.model_dump()],
                           "workload": {"kind": "exit_storm", "processes": 1, "pages": pages, "entries": entries,
                                        "threads": 2, "run_epochs": 1}})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    events = []
    while True:
        r = vm.step(16)
        events += r.events
        if r.done:
            return [e["deltas"] for e in events if e["event"] == "exit"]
