"""Lazy TLB as Linux x86 does it (`lazy_tlb = "linux"`): lazy mm, skipped by shootdowns, tlb_gen.

Models arch/x86/mm/tlb.c of Linux 6.x: `enter_lazy_tlb` keeps the user mm loaded (and, with
the lazy refcount, referenced) when a CPU goes idle or runs a kernel thread, and sets
`cpu_tlbstate_shared.is_lazy`; `flush_tlb_multi` / `native_flush_tlb_multi` skip lazy CPUs
(`tlb_is_not_lazy`) unless `info->freed_tables`, i.e. unless page tables are being freed;
a lazy CPU that does get the IPI switches to `init_mm` in `flush_tlb_func`
(`switch_mm_irqs_off(NULL, &init_mm, NULL)`) and so lets go of the mm. A skipped lazy CPU keeps
stale entries; when it runs the mm again `switch_mm_irqs_off` compares its ASID's `tlb_gen`
with the mm's and flushes (partially when one generation behind, else fully):
`smpsim.vm.generations.catch_up`.
"""

from __future__ import annotations

from smpsim.protocol import LAZY, VALID
from smpsim.vm import generations
from smpsim.vm.strategies.lazy_base import LazyTlbStrategy


class LinuxLazyTlb(LazyTlbStrategy):
    def deactivate(self, view, op) -> None:
        view.state = LAZY                      # enter_lazy_tlb: the mm stays loaded and referenced

    def reactivate(self, view, pmap, op) -> None:
        """switch_mm_irqs_off back to the lazily held mm: catch up on skipped generations."""
        generations.catch_up(self.k, view, pmap, op)

    def ipi_targets(self, views, pmaps, frees_tables: bool) -> list:
        """mm_cpumask minus the lazy CPUs, unless page tables are freed (then all of them)."""
        return [v.id for v in views if frees_tables or v.state != LAZY]

    def after_ipi(self, view, op) -> None:
        """flush_tlb_func: a lazy CPU sent the flush (page tables are freed) switched to init_mm:
        its reference goes (mmdrop)."""
        self.k.counters["lazy_switched_to_init_mm"] += 1
        self.k.drop_cpu_ref(view, op)

    def check_rules(self, k) -> None:
        """A CPU running a pmap (VALID) is current to its generation; only lazy ones may lag."""
        for v in k.views:
            p = v.curpmap
            seen = v.seen_gen.get(p.id) if p is not None else None
            if v.state == VALID and seen is not None and 0 <= seen < p.tlb_gen and v.switch_flush == 0:
                k.violation("tlb_gen_behind", f"cpu{v.id} runs pmap {p.id} at generation {seen} "
                                              f"< {p.tlb_gen} without a flush")
