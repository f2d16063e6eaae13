"""Bad configs are refused before anything starts, with a message naming key, value and what is allowed."""

import subprocess
import sys
from pathlib import Path

import pytest

from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod

ROOT = Path(__file__).resolve().parent.parent
GOOD = '''name = "t"
[machine]
ncpus = 4
phys_pages = 4096
[workload]
kind = "exit_storm"
processes = 2
pages = 16
[[policies]]
name = "netbsd5"
'''


def _write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def _error(tmp_path, text, *overrides):
    with pytest.raises(ConfigError) as exc:
        cfgmod.load(_write(tmp_path, text), list(overrides))
    return str(exc.value)


def test_every_bundled_config_validates():
    paths = sorted((ROOT / "configs").glob("*.toml"))
    assert len(paths) >= 5
    for p in paths:
        cfgmod.load(p)


def test_unknown_key_is_named(tmp_path):
    msg = _error(tmp_path, GOOD.replace("pages = 16", "pages = 16\nbogus = 3"))
    assert "workload.bogus" in msg and "unknown key" in msg


def test_wrong_type_and_bad_choice_name_key_value_and_allowed(tmp_path):
    msg = _error(tmp_path, GOOD + 'teardown = "lazy"\n')
    assert "policies[0].teardown" in msg and "'lazy'" in msg and "'eager', 'deferred', 'gc', 'zap_ptp', 'remove_pages' or 'mmu_gather'" in msg
    msg = _error(tmp_path, GOOD.replace("ncpus = 4", 'ncpus = "four"'))
    assert "machine.ncpus" in msg and "'four'" in msg


def test_impossible_values(tmp_path):
    assert "workload.pages" in _error(tmp_path, GOOD.replace("pages = 16", "pages = 0"))
    msg = _error(tmp_path, GOOD.replace("phys_pages = 4096", "phys_pages = 4096\nfreetarg = 9999"))
    assert "freetarg=9999" in msg
    msg = _error(tmp_path, GOOD.replace("pages = 16", "pages = 16\nthreads = 8"))
    assert "threads=8" in msg and "ncpus=4" in msg


def test_set_overrides_are_validated_like_the_file(tmp_path):
    p = _write(tmp_path, GOOD)
    cfg, _ = cfgmod.load(p, ["machine.ncpus=8", "policies[0].teardown=deferred"])
    assert cfg.machine.ncpus == 8 and cfg.policies[0].teardown == "deferred"
    msg = _error(tmp_path, GOOD, "machine.ncpus=-1")
    assert "machine.ncpus" in msg and "-1" in msg
    assert "--set expects KEY=VALUE" in _error(tmp_path, GOOD, "machine.ncpus")
    assert "policies has no element [3]" in _error(tmp_path, GOOD, "policies[3].pcid=true")


def test_sweep_points_are_validated_and_named(tmp_path):
    text = GOOD + '[sweep]\n"machine.ncpus" = [2, 4]\n"workload.pages" = [8, 16]\n'
    cfg, data = cfgmod.load(_write(tmp_path, text))
    points = cfgmod.sweep_points(data)
    assert [cfgmod.point_name(p) for p, _ in points] == ["ncpus=2,pages=8", "ncpus=2,pages=16",
                                                          "ncpus=4,pages=8", "ncpus=4,pages=16"]
    assert points[1][1]["workload"]["pages"] == 16 and "sweep" not in points[1][1]
    msg = _error(tmp_path, GOOD + '[sweep]\n"machine.ncpus" = [4, 0]\n')
    assert "sweep point" in msg and "machine.ncpus" in msg


def test_presets_and_overrides():
    from smpsim.experiments.config.policy import PolicyConfig
    seed = PolicyConfig.model_validate({"name": "seed"})
    assert (seed.pv_tracking, seed.teardown, seed.pressure_switch, seed.p2v_retry) == \
        ("map_entry", "deferred", "on", False)
    abl = PolicyConfig.model_validate({"name": "x", "preset": "netbsd5", "teardown": "deferred"})
    assert (abl.pv_tracking, abl.teardown, abl.p2v_retry) == ("global_hash", "deferred", True)


def test_cli_bad_config_exits_nonzero_without_traceback(tmp_path):
    p = _write(tmp_path, GOOD.replace("pages = 16", "pages = -5"))
    r = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", str(p), "--backend", "inline",
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "workload.pages" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()        # nothing started
    r = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", str(tmp_path / "missing.toml"),
                        "--backend", "inline"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "config file not found" in r.stderr and "Traceback" not in r.stderr


def test_the_clock_is_a_machine_key_and_loops_per_sim_second_reads_it():
    from tests.helpers import config_dict, run_inline
    wl = {"kind": "tlb_flush", "threads": 2, "region_pages": 4, "loops": 2}
    counters = {}
    for ghz in (2.5, 5.0):
        _, result, _ = run_inline(config_dict(wl, ["netbsd5"], ghz=ghz), check=False)
        counters[ghz] = result["counters"]
    fast, slow = counters[5.0]["loops_per_sim_second"], counters[2.5]["loops_per_sim_second"]
    assert slow > 0 and 0 <= fast - 2 * slow <= 1       # loops * clock_hz // span: floor(2x) vs 2 floor(x)
    assert {k: v for k, v in counters[5.0].items() if k != "loops_per_sim_second"} == \
        {k: v for k, v in counters[2.5].items() if k != "loops_per_sim_second"}      # cycles do not move
    assert cfgmod.MachineConfig().ghz == 2.5 and cfgmod.MachineConfig().clock_hz == 2_500_000_000
    for bad in ("0.0", "11.0", '"fast"'):
        with pytest.raises(ConfigError, match="machine.ghz"):
            cfgmod.validate({**config_dict(wl, ["netbsd5"]), "machine": {"ghz": cfgmod.parse_value(bad)}})


def test_schema_classes_are_named_config():
    from smpsim.experiments.config import policy, schema
    models = [v for mod in (schema, policy) for v in vars(mod).values()
              if isinstance(v, type) and issubclass(v, schema.BaseModel)
              and v.__module__ == mod.__name__ and not v.__name__.startswith("_")]
    assert len(models) >= 10 and all(m.__name__.endswith("Config") for m in models), models
