"""The shootdown packet: invalidations queued for one shootdown, up to a ceiling.

NetBSD's pmap_tlb_shootdown fills a per-CPU packet with (pmap, va) pairs and
turns it into a full flush once it holds more than the ceiling
(`shootdown_batch`, TP_MAXVA in x86_tlb.c); pmap_update sends it. Every
caller queues through `add`, and a P->V removal that touched several pmaps
merges their packets into one with `merge`, under the same ceiling.

Linux's mmu_gather keeps a range instead (`add_range`: include/asm-generic/tlb.h
`__tlb_adjust_range`): the packet then holds every page of start..end, holes included, and
becomes a full flush once end - start passes the ceiling (arch/x86/mm/tlb.c
`flush_tlb_mm_range`, `tlb_single_page_flush_ceiling`). `freed_tables` is the gather's flag of
that name (a page-table page was freed under this flush). Which of the two a removal uses is
the design's flush rule (smpsim.vm.strategies.flush_base).
"""

from __future__ import annotations


class Packet:
    __slots__ = ("vas", "full", "lo", "hi", "freed_tables")

    def __init__(self):
        self.vas: list[tuple[int, int]] = []     # (tag, va page) in queueing order
        self.full = False
        self.lo = self.hi = None                 # the gathered range [lo, hi) (add_range only)
        self.freed_tables = False

    def add(self, tag: int, va: int, ceiling: int) -> None:
        if self.full:
            return
        if len(self.vas) >= ceiling:
            self.make_full()
        else:
            self.vas.append((tag, va))

    def add_range(self, tag: int, lo: int, hi: int, ceiling: int) -> None:
        """Widen the gathered range to take in [lo, hi): the packet holds each of its pages, or
        is a full flush once the range is longer than `ceiling` pages."""
        if self.full:
            return
        if self.lo is not None:
            lo, hi = min(lo, self.lo), max(hi, self.hi)
        self.lo, self.hi = lo, hi
        if hi - lo > ceiling:
            self.make_full()
        else:
            self.vas = [(tag, va) for va in range(lo, hi)]

    def make_full(self) -> None:
        self.full = True
        self.vas.clear()

    def merge(self, other: "Packet", ceiling: int) -> None:
        self.freed_tables |= other.freed_tables
        if other.full:
            self.make_full()
        for tag, va in other.vas:
            self.add(tag, va, ceiling)

    @property
    def empty(self) -> bool:
        return not self.full and not self.vas

    def take(self):
        """The invalidations to send (None: a full flush), leaving the packet empty."""
        vas = None if self.full else tuple(self.vas)
        self.vas, self.full = [], False
        self.lo = self.hi = None
        return vas
