"""validate's Linux 6.13+ cases: batched reclaim, consider_global_asid's gating and the lazy
mm_cpumask, each a small inline simulation under the `linux` or `linux_invlpgb` preset (with
`--set policy.X=` applied), each failing when its mechanism is switched off:

- `reclaim_batch_ipis` (Gorman, 2015): batched reclaim sends far fewer IPIs per second than
  page-by-page unmapping; off with `--set policy.reclaim_batch=1`.
- `global_asid_gating` (van Riel, 2025): a short-lived mm flushed from 4 CPUs keeps IPI flushes,
  because consider_global_asid samples a task once per 32 jiffies; off with
  `--set policy.global_asid=first_flush`.
- `tlb_flush2_lazy_cpumask`, `tlb_flush2_trim` (the 0-day robot, 2024): will-it-scale tlb_flush2's
  per_thread_ops under the lazy mm_cpumask against the eager one; off with
  `--set policy.mm_cpumask=eager`. They need the `tlb_flush2` workload and are registered only
  where it exists.
"""

from __future__ import annotations

from smpsim.experiments import config as cfgmod
from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.workloads import WORKLOADS, make_workload
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


# will-it-scale tlb_flush2 in threads mode, one thread per CPU, as the 0-day robot ran it
# (runtest.py tlb_flush2 295 thread 0 0 104: 104 threads on a 2-socket Skylake), scaled down
TLB_FLUSH2_MACHINE = {"ncpus": 8, "sockets": 2, "phys_pages": 8192}
TLB_FLUSH2 = {"kind": "tlb_flush2", "threads": 8, "region_pages": 16, "loops": 2}
ZERO_DAY = ("0-day robot (Oliver Sang), '[tip:x86/mm] [x86/mm/tlb] 209954cbc7: will-it-scale.per_thread_ops "
            "13.2% regression' (LKML, 28 Nov 2024; tlb_flush2, 104 threads, lkp-skl-fpga01)")


def per_thread_ops(s: Setup, **switches) -> float:
    return simulate(s, "linux", TLB_FLUSH2_MACHINE, TLB_FLUSH2, **switches).counters["per_thread_ops"]


if "tlb_flush2" in WORKLOADS:
    @case("tlb_flush2_lazy_cpumask", KIND, ZERO_DAY + ": 7276 -> 6315 per_thread_ops (-13.2%)",
          (0.93, 1.07), "ratio",
          note="linux: per_thread_ops with the lazy mm_cpumask and no trim (209954cbc7d0) over the "
               "eager one; the preset's rule unless --set policy.mm_cpumask=")
    def tlb_flush2_lazy_cpumask(s: Setup):
        rule = s.switches.get("mm_cpumask", "lazy")
        return 6315 / 7276, per_thread_ops(s, mm_cpumask=rule) / per_thread_ops(s, mm_cpumask="eager")

    @case("tlb_flush2_trim", KIND, ZERO_DAY.replace("28 Nov", "6 Dec") + ": with the once-a-second trim "
          "(v4, 852ff7f2f7, merged as 6db2526c1d69) 6191 per_thread_ops (-14.9%): not recovered on that "
          "machine", (0.93, 1.07), "ratio",
          note="linux: per_thread_ops with the preset's rule (lazy_trim) over the eager one")
    def tlb_flush2_trim(s: Setup):
        return 6191 / 7276, per_thread_ops(s) / per_thread_ops(s, mm_cpumask="eager")
