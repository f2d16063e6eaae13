"""Exit teardown as Linux does it (`teardown = "mmu_gather"`): exit_mmap with a fullmm mmu_gather.

Models mm/mmap.c `exit_mmap`: `tlb_gather_mmu_fullmm`, `unmap_vmas` (mm/memory.c
`zap_pte_range`, clearing each PTE with `ptep_get_and_clear_full`, which for a full-mm teardown is
a plain read-and-clear, arch/x86/include/asm/pgtable.h), `free_pgtables`, `tlb_finish_mmu`.
Pages are gathered in batches (mm/mmu_gather.c `__tlb_remove_folio_pages`; about 510 per batch
page, `MAX_GATHER_BATCH_COUNT` batches, each batch page taken costing `gather_batch_page`) and a
forced flush comes when the gather is full, near 10,000 pages (`tlb_flush_mmu`). In fullmm mode no range is tracked: every flush is of the whole
mm, and the final one (the caller's `pmap_update`, i.e. `tlb_finish_mmu`) has `freed_tables`
set, so it also reaches lazy CPUs, which switch to `init_mm` (the lazy strategy's rule).

Simplified: the zap happens at the first `pmap_remove` after `pmap_remove_all` (as for
`zap_ptp`); the rmap updates of the zapped pages are the PV tracker's (`rmap`).
"""

from __future__ import annotations

from smpsim.vm.strategies.flush_mmu_range import charge_gather
from smpsim.vm.strategies.teardown_base import TeardownStrategy
from smpsim.vm.strategies.teardown_zap_ptp import clear_ptp, level1_ptps

GATHER_MAX_PAGES = 10_000


class MmuGatherTeardown(TeardownStrategy):
    def remove(self, pm, pmap, sva, eva, entry, op, reason) -> None:
        k = self.k
        c = k.costs
        ptps = level1_ptps(pmap)
        if not ptps:
            return
        gathered = 0
        resident = pmap.resident
        op.acquire(pmap.lock, c.lock_acquire, "other")
        for pt in ptps:
            gathered += clear_ptp(k, pm, pmap, pt, op, c.pte_plain)
            if gathered >= GATHER_MAX_PAGES:        # the gather is full: tlb_flush_mmu
                k.counters["mmu_gather_forced_flushes"] += 1
                op.release(pmap.lock, c.lock_release)
                pmap.packet.make_full()
                k.shootdown.update([pmap], op, reason)
                op.acquire(pmap.lock, c.lock_acquire, "other")
                gathered = 0
        for pt in ptps:                             # free_pgtables
            pm.pmap_free_ptp(pmap, pt, op)
        op.release(pmap.lock, c.lock_release)
        charge_gather(k, op, resident - pmap.resident)
        pmap.packet.make_full()                     # tlb_finish_mmu: the caller's pmap_update

    def invalidate(self, pm, pmap, va) -> None:
        pmap.packet.make_full()
