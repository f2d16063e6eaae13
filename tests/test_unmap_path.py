"""The unmap path (issue 20 items 3 and 4): the reader/writer address-space lock, madvise per
kernel, the shared zero page, the fixed syscall cost and the tlb_flush2 workload."""

from __future__ import annotations

import pytest

from smpsim.costs import CostModel
from smpsim.experiments import config as cfgmod
from smpsim.experiments.validate import Setup
from smpsim.experiments.validate.unmap import DATA, run_probe
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.counters import Counters
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op, SimRwLock
from smpsim.vm.operations import Madvise, Mmap, Scheduled, Touch
from smpsim.vm.physmem import KERNEL

KEYS = ("shootdown_invlpg", "shootdown_full_flushes", "shootdown_ipis", "pmap_invalidate_all",
        "madvise_pages_freed", "pages_deactivated", "pages_freed")


# --- the reader/writer lock --------------------------------------------------------------------
def _op(t, cpu=0):
    return Op("x", cpu, t, Counters(), "munmaps")


def test_readers_share_and_a_writer_waits_for_them_and_they_for_it():
    rw = SimRwLock("mm", "mmap")
    a, b = _op(0), _op(10, 1)
    a.acquire(rw.read, 0, "other")
    a.spend(100)
    a.release(rw.read)                 # read hold [0, 100)
    assert b.acquire(rw.read, 0, "other") == 0            # readers overlap
    b.release(rw.read)
    w = _op(50)
    assert w.acquire(rw.write, 0, "other") == 50           # a writer waits for the readers
    w.spend(200)
    w.release(rw.write)                # write hold [100, 300)
    r = _op(150)
    assert r.acquire(rw.read, 0, "other") == 150           # a reader waits for the writer
    assert r.counters["mmap_lock_wait_cycles"] == 150


def test_a_downgrade_lets_readers_in_but_not_writers():
    rw = SimRwLock("mm", "mmap")
    m = _op(0)
    m.acquire(rw.write, 0, "other")
    m.spend(10)
    m.downgrade(rw)                    # write [0, 10), read from 10
    m.spend(1000)
    m.release(rw.read)
    assert _op(20).acquire(rw.read, 0, "other") == 0
    assert _op(20).acquire(rw.write, 0, "other") == 990


def test_first_come_first_served_a_reader_queues_behind_a_waiting_writer():
    rw = SimRwLock("mm", "map")
    r1 = _op(0)
    r1.acquire(rw.read, 0, "other")
    r1.spend(100)
    r1.release(rw.read)                # read [0, 100)
    w = _op(50, 1)
    assert w.acquire(rw.write, 0, "other") == 50
    w.spend(100)
    w.release(rw.write)                # arrived at 50, write [100, 200)
    assert _op(60, 2).acquire(rw.read, 0, "other") == 140      # behind the waiting writer
    late = _op(250, 3)
    late.acquire(rw.read, 0, "other")
    late.spend(1000)
    late.release(rw.read)              # a reader arriving after the writer left
    assert late.counters["map_lock_wait_cycles"] == 0


# --- madvise per kernel -------------------------------------------------------------------------
def _madvise(preset, n, advice="dontneed", switches=None):
    """madvise(advice) of the first n pages of a 1 MB touched mapping, the mm loaded on 2 CPUs,
    then a read of them: (counter deltas of the madvise, faults of the read, zero pages mapped)."""
    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, 256, prefault=256, touch=True, ctx="m"))]

    def follow(w, op, t, proc):
        c = w.k.counters
        w.marks[type(op).__name__] = dict(c)
        if isinstance(op, Mmap):
            return [Scheduled(t, 0, Madvise(proc.pid, DATA, n, advice))]
        if isinstance(op, Madvise):
            return [Scheduled(t, 0, Touch(proc.pid, DATA, n, False))]
        return None
    m = run_probe(Setup(switches=switches or {}), script, follow, preset=preset, check=True).marks
    b, a, r = m["Mmap"], m["Madvise"], m["Touch"]
    return ({k: a.get(k, 0) - b.get(k, 0) for k in KEYS}, r["page_faults"] - a["page_faults"],
            r.get("zero_page_maps", 0) - a.get("zero_page_maps", 0))


@pytest.mark.parametrize("n,invlpg,full", [(1, 1, 0), (33, 33, 0), (34, 0, 1), (64, 0, 1)])
def test_linux_dontneed_zaps_frees_and_flushes_by_the_33_page_rule_then_reads_the_zero_page(n, invlpg, full):
    d, faults, zero = _madvise("linux", n)
    assert d["madvise_pages_freed"] == d["pages_freed"] == n
    assert d["shootdown_ipis"] == 1
    assert d["shootdown_invlpg"] == 2 * invlpg and d["shootdown_full_flushes"] == full   # both CPUs
    assert faults == zero == n


def test_freebsd_dontneed_keeps_pages_and_mappings_and_invalidates_all():
    d, faults, zero = _madvise("freebsd", 1)
    assert d["pages_freed"] == 0 and d["pages_deactivated"] == 1
    assert d["pmap_invalidate_all"] == 1 and d["shootdown_full_flushes"] == 1
    assert faults == 0


def test_netbsd_dontneed_only_deactivates_and_free_discards():
    d, faults, _ = _madvise("netbsd10", 8)
    assert d["pages_deactivated"] == 8 and d["shootdown_ipis"] == 0 and d["pages_freed"] == 0 and faults == 0
    d, faults, _ = _madvise("netbsd10", 4, "free")
    assert d["madvise_pages_freed"] == d["pages_freed"] == 4 and faults == 4


def test_linux_free_clears_the_accessed_bits_and_flushes_but_keeps_the_pages():
    d, faults, _ = _madvise("linux", 4, "free")
    assert d["pages_freed"] == 0 and d["shootdown_invlpg"] == 8 and faults == 0


def test_an_unknown_advice_is_refused():
    with pytest.raises(ValueError, match="advice"):
        Madvise(1, 0, 1, "willneed")


# --- the zero page ---------------------------------------------------------------------------------
def test_the_zero_page_is_one_kernel_frame_never_freed_with_no_pv_entry():
    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, 8, ctx="m"))]

    def follow(w, op, t, proc):
        if isinstance(op, Mmap):
            return [Scheduled(t, 0, Touch(proc.pid, DATA, 8, False, ctx="read"))]
        if op.ctx == "read":
            k = w.k
            frames = {proc.pmap.pte(va).frame for va in range(DATA, DATA + 8)}
            assert frames == {k.zero_page.frame} and k.phys.kind[k.zero_page.frame] == KERNEL
            assert not k.pv.page_entries(k.zero_page.frame)
            assert all(proc.pmap.pte(va).prot == "r" for va in range(DATA, DATA + 8))
            return [Scheduled(t, 0, Touch(proc.pid, DATA, 4, True, ctx="write"))]
        w.marks["copies"] = w.k.counters["zero_page_copies"]
        w.marks["zero"] = w.k.zero_page.frame
        w.marks["k"] = w.k
        return None
    m = run_probe(Setup(), script, follow, check=True).marks
    assert m["copies"] == 4
    assert m["k"].phys.kind[m["zero"]] == KERNEL          # after the exit freed everything else


# --- syscalls and tlb_flush2 -------------------------------------------------------------------------
def _tlb_flush2(preset, **costs):
    cfg = cfgmod.validate({"name": "t", "machine": {"ncpus": 2, "phys_pages": 4096},
                           "costs": CostModel(**costs).model_dump(), "policies": [{"name": preset}],
                           "workload": {"kind": "tlb_flush2", "threads": 2, "region_pages": 8, "loops": 2}})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg), check=True)
    vm.start()
    while not vm.step(16).done:
        pass
    return vm.k


@pytest.mark.parametrize("preset", ["netbsd5", "freebsd", "linux"])
def test_tlb_flush2_runs_write_madvise_read_per_page_and_reports_per_thread_ops(preset):
    k = _tlb_flush2(preset)
    c = k.counters
    assert c["ops"] == 2 * 8 * 2 and c["madvises"] == 32 and c["per_thread_ops"] > 0
    assert c["syscalls"] == 1 + 2 * 2 * (1 + 8 + 1) + 1     # spawn; per loop mmap, 8 madvises, munmap; exit
    assert c["map_lock_acquires"] + c["mmap_lock_acquires"] > 0


def test_every_syscall_is_charged_its_fixed_cost():
    with_cost, free = _tlb_flush2("linux"), _tlb_flush2("linux", syscall=0)
    n = with_cost.counters["syscalls"]
    assert sum(with_cost.cycles.values()) - sum(free.cycles.values()) >= n * CostModel().syscall * 0.9


@pytest.mark.parametrize("preset,object_locked", [("netbsd10", True), ("freebsd", True), ("linux", False)])
def test_a_fault_takes_the_object_lock_except_on_linux(preset, object_locked):
    """UVM's amap_lock and FreeBSD's VM_OBJECT_WLOCK are taken by every fault; a Linux anonymous
    fault takes only the split PTE lock, so the object lock is never acquired by its faults."""
    c = _tlb_flush2(preset).counters
    assert c["page_faults"] > 0
    if object_locked:
        assert c["object_lock_acquires"] >= c["page_faults"]
    else:
        assert c["object_lock_acquires"] == 0
