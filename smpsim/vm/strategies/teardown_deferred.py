"""Deferred exit teardown, the 2011 proposal 2 (`teardown = "deferred"`).

From the 2011 tech-kern post (the seed): after `pmap_remove_all`, `pmap_remove`
on the dying pmap only tears down the software PV entries; PTEs are left as
they are (no atomic updates, no shootdowns) and the page-table pages are freed
in one bulk splice by the last `pmap_destroy`. The price: until then the dying
pmap's PTEs may name pages already freed and reused, and CPUs lazily holding it
pin its page tables (what `pressure_switch` relieves).
"""

from __future__ import annotations

from smpsim.vm.strategies.teardown_base import TeardownStrategy


class DeferredTeardown(TeardownStrategy):
    bulk_ptp_free = True
    keeps_stale_ptes = True

    def remove(self, pm, pmap, sva, eva, entry, op, reason) -> None:
        c = self.k.costs
        pv = self.k.pv
        op.acquire(pmap.lock, c.lock_acquire, "other")
        for pt, va, pte in pv.dying_mappings(pm, pmap, sva, eva, entry, op):
            pm.drop_pv(pmap, pt, va, pte, entry, op)
        op.release(pmap.lock, c.lock_release)
