"""The real kernel beside the designs: analyze, compare and report of a run that replayed a
recorded program show the real kernel's flushes per category next to each policy's model
counter for it (smpsim.trace.compare), and the real median call durations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smpsim.analysis.analyze import analyze_run
from smpsim.analysis.compare import compare_runs
from smpsim.analysis.load import load_run
from smpsim.analysis.report import build_report
from smpsim.experiments.runner import RunRequest, run
from smpsim.trace.compare import MODEL_COUNTERS, call_durations, model_count
from smpsim.trace.info import trace_info

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("real")
    trace = tmp / "sqlite.smpt"
    shutil.copy(ROOT / "configs" / "traces" / "sqlite.smpt", trace)
    config = tmp / "c.toml"
    config.write_text(f'name = "real"\n[machine]\nncpus = 2\nquantum_cycles = 25000\n[workload]\nkind = "trace"\n'
                      f'trace = "{trace.name}"\n[run]\nmax_epochs = 1000000\n'
                      f'[[policies]]\nname = "linux"\n[[policies]]\nname = "netbsd5"\n')
    run(RunRequest(config_path=str(config), backend="inline", out=str(tmp / "run"), progress=False))
    return tmp / "run", trace


def test_analyze_json_has_the_real_counts_and_each_policys_model_counter(replayed):
    run_dir, trace = replayed
    doc = json.loads(analyze_run(load_run(run_dir), "json"))
    real = doc["real"]["base"]
    assert real["real"] == trace_info(trace)["real"]
    assert real["durations"] == json.loads(json.dumps(call_durations(trace)))
    for r in doc["results"]:
        assert real["model"][r["policy"]] == {c: model_count(r["counters"], c) for c in MODEL_COUNTERS}
    assert real["model"]["linux"]["remote_queued"] == next(r for r in doc["results"]
                                                           if r["policy"] == "linux")["counters"]["shootdown_ipis"]


def test_the_table_report_and_compare_show_the_real_column(replayed):
    run_dir, trace = replayed
    text = analyze_run(load_run(run_dir))
    initiated = trace_info(trace)["real"]["initiated"]
    line = next(line for line in text.splitlines() if line.startswith("flushes initiated"))
    assert line.split()[2] == f"{initiated:,}"
    assert "real durations at 2.5 GHz, the run's machine.ghz (no cost profile)" in text
    assert "The real kernel beside the designs" in build_report(run_dir).read_text()
    assert "the real kernel beside the designs" in compare_runs([run_dir])
    assert json.loads(compare_runs([run_dir], fmt="json"))["points"][0]["real"]["run"]["real"]["initiated"] == initiated


def test_a_trace_no_longer_where_the_run_read_it_is_said_not_a_traceback(replayed, tmp_path):
    run_dir, trace = replayed
    moved = tmp_path / "run"
    shutil.copytree(run_dir, moved)
    for cfg in moved.rglob("config.toml"):
        cfg.write_text(cfg.read_text().replace(str(trace), str(tmp_path / "gone.smpt")))
    assert "cannot be read here" in analyze_run(load_run(moved))


def test_real_durations_say_whether_the_clock_is_the_recording_machines(replayed, tmp_path):
    """A run given a profile measured on the machine the trace was recorded on converts with its
    clock; a profile of another machine is named as such."""
    from smpsim.analysis.real import clock_of
    from smpsim.trace.format import TraceReader
    run_dir, trace = replayed
    machine = TraceReader(trace).header["machine"]
    (tmp_path / "costs_profile.toml").write_bytes((ROOT / "configs/profiles/kvm_epyc_2vcpu.toml").read_bytes())
    here = type("Run", (), {"path": tmp_path})()
    assert clock_of(here, machine) == "the clock of the run's cost profile, measured on the recording machine"
    assert "another machine (kernel_release" in clock_of(here, {**machine, "kernel_release": "5.4"})


def test_a_trace_that_changed_since_the_run_is_not_shown_as_its_real_kernel(replayed, tmp_path):
    run_dir, trace = replayed
    recorded = json.loads((run_dir / "run.json").read_text())["traces"][str(trace)]
    assert recorded["bytes"] == trace.stat().st_size and len(recorded["sha256"]) == 64
    saved = trace.read_bytes()
    try:
        shutil.copy(ROOT / "configs" / "traces" / "pipeline.smpt", trace)
        text = analyze_run(load_run(run_dir))
        assert "it has changed since the run" in text and "flushes initiated" not in text
    finally:
        trace.write_bytes(saved)


def test_analyze_csv_has_the_real_rows(replayed):
    run_dir, trace = replayed
    rows = [line.split(",") for line in analyze_run(load_run(run_dir), "csv").splitlines()]
    real = {r[3]: int(r[4]) for r in rows if r[2] == "real"}
    assert real["flushes.initiated"] == trace_info(trace)["real"]["initiated"]
    assert {r[2] for r in rows if r[3] == "flushes.remote_queued"} == {"real", "linux", "netbsd5"}
    cmp = [line.split(",") for line in compare_runs([run_dir], fmt="csv").splitlines()]
    assert [r[3] for r in cmp if r[1] == "flushes.initiated" and r[2] == "real"] == [str(real["flushes.initiated"])]
