"""Lazy TLB as Linux x86 does it (`lazy_tlb = "linux"`): lazy mm, skipped by shootdowns, tlb_gen,
and the mm_cpumask rule of the kernel's version (`mm_cpumask`).

Models arch/x86/mm/tlb.c of Linux 6.x: `enter_lazy_tlb` keeps the user mm loaded (and, with
the lazy refcount, referenced) when a CPU goes idle or runs a kernel thread, and sets
`cpu_tlbstate_shared.is_lazy`; `native_flush_tlb_multi` skips lazy CPUs unless
`info->freed_tables` (page tables are being freed: `on_each_cpu_mask` over the whole mask, lazy
CPUs included); a lazy CPU that does get the IPI switches to `init_mm` in `flush_tlb_func`
(`switch_mm_irqs_off(NULL, &init_mm, NULL)`) and so lets go of the mm. A skipped CPU keeps stale
entries; when it runs the mm again `switch_mm_irqs_off` compares its ASID's `tlb_gen` with the
mm's and flushes: `smpsim.vm.generations.catch_up`.

The mm_cpumask rule (`mm_cpumask`, smpsim.vm.strategies.lazy_base):

- `eager` (before 6.13): `switch_mm_irqs_off` clears the CPU's bit in the previous mm's mask at
  every switch (`cpumask_clear_cpu(cpu, mm_cpumask(prev))`), and a lazy CPU switched to init_mm by
  a flush leaves it too; the mask is exactly the CPUs that have the mm loaded.
- `lazy` (209954cbc7d0, "x86/mm/tlb: Update mm_cpumask lazily"): the bit stays after a switch;
  the switch sets the next mm's bit only if it is clear (`cpumask_test_cpu` first), so a CPU that
  comes back writes nothing. `flush_tlb_func` on a CPU whose `loaded_mm` is not the flushed mm
  clears its bit and returns (tracepoint TLB_REMOTE_WRONG_CPU). `native_flush_tlb_multi` still
  chose targets with `tlb_is_not_lazy`, so every flush IPIs the CPUs that switched away (once:
  the IPI clears the bit), and a CPU switched to init_mm is no longer lazy.
- `lazy_trim` (6db2526c1d69, "x86/mm/tlb: Only trim the mm_cpumask once a second"; Linux 6.13+):
  `should_flush_tlb` skips lazy CPUs, takes CPUs whose `loaded_mm` is the mm, and takes a CPU
  that switched away only when `info->trim_cpumask`, which `flush_tlb_mm_range` sets from
  `should_trim_cpumask(mm)` when the mask holds another CPU: `time_after(jiffies,
  mm->context.next_trim_cpumask)`, which then moves `next_trim_cpumask` to `jiffies + HZ`.
  `init_new_context` sets it to `jiffies + HZ`, so an mm is first trimmed a second after it is
  created (here: a second after a CPU first activates it). The comparison is of jiffies
  (`smpsim.vm.jiffies`), so the trim fires at the first multi-CPU flush after each second
  boundary; a run shorter than a second never trims. `freed_tables` still IPIs the whole mask
  (an mmu_gather that freed page tables, and every `flush_tlb_mm`, such as fork's).

Reclaim's batched flush (`arch_tlbbatch_flush`, shootdown reason `reclaim_batch`) carries no mm:
`should_flush_tlb` returns true for every CPU of the gathered masks that is not lazy (`!info->mm`),
switched-away CPUs included under either lazy rule.

Every set or clear of a bit is a locked RMW on the mask's cache line (`pte_atomic`, plus the line
transfer from its last writer, smpsim.vm.topology): the contention 209954cbc7d0 removes from the
context switch. A switched-away CPU that a flush reaches is sent an empty request (no flush; it is
not current to the new generation, so it flushes when it runs the mm again) and its bit is cleared.
"""

from __future__ import annotations

from smpsim.protocol import LAZY, VALID
from smpsim.vm import generations
from smpsim.vm.jiffies import HZ, jiffies
from smpsim.vm.strategies.lazy_base import EAGER, LAZY_TRIM, LazyTlbStrategy
from smpsim.vm.topology import LineMap


class LinuxLazyTlb(LazyTlbStrategy):
    def __init__(self, k, mm_cpumask: str = EAGER):
        super().__init__(k, mm_cpumask)
        self.mask_lines = LineMap()            # last writer of each mm's mm_cpumask line
        self.next_trim: dict[int, int] = {}    # pmap id -> mm->context.next_trim_cpumask (jiffies)

    def deactivate(self, view, op) -> None:
        view.state = LAZY                      # enter_lazy_tlb: the mm stays loaded and referenced

    def reactivate(self, view, pmap, op) -> None:
        """switch_mm_irqs_off back to the lazily held mm: catch up on skipped generations."""
        generations.catch_up(self.k, view, pmap, op)

    # --- mm_cpumask --------------------------------------------------------------------------
    def _write_mask(self, pmap, cpu: int) -> int:
        """A locked set or clear of `cpu`'s bit in the mm's mask: its cycles."""
        k = self.k
        k.counters["mm_cpumask_writes"] += 1
        return k.costs.pte_atomic + self.mask_lines.write(pmap.id, cpu, k.topology)

    def join_cpumask(self, pmap, view, op) -> None:
        """switch_mm_irqs_off: set the bit (lazy rules: only when clear); init_new_context's
        next_trim_cpumask = jiffies + HZ, taken at the mm's first activation."""
        self.next_trim.setdefault(pmap.id, jiffies(self.k, op.t) + HZ)
        if self.mm_cpumask == EAGER or view.id not in pmap.pm_cpus:
            op.spend(self._write_mask(pmap, view.id), "other")
        pmap.pm_cpus.add(view.id)

    def leave_cpumask(self, pmap, view, op) -> None:
        """Before 6.13 the switch clears the bit; since 209954cbc7d0 it stays for a flush to clear."""
        if self.mm_cpumask == EAGER and view.id in pmap.pm_cpus:
            op.spend(self._write_mask(pmap, view.id), "other")
            pmap.pm_cpus.discard(view.id)

    def switched_away(self, view, pmaps) -> bool:
        """In the mask but running another mm (or init_mm): flush_tlb_func's `f->mm != loaded_mm`."""
        return view.curpmap not in pmaps or view.state not in (VALID, LAZY)

    def clear_switched_away(self, view, pmaps) -> int:
        """flush_tlb_func on a switched-away CPU: clear its bit in the flushed mms' masks and
        return without flushing. Returns the cycles the clear took on that CPU."""
        cycles = 0
        for p in pmaps:
            if view.id in p.pm_cpus:
                p.pm_cpus.discard(view.id)
                cycles += self._write_mask(p, view.id)
        self.k.counters["ipis_to_switched_away"] += 1
        return cycles

    # --- which CPUs a flush interrupts ------------------------------------------------------
    def should_trim(self, pmaps, now: int) -> bool:
        """should_trim_cpumask: time_after(jiffies, next_trim_cpumask), then a second later."""
        if self.mm_cpumask != LAZY_TRIM:
            return False
        j = jiffies(self.k, now)
        trim = False
        for p in pmaps:
            if j > self.next_trim.setdefault(p.id, j + HZ):
                self.next_trim[p.id] = j + HZ
                trim = True
        if trim:
            self.k.counters["mm_cpumask_trims"] += 1
        return trim

    def ipi_targets(self, views, pmaps, frees_tables: bool, now: int = 0, no_mm: bool = False) -> list:
        """native_flush_tlb_multi: the whole mask when page tables are freed; else the CPUs that
        are not lazy (before 6.13 and 209954cbc7d0: tlb_is_not_lazy), or since 6db2526c1d69 those
        running the mm plus, on a trim, the switched-away ones (should_flush_tlb)."""
        if frees_tables:
            return [v.id for v in views]
        awake = [v for v in views if v.state != LAZY]
        if self.mm_cpumask != LAZY_TRIM or no_mm or not awake or self.should_trim(pmaps, now):
            return [v.id for v in awake]
        return [v.id for v in awake if not self.switched_away(v, pmaps)]

    def after_ipi(self, view, op) -> None:
        """flush_tlb_func: a lazy CPU sent the flush (page tables are freed) switched to init_mm:
        its reference goes (mmdrop); under the lazy rules its bit stays in the mask."""
        self.k.counters["lazy_switched_to_init_mm"] += 1
        pmap = view.curpmap
        self.k.drop_cpu_ref(view, op)
        if self.mm_cpumask != EAGER:
            pmap.pm_cpus.add(view.id)          # switch_mm_irqs_off no longer clears it

    def check_rules(self, k) -> None:
        """A CPU running a pmap (VALID) is current to its generation; only lazy ones may lag."""
        for v in k.views:
            p = v.curpmap
            seen = v.seen_gen.get(p.id) if p is not None else None
            if v.state == VALID and seen is not None and 0 <= seen < p.tlb_gen and v.switch_flush == 0:
                k.violation("tlb_gen_behind", f"cpu{v.id} runs pmap {p.id} at generation {seen} "
                                              f"< {p.tlb_gen} without a flush")
