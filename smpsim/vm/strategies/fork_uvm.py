"""fork as NetBSD UVM does it (`fork` = `uvm`): the child's pmap starts empty.

sys/uvm/uvm_map.c `uvmspace_fork` -> `uvm_mapent_forkcopy`: a private entry's amap is shared
with the child needs-copy; if the parent's entry was not already needs-copy and is writable,
`pmap_protect(parent, start, end, prot & ~VM_PROT_WRITE)` write-protects its PTEs (a parent
forking again without having written keeps them read-only: nothing to change). A shared entry
(`uvm_mapent_forkshared`) only gains a reference. `uvmspace_fork` ends with `pmap_update` of
the parent. uvmspace_fork also calls `pmap_copy` for each entry ("optional ... it will reduce
the number of page faults"), but the x86 pmap defines it as an empty macro
(sys/arch/x86/include/pmap.h), so on x86 the child maps nothing: every page it touches is a fault (a read maps the parent's
page read-only, a write copies it: smpsim.vm.cow). Its exit has nothing to zap but what it
faulted in.
"""

from __future__ import annotations

from smpsim.vm.strategies.fork_base import ForkStrategy


class UvmFork(ForkStrategy):
    def copy_entry(self, pm, parent, pentry, child, centry, op) -> None:
        if not pentry.obj.shared:
            self.protect_parent(pm, parent, pentry, op)
