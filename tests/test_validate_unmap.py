"""validate's unmap cases (smpsim/experiments/validate/unmap.py): each passes with the presets as
shipped and fails, naming itself, when its mechanism is switched off with --set policy.X=."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main
from smpsim.experiments.validate import Setup
from smpsim.experiments.validate.unmap import reader_unblocked_fraction, zero_page_flushes_per_page

CASES = [("zero_page_remote_flush", "policy.zero_page=off"),
         ("munmap_lock_downgrade", "policy.map_lock=vm_map")]


@pytest.mark.parametrize("name,switch", CASES)
def test_case_passes_as_shipped_and_fails_with_its_mechanism_off(name, switch):
    ok = CliRunner().invoke(main, ["validate", "--case", name])
    assert ok.exit_code == 0, ok.output
    off = CliRunner().invoke(main, ["validate", "--case", name, "--set", switch])
    assert off.exit_code == 1, off.output
    assert "FAIL" in off.output and name in off.output


def test_zero_page_flush_is_one_remote_flush_per_page_under_linux_and_none_without_it():
    assert zero_page_flushes_per_page(Setup(), pages=8) == 1.0
    assert zero_page_flushes_per_page(Setup(switches={"zero_page": "off"}), pages=8) == 0.0


def test_a_reader_waits_for_the_removal_and_shootdown_under_the_vm_map_lock_only():
    assert reader_unblocked_fraction(Setup(), pages=512) > 0.99
    # vm_map: held off until vm_map_unlock, which comes before the pages are freed
    held = 1 - reader_unblocked_fraction(Setup(switches={"map_lock": "vm_map"}), pages=512)
    assert 0.1 < held < 0.9
