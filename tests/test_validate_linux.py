"""validate's Linux 6.13+ cases (smpsim/experiments/validate/linux.py): each passes with the presets
as shipped and fails, named, when its mechanism is switched off with `--set policy.X=`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main
from smpsim.experiments import validate as v

OFF = {
    "reclaim_batch_ipis": "policy.reclaim_batch=1",          # page-by-page reclaim flushes
    "global_asid_gating": "policy.global_asid=first_flush",  # no consider_global_asid gating
    "mm_cpumask_trim": "policy.mm_cpumask=lazy",             # the lazy mask without the trim
}


def test_every_linux_case_is_registered_with_its_switch():
    names = {c.name for c in v.CASES if c.measure.__module__ == "smpsim.experiments.validate.linux"}
    assert names == set(OFF)


@pytest.mark.parametrize("name", sorted(OFF))
def test_a_linux_case_passes_as_shipped_and_fails_named_with_its_mechanism_off(name):
    ok = CliRunner().invoke(main, ["validate", "--case", name])
    assert ok.exit_code == 0, ok.output
    off = CliRunner().invoke(main, ["validate", "--case", name, "--set", OFF[name]])
    assert off.exit_code == 1, off.output
    assert f"outside their band: {name}" in off.output
