"""Exit teardown through NetBSD's md_gc_pmap path of 2008-2019 (`teardown = "gc"`).

Models sys/arch/x86/x86/pmap.c between the 2008 `pmap_remove_all` and its 2019
rework: after `pmap_remove_all`, `pmap_remove` still clears PTEs and removes PV
entries one by one, but shootdowns for the pmap are suppressed (every queued
invalidation turns the packet into one full flush) and emptied PTPs are
collected (`md_gc_ptp`) instead of freed; the caller's `pmap_update` then does
the one full flush and frees them.
"""

from __future__ import annotations

from smpsim.vm.strategies.teardown_base import TeardownStrategy


class GcTeardown(TeardownStrategy):
    def remove(self, pm, pmap, sva, eva, entry, op, reason) -> None:
        pm.remove_range(pmap, sva, eva, entry, op)   # PTPs wait for the caller's pmap_update

    def invalidate(self, pm, pmap, va) -> None:
        pmap.packet.make_full()
