"""Lazy TLB, the kind's interface (`LazyTlbStrategy`): what a CPU leaving user code keeps of its
pmap, and what that means for the shootdowns that reach (or skip) it.

The values are `lazy_netbsd` (NetBSD's LAZY / STALE states), `lazy_off` (no lazy TLB) and
`lazy_linux` (Linux's lazy mm with tlb_gen). The pmap module and the shootdowns call these
methods; they never ask which value they have.
"""

from __future__ import annotations

import abc

from smpsim.protocol import LAZY
from smpsim.vm.declare import Kind


class LazyTlbStrategy(abc.ABC):
    """Kernel hooks: `deactivate` is pmap_deactivate, `reactivate` pmap_activate back to a lazily
    held pmap, `goes_stale` / `ipi_targets` / `after_ipi` the shootdown's view of lazy CPUs,
    `check_rules` the design's own invariants (run by the checker)."""

    KIND = Kind("lazy_tlb", "on", "What a CPU leaving user code keeps of its pmap (lazy TLB)")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k

    @abc.abstractmethod
    def deactivate(self, view, op) -> None:
        """pmap_deactivate: the CPU stops running user code."""

    def goes_stale(self, view, pmaps) -> bool:
        """Whether a shootdown for `pmaps` reaching this CPU makes it leave their CPU sets."""
        return view.state == LAZY and view.curpmap in pmaps

    def reactivate(self, view, pmap, op) -> None:
        """Back from LAZY on the same pmap (pmap_activate): nothing to catch up unless the design
        lets shootdowns skip lazy CPUs."""

    def ipi_targets(self, views, pmaps, frees_tables: bool) -> list:
        """Which of the pmaps' CPUs a per-initiator shootdown interrupts: all of them."""
        return [v.id for v in views]

    def after_ipi(self, view, op) -> None:
        """A lazy CPU that a per-initiator shootdown made go stale, once the shootdown is done:
        it stays STALE, still holding (and referencing) the pmap, until it next switches."""

    def check_rules(self, k) -> None:
        """The design's own invariants (checked after every step)."""
