"""Lazy TLB as NetBSD's x86 pmap does it (`lazy_tlb = "on"`).

Models sys/arch/x86/x86/x86_tlb.c (TLBSTATE_VALID / LAZY / STALE, `pmap_tlb_intr`)
and `pmap_deactivate`: a CPU leaving user code keeps the pmap loaded and
referenced (LAZY, still in pm_cpus); a shootdown for that pmap reaching a lazy
CPU makes it flush everything of the pmap and leave pm_cpus (STALE), so it gets
no further IPIs and flushes again before it next runs the pmap. Every other hook
is the base's: a lazy CPU sent an IPI stays (STALE) holding the pmap.
"""

from __future__ import annotations

from smpsim.protocol import LAZY
from smpsim.vm.strategies.lazy_base import LazyTlbStrategy


class NetbsdLazyTlb(LazyTlbStrategy):
    def deactivate(self, view, op) -> None:
        view.state = LAZY
