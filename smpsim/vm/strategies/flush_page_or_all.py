"""FreeBSD's flush rule (`flush_rule = "page_or_all"`): one page, or the whole pmap.

Models sys/amd64/amd64/pmap.c: `pmap_remove(pmap, sva, eva)` of exactly one page
(`sva + PAGE_SIZE == eva`) removes it with `pmap_remove_page`, which ends in
`pmap_invalidate_page`; any larger range notes `anyvalid` for every valid PTE it clears
(`pmap_remove_ptes`) and ends in one `pmap_invalidate_all`, however few pages were mapped.
`pmap_protect` likewise ends in `pmap_invalidate_all` when anything changed. There is no
accessed-bit elision, and a freed page-table page adds no address: `pmap_unwire_ptp` puts it
on the delayed free list (`pmap_add_delayed_free_list`), released by
`vm_page_free_pages_toq` after the invalidation. Outside a range call (`pmap_page_remove`'s
`pmap_remove_all(m)`, a replaced PTE in `pmap_enter`) each page is `pmap_invalidate_page`.
"""

from __future__ import annotations

from smpsim.vm.strategies.flush_base import FlushRuleStrategy


class PageOrAllFlush(FlushRuleStrategy):
    def pte_cleared(self, pm, pmap, va, pte) -> None:
        span = self.in_range(pmap)
        if span is not None and (span[1] - span[0] > 1 or span[2]):
            if not pmap.packet.full:
                self.k.counters["pmap_invalidate_all"] += 1
            pm.pmap_tlb_shootall(pmap)
        else:
            pm.pmap_tlb_shootdown(pmap, va)

    def ptp_freed(self, pm, pmap, ptp) -> None:
        pass
