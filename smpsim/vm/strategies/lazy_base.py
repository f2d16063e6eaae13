"""Lazy TLB, the kind's interface (`LazyTlbStrategy`): what a CPU leaving user code keeps of its
pmap, and what that means for the shootdowns that reach (or skip) it.

The values are `lazy_netbsd` (NetBSD's LAZY / STALE states), `lazy_off` (no lazy TLB) and
`lazy_linux` (Linux's lazy mm with tlb_gen). The pmap module and the shootdowns call these
methods; they never ask which value they have. The kind's parameter `mm_cpumask` says when a
CPU that switched away leaves the pmap's CPU set; only `lazy_linux` reads it (NetBSD's pmap_load
and FreeBSD's pmap_activate_sw clear the bit at the switch: `eager`, the base's rule).
"""

from __future__ import annotations

import abc

from smpsim.protocol import LAZY
from smpsim.vm.declare import Kind, Parameter

# mm_cpumask rules (`mm_cpumask`): when a CPU's bit leaves the mask of the mm it switched away from
EAGER, LAZY_MASK, LAZY_TRIM = "eager", "lazy", "lazy_trim"
CPUMASK_RULES = (EAGER, LAZY_MASK, LAZY_TRIM)


class LazyTlbStrategy(abc.ABC):
    """Kernel hooks: `deactivate` is pmap_deactivate, `reactivate` pmap_activate back to a lazily
    held pmap, `goes_stale` / `ipi_targets` / `after_ipi` the shootdown's view of lazy CPUs,
    `join_cpumask` / `leave_cpumask` / `switched_away` / `clear_switched_away` the CPU set's
    upkeep (the `mm_cpumask` rule), `check_rules` the design's own invariants (run by the checker)."""

    KIND = Kind("lazy_tlb", "on", "What a CPU leaving user code keeps of its pmap (lazy TLB)")
    PARAMETERS = (
        Parameter("mm_cpumask", KIND.name, str, EAGER, "When a CPU that switched away leaves the mm's CPU "
                  "set: at the switch (eager: NetBSD, FreeBSD, Linux before 6.13), at the first flush sent to "
                  "it (lazy: Linux 209954cbc7d0), or at a flush that skips it but once a second (lazy_trim: "
                  "6db2526c1d69, Linux 6.13+); read by lazy_tlb = linux only", values=CPUMASK_RULES),
    )

    def __init__(self, k, mm_cpumask: str = EAGER):
        self.k = k
        self.mm_cpumask = mm_cpumask

    @abc.abstractmethod
    def deactivate(self, view, op) -> None:
        """pmap_deactivate: the CPU stops running user code."""

    def goes_stale(self, view, pmaps) -> bool:
        """Whether a shootdown for `pmaps` reaching this CPU makes it leave their CPU sets."""
        return view.state == LAZY and view.curpmap in pmaps

    def reactivate(self, view, pmap, op) -> None:
        """Back from LAZY on the same pmap (pmap_activate): nothing to catch up unless the design
        lets shootdowns skip lazy CPUs."""

    def ipi_targets(self, views, pmaps, frees_tables: bool, now: int = 0, no_mm: bool = False) -> list:
        """Which of the pmaps' CPUs a per-initiator shootdown interrupts (at time `now`; `no_mm`: a
        flush for no one mm, Linux's batched reclaim): all of them."""
        return [v.id for v in views]

    def switched_away(self, view, pmaps) -> bool:
        """A CPU in the CPU set that no longer has one of `pmaps` loaded: never, when the set is
        kept exact."""
        return False

    def clear_switched_away(self, view, pmaps) -> int:
        """A flush reached a switched-away CPU: it leaves the CPU set. Returns its cycles."""
        return 0

    def join_cpumask(self, pmap, view, op) -> None:
        """pmap_activate: the CPU enters the pmap's CPU set (pm_cpus, mm_cpumask)."""
        pmap.pm_cpus.add(view.id)

    def leave_cpumask(self, pmap, view, op) -> None:
        """The CPU lets go of the pmap (pmap_load of another, a switch-away): it leaves the CPU set."""
        pmap.pm_cpus.discard(view.id)

    def after_ipi(self, view, op) -> None:
        """A lazy CPU that a per-initiator shootdown made go stale, once the shootdown is done:
        it stays STALE, still holding (and referencing) the pmap, until it next switches."""

    def check_rules(self, k) -> None:
        """The design's own invariants (checked after every step)."""
