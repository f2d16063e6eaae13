"""Lazy TLB as NetBSD's x86 pmap does it (`lazy_tlb = "on"`).

Models sys/arch/x86/x86/x86_tlb.c (TLBSTATE_VALID / LAZY / STALE, `pmap_tlb_intr`)
and `pmap_deactivate`: a CPU leaving user code keeps the pmap loaded and
referenced (LAZY, still in pm_cpus); a shootdown for that pmap reaching a lazy
CPU makes it flush everything of the pmap and leave pm_cpus (STALE), so it gets
no further IPIs and flushes again before it next runs the pmap.
"""

from __future__ import annotations

from smpsim.protocol import LAZY


class NetbsdLazyTlb:
    leaves_on_ipi = False                # a lazy CPU sent an IPI stays (STALE) holding the pmap

    def __init__(self, k):
        self.k = k

    def deactivate(self, view, op) -> None:
        view.state = LAZY

    def goes_stale(self, view, pmaps) -> bool:
        return view.state == LAZY and view.curpmap in pmaps

    def reactivate(self, view, pmap, op) -> None:
        """Back from LAZY on the same pmap: every shootdown reached it, nothing to catch up."""

    def ipi_targets(self, views, pmaps, frees_tables: bool) -> list:
        """Which of the pmaps' CPUs a per-initiator shootdown interrupts: all of them."""
        return [v.id for v in views]

    def check_rules(self, k) -> None:
        """The design's own invariants (checked after every step)."""
