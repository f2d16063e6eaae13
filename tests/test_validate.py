"""`smpsim validate` passes on the default costs and fails when a cost is set far off; every cost
cites a source or says it is a choice; docs/costs.md is generated from the cost model and current."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from smpsim.cli import main
from smpsim.costs import CostModel, markdown
from smpsim.experiments.validation import break_even_pages, flush_and_refill

ROOT = Path(__file__).resolve().parent.parent


def test_validate_passes_on_the_defaults():
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    for name in ("Amit", "Hansen", "LATR", "tlb_single_page_flush_ceiling", "Yang Shi"):
        assert name in result.output


def test_validate_fails_when_a_cost_is_far_off():
    result = CliRunner().invoke(main, ["validate", "--set", "costs.ipi_delivery=20000"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "outside their band" in result.output
    cheap_pv = CliRunner().invoke(main, ["validate", "--set", "pv_hash_step=0", "--set", "page_free=0"])
    assert cheap_pv.exit_code == 1 and "exit cost per resident page" in cheap_pv.output


def test_every_cost_names_a_source_or_says_it_is_a_choice():
    for name, field in CostModel.model_fields.items():
        d = field.description or ""
        assert re.search(r"(19|20)\d\d|choice|nviennot|as pte_atomic|as page_free|as ipi_delivery|estimate", d), name


def test_docs_costs_md_is_generated_from_the_cost_model():
    assert (ROOT / "docs" / "costs.md").read_text() == markdown(), \
        "docs/costs.md is stale: run `smpsim costs --markdown > docs/costs.md`"


def test_invlpg_of_64_pages_costs_more_than_a_full_flush_for_a_small_working_set_and_less_for_a_large_one():
    c = CostModel()
    assert flush_and_refill(c, 64, 64) > flush_and_refill(c, 64, None)
    assert flush_and_refill(c, 1536, 64) < flush_and_refill(c, 1536, None)
    # and the walk costs decide it: with free walks a full flush always wins
    free = CostModel(page_walk=0, page_walk_warm=0)
    assert flush_and_refill(free, 1536, 64) > flush_and_refill(free, 1536, None)
    assert break_even_pages(c, 1536) > break_even_pages(c, 256) > break_even_pages(c, 64)
