"""Exit teardown as NetBSD 10's x86 pmap does it (`teardown = "zap_ptp"`).

Models sys/arch/x86/x86/pmap.c (2020 on): `pmap_remove_all` fetches the pmap's page-table pages
32 at a time (`struct vm_page *ptps[32]`, `radix_tree_gang_lookup_node`), and for each one
`pmap_zap_ptp` unlinks the PV entries of its valid PTEs without modifying the PTEs (nothing can
use the address space any more: no atomic updates, no per-page invalidations), then
`pmap_free_ptp` unhooks it; after each batch one full shootdown (`pmap_tlb_shootdown(pmap, -1, 0,
TLBSHOOT_REMOVE_ALL)`) and `pmap_update`, which frees the batch's PTPs. UVM's later `pmap_remove`
calls find nothing left. `pmap_destroy` then only checks and caches.

Simplified: the zap happens at the first `pmap_remove` after `pmap_remove_all` (the model's
`pmap_remove_all` has no operation to charge), which in `uvmspace_free` comes straight after it;
reading a PTP costs `pte_scan` per valid PTE (the zap stops once it has seen them all).
"""

from __future__ import annotations

from smpsim.vm.strategies.teardown_base import TeardownStrategy

BATCH = 32


def level1_ptps(pmap) -> list:
    return [pt for (level, _), pt in sorted(pmap.ptps.items()) if level == 1]


def clear_ptp(k, pm, pmap, pt, op, store_cost: int) -> int:
    """Unlink every PV entry of a level-1 PTP and forget its PTEs (a store of `store_cost` each,
    0: not written at all). Returns the mappings removed."""
    lookup = k.procs[pmap.owner].map.lookup
    n = 0
    for va in sorted(pt.ptes):
        pte = pt.ptes.pop(va)
        k.pv.remove(op, pmap, va, pte.frame, pt.frame, lookup(va))
        pt.nvalid -= 1
        pmap.resident -= 1
        n += 1
    if store_cost:
        k.counters["pte_plain_stores"] += n
    op.spend(n * (store_cost or k.costs.pte_scan), "pte")
    return n


class ZapPtpTeardown(TeardownStrategy):
    def remove(self, pm, pmap, sva, eva, entry, op, reason) -> None:
        k = self.k
        c = k.costs
        ptps = level1_ptps(pmap)
        for i in range(0, len(ptps), BATCH):
            op.acquire(pmap.lock, c.lock_acquire, "other")
            for pt in ptps[i:i + BATCH]:
                clear_ptp(k, pm, pmap, pt, op, 0)
                pm.pmap_free_ptp(pmap, pt, op)
            op.release(pmap.lock, c.lock_release)
            k.counters["ptp_zap_batches"] += 1
            pmap.packet.make_full()
            k.shootdown.update([pmap], op, reason)   # one full shootdown per batch, then free them

    def invalidate(self, pm, pmap, va) -> None:
        pmap.packet.make_full()                      # TLBSHOOT_REMOVE_ALL
