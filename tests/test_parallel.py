"""Simulations run side by side give a sequential run's results, and the arithmetic that sizes a run (no Ray).

A fake concurrent backend runs each simulation inline in the scheduler's threads
and forces them to finish in the reverse of config order (each waits, by an
event, for the next one to finish), so the tests see the order problem without
timing: summary.json and every events.jsonl must still equal a sequential run's.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from smpsim.errors import ConfigError, ExchangeError
from smpsim.experiments import runner
from smpsim.experiments.scheduling import capacity, parts
from smpsim.experiments.runner import RunRequest, run
from smpsim.runtime.inline_backend import InlineBackend
from tests.golden import strip_wall

ROOT = Path(__file__).resolve().parent.parent
MiB, GiB = 1 << 20, 1 << 30
CONFIG = """
name = "mini_sweep"
seed = 3
[machine]
ncpus = 2
phys_pages = 16384
[workload]
kind = "exit_storm"
processes = 4
pages = 64
entries = 2
threads = 2
run_epochs = 2
exit = "together"
[[policies]]
name = "netbsd5"
[[policies]]
name = "seed"
[[policies]]
name = "pv_map_entry"
preset = "netbsd5"
pv_tracking = "map_entry"
[sweep]
"machine.ncpus" = [2, 3]
"""


class _Node:
    def __init__(self, node_id, cpus, memory):
        self.node_id, self.cpus, self.memory, self.ip, self.custom = node_id, cpus, memory, "127.0.0.1", {}

    def as_json(self):
        return {"cpus": self.cpus, "memory_bytes": self.memory}


class ReverseOrderBackend(InlineBackend):
    """Runs simulations concurrently; a simulation in `waits` finishes only after the one it names has."""
    name = "inline"
    concurrent = True

    def __init__(self, waits: dict, fail: set | None = None):
        self.waits = waits
        self.finished = {name: threading.Event() for name in ORDER}
        self.fail = set(fail or ())
        self.calls: list[str] = []
        self.placements = {}

    def nodes(self):
        return [_Node("n1", 4, 64 * GiB)]

    def prepare(self, ncpus):
        pass

    def abort(self):
        for e in self.finished.values():
            e.set()

    def run_point(self, config, policy, *, point, **kw):
        name = f"{point}/{policy.name}"
        self.calls.append(name)
        try:
            result = super().run_point(config, policy, point=point, **kw)
            if name in self.fail:
                raise ExchangeError("cpu1 died (injected)")
            after = self.waits.get(name)
            if after:
                assert self.finished[after].wait(120), f"{after} never finished"
            self.placements[(point, policy.name)] = {"nodes": ["n1"], "spread": False}
            return result
        finally:
            self.finished[name].set()


def _load(run_dir: Path) -> tuple[dict, dict]:
    summary = strip_wall(json.loads((run_dir / "summary.json").read_text()))
    events = {}
    for name in dict.fromkeys(p["point"] for p in summary["points"]):
        events[name] = [strip_wall(json.loads(line)) for line in (run_dir / name / "events.jsonl").read_text().splitlines()]
    return summary, events


def _req(out: Path, **kw) -> RunRequest:
    config = out.parent / "mini_sweep.toml"
    config.write_text(CONFIG)
    return RunRequest(config_path=str(config), out=str(out), progress=False, backend="inline", **kw)


ORDER = [f"ncpus={n}/{p}" for n in (2, 3) for p in ("netbsd5", "seed", "pv_map_entry")]


def test_parallel_out_of_order_equals_sequential(tmp_path, monkeypatch, capsys):
    _, _ = run(_req(tmp_path / "seq"))
    fake = ReverseOrderBackend(dict(zip(ORDER, ORDER[1:])))         # the last one finishes first
    monkeypatch.setattr(runner, "make_backend", lambda req, timeout_s, parallel=None: fake)
    capsys.readouterr()
    req = _req(tmp_path / "par", parallel=6, trace=True)
    req.progress = True
    run_dir, _ = run(req)
    lines = capsys.readouterr().err.splitlines()
    # progress: done / running / waiting and an ETA
    assert lines[1] == "[simulations: 0/6 done, 1 running, 5 waiting, ETA -] started ncpus=2/netbsd5"
    assert lines[6] == "[simulations: 0/6 done, 6 running, 0 waiting, ETA -] started ncpus=3/pv_map_entry"
    assert lines[7].startswith("[simulations: 1/6 done, 5 running, 0 waiting, ETA ") and "ETA -" not in lines[7]
    assert lines[-1].startswith("[simulations: 6/6 done, 0 running, 0 waiting, ETA 0 s] finished ncpus=")
    assert sorted(fake.calls) == sorted(ORDER)
    assert _load(run_dir) == _load(tmp_path / "seq")
    status = json.loads((run_dir / "run.json").read_text())
    assert status["parallel"] == 6 and status["status"] == "completed"
    assert set(status["simulations"]) == set(ORDER)
    for name in ("ncpus=2", "ncpus=3"):
        assert not (run_dir / name / "parts").exists()              # assembled, then dropped
        seqs = [json.loads(l)["seq"] for l in (run_dir / name / "events.jsonl").read_text().splitlines()]
        assert seqs == list(range(len(seqs)))


def test_failed_simulation_fails_the_run_by_name_and_resume_reruns_only_it(tmp_path, monkeypatch):
    out = tmp_path / "par"
    fake = ReverseOrderBackend({ORDER[0]: ORDER[1]}, fail={"ncpus=3/seed"})
    monkeypatch.setattr(runner, "make_backend", lambda req, timeout_s, parallel=None: fake)
    with pytest.raises(ExchangeError, match="ncpus=3/seed: cpu1 died"):
        run(_req(out, parallel=2))
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "failed" and status["error"]["simulation"] == "ncpus=3/seed"
    assert "ncpus=3/seed" in status["error"]["message"]
    assert status["points"]["ncpus=2"] == "completed" and status["points"]["ncpus=3"] == "failed"
    assert parts.completed_result(out / "ncpus=3", 0, "netbsd5") is not None     # kept for --resume
    assert parts.completed_result(out / "ncpus=3", 1, "seed") is None
    again = ReverseOrderBackend({})
    monkeypatch.setattr(runner, "make_backend", lambda req, timeout_s, parallel=None: again)
    run(RunRequest(resume=str(out), progress=False, backend="inline", parallel=2))
    assert sorted(again.calls) == ["ncpus=3/pv_map_entry", "ncpus=3/seed"] or again.calls == ["ncpus=3/seed"]
    assert "ncpus=2/netbsd5" not in again.calls and "ncpus=3/netbsd5" not in again.calls
    run(_req(tmp_path / "seq"))
    assert _load(out) == _load(tmp_path / "seq")


def test_plain_inline_stays_in_process_without_ray(tmp_path):
    import subprocess
    import sys
    code = ("import sys; from smpsim.experiments.runner import RunRequest, run; "
            f"run(RunRequest(config_path={str(ROOT / 'configs' / 'exit_storm_quick.toml')!r}, backend='inline', "
            f"out={str(tmp_path / 'r')!r}, progress=False)); print('ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert json.loads((tmp_path / "r" / "run.json").read_text())["parallel"] == 1


def test_512_cpu_actors_on_one_24_gib_machine_are_refused_with_the_arithmetic():
    node = _Node("n1", 2, int(24 * GiB * 0.7))
    with pytest.raises(ConfigError) as e:
        capacity.plan([node], backend="ray", max_ncpus=512, actor_bytes=100 * MiB, sim_bytes=0, requested=None,
                      simulations=4)
    msg = str(e.value)
    assert "512 CPU actors + 1 VM actor = 513 actors x 100 MiB" in msg and "50.1 GiB" in msg
    assert "16.8 GiB" in msg and "Nothing was started" in msg


def test_capacity_default_lowering_and_spread():
    nodes = [_Node("a", 2, 2 * GiB), _Node("b", 2, 2 * GiB)]
    c = capacity.plan(nodes, backend="ray", max_ncpus=8, actor_bytes=100 * MiB, sim_bytes=0, requested=None,
                      simulations=48)
    assert (c.parallel, c.by_memory, c.by_cpus, c.spread) == (4, 4, 4, False)       # 900 MiB: 2 per node
    c = capacity.plan(nodes, backend="ray", max_ncpus=8, actor_bytes=100 * MiB, sim_bytes=0, requested=16,
                      simulations=48)
    assert c.parallel == 4 and "lowered to 4" in c.notes[0]
    c = capacity.plan(nodes, backend="ray", max_ncpus=24, actor_bytes=100 * MiB, sim_bytes=0, requested=None,
                      simulations=48)
    assert c.spread and c.parallel == 1 and "spread" in c.notes[0]
    c = capacity.plan(nodes, backend="inline", max_ncpus=512, actor_bytes=100 * MiB, sim_bytes=300 * MiB,
                      requested=None, simulations=3)
    assert c.parallel == 3 and c.by_cpus == 4          # never more than there are simulations
    with pytest.raises(ConfigError, match="4.0 GiB"):
        capacity.plan(nodes, backend="ray", max_ncpus=64, actor_bytes=100 * MiB, sim_bytes=0, requested=None,
                      simulations=1)
