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

Gathering the pages costs a batch page once the mmu_gather's on-stack bundle is full
(mm/mmu_gather.c `__tlb_remove_folio_pages_size` -> `tlb_next_batch`, at the 7th page of
MMU_GATHER_BUNDLE's 8 slots, then every MAX_GATHER_BATCH pages, at most MAX_GATHER_BATCH_COUNT
of them), freed by `tlb_finish_mmu`: `gather_batch_page` each (`zapped`; the exit teardown,
`teardown_mmu_gather`, charges its own).

Simplified: Linux also flushes at each VMA's end (`tlb_end_vma`) so the range does not span the
gap between VMAs; the model's range lasts until the caller's `pmap_update`, so an munmap over
several map entries is one range over all of them.
"""

from __future__ import annotations

from smpsim.vm.strategies.flush_base import FlushRuleStrategy

GATHER_LOCAL_PAGES = 7          # MMU_GATHER_BUNDLE (8) slots, a batch taken when nr reaches max - 1
MAX_GATHER_BATCH = 509          # (PAGE_SIZE - sizeof(struct mmu_gather_batch)) / sizeof(void *)
MAX_GATHER_BATCH_COUNT = 19     # 10,000 / MAX_GATHER_BATCH: then the gather flushes and reuses them


def gather_batch_pages(pages: int) -> int:
    """The batch pages an mmu_gather allocates to gather `pages` pages."""
    if pages < GATHER_LOCAL_PAGES:
        return 0
    return min(1 + (pages - GATHER_LOCAL_PAGES) // MAX_GATHER_BATCH, MAX_GATHER_BATCH_COUNT)


def charge_gather(k, op, pages: int) -> None:
    """What gathering `pages` zapped pages costs in batch pages (taken and freed)."""
    n = gather_batch_pages(pages)
    if n:
        op.counters["mmu_gather_batch_pages"] += n
        op.spend(n * k.costs.gather_batch_page, "page_free")


class MmuRangeFlush(FlushRuleStrategy):
    def zapped(self, op, pages: int) -> None:
        charge_gather(self.k, op, pages)

    def pte_cleared(self, pm, pmap, va, pte) -> None:
        pm.pmap_tlb_shootrange(pmap, va, va + 1)

    def ptp_freed(self, pm, pmap, ptp) -> None:
        base = ptp.index << (9 * ptp.level)
        pm.pmap_tlb_shootrange(pmap, base, base + 1)
        pmap.packet.freed_tables = True
