"""fork per kernel: copy-on-write sharing, write-protection of the parent, the PTE copy of
FreeBSD's pmap_copy and Linux's copy_page_range (and the child's exit zapping it), nested forks
through chains of copy-on-write sources, exec replacing the vmspace, and what fork_exit /
fork_exec_exit / shell report per fork."""

from __future__ import annotations

import pytest

from smpsim.vm import checker, fork, uvm
from smpsim.vm.locks import Op
from tests.helpers import config_dict, fork_kernel, run_inline


def _kernel(policy="netbsd5"):
    return fork_kernel(policy)


def _parent(k, pages=8):
    op = Op("spawn", 0, 0, k.counters)
    parent = uvm.spawn(k, op, "parent", [0])
    uvm.uvm_map(k, op, parent, 1 << 18, pages, prefault=pages)
    return parent, op


def test_children_share_the_parents_pages_until_they_write():
    k = _kernel()
    parent, op = _parent(k)
    va = 1 << 18
    pframe = parent.pmap.pte(va).frame
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    assert child.pmap.resident == 0                       # the child maps nothing until it faults
    fork.touch(k, op, child, va, 2, write=False)
    assert child.pmap.pte(va).frame == pframe and "w" not in child.pmap.pte(va).prot
    assert k.counters["cow_read_shares"] == 2 and k.counters["pages_copied"] == 0
    fork.touch(k, op, child, va, 1, write=True)
    copy = child.pmap.pte(va)
    assert copy.frame != pframe and "w" in copy.prot
    assert k.counters["cow_faults"] == 1 and k.counters["pages_copied"] == 1
    assert parent.pmap.pte(va).frame == pframe            # the parent keeps its page


def test_the_parents_writable_pages_are_write_protected_at_fork():
    k = _kernel()
    parent, op = _parent(k, pages=8)
    before = k.counters["pte_atomic_updates"]
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    assert all("w" not in pte.prot for _, pte in parent.pmap.valid_ptes())
    assert k.counters["fork_protect_ptes"] == 8 == k.counters["pte_atomic_updates"] - before
    # once the child has gone, the parent's write re-enables access without a copy
    child.state = "exiting"
    uvm.exit_teardown(k, op, child)
    fork.touch(k, op, parent, 1 << 18, 1, write=True)
    assert "w" in parent.pmap.pte(1 << 18).prot and k.counters["pages_copied"] == 0


def test_exec_replaces_the_vmspace_and_the_old_one_is_torn_down():
    k = _kernel()
    parent, op = _parent(k)
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    old = child.pmap
    holder = fork.uvmspace_exec(k, op, child, "child.old")
    assert child.pmap is not old and holder.pmap is old and old.owner == holder.pid
    uvm.exit_teardown(k, op, holder)
    assert old.refs == 0 and old.id not in k.pmaps        # no CPU had it loaded


def _fork_run(kind, parent_threads=1, policy="netbsd5"):
    d = config_dict({"kind": kind, "iterations": 3, "pages": 64, "entries": 2, "child_pages": 16,
                     "child_writes": 4, "parent_writes": 16, "parent_threads": parent_threads},
                    policies=(policy,))
    return run_inline(d)[1]["counters"]


def test_fork_exit_reports_plausible_per_fork_work():
    c = _fork_run("fork_exit")
    forks = c["forks"]
    assert forks == 12 and c["exits"] == 12
    assert c["pages_copied"] == c["cow_faults"] == 4 * forks          # child_writes per fork
    assert c["cow_read_shares"] > 0
    # the first fork of each parent protects its whole image, the others what it wrote again
    assert c["fork_protect_ptes"] == 4 * 64 + 8 * 16
    assert c["shootdown_exchanges"] == 0 and c["local_flushes"] > 0   # one thread: a local flush only
    assert c["pages_allocated"] < forks * 64                           # no child zero-fills the image


def test_a_parent_running_elsewhere_takes_fork_shootdowns():
    c = _fork_run("fork_exit", parent_threads=2)
    assert c["shootdown_exchanges"] > 0


def test_fork_exec_exit_execs_and_tears_the_old_vmspace_down():
    c = _fork_run("fork_exec_exit")
    assert c["execs"] == c["forks"] == 12
    assert c["pmaps_destroyed"] >= 2 * 12                 # each child's pre-exec and post-exec pmaps


def test_pmap_copy_gives_the_child_the_parents_ptes_read_only_with_pv_entries():
    k = _kernel("freebsd")
    parent, op = _parent(k, pages=8)
    lib = uvm.make_object(k, "lib.so", shared=True)
    uvm.uvm_map(k, op, parent, 2 << 18, 4, lib, prot="rx", prefault=4)
    inserts = k.counters["pv_inserts"]
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    assert child.pmap.resident == parent.pmap.resident == 12          # shared entries too (vmspace_fork)
    assert k.counters["fork_ptes_copied"] == 12 and k.counters["pv_inserts"] - inserts == 12
    for va, pte in child.pmap.valid_ptes():
        assert pte.frame == parent.pmap.pte(va).frame and "w" not in pte.prot and not pte.ref   # PG_A cleared
    checker.check_all(k)


def test_copy_page_range_copies_private_ptes_write_protects_both_sides_and_flushes_the_parents_mm():
    k = _kernel("linux")
    parent, op = _parent(k, pages=8)
    lib = uvm.make_object(k, "lib.so", shared=True)
    uvm.uvm_map(k, op, parent, 2 << 18, 4, lib, prot="rx", prefault=4)
    updates = []
    real_update = k.pmap_mod.pmap_update
    k.pmap_mod.pmap_update = lambda pmap, o, reason: (updates.append((pmap, reason, pmap.packet.full)),
                                                      real_update(pmap, o, reason))
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    assert child.pmap.resident == 8                                   # the library's text is not copied
    assert child.pmap.pte(2 << 18) is None and k.counters["fork_ptes_copied"] == 8
    assert all("w" not in pte.prot for _, pte in parent.pmap.valid_ptes())
    assert all("w" not in pte.prot for _, pte in child.pmap.valid_ptes())
    assert updates == [(parent.pmap, "fork", True)]                   # one flush_tlb_mm of the parent
    checker.check_all(k)


@pytest.mark.parametrize("policy", ["netbsd5", "freebsd", "linux"])
def test_the_childs_exit_zaps_what_it_was_given_and_leaves_the_parents_pages(policy):
    k = _kernel(policy)
    parent, op = _parent(k, pages=8)
    frames = {va: pte.frame for va, pte in parent.pmap.valid_ptes()}
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    fork.touch(k, op, child, 1 << 18, 2, write=False)
    freed = k.counters["pages_freed"]
    uvm.exit_teardown(k, Op("teardown", 0, op.t, k.counters), child)
    assert child.pmap.resident == 0 and k.counters["pages_freed"] == freed
    assert {va: pte.frame for va, pte in parent.pmap.valid_ptes()} == frames
    checker.check_all(k)


def _exit_cycles(policy, pages):
    k = _kernel(policy)
    parent, op = _parent(k, pages=pages)
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    top = Op("teardown", 0, op.t, k.counters)
    uvm.exit_teardown(k, top, child)
    return top.t - top.start


def test_linuxs_child_exit_grows_per_page_and_netbsds_does_not():
    assert _exit_cycles("netbsd10", 256) == _exit_cycles("netbsd10", 8)        # its child mapped nothing
    assert _exit_cycles("linux", 256) - _exit_cycles("linux", 8) > 248 * 100   # zap + rmap drop per page


@pytest.mark.parametrize("policy", ["netbsd5", "seed", "freebsd", "linux"])
def test_a_child_forking_before_exec_resolves_faults_through_the_chain(policy):
    k = _kernel(policy)
    parent, op = _parent(k, pages=8)
    va = 1 << 18
    pframe = parent.pmap.pte(va + 1).frame
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    fork.touch(k, op, child, va, 1, write=True)                      # the child's own copy of page 0
    cframe = child.pmap.pte(va).frame
    grandchild = fork.uvmspace_fork(k, op, child, "grandchild", [1])
    entry = grandchild.map.lookup(va)
    assert entry.sources() == (child.map.lookup(va).obj, parent.map.lookup(va).obj)
    fork.touch(k, op, grandchild, va, 2, write=False)
    assert grandchild.pmap.pte(va).frame == cframe                    # found in the child's amap
    assert grandchild.pmap.pte(va + 1).frame == pframe                # found behind it, in the parent's
    fork.touch(k, op, grandchild, va + 1, 1, write=True)
    assert grandchild.pmap.pte(va + 1).frame not in (pframe, cframe)
    checker.check_all(k)
    for proc in (grandchild, child):
        uvm.exit_teardown(k, Op("teardown", 0, op.t, k.counters), proc)
        checker.check_all(k)
    assert parent.pmap.pte(va + 1).frame == pframe


def test_a_source_outlives_its_owner_until_its_last_copy_goes():
    k = _kernel()
    parent, op = _parent(k, pages=4)
    va = 1 << 18
    pframe = parent.pmap.pte(va).frame
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    uvm.exit_teardown(k, Op("teardown", 0, op.t, k.counters), parent)
    assert pframe in k.phys.owner                                     # still the child's source
    fork.touch(k, op, child, va, 1, write=False)
    assert child.pmap.pte(va).frame == pframe
    checker.check_all(k)
    freed = k.counters["pages_freed"]
    uvm.exit_teardown(k, Op("teardown", 0, op.t, k.counters), child)
    assert k.counters["pages_freed"] - freed == 4 and pframe not in k.phys.owner
    checker.check_all(k)


@pytest.mark.parametrize("policy", ["netbsd5", "seed", "netbsd10", "freebsd", "linux", "linux_invlpgb"])
def test_the_shell_workload_runs_under_every_preset(policy):
    d = config_dict({"kind": "shell", "iterations": 2, "pages": 32, "entries": 2, "child_pages": 8,
                     "child_writes": 2, "parent_writes": 8, "libs": 1, "lib_pages": 8},
                    policies=(policy,), ncpus=2)
    c = run_inline(d)[1]["counters"]                                  # the checker runs throughout
    assert c["execs"] == 4 and c["forks"] == 8 and c["exits"] == 8
