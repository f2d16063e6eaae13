"""fork as UVM does it: copy-on-write sharing, write-protection of the parent, exec replacing the
vmspace, and what fork_exit / fork_exec_exit report per fork."""

from __future__ import annotations

from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import fork, uvm
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op
from tests.helpers import config_dict, run_inline


def _kernel():
    cfg = cfgmod.validate(config_dict("fork_exit"))
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg), check=True)
    vm.start()
    return vm.k


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
    fork.uvmspace_fork(k, op, parent, "child", [1])
    assert all("w" not in pte.prot for _, pte in parent.pmap.valid_ptes())
    assert k.counters["fork_protect_ptes"] == 8 == k.counters["pte_atomic_updates"] - before
    # after the child, the parent's write re-enables access without a copy
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
