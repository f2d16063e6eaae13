"""TLB tags without PCIDs (`pcid = "pmap"`, formerly `false`): every address-space switch flushes the TLB.

Models the x86 pmap of NetBSD 5 (sys/arch/x86/x86/pmap.c, `pmap_load`): a CR3
reload drops every non-global entry, so entries never outlive a switch and the
simulated TLB tags them with the pmap's own id. An inactive CPU holds nothing of
a pmap, so a shootdown never needs to reach it.
"""

from __future__ import annotations

from smpsim.protocol import FLUSH_ALL
from smpsim.vm.strategies.tags_base import TlbTagsStrategy


class PmapIdTags(TlbTagsStrategy):
    def load(self, view, op) -> None:
        """The CPU switches to another pmap (pmap_load): the switch plus a CR3 reload."""
        c = self.k.costs
        op.spend(c.context_switch + c.local_full_flush, "other")
        self.k.counters["tlb_switch_flushes"] += 1
        view.flush(FLUSH_ALL)
        pmap = view.curpmap
        if pmap is not None:          # the CR3 reload dropped every entry: current to its generation
            view.seen_gen[pmap.id] = pmap.tlb_gen

    def unload(self, view, op) -> None:
        """The CPU drops its user pmap for pmap_kernel (no lazy TLB): a CR3 reload."""
        self.k.counters["tlb_switch_flushes"] += 1
        op.spend(self.k.costs.local_full_flush, "other")
        view.flush(FLUSH_ALL)

    def stale_return(self, view, pmap, op) -> None:
        """A STALE CPU runs its pmap again: without tags, it flushes everything, the same CR3
        reload as `unload`."""
        self.unload(view, op)
