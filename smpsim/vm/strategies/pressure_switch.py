"""Switching lazy CPUs away from dying pmaps under memory pressure, the 2011 proposal 3
(`pressure_switch = "on"` / `"off"`).

From the 2011 tech-kern post (the seed): when the pagedaemon runs short of free
pages, it first asks every CPU lazily holding a dying pmap to load pmap_kernel
(an IPI each), so that the last reference drops and the pmap's page-table pages
— pinned until then by deferred teardown — are freed. `off` leaves them to the
next context switch on those CPUs, as NetBSD 5 does.
"""

from __future__ import annotations

from smpsim.vm.strategies.pressure_base import PressureSwitchStrategy
from smpsim.vm.switch_away import switch_away


class PressureSwitchOn(PressureSwitchStrategy):
    def relieve(self, op, need: int) -> None:
        phys = self.k.phys
        if phys.free - need < phys.freetarg:
            switch_away(self.k, op)


class PressureSwitchOff(PressureSwitchStrategy):
    """NetBSD 5 and today's kernels: no relief step (the base's no-op)."""
