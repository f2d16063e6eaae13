"""validate's page-allocator cases (issue 20): today's kernels take their free-page locks once per
batch, not once per page, so a fork/exit storm does not convoy on them; each case fails when the
allocator is switched back to the 2011 global lock (`--set policy.page_alloc=global`).

Both run a small inline fork_exit storm (32 CPUs, one socket, 256-page parents: enough allocation
that every per-CPU cache refills) under the preset with the policy switches applied, from empty
caches (`page_cache_start = "cold"` unless `--set policy.page_cache_start=` says otherwise: the
batches, not a warm start, must carry the result), and read the free-page lock waits from its
counters (smpsim.vm.strategies.alloc_base.alloc_lock_wait_cycles).
"""

from __future__ import annotations

from smpsim.costs import CostModel
from smpsim.experiments import config as cfgmod
from smpsim.experiments.config import PolicyConfig
from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.strategies.alloc_base import alloc_lock_wait_cycles

KIND = "published"
STORM = {"kind": "fork_exit", "iterations": 2, "pages": 256, "entries": 2}


def fork_exit_storm(costs: CostModel, policy: PolicyConfig, ncpus: int = 32) -> tuple[int, int]:
    """(free-page lock wait cycles, kernel cycles) of a fork/exit storm on `ncpus` CPUs (inline)."""
    cfg = cfgmod.validate({"name": "validate", "seed": 1, "machine": {"ncpus": ncpus, "phys_pages": 16384},
                           "costs": costs.model_dump(), "policies": [policy.model_dump()], "workload": STORM})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    while not vm.step(64).done:
        pass
    result = vm.result()
    return alloc_lock_wait_cycles(result["counters"]), result["kernel_cycles"]["total"]


def _policy(s: Setup, preset: str) -> PolicyConfig:
    """The preset under the --set switches, from cold caches unless a switch names the start."""
    policy = s.policy(preset)
    if "page_cache_start" not in s.switches:
        policy = policy.model_copy(update={"page_cache_start": "cold"})
    return policy


@case("pcp_zone_lock_share", KIND,
      "Linux mm/page_alloc.c per-CPU pagesets: rmqueue_bulk / free_pcppages_bulk take zone->lock once "
      "per `batch` (63) pages, which is what the pcp lists exist for (Gorman, 'Use per-cpu allocator for "
      "!irq requests', 2017); issue 20's bound: allocator lock waits under 10% of kernel cycles on a "
      "fork/exit storm", (0.0, 1.0), "% of kernel cycles",
      note="linux: free-page lock waits / kernel cycles, fork_exit on 32 CPUs (policy.page_alloc)")
def pcp_zone_lock_share(s: Setup):
    waits, total = fork_exit_storm(s.costs, _policy(s, "linux"))
    return 10.0, 100 * waits / total


@case("pgflcache_contention", KIND,
      "NetBSD 10 sys/uvm/uvm_pgflcache.c (Doran 2019): allocating and freeing pages in batch 'reduces "
      "freelist contention by an order of magnitude'", (0.0, 1.0), "ratio",
      note="netbsd10: free-page lock waits vs the same storm under the global uvm_fpageqlock (32 CPUs)")
def pgflcache_contention(s: Setup):
    policy = _policy(s, "netbsd10")
    waits, _ = fork_exit_storm(s.costs, policy)
    base, _ = fork_exit_storm(s.costs, policy.model_copy(update={"page_alloc": "global"}))
    return 0.10, waits / max(1, base)
