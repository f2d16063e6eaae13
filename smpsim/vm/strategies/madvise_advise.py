"""madvise as FreeBSD does it (`madvise = "advise"`).

sys/vm/vm_map.c `vm_map_madvise` (MADV_DONTNEED and MADV_FREE read-lock the map) calls, for each
entry, sys/amd64/amd64/pmap.c `pmap_advise`, which clears PG_M and PG_A of every managed PTE of
the range that has them (dirtying the page first for MADV_DONTNEED) and, having changed a
non-global PTE, ends with `pmap_invalidate_all` of the pmap; then sys/vm/vm_object.c
`vm_object_madvise` -> `vm_page_advise` moves each resident page towards the inactive queue
(MADV_FREE also marks it clean, so reclaim may discard it). The data and the mappings stay: a
later access neither faults nor sees zeroes. Here both advice are the same: the accessed bits of
the range cleared (one atomic update each), one full invalidation if any was set, and a
`page_deactivate` per resident page.
"""

from __future__ import annotations

from smpsim.vm.strategies.madvise_base import MadviseStrategy
from smpsim.vm.strategies.madvise_deactivate import deactivate_pages


class AdviseMadvise(MadviseStrategy):
    def dontneed(self, op, proc, start: int, end: int) -> None:
        k = self.k
        pmap = proc.pmap
        if k.pmap_mod.pmap_clear_reference_range(pmap, start, end, op):
            k.counters["pmap_invalidate_all"] += 1
            pmap.packet.make_full()                     # pmap_advise: pmap_invalidate_all
            k.pmap_mod.pmap_update(pmap, op, "madvise")
        deactivate_pages(k, op, proc, start, end)

    free = dontneed
