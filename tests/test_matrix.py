"""The design matrix (tests/matrix.py): pairwise over presets and switch values, in every quick config,
under the invariant checker; and the matrix is generated from the presets table and the PolicyConfig schema."""

from __future__ import annotations

import itertools
import math

import pytest

from smpsim.errors import InvariantViolation
from smpsim.experiments.config.policy import PolicyConfig
from smpsim.vm import design
from smpsim.vm.strategies.teardown_eager import EagerTeardown
from tests import matrix
from tests.broken import SkipLastTarget

CASES = matrix.pairwise_cases()
SLOW_CONFIGS = ("shared_eviction_quick", "exit_storm_images_quick", "memory_pressure_quick")  # 3/4 of the time


def _marks(c):
    return [pytest.mark.slow] * (c.config in SLOW_CONFIGS)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CASES])
def test_design_passes_every_check(case):
    result = matrix.run_case(case)       # an invariant violation or simulation error fails it
    assert result["counters"]["page_faults"] > 0


def _pairs(rows, factor_list):
    return {(a, ra[a], b, ra[b]) for ra in rows for a, b in itertools.combinations([n for n, _ in factor_list], 2)}


def _all_pairs(factor_list):
    return {(a, va, b, vb) for (a, xs), (b, ys) in itertools.combinations(factor_list, 2) for va in xs for vb in ys}


@pytest.mark.parametrize("sizes", [(2, 2, 2), (3, 3, 3, 3), (2, 3, 2, 2, 2, 2, 2), (5, 1, 4, 2)])
def test_pairwise_covers_every_pair_of_values(sizes):
    factor_list = [(f"f{i}", tuple(range(n))) for i, n in enumerate(sizes)]
    rows = matrix.pairwise(factor_list)
    assert _pairs(rows, factor_list) == _all_pairs(factor_list)
    a, b = sorted(sizes)[-2:]
    assert a * b <= len(rows) < a * b * 2            # no fewer than possible, far fewer than the product
    assert matrix.pairwise(factor_list) == rows      # deterministic


def test_suite_cases_cover_every_pair_in_every_quick_config():
    factor_list = matrix.factors()
    want = _all_pairs(factor_list)
    for config in matrix.quick_configs():
        rows = [dict(c.switches, preset=c.preset) for c in CASES if c.config == config]
        assert _pairs(rows, factor_list) == want, config
    assert set(matrix.quick_configs()) == {c.config for c in CASES} and "shared_eviction_quick" in {c.config
                                                                                                  for c in CASES}


def test_switches_are_the_policy_schema_and_their_values_the_registered_strategies():
    values = matrix.switch_values()
    assert set(values) == set(PolicyConfig.model_fields) - {"name", "preset"}
    for kind in set(values) & set(design.kinds()):
        assert values[kind] == design.strategy_values(kind)
    lo, hi = values["shootdown_batch"]
    assert lo < 6 < hi                                # a small and a large batch around the default
    assert dict(matrix.factors())["preset"] == design.preset_names()
    per_config = len(design.preset_names()) * math.prod(len(v) for v in values.values())
    assert matrix.count_all_cases() == len(matrix.quick_configs()) * per_config
    pinned = {name: vals[0] for name, vals in values.items() if name not in ("teardown", "pcid")}
    full = list(matrix.all_cases(pinned))              # the lazy product, small once most switches are pinned
    assert len(full) == matrix.count_all_cases(pinned) == len(matrix.quick_configs()) * per_config // \
        math.prod(len(v) for n, v in values.items() if n in pinned)
    assert {(dict(c.switches)["teardown"], dict(c.switches)["pcid"]) for c in full} == \
        set(itertools.product(values["teardown"], values["pcid"]))


class EagerAgain(EagerTeardown):
    """A new teardown value, registered from this file only."""


@pytest.fixture
def registry():
    """The design registry, left as it was found after a test adds to it."""
    with design.registered():
        yield design


def test_a_new_preset_and_strategy_join_the_matrix_without_editing_it(registry):
    npresets, nteardowns, before = len(design.PRESETS), len(design.strategy_values("teardown")), \
        matrix.count_all_cases()
    registry.register_strategy("teardown", "test_eager_again", EagerAgain)
    registry.register_preset("test_preset", dict(design.PRESETS["netbsd5"], teardown="test_eager_again"))
    cases = matrix.pairwise_cases()
    assert {c.config for c in cases if c.preset == "test_preset"} == set(matrix.quick_configs())
    assert {c.config for c in cases if dict(c.switches)["teardown"] == "test_eager_again"} == \
        set(matrix.quick_configs())
    assert matrix.count_all_cases() == before // (npresets * nteardowns) * (npresets + 1) * (nteardowns + 1)


def test_a_broken_preset_fails_its_matrix_cases(registry):
    # a preset whose shootdowns forget a target: the checker stops some of its cases
    registry.register_strategy("shootdown", "test_skip_target", SkipLastTarget)
    registry.register_preset("test_broken", dict(design.PRESETS["netbsd5"], shootdown="test_skip_target"))
    failures = []
    for case in matrix.pairwise_cases():
        if case.preset == "test_broken" and case.config == "munmap_fanout_quick":
            try:
                matrix.run_case(case)
            except InvariantViolation as e:
                failures.append(e.name)
    assert failures and set(failures) <= {"ptp_freed_early", "stale_tlb_entry"}
