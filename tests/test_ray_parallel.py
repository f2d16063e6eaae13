"""A parallel run on Ray stopped by SIGTERM: run.json says interrupted and no Ray process of the run is left.

`smpsim run --parallel 2` starts its own local cluster; once two simulations are
running (the progress lines say so) it gets SIGTERM. Every simulation's actors
are killed, every point and the run say "interrupted", and once the command has
exited no process of its Ray session (the directory run.json names) is alive.
Without Ray: `stop_session`, which stops those processes, finds one that keeps a
file open in the session directory, and kills it though it ignores SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("ray")

from smpsim.runtime import ray_sessions  # noqa: E402
from tests.ray_fixtures import ROOT, clean_env  # noqa: E402

LONG = """
name = "long_sweep"
seed = 1
[machine]
ncpus = 3
phys_pages = 16384
[workload]
kind = "exit_storm"
processes = 2
pages = 32
entries = 2
threads = 1
run_epochs = 100000
exit = "together"
[run]
max_epochs = 200000
[[policies]]
name = "netbsd5"
[[policies]]
name = "seed"
[sweep]
"machine.ncpus" = [2, 3]
"""


# a Ray agent's way: it ignores SIGTERM and keeps a log open inside the session directory
AGENT = ("import signal, sys\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "log = open(sys.argv[1], 'a')\nprint('up', flush=True)\nwhile True:\n    signal.pause()\n")


def _spawn(*args: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", AGENT, *args], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    return p


def test_stop_session_stops_what_holds_the_session_open_and_nothing_else(tmp_path):
    session = tmp_path / "session_2026-01-01_00-00-00_1"
    session.mkdir()
    other = tmp_path / "elsewhere.log"
    inside, bystander = _spawn(str(session / "agent.log")), _spawn(str(other))
    try:
        found = ray_sessions.session_processes(str(session))
        assert set(found) == {inside.pid}, found          # by its open file; the bystander is not the session's
        assert ray_sessions.stop_session(str(session), grace_s=0.2) == {}      # SIGKILL after the ignored SIGTERM
        assert inside.wait(timeout=10) == -signal.SIGKILL
        assert bystander.poll() is None
        assert ray_sessions.session_processes(str(session)) == {}
    finally:
        for p in (inside, bystander):
            p.kill()
            p.wait(timeout=10)


@pytest.mark.ray
def test_sigterm_during_a_parallel_ray_run(tmp_path):
    config = tmp_path / "long.toml"
    config.write_text(LONG)
    out = tmp_path / "run"
    help_text = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", "--help"], cwd=ROOT, capture_output=True,
                               text=True).stdout
    yes = ["--yes"] if "--yes" in help_text else []         # a long run needs --yes once the estimate checks it
    proc = subprocess.Popen([sys.executable, "-m", "smpsim.cli", "run", str(config), "--parallel", "2", *yes,
                             "--out", str(out)], cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        started = 0
        for line in proc.stderr:                  # progress lines (not a terminal): one per start
            started += "] started " in line
            if started == 2:
                break
        assert started == 2, "the run never had two simulations running"
        status = json.loads((out / "run.json").read_text())
        assert status["parallel"] == 2 and status["ray_session_dir"]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (130, 143), err
    assert "interrupted" in err and "Traceback" not in err, err
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted", status
    for name in ("ncpus=2", "ncpus=3"):
        assert json.loads((out / name / "run.json").read_text())["status"] == "interrupted"
    assert ray_sessions.session_processes(status["ray_session_dir"]) == {}


@pytest.mark.ray
def test_a_run_bigger_than_the_machine_is_refused_before_any_actor_starts(ray_cluster, tmp_path, monkeypatch):
    """Sized against Ray's view of this machine: actors made as big as a quarter of the node's memory, so
    9 of them (8 CPUs + the VM) cannot fit whatever the machine; refused with the arithmetic, nothing started."""
    import ray
    from ray.util.placement_group import placement_group_table

    from smpsim.errors import ConfigError
    from smpsim.experiments import runner
    from smpsim.experiments.runner import RunRequest, run
    from smpsim.runtime.ray_backend import RayBackend
    node_memory = max(n["Resources"].get("memory", 0) for n in ray.nodes() if n["Alive"])
    made = []

    def big_actors(req, timeout_s):
        made.append(RayBackend(timeout_s=timeout_s, actor_bytes=int(node_memory // 4) + 1))
        return made[-1]
    monkeypatch.setattr(runner, "make_backend", big_actors)
    groups = len(placement_group_table())
    with pytest.raises(ConfigError) as e:
        run(RunRequest(config_path=str(ROOT / "configs" / "exit_storm_quick.toml"), backend="ray",
                       overrides=["machine.ncpus=8"], out=str(tmp_path / "r"), progress=False))
    msg = str(e.value)
    assert "8 CPU actors + 1 VM actor = 9 actors x " in msg and "Nothing was started" in msg, msg
    assert made[0].pool.created == 0 and len(placement_group_table()) == groups
