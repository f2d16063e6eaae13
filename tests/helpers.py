"""Small builders shared by the unit tests: configs as dicts, and inline runs."""

from __future__ import annotations

import copy

from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import VmCoordinator

WORKLOADS = {
    "exit_storm": {"kind": "exit_storm", "processes": 4, "pages": 64, "entries": 2, "threads": 2,
                   "run_epochs": 2},
    "munmap_fanout": {"kind": "munmap_fanout", "threads": 4, "region_pages": 16, "rounds": 3},
    "fork_exit": {"kind": "fork_exit", "iterations": 2, "pages": 32, "entries": 2},
    "fork_exec_exit": {"kind": "fork_exec_exit", "iterations": 2, "pages": 32, "entries": 2, "libs": 2,
                       "lib_pages": 16},
}


def config_dict(workload="exit_storm", policies=("netbsd5", "seed"), **machine) -> dict:
    wl = copy.deepcopy(WORKLOADS[workload]) if isinstance(workload, str) else copy.deepcopy(workload)
    m = {"ncpus": 4, "phys_pages": 8192}
    m.update(machine)
    return {"name": "test", "seed": 7, "machine": m, "workload": wl,
            "policies": [p if isinstance(p, dict) else {"name": p} for p in policies]}


def run_inline(data: dict, policy_index: int = 0, *, check: bool = True, trace: bool = False, substitute=None):
    """Run one policy of a config dict to the end; return (coordinator, result, events).
    `substitute` (policy -> policy) swaps strategies in, e.g. a broken one from tests.broken."""
    cfg = cfgmod.validate(data)
    policy = cfg.policies[policy_index]
    if substitute is not None:
        policy = substitute(policy)
    vm = VmCoordinator(cfg, policy, InlineTransport(), make_workload(cfg), check=check, trace=trace)
    vm.start()
    events = []
    while True:
        r = vm.step(16)
        events.extend(r.events)
        if r.done:
            break
    return vm, vm.result(), events


def run_policies(data: dict, **kw) -> dict:
    """{policy name: (result, events)} for every policy of the config."""
    out = {}
    for i, p in enumerate(data["policies"]):
        _, result, events = run_inline(data, i, **kw)
        out[p["name"]] = (result, events)
    return out


def fork_kernel(policy: str = "netbsd5", **switches):
    """A started kernel of the fork_exit workload under `policy` (switches laid over the preset),
    with the invariant checker on, for tests that drive fork and its faults by hand."""
    d = config_dict("fork_exit", policies=(policy,))
    d["policies"][0].update(switches)
    cfg = cfgmod.validate(d)
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg), check=True)
    vm.start()
    return vm.k
