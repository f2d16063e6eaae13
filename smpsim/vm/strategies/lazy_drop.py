"""What the final drop of a dying mm does about CPUs still holding it lazily (`lazy_drop`).

`refcount` — NetBSD, FreeBSD and Linux x86: a lazy holder keeps its reference; the pmap (and its
page-table pages) goes when that CPU next loads another pmap (or a pressure switch-away asks it).

`shoot_lazies` — Linux `CONFIG_MMU_LAZY_TLB_SHOOTDOWN` (kernel/fork.c `__mmdrop` ->
`cleanup_lazy_tlbs`, which IPIs every CPU in mm_cpumask with `do_shoot_lazy_tlb` to switch a lazy
user of the mm to init_mm): when the exiting process's teardown drops the last real user, every
CPU still lazily holding the pmap is sent a switch-away IPI at once, so the pmap is destroyed
with the exit. Selected by powerpc, not x86; here it combines with any other strategy.
"""

from __future__ import annotations

from smpsim.protocol import LAZY, STALE
from smpsim.vm.strategies.lazy_drop_base import LazyDropStrategy
from smpsim.vm.switch_away import switch_away


class RefcountLazyDrop(LazyDropStrategy):
    """A lazy holder keeps its reference (the base's no-op)."""


class ShootLazies(LazyDropStrategy):
    def final_drop(self, pmap, op) -> None:
        k = self.k
        holders = [v for v in k.views if v.curpmap is pmap and v.state in (LAZY, STALE)]
        if holders:
            k.counters["shoot_lazies_ipis"] += sum(1 for v in holders if v.id != op.cpu)
            switch_away(k, op, reason="shoot_lazies", only=pmap)
