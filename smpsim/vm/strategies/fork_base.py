"""What fork does to the page tables, the kind's interface (`ForkStrategy`, switch `fork`).

uvmspace_fork (smpsim.vm.fork) walks the parent's map and gives the child its entries (a shared
object shared, a private one with an empty amap of its own whose copy-on-write source is the
parent's); what happens to the PTEs is the kernel's choice, asked here per entry
(`copy_entry`) and once at the end (`finish`):

- `uvm` — NetBSD (sys/uvm/uvm_map.c `uvmspace_fork`): the parent's writable PTEs are
  write-protected, the child's pmap stays empty (it faults).
- `pmap_copy` — FreeBSD (sys/vm/vm_map.c `vmspace_fork` / `vm_map_copy_entry`, amd64
  `pmap_copy`): the parent is write-protected, then its valid managed PTEs are copied into
  the child, each with a PV entry.
- `copy_page_range` — Linux (`dup_mmap` -> mm/memory.c `copy_page_range`): each present PTE
  of a private VMA with an anon_vma is write-protected on both sides and copied, one rmap
  reference per page, and the parent's whole TLB is flushed once (`flush_tlb_mm`).

The values live in `fork_uvm`, `fork_pmap_copy` and `fork_copy_page_range`.
"""

from __future__ import annotations

from smpsim.vm.declare import Kind


class ForkStrategy:
    """Kernel hooks of fork. `copy_entry` runs for each entry the child inherits (`pentry` the
    parent's, `centry` the child's new one); `finish` ends the fork (by default NetBSD's
    `pmap_update` of the parent, which sends the queued write-protect invalidations)."""

    KIND = Kind("fork", "uvm", "What fork does to the page tables: write-protect the parent only (NetBSD "
                               "UVM), or also copy its PTEs into the child (FreeBSD pmap_copy, Linux "
                               "copy_page_range)")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k

    def copy_entry(self, pm, parent, pentry, child, centry, op) -> None:
        raise NotImplementedError

    def finish(self, pm, parent, op) -> None:
        pm.pmap_update(parent.pmap, op, "fork")

    # --- shared steps -----------------------------------------------------------------------
    def protect_parent(self, pm, parent, pentry, op) -> None:
        """Write-protect the parent's writable PTEs of `pentry` (pmap_protect(prot & ~WRITE)):
        its anonymous pages are now shared with the child."""
        if "w" not in pentry.prot:
            return
        k = self.k
        before = k.counters["pte_atomic_updates"]
        pm.pmap_protect(parent.pmap, pentry.start, pentry.end, pentry.prot.replace("w", ""), pentry, op)
        k.counters["fork_protect_ptes"] += k.counters["pte_atomic_updates"] - before

    def copy_ptes(self, pm, parent, pentry, child, centry, op, per_page: int) -> int:
        """Copy the parent's valid PTEs of `pentry` into the child, read-only and not referenced
        (the accessed bit cleared, so no TLB can hold them yet), each through pmap_enter (a PTP
        allocated where the child lacks one, the design's PV or rmap insert), plus `per_page`
        cycles of the copy loop. Returns the PTEs copied."""
        k = self.k
        found = [(va, pte.frame, pte.prot) for _, va, pte in pm.scan(parent.pmap, pentry.start, pentry.end, op)]
        for va, frame, prot in found:
            pm.pmap_enter(child.pmap, va, frame, prot.replace("w", ""), centry, op, access=False)
            op.spend(per_page, "pte")
        k.counters["fork_ptes_copied"] += len(found)
        return len(found)
