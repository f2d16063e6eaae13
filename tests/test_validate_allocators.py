"""validate's page-allocator cases pass with the presets as shipped and fail, named, when the
allocator is switched back to the 2011 global free-page lock (`--set policy.page_alloc=global`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from smpsim.cli import main

CASES = ("pcp_zone_lock_share", "pgflcache_contention")


@pytest.mark.parametrize("name", CASES)
def test_allocator_case_passes_as_shipped_and_fails_with_the_global_lock(name):
    ok = CliRunner().invoke(main, ["validate", "--case", name])
    assert ok.exit_code == 0, ok.output
    off = CliRunner().invoke(main, ["validate", "--case", name, "--set", "policy.page_alloc=global"])
    assert off.exit_code == 1, off.output
    assert f"outside their band: {name}" in off.output
