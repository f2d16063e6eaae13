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


@pytest.mark.slow
def test_the_compressors_local_flushes_hold_only_with_the_recording_machines_ipi_exit():
    """xz's two threads flush one mm at once: on the recording VM an IPI posted while the other CPU
    is in its own send's exit is taken before that CPU's local flush, which then finds it caught
    up. The bundled profile of that machine is found beside the trace; with its ipi_send_exit
    zeroed (bare metal) the model's local flushes overshoot the real ones and the case fails."""
    trace = str(TRACES / "xz_t2.smpt")
    code, out = _validate("--trace", trace)
    cases = _cases(out)
    assert code == 0 and all(c["status"] == "pass" for c in cases.values())
    initiated = cases["trace_xz_t2_initiated"]
    assert "a profile of the recording machine" in initiated["note"] and 0.9 < initiated["ratio"] < 1.1
    code_off, out_off = _validate("--trace", trace, "--case", "*initiated", "--set", "ipi_send_exit=0")
    assert code_off == 1 and _cases(out_off)["trace_xz_t2_initiated"]["ratio"] > 1.3


def test_the_costs_a_trace_ran_with_are_named_and_only_the_recording_machines_profile_is_picked(tmp_path):
    trace = tmp_path / "traces" / "sqlite.smpt"
    trace.parent.mkdir()
    trace.write_bytes((TRACES / "sqlite.smpt").read_bytes())
    _, out = _validate("--trace", str(trace), "--case", "*initiated")
    assert "the bare-metal defaults (recorded on a virtual machine" in _cases(out)["trace_sqlite_initiated"]["note"]
    bundled = (TRACES.parent / "profiles" / "kvm_epyc_2vcpu.toml").read_text()
    (tmp_path / "profiles").mkdir()
    other = tmp_path / "profiles" / "other.toml"
    other.write_text(bundled.replace('online_cpus = 2', 'online_cpus = 64'))
    (tmp_path / "traces" / "config.toml").write_text('name = "not a profile"\n')
    _, out = _validate("--trace", str(trace), "--case", "*initiated")
    assert "the bare-metal defaults" in _cases(out)["trace_sqlite_initiated"]["note"]     # another machine's
    _, out = _validate("--trace", str(trace), "--case", "*initiated", "--costs", str(other))
    assert "other.toml, a profile of another machine (online_cpus 64 vs 2)" in \
        _cases(out)["trace_sqlite_initiated"]["note"]
    (tmp_path / "profiles" / "same.toml").write_text(bundled)
    r = CliRunner().invoke(main, ["validate", "--trace", str(trace), "--case", "*initiated", "--format", "json"])
    assert "same.toml, a profile of the machine the trace was recorded on" in r.stderr
    assert "same.toml, a profile of the recording machine" in r.stdout


@pytest.mark.slow
def test_validate_passes_on_every_bundled_trace():
    """Every bundled trace's cases pass or, below the count thresholds, are insufficient, with
    the recording machine's profile found beside them; at least three traces are above them."""
    traces = sorted(TRACES.glob("*.smpt"))
    assert len(traces) >= 5
    code, out = _validate(*[a for t in traces for a in ("--trace", str(t))])
    cases = list(_cases(out).values())
    assert code == 0 and len(cases) == 3 * len(traces)
    assert {c["status"] for c in cases} <= {"pass", "insufficient"}
    passing = {c["name"].split("_initiated")[0].split("_remote_")[0] for c in cases if c["status"] == "pass"}
    assert passing == {"trace_make_j2", "trace_xz_t2", "trace_py_pool"}
