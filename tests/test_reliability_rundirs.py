"""Issue 11, items 1 and 6: no lost or mixed results (run directories of runs in the same second,
resumes refused when they would mix configs, locks), and config strings that became paths (names
that cannot escape, point directories that stay flat).

The rest of issue 11: test_reliability_limits.py (items 2, 3, 5), test_reliability_inputs.py (items 7-9),
test_reliability_io.py (item 4) and test_reliability_ray.py (item 5 on Ray).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from smpsim.experiments import runner
from tests.reliability_helpers import (CONFIGS, ROOT, TINY, assert_refused, bundled, cli, completed_run,
                                       events_are_one_run, files_under, read_json, write_config)


@pytest.fixture
def tiny(tmp_path):
    return write_config(tmp_path / "tiny.toml", TINY)


# --- 1. results lost or mixed -------------------------------------------------------------------

class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 27, 16, 0, 0, tzinfo=timezone.utc)


def test_two_runs_in_the_same_second_get_their_own_directories(tmp_path, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "datetime", _FrozenClock)
    assert cli("run", tiny, "--backend", "inline", "--quiet").code == 0
    assert cli("run", tiny, "--backend", "inline", "--quiet").code == 0
    dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert dirs == ["20261127T160000Z-tiny", "20261127T160000Z-tiny-2"]
    for d in dirs:
        assert read_json(tmp_path / "runs" / d / "run.json")["status"] == "completed"
        assert events_are_one_run(tmp_path / "runs" / d / "base" / "events.jsonl")


SAME_SECOND = """
import sys
from datetime import datetime, timezone
import smpsim.experiments.runner as r
class Frozen(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 27, 16, 0, 0, tzinfo=timezone.utc)
r.datetime = Frozen
from smpsim.cli import main
sys.argv = ["smpsim", "run", sys.argv[1], "--backend", "inline", "--quiet"]
main()
"""


def test_concurrent_runs_in_the_same_second_both_complete_with_consistent_results(tmp_path):
    """Two processes, both stamped with the same second, started together."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    config = CONFIGS / "fork_exit_quick.toml"
    procs = [subprocess.Popen([sys.executable, "-c", SAME_SECOND, str(config)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    dirs = sorted((tmp_path / "runs").iterdir())
    assert [d.name for d in dirs] == ["20261127T160000Z-fork_exit_quick", "20261127T160000Z-fork_exit_quick-2"]
    summaries = []
    for d in dirs:
        assert read_json(d / "run.json")["status"] == "completed"
        assert events_are_one_run(d / "base" / "events.jsonl")
        s = read_json(d / "summary.json")
        summaries.append([(e["policy"], e["counters"], e["sim_cycles"]) for e in s["points"]])
    assert summaries[0] == summaries[1]          # each is the whole, unmixed result of the same config


def test_create_run_dir_is_atomic_and_unique(tmp_path):
    from smpsim.rundir.files import create_run_dir
    made = [create_run_dir(tmp_path, "x") for _ in range(5)]
    assert [p.name for p in made] == ["x", "x-2", "x-3", "x-4", "x-5"]


def _sweep_run(tmp_path) -> Path:
    data = copy.deepcopy(TINY)
    data["sweep"] = {"machine.ncpus": [2, 3]}
    return completed_run(tmp_path, write_config(tmp_path / "sweep.toml", data))


def _mark_unfinished(run_dir: Path, point: str) -> None:
    pj = run_dir / point / "run.json"
    st = read_json(pj)
    st["status"] = "interrupted"
    pj.write_text(json.dumps(st))


def test_resume_refuses_set_and_says_how_to_start_a_new_run(tmp_path):
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    before = (run_dir / "summary.json").read_bytes()
    r = cli("run", "--resume", run_dir, "--set", "workload.processes=1", "--backend", "inline")
    assert_refused(r, "cannot take --set", "--out NEW_DIR", str(run_dir / "config.toml"))
    assert (run_dir / "summary.json").read_bytes() == before


def test_resume_refuses_a_config_argument(tmp_path, tiny):
    run_dir = _sweep_run(tmp_path)
    assert_refused(cli("run", tiny, "--resume", run_dir, "--backend", "inline"), "not both", "--out NEW_DIR")


def test_resume_refuses_a_config_that_would_resolve_differently(tmp_path):
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    text = (run_dir / "config.toml").read_text()
    # a config.toml that is not the resolved form (here: a key left to a default) would run
    # the remaining points with whatever this smpsim's default is
    (run_dir / "config.toml").write_text(text.replace("tail_epochs = 2\n", ""))
    assert_refused(cli("run", "--resume", run_dir, "--backend", "inline"), "run.tail_epochs", "--out NEW_DIR")


def test_resume_refuses_when_a_completed_point_ran_another_config(tmp_path):
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    pc = run_dir / "ncpus=2" / "config.toml"
    pc.write_text(pc.read_text().replace("processes = 2", "processes = 1"))
    assert_refused(cli("run", "--resume", run_dir, "--backend", "inline"), "ncpus=2", "workload.processes")


def test_resume_of_a_directory_in_use_is_refused(tmp_path):
    from smpsim.rundir.files import RunLock
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    lock = RunLock(run_dir).acquire()           # another process is running or resuming it
    try:
        assert_refused(cli("run", "--resume", run_dir, "--backend", "inline"), "in use by another smpsim process",
                       f"pid {os.getpid()}")
    finally:
        lock.release()
    assert cli("run", "--resume", run_dir, "--backend", "inline", "--quiet").code == 0
    assert read_json(run_dir / "run.json")["status"] == "completed"


def test_an_out_directory_in_use_is_refused_and_left_alone(tmp_path, tiny):
    from smpsim.rundir.files import RunLock
    out = tmp_path / "shared"
    out.mkdir()
    lock = RunLock(out).acquire()               # another process has just created it and is starting
    try:
        assert_refused(cli("run", tiny, "--backend", "inline", "--out", out), "in use by another smpsim process")
    finally:
        lock.release()
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_two_resumes_at_once_only_one_runs(tmp_path):
    """A real second process: the first resume holds the lock while it runs."""
    data = bundled("study_exit_cost")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    from smpsim.rundir.files import write_toml
    write_toml(run_dir / "config.toml", runner.resolved(data))   # a run that never got to its first point
    first = subprocess.Popen([sys.executable, "-m", "smpsim.cli", "run", "--resume", str(run_dir), "--backend",
                              "inline"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr.readline().startswith("[1/")       # running, so it holds the lock
        second = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", "--resume", str(run_dir), "--backend",
                                 "inline"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "in use by another smpsim process" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(__import__("signal").SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130


# --- 6. config strings that became paths ----------------------------------------------------------

def test_name_cannot_escape_the_runs_directory(tmp_path, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    assert_refused(cli("run", tiny, "--backend", "inline", "--set", 'name="../../x"'), "name", "letters, digits")
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "x").exists()


def test_default_name_from_an_odd_file_name_is_made_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {k: v for k, v in TINY.items() if k != "name"}
    cfg = write_config(tmp_path / "my config (copy).toml", data)
    assert cli("run", cfg, "--backend", "inline", "--quiet").code == 0
    (d,) = (tmp_path / "runs").iterdir()
    assert d.name.endswith("-my_config_copy_")


def test_sweep_values_with_slashes_make_flat_safe_point_directories(tmp_path):
    from smpsim.experiments.images import bundled_image, save_image
    a = save_image([bundled_image("bash")], tmp_path / "imgs" / "a.json")
    b = save_image([bundled_image("python3")], tmp_path / "imgs" / "deep" / ".." / "b.json")
    data = copy.deepcopy(TINY)
    data["sweep"] = {"workload.image": [str(a), str(b)]}
    out = completed_run(tmp_path, write_config(tmp_path / "s.toml", data))
    points = [p for p in out.iterdir() if p.is_dir()]
    assert len(points) == 2
    for p in points:
        assert "/" not in p.name and not p.name.startswith(".") and len(p.name) <= 120 and "~" in p.name
        assert (p / "summary.json").is_file()
    assert sorted(read_json(p / "run.json")["params"]["workload.image"] for p in points) == sorted([str(a), str(b)])
    assert {p for p in files_under(tmp_path) if p.suffix == ".jsonl"} <= files_under(out)


def test_point_names_are_kept_when_safe_and_hashed_when_not():
    from smpsim.experiments.config import point_names
    assert point_names([{"machine.ncpus": 2, "workload.pages": 64}]) == ["ncpus=2,pages=64"]
    assert point_names([{}]) == ["base"]
    names = point_names([{"workload.image": "../../etc"}, {"workload.image": "..%2f..%2fetc"},
                         {"workload.image": "x" * 500}])
    assert all("/" not in n and len(n) <= 120 and not n.startswith(".") for n in names)
    assert len(set(names)) == 3
    # two values that sanitize alike stay apart
    a, b = point_names([{"k": "a/b"}, {"k": "a_b"}])
    assert a != b and b == "k=a_b"
