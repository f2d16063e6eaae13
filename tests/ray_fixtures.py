"""Pytest fixtures for the Ray integration tests (loaded by tests/conftest.py through pytest_plugins).

`ray_cluster` (session): one local Ray cluster for every Ray test that does not test
cluster start-up itself: `address="local"`, 2 CPUs, no dashboard, loopback only
(smpsim.runtime.ray_cluster.start_local). If Ray is already initialised in the test
process it is reused and left alone.
`ray_backend` (function): a RayBackend on that cluster (short exchange timeout); its
actors are killed at the end of the test, the cluster stays up.
Also helpers (`clean_env`, `run_driver`, `result_of`) for tests whose driver must run in
a subprocess because it starts or attaches to a cluster of its own, and (`free_port`,
`start_ray_node`, `stop_ray_node`) for tests that run `ray start` nodes themselves.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster():
    import ray

    from smpsim.runtime.ray_cluster import ClusterConnection, start_local
    if ray.is_initialized():
        conn = ClusterConnection(ray.get_runtime_context().gcs_address, started=False, initialised=False)
    else:
        conn = start_local(num_cpus=2)
    yield conn
    conn.close()


@pytest.fixture
def ray_backend(ray_cluster):
    from smpsim.runtime.ray_backend import RayBackend
    backend = RayBackend(timeout_s=30.0)
    yield backend
    backend.close()


# --- helpers for tests that run a Ray driver in a subprocess -----------------------------------
def clean_env(**extra) -> dict:
    """This environment without any RAY_* variable (the test process's Ray sets some), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_driver(source: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", source], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def result_of(proc: subprocess.CompletedProcess) -> dict:
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("RESULT "):])


def kill_and_wait(actor, max_pings: int = 100_000) -> None:
    """ray.kill(actor) and return once it is dead (ray.kill is asynchronous: calls made just after it
    may still be served). Waits by pinging the actor until a call fails, no sleeping."""
    import ray
    from ray.exceptions import RayActorError
    ray.kill(actor, no_restart=True)
    for _ in range(max_pings):
        try:
            ray.get(actor.ping.remote(), timeout=60)
        except RayActorError:
            return
    raise AssertionError(f"{actor} still answers after ray.kill")


# --- helpers for tests that run `ray start` nodes of their own ------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ray_node(cmd: list[str], env: dict, cwd: Path, timeout: float = 180) -> tuple[subprocess.Popen, list]:
    """Run `ray start ... --block` in a session of its own; return it once it says it started, and its
    output so far (kept growing by a thread). A node that does not start is stopped and fails the test."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    output: list[str] = []
    started = threading.Event()

    def drain():
        for line in proc.stdout:
            output.append(line)
            if "Ray runtime started" in line:
                started.set()
        started.set()

    threading.Thread(target=drain, daemon=True).start()
    if not (started.wait(timeout) and proc.poll() is None):
        stop_ray_node(proc)
        pytest.fail(f"{cmd[:3]} failed:\n" + "".join(output))
    return proc, output


def stop_ray_node(proc: subprocess.Popen) -> None:
    proc.terminate()                          # `ray start --block` stops its processes on SIGTERM
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # whatever of that session is left (by group id)
    except ProcessLookupError:
        pass
