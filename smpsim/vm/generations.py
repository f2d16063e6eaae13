"""TLB generations: how a CPU that a shootdown skipped catches up before it uses the pmap again.

Models Linux's `tlb_gen` (arch/x86/mm/tlb.c: `inc_mm_tlb_gen` in `flush_tlb_mm_range`, and
`flush_tlb_func` / `switch_mm_irqs_off` comparing `cpu_tlbstate.ctxs[asid].tlb_gen` with
`mm->context.tlb_gen`), which FreeBSD's per-CPU `pm_pcids[cpu].pm_gen` resembles. Every
shootdown of a pmap bumps `pmap.tlb_gen`; each CPU remembers, per pmap, the generation its
entries are current to (`view.seen_gen`). A CPU reached by the flush (IPI or broadcast) is
current; a CPU it skipped (a lazy Linux CPU, a CPU that switched to another mm and kept the
entries under its ASID) is behind and flushes before it uses the pmap: a partial flush of the
last range when exactly one generation behind and that flush was partial, else a full flush of
the ASID, as `flush_tlb_func` decides. In the model the partial catch-up costs the range's
INVLPGs but drops every entry of the tag (a superset, so never less safe).
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
    c = k.costs
    if seen == pmap.tlb_gen - 1 and pmap.last_flush is not None:
        k.counters["tlb_gen_partial_flushes"] += 1
        op.spend(pmap.last_flush * c.invlpg, "other")
    else:
        k.counters["tlb_gen_full_flushes"] += 1
        op.spend(c.local_full_flush, "other")
    view.flush(k.tags.user_flush)
    view.seen_gen[pmap.id] = pmap.tlb_gen
    return True


def forget(view, pmap_id: int) -> None:
    """The CPU may hold entries of the pmap that no flush will reach (its ASID slot was reused,
    or a shootdown went out without it): it must flush all of them before it next uses the pmap."""
    view.seen_gen[pmap_id] = -1
