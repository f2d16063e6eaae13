"""Exit teardown, the kind's interface (`TeardownStrategy`): what pmap_remove_all starts and
what a dying pmap's removals, invalidations and final free do.

A teardown strategy takes over a pmap once `pmap_remove_all` has marked it
REMOVING_ALL (NetBSD's "the whole address space is about to go" hint): the
pmap module hands it every `pmap_remove` and every queued invalidation of that
pmap, and asks it how pmap_destroy frees the page-table pages. Live pmaps never
reach it.
"""

from __future__ import annotations

import abc

from smpsim.vm.locks import Op
from smpsim.vm.pagetables import REMOVING_ALL
from smpsim.vm.declare import Kind


class TeardownStrategy(abc.ABC):
    """Kernel hooks: `begin` is pmap_remove_all, `remove` pmap_remove on the dying pmap,
    `invalidate` pmap_tlb_shootdown on it; `bulk_ptp_free` is how pmap_destroy frees its PTPs."""

    KIND = Kind("teardown", "eager", "How an exiting process's pmap is torn down after pmap_remove_all")
    PARAMETERS = ()

    bulk_ptp_free = False       # pmap_destroy frees the PTPs in one bulk splice
    keeps_stale_ptes = False    # PTEs outlive their PV entries and may name freed pages until destroy

    def __init__(self, k):
        self.k = k

    def begin(self, pm, pmap) -> bool:
        """pmap_remove_all: mark the pmap; return True if it removed every mapping itself
        (UVM then skips its pmap_remove calls)."""
        pmap.state = REMOVING_ALL
        return False

    @abc.abstractmethod
    def remove(self, pm, pmap, sva: int, eva: int, entry, op: Op, reason: str) -> None:
        """pmap_remove of [sva, eva) on the dying pmap."""

    def invalidate(self, pm, pmap, va: int) -> None:
        """pmap_tlb_shootdown of va on the dying pmap."""
        pm.queue_invalidation(pmap, va)
