"""Attaching the Ray backend to a running `ray start --head` cluster (token authentication on).

A head is started on loopback in a subprocess (free port, its own temp dir and HOME,
a random token); drivers run in subprocesses: attach by --address and by RAY_ADDRESS
with the token in RAY_AUTH_TOKEN or ~/.ray/auth_token, and fail with one clear line
when the token is wrong or missing. The head must still be up afterwards; it is stopped
by terminating the `ray start --block` process this module started.

Without Ray: a bad address, a Ray Client address, nothing listening, or token mode without
a token, each refused with one ClusterError line before `ray.init` is called.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("ray")

from smpsim.errors import ClusterError  # noqa: E402
from smpsim.runtime.ray_cluster import attach, probe  # noqa: E402
from tests.ray_fixtures import (ROOT, clean_env, free_port, result_of, run_driver, start_ray_node,  # noqa: E402
                                stop_ray_node)

RUN_POINT = r'''
import json, sys
import ray
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.ray_backend import RayBackend

class Sink:
    def events(self, e): pass
    def trace(self, t): pass
    def progress(self, a, b): pass

cfg, _ = cfgmod.load("configs/exit_storm_quick.toml")
backend = RayBackend(address=sys.argv[1] if len(sys.argv) > 1 else None, timeout_s=60)
result = backend.run_point(cfg, cfg.policies[0], workload=make_workload(cfg), point="base", check=False,
                           trace=False, sink=Sink())
info = {"address": backend.address, "counters": result["counters"],
        "nodes": [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]],
        "cluster_cpus": ray.cluster_resources().get("CPU")}
backend.close()
info["connected_after_close"] = ray.is_initialized()
print("RESULT " + json.dumps(info))
'''

FAIL_LINE = r'''
import sys
from smpsim.errors import SmpsimError
from smpsim.runtime.ray_backend import RayBackend
try:
    RayBackend(address=sys.argv[1] if len(sys.argv) > 1 else None, timeout_s=60)
except SmpsimError as e:
    print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(2)
print("attached: unexpected")
'''


@dataclass
class Head:
    address: str
    token: str
    proc: subprocess.Popen
    base: Path
    output: list


@pytest.fixture(scope="module")
def head():
    base = Path(tempfile.mkdtemp(prefix="smpray", dir="/tmp"))    # short: Ray's unix socket paths
    (base / "home").mkdir()
    token = secrets.token_hex(16)
    port = free_port()
    env = clean_env(HOME=str(base / "home"), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token,
                    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")      # keep 127.0.0.1 as the node IP
    cmd = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
           "--node-ip-address", "127.0.0.1", "--port", str(port), "--temp-dir", str(base / "t"),
           "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"]
    proc = None
    try:
        proc, output = start_ray_node(cmd, env, base, timeout=120)
        yield Head(f"127.0.0.1:{port}", token, proc, base, output)
    finally:
        if proc is not None:
            stop_ray_node(proc)
        shutil.rmtree(base, ignore_errors=True)


def _home(head: Head, name: str, token: str | None = None) -> str:
    home = head.base / name
    home.mkdir(exist_ok=True)
    if token is not None:
        (home / ".ray").mkdir(exist_ok=True)
        (home / ".ray" / "auth_token").write_text(token)
    return str(home)


def _inline_counters():
    from smpsim.experiments import config as cfgmod
    from smpsim.experiments.workloads import make_workload
    from smpsim.runtime.inline_backend import InlineBackend

    class Sink:
        def events(self, e): pass
        def trace(self, t): pass
        def progress(self, a, b): pass

    cfg, _ = cfgmod.load(ROOT / "configs/exit_storm_quick.toml")
    return InlineBackend().run_point(cfg, cfg.policies[0], workload=make_workload(cfg), point="base",
                                     check=False, trace=False, sink=Sink())["counters"]


def _assert_one_error_line(proc, *needles):
    text = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2, text
    assert len(text.splitlines()) == 1, f"expected one line, got:\n{text}"
    assert text.startswith("error: ClusterError: "), text
    for n in needles:
        assert n in text, text


def _one_line(err: pytest.ExceptionInfo, *needles: str) -> None:
    text = str(err.value)
    assert len(text.splitlines()) == 1, text
    for n in needles:
        assert n in text, text


def test_bad_addresses_are_refused_in_one_line_before_ray_init(monkeypatch):
    monkeypatch.setattr("ray.init", lambda *a, **kw: pytest.fail("ray.init called"))
    with pytest.raises(ClusterError) as err:
        attach("ray://10.0.0.1:10001")
    _one_line(err, "ray://", "not supported", "HOST:PORT")
    for bad in ("10.0.0.1", "10.0.0.1:port", ":6379"):
        with pytest.raises(ClusterError) as err:
            attach(bad)
        _one_line(err, repr(bad), "expected HOST:PORT")
    address = f"127.0.0.1:{free_port()}"           # nothing listens there
    with pytest.raises(ClusterError) as err:
        probe(address)
    _one_line(err, f"no Ray cluster at {address}", "cannot connect")


def test_token_mode_without_a_token_is_refused_before_asking_the_gcs(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setattr("smpsim.runtime.ray_cluster.gcs_cluster_id", lambda a: pytest.fail("GCS asked"))
    with socket.create_server(("127.0.0.1", 0)) as listener:      # something listens, no GCS needed
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ClusterError) as err:
            probe(address, token_source=None)
    _one_line(err, address, "RAY_AUTH_MODE=token but no token found", "RAY_AUTH_TOKEN")


@pytest.mark.ray
def test_attach_by_address_with_token_env(head):
    env = clean_env(HOME=_home(head, "h_env"), RAY_AUTH_TOKEN=head.token)
    info = result_of(subprocess.run([sys.executable, "-c", RUN_POINT, head.address], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=180))
    assert info["address"] == head.address
    assert info["nodes"] == ["127.0.0.1"] and info["cluster_cpus"] == 2.0
    assert info["counters"] == _inline_counters()
    assert info["connected_after_close"] is False
    assert head.proc.poll() is None


@pytest.mark.ray
def test_attach_by_ray_address_env_with_token_file(head):
    env = clean_env(HOME=_home(head, "h_file", token=head.token), RAY_ADDRESS=head.address)
    info = result_of(run_driver(RUN_POINT, env, timeout=180))
    assert info["address"] == head.address and info["nodes"] == ["127.0.0.1"]
    assert head.proc.poll() is None


@pytest.mark.ray
def test_wrong_token_is_one_clear_line(head):
    wrong = head.base / "wrong_token"
    wrong.write_text(secrets.token_hex(16))
    env = clean_env(HOME=_home(head, "h_none"), RAY_AUTH_TOKEN_PATH=str(wrong))
    proc = subprocess.run([sys.executable, "-c", FAIL_LINE, head.address], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    _assert_one_error_line(proc, head.address, "rejected the authentication token", "RAY_AUTH_TOKEN_PATH")


@pytest.mark.ray
def test_missing_token_is_one_clear_line(head):
    env = clean_env(HOME=_home(head, "h_none"), RAY_ADDRESS=head.address)
    proc = subprocess.run([sys.executable, "-c", FAIL_LINE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    _assert_one_error_line(proc, head.address, "requires an authentication token and none was found")


@pytest.mark.ray
def test_unreachable_address_is_one_clear_line(head):
    env = clean_env(HOME=_home(head, "h_none"))
    proc = subprocess.run([sys.executable, "-c", FAIL_LINE, f"127.0.0.1:{free_port()}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    _assert_one_error_line(proc, "no Ray cluster at 127.0.0.1:", "cannot connect")


@pytest.mark.ray
def test_head_still_up_after_drivers(head):
    assert head.proc.poll() is None, "".join(head.output)
    host, port = head.address.rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=5).close()
