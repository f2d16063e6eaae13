"""madvise as Linux does it (`madvise = "zap"`).

MADV_DONTNEED — mm/madvise.c `madvise_dontneed_single_vma` -> mm/memory.c
`zap_page_range_single`: an mmu_gather over the range, `unmap_single_vma` clears each PTE and
drops the rmap, `tlb_finish_mmu` flushes the range and frees the pages. The map entries (VMAs)
stay; a later access faults a fresh page (a read maps the zero page where `zero_page` is on).
Here: pmap_remove of the range, one pmap_update (the preset's shootdown and its range rule),
then the pages are freed (smpsim.vm.uvm.zap_range).

MADV_FREE — mm/madvise.c `madvise_free_single_vma` -> `madvise_free_pte_range`: every present
PTE that is young or dirty is cleared and rewritten old and clean (`ptep_get_and_clear_full`,
`pte_mkold`, `pte_mkclean`, `tlb_remove_tlb_entry` adds it to the gather's range) and the
folio is marked lazy-free (`folio_mark_lazyfree`); `tlb_finish_mmu` flushes the range. Pages
and mappings stay; reclaim may discard them later without writing them out (not modelled: the
pagedaemon treats them as any page).
"""

from __future__ import annotations

from smpsim.vm.strategies.madvise_base import MadviseStrategy
from smpsim.vm.uvm import zap_range


class ZapMadvise(MadviseStrategy):
    def dontneed(self, op, proc, start: int, end: int) -> None:
        self.k.counters["madvise_pages_freed"] += zap_range(self.k, op, proc, start, end, "madvise")

    def free(self, op, proc, start: int, end: int) -> None:
        k = self.k
        k.pmap_mod.pmap_clear_reference_range(proc.pmap, start, end, op)
        k.pmap_mod.pmap_update(proc.pmap, op, "madvise")
