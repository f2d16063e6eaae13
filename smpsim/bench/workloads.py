"""What the benchmarks feed the simulator: CPU setups and requests, and exit_storm configs.

The CPU-level benchmarks (exchange, TLB, many actors) drive CPUs directly with
protocol records: every CPU runs pmap `PMAP` over pages from `BASE_VA`, and a
shootdown carries `SHOOTDOWN_VAS` pages (the default `shootdown_batch`). The
run-level benchmarks (epochs, scaling) build small exit_storm configs.
"""

from __future__ import annotations

from smpsim.costs import CostModel
from smpsim.experiments import config as cfgmod
from smpsim.experiments.config import MachineConfig
from smpsim.protocol import VALID, CpuSetup, QuantumRequest, ShootdownRequest, Switch

PMAP = 1                           # the pmap (and tag) the benchmark CPUs run
BASE_VA = 1 << 18                  # first va page of the benchmark working sets
SHOOTDOWN_VAS = 6                  # VAs per shootdown: the default shootdown_batch
WARM_PAGES = 512                   # translations a warm TLB holds before a shootdown benchmark


def cpu_setups(n: int) -> list[CpuSetup]:
    """Setups for CPUs 0..n-1 with the default machine's TLB and costs (lazy TLB on, no PCID)."""
    m = MachineConfig()
    costs = CostModel().model_dump()
    return [CpuSetup(i, m.tlb_entries, m.tlb_ways, False, 1, costs) for i in range(n)]


def warm_request(cpu: int, pages: int = WARM_PAGES) -> QuantumRequest:
    """A quantum that loads PMAP on the CPU and fills its TLB with `pages` translations."""
    fills = tuple((BASE_VA + i, 1000 + i) for i in range(pages))
    return QuantumRequest(0, cpu, Switch(PMAP, PMAP, VALID), ((BASE_VA, pages),), 0, fills)


def shootdown_requests(xid: int, k: int, initiator: int) -> list[ShootdownRequest]:
    """What pmap_update sends for a batch of SHOOTDOWN_VAS pages of PMAP to k CPUs running it;
    successive xids move through the warm pages so each shootdown hits entries."""
    off = (xid * SHOOTDOWN_VAS) % WARM_PAGES
    vas = tuple((PMAP, BASE_VA + (off + j) % WARM_PAGES) for j in range(SHOOTDOWN_VAS))
    return [ShootdownRequest(xid, 1, initiator, (PMAP,), (PMAP,), vas, "bench") for _ in range(k)]


def default_accesses_per_quantum() -> int:
    return MachineConfig().accesses_per_quantum


def storm_config(ncpus: int, *, processes: int, run_epochs: int, policy: str = "netbsd5"):
    """(config, policy) of an exit_storm of `processes` 256-page, 2-thread processes exiting together."""
    data = {"name": f"bench_storm_{ncpus}", "seed": 1, "machine": {"ncpus": ncpus, "phys_pages": 65536},
            "workload": {"kind": "exit_storm", "processes": processes, "pages": 256, "entries": 4,
                         "threads": min(2, ncpus), "run_epochs": run_epochs, "exit": "together"},
            "policies": [{"name": policy}]}
    cfg = cfgmod.validate(data)
    return cfg, cfg.policies[0]
