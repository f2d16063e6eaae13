"""fork and exec: uvmspace_fork with each kernel's PTE handling, copy-on-write, nested forks, exec.

Models sys/uvm/uvm_map.c `uvmspace_fork` (with `uvm_mapent_forkshared` /
`uvm_mapent_forkcopy`) and the copy-on-write path of sys/uvm/uvm_fault.c
(`uvm_fault_upper` / `uvmfault_promote`); what fork does to the PTEs is the
design's `fork` strategy (smpsim.vm.strategies.fork_base: NetBSD's write-protect
only, FreeBSD's pmap_copy, Linux's copy_page_range):

- fork: process creation (`spawn`, `fork_fixed`), then each entry of the parent
  is inherited. A shared object (a file such as a library's text) is shared: the
  child's entry names the same object. A private (anonymous) entry is copied with
  needs-copy: the child's entry gets an empty amap of its own whose copy-on-write
  source is the parent's amap (`backing`). The strategy then write-protects the
  parent's writable PTEs (every kernel: the pages are now shared) and may copy the
  parent's PTEs into the child (FreeBSD, Linux); its `finish` sends the parent's
  invalidations (`pmap_update`; Linux: one `flush_tlb_mm`).
- nested fork: a child that forks again before exec (every shell does) passes its
  own amap as the grandchild's source and its sources behind it (`chain`): a
  fault looks in the entry's own amap, then in each source in turn (UVM's anons
  shared through needs-copy amaps, Linux's anon_vma chain). An amap that is still
  another entry's source keeps its pages when its owner unmaps it; they go with
  its last reference (smpsim.vm.uvm `_release_entry`).
- the child's faults (`smpsim.vm.cow`, asked by uvm_fault): a read fault on a
  page still in a source maps that page read-only (no allocation, no copy:
  `cow_read_shares`); a write fault allocates a page in the child's amap, copies
  the source page into it (`page_copy`: `cow_faults`, `pages_copied`) and maps
  it writable (replacing a copied read-only PTE, where the strategy copied one).
  A page no source has (evicted) is zero-filled, as a fresh anonymous page.
- the parent's own writes (`smpsim.vm.cow.parent_write`): a page a live child
  still sees is copied and the original left to the child (copy-on-write works on
  whichever side writes first); a page no child sees any more (it copied its own,
  or it has gone) only has write access re-enabled (uvm_fault's `an_ref == 1`
  case, Linux's `wp_page_reuse`): a fault and a PTE update, no copy.
- exit (`exit1`): the fixed cost of exit outside the address space
  (`exit_fixed`); the address space goes at the Teardown (smpsim.vm.uvm
  `exit_teardown`, which zaps whatever the child was given or faulted in, through
  the preset's teardown, and charges the parent's `wait_fixed`).
- exec (`uvmspace_exec`): the process gets a new vmspace (a new pmap and map,
  the new image faulted in as spawn does); the CPU switches to it at its next
  quantum (pmap_deactivate / pmap_activate), and the old vmspace is torn down
  as at exit (`ExecTeardown`) once no thread runs on it.
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.objects import VmMap, VmMapEntry
from smpsim.vm.pagedaemon import need_pages
from smpsim.vm.uvm import Process, make_object, spawn, uvm_fault


def uvmspace_fork(k, op: Op, parent, name: str, cpus: list[int]):
    """fork1 -> uvmspace_fork: a child process sharing or copy-on-write-marking every entry of
    `parent`, with threads on `cpus`; the design's fork strategy handles the PTEs."""
    start = op.t
    child = spawn(k, op, name, cpus)
    child.parent = parent
    pm = k.pmap_mod
    for entry in parent.map.entries:
        if entry.obj.shared:                                  # uvm_mapent_forkshared
            entry.obj.refs += 1
            centry = VmMapEntry(entry.start, entry.npages, entry.obj, entry.offset, entry.prot)
        else:                                                 # uvm_mapent_forkcopy: needs-copy
            own = make_object(k, f"amap.{child.pid}.{entry.start:x}", shared=False)
            own.refs += 1
            centry = VmMapEntry(entry.start, entry.npages, own, entry.offset, entry.prot,
                                backing=entry.obj, chain=entry.sources())
            for src in centry.sources():
                src.refs += 1
                src.sourced += 1
        child.map.insert(centry)
        k.fork.copy_entry(pm, parent, entry, child, centry, op)
    k.fork.finish(pm, parent, op)
    k.counters["forks"] += 1
    k.record_latency("fork", op.t - start)
    return child


def exit1(k, op: Op, proc) -> None:
    """exit(): the threads leave their CPUs now (the address space goes at the Teardown);
    the fixed work of exit outside the address space (`exit_fixed`)."""
    proc.state = "exiting"
    op.spend(k.costs.exit_fixed, "other")


def touch(k, op: Op, proc, start: int, npages: int, write: bool) -> int:
    """The process touches [start, start+npages): a fault wherever the access would trap (no
    mapping, or a write through a read-only PTE of a writable entry). Returns the faults."""
    faults = 0
    for va in range(start, start + npages):
        entry = proc.map.lookup(va)
        if entry is None:
            continue
        pte = proc.pmap.pte(va)
        if pte is not None and (not write or "w" in pte.prot or "w" not in entry.prot):
            pte.ref = True
            continue
        uvm_fault(k, op, proc, va, access=True, write=write)
        faults += 1
    if proc.pmap.packet.vas or proc.pmap.packet.full:
        k.pmap_mod.pmap_update(proc.pmap, op, "fault")      # a COW fault replaced a mapping
    return faults


def uvmspace_exec(k, op: Op, proc, old_name: str):
    """Give `proc` a new, empty vmspace; return the holder of the old one (a process record
    with no threads, torn down by ExecTeardown). The old pmap stays loaded on the CPU until
    its next quantum switches it to the new one."""
    need_pages(k, op, 1)
    old_pmap, old_map = proc.pmap, proc.map
    hid = k.next_id("proc")
    holder = Process(hid, old_name, old_pmap, old_map, proc.home_cpu, state="exiting")
    old_pmap.owner = hid
    k.procs[hid] = holder
    proc.pmap = k.pmap_mod.pmap_create(proc.pid, op)
    proc.map = VmMap(proc.pmap)
    k.counters["execs"] += 1
    return holder
