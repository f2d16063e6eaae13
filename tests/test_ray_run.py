"""`smpsim run` on Ray end to end: same results as inline for every bundled quick config,
16 simulated CPUs on a 2-core machine, and a killed CPU actor ending in a failed run.json.

Without Ray: what the comparison rests on, that an inline run is reproducible once the wall-clock
figures `_sim` drops are gone (and that it drops nothing else).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from smpsim.errors import ExchangeError  # noqa: E402
from smpsim.experiments import runner  # noqa: E402
from smpsim.experiments.runner import RunRequest, run  # noqa: E402
from smpsim.runtime.ray_backend import RayBackend  # noqa: E402
from tests.ray_fixtures import kill_and_wait  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUICK = sorted(p.stem for p in (ROOT / "configs").glob("*_quick.toml"))
POLICIES = ("netbsd5", "seed")      # two presets keep the suite short; test_kernels_ray runs every other one


def _sim(summary: dict) -> list:
    """Every point's counters, simulated latencies and breakdown (wall-clock figures dropped)."""
    out = []
    for p in summary["points"]:
        lat = {k: {s: v for s, v in st.items() if "wall" not in s} for k, st in p["latency"].items()}
        out.append((p["point"], p["policy"], p["counters"], lat, p["exit_breakdown"], p["sim_cycles"]))
    return out


def _policies(names) -> str:
    return "policies=" + json.dumps(list(names))


def test_an_inline_run_is_reproducible_without_its_wall_clock_figures(tmp_path):
    kw = dict(config_path=str(ROOT / "configs" / "exit_storm_quick.toml"), progress=False,
              overrides=[_policies(POLICIES)])
    _, a = run(RunRequest(backend="inline", out=str(tmp_path / "a"), **kw))
    _, b = run(RunRequest(backend="inline", out=str(tmp_path / "b"), **kw))
    assert [p["policy"] for p in a["points"]] == list(POLICIES)
    assert _sim(a) == _sim(b)
    every = {s for p in a["points"] for st in p["latency"].values() for s in st}
    kept = {s for *_, latency, _, _ in _sim(a) for st in latency.values() for s in st}
    assert every - kept and all("wall" in s for s in every - kept), every - kept
    walls = [v for p in a["points"] for st in p["latency"].values() for k, v in st.items() if "wall" in k]
    assert any(v and v > 0 for v in walls), "the run should have measured wall-clock figures to drop"


@pytest.mark.ray
@pytest.mark.parametrize("config", QUICK)
def test_ray_run_equals_inline_for_every_quick_config(ray_cluster, tmp_path, config):
    # the equality is per policy
    kw = dict(config_path=str(ROOT / "configs" / f"{config}.toml"), progress=False,
              overrides=[_policies(POLICIES)])
    _, a = run(RunRequest(backend="inline", out=str(tmp_path / "inline"), **kw))
    _, b = run(RunRequest(backend="ray", out=str(tmp_path / "ray"), **kw))
    assert b["backend"] == "ray" and a["backend"] == "inline"
    assert _sim(b) == _sim(a)
    # the event streams too, line by line, without their wall-clock fields
    streams = []
    for name in ("inline", "ray"):
        lines = (tmp_path / name / "base" / "events.jsonl").read_text().splitlines()
        streams.append([{k: v for k, v in json.loads(l).items() if not (k == "ts" or k.endswith("_us"))}
                        for l in lines])
    assert streams[0] == streams[1]
    status = json.loads((tmp_path / "ray" / "run.json").read_text())
    assert status["status"] == "completed" and status["ray_address"]
    lines = [json.loads(l) for l in (tmp_path / "ray" / "base" / "events.jsonl").read_text().splitlines()]
    exchanges = [l for l in lines if l["event"] in ("shootdown", "switch_away")]
    assert all(l["wall_us"] > 0 for l in exchanges)
    if config == "exit_storm_quick":
        from smpsim.analysis.commands import analyze, report
        assert json.loads(analyze(tmp_path / "ray", "json")) and report(tmp_path / "ray").is_file()
    for p in b["points"]:
        for kind in ("shootdown", "switch_away"):
            st = p["latency"][kind]
            if st["count"]:
                assert st["p50_wall_us"] > 0 and st["p99_wall_us"] >= st["p50_wall_us"]


@pytest.mark.ray
def test_sixteen_cpu_actors_on_two_cores(ray_cluster, tmp_path):
    kw = dict(config_path=str(ROOT / "configs" / "fork_exit_quick.toml"), progress=False,
              overrides=["machine.ncpus=16", "workload.iterations=1", _policies(POLICIES[:1])])
    _, b = run(RunRequest(backend="ray", out=str(tmp_path / "ray"), **kw))
    _, a = run(RunRequest(backend="inline", out=str(tmp_path / "inline"), **kw))
    assert _sim(b) == _sim(a)
    assert b["points"][0]["counters"]["exits"] == 16


@pytest.mark.ray
def test_killed_cpu_actor_fails_the_run_with_intact_logs(ray_cluster, tmp_path, monkeypatch):
    class KillingBackend(RayBackend):
        def run_point(self, config, policy, *, sink, **kw):
            real = sink.progress

            def progress(epoch, total):
                if self.cpu_actors and epoch >= 8:
                    kill_and_wait(self.cpu_actors[1])
                real(epoch, total)
            sink.progress = progress
            return super().run_point(config, policy, sink=sink, **kw)

    monkeypatch.setattr(runner, "make_backend", lambda req, timeout_s: KillingBackend(timeout_s=60.0))
    out = tmp_path / "run"
    with pytest.raises(ExchangeError, match="cpu1"):
        # one simulation at a time: with two at once, whichever reaches epoch 8 first is killed, and
        # when that is the second the first is cancelled before it logs anything
        run(RunRequest(config_path=str(ROOT / "configs" / "exit_storm_quick.toml"), backend="ray",
                       out=str(out), progress=False, parallel=1))
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "failed" and status["error"]["type"] == "ExchangeError"
    assert "cpu1" in status["error"]["message"] and "epoch" in status["error"]["message"]
    lines = [json.loads(l) for l in (out / "base" / "events.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "run.start"
    assert [l["seq"] for l in lines] == list(range(len(lines)))
    assert sum(1 for l in lines if l["event"] == "epoch") >= 8
    assert lines[-1]["event"] == "run.end" and lines[-1]["status"] == "failed"
