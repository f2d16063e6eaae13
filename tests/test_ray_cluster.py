"""Cluster start-up of the Ray backend: the default local cluster is fresh and listens on loopback only.

The Ray test starts its own cluster, so it runs its driver in a subprocess (the test
process keeps the session cluster of tests/ray_fixtures.py). Without Ray: which address
a driver attaches to, and what counts as an address and as loopback.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("ray")

from smpsim.errors import ClusterError  # noqa: E402
from smpsim.runtime.ray_cluster import is_loopback, resolve_address, split_address  # noqa: E402
from tests.ray_fixtures import clean_env, result_of, run_driver  # noqa: E402

LISTENERS = r'''
import json, shutil, subprocess, sys
import ray
import psutil          # Ray's bundled copy: importable once ray is imported

def listeners(pids):
    """(host, port, pid, name) of every TCP socket in LISTEN state owned by one of `pids`."""
    out = []
    if shutil.which("ss"):
        import re
        text = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
        for line in text.splitlines():
            cols = line.split()
            host, _, port = cols[3].rpartition(":")
            for name, pid in re.findall(r'\("([^"]*)",pid=(\d+)', line):
                if int(pid) in pids:
                    out.append((host.strip("[]"), int(port), int(pid), name))
    else:
        for pid in pids:
            try:
                p = psutil.Process(pid)
                for c in p.net_connections(kind="inet"):
                    if c.status == psutil.CONN_LISTEN:
                        out.append((c.laddr.ip, c.laddr.port, pid, p.name()))
            except psutil.Error:
                pass
    return out
'''

DEFAULT_BACKEND = LISTENERS + r'''
import ray
from smpsim.runtime.ray_backend import RayBackend
from smpsim.runtime.ray_transport import RayTransport
from smpsim.protocol import SnapshotRequest
from smpsim.costs import CostModel
from smpsim.protocol import CpuSetup

backend = RayBackend(timeout_s=60)
t = RayTransport(timeout_s=60)          # a few actors, so worker processes listen too
t.start([CpuSetup(i, 16, 4, False, 1, CostModel().model_dump()) for i in range(2)])
t.exchange([0, 1], [SnapshotRequest(0), SnapshotRequest(1)])
me = psutil.Process()
tree = [me, *me.children(recursive=True)]
pids = {p.pid for p in tree}
info = {"address": backend.address, "node_ip": ray.util.get_node_ip_address(),
        "listeners": listeners(pids), "nprocs": len(tree),
        "names": sorted({p.name() for p in tree})}
t.close()
backend.close()
gone, alive = psutil.wait_procs([p for p in tree if p.pid != me.pid], timeout=30)
info["left_running"] = [p.name() for p in alive if p.status() != psutil.STATUS_ZOMBIE]
info["initialized_after_close"] = ray.is_initialized()
print("RESULT " + json.dumps(info))
'''


@pytest.mark.ray
def test_default_backend_is_fresh_local_and_loopback_only():
    # RAY_ADDRESS=local must not stop a fresh start; no other RAY_* variable is set.
    info = result_of(run_driver(DEFAULT_BACKEND, clean_env(RAY_ADDRESS="local")))
    assert info["address"].startswith("127.0.0.1:"), info
    assert info["node_ip"] == "127.0.0.1", info
    assert {"gcs_server", "raylet"} <= set(info["names"]), info
    ports = {(h, p) for h, p, _, _ in info["listeners"]}
    assert any(p == int(info["address"].rsplit(":", 1)[1]) for _, p in ports), info
    exposed = [entry for entry in info["listeners"] if not is_loopback(entry[0].removeprefix("::ffff:"))]
    assert exposed == [], f"cluster processes listening beyond loopback: {exposed}"
    assert info["left_running"] == [] and info["initialized_after_close"] is False, info


def test_resolve_address():
    env = dict(os.environ)
    try:
        os.environ.pop("RAY_ADDRESS", None)
        assert resolve_address(None) is None
        assert resolve_address("local") is None
        assert resolve_address("10.1.2.3:6379") == "10.1.2.3:6379"
        os.environ["RAY_ADDRESS"] = "127.0.0.1:7000"
        assert resolve_address(None) == "127.0.0.1:7000"
        assert resolve_address("127.0.0.1:8000") == "127.0.0.1:8000"     # the argument wins
        os.environ["RAY_ADDRESS"] = "local"
        assert resolve_address(None) is None
    finally:
        os.environ.clear()
        os.environ.update(env)


def test_split_address():
    assert split_address("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert split_address("[::1]:6379") == ("::1", 6379)
    for bad in ("foo", "host:", ":80", "host:port"):
        with pytest.raises(ClusterError, match="expected HOST:PORT"):
            split_address(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("10.0.0.1")
