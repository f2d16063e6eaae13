"""validate's Linux 6.13+ cases: batched reclaim, consider_global_asid's gating and the lazy
mm_cpumask, each a small inline simulation under the `linux` or `linux_invlpgb` preset (with
`--set policy.X=` applied), each failing when its mechanism is switched off:

- `reclaim_batch_ipis` (Gorman, 2015): batched reclaim sends far fewer IPIs per second than
  page-by-page unmapping; off with `--set policy.reclaim_batch=1`.
- `global_asid_gating` (van Riel, 2025): a short-lived mm flushed from 4 CPUs keeps IPI flushes,
  because consider_global_asid samples a task once per 32 jiffies; off with
  `--set policy.global_asid=first_flush`.
- `mm_cpumask_trim` (6db2526c1d69, 2024): with the lazy mm_cpumask, flushes that free no page
  tables reach only the CPUs running the mm, as before 6.13, except once a second; off (the lazy
  mask of 209954cbc7d0 without the trim) with `--set policy.mm_cpumask=lazy`.

The 0-day robot's tlb_flush2 figures (-13.2% per_thread_ops from 209954cbc7d0; -14.9% with the
trim's v4, which was merged as 6db2526c1d69: the robot saw no recovery on its Skylake) are not a
case: their mechanism is CPUs going idle (44% idle: threads sleeping on mmap_lock behind mmap and
munmap writers), switched to init_mm by munmap's table-freeing flush and then left in the mask,
and the model's tlb_flush2 threads never sleep, so every rule gives the same per_thread_ops.
"""

from __future__ import annotations

from smpsim.experiments import config as cfgmod
from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import VmCoordinator

KIND = "published"


def simulate(s: Setup, preset: str, machine: dict, workload: dict, **switches):
    """One inline run of `workload` under `preset` (the --set switches, then `switches`, laid
    over it); returns the kernel (its counters, views and config) after the run."""
    policy = {**s.policy(preset).model_dump(), **switches}
    cfg = cfgmod.validate({"name": "validate", "seed": 1, "machine": {**machine, "ghz": s.ghz},
                           "costs": s.costs.model_dump(), "policies": [policy], "workload": workload})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    while not vm.step(64).done:
        pass
    return vm.k


def sim_seconds(k) -> float:
    """The simulated span of a run: the end of the last kernel operation or epoch, in seconds."""
    m = k.config.machine
    end = max(max(v.busy_until for v in k.views), k.epoch * m.quantum_cycles)
    return end / (m.ghz * 1e9)


# memory_pressure as configs/memory_pressure_quick.toml: two growers fault in 80 pages an epoch
# each into a memory that cannot hold them while four short processes exit one by one
PRESSURE_MACHINE = {"ncpus": 6, "phys_pages": 2560, "freemin": 128, "freetarg": 256}
PRESSURE = {"kind": "memory_pressure", "processes": 4, "pages": 256, "entries": 8, "growers": 2,
            "grow_pages": 80, "exit_start_epoch": 6, "stagger_epochs": 3, "run_epochs": 4}


@case("reclaim_batch_ipis", KIND,
      "Gorman, 'TLB flush multiple pages per IPI' (LKML, April 2015, merged in 4.3 as 72b252aed506): "
      "the series cut interrupts from 900K/s to 60K/s, of which batching a SWAP_CLUSTER_MAX list "
      "(patch 2) 900K -> 180K, the larger batch (patch 3) 180K -> 60K", (0.25, 2.0), "ratio",
      note="memory_pressure under linux: shootdown IPIs per simulated second, the preset's "
           "reclaim_batch (TTU_BATCH_FLUSH, 32) over page-by-page (1); the model's victims come in "
           "long runs of one mm, so it saves more than Gorman's readers of interleaved files")
def reclaim_batch_ipis(s: Setup):
    def rate(**switches) -> float:
        k = simulate(s, "linux", PRESSURE_MACHINE, PRESSURE, **switches)
        return k.counters["shootdown_ipis"] / sim_seconds(k)
    return 180 / 900, rate() / rate(reclaim_batch=1)


# tlb_flush as configs/tlb_flush_quick.toml: 4 threads of one mm, one per CPU, map, touch and
# unmap their regions 8 times: a few hundred microseconds, under one jiffy
SHORT_MACHINE = {"ncpus": 4, "phys_pages": 8192}
SHORT = {"kind": "tlb_flush", "threads": 4, "region_pages": 8, "loops": 8}


@case("global_asid_gating", KIND,
      "van Riel, 'x86/mm: Enable broadcast TLB invalidation for multi-threaded processes' (Linux 6.15): "
      "consider_global_asid runs after an IPI flush, once per 32 jiffies per task ((current->pid & "
      "0x1f) == (jiffies & 0x1f)), and only for an mm running on more than 3 CPUs", (0.95, 1.05), "ratio",
      note="linux_invlpgb, 4 threads flushing for under a jiffy: the share of their flushes sent by "
           "IPI (1: no global ASID yet)")
def global_asid_gating(s: Setup):
    k = simulate(s, "linux_invlpgb", SHORT_MACHINE, SHORT)
    c = k.counters
    return 1.0, (c["shootdown_exchanges"] - c["invlpgb_broadcasts"]) / max(1, c["shootdown_exchanges"])


# ctx_switch: 8 two-threaded processes on 4 CPUs, each remapping a region every round, so CPUs
# keep switching between mms that are being flushed
SWITCH_MACHINE = {"ncpus": 4, "phys_pages": 8192}
SWITCH = {"kind": "ctx_switch", "processes": 8, "threads": 2, "pages": 32, "region_pages": 8, "rounds": 6}


@case("mm_cpumask_trim", KIND,
      "van Riel, 'x86/mm/tlb: Only trim the mm_cpumask once a second' (6db2526c1d69, Linux 6.13): IPIs to "
      "CPUs left in mm_cpumask but no longer running the program regressed will-it-scale tlb_flush2 "
      "(0-day, -13.2%); 'the rest of the time we can skip over CPUs where the loaded_mm is different "
      "from the target mm'", (0.95, 1.1), "ratio",
      note="linux, ctx_switch: IPIs of flushes that free no page tables, the preset's mm_cpumask rule "
           "(lazy_trim) over the eager pre-6.13 mask (1: within a second none reaches a switched-away CPU)")
def mm_cpumask_trim(s: Setup):
    def ipis(**switches) -> int:
        c = simulate(s, "linux", SWITCH_MACHINE, SWITCH, **switches).counters
        return c["shootdown_ipis"] - c["ipis_freeing_tables"]
    return 1.0, ipis() / max(1, ipis(mm_cpumask="eager"))
