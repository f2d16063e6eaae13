"""Exit teardown as FreeBSD's amd64 pmap does it (`teardown = "remove_pages"`).

Models sys/amd64/amd64/pmap.c `pmap_remove_pages`, called from `vmspace_exit`
(sys/vm/vm_map.c) while the pmap is active on no other CPU: it walks the pmap's PV chunks
instead of the page tables, clears each PTE with a plain store (`pte_clear`, no atomics: no
other CPU can set A/D bits), frees the PV entries and unhooks the emptied page-table pages
(`pmap_unuse_pt`), then issues one `pmap_invalidate_all` and frees the PTPs after it. If another
CPU still has the pmap active, `pmap_remove_pages` refuses and the ordinary `pmap_remove`
path runs (as here). With PCIDs the invalidation of an inactive pmap only zeroes the other CPUs'
`pm_gen` (`pmap_invalidate_all` -> `pmap_invalidate_all_pcid`): the `pcid` tags do that.

Simplified: the walk happens at the first `pmap_remove` after `pmap_remove_all` (as for
`zap_ptp`), in page-table order, which visits the same entries as the chunk order.
"""

from __future__ import annotations

from smpsim.vm.strategies.teardown_base import TeardownStrategy
from smpsim.vm.strategies.teardown_zap_ptp import clear_ptp, level1_ptps


class RemovePagesTeardown(TeardownStrategy):
    def remove(self, pm, pmap, sva, eva, entry, op, reason) -> None:
        k = self.k
        c = k.costs
        if pmap.pm_cpus - {op.cpu}:
            pm.remove_live(pmap, sva, eva, entry, op, reason)   # active elsewhere: pmap_remove
            return
        ptps = level1_ptps(pmap)
        if not ptps:
            return
        op.acquire(pmap.lock, c.lock_acquire, "other")
        for pt in ptps:
            clear_ptp(k, pm, pmap, pt, op, c.pte_plain)
            pm.pmap_free_ptp(pmap, pt, op)
        op.release(pmap.lock, c.lock_release)
        k.counters["pmap_invalidate_all"] += 1
        pmap.packet.make_full()
        k.shootdown.update([pmap], op, reason)        # one pmap_invalidate_all, then free the PTPs

    def invalidate(self, pm, pmap, va) -> None:
        pmap.packet.make_full()
