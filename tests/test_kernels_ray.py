"""Every kernel preset on every bundled quick workload: on Ray exactly as inline (every counter,
simulated latency and event), and under the invariant checker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from smpsim.experiments.runner import RunRequest, run  # noqa: E402
from tests.test_ray_run import _sim  # noqa: E402

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parent.parent
QUICK = sorted(p.stem for p in (ROOT / "configs").glob("*_quick.toml"))
KERNELS = '["netbsd10", "freebsd", "linux", "linux_invlpgb"]'
# the longest quick configs, shortened (same workload, fewer rounds) to keep the suite short
SHORTER = {"shared_eviction_quick": ["workload.rounds=2", "workload.processes=4"],
           "memory_pressure_quick": ["workload.processes=2", "workload.run_epochs=2"],
           "exit_storm_images_quick": ["workload.processes=3"]}


def _events(path: Path) -> list:
    return [{k: v for k, v in json.loads(line).items() if not (k == "ts" or k.endswith("_us"))}
            for line in path.read_text().splitlines()]


@pytest.mark.parametrize("config", QUICK)
def test_kernel_presets_on_ray_equal_inline_and_pass_the_checker(ray_cluster, tmp_path, config):
    kw = dict(config_path=str(ROOT / "configs" / f"{config}.toml"), progress=False,
              overrides=[f"policies={KERNELS}", *SHORTER.get(config, [])])
    _, a = run(RunRequest(backend="inline", out=str(tmp_path / "inline"), check=True, **kw))
    _, b = run(RunRequest(backend="ray", out=str(tmp_path / "ray"), **kw))
    assert [p["policy"] for p in a["points"]] == ["netbsd10", "freebsd", "linux", "linux_invlpgb"]
    assert _sim(b) == _sim(a)
    for point in dict.fromkeys(p["point"] for p in a["points"]):
        assert _events(tmp_path / "ray" / point / "events.jsonl") == \
            _events(tmp_path / "inline" / point / "events.jsonl")
