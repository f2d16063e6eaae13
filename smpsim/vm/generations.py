"""TLB generations: how a CPU that a shootdown skipped catches up before it uses the pmap again.

Models Linux's `tlb_gen` (arch/x86/mm/tlb.c: `inc_mm_tlb_gen` in `flush_tlb_mm_range`, and
`switch_mm_irqs_off` comparing `cpu_tlbstate.ctxs[asid].tlb_gen` with `mm->context.tlb_gen`),
which FreeBSD's per-CPU `pm_pcids[cpu].pm_gen` resembles. Every shootdown of a pmap bumps
`pmap.tlb_gen`; each CPU remembers, per pmap, the generation its entries are current to
(`view.seen_gen`). A CPU reached by the flush (IPI or broadcast) is current; a CPU it skipped (a
lazy Linux CPU, a CPU that switched to another mm and kept the entries under its ASID) is behind
and flushes the whole ASID before it uses the pmap: `switch_mm_irqs_off` sets `need_flush` when
the slot's tlb_gen is behind (back from lazy on the same mm: "TLB contents went out of date while
we were in lazy mode"; to another mm: `choose_new_asid`) and reloads CR3 without NOFLUSH; FreeBSD's
`pmap_activate_sw` likewise invalidates the whole PCID when its generation is stale. Only
`flush_tlb_func`, answering an IPI, replays a range one generation behind; a catch-up at a switch
never does (`tlb_gen_partial_flushes` stays 0; issue 20 found the earlier partial replay here).
"""

from __future__ import annotations


def bump(pmaps, vas) -> None:
    """A shootdown of `pmaps` (vas None: full) starts: a new generation for each."""
    n = None if vas is None else len(vas)
    for p in pmaps:
        p.tlb_gen += 1
        p.last_flush = n


def caught_up(k, cpus, pmaps) -> None:
    """`cpus` flushed for `pmaps` (reached by the shootdown): their entries are current."""
    for cpu in cpus:
        seen = k.views[cpu].seen_gen
        for p in pmaps:
            seen[p.id] = p.tlb_gen


def behind(view, pmap) -> bool:
    return view.seen_gen.get(pmap.id, -1) < pmap.tlb_gen


def catch_up(k, view, pmap, op) -> bool:
    """Before `view`'s CPU uses `pmap`: flush if its entries are behind. Returns True if it flushed."""
    seen = view.seen_gen.get(pmap.id)
    if seen is None or seen >= pmap.tlb_gen:      # never ran it here, or current
        view.seen_gen[pmap.id] = pmap.tlb_gen
        return False
    k.counters["tlb_gen_full_flushes"] += 1
    op.spend(k.costs.local_full_flush, "other")
    view.flush(k.tags.user_flush)
    view.seen_gen[pmap.id] = pmap.tlb_gen
    return True


def forget(view, pmap_id: int) -> None:
    """The CPU may hold entries of the pmap that no flush will reach (its ASID slot was reused,
    or a shootdown went out without it): it must flush all of them before it next uses the pmap."""
    view.seen_gen[pmap_id] = -1
