"""validate's INVLPGB cases: Rik van Riel's result for will-it-scale tlb_flush2_threads, that
broadcast invalidation gains nothing while the LRU lock is the bottleneck and a large share once
that lock is relieved.

van Riel, "[PATCH] AMD broadcast TLB invalidation" cover letter (v2-v7, Dec 2024 - Feb 2025,
merged for Linux 6.15), AMD Milan, 36 cores: vanilla 527k loops/s; lru_add_drain removal 731k;
only INVLPGB 527k; both 1157k. "Profiling with only the INVLPGB changes showed while TLB
invalidation went down from 40% of the total CPU time to only around 4% of CPU time, the
contention simply moved to the LRU lock."

Each case runs the model's tlb_flush2 (smpsim.experiments.workloads.tlb_flush2) with one thread on
each of 32 CPUs under `linux` and `linux_invlpgb` (the `--set policy.X=` switches laid over both)
and compares per_thread_ops. The mm is given its global ASID at its first flush (`global_asid =
first_flush`): van Riel measured the steady state of a long run, which consider_global_asid's
1-in-32-jiffies sampling reaches within milliseconds, longer than these runs last. "vanilla" is
the kernel before his "mm: remove unnecessary calls to lru_add_drain", whose unmap paths drain the
CPU's LRU-add batch (`lru_drain = "unmap"`); "lru_add_drain removal" is the presets as shipped
(`lru_drain = "fault"`, Linux 6.15+, measured on 6.18: measure/results/dontneed_split.txt).
"""

from __future__ import annotations

from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.validate.linux import simulate

KIND = "published"
SOURCE = ("van Riel, 'AMD broadcast TLB invalidation' cover letter (LKML, Dec 2024 - Feb 2025; Linux 6.15): "
          "tlb_flush2_threads on a 36-core AMD Milan, vanilla 527k loops/s, only INVLPGB 527k, "
          "lru_add_drain removal 731k, both 1157k")
MACHINE = {"ncpus": 32, "phys_pages": 16384}
TLB_FLUSH2 = {"kind": "tlb_flush2", "threads": 0, "region_pages": 16, "loops": 2}


def invlpgb_gain(s: Setup, **switches) -> float:
    """per_thread_ops under linux_invlpgb over linux, both with `switches` over the --set ones."""
    linux = simulate(s, "linux", MACHINE, TLB_FLUSH2, **switches).counters["per_thread_ops"]
    invlpgb = simulate(s, "linux_invlpgb", MACHINE, TLB_FLUSH2, global_asid="first_flush",
                       **switches).counters["per_thread_ops"]
    return invlpgb / max(1, linux)


@case("invlpgb_lru_bound", KIND, SOURCE, (0.9, 1.1), "ratio",
      note="tlb_flush2, 32 threads: per_thread_ops, linux_invlpgb over linux, with the unmap paths "
           "draining the LRU-add batch as before 6.15 (lru_drain = unmap): no gain while the LRU lock "
           "binds; fails with policy.lru_batch=0")
def invlpgb_lru_bound(s: Setup):
    return 527 / 527, invlpgb_gain(s, lru_drain="unmap")


@case("invlpgb_gain_without_lru_drain", KIND, SOURCE, (0.7, 1.5), "ratio",
      note="tlb_flush2, 32 threads, the presets as shipped (no lru_add_drain on the unmap paths, "
           "6.15+): per_thread_ops, linux_invlpgb over linux, against van Riel's 1.58x; fails with "
           "policy.shootdown=call_function")
def invlpgb_gain_without_lru_drain(s: Setup):
    return 1157 / 731, invlpgb_gain(s)
