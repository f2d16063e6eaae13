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


@pytest.mark.parametrize("pcid,flush", [(False, FLUSH_ALL), (True, FLUSH_TAG)])
def test_a_stale_cpu_flushes_before_running_the_pmap_again(pcid, flush):
    k = _kernel(preset="netbsd5", pcid=pcid)
    v, p = k.views[0], _pmap(k)
    scheduler.switch(k, v, _Thread(p), 0)
    scheduler.switch(k, v, None, 1000)
    k.mark_stale(v)
    assert v.state == STALE and 0 not in p.pm_cpus
    before = k.counters["tlb_switch_flushes"]
    sw = scheduler.switch(k, v, _Thread(p), 2000)
    assert (sw.state, sw.flush) == (VALID, flush) and 0 in p.pm_cpus
    assert k.counters["tlb_switch_flushes"] == before + 1


def test_a_reused_pcid_is_flushed_before_use():
    k = _kernel(preset="seed", pcid=True)
    v = k.views[0]
    a = _pmap(k)
    scheduler.switch(k, v, _Thread(a), 0)
    b = _pmap(k)
    assert scheduler.switch(k, v, _Thread(b), 1000).flush == FLUSH_NONE    # a fresh PCID
    k.tags.release(a)                       # a's PCID goes back to the pool...
    c = _pmap(k)
    c.tag = a.tag                           # ...and is handed to c
    sw = scheduler.switch(k, v, _Thread(c), 2000)
    assert (sw.tag, sw.flush) == (a.tag, FLUSH_TAG)


@pytest.mark.parametrize("policy", [dict(preset="netbsd5", pcid=True), dict(preset="seed", pcid=True),
                                    dict(preset="linux")])
def test_a_stale_cpu_owed_a_deferred_tag_flush_flushes_once_on_return(policy):
    # a lazy CPU took a shootdown (STALE, out of pm_cpus, its entries flushed); a later update of the
    # pmap defers a flush of its tag to the CPUs outside pm_cpus, this one included: the flush the
    # CPU makes on return covers both
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
