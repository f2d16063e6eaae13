"""validate's flush-rule cases pass with the presets as shipped and fail, naming the case, when the
rule they check is switched off with `--set policy.flush_rule=...` (the netbsd5 gc exit case:
`--set policy.teardown=eager`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main

CASES = [("linux_range_curve", "va_count"), ("linux_range_curve", "page_or_all"),
         ("freebsd_munmap_1page", "va_count")]
SWITCHED = CASES + [("netbsd5_exit_one_flush", "teardown=eager")]


@pytest.mark.parametrize("name", sorted({c for c, _ in SWITCHED}))
def test_case_passes_as_shipped(name):
    r = CliRunner().invoke(main, ["validate", "--case", name])
    assert r.exit_code == 0, r.output
    assert name in r.output and "pass" in r.output


@pytest.mark.parametrize("name, rule", [(c, r if "=" in r else f"flush_rule={r}") for c, r in SWITCHED])
def test_case_fails_with_its_rule_switched_off(name, rule):
    r = CliRunner().invoke(main, ["validate", "--case", name, "--set", f"policy.{rule}"])
    assert r.exit_code == 1, r.output
    assert "outside their band" in r.output and name in r.output.splitlines()[-1]
