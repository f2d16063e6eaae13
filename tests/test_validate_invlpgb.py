"""validate's INVLPGB cases (smpsim/experiments/validate/invlpgb.py): each passes with the presets as
shipped and fails, named, when its mechanism is switched off with `--set policy.X=`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main
from smpsim.experiments import validate as v

OFF = {
    "invlpgb_lru_bound": "policy.lru_batch=0",                  # the LRU lock no longer binds
    "invlpgb_gain_without_lru_drain": "policy.shootdown=call_function",  # IPIs instead of INVLPGB
}


def test_every_invlpgb_case_is_registered_with_its_switch():
    names = {c.name for c in v.CASES if c.measure.__module__ == "smpsim.experiments.validate.invlpgb"}
    assert names == set(OFF)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OFF))
def test_an_invlpgb_case_passes_as_shipped_and_fails_named_with_its_mechanism_off(name):
    ok = CliRunner().invoke(main, ["validate", "--case", name])
    assert ok.exit_code == 0, ok.output
    off = CliRunner().invoke(main, ["validate", "--case", name, "--set", OFF[name]])
    assert off.exit_code == 1, off.output
    assert f"outside their band: {name}" in off.output
