"""UVM-level operations: processes, uvm_map, uvm_fault, uvm_unmap and exit teardown.

Each function is one kernel operation on one CPU, timed by an `Op`. Exit follows
NetBSD's order: the dying process's other threads have already left their CPUs
(they hold the pmap lazily), then `uvmspace_free` calls `pmap_remove_all`,
`uvm_unmap` of every entry (each `pmap_remove`), `pmap_update` and finally
`pmap_destroy` for the vmspace's reference. Lazy CPUs keep their own references,
so the last `pmap_destroy` may come much later, from whichever CPU loads another
pmap or is switched away under memory pressure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smpsim.errors import SimulationError
from smpsim.vm.cow import cow_fault
from smpsim.vm.locks import Op
from smpsim.vm.pagedaemon import need_pages
from smpsim.vm.objects import UObject, VmMap, VmMapEntry


@dataclass(eq=False)
class Thread:
    proc: "Process"
    tid: int
    cpu: int
    asleep: bool = False        # blocked (e.g. in a syscall): the scheduler passes it over


@dataclass(eq=False)
class Process:
    pid: int
    name: str
    pmap: object
    map: VmMap
    home_cpu: int
    threads: list = field(default_factory=list)
    state: str = "running"      # running, exiting, exited
    parent: "Process | None" = None     # the forking process, woken when this one exits


def make_object(k, name: str, shared: bool) -> UObject:
    obj = UObject(k.next_id("obj"), name, shared)
    k.objects[obj.id] = obj
    return obj


def spawn(k, op: Op, name: str, cpus: list[int]) -> Process:
    """A new process with an empty map and threads on `cpus` (first is home): fork1's process
    creation (`fork_fixed`: everything but the address space's copy, measured; see costs), for
    a forked child (smpsim.vm.fork) and for a workload's new image alike."""
    need_pages(k, op, 1)
    pid = k.next_id("proc")
    pmap = k.pmap_mod.pmap_create(pid, op)
    proc = Process(pid, name, pmap, VmMap(pmap), cpus[0])
    for i, cpu in enumerate(cpus):
        t = Thread(proc, i, cpu)
        proc.threads.append(t)
        k.views[cpu].runq.append(t)
    k.procs[pid] = proc
    op.spend(k.costs.fork_fixed, "other")
    return proc


def uvm_map(k, op: Op, proc: Process, start: int, npages: int, obj: UObject | None = None,
            offset: int = 0, prot: str = "rw", prefault: int = 0, touch: bool = False) -> VmMapEntry:
    """Map a range (anonymous when obj is None); fault in the first `prefault` pages (accessed,
    so a TLB may hold them, when `touch`)."""
    if obj is None:
        obj = make_object(k, f"anon.{proc.pid}.{start:x}", shared=False)
    obj.refs += 1
    entry = VmMapEntry(start, npages, obj, offset, prot)
    proc.map.insert(entry)
    for va in range(start, start + min(prefault, npages)):
        uvm_fault(k, op, proc, va, access=touch)
    return entry


def uvm_fault(k, op: Op, proc: Process, va: int, access: bool = True, write: bool = False) -> int:
    """Resolve a fault at va: find or allocate the page under the object lock, pmap_enter it.
    Returns the frame. The fault's cycles are recorded as a `fault` latency. `access` False
    is a prefault (the mapping is made ahead of any access, as uvm_fault's neighbours are).
    A forked entry's fault goes to its copy-on-write source (smpsim.vm.cow.cow_fault)."""
    c = k.costs
    start = op.t
    entry = proc.map.lookup(va)
    if entry is None:
        raise SimulationError(f"process {proc.pid} faulted on unmapped va page {va:#x}")
    need_pages(k, op, 4)     # the data page and up to three PTPs
    k.counters["page_faults"] += 1
    op.spend(c.fault_trap, "other")
    obj = entry.obj
    op.acquire(obj.lock, c.lock_acquire, "other")
    off = entry.offset + (va - entry.start)
    frame = obj.pages.get(off)
    prot = entry.prot
    if frame is None and entry.backing is not None:
        frame, prot = cow_fault(k, op, entry, off, write)
    if frame is None:
        frame = k.phys.alloc_data(obj, off)
        obj.pages[off] = frame
        k.counters["pages_allocated"] += 1
        k.page_alloc.alloc(op, "other", data=True)
        op.spend(c.page_zero, "other")
    k.pmap_mod.pmap_enter(proc.pmap, va, frame, prot, entry, op, access)
    op.release(obj.lock, c.lock_release)
    k.record_latency("fault", op.t - start)
    return frame


def _unmap_entry_range(k, op: Op, proc: Process, entry: VmMapEntry, sva: int, eva: int, reason: str,
                       pmap_empty: bool = False) -> list:
    """uvm_unmap_remove for one entry's overlap: pmap_remove (unless pmap_remove_all has
    already emptied the pmap), and detach the anonymous pages. Returns the frames to free
    once the caller's pmap_update has shot the range down."""
    c = k.costs
    pmap = proc.pmap
    hold_obj = k.pv.locks_object_on_remove
    if hold_obj:
        op.acquire(entry.obj.lock, c.lock_acquire, "other")
    if not pmap_empty:
        k.pmap_mod.pmap_remove(pmap, sva, eva, entry, op, reason)
    if not entry.obj.shared and not entry.obj.sourced:
        # (an amap still a copy-on-write source of another entry keeps its pages until the last
        # reference goes: _release_entry)
        lo = entry.offset + (sva - entry.start)
        hi = lo + (eva - sva)
        pages = entry.obj.pages
        # ascending offsets, however they are found: the free list order must not depend on it
        if hi - lo < len(pages):
            offsets = [o for o in range(lo, hi) if o in pages]
        else:
            offsets = sorted(o for o in pages if lo <= o < hi)
        detached = [pages.pop(off) for off in offsets]
    else:
        detached = []
    if hold_obj:
        op.release(entry.obj.lock, c.lock_release)
    return detached


def _release_entry(k, entry: VmMapEntry) -> list:
    """A map entry lets go of its object and of its copy-on-write sources: a private object
    goes away with its last entry (amap_unref -> amap_wipeout), its remaining pages (kept while
    it was another entry's source) returned for freeing; a shared one stays cached."""
    frames = []
    for o in (entry.obj, *entry.sources()):
        o.refs -= 1
        if o is not entry.obj:
            o.sourced -= 1
        if o.refs == 0 and not o.shared:
            k.objects.pop(o.id, None)
            frames += [o.pages[off] for off in sorted(o.pages)]
            o.pages.clear()
    return frames


def _free_detached(k, op: Op, frames: list) -> None:
    """uvm_unmap_detach: the pages go back to the free list after the shootdown, even if a
    dying pmap's PTEs (deferred teardown) still name them."""
    for frame in frames:
        k.phys.release(frame)
        k.counters["pages_freed"] += 1
    k.page_alloc.free_pages(op, len(frames), "page_free")


def uvm_unmap(k, op: Op, proc: Process, start: int, npages: int, reason: str = "munmap") -> None:
    """Remove [start, start+npages) from the process's map (whole entries or parts of them)."""
    end = start + npages
    detached = []
    for entry in [e for e in proc.map.entries if e.start < end and start < e.end]:
        sva, eva = max(start, entry.start), min(end, entry.end)
        detached += _unmap_entry_range(k, op, proc, entry, sva, eva, reason)
        proc.map.entries.remove(entry)
        # keep the parts outside the range as their own entries (clipping)
        if entry.start < sva:
            proc.map.insert(VmMapEntry(entry.start, sva - entry.start, entry.obj, entry.offset, entry.prot,
                                       entry.wired, {v: f for v, f in entry.pv.items() if v < sva},
                                       entry.backing, entry.chain))
            _hold(entry)
        if eva < entry.end:
            proc.map.insert(VmMapEntry(eva, entry.end - eva, entry.obj, entry.offset + (eva - entry.start),
                                       entry.prot, entry.wired, {v: f for v, f in entry.pv.items() if v >= eva},
                                       entry.backing, entry.chain))
            _hold(entry)
        detached += _release_entry(k, entry)
    k.pmap_mod.pmap_update(proc.pmap, op, reason)
    _free_detached(k, op, detached)


def _hold(entry: VmMapEntry) -> None:
    """One more entry names `entry`'s object and sources (a clipped piece, a forked child's)."""
    entry.obj.refs += 1
    for src in entry.sources():
        src.refs += 1
        src.sourced += 1


def uvm_map_protect(k, op: Op, proc: Process, start: int, npages: int, prot: str) -> None:
    """mprotect: lower the protection of whole entries in the range, then shoot down."""
    end = start + npages
    for entry in proc.map.entries:
        if entry.start < end and start < entry.end:
            entry.prot = "".join(ch for ch in entry.prot if ch in prot)
            k.pmap_mod.pmap_protect(proc.pmap, max(start, entry.start), min(end, entry.end), prot, entry, op)
    k.pmap_mod.pmap_update(proc.pmap, op, "protect")


def exit_teardown(k, op: Op, proc: Process) -> None:
    """uvmspace_free: pmap_remove_all, unmap everything, pmap_update, pmap_destroy."""
    pmap = proc.pmap
    pm = k.pmap_mod
    k.fork.exit_zap(proc, op)
    emptied = pm.pmap_remove_all(pmap)
    k.dying[pmap.id] = pmap
    detached = []
    for entry in list(proc.map.entries):
        detached += _unmap_entry_range(k, op, proc, entry, entry.start, entry.end, "exit", emptied)
        proc.map.entries.remove(entry)
        detached += _release_entry(k, entry)
    pm.pmap_update(pmap, op, "exit")
    _free_detached(k, op, detached)
    proc.state = "exited"
    if proc.parent is not None:
        op.spend(k.costs.wait_fixed, "other")   # the parent's wait reaps the child
        for t in proc.parent.threads:
            t.asleep = False                # wait() returns in the parent
    k.lazy_drop.final_drop(pmap, op)
    pm.pmap_destroy(pmap, op)
