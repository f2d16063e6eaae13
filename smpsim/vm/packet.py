"""The shootdown packet: invalidations queued for one shootdown, up to a ceiling.

NetBSD's pmap_tlb_shootdown fills a per-CPU packet with (pmap, va) pairs and
turns it into a full flush once it holds more than the ceiling
(`shootdown_batch`, TP_MAXVA in x86_tlb.c); pmap_update sends it. Every
caller queues through `add`, and a P->V removal that touched several pmaps
merges their packets into one with `merge`, under the same ceiling.
"""

from __future__ import annotations


class Packet:
    __slots__ = ("vas", "full")

    def __init__(self):
        self.vas: list[tuple[int, int]] = []     # (tag, va page) in queueing order
        self.full = False

    def add(self, tag: int, va: int, ceiling: int) -> None:
        if self.full:
            return
        if len(self.vas) >= ceiling:
            self.make_full()
        else:
            self.vas.append((tag, va))

    def make_full(self) -> None:
        self.full = True
        self.vas.clear()

    def merge(self, other: "Packet", ceiling: int) -> None:
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
        return vas
