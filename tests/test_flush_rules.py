"""The per-kernel flush rules (flush_rule): what one removal's shootdown covers.

The removal is one parameter (`OPERATION`): munmap today; madvise(MADV_DONTNEED) goes through
the same pmap_remove / pmap_update path and can be passed in the same way.
"""

from __future__ import annotations

import pytest

from smpsim.experiments.config import PolicyConfig
from smpsim.experiments.validate.flush_scenario import munmap, remove_and_flush

OPERATION = munmap
SIZES = (1, 8, 32, 33, 34, 64)


def _policy(preset: str, **switches) -> PolicyConfig:
    return PolicyConfig.model_validate({"name": preset, "preset": preset, **switches})


def _run(preset, n, **kw):
    switches = kw.pop("switches", {})
    return remove_and_flush(_policy(preset, **switches), {}, n, operation=OPERATION, **kw)


@pytest.mark.parametrize("preset", ["linux", "linux_invlpgb"])
def test_linux_invlpg_per_page_up_to_33_then_a_full_flush(preset):
    # 1 MB mapping loaded on 2 CPUs; each CPU INVLPGs every page of the range up to 33 pages
    out = {n: _run(preset, n) for n in SIZES}
    for n in (1, 8, 32, 33):
        assert out[n].invlpg == 2 * n and out[n].full_flushes == 0, (n, out[n])
    for n in (34, 64):
        assert out[n].invlpg == 0 and out[n].full_flushes == 1, (n, out[n])
    assert out[64].shootdown_cycles < out[32].shootdown_cycles     # 64 pages cheaper than 32


def test_linux_range_rule_freeing_a_page_table_keeps_the_knee_at_33():
    # a whole 33-page mapping unmapped frees its page tables: Linux widens the range to the
    # table's base (inside the range here) and still INVLPGs 33 pages; NetBSD's PTP-VA rule in
    # Linux's place adds two addresses and tips it into a full flush
    whole = _run("linux", 33, whole=True)
    assert whole.ptps_freed > 0 and whole.invlpg == 66 and whole.full_flushes == 0
    off = _run("linux", 33, whole=True, switches={"flush_rule": "va_count"})
    assert off.full_flushes == 1 and off.invlpg == 0


def test_linux_range_counts_holes():
    # the gathered range is start..end, not a count of addresses: a 40-page range with only its
    # first and last pages still mapped is a full flush under Linux, two INVLPGs per CPU under
    # NetBSD's count in its place
    seen = {}

    def sparse(k, op, proc, start, n):
        munmap(k, op, proc, start + 1, n - 2)            # make the holes first (their own flush)
        before = dict(k.counters)
        munmap(k, op, proc, start, n)
        seen.update(k.counters.delta(before))

    for rule, invlpg, full in (("mmu_range", 0, 1), ("va_count", 4, 0)):
        seen.clear()
        remove_and_flush(_policy("linux", flush_rule=rule), {}, 40, operation=sparse)
        assert (seen.get("shootdown_invlpg", 0), seen.get("shootdown_full_flushes", 0)) == (invlpg, full), rule


def test_freebsd_one_page_munmap_invalidates_one_page():
    one = _run("freebsd", 1)
    assert one.invlpg == 2 and one.full_flushes == 0
    # even when it frees the page table (no extra VA: the PTP waits on the delayed free list)
    whole = _run("freebsd", 1, whole=True)
    assert whole.ptps_freed > 0 and whole.invlpg == 2 and whole.full_flushes == 0
    for n in (8, 33):
        assert _run("freebsd", n).full_flushes == 1                 # pmap_invalidate_all


def test_freebsd_without_its_rule_a_one_page_munmap_that_frees_a_table_flushes_everything():
    off = _run("freebsd", 1, whole=True, switches={"flush_rule": "va_count"})
    assert off.full_flushes == 1 and off.invlpg == 0


def test_netbsd_accessed_bit_elision_is_netbsds_alone():
    # prefaulted, never-referenced PTEs (PG_U clear): NetBSD queues nothing for them
    def untouched(k, op, proc, start, n):
        for va in range(start, start + n):
            proc.pmap.pte(va).ref = False
        munmap(k, op, proc, start, n)
    nb = remove_and_flush(_policy("netbsd10"), {}, 4, operation=untouched)
    assert nb.invlpg == 0 and nb.exchanges == 0
    lx = remove_and_flush(_policy("linux"), {}, 4, operation=untouched)
    assert lx.invlpg == 8
    fb = remove_and_flush(_policy("freebsd"), {}, 1, operation=untouched)
    assert fb.invlpg == 2
