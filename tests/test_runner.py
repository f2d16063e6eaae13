"""Run directories: determinism, run.json, summary shape, resume."""

import json
from pathlib import Path

import pytest

from smpsim.experiments.runner import RunRequest, run
from smpsim.vm.counters import SPEC_COUNTERS

ROOT = Path(__file__).resolve().parent.parent
WALL_KEYS = ("wall_seconds", "p50_wall_us", "p99_wall_us")


def _strip_wall(value):
    if isinstance(value, dict):
        return {k: _strip_wall(v) for k, v in value.items() if k not in WALL_KEYS}
    if isinstance(value, list):
        return [_strip_wall(v) for v in value]
    return value


def _run(tmp_path, name, config="configs/exit_storm_quick.toml", **kw):
    out = tmp_path / name
    kw.setdefault("progress", False)
    run(RunRequest(config_path=str(ROOT / config), backend="inline", out=str(out), **kw))
    return out


def test_same_config_and_seed_give_identical_summaries(tmp_path):
    a = json.loads((_run(tmp_path, "a") / "summary.json").read_text())
    b = json.loads((_run(tmp_path, "b") / "summary.json").read_text())
    assert _strip_wall(a) == _strip_wall(b)
    c = json.loads((_run(tmp_path, "c", overrides=["seed=2"]) / "summary.json").read_text())
    assert _strip_wall(a) != _strip_wall(c)


def test_run_directory_contract(tmp_path):
    out = _run(tmp_path, "r", trace=True)
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "completed" and status["backend"] == "inline" and status["error"] is None
    for key in ("seed", "smpsim_version", "ray_version", "python_version", "git_revision", "started_at", "ended_at"):
        assert key in status
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"] == "exit_storm_quick" and summary["backend"] == "inline"
    assert [p["policy"] for p in summary["points"]] == ["netbsd5", "seed", "pv_map_entry", "deferred",
                                                           "md_gc_pmap"]
    for p in summary["points"]:
        assert set(SPEC_COUNTERS) <= set(p["counters"])
        assert all(isinstance(p["counters"][c], int) for c in SPEC_COUNTERS)
    assert (out / "config.toml").is_file() and "freetarg" in (out / "config.toml").read_text()
    lines = [json.loads(l) for l in (out / "base" / "events.jsonl").read_text().splitlines()]
    assert [l["seq"] for l in lines] == list(range(len(lines)))
    assert {"run.start", "run.end", "epoch", "exit", "shootdown"} <= {l["event"] for l in lines}
    for l in lines:
        assert "sim_cycles" in l and "ts" in l and "policy" in l
    sd = [l for l in lines if l["event"] == "shootdown"]
    for l in sd:
        assert set(l).issuperset({"initiator", "pmap", "targets", "vas", "reason", "cycles", "wall_us"})
    import msgpack
    with open(out / "base" / "messages.msgpack", "rb") as f:
        records = list(msgpack.Unpacker(f, raw=False))
    assert len(records) == len(sd)
    assert set(records[0]).issuperset({"kind", "epoch", "initiator", "targets", "request", "replies", "cycles",
                                       "wall_us"})


def test_resume_runs_only_missing_points(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text((ROOT / "configs" / "fork_exit_quick.toml").read_text() +
                   '\n[sweep]\n"machine.ncpus" = [2, 3]\n')
    out = tmp_path / "run"
    run(RunRequest(config_path=str(cfg), backend="inline", out=str(out), progress=False))
    first = {p: (out / p / "events.jsonl").stat().st_mtime_ns for p in ("ncpus=2", "ncpus=3")}
    # pretend the second point never finished
    pj = out / "ncpus=3" / "run.json"
    st = json.loads(pj.read_text())
    st["status"] = "interrupted"
    pj.write_text(json.dumps(st))
    _, summary = run(RunRequest(resume=str(out), backend="inline", progress=False))
    assert (out / "ncpus=2" / "events.jsonl").stat().st_mtime_ns == first["ncpus=2"]
    assert (out / "ncpus=3" / "events.jsonl").stat().st_mtime_ns != first["ncpus=3"]
    assert json.loads(pj.read_text())["status"] == "completed"
    assert len(summary["points"]) == 4 and json.loads((out / "run.json").read_text())["status"] == "completed"


def test_existing_out_dir_is_refused(tmp_path):
    from smpsim.errors import ConfigError
    _run(tmp_path, "r1", config="configs/fork_exit_quick.toml")
    with pytest.raises(ConfigError, match="--resume"):
        _run(tmp_path, "r1", config="configs/fork_exit_quick.toml")


def test_results_do_not_depend_on_the_process_hash_seed(tmp_path):
    """Two separate processes with different PYTHONHASHSEED (set/dict order of strings differs)."""
    import os
    import subprocess
    import sys
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"h{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", str(ROOT / "configs" / "fork_exec_exit_quick.toml"),
                            "--backend", "inline", "--out", str(out), "--quiet"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads((out / "summary.json").read_text()))
    assert _strip_wall(outs[0]) == _strip_wall(outs[1])


def test_interrupted_run_says_so_and_keeps_its_logs(tmp_path, monkeypatch):
    from smpsim.experiments import progress

    def interrupt(self, epoch, total):
        if epoch >= 8:
            raise KeyboardInterrupt
    monkeypatch.setattr(progress.Progress, "epochs", interrupt)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(RunRequest(config_path=str(ROOT / "configs" / "exit_storm_quick.toml"), backend="inline",
                       out=str(out), progress=False))
    for status_file in (out / "run.json", out / "base" / "run.json"):
        status = json.loads(status_file.read_text())
        assert status["status"] == "interrupted" and status["ended_at"]
    lines = [json.loads(l) for l in (out / "base" / "events.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "run.start" and sum(l["event"] == "epoch" for l in lines) >= 8
    assert lines[-1]["event"] == "run.end" and lines[-1]["status"] == "interrupted"


def test_sigint_to_the_cli_ends_the_run_interrupted(tmp_path):
    import signal
    import subprocess
    import sys
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "smpsim.cli", "run", str(ROOT / "configs" / "study_exit_cost.toml"),
                             "--backend", "inline", "--out", str(out)],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    first = proc.stderr.readline()              # "[1/48] ..." : the run has started (not a terminal)
    assert first.startswith("[1/")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
