"""Copy-on-write on whichever side writes first (smpsim.vm.cow): the parent's write to a page a
live child still sees copies it and leaves the original to the child (or to its children); a
write to a page nobody else sees reuses it; and Linux's fork ends with flush_tlb_mm, which
reaches every CPU in the parent's mm_cpumask (freed_tables), clearing the switched-away ones."""

from __future__ import annotations

from smpsim.vm import checker, fork, uvm
from smpsim.vm.locks import Op
from tests.helpers import fork_kernel

VA = 1 << 18


def _kernel(policy="netbsd5", **switches):
    return fork_kernel(policy, **switches)


def _parent(k, pages=8):
    op = Op("spawn", 0, 0, k.counters)
    parent = uvm.spawn(k, op, "parent", [0])
    uvm.uvm_map(k, op, parent, VA, pages, prefault=pages, touch=True)
    return parent, op


def _written_parent():
    """A kernel and a parent that has written its pages: (k, parent, op, frame at VA)."""
    k = _kernel()
    parent, op = _parent(k)
    return k, parent, op, parent.pmap.pte(VA).frame


def _exit(k, op, proc):
    proc.state = "exiting"
    uvm.exit_teardown(k, op, proc)


def test_the_parents_write_copies_a_page_its_child_still_sees_and_the_child_keeps_the_original():
    k, parent, op, original = _written_parent()
    k.pmap_mod.pmap_activate(k.views[0], parent.pmap, op)
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    flushes = k.counters["local_flushes"]
    fork.touch(k, op, parent, VA, 1, write=True)
    mine = parent.pmap.pte(VA)
    assert mine.frame != original and "w" in mine.prot
    assert k.counters["cow_faults"] == k.counters["pages_copied"] == 1
    assert k.counters["local_flushes"] == flushes + 1        # the read-only PTE was replaced
    fork.touch(k, op, child, VA, 1, write=False)
    assert child.pmap.pte(VA).frame == original              # not the parent's new copy
    fork.touch(k, op, child, VA, 1, write=True)              # only the child has it now: reuse
    assert child.pmap.pte(VA).frame == original and "w" in child.pmap.pte(VA).prot
    assert k.counters["pages_copied"] == 1
    checker.check_all(k)
    _exit(k, op, child)
    assert original not in k.phys.owner                      # freed with the child's amap
    checker.check_all(k)


def test_a_page_the_child_has_already_copied_is_the_parents_alone():
    k, parent, op, original = _written_parent()
    child = fork.uvmspace_fork(k, op, parent, "child", [1])
    fork.touch(k, op, child, VA, 1, write=True)
    assert k.counters["pages_copied"] == 1
    fork.touch(k, op, parent, VA, 1, write=True)
    assert parent.pmap.pte(VA).frame == original and k.counters["pages_copied"] == 1
    checker.check_all(k)


def test_two_children_share_the_original_until_the_last_takes_it_over():
    k, parent, op, original = _written_parent()
    first = fork.uvmspace_fork(k, op, parent, "first", [1])
    second = fork.uvmspace_fork(k, op, parent, "second", [1])
    fork.touch(k, op, parent, VA, 2, write=True)             # two pages, one shared source
    assert k.counters["pages_copied"] == 2
    assert first.map.entries[0].backing is second.map.entries[0].backing      # one source for both pages
    fork.touch(k, op, first, VA, 1, write=False)
    fork.touch(k, op, second, VA, 1, write=False)
    assert first.pmap.pte(VA).frame == second.pmap.pte(VA).frame == original
    fork.touch(k, op, first, VA, 1, write=True)              # its sibling still sees it: copy
    assert first.pmap.pte(VA).frame != original and k.counters["pages_copied"] == 3
    fork.touch(k, op, second, VA, 1, write=True)             # the last one: reuse
    assert second.pmap.pte(VA).frame == original and k.counters["pages_copied"] == 3
    checker.check_all(k)
    _exit(k, op, first)
    _exit(k, op, second)
    checker.check_all(k)
    assert not [o for o in k.objects.values() if o.spill]    # the shared source went with them


def test_linux_fork_flush_reaches_and_trims_a_cpu_that_switched_away():
    k = _kernel("linux", mm_cpumask="lazy_trim")
    parent, op = _parent(k)
    other = uvm.spawn(k, op, "other", [1])
    cpu1 = k.views[1]
    k.pmap_mod.pmap_activate(cpu1, parent.pmap, op)          # cpu1 ran the parent,
    k.pmap_mod.pmap_activate(cpu1, other.pmap, op)           # then another mm: its bit stays
    assert 1 in parent.pmap.pm_cpus and k.lazy.switched_away(cpu1, [parent.pmap])
    fork.uvmspace_fork(k, op, parent, "child", [0])
    assert 1 not in parent.pmap.pm_cpus                      # flush_tlb_mm: freed_tables, bit cleared
    assert k.counters["ipis_freeing_tables"] == 1
