"""Linux 6.13+ (issue 20 item 5): the mm_cpumask rules (eager before 6.13, lazy since 209954cbc7d0,
trimmed once a second since 6db2526c1d69), which CPUs a flush interrupts under each, batched reclaim
by default, consider_global_asid's gating and TLBSYNC growing with sockets."""

from __future__ import annotations

from collections import Counter

import pytest

from smpsim.costs import CostModel
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.protocol import LAZY, VALID
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import design
from smpsim.vm.engine import scheduler
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.jiffies import HZ
from smpsim.vm.locks import Op
from tests.helpers import config_dict, run_inline

SECOND = 2_500_000_000          # cycles at the default 2.5 GHz


class _Thread:
    def __init__(self, pmap):
        self.proc = type("P", (), {"pmap": pmap, "state": "running"})()


def _kernel(**policy):
    cfg = cfgmod.validate(config_dict("fork_exit", [dict(name="p", preset="linux", **policy)]))
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()                                   # the CPUs (the workload's operations stay queued)
    return vm.k


def _setup(rule):
    """cpu0 runs A, cpu1 ran A and now runs B, cpu2 holds A lazily; cpu3 will flush A."""
    k = _kernel(mm_cpumask=rule)
    a, b = (k.pmap_mod.pmap_create(1, Op("t", 0, 0, k.counters)) for _ in range(2))
    for cpu in (0, 1, 2):
        scheduler.switch(k, k.views[cpu], _Thread(a), 0)
    scheduler.switch(k, k.views[1], _Thread(b), 10)
    scheduler.switch(k, k.views[2], None, 10)
    return k, a


def _targets(k, a, frees=False, now=0, no_mm=False):
    views = [k.views[c] for c in sorted(a.pm_cpus - {3})]
    return k.lazy.ipi_targets(views, [a], frees, now, no_mm)


@pytest.mark.parametrize("rule,in_mask,writes", [("eager", False, 5), ("lazy", True, 4), ("lazy_trim", True, 4)])
def test_a_cpu_that_switches_away_leaves_the_mask_only_before_6_13(rule, in_mask, writes):
    k, a = _setup(rule)
    assert (1 in a.pm_cpus) is in_mask
    assert k.views[2].state == LAZY and 2 in a.pm_cpus          # lazy: still loaded, in every rule
    assert k.counters["mm_cpumask_writes"] == writes             # eager: a set and a clear per switch


def test_which_cpus_a_flush_interrupts_under_each_rule():
    k, a = _setup("eager")
    assert _targets(k, a) == [0] and _targets(k, a, frees=True) == [0, 2]
    k, a = _setup("lazy")
    assert _targets(k, a) == [0, 1]                              # tlb_is_not_lazy: the switched-away cpu too
    assert _targets(k, a, frees=True) == [0, 1, 2]               # freed_tables: the whole mask
    k, a = _setup("lazy_trim")
    assert _targets(k, a) == [0]                                 # should_flush_tlb skips cpu1 ...
    assert _targets(k, a, frees=True) == [0, 1, 2]
    assert _targets(k, a, no_mm=True) == [0, 1]                  # ... but not in a flush with no mm


def test_the_trim_fires_at_the_first_flush_after_a_second_of_jiffies_then_a_second_later():
    k, a = _setup("lazy_trim")
    tick = SECOND // HZ
    assert _targets(k, a, now=SECOND) == [0]                     # jiffies == next_trim: not time_after
    assert _targets(k, a, now=SECOND + tick) == [0, 1]           # one jiffy later it trims
    assert k.counters["mm_cpumask_trims"] == 1
    assert _targets(k, a, now=SECOND + 2 * tick) == [0]          # next_trim moved to jiffies + HZ
    assert _targets(k, a, now=2 * SECOND + 2 * tick) == [0, 1]


def test_a_flush_that_reaches_a_switched_away_cpu_clears_its_bit_without_flushing_it():
    k, a = _setup("lazy")
    before = k.views[1].seen_gen.get(a.id)
    k.views[3].curpmap = None
    k.shootdown.shootnow([a], ((a.tag, 5),), Op("munmap", 3, 100, k.counters), "munmap")
    assert 1 not in a.pm_cpus and k.counters["ipis_to_switched_away"] == 1
    assert k.views[1].seen_gen.get(a.id) == before              # not current: it flushes when it comes back


def _tlb_flush(loops, threads=4, **policy):
    wl = {"kind": "tlb_flush", "threads": threads, "region_pages": 8, "loops": loops}
    pol = dict(name="p", preset="linux_invlpgb", **policy)
    _, res, events = run_inline(config_dict(wl, [pol]), check=False)
    return Counter(res["counters"]), events       # a design counter never moved is absent: 0


def test_consider_global_asid_waits_for_the_tasks_jiffy_and_more_than_3_running_cpus():
    short, _ = _tlb_flush(8)                                     # under a jiffy: never the tasks' jiffy
    assert short["global_asid_considered"] > 0 and short["global_asids_assigned"] == 0
    assert short["invlpgb_broadcasts"] == 0 and short["shootdown_ipis"] > 0
    eager, _ = _tlb_flush(8, global_asid="first_flush")          # the old rule: at the first flush
    assert eager["global_asids_assigned"] == 1 and eager["shootdown_ipis"] == 0
    long, _ = _tlb_flush(200)                                    # a few jiffies: a thread's pid matches
    assert long["global_asids_assigned"] == 1 and 0 < long["invlpgb_broadcasts"] < long["shootdown_exchanges"]
    two, _ = _tlb_flush(200, threads=2)                          # 2 CPUs: mm_active_cpus_exceeds(mm, 3) fails
    assert two["global_asids_assigned"] == 0 and two["invlpgb_broadcasts"] == 0


def test_tlbsync_waits_longer_on_more_sockets():
    def broadcast_cycles(sockets):
        wl = {"kind": "tlb_flush", "threads": 4, "region_pages": 8, "loops": 2}
        pol = {"name": "p", "preset": "linux_invlpgb", "global_asid": "first_flush"}
        _, _, events = run_inline(config_dict(wl, [pol], sockets=sockets), check=False)
        return sorted({e["cycles"] for e in events if e["event"] == "shootdown" and e.get("broadcast")})
    one, two = broadcast_cycles(1), broadcast_cycles(2)
    extra = CostModel().tlbsync_remote_socket
    # the cheapest broadcast (the same one-range INVLPGB on both machines) pays one more socket's share
    assert one and two and min(two) == min(one) + extra


def test_linux_reclaims_a_swap_cluster_per_flush_and_the_flush_has_no_mm():
    assert design.preset_row("linux")["reclaim_batch"] == design.preset_row("linux_invlpgb")["reclaim_batch"] == 32
    assert design.preset_row("linux")["mm_cpumask"] == "lazy_trim"
    assert design.preset_row("netbsd5")["reclaim_batch"] == 1 and design.preset_row("netbsd5")["mm_cpumask"] == "eager"
    wl = {"kind": "memory_pressure", "processes": 4, "pages": 256, "entries": 8, "growers": 2, "grow_pages": 80,
          "exit_start_epoch": 6, "stagger_epochs": 3, "run_epochs": 4}
    data = config_dict(wl, ["linux"], ncpus=6, phys_pages=2560, freemin=128, freetarg=256)
    _, res, events = run_inline(data, check=False)
    reasons = {e["reason"] for e in events if e["event"] == "shootdown"}
    assert res["counters"]["reclaim_batches"] > 0 and "reclaim_batch" in reasons and "pagedaemon" not in reasons
