"""Linux's flush rule (`flush_rule = "mmu_range"`): the mmu_gather's start..end range.

Models include/asm-generic/tlb.h and mm/mmu_gather.c: every PTE a zap or a protection change
clears widens the gather's range (`tlb_remove_tlb_entry` -> `__tlb_adjust_range(tlb, address,
PAGE_SIZE)`), whatever its accessed bit; freeing a page-table page widens it to take in the
table's base address (`pte_free_tlb` -> `tlb_flush_pmd_range(tlb, address, PAGE_SIZE)`,
`pmd_free_tlb` likewise) and sets `freed_tables`. `tlb_flush` (arch/x86/include/asm/tlb.h)
calls `flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables)`, and arch/x86/mm/tlb.c
flushes each page of the range with INVLPG while `(end - start) >> PAGE_SHIFT` is at most
`tlb_single_page_flush_ceiling` (33, commit a5102476a24b; `shootdown_batch`), else the whole
ASID. So a range with holes costs its full length, and 34 pages cost a full flush.
`pmap_page_remove` (try_to_unmap) and a replaced PTE are a one-page range (`flush_tlb_page`).

Simplified: Linux also flushes at each VMA's end (`tlb_end_vma`) so the range does not span the
gap between VMAs; the model's range lasts until the caller's `pmap_update`, so an munmap over
several map entries is one range over all of them.
"""

from __future__ import annotations

from smpsim.vm.strategies.flush_base import FlushRuleStrategy


class MmuRangeFlush(FlushRuleStrategy):
    def pte_cleared(self, pm, pmap, va, pte) -> None:
        pm.pmap_tlb_shootrange(pmap, va, va + 1)

    def ptp_freed(self, pm, pmap, ptp) -> None:
        base = ptp.index << (9 * ptp.level)
        pm.pmap_tlb_shootrange(pmap, base, base + 1)
        pmap.packet.freed_tables = True
