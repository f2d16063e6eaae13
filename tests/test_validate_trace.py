"""`smpsim validate --trace FILE`: the linux preset's replay of a recorded program held against
the real kernel's flush counts (cases of kind "trace")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smpsim.cli import main
from smpsim.trace.info import trace_info

TRACES = Path(__file__).resolve().parent.parent / "configs" / "traces"


def _validate(*args) -> tuple[int, dict]:
    r = CliRunner().invoke(main, ["validate", "--format", "json", *args])
    return r.exit_code, (json.loads(r.stdout) if r.stdout.startswith("{") else {"error": r.output})


def _cases(out: dict) -> dict:
    return {c["name"]: c for c in out["cases"]}


def test_small_counts_are_insufficient_neither_pass_nor_fail():
    code, out = _validate("--trace", str(TRACES / "sqlite.smpt"))
    cases = _cases(out)
    assert set(cases) == {"trace_sqlite_initiated", "trace_sqlite_remote_requested", "trace_sqlite_remote_queued"}
    real = trace_info(TRACES / "sqlite.smpt")["real"]
    assert cases["trace_sqlite_initiated"]["reference"] == real["initiated"] < 200
    assert all(c["status"] == "insufficient" and c["kind"] == "trace" for c in cases.values())
    assert code == 0


@pytest.mark.slow
def test_the_compressors_remote_flushes_hold_and_fail_without_the_zero_page():
    """xz's remote flushes come from zero-page replacements (a write to a page first read):
    with the zero page the linux preset's queued remote flushes match the real kernel's; with
    it switched off they all but vanish and the case fails."""
    trace = str(TRACES / "xz_t2.smpt")
    code, out = _validate("--trace", trace, "--case", "*remote_queued")
    queued = _cases(out)["trace_xz_t2_remote_queued"]
    assert queued["status"] == "pass" and 0.9 < queued["ratio"] < 1.1
    code_off, out_off = _validate("--trace", trace, "--case", "*remote_queued", "--set", "policy.zero_page=off")
    off = _cases(out_off)["trace_xz_t2_remote_queued"]
    assert code == 0 and code_off == 1 and off["status"] == "fail" and off["ratio"] < 0.05


def test_a_file_that_is_not_a_trace_is_refused_with_exit_2(tmp_path):
    bad = tmp_path / "x.smpt"
    bad.write_text("not a trace")
    r = CliRunner().invoke(main, ["validate", "--trace", str(bad)])
    assert r.exit_code == 2 and "not a usable smpsim trace" in r.output
