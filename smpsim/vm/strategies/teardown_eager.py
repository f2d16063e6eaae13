"""Eager exit teardown (`teardown = "eager"`): the dying pmap is torn down like a live one.

Models NetBSD 5/6 x86 `pmap_remove` (sys/arch/x86/x86/pmap.c) called by
`uvm_unmap_remove` for every entry from `uvmspace_free`: each PTE cleared with
an atomic test-and-set, its PV entry removed, each referenced PTE queued for
shootdown, emptied PTPs unhooked and freed after the shootdown that covers them.
"""

from __future__ import annotations

from smpsim.vm.strategies.teardown_base import TeardownStrategy


class EagerTeardown(TeardownStrategy):
    def remove(self, pm, pmap, sva, eva, entry, op, reason) -> None:
        pm.remove_live(pmap, sva, eva, entry, op, reason)
