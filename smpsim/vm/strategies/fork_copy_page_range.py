"""fork as Linux does it (`fork` = `copy_page_range`): PTEs copied, both sides write-protected.

`dup_mmap` (kernel/fork.c; in mm/mmap.c since 2025) copies each VMA and calls
mm/memory.c `copy_page_range` for those `vma_needs_copy` accepts: a VMA with an anon_vma
(private memory that has been written) or PFN/mixed maps; a file mapping without one (a
library's text) is not copied, the child faults it. `copy_page_range` ->
`copy_pte_range` -> `copy_present_ptes` / `copy_present_pte`, per present PTE of a
copy-on-write mapping: `folio_try_dup_anon_rmap_pte` (the folio's mapcount and refcount
raised: one rmap reference per page), `ptep_set_wrprotect` of the parent's PTE if writable
(`wrprotect_ptes`), and the child's PTE written write-protected and old (`pte_mkold`,
`set_ptes`). For a copy-on-write mapping it brackets the walk with
`mmu_notifier_invalidate_range_start/end` and `write_protect_seq`, and sends no flush
itself: `dup_mmap` ends with `flush_tlb_mm(oldmm)`, one flush of the parent's whole mm on
every CPU in its mm_cpumask (here the parent's packet made full before its pmap_update). x86's
`flush_tlb_mm` is `flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, 0UL, true)`: `freed_tables` is set,
so `native_flush_tlb_multi` IPIs the whole mask, lazy CPUs and (6.13+) CPUs that switched away
included, and the latter clear their bit (`TLB_REMOTE_WRONG_CPU`): after a fork the parent's
flushes stop reaching CPUs that only once ran it (seen in the bundled Python pool trace: its
parent traced "remote IPI send" on each of its flushes in the 16 ms before its first fork, the
other CPU having run it once, and on 1 of the 186 after it, until its threads ran there again).
The child's exit zaps every copied PTE (exit_mmap -> unmap_vmas, the preset's mmu_gather
teardown): `zap_present_ptes` -> `folio_remove_rmap_ptes` drops the mapcount and the gather's
`free_pages_and_swap_cache` the reference, without freeing a page its parent still maps (the
rmap tracker's removal, `pv_rmap`: `zap_rmap_drop` per PTE); this is why Linux's fork+exit
grows faster per page than NetBSD's.
"""

from __future__ import annotations

from smpsim.vm.strategies.fork_base import ForkStrategy


class CopyPageRangeFork(ForkStrategy):
    def copy_entry(self, pm, parent, pentry, child, centry, op) -> None:
        if pentry.obj.shared:
            return                             # vma_needs_copy: no anon_vma, the child faults it
        c = self.k.costs
        self.protect_parent(pm, parent, pentry, op)
        self.copy_ptes(pm, parent, pentry, child, centry, op, c.fork_pte_copy + c.fork_rmap_dup)

    def finish(self, pm, parent, op) -> None:
        parent.pmap.packet.make_full()         # dup_mmap: flush_tlb_mm(oldmm)
        parent.pmap.packet.freed_tables = True  # flush_tlb_mm passes freed_tables = true
        pm.pmap_update(parent.pmap, op, "fork")
