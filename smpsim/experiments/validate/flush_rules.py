"""validate's flush-rule cases: what one removal's shootdown covers, per kernel (flush_rule).

Each case runs one removal on a small inline model (smpsim.experiments.validate.flush_scenario:
a process whose mm is loaded on 2 CPUs, a touched mapping, one munmap from CPU 0) under a
preset with the `policy.X=` switches applied, and reads what the shootdown did. The reference
is the kernel's own rule, read from its source; the case fails when the rule is switched off.
"""

from __future__ import annotations

from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.validate.flush_scenario import exit_deltas, remove_and_flush

KIND = "published"
CEILING = 33            # arch/x86/mm/tlb.c tlb_single_page_flush_ceiling


def _run(s: Setup, preset: str, n: int, whole: bool = False):
    return remove_and_flush(s.policy(preset), s.costs.model_dump(), n, whole=whole)


def _per_page(out, n: int) -> bool:
    return out.full_flushes == 0 and out.invlpg == 2 * n        # each of the 2 CPUs INVLPGs every page


@case("linux_range_curve", KIND,
      "Linux arch/x86/mm/tlb.c flush_tlb_mm_range, tlb_single_page_flush_ceiling = 33 (commit a5102476a24b, "
      "Hansen 2014); include/asm-generic/tlb.h __tlb_adjust_range, pte_free_tlb", (1.0, 1.0), "pages",
      note="linux: the largest munmap flushed page by page, partial or freeing its page table, "
           "given 34 and 64 pages flush fully and 64 costs the initiator less than 32 (0 otherwise)")
def linux_range_curve(s: Setup):
    preset = "linux"
    knee = 0
    for n in (1, 8, 32, 33):
        if _per_page(_run(s, preset, n), n) and _per_page(_run(s, preset, n, whole=True), n):
            knee = n
    above = [_run(s, preset, n) for n in (34, 64)]
    cost32 = _run(s, preset, 32).shootdown_cycles
    if not all(o.full_flushes == 1 and o.invlpg == 0 for o in above) or above[1].shootdown_cycles >= cost32:
        knee = 0
    return CEILING, knee


@case("freebsd_munmap_1page", KIND,
      "FreeBSD sys/amd64/amd64/pmap.c pmap_remove (sva + PAGE_SIZE == eva -> pmap_remove_page -> "
      "pmap_invalidate_page; a freed PTP goes on the delayed free list, pmap_unwire_ptp)", (1.0, 1.0),
      "INVLPGs per CPU", note="freebsd: munmap of a whole 1-page mapping (its page tables freed)")
def freebsd_munmap_1page(s: Setup):
    out = _run(s, "freebsd", 1, whole=True)
    return 1, 0 if out.full_flushes else out.invlpg / 2


@case("netbsd5_exit_one_flush", KIND,
      "NetBSD sys/arch/x86/x86/pmap.c v1.97 (2009): pmap_remove_all sets md_gc_pmap, pmap_tlb_shootdown returns "
      "early for it, pmap_update (from pmap_destroy) does one flush and frees the md_gc_ptp list", (1.0, 1.0),
      "flushes", note="netbsd5: flushes (local or shot down) in the exit of a 4-entry, 256-page process on 2 CPUs")
def netbsd5_exit_one_flush(s: Setup):
    deltas = exit_deltas(s.policy("netbsd5"), s.costs.model_dump())
    return 1, max(max(d.get("shootdown_exchanges", 0), d.get("local_flushes", 0)) for d in deltas)
