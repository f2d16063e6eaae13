"""UVM-level operations: processes, uvm_map, uvm_fault, uvm_unmap and exit teardown.

uvm_map, uvm_unmap, uvm_map_protect and uvm_fault take the vmspace's address-space lock as the
kernel does (`k.map_lock`: smpsim.vm.strategies.map_lock); uvm_fault maps the shared zero page
on a read fault where the kernel has one (`k.zero_page`: smpsim.vm.strategies.zero_page).

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
from smpsim.vm.cow import cow_fault, parent_write
from smpsim.vm.locks import Op
from smpsim.vm.pagedaemon import need_pages
from smpsim.vm.objects import UObject, VmMap, VmMapEntry, make_object


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
    """Map a range (anonymous when obj is None) with the address-space lock held for writing;
    then fault in the first `prefault` pages (accessed, so a TLB may hold them, when `touch`),
    each fault taking the lock as faults do (Linux populates after mmap_write_unlock)."""
    if obj is None:
        obj = make_object(k, f"anon.{proc.pid}.{start:x}", shared=False)
    obj.refs += 1
    entry = VmMapEntry(start, npages, obj, offset, prot)
    k.map_lock.map_enter(op, proc)
    proc.map.insert(entry)
    op.spend(k.costs.map_entry_update, "other")
    k.map_lock.map_exit(op, proc)
    for va in range(start, start + min(prefault, npages)):
        uvm_fault(k, op, proc, va, access=touch, write=None)
    return entry


def uvm_fault(k, op: Op, proc: Process, va: int, access: bool = True, write: bool | None = None) -> int:
    """Resolve a fault at va: find or allocate the page under the object lock, pmap_enter it,
    with the address-space lock as the kernel takes it for a fault (`k.map_lock`). Returns the
    frame. The fault's cycles are recorded as a `fault` latency. `access` False is a prefault
    (the mapping is made ahead of any access, as uvm_fault's neighbours are). `write`: True for
    a known write, False for a known read (which may map the shared zero page: `k.zero_page`),
    None when the access type is not known (a TLB miss, a prefault: treated as a write for the
    zero page, as a read for copy-on-write). A forked entry's fault goes to its copy-on-write
    source (smpsim.vm.cow.cow_fault). A write that replaces the zero page's PTE flushes that
    address at once (Linux `wp_page_copy` -> `ptep_clear_flush`)."""
    c = k.costs
    start = op.t
    entry = proc.map.lookup(va)
    if entry is None:
        raise SimulationError(f"process {proc.pid} faulted on unmapped va page {va:#x}")
    need_pages(k, op, 4)     # the data page and up to three PTPs
    k.counters["page_faults"] += 1
    op.spend(c.fault_trap, "other")
    k.map_lock.fault_enter(op, proc)
    obj = entry.obj
    k.map_lock.fault_object_enter(op, obj)
    off = entry.offset + (va - entry.start)
    frame = obj.pages.get(off)
    prot = entry.prot
    if frame is None and entry.backing is not None:
        frame, prot = cow_fault(k, op, entry, off, bool(write))
    elif frame is not None and write and obj.sourced:
        frame = parent_write(k, op, entry, off, frame)
    if frame is None and write is False and not obj.shared:
        frame = k.zero_page.read_fault_frame(op)
        prot = prot.replace("w", "")
    replaces_zero = False
    if frame is None:
        old = proc.pmap.pte(va)
        replaces_zero = old is not None and k.zero_page.is_zero(old.frame)
        frame = k.phys.alloc_data(obj, off)
        obj.pages[off] = frame
        k.counters["pages_allocated"] += 1
        k.page_alloc.alloc(op, "other", data=True)
        op.spend(c.page_zero, "other")
    k.pmap_mod.pmap_enter(proc.pmap, va, frame, prot, entry, op, access)
    k.map_lock.fault_object_exit(op, obj)
    if replaces_zero:
        k.counters["zero_page_copies"] += 1
        k.pmap_mod.pmap_update(proc.pmap, op, "fault")      # ptep_clear_flush
    k.map_lock.fault_exit(op, proc)
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


def free_pages(k, op: Op, frames: list) -> None:
    """Free detached pages after the shootdown that covered them (uvm_unmap_detach)."""
    _free_detached(k, op, frames)


def zap_range(k, op: Op, proc: Process, start: int, end: int, reason: str) -> int:
    """Remove every mapping of [start, end) and discard its private pages, keeping the map
    entries (Linux `zap_page_range_single` for MADV_DONTNEED): pmap_remove of each entry's
    overlap, one pmap_update, then the pages are freed. Returns the pages freed."""
    detached = []
    resident = proc.pmap.resident
    for entry in [e for e in proc.map.entries if e.start < end and start < e.end]:
        detached += _unmap_entry_range(k, op, proc, entry, max(start, entry.start), min(end, entry.end), reason)
    k.flush_rule.zapped(op, resident - proc.pmap.resident)
    k.pmap_mod.pmap_update(proc.pmap, op, reason)
    _free_detached(k, op, detached)
    return len(detached)


def _free_detached(k, op: Op, frames: list) -> None:
    """uvm_unmap_detach: the pages go back to the free list after the shootdown, even if a
    dying pmap's PTEs (deferred teardown) still name them."""
    for frame in frames:
        k.phys.release(frame)
        k.counters["pages_freed"] += 1
    k.page_alloc.free_pages(op, len(frames), "page_free")


def uvm_unmap(k, op: Op, proc: Process, start: int, npages: int, reason: str = "munmap") -> None:
    """Remove [start, start+npages) from the process's map (whole entries or parts of them):
    the entries are detached (clipped) with the address-space lock held for writing, then the
    lock strategy's `unmap_zap` (Linux: the downgrade to reading), the zap and the shootdown,
    `unmap_done` (NetBSD/FreeBSD: the unlock), the page freeing, `unmap_exit` (Linux: the read
    unlock)."""
    end = start + npages
    lk = k.map_lock
    lk.unmap_enter(op, proc)
    op.spend(k.costs.zap_fixed, "other")
    pieces = []
    for entry in [e for e in proc.map.entries if e.start < end and start < e.end]:
        sva, eva = max(start, entry.start), min(end, entry.end)
        pieces.append((entry, sva, eva))
        proc.map.remove(entry)
        op.spend(k.costs.map_entry_update, "other")
        _keep_outside(proc, entry, sva, eva)
    lk.unmap_zap(op, proc)
    detached = []
    resident = proc.pmap.resident
    for entry, sva, eva in pieces:
        detached += _unmap_entry_range(k, op, proc, entry, sva, eva, reason)
        detached += _release_entry(k, entry)
    k.flush_rule.zapped(op, resident - proc.pmap.resident)
    k.pmap_mod.pmap_update(proc.pmap, op, reason)
    lk.unmap_done(op, proc)
    _free_detached(k, op, detached)
    lk.unmap_exit(op, proc)


def _piece(entry: VmMapEntry, sva: int, eva: int) -> VmMapEntry:
    """The part [sva, eva) of `entry` as an entry of its own, naming the same object and sources."""
    _hold(entry)
    return VmMapEntry(sva, eva - sva, entry.obj, entry.offset + (sva - entry.start), entry.prot, entry.wired,
                      {v: f for v, f in entry.pv.items() if sva <= v < eva}, entry.backing, entry.chain)


def _keep_outside(proc: Process, entry: VmMapEntry, sva: int, eva: int) -> None:
    """Keep the parts of a removed `entry` outside [sva, eva) as entries of their own (clipping)."""
    if entry.start < sva:
        proc.map.insert(_piece(entry, entry.start, sva))
    if eva < entry.end:
        proc.map.insert(_piece(entry, eva, entry.end))


def uvm_map_clip(k, op: Op, proc: Process, start: int, end: int) -> list:
    """Split the entries [start, end) cuts through so that the range is made of whole entries
    (NetBSD UVM_MAP_CLIP_START/END, FreeBSD vm_map_clip_*, Linux split_vma), each split a map
    entry update; the entries inside the range, in order. The caller holds the map lock."""
    inside = []
    for entry in [e for e in proc.map.entries if e.start < end and start < e.end]:
        sva, eva = max(start, entry.start), min(end, entry.end)
        if (sva, eva) != (entry.start, entry.end):
            proc.map.remove(entry)
            _keep_outside(proc, entry, sva, eva)
            middle = _piece(entry, sva, eva)
            proc.map.insert(middle)
            _release_entry(k, entry)          # its pieces hold the references now (no page is freed)
            op.spend(k.costs.map_entry_update, "other")
            entry = middle
        inside.append(entry)
    return inside


def _hold(entry: VmMapEntry) -> None:
    """One more entry names `entry`'s object and sources (a clipped piece, a forked child's)."""
    entry.obj.refs += 1
    for src in entry.sources():
        src.refs += 1
        src.sourced += 1


def uvm_map_protect(k, op: Op, proc: Process, start: int, npages: int, prot: str) -> None:
    """mprotect: the entries of the range (clipped to it) take protection `prot`; where that
    takes a right away, their PTEs are lowered (pmap_protect never raises one: a raise is
    left to the next fault, as NetBSD and Linux leave it, with no flush), then shot down."""
    k.map_lock.map_enter(op, proc)
    for entry in uvm_map_clip(k, op, proc, start, start + npages):
        lowered = any(ch not in prot for ch in entry.prot)
        entry.prot = prot
        if lowered:
            k.pmap_mod.pmap_protect(proc.pmap, entry.start, entry.end, prot, entry, op, k.costs.protect_pte)
    k.pmap_mod.pmap_update(proc.pmap, op, "protect")
    k.map_lock.map_exit(op, proc)


def exit_teardown(k, op: Op, proc: Process) -> None:
    """uvmspace_free: pmap_remove_all, unmap everything, pmap_update, pmap_destroy."""
    pmap = proc.pmap
    pm = k.pmap_mod
    emptied = pm.pmap_remove_all(pmap)
    k.dying[pmap.id] = pmap
    detached = []
    for entry in list(proc.map.entries):
        detached += _unmap_entry_range(k, op, proc, entry, entry.start, entry.end, "exit", emptied)
        proc.map.remove(entry)
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
