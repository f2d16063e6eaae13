"""Issue 11, items 2, 3 and 5: no livelock with a default value, runaway sizes refused before anything
is expanded or started, and a signal recorded as such on the inline backend (the Ray backend's own
handler: test_reliability_ray.py).
"""

from __future__ import annotations

import pytest

from tests.reliability_helpers import CONFIGS, TINY, assert_refused, bundled, cli, read_json, write_config


@pytest.fixture
def tiny(tmp_path):
    return write_config(tmp_path / "tiny.toml", TINY)


# --- 2. livelock with a default value (the parts outside the model) --------------------------------

def test_memory_pressure_quick_finishes_with_grow_pages_left_to_its_default(tmp_path):
    data = bundled("memory_pressure_quick")
    del data["workload"]["grow_pages"]
    data["run"] = {"max_epochs": 400}           # the old default (256) runs into this bound instead of finishing
    r = cli("run", write_config(tmp_path / "mp.toml", data), "--backend", "inline", "--out", tmp_path / "r",
            "--quiet")
    assert r.code == 0, r.text
    assert all(e["epochs"] < 100 for e in read_json(tmp_path / "r" / "summary.json")["points"])


def test_memory_pressure_with_every_workload_default_finishes(tmp_path):
    data = bundled("memory_pressure_quick")
    data["workload"] = {"kind": "memory_pressure"}
    data["run"] = {"max_epochs": 400}
    r = cli("run", write_config(tmp_path / "mp.toml", data), "--backend", "inline", "--out", tmp_path / "r",
            "--quiet")
    assert r.code == 0, r.text
    # and on the default machine, too (3 short processes + 1 grower fit its 4 CPUs)
    data["machine"] = {}
    r = cli("run", write_config(tmp_path / "mp2.toml", data), "--backend", "inline", "--out", tmp_path / "r2",
            "--quiet")
    assert r.code == 0, r.text


def test_a_run_that_does_not_finish_fails_at_max_epochs_saying_so(tmp_path):
    data = bundled("memory_pressure_quick")
    data["policies"] = [{"name": "netbsd5"}]
    data["run"] = {"max_epochs": 10}            # the workload needs more

    r = cli("run", write_config(tmp_path / "mp.toml", data), "--backend", "inline", "--out", tmp_path / "r",
            "--quiet")
    assert r.code == 1 and "run.max_epochs=10" in r.stderr and "Traceback" not in r.text
    st = read_json(tmp_path / "r" / "run.json")
    assert st["status"] == "failed" and "run.max_epochs=10" in st["error"]["message"]


def test_progress_line_shows_the_real_bound_and_flags_an_overrun():
    import io

    from smpsim.experiments.progress import Progress
    out = io.StringIO()
    p = Progress(1, enabled=True, stream=out, max_epochs=100000)
    p.start("base", "netbsd5", expected=20)
    p._last = -1e9                               # due for a line now
    p.epochs(16, 20)
    assert "epoch 16 (expected ~20, stops at run.max_epochs=100000)" in out.getvalue()
    p._last = -1e9
    p.epochs(900, 900)                          # the backend's total is max(epoch, estimate)
    line = out.getvalue().splitlines()[-1]
    assert "epoch 900 (expected ~20, stops at run.max_epochs=100000)" in line
    assert "45x past the estimate" in line and "of ~900" not in line


# --- 3. runaway sizes ----------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, needles", [
    ("workload.processes", "1000000000", ["workload.processes", "PID_MAX"]),
    ("machine.phys_pages", "100000000", ["machine.phys_pages", "bytes per physical page"]),
    ("machine.tlb_entries", "600000000", ["machine.tlb_entries", "real second-level TLBs"]),
    ("machine.ncpus", "1000", ["machine.ncpus", "MAXCPUS"]),
    ("run.max_epochs", "100000000", ["run.max_epochs"]),
    ("seed", "18446744073709551616", ["seed", "64-bit"]),
    ("costs.page_walk", "18446744073709551616", ["costs.page_walk", "cycles"]),
])
def test_sizes_beyond_their_bounds_are_refused_with_the_reason(tiny, key, value, needles):
    assert_refused(cli("run", tiny, "--backend", "inline", "--set", f"{key}={value}"), *needles)


def test_a_million_point_sweep_is_refused_before_it_is_expanded(tiny):
    r = cli("run", tiny, "--backend", "inline", "--set", f"sweep.workload.run_epochs={list(range(1, 1001))}",
            "--set", f"sweep.machine.accesses_per_quantum={list(range(1000))}")
    assert_refused(r, "1000 x 1000 = 1,000,000 points", "split the study")


def test_an_image_that_is_a_device_is_refused_without_reading_it(tiny):
    assert_refused(cli("run", tiny, "--backend", "inline", "--set", 'workload.image="/dev/zero"'),
                   "/dev/zero is a device")


def test_memory_estimate_refuses_what_cannot_fit(tiny, tmp_path, monkeypatch):
    from smpsim.experiments.scheduling import estimate
    monkeypatch.setattr(estimate, "available_memory", lambda: 4 << 30)
    # 200 CPU actors of ~100 MiB each on Ray: refused before a cluster is started
    r = cli("run", tiny, "--backend", "ray", "--set", "machine.ncpus=200")
    assert_refused(r, "needs ~", "Ray actors", "4.0 GiB available")
    # the same machine inline is a few MiB
    assert cli("run", tiny, "--backend", "inline", "--set", "machine.ncpus=200", "--quiet", "--out", tmp_path / "r",
               "--set", "machine.accesses_per_quantum=0").code == 0


def test_long_runs_need_yes(tiny, tmp_path):
    env = {"SMPSIM_CONFIRM_ABOVE_S": "0.000001"}
    assert_refused(cli("run", tiny, "--backend", "inline", "--out", tmp_path / "a", env=env), "--yes")
    assert not (tmp_path / "a").exists()
    assert cli("run", tiny, "--backend", "inline", "--out", tmp_path / "b", "--yes", "--quiet", env=env).code == 0


def test_estimate_is_within_reason_for_a_bundled_study():
    """The estimate errs high but not absurdly: study_exit_cost takes about a minute on 2 cores."""
    from smpsim.experiments import config as cfgmod
    from smpsim.experiments.scheduling.estimate import estimate
    _, data = cfgmod.load(CONFIGS / "study_exit_cost.toml")
    cfgs = [cfgmod.validate(pd) for _, pd in cfgmod.sweep_points(data)]
    est = estimate(cfgs, "inline")
    assert 10 < est.seconds < 600 and est.runs == 48
    assert est.memory_bytes < 2 << 30


# --- 5. signals (the Ray backend's own handler: test_reliability_ray.py) ------------------------------

def test_sigterm_is_recorded_as_sigterm_even_when_it_surfaces_as_another_exception(tmp_path, tiny, monkeypatch):
    """CPython turns an interrupt that lands inside an import into "TypeError: expected a message
    argument" (it happened while Ray imported pydantic.v1 for its first actor): still an interruption."""
    import signal

    from smpsim.runtime.inline_backend import InlineBackend

    def run_point(self, *a, **k):
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:
            raise TypeError("expected a message argument") from None
    monkeypatch.setattr(InlineBackend, "run_point", run_point)
    r = cli("run", tiny, "--backend", "inline", "--out", tmp_path / "r", "--quiet")
    assert r.code == 143 and "interrupted by SIGTERM" in r.stderr and r.exception is None, r.text
    for f in (tmp_path / "r" / "run.json", tmp_path / "r" / "base" / "run.json"):
        st = read_json(f)
        assert st["status"] == "interrupted" and st["error"]["signal"] == "SIGTERM", st
