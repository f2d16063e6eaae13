"""A sweep on a real two-node Ray cluster: a head and a second node started with `ray start` on loopback.

Each node has a custom resource naming it (`node_head`, `node_second`) and 600 MiB of
Ray memory, so one 4-CPU simulation's actor set (5 actors x 100 MiB) fits a node
but two do not: with --parallel 2, Ray's own memory accounting puts the two
simulations running at once on different nodes. Checked: simulations ran on
both nodes, each simulation's actors shared one node, the results (summary and
every event stream) equal the sequential inline run's, a simulation too big for
one node runs spread and run.json says so, a run too big for the cluster is
refused with exit 2 before anything starts, and no reservation is left behind.
The nodes are stopped at the end (SIGTERM to each `ray start --block`, then
SIGKILL to its process group).

Without Ray: the capacity arithmetic those checks rest on, over two such nodes.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")

from smpsim.errors import ConfigError  # noqa: E402
from smpsim.experiments.scheduling import capacity  # noqa: E402
from smpsim.runtime.ray_pool import ACTOR_BYTES, NodeInfo  # noqa: E402
from tests.golden import strip_wall  # noqa: E402
from tests.ray_fixtures import (ROOT, clean_env, free_port, result_of, run_driver, start_ray_node,  # noqa: E402
                                stop_ray_node)

NODE_MEMORY = 600 * (1 << 20)
# `ray start --address` refuses to join a cluster when Ray's cluster mode is off (it is off to keep
# 127.0.0.1 as the node IP: see ray_cluster.loopback_mode), and with it on would replace 127.0.0.1 by the
# host's external IP. So the second node's `ray start` runs with cluster mode on and that replacement off;
# the processes it spawns inherit cluster mode off, so every one of them stays on 127.0.0.1.
JOIN = ("import sys\nimport ray._private.ray_constants as c\nimport ray._private.services as s\n"
        "c.ENABLE_RAY_CLUSTER = True\ns.resolve_ip_for_localhost = lambda host: host\n"
        "from ray.scripts.scripts import main\nsys.argv = ['ray', *sys.argv[1:]]\nmain()\n")
CONFIG = """
name = "two_node"
seed = 5
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
[sweep]
"machine.ncpus" = [2, 4]
"""

CLUSTER_STATE = r'''
import json, ray
from ray.util.placement_group import placement_group_table
from smpsim.runtime.ray_cluster import attach
import sys
conn = attach(sys.argv[1])
nodes = [n for n in ray.nodes() if n["Alive"]]
pgs = [p for p in placement_group_table().values() if p["state"] != "REMOVED"]
print("RESULT " + json.dumps({"nodes": {n["NodeID"]: sorted(k for k in n["Resources"] if k.startswith("node_"))
                                         for n in nodes},
                              "memory_free": ray.available_resources().get("memory"),
                              "memory_total": ray.cluster_resources().get("memory"),
                              "live_placement_groups": len(pgs)}))
conn.close()
'''


def _plan(max_ncpus: int, requested: int | None = None, simulations: int = 4) -> capacity.Capacity:
    nodes = [NodeInfo(name, "127.0.0.1", 2.0, NODE_MEMORY, {name: 1.0}) for name in ("node_head", "node_second")]
    return capacity.plan(nodes, backend="ray", max_ncpus=max_ncpus, actor_bytes=ACTOR_BYTES, sim_bytes=0,
                         requested=requested, simulations=simulations)


def test_the_capacity_arithmetic_of_two_such_nodes():
    assert ACTOR_BYTES == 100 * (1 << 20)      # what the node memory above is sized against
    sweep = _plan(4, requested=2)              # the sweep's largest: 5 actors, 500 MiB: one per node
    assert (sweep.parallel, sweep.by_memory, sweep.spread, sweep.notes) == (2, 2, False, [])
    assert _plan(4, requested=3).parallel == 2                   # a third would not fit
    spread = _plan(6, simulations=1)                             # 700 MiB: more than a node, less than both
    assert spread.spread and spread.parallel == 1
    assert "spread over several nodes" in spread.notes[0]
    with pytest.raises(ConfigError) as err:
        _plan(16)
    msg = str(err.value)
    assert "16 CPU actors + 1 VM actor = 17 actors x 100 MiB" in msg and "1.7 GiB" in msg and "600 MiB" in msg
    assert "Nothing was started" in msg


@pytest.fixture(scope="module")
def two_nodes():
    base = Path(tempfile.mkdtemp(prefix="smp2n", dir="/tmp"))       # short: Ray's unix socket paths
    (base / "home").mkdir()
    token = secrets.token_hex(16)
    port = free_port()
    env = clean_env(HOME=str(base / "home"), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token,
                    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")      # keep 127.0.0.1 as the node IP
    ray_bin = str(Path(sys.executable).with_name("ray"))
    common = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--memory", str(NODE_MEMORY),
              "--disable-usage-stats"]
    procs = []
    try:
        head, _ = start_ray_node([ray_bin, "start", "--head", "--port", str(port), "--temp-dir", str(base / "t"),
                                  "--include-dashboard", "false", "--resources", json.dumps({"node_head": 1}),
                                  *common], env, base)
        procs.append(head)
        address = f"127.0.0.1:{port}"
        second, _ = start_ray_node([sys.executable, "-c", JOIN, "start", "--address", address,
                                    "--resources", json.dumps({"node_second": 1}), *common], env, base)
        procs.append(second)
        # Ray has no call that blocks until a node has registered: the second node's readiness is
        # polled, with a deadline that fails the fixture by name instead of hanging.
        wait = ("import ray, sys, time\nfrom smpsim.runtime.ray_cluster import attach\nc = attach(sys.argv[1])\n"
                "deadline = time.monotonic() + 60\n"
                "while sum(n['Alive'] for n in ray.nodes()) < 2:\n"
                "    assert time.monotonic() < deadline, 'the second node never registered with the head'\n"
                "    time.sleep(0.2)\n"
                "c.close()\nprint('RESULT {}')")
        result_of(subprocess.run([sys.executable, "-c", wait, address], cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=120))
        yield address, env, base
    finally:
        for p in reversed(procs):
            stop_ray_node(p)
        shutil.rmtree(base, ignore_errors=True)


def _smpsim(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smpsim.cli", "run", *args, "--quiet"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _load(run_dir: Path) -> tuple[dict, dict]:
    summary = strip_wall(json.loads((run_dir / "summary.json").read_text()))
    summary.pop("backend")
    events = {n: [strip_wall(json.loads(l)) for l in (run_dir / n / "events.jsonl").read_text().splitlines()]
              for n in ("ncpus=2", "ncpus=4")}
    return summary, events


def _state(address: str, env: dict) -> dict:
    return result_of(run_driver(CLUSTER_STATE.replace("sys.argv[1]", repr(address)), env, timeout=120))


@pytest.fixture(scope="module")
def sequential_inline(tmp_path_factory):
    d = tmp_path_factory.mktemp("seq")
    (d / "two_node.toml").write_text(CONFIG)
    r = _smpsim([str(d / "two_node.toml"), "--backend", "inline", "--out", str(d / "run")], clean_env())
    assert r.returncode == 0, r.stderr
    return d / "two_node.toml", _load(d / "run")


@pytest.mark.ray
@pytest.mark.parametrize("backend", ["ray", "inline"])
def test_sweep_on_two_nodes_uses_both_and_equals_sequential_inline(two_nodes, sequential_inline, tmp_path, backend):
    address, env, _ = two_nodes
    config, expected = sequential_inline
    r = _smpsim([str(config), "--backend", backend, "--address", address, "--parallel", "2",
                 "--out", str(tmp_path / "run")], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _load(tmp_path / "run") == expected
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    names = {nid: info["resources"] for nid, info in status["cluster"]["nodes"].items()}
    assert sorted(k for res in names.values() for k in res) == ["node_head", "node_second"]
    sims = status["simulations"]
    assert sorted(sims) == ["ncpus=2/netbsd5", "ncpus=2/seed", "ncpus=4/netbsd5", "ncpus=4/seed"]
    for name, where in sims.items():
        assert len(where["nodes"]) == 1 and not where["spread"], (name, where)       # one node per simulation
        if backend == "ray":
            assert where["vm_node"] == where["nodes"][0] and set(where["cpu_nodes"]) == set(where["nodes"])
    used = {where["nodes"][0] for where in sims.values()}
    assert used == set(names), f"simulations ran on {used}, the cluster has {set(names)}"
    state = _state(address, env)
    assert state["live_placement_groups"] == 0 and state["memory_free"] == state["memory_total"]


@pytest.mark.ray
def test_a_simulation_bigger_than_a_node_runs_spread_and_says_so(two_nodes, tmp_path):
    address, env, _ = two_nodes
    # 6 CPU actors + the VM actor = 700 MiB: more than a node's 600 MiB, less than the cluster's 1200
    r = _smpsim([str(ROOT / "configs" / "exit_storm_quick.toml"), "--address", address, "--out", str(tmp_path / "r"),
                 "--set", "machine.ncpus=6", "--set", "policies=[\"seed\"]"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    status = json.loads((tmp_path / "r" / "run.json").read_text())
    assert status["cluster"]["capacity"]["spread"] is True and status["parallel"] == 1
    assert "spread over several nodes" in status["cluster"]["capacity"]["notes"][0]
    assert status["simulations"]["base/seed"]["spread"] is True


@pytest.mark.ray
def test_a_run_too_big_for_the_cluster_is_refused_before_anything_starts(two_nodes, tmp_path):
    address, env, _ = two_nodes
    before = _state(address, env)
    r = _smpsim([str(ROOT / "configs" / "exit_storm_quick.toml"), "--address", address, "--out", str(tmp_path / "r"),
                 "--set", "machine.ncpus=16"], env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "16 CPU actors + 1 VM actor = 17 actors x 100 MiB" in r.stderr and "1.7 GiB" in r.stderr
    assert "600 MiB" in r.stderr, r.stderr
    after = _state(address, env)
    assert after["live_placement_groups"] == before["live_placement_groups"] == 0
    assert after["memory_free"] == after["memory_total"]
