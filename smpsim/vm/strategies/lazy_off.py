"""No lazy TLB (`lazy_tlb = "off"`): a CPU leaving user code loads pmap_kernel at once.

The ablation of NetBSD's lazy TLB (x86_tlb.c): `pmap_deactivate` drops the CPU's
reference and its pm_cpus bit immediately (pmap_load of pmap_kernel), so no CPU
ever holds a pmap lazily and no shootdown needs to reach an idle CPU; the price
is a switch (and, without PCIDs, a flush) every time a CPU goes idle.
"""

from __future__ import annotations

from smpsim.protocol import LAZY, STALE
from smpsim.vm.strategies.lazy_base import LazyTlbStrategy


class NoLazyTlb(LazyTlbStrategy):
    def deactivate(self, view, op) -> None:
        self.k.drop_cpu_ref(view, op)
        self.k.tags.unload(view, op)

    def goes_stale(self, view, pmaps) -> bool:
        return False                     # no CPU is ever LAZY

    def check_rules(self, k) -> None:
        """No CPU ever holds a pmap lazily (FreeBSD: pm_active is exactly the running CPUs)."""
        for v in k.views:
            if v.state in (LAZY, STALE):
                k.violation("lazy_without_lazy_tlb", f"cpu{v.id} is {v.state} on pmap {v.curpmap.id} "
                                                     f"but the design has no lazy TLB")
