"""The kernel decides a CPU's TLB state (pmap_activate / pmap_deactivate, x86_tlb.c) and the
Switch it sends says exactly what the CPU must flush; each design's rule is checked here."""

from __future__ import annotations

import pytest

from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.protocol import FLUSH_ALL, FLUSH_NONE, FLUSH_TAG, KERNEL, LAZY, STALE, VALID
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine import scheduler
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op
from tests.helpers import config_dict


class _Thread:
    def __init__(self, pmap):
        self.proc = type("P", (), {"pmap": pmap, "state": "running"})()


def _kernel(**policy):
    cfg = cfgmod.validate(config_dict("fork_exit", [dict(name="p", **policy)], pcids=4))
    return VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg)).k


def _pmap(k):
    return k.pmap_mod.pmap_create(1, Op("t", 0, 0, k.counters))


@pytest.mark.parametrize("pcid", [False, True])
def test_lazy_cpu_keeps_its_pmap_and_reference(pcid):
    k = _kernel(preset="netbsd5", pcid=pcid)
    v, p = k.views[0], _pmap(k)
    sw = scheduler.switch(k, v, _Thread(p), 0)
    assert (sw.pmap, sw.state, sw.flush) == (p.id, VALID, FLUSH_NONE if pcid else FLUSH_ALL)
    assert p.refs == 2 and 0 in p.pm_cpus
    sw = scheduler.switch(k, v, None, 1000)
    assert (sw.pmap, sw.tag, sw.state, sw.flush) == (p.id, p.tag, LAZY, FLUSH_NONE)
    assert p.refs == 2 and 0 in p.pm_cpus


@pytest.mark.parametrize("pcid,flush", [(False, FLUSH_ALL), (True, FLUSH_NONE)])
def test_without_lazy_tlb_an_idle_cpu_loads_pmap_kernel_at_once(pcid, flush):
    k = _kernel(preset="netbsd5", lazy_tlb="off", pcid=pcid)
    v, p = k.views[0], _pmap(k)
    scheduler.switch(k, v, _Thread(p), 0)
    sw = scheduler.switch(k, v, None, 1000)
    assert (sw.pmap, sw.state, sw.flush) == (None, KERNEL, flush)
    assert p.refs == 1 and 0 not in p.pm_cpus


def test_a_stale_cpu_flushes_before_running_the_pmap_again():
    k = _kernel(preset="netbsd5", pcid=False)
    v, p = k.views[0], _pmap(k)
    scheduler.switch(k, v, _Thread(p), 0)
    scheduler.switch(k, v, None, 1000)
    k.mark_stale(v)
    assert v.state == STALE and 0 not in p.pm_cpus
    before = k.counters["tlb_switch_flushes"]
    sw = scheduler.switch(k, v, _Thread(p), 2000)
    assert (sw.state, sw.flush) == (VALID, FLUSH_ALL) and 0 in p.pm_cpus
    assert k.counters["tlb_switch_flushes"] == before + 1


def test_with_pcids_a_stale_cpu_runs_the_pmap_under_a_fresh_pcid():
    # FreeBSD: the invalidation zeroed the pmap's pm_gen on this CPU, so its next CR3 load takes a
    # fresh PCID (pmap_pcid_alloc); the stale entries stay under the old number, unreachable
    k = _kernel(preset="netbsd5", pcid=True)
    v, p = k.views[0], _pmap(k)
    old = scheduler.switch(k, v, _Thread(p), 0).tag
    scheduler.switch(k, v, None, 1000)
    k.mark_stale(v)
    sw = scheduler.switch(k, v, _Thread(p), 2000)
    assert sw.state == VALID and sw.tag != old and 0 in p.pm_cpus
    assert k.counters["pcid_allocations"] == 2


def test_a_reused_pcid_is_flushed_before_use():
    # machine.pcids = 4: PCIDs 1..3 per CPU; the fourth pmap on CPU 0 starts a new generation and
    # takes PCID 1 again, loaded without CR3_PCID_SAVE (a flush of that PCID)
    k = _kernel(preset="seed", pcid=True)
    v = k.views[0]
    pmaps = [_pmap(k) for _ in range(4)]
    tags = [scheduler.switch(k, v, _Thread(p), 1000 * i) for i, p in enumerate(pmaps)]
    assert [sw.tag for sw in tags] == [1, 2, 3, 1]
    assert [sw.flush for sw in tags] == [FLUSH_NONE] * 3 + [FLUSH_TAG]
    assert k.counters["pcid_generations"] == 1
    sw = scheduler.switch(k, v, _Thread(pmaps[0]), 5000)     # the first pmap's PCID is of the old generation
    assert (sw.tag, sw.flush) == (2, FLUSH_TAG)


@pytest.mark.parametrize("policy", [dict(preset="linux")])
def test_a_stale_cpu_owed_a_deferred_tag_flush_flushes_once_on_return(policy):
    # a lazy CPU took a shootdown (STALE, out of pm_cpus, its entries flushed); a later update of the
    # pmap defers a flush of its tag to the CPUs outside pm_cpus, this one included: the flush the
    # CPU makes on return covers both (with FreeBSD's PCIDs it takes a fresh PCID instead: above)
    k = _kernel(**policy)
    v, p = k.views[0], _pmap(k)
    scheduler.switch(k, v, _Thread(p), 0)
    scheduler.switch(k, v, None, 1000)
    k.mark_stale(v)
    k.tags.defer_flushes([p], 1)
    before = k.counters["tlb_switch_flushes"]
    sw = scheduler.switch(k, v, _Thread(p), 2000)
    assert (sw.state, sw.flush) == (VALID, FLUSH_TAG)
    assert k.counters["tlb_switch_flushes"] == before + 1
