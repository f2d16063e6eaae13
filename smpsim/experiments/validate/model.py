"""The model's own code measured for validate's cases, each on a fresh, minimal setup.

The shootdown timing of smpsim.vm.ipi, a simulated CPU (smpsim.cpus) flushing and refilling
its TLB, and an inline simulation of exits. Every figure is simulated cycles (deterministic).
"""

from __future__ import annotations

from types import SimpleNamespace

from smpsim.costs import CostModel
from smpsim.cpus.cpu import SimCpu
from smpsim.experiments import config as cfgmod
from smpsim.experiments.config import PolicyConfig
from smpsim.experiments.workloads import make_workload
from smpsim.protocol import CpuSetup, QuantumRequest, ShootdownRequest, Switch, VALID
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.counters import Counters
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.ipi import AFTER_FLUSH, exchange_timing
from smpsim.vm.locks import SimLock
from smpsim.vm.topology import Topology


def _kernel(costs: CostModel, ncpus: int, sockets: int):
    cnt = Counters()
    cnt.topology = Topology(ncpus, sockets, costs, cnt)
    return SimpleNamespace(costs=costs, counters=cnt, topology=cnt.topology,
                           config=SimpleNamespace(machine=SimpleNamespace(ncpus=ncpus)))


def shootdown_latency(costs: CostModel, ncpus: int, sockets: int, targets: int, flush: int,
                      ack: str = AFTER_FLUSH, local: int = 0) -> int:
    """Initiator latency of one shootdown from CPU 0 to CPUs 1..targets (each flushing `flush`)."""
    k = _kernel(costs, ncpus, sockets)
    tl = list(range(1, targets + 1))
    return exchange_timing(k, 0, tl, {c: flush for c in tl}, ack, SimLock("mailbox", "mailbox"), local).done


def flush_and_refill(costs: CostModel, working_set: int, invlpg_pages: int | None, walk_lines: int = 64,
                     tlb_entries: int = 1536, tlb_ways: int = 6) -> int:
    """A target CPU with `working_set` pages in its TLB takes a shootdown of `invlpg_pages` of them
    (None: a full flush), then touches its working set again: handler flush work plus the cycles
    of the page walks that refill what the flush threw away (simulated by smpsim.cpus)."""
    cpu = SimCpu(CpuSetup(1, tlb_entries, tlb_ways, False, 0, costs.model_dump(), walk_lines))
    base = 1 << 18
    cpu.run_quantum(QuantumRequest(0, 1, Switch(1, 1, VALID)))
    vas = list(range(base, base + working_set))
    for va in vas:                     # the working set was walked and is cached
        cpu.walks.walk(1, va)
        cpu.tlb.insert(1, va, va, 1)
    inv = None if invlpg_pages is None else tuple((1, va) for va in vas[:invlpg_pages])
    ack = cpu.shootdown(ShootdownRequest(1, 0, 0, (1,), (1,), inv, "validate"))
    hits, misses = cpu.tlb.access(1, vas)      # the refill: a walk per miss, warm or cold (as SimCpu charges)
    walk_cycles = sum(costs.page_walk_warm if cpu.walks.walk(1, va) else costs.page_walk for va in misses)
    return ack.flush_cycles + walk_cycles


def flush_work(costs: CostModel, pages: int | None) -> int:
    """A target's flush work for `pages` INVLPGs (None: a CR3 reload), without the refill."""
    cpu = SimCpu(CpuSetup(1, 1536, 6, False, 0, costs.model_dump()))
    inv = None if pages is None else tuple((1, va) for va in range(pages))
    return cpu.shootdown(ShootdownRequest(1, 0, 0, (1,), (1,), inv, "validate")).flush_cycles


def break_even_pages(costs: CostModel, working_set: int) -> int:
    """The smallest INVLPG count that costs at least a full flush plus refills."""
    full = flush_and_refill(costs, working_set, None)
    lo, hi = 1, working_set
    while lo < hi:
        mid = (lo + hi) // 2
        if flush_and_refill(costs, working_set, mid) >= full:
            hi = mid
        else:
            lo = mid + 1
    return lo


def exit_cycles_per_page(costs: CostModel, policy: PolicyConfig, pages: int = 512) -> float:
    """Mean exit cycles per resident page of one single-threaded process under `policy` (inline run)."""
    cfg = cfgmod.validate({"name": "validate", "machine": {"ncpus": 2, "phys_pages": 8192},
                           "costs": costs.model_dump(), "policies": [policy.model_dump()],
                           "workload": {"kind": "exit_storm", "processes": 1, "pages": pages, "entries": 1,
                                        "threads": 1, "run_epochs": 1}})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    events = []
    while True:
        r = vm.step(16)
        events += r.events
        if r.done:
            break
    exits = [e for e in events if e["event"] == "exit"]
    return sum(e["cycles"] for e in exits) / sum(e["pages"] for e in exits)
