"""NetBSD's flush rule (`flush_rule = "va_count"`): a count of queued addresses up to TP_MAXVA.

Models sys/arch/x86/x86/pmap.c and x86_tlb.c (pmap_tlb.c in NetBSD 6): `pmap_remove_pte`
queues `pmap_tlb_shootdown(pmap, va, opte, ...)` only when the old PTE had PG_U set (a PTE
never referenced cannot be in any TLB: the accessed-bit elision, `if ((opte & PG_U) != 0)`);
`pmap_tlb_shootdown` adds the address to the per-CPU packet while `tp_count < TP_MAXVA`
(6 in the 2011 pmap_tlb.c, 16 in NetBSD 10's x86_tlb.c; `shootdown_batch`) and turns the
packet into a full flush beyond it; `pmap_free_ptp` queues, for every page-table page it
frees, the address of that page in the recursive mapping (`invaladdr`, so the
paging-structure caches drop it), one per level freed.
"""

from __future__ import annotations

from smpsim.vm.strategies.flush_base import FlushRuleStrategy


class VaCountFlush(FlushRuleStrategy):
    def pte_cleared(self, pm, pmap, va, pte) -> None:
        if pte.ref:
            pm.pmap_tlb_shootdown(pmap, va)
        else:
            self.k.counters["abit_elided_invalidations"] += 1

    def ptp_freed(self, pm, pmap, ptp) -> None:
        # the recursive-mapping VA of the PTP; in the model the VA it maps stands for it
        pm.pmap_tlb_shootdown(pmap, ptp.index << (9 * ptp.level))
        self.k.counters["ptp_va_invalidations"] += 1
