"""madvise as NetBSD does it (`madvise = "deactivate"`).

sys/uvm/uvm_mmap.c `sys_madvise`: MADV_DONTNEED is `uvm_map_clean(map, addr, addr + size,
PGO_DEACTIVATE)`, MADV_FREE is `uvm_map_clean(..., PGO_FREE)`. sys/uvm/uvm_map.c
`uvm_map_clean` read-locks the map and walks each entry's amap:

- PGO_DEACTIVATE: each resident anon page is `uvm_pagedeactivate`d (moved to the inactive
  queue); its mappings, its PTEs and its data stay. No PTE changes, so no shootdown.
- PGO_FREE: with the amap referenced once, each anon is dropped (`amap_unadd`) and freed
  (`uvm_anon_freelst` -> `uvm_anfree`, which removes the page's mappings with
  `pmap_page_protect(pg, VM_PROT_NONE)`, a P->V walk and its shootdown, then frees the page);
  a later access faults a fresh zeroed page. An amap shared with a fork child is only
  deactivated.
"""

from __future__ import annotations

from smpsim.vm.strategies.madvise_base import MadviseStrategy
from smpsim.vm.uvm import free_pages


def resident(proc, start: int, end: int):
    """(entry, offset, frame) of each private page resident in [start, end)."""
    for entry in [e for e in proc.map.entries if e.start < end and start < e.end]:
        if entry.obj.shared:
            continue
        lo = entry.offset + (max(start, entry.start) - entry.start)
        hi = entry.offset + (min(end, entry.end) - entry.start)
        for off in range(lo, hi):
            frame = entry.obj.pages.get(off)
            if frame is not None:
                yield entry, off, frame


def deactivate_pages(k, op, proc, start: int, end: int) -> int:
    """uvm_pagedeactivate / vm_page_advise of every resident private page of the range."""
    n = 0
    for _entry, _off, _frame in resident(proc, start, end):
        op.spend(k.costs.page_deactivate, "other")
        n += 1
    k.counters["pages_deactivated"] += n
    return n


class DeactivateMadvise(MadviseStrategy):
    def dontneed(self, op, proc, start: int, end: int) -> None:
        deactivate_pages(self.k, op, proc, start, end)

    def free(self, op, proc, start: int, end: int) -> None:
        k = self.k
        freed = []
        for entry, off, frame in list(resident(proc, start, end)):
            if entry.obj.refs > 1:                          # amap_refs > 1: deactivate only
                op.spend(k.costs.page_deactivate, "other")
                k.counters["pages_deactivated"] += 1
                continue
            k.pmap_mod.pmap_page_remove(frame, op)          # uvm_anfree: pmap_page_protect(NONE)
            del entry.obj.pages[off]
            freed.append(frame)
        free_pages(k, op, freed)
        k.counters["madvise_pages_freed"] += len(freed)
