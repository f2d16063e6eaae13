"""What a removal or protection change queues for the shootdown, the kind's interface
(`FlushRuleStrategy`, switch `flush_rule`).

Every kernel clears PTEs one by one under its pmap lock and sends one shootdown at the end
(NetBSD `pmap_update`, FreeBSD `pmap_invalidate_*`, Linux `tlb_flush` -> `flush_tlb_mm_range`),
but what that shootdown covers differs: NetBSD counts the addresses it queued (and queues the
recursive-mapping address of every page-table page it frees), FreeBSD sends one page or
everything, Linux flushes the start..end range its mmu_gather saw. The values are
`va_count` (NetBSD, `flush_va_count`), `mmu_range` (Linux, `flush_mmu_range`) and
`page_or_all` (FreeBSD, `flush_page_or_all`). The ceiling is the shootdown's
(`shootdown_batch`: TP_MAXVA, or Linux's `tlb_single_page_flush_ceiling`).

The pmap module calls `begin_range` / `end_range` around `pmap_remove` and `pmap_protect` of a
live pmap, `pte_cleared` for each PTE removed or downgraded (inside or outside such a range:
`pmap_enter` replacing a mapping, `pmap_page_remove`), and `ptp_freed` for each page-table page
`pmap_free_ptp` unhooks, and `zapped` once an munmap or MADV_DONTNEED has cleared its range
(Linux: what the mmu_gather's batch pages cost). A dying pmap's invalidations still go to its teardown strategy
(`pmap_tlb_shootdown`).
"""

from __future__ import annotations

import abc

from smpsim.vm.declare import Kind


class FlushRuleStrategy(abc.ABC):
    """Kernel hooks: `pte_cleared` is the invalidation a cleared PTE queues (NetBSD
    `pmap_remove_pte` -> `pmap_tlb_shootdown`, Linux `tlb_remove_tlb_entry`, FreeBSD
    `pmap_remove_pte`'s `anyvalid`), `ptp_freed` what freeing a page-table page adds
    (`pmap_free_ptp`, `pte_free_tlb`, `pmap_unwire_ptp`)."""

    KIND = Kind("flush_rule", "va_count", "What a pmap_remove / pmap_protect's shootdown covers: a count of "
                "queued addresses, the gathered range, or one page or everything")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k
        self.span: tuple | None = None     # (pmap, sva, eva, protect) of the range call in progress

    def begin_range(self, pmap, sva: int, eva: int, protect: bool = False) -> None:
        """pmap_remove (or, `protect`, pmap_protect) of [sva, eva) on a pmap starts."""
        self.span = (pmap, sva, eva, protect)

    def end_range(self, pmap) -> None:
        self.span = None

    def in_range(self, pmap) -> tuple | None:
        """(sva, eva, protect) of the range call on `pmap` in progress, or None (a single-PTE
        removal: pmap_enter replacing a mapping, pmap_page_remove)."""
        if self.span is not None and self.span[0] is pmap:
            return self.span[1:]
        return None

    def zapped(self, op, pages: int) -> None:
        """An munmap or MADV_DONTNEED cleared `pages` PTEs into one gather (nothing by default)."""

    @abc.abstractmethod
    def pte_cleared(self, pm, pmap, va: int, pte) -> None:
        """A PTE of `pmap` at `va` was removed or lost a permission: queue what the kernel queues."""

    @abc.abstractmethod
    def ptp_freed(self, pm, pmap, ptp) -> None:
        """`pmap_free_ptp` unhooked `ptp` (level 1-3): queue what the kernel queues for it."""
