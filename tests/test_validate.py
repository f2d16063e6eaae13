"""`smpsim validate` passes on the default costs and fails when a cost is set far off; its JSON
contract, exit codes, --case and --set (costs, policy switches, the clock); every cost cites a source
or says it is a choice; docs/costs.md is generated from the cost model and current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from click.testing import CliRunner

from smpsim.cli import main
from smpsim.costs import CostModel
from smpsim.experiments.calibration.docs import markdown
from smpsim.experiments import validate as v
from smpsim.experiments.validate.model import break_even_pages, flush_and_refill

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_validate_passes_on_the_defaults():
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    for name in ("Amit", "Hansen", "LATR", "tlb_single_page_flush_ceiling", "Yang Shi"):
        assert name in result.output


def test_validate_fails_when_a_cost_is_far_off():
    result = CliRunner().invoke(main, ["validate", "--set", "costs.ipi_delivery=20000", "--case", "ipi_*"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "outside their band" in result.output
    cheap_pv = CliRunner().invoke(main, ["validate", "--set", "pv_hash_step=0", "--set", "page_free=0",
                                         "--case", "exit_per_page"])
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


FIELDS = ["name", "kind", "source", "reference", "simulated", "ratio", "band", "unit", "pass", "status", "note"]


def _json(*args) -> tuple[int, dict | None, str]:
    r = CliRunner().invoke(main, ["validate", "--format", "json", *args])
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = None
    return r.exit_code, doc, r.output


def test_json_is_the_contract_and_every_case_is_named_and_passes():
    code, doc, out = _json()
    assert code == 0, out
    assert list(doc) == ["cases"] and len(doc["cases"]) == len(v.CASES) >= 9
    for c in doc["cases"]:
        assert list(c) == FIELDS
        assert c["kind"] in ("published", "measured") and c["pass"] is True and c["source"]
        assert len(c["band"]) == 2 and c["band"][0] <= c["ratio"] <= c["band"][1]
        assert c["ratio"] == pytest.approx(c["simulated"] / c["reference"])
    assert len({c["name"] for c in doc["cases"]}) == len(doc["cases"])


def test_case_selects_by_name_or_pattern_and_an_unknown_one_is_bad_input():
    code, doc, _ = _json("--case", "ipi_round_trip", "--case", "shootdown_all_*")
    assert code == 0 and [c["name"] for c in doc["cases"]] == ["ipi_round_trip", "shootdown_all_16",
                                                               "shootdown_all_120"]
    r = CliRunner().invoke(main, ["validate", "--case", "no_such_case"])
    assert r.exit_code == 2 and "no_such_case" in r.output and "ipi_round_trip" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_a_cost_override_that_leaves_a_band_exits_1():
    code, doc, _ = _json("--case", "ipi_round_trip", "--set", "costs.ipi_delivery=20000")
    assert code == 1 and doc["cases"][0]["pass"] is False


def test_a_policy_switch_is_applied_to_the_preset_under_test():
    _, base, _ = _json("--case", "ipi_round_trip", "--case", "flush_range_4_vs_1")
    code, before, _ = _json("--case", "ipi_round_trip", "--case", "flush_range_4_vs_1",
                            "--set", "policy.shootdown_ack=before")
    # acknowledging before the flush takes the target's flush off the initiator's wait
    assert before["cases"][0]["simulated"] == base["cases"][0]["simulated"] - CostModel().invlpg
    assert code == 1 and before["cases"][1]["pass"] is False       # 4 pages then cost what 1 page does
    code, teardown, _ = _json("--case", "exit_per_page", "--set", "policy.teardown=eager")
    assert code == 0 and teardown["cases"][0]["pass"]


@pytest.mark.parametrize("setting, words", [
    ("policy.shootdown_ack=sideways", ["policy.shootdown_ack", "'before' or 'after'"]),
    ("policy.no_such_switch=1", ["policy.no_such_switch", "shootdown_ack"]),
    ("policy.preset=linux", ["policy.preset", "teardown"]),
    ("costs.no_such_cost=1", ["costs.no_such_cost", "ipi_delivery"]),
    ("costs.invlpg=-1", ["costs.invlpg", "greater than or equal to 0"]),
    ("machine.ncpus=8", ["machine.ncpus", "ghz"]),
    ("machine.ghz=2500", ["machine.ghz", "less than or equal to 10"]),
    ("no_equals_sign", ["KEY=VALUE"]),
])
def test_bad_input_exits_2_with_one_line_naming_what_is_allowed(setting, words):
    r = CliRunner().invoke(main, ["validate", "--set", setting])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("smpsim: error: --set") and len(r.output.strip().splitlines()) == 1
    for w in words:
        assert w in r.output


def test_published_times_become_cycles_at_the_machine_clock():
    _, base, _ = _json("--case", "ipi_round_trip", "--case", "flush_ceiling")
    _, fast, _ = _json("--case", "ipi_round_trip", "--case", "flush_ceiling", "--set", "machine.ghz=5.0")
    assert base["cases"][0]["reference"] == 775 * 2.5 and fast["cases"][0]["reference"] == 775 * 5.0
    assert [c["simulated"] for c in fast["cases"]] == [c["simulated"] for c in base["cases"]]
    assert fast["cases"][1]["reference"] == base["cases"][1]["reference"]      # not a time


def test_a_case_of_a_new_kind_is_one_function(monkeypatch):
    monkeypatch.setattr(v.contract, "CASES", list(v.CASES))
    @v.case("toy_trace", "trace", "a replayed trace (test)", (0.9, 1.1), unit="cycles", note="toy")
    def toy(s: v.Setup):
        return 100, s.costs.invlpg
    [r] = v.run(v.Setup(), ["toy_trace"])
    assert r.kind == "trace" and r.reference == 100 and r.simulated == CostModel().invlpg and not r.passed
