"""Linux's per-page zap (measure/results/dontneed_split.txt): the mmu_gather's batch page from the
7th gathered page, zap_rmap_drop for every unmapped PTE and rmap_last_unmap for a page's last
mapping, each through the calibration probes (the linux preset, one CPU)."""

from __future__ import annotations

from smpsim.costs import CostModel
from smpsim.experiments.calibration import probes
from smpsim.experiments.validate.contract import Setup
from smpsim.vm.strategies.flush_mmu_range import gather_batch_pages


def _dontneed(pages: int, **costs) -> float:
    return probes.madvise(Setup(costs=CostModel(**costs), ghz=2.5), pages)


def test_gather_batch_pages_follows_mmu_gather():
    assert [gather_batch_pages(n) for n in (0, 1, 6, 7, 515, 516, 10_000, 100_000)] == [0, 0, 0, 1, 1, 2, 19, 19]


def test_a_dontneed_of_seven_pages_pays_the_batch_page_and_six_do_not():
    base = {"gather_batch_page": 1000}
    step = (_dontneed(7, **base) - _dontneed(6, **base)) - (_dontneed(6, **base) - _dontneed(5, **base))
    none = {"gather_batch_page": 0}
    flat = (_dontneed(7, **none) - _dontneed(6, **none)) - (_dontneed(6, **none) - _dontneed(5, **none))
    assert step - flat == 1000


def test_every_unmapped_pte_costs_zap_rmap_drop_and_a_last_mapping_rmap_last_unmap():
    for entry in ("zap_rmap_drop", "rmap_last_unmap"):
        low, high = _dontneed(4, **{entry: 0}), _dontneed(4, **{entry: 100})
        assert high - low == 400, entry            # four pages, each its last mapping
    # a forked child's exit zaps PTEs its parent still maps: zap_rmap_drop, never rmap_last_unmap
    s0 = Setup(costs=CostModel(rmap_last_unmap=0), ghz=2.5)
    s1 = Setup(costs=CostModel(rmap_last_unmap=10_000), ghz=2.5)
    assert probes.fork_exit(s1, 64) - probes.fork_exit(s1, 1) == probes.fork_exit(s0, 64) - probes.fork_exit(s0, 1)
