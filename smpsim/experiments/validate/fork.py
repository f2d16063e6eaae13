"""validate's fork cases: fork+exit+wait against measure/fork_exit.c, per kernel.

The reference is this machine's measurement (measure/fork_exit.c, results in
measure/results/fork_exit.txt: Linux 6.18 on a KVM guest, AMD EPYC, 2000 iterations pinned,
medians): fork+exit+wait = 110.8 us + 128.1 ns per touched private anonymous page. The
simulated figure is one fork of a parent with N written pages, the child's exit (exit1) and
its teardown (the parent's wait charged with it), timed by the model's own code on a fresh
two-CPU kernel under the case's preset with `--set policy.X=` applied (`fork_exit_wait`).
The measured intercept includes the 19.5 us of the child's first run (a context switch and its
stack's copy-on-write faults), which these operations leave out: the fixed case's band allows it.

Each case fails when its mechanism is switched off: the fixed costs (`--set costs.fork_fixed=2000
costs.exit_fixed=0 costs.wait_fixed=0`, the model before them) or Linux's PTE copy
(`--set policy.fork=uvm`: the child maps nothing, its exit zaps nothing).
"""

from __future__ import annotations

from smpsim.costs import CostModel
from smpsim.experiments import config as cfgmod
from smpsim.experiments.config import PolicyConfig
from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import fork, uvm
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op

SOURCE = ("measured on this machine by measure/fork_exit.c (Linux 6.18, KVM guest, AMD EPYC, 2026-12-05): "
          "fork+exit+wait = 110.8 us + 128.1 ns per touched page (measure/results/fork_exit.txt)")
FIXED_NS = 110_827
SLOPE_NS = 128.1
BIG = 1024
PARENT_VA = 1 << 18


def parent_with_pages(costs: CostModel, policy: PolicyConfig, pages: int, ghz: float | None = None):
    """A fresh two-CPU kernel under `policy` with a process on CPU 0 that has written `pages`
    private anonymous pages from va 1 << 18: (the kernel, the process, the setup operation)."""
    machine = {"ncpus": 2, "phys_pages": 8192, **({"ghz": ghz} if ghz else {})}
    cfg = cfgmod.validate({"name": "validate", "machine": machine,
                           "costs": costs.model_dump(), "policies": [policy.model_dump()],
                           "workload": {"kind": "fork_exit", "iterations": 1, "pages": 1, "entries": 1}})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    k = vm.k
    setup = Op("spawn", 0, 0, k.counters)
    parent = uvm.spawn(k, setup, "parent", [0])
    uvm.uvm_map(k, setup, parent, PARENT_VA, pages, prefault=pages, touch=True)
    return k, parent, setup


def fork_exit_wait(costs: CostModel, policy: PolicyConfig, pages: int) -> int:
    """Cycles of fork + the child's exit + its teardown (with the parent's wait) for a parent with
    `pages` written private anonymous pages, under `policy` (the model's own code, inline)."""
    k, parent, setup = parent_with_pages(costs, policy, pages)
    total = 0
    child = None
    for kind, step in (("fork", None), ("exit", fork.exit1), ("teardown", uvm.exit_teardown)):
        op = Op(kind, 0, setup.t + total, k.counters)
        if step is None:
            child = fork.uvmspace_fork(k, op, parent, "child", [1])
        else:
            step(k, op, child)
        total += op.t - op.start
    return total


def _linux(s: Setup, pages: int) -> int:
    return fork_exit_wait(s.costs, s.policy("linux"), pages)


def _slope(s: Setup, preset: str) -> float:
    p = s.policy(preset)
    return (fork_exit_wait(s.costs, p, BIG) - fork_exit_wait(s.costs, p, 1)) / (BIG - 1)


@case("fork_exit_fixed", "measured", SOURCE, (0.75, 1.25), note="linux: fork+exit+wait of a 1-page parent; "
      "fails with the fixed costs off (costs.fork_fixed=2000 costs.exit_fixed=0 costs.wait_fixed=0)")
def fork_exit_fixed(s: Setup):
    return s.cycles(FIXED_NS + SLOPE_NS), _linux(s, 1)


@case("fork_exit_per_page", "measured", SOURCE, (0.75, 1.33), note="linux: fork+exit+wait cost per touched page "
      "(1024 vs 1 page): copy_page_range's PTE copy and the child's zap; fails with policy.fork=uvm")
def fork_exit_per_page(s: Setup):
    return s.cycles(SLOPE_NS), _slope(s, "linux")


@case("fork_exit_slope_linux_over_netbsd", "published",
      "kernel sources: Linux dup_mmap -> copy_page_range copies every anon PTE and exit zaps them "
      "(mm/memory.c); NetBSD uvmspace_fork copies none (sys/uvm/uvm_map.c), its child maps what it faults",
      (2.0, 1e9), unit="ratio", note="per-page fork+exit slope, linux / netbsd10 (reference 1 = equal); "
      "fails with policy.fork=uvm")
def fork_exit_slope_ratio(s: Setup):
    return 1.0, _slope(s, "linux") / _slope(s, "netbsd10")
