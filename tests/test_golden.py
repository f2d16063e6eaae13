"""Every bundled config, run inline, gives exactly its golden results (tests/golden.py)."""

from __future__ import annotations

import pytest

from tests import golden


@pytest.mark.parametrize("config", [pytest.param(c, marks=pytest.mark.slow) if c.startswith("study_") else c
                                    for c in golden.CONFIGS])
def test_config_matches_golden(config, tmp_path):
    spath, epath = golden.paths(config)
    assert spath.is_file() and epath.is_file(), f"no golden files for {config}: run scripts/regen-golden {config}"
    want_summary, want_events = golden.read(config)
    summary, events = golden.simulate(config, tmp_path)
    diff = golden.first_difference(want_events, events)
    assert diff is None, f"{config}: {diff} (if the change is on purpose: scripts/regen-golden {config})"
    assert summary == want_summary, f"{config}: summary differs from golden (events agree)"


def test_golden_compare_finds_a_moved_result():
    events = [{"event": "exit", "point": "base", "policy": "p", "epoch": 3, "cycles": 10}]
    moved = [dict(events[0], cycles=11)]
    assert golden.first_difference(events, events) is None
    assert "cycles" in golden.first_difference(events, moved)
    assert "events" in golden.first_difference(events, events + events)
