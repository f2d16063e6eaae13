"""Every kernel preset on every bundled quick workload: on Ray exactly as inline (every counter,
simulated latency and event), and under the invariant checker.

The presets are those `design.preset_names()` lists but the two test_ray_run already covers.
Without Ray: each of them runs one quick workload inline under the checker, as its own design.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from smpsim.experiments.runner import RunRequest, run  # noqa: E402
from smpsim.vm import design  # noqa: E402
from tests.test_ray_run import POLICIES, _policies, _sim  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUICK = sorted(p.stem for p in (ROOT / "configs").glob("*_quick.toml"))
KERNELS = [name for name in design.preset_names() if name not in POLICIES]
# the longest quick configs, shortened (same workload, fewer rounds) to keep the suite short
SHORTER = {"shared_eviction_quick": ["workload.rounds=2", "workload.processes=4"],
           "memory_pressure_quick": ["workload.processes=2", "workload.run_epochs=2"],
           "exit_storm_images_quick": ["workload.processes=3"]}


def _events(path: Path) -> list:
    return [{k: v for k, v in json.loads(line).items() if not (k == "ts" or k.endswith("_us"))}
            for line in path.read_text().splitlines()]


def test_every_kernel_preset_passes_the_checker_inline_as_a_design_of_its_own(tmp_path):
    assert KERNELS, "no kernel preset beyond the ones test_ray_run covers"
    _, a = run(RunRequest(config_path=str(ROOT / "configs" / "exit_storm_quick.toml"), backend="inline",
                          out=str(tmp_path / "inline"), check=True, progress=False, overrides=[_policies(KERNELS)]))
    assert [p["policy"] for p in a["points"]] == KERNELS
    assert all(p["counters"]["exits"] > 0 for p in a["points"])
    switches = [json.dumps(p["switches"], sort_keys=True) for p in a["points"]]
    assert len(set(switches)) == len(KERNELS), "two presets ran the same design"
    assert json.loads((tmp_path / "inline" / "run.json").read_text())["status"] == "completed"


@pytest.mark.ray
@pytest.mark.parametrize("config", QUICK)
def test_kernel_presets_on_ray_equal_inline_and_pass_the_checker(ray_cluster, tmp_path, config):
    kw = dict(config_path=str(ROOT / "configs" / f"{config}.toml"), progress=False,
              overrides=[_policies(KERNELS), *SHORTER.get(config, [])])
    _, a = run(RunRequest(backend="inline", out=str(tmp_path / "inline"), check=True, **kw))
    _, b = run(RunRequest(backend="ray", out=str(tmp_path / "ray"), **kw))
    assert [p["policy"] for p in a["points"]] == KERNELS
    assert _sim(b) == _sim(a)
    for point in dict.fromkeys(p["point"] for p in a["points"]):
        assert _events(tmp_path / "ray" / point / "events.jsonl") == \
            _events(tmp_path / "inline" / point / "events.jsonl")
