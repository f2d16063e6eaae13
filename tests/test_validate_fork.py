"""validate's fork cases (smpsim/experiments/validate/fork.py) pass with the presets as shipped and
fail, naming the case, when their mechanism is switched off: Linux's PTE copy (policy.fork=uvm)
or the fixed fork/exit/wait costs (set back to the model before them)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main

CASES = ("fork_exit_fixed", "fork_exit_per_page", "fork_exit_slope_linux_over_netbsd")


def _validate(*args):
    return CliRunner().invoke(main, ["validate", *args])


def test_the_fork_cases_pass_as_shipped():
    result = _validate(*(a for c in CASES for a in ("--case", c)))
    assert result.exit_code == 0, result.output
    for name in CASES:
        assert name in result.output
    assert "FAIL" not in result.output and "measure/fork_exit.c" in result.output


@pytest.mark.parametrize("name", ["fork_exit_per_page", "fork_exit_slope_linux_over_netbsd"])
def test_the_per_page_cases_fail_without_linux_copy_page_range(name):
    result = _validate("--case", name, "--set", "policy.fork=uvm")
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and name in result.output.splitlines()[-1]


def test_the_fixed_cost_case_fails_without_the_fixed_costs():
    result = _validate("--case", "fork_exit_fixed", "--set", "costs.fork_fixed=2000",
                       "--set", "costs.exit_fixed=0", "--set", "costs.wait_fixed=0")
    assert result.exit_code == 1, result.output
    assert "fork_exit_fixed" in result.output.splitlines()[-1]


def test_the_per_page_case_fails_without_the_childs_zap():
    """The child's exit zapping what fork gave it is half of Linux's slope: without the rmap drop
    the per-page case leaves its band."""
    result = _validate("--case", "fork_exit_per_page", "--set", "costs.zap_rmap_drop=0")
    assert result.exit_code == 1, result.output
