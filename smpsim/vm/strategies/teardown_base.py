"""Exit teardown, the common part: what pmap_remove_all starts and what a dying pmap's
removals, invalidations and final free do.

A teardown strategy takes over a pmap once `pmap_remove_all` has marked it
REMOVING_ALL (NetBSD's "the whole address space is about to go" hint): the
pmap module hands it every `pmap_remove` and every queued invalidation of that
pmap, and asks it how pmap_destroy frees the page-table pages. Live pmaps never
reach it.
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.pagetables import REMOVING_ALL


class Teardown:
    bulk_ptp_free = False       # pmap_destroy frees the PTPs in one bulk splice
    keeps_stale_ptes = False    # PTEs outlive their PV entries and may name freed pages until destroy

    def __init__(self, k):
        self.k = k

    def begin(self, pm, pmap) -> bool:
        """pmap_remove_all: mark the pmap; return True if it removed every mapping itself
        (UVM then skips its pmap_remove calls)."""
        pmap.state = REMOVING_ALL
        return False

    def remove(self, pm, pmap, sva: int, eva: int, entry, op: Op, reason: str) -> None:
        """pmap_remove of [sva, eva) on the dying pmap."""
        raise NotImplementedError

    def invalidate(self, pm, pmap, va: int) -> None:
        """pmap_tlb_shootdown of va on the dying pmap."""
        pm.queue_invalidation(pmap, va)
