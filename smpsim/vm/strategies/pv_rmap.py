"""Linux's reverse map instead of PV entries (`pv_tracking = "rmap"`).

Models mm/rmap.c: Linux keeps no per-mapping PV entry. Mapping a page only bumps its mapcount
(`folio_add_anon_rmap_pte` / `folio_add_file_rmap_pte`, an atomic increment), unmapping drops it
(`folio_remove_rmap_pte`) — counted as `rmap_updates`, while `pv_inserts` / `pv_removes` stay 0.
Unmapping a PTE also costs `zap_rmap_drop`: the rest of `zap_present_ptes` / `try_to_unmap_one`
per page (the rmap statistics, the RSS counter, the mmu_gather entry and the reference dropped;
the page's free, when it is the last reference, is the allocator's), and the last mapping of a
page `rmap_last_unmap` more (the folio's mapped-page statistics).
To find a page's mappings, `try_to_unmap` -> `rmap_walk` takes the object's lock (`anon_vma`
lock for anonymous memory, `i_mmap_rwsem` for a file) and visits every VMA that maps the object
at that offset (`rmap_walk_anon` over the anon_vma interval tree, `rmap_walk_file` over
`mapping->i_mmap`), walking each one's page table to the PTE (`page_vma_mapped_walk`) whether or
not the page is mapped there: the cost grows with the VMAs of the object, not the mappings of
the page (`rmap_vmas_walked`). No retry loop.

In the model the per-page lists of `pv_base` stand in for the page tables' own contents (what
the walk finds), so the checker's PTE/PV agreement holds by construction.
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.strategies.pv_base import PvTrackingStrategy


class RmapWalk(PvTrackingStrategy):
    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        op.counters["rmap_updates"] += 1
        self.link_page(frame, (pmap.id, va))
        op.spend(self.c.pte_atomic, "pv")

    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        op.counters["rmap_updates"] += 1
        lst = self.pages[frame]
        del lst[(pmap.id, va)]
        cost = self.c.pte_atomic + self.c.zap_rmap_drop
        if not lst:
            del self.pages[frame]
            cost += self.c.rmap_last_unmap
        op.spend(cost, "pv")

    def _vmas(self, obj, offset: int) -> int:
        """VMAs of every process that map `obj` over `offset` (what the interval tree yields)."""
        n = 0
        for proc in self.k.procs.values():
            for e in proc.map.entries:
                if e.obj is obj and e.offset <= offset < e.offset + e.npages:
                    n += 1
        return n

    def page_remove(self, frame: int, op: Op, unmap_one) -> None:
        k, c = self.k, self.c
        obj, offset = k.phys.owner[frame]
        op.acquire(obj.lock, c.lock_acquire, "other")        # anon_vma lock / i_mmap_rwsem
        vmas = self._vmas(obj, offset)
        k.counters["rmap_vmas_walked"] += vmas
        op.spend(vmas * c.rmap_vma_step, "pv")
        for pmap_id, va in self.page_entries(frame):
            pmap = k.pmaps[pmap_id]
            op.acquire(pmap.lock, c.lock_acquire, "other")   # the PTE lock
            unmap_one(pmap, va)
            op.release(pmap.lock, c.lock_release)
        op.release(obj.lock, c.lock_release)

    def indexed_entries(self):
        return [(pid, va) for pid, va, _ in self.all_entries()], "the page tables (rmap keeps no PV entries)"
