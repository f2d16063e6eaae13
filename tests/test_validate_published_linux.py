"""validate's multi-socket shootdown cases (LATR measured Linux) go through the linux preset's own
path: they pass as shipped and fail when the shootdown is switched to FreeBSD's descriptor
(`per_cpu`, one all-but-self IPI and no per-target queueing)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main


@pytest.mark.parametrize("name", ["shootdown_all_16", "shootdown_all_120"])
def test_linux_path_passes_as_shipped(name):
    r = CliRunner().invoke(main, ["validate", "--case", name])
    assert r.exit_code == 0, r.output


def test_the_120_core_case_reads_the_linux_shootdown():
    r = CliRunner().invoke(main, ["validate", "--case", "shootdown_all_120", "--set", "policy.shootdown=per_cpu"])
    assert r.exit_code == 1 and "shootdown_all_120" in r.output.splitlines()[-1], r.output
