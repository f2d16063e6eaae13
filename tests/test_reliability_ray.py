"""Issue 11, item 5: signals on the Ray backend.

`smpsim run` in a subprocess starts its own local Ray cluster. SIGTERM (and SIGINT) must end the run
"interrupted" with run.json naming the signal, exit 128 + signal, and no process of the run's Ray
session left when the command returns. After the driver is killed outright (SIGKILL), the processes
it leaves are stopped by the next run.

The session's processes are found from the registry entry the driver writes when it starts its
cluster (`ray_cluster.registry_dir()/<pid>.json`), read while the run is going.

Without Ray: what the next run does with the registry (`reap_dead_sessions`): the processes of a
dead driver's session are stopped, even one that ignores SIGTERM, and its entry forgotten; a live
driver's session and entry are left alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from smpsim.runtime import ray_cluster
from tests.ray_fixtures import clean_env
from tests.reliability_helpers import CONFIGS, ROOT, read_json

LONG = CONFIGS / "study_p2v_contention.toml"      # 9 point x policy runs: seconds each on Ray


# a Ray agent's way: named by its command line (the session directory), deaf to SIGTERM; it waits
# for signals, never for a clock, until the test kills it
AGENT = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\nwhile True:\n    signal.pause()\n"


def _agent(session) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", AGENT, str(session)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    return p


def test_reaping_stops_the_sessions_of_dead_drivers_only(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    registry = ray_cluster.registry_dir()
    registry.mkdir(parents=True)
    dead, live = tmp_path / "session_of_a_dead_driver", tmp_path / "session_of_this_driver"
    orphan, kept = _agent(dead), _agent(live)
    try:
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
        pid = int(gone.stdout)
        (registry / f"{pid}.json").write_text(json.dumps({"driver_pid": pid, "driver_start": "1",
                                                          "session_dir": str(dead)}))
        ray_cluster.register(str(live))            # this process: a driver still running
        (registry / "1.json").write_text("{")      # unreadable: forgotten
        assert ray_cluster.reap_dead_sessions() == [str(dead)]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert kept.poll() is None
        assert sorted(p.name for p in registry.iterdir()) == [f"{os.getpid()}.json"]
        assert ray_cluster.reap_dead_sessions() == [] and kept.poll() is None
    finally:
        for p in (orphan, kept):
            p.kill()
            p.wait(timeout=10)


def _start(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "smpsim.cli", "run", str(LONG), "--out", str(out), *extra],
                            cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_running(proc, out) -> dict:
    """Block until the run is simulating (its first progress line), then return its registry entry."""
    line = proc.stderr.readline()
    while line and not line.startswith("["):        # notes first ("9 simulation(s) to run, up to 2 at once")
        line = proc.stderr.readline()
    # sequential: "[1/9] ..."; simulations at once: "[simulations: 0/9 done, 1 running, ...] started ..."
    assert line.startswith(("[1/", "[simulations: ")), line + proc.stderr.read()
    entry = ray_cluster.registry_dir() / f"{proc.pid}.json"
    assert entry.is_file()
    info = json.loads(entry.read_text())
    assert ray_cluster.session_processes(info["session_dir"]), "the run's Ray processes should be up"
    return info


@pytest.mark.ray
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_ends_a_ray_run_interrupted_with_nothing_left(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = _start(out)
    try:
        info = _wait_running(proc, out)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = signal.Signals(sig).name
    assert proc.returncode == code, err
    assert f"interrupted by {name}" in err and "Traceback" not in err
    status = read_json(out / "run.json")
    assert status["status"] == "interrupted" and status["error"]["signal"] == name, status
    assert name in status["error"]["message"]
    assert "interrupted" in status["points"].values()
    # every process of the run's Ray session is gone by the time the command has returned
    assert ray_cluster.session_processes(info["session_dir"]) == {}
    assert not (ray_cluster.registry_dir() / f"{proc.pid}.json").exists()


@pytest.mark.ray
def test_processes_of_a_killed_driver_are_stopped_by_the_next_run(tmp_path):
    proc = _start(tmp_path / "killed")
    try:
        info = _wait_running(proc, tmp_path / "killed")
    finally:
        proc.kill()                          # SIGKILL: no cleanup at all
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    entry = ray_cluster.registry_dir() / f"{proc.pid}.json"
    assert entry.is_file()                   # what the dead driver left is on record
    # (Ray's dashboard and runtime-env agents ignore SIGTERM and outlive such a driver for minutes)
    nxt = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", str(CONFIGS / "fork_exit_quick.toml"),
                          "--out", str(tmp_path / "next"), "--quiet"], cwd=ROOT, env=clean_env(),
                         capture_output=True, text=True, timeout=300)
    assert nxt.returncode == 0, nxt.stderr
    assert ray_cluster.session_processes(info["session_dir"]) == {}
    assert not entry.exists()
