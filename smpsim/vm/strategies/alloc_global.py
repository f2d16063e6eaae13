"""One global free-page lock, NetBSD 5/6 (`page_alloc = "global"`).

NetBSD 5/6 sys/uvm/uvm_page.c: `uvm_pagealloc_strat` takes a page off the free lists and
`uvm_pagefree` puts one back, each under `mutex_spin_enter(&uvm_fpageqlock)` — one lock for
every page allocation and free on every CPU. pmap_destroy's bulk free of a dying pmap's PTPs
(the 2011 proposal's deferred teardown, `teardown.bulk_ptp_free`) holds it once for the whole
splice. Costs: `page_alloc` / `page_free` / `ptp_free` under the lock, `ptp_bulk_free` per PTP
of a splice.
"""

from __future__ import annotations

from smpsim.vm.locks import Op, SimLock
from smpsim.vm.strategies.alloc_base import PageAllocStrategy


class GlobalPageAlloc(PageAllocStrategy):
    def __init__(self, k, **switches):
        super().__init__(k, **switches)
        # uvm_fpageqlock: the 2011 global free-page queue lock
        self.fpageq = SimLock("uvm_fpageqlock", "fpageq")

    def _under_lock(self, op: Op, cost: int, part: str) -> None:
        c = self.c
        op.acquire(self.fpageq, c.lock_acquire, part)
        op.spend(cost, part)
        op.release(self.fpageq, c.lock_release)

    def alloc(self, op: Op, part: str, data: bool) -> None:
        self._under_lock(op, self.c.page_alloc, part)

    def free_pages(self, op: Op, n: int, part: str, data: bool = True, isolated: bool = False) -> None:
        cost = self.c.page_free if data else self.c.ptp_free
        for _ in range(n):
            self._under_lock(op, cost, part)

    def bulk_begin(self, op: Op, part: str) -> None:
        op.acquire(self.fpageq, self.c.lock_acquire, part)     # one hold for the splice

    def bulk_free(self, op: Op, part: str) -> None:
        op.spend(self.c.ptp_bulk_free, part)

    def bulk_end(self, op: Op) -> None:
        op.release(self.fpageq, self.c.lock_release)

    def locks(self):
        yield self.fpageq
