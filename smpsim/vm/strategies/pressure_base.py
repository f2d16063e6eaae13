"""Memory-pressure relief, the kind's interface (`PressureSwitchStrategy`): what the pagedaemon
does first when it runs short of free pages (`pressure_switch`).

The values are `on` (the 2011 proposal 3: switch lazy CPUs away from dying pmaps) and `off`
(nothing: the kernels that have no such step). Both are in `pressure_switch`.
"""

from __future__ import annotations

from smpsim.vm.declare import Kind


class PressureSwitchStrategy:
    """Kernel hook: `relieve` runs at the start of every pagedaemon run (uvm_pageout), before it
    reclaims pages; `need` is the pages the run was asked for. No step by default."""

    KIND = Kind("pressure_switch", "off", "Whether the pagedaemon first switches lazy CPUs away from "
                                          "dying pmaps (the 2011 proposal 3)")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k

    def relieve(self, op, need: int) -> None:
        """Free what can be freed without reclaiming pages (nothing, by default)."""
