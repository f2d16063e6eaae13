"""fork as FreeBSD amd64 does it (`fork` = `pmap_copy`): the parent's PTEs are copied into the child.

sys/vm/vm_map.c `vmspace_fork`: every inherited entry (VM_INHERIT_SHARE, and VM_INHERIT_COPY
through `vm_map_copy_entry`) ends with `pmap_copy(dst_pmap, src_pmap, start, len, start)`.
`vm_map_copy_entry` first write-protects a copy-on-write source that is not already
needs-copy (`pmap_protect(src_map->pmap, start, end, prot & ~VM_PROT_WRITE)`), so what
pmap_copy copies is read-only. sys/amd64/amd64/pmap.c `pmap_copy` (only when dst_addr ==
src_addr, as in fork) walks the source's page directory: for each valid PTE with PG_MANAGED
it allocates the destination PTP where needed (`pmap_allocpte`), inserts a PV entry with
`pmap_try_insert_pv_entry` (which never reclaims: on failure pmap_copy stops and the child
faults the rest), and stores the PTE with PG_W, PG_M and PG_A cleared (so no TLB holds it
and its removal needs no invalidation); it stops a PTP early once the destination holds as
many mappings as the source. Simplified: every model page is managed and the PV insert
never fails; 2 MB superpage PDEs (copied whole by pmap_copy) do not occur in the model.
The child's exit removes these mappings through the preset's teardown (pmap_remove_pages).
"""

from __future__ import annotations

from smpsim.vm.strategies.fork_base import ForkStrategy


class PmapCopyFork(ForkStrategy):
    def copy_entry(self, pm, parent, pentry, child, centry, op) -> None:
        if not pentry.obj.shared:
            self.protect_parent(pm, parent, pentry, op)
        self.copy_ptes(pm, parent, pentry, child, centry, op, self.k.costs.fork_pte_copy)
