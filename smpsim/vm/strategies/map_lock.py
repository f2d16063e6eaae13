"""The address-space lock per kernel (`map_lock`): `vm_map` and `mmap_lock`.

`vm_map` — NetBSD sys/uvm/uvm_map.c and FreeBSD sys/vm/vm_map.c: the vm_map lock (an rwlock;
NetBSD `vm_map_lock` / `vm_map_lock_read`, FreeBSD `vm_map_lock` / `vm_map_lock_read`).
`uvm_unmap` (NetBSD `uvm_unmap1`: `vm_map_lock`, `uvm_unmap_remove`, `vm_map_unlock`, then
`uvm_unmap_detach` of the dead entries; FreeBSD `vm_map_remove`, whose deleted entries' objects
are released by `vm_map_process_deferred` after the unlock) holds it for writing over the whole
removal, pmap_remove and the shootdown included; the pages are freed after the unlock; `uvm_map` / `uvm_map_protect` (FreeBSD `vm_map_insert`, `vm_map_protect`) for writing;
a fault reads it (NetBSD `uvmfault_lookup` -> `vm_map_lock_read`; FreeBSD `vm_fault` ->
`vm_map_lookup`, which read-locks the map); madvise DONTNEED/FREE reads it (NetBSD
`uvm_map_clean`: `vm_map_lock_read`; FreeBSD `vm_map_madvise`: `vm_map_lock_read` for the
advice that do not modify the map entries, MADV_DONTNEED and MADV_FREE among them).

`mmap_lock` — Linux: munmap takes `mmap_lock` for writing to detach the VMAs and, since 4.20
(Yang Shi, "mm: mmap: zap pages with read mmap_sem in munmap", commit dd2283f2605e), downgrades
to reading for the zap, the flush and the page freeing (today mm/vma.c `do_vmi_align_munmap` ->
`vms_complete_munmap_vmas` -> `mmap_write_downgrade`), so parallel munmaps of one mm overlap in
the zap; mmap and mprotect hold it for writing; MADV_DONTNEED/FREE take it for reading
(mm/madvise.c `madvise_need_mmap_write` is 0 for them); page faults do not take it at all since
6.4 (`lock_vma_under_rcu` in arch/x86/mm/fault.c `do_user_addr_fault`: the per-VMA lock).

A Linux fault takes no object lock: `do_anonymous_page`, `do_wp_page` and `finish_fault` take
the PTE lock (`pte_offset_map_lock`; split per page-table page, USE_SPLIT_PTE_PTLOCKS) and, for a
file page, the folio's lock; the anon_vma lock is taken only by `__anon_vma_prepare` at a VMA's
first fault. The PTE lock's acquire and release are charged; waiting on it is not modelled (a
simplification: it is one lock per page-table page, held for the few hundred cycles of a
pmap_enter, so only faults within the same 2 MB can meet on it), so faults of one mm on
different pages do not wait for each other as they would behind one object lock.

Simplified: the per-VMA lock of faults is not modelled (a fault on a VMA being detached would
fall back to mmap_lock; here it proceeds); 6.16's per-VMA lock for a single-VMA MADV_DONTNEED
(Barry Song, "mm: use per_vma lock for MADV_DONTNEED") is modelled as the mmap_lock read it
replaced (readers never exclude each other, so only waits behind a writer differ).
"""

from __future__ import annotations

from smpsim.vm.strategies.map_lock_base import MapLockStrategy


class VmMapLock(MapLockStrategy):
    LOCK_KIND = "map"
    LOCK_NAME = "vm_map"

    def fault_enter(self, op, proc) -> None:
        self.take(op, self.lock(proc).read)

    def fault_exit(self, op, proc) -> None:
        self.drop(op, self.lock(proc).read)

    def map_enter(self, op, proc) -> None:
        self.take(op, self.lock(proc).write)

    def map_exit(self, op, proc) -> None:
        self.drop(op, self.lock(proc).write)

    unmap_enter, unmap_done = map_enter, map_exit      # uvm_unmap_detach frees after the unlock

    def advise_enter(self, op, proc) -> None:
        self.take(op, self.lock(proc).read)

    def advise_exit(self, op, proc) -> None:
        self.drop(op, self.lock(proc).read)


class MmapLock(MapLockStrategy):
    LOCK_KIND = "mmap"
    LOCK_NAME = "mmap_lock"

    def map_enter(self, op, proc) -> None:
        self.take(op, self.lock(proc).write)

    def map_exit(self, op, proc) -> None:
        self.drop(op, self.lock(proc).write)

    def unmap_enter(self, op, proc) -> None:
        self.take(op, self.lock(proc).write)

    def unmap_zap(self, op, proc) -> None:
        """mmap_write_downgrade: the write hold ends and a read hold begins at the same instant."""
        op.downgrade(self.lock(proc))
        self.k.counters["mmap_lock_downgrades"] += 1

    def unmap_exit(self, op, proc) -> None:
        self.drop(op, self.lock(proc).read)

    def advise_enter(self, op, proc) -> None:
        self.take(op, self.lock(proc).read)

    def advise_exit(self, op, proc) -> None:
        self.drop(op, self.lock(proc).read)

    def fault_object_enter(self, op, obj) -> None:
        op.spend(self.k.costs.lock_acquire, "other")     # the split PTE lock, uncontended

    def fault_object_exit(self, op, obj) -> None:
        op.spend(self.k.costs.lock_release, "other")
