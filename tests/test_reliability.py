"""Issue 11, items 1-3 and 6-9: no lost or mixed results, bounded sizes, config strings that stay
names, every bad input refused with exit 2 (one paragraph, no traceback, nothing started).

Items 4 (I/O errors) and 5 (signals) are in test_reliability_io.py and test_reliability_ray.py.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from smpsim.experiments import runner
from tests.test_reliability_helpers import (CONFIGS, ROOT, TINY, assert_refused, bundled, cli, events_are_one_run,
                                            files_under, read_json, write_config)


@pytest.fixture
def tiny(tmp_path):
    return write_config(tmp_path / "tiny.toml", TINY)


def _completed_run(tmp_path, config: Path, out: str = "run") -> Path:
    r = cli("run", config, "--backend", "inline", "--out", tmp_path / out, "--quiet")
    assert r.code == 0, r.text
    return tmp_path / out


# --- 1. results lost or mixed -------------------------------------------------------------------

class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 27, 16, 0, 0, tzinfo=timezone.utc)


def test_two_runs_in_the_same_second_get_their_own_directories(tmp_path, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "datetime", _FrozenClock)
    assert cli("run", tiny, "--backend", "inline", "--quiet").code == 0
    assert cli("run", tiny, "--backend", "inline", "--quiet").code == 0
    dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert dirs == ["20261127T160000Z-tiny", "20261127T160000Z-tiny-2"]
    for d in dirs:
        assert read_json(tmp_path / "runs" / d / "run.json")["status"] == "completed"
        assert events_are_one_run(tmp_path / "runs" / d / "base" / "events.jsonl")


SAME_SECOND = """
import sys
from datetime import datetime, timezone
import smpsim.experiments.runner as r
class Frozen(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 27, 16, 0, 0, tzinfo=timezone.utc)
r.datetime = Frozen
from smpsim.cli import main
sys.argv = ["smpsim", "run", sys.argv[1], "--backend", "inline", "--quiet"]
main()
"""


def test_concurrent_runs_in_the_same_second_both_complete_with_consistent_results(tmp_path):
    """Two processes, both stamped with the same second, started together."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    config = CONFIGS / "fork_exit_quick.toml"
    procs = [subprocess.Popen([sys.executable, "-c", SAME_SECOND, str(config)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    dirs = sorted((tmp_path / "runs").iterdir())
    assert [d.name for d in dirs] == ["20261127T160000Z-fork_exit_quick", "20261127T160000Z-fork_exit_quick-2"]
    summaries = []
    for d in dirs:
        assert read_json(d / "run.json")["status"] == "completed"
        assert events_are_one_run(d / "base" / "events.jsonl")
        s = read_json(d / "summary.json")
        summaries.append([(e["policy"], e["counters"], e["sim_cycles"]) for e in s["points"]])
    assert summaries[0] == summaries[1]          # each is the whole, unmixed result of the same config


def test_create_run_dir_is_atomic_and_unique(tmp_path):
    from smpsim.rundir.files import create_run_dir
    made = [create_run_dir(tmp_path, "x") for _ in range(5)]
    assert [p.name for p in made] == ["x", "x-2", "x-3", "x-4", "x-5"]


def _sweep_run(tmp_path) -> Path:
    data = copy.deepcopy(TINY)
    data["sweep"] = {"machine.ncpus": [2, 3]}
    return _completed_run(tmp_path, write_config(tmp_path / "sweep.toml", data))


def _mark_unfinished(run_dir: Path, point: str) -> None:
    pj = run_dir / point / "run.json"
    st = read_json(pj)
    st["status"] = "interrupted"
    pj.write_text(json.dumps(st))


def test_resume_refuses_set_and_says_how_to_start_a_new_run(tmp_path):
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    before = (run_dir / "summary.json").read_bytes()
    r = cli("run", "--resume", run_dir, "--set", "workload.processes=1", "--backend", "inline")
    assert_refused(r, "cannot take --set", "--out NEW_DIR", str(run_dir / "config.toml"))
    assert (run_dir / "summary.json").read_bytes() == before


def test_resume_refuses_a_config_argument(tmp_path, tiny):
    run_dir = _sweep_run(tmp_path)
    assert_refused(cli("run", tiny, "--resume", run_dir, "--backend", "inline"), "not both", "--out NEW_DIR")


def test_resume_refuses_a_config_that_would_resolve_differently(tmp_path):
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    text = (run_dir / "config.toml").read_text()
    # a config.toml that is not the resolved form (here: a key left to a default) would run
    # the remaining points with whatever this smpsim's default is
    (run_dir / "config.toml").write_text(text.replace("tail_epochs = 2\n", ""))
    assert_refused(cli("run", "--resume", run_dir, "--backend", "inline"), "run.tail_epochs", "--out NEW_DIR")


def test_resume_refuses_when_a_completed_point_ran_another_config(tmp_path):
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    pc = run_dir / "ncpus=2" / "config.toml"
    pc.write_text(pc.read_text().replace("processes = 2", "processes = 1"))
    assert_refused(cli("run", "--resume", run_dir, "--backend", "inline"), "ncpus=2", "workload.processes")


def test_resume_of_a_directory_in_use_is_refused(tmp_path):
    from smpsim.rundir.files import RunLock
    run_dir = _sweep_run(tmp_path)
    _mark_unfinished(run_dir, "ncpus=3")
    lock = RunLock(run_dir).acquire()           # another process is running or resuming it
    try:
        assert_refused(cli("run", "--resume", run_dir, "--backend", "inline"), "in use by another smpsim process",
                       f"pid {os.getpid()}")
    finally:
        lock.release()
    assert cli("run", "--resume", run_dir, "--backend", "inline", "--quiet").code == 0
    assert read_json(run_dir / "run.json")["status"] == "completed"


def test_an_out_directory_in_use_is_refused_and_left_alone(tmp_path, tiny):
    from smpsim.rundir.files import RunLock
    out = tmp_path / "shared"
    out.mkdir()
    lock = RunLock(out).acquire()               # another process has just created it and is starting
    try:
        assert_refused(cli("run", tiny, "--backend", "inline", "--out", out), "in use by another smpsim process")
    finally:
        lock.release()
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_two_resumes_at_once_only_one_runs(tmp_path):
    """A real second process: the first resume holds the lock while it runs."""
    data = bundled("study_exit_cost")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    from smpsim.rundir.files import write_toml
    write_toml(run_dir / "config.toml", runner.resolved(data))   # a run that never got to its first point
    first = subprocess.Popen([sys.executable, "-m", "smpsim.cli", "run", "--resume", str(run_dir), "--backend",
                              "inline"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr.readline().startswith("[1/")       # running, so it holds the lock
        second = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", "--resume", str(run_dir), "--backend",
                                 "inline"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "in use by another smpsim process" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(__import__("signal").SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130


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


def test_memory_estimate_refuses_what_cannot_fit(tiny, monkeypatch):
    from smpsim.experiments.scheduling import estimate
    monkeypatch.setattr(estimate, "available_memory", lambda: 4 << 30)
    # 200 CPU actors of ~100 MiB each on Ray: refused before a cluster is started
    r = cli("run", tiny, "--backend", "ray", "--set", "machine.ncpus=200")
    assert_refused(r, "needs ~", "Ray actors", "4.0 GiB available")
    # the same machine inline is a few MiB
    assert cli("run", tiny, "--backend", "inline", "--set", "machine.ncpus=200", "--quiet",
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


# --- 6. config strings that became paths ----------------------------------------------------------

def test_name_cannot_escape_the_runs_directory(tmp_path, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    assert_refused(cli("run", tiny, "--backend", "inline", "--set", 'name="../../x"'), "name", "letters, digits")
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "x").exists()


def test_default_name_from_an_odd_file_name_is_made_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {k: v for k, v in TINY.items() if k != "name"}
    cfg = write_config(tmp_path / "my config (copy).toml", data)
    assert cli("run", cfg, "--backend", "inline", "--quiet").code == 0
    (d,) = (tmp_path / "runs").iterdir()
    assert d.name.endswith("-my_config_copy_")


def test_sweep_values_with_slashes_make_flat_safe_point_directories(tmp_path):
    from smpsim.experiments.images import bundled_image, save_image
    a = save_image([bundled_image("bash")], tmp_path / "imgs" / "a.json")
    b = save_image([bundled_image("python3")], tmp_path / "imgs" / "deep" / ".." / "b.json")
    data = copy.deepcopy(TINY)
    data["sweep"] = {"workload.image": [str(a), str(b)]}
    out = _completed_run(tmp_path, write_config(tmp_path / "s.toml", data))
    points = [p for p in out.iterdir() if p.is_dir()]
    assert len(points) == 2
    for p in points:
        assert "/" not in p.name and not p.name.startswith(".") and len(p.name) <= 120 and "~" in p.name
        assert (p / "summary.json").is_file()
    assert sorted(read_json(p / "run.json")["params"]["workload.image"] for p in points) == sorted([str(a), str(b)])
    assert {p for p in files_under(tmp_path) if p.suffix == ".jsonl"} <= files_under(out)


def test_point_names_are_kept_when_safe_and_hashed_when_not():
    from smpsim.experiments.config import point_names
    assert point_names([{"machine.ncpus": 2, "workload.pages": 64}]) == ["ncpus=2,pages=64"]
    assert point_names([{}]) == ["base"]
    names = point_names([{"workload.image": "../../etc"}, {"workload.image": "..%2f..%2fetc"},
                         {"workload.image": "x" * 500}])
    assert all("/" not in n and len(n) <= 120 and not n.startswith(".") for n in names)
    assert len(set(names)) == 3
    # two values that sanitize alike stay apart
    a, b = point_names([{"k": "a/b"}, {"k": "a_b"}])
    assert a != b and b == "k=a_b"


# --- 7. tracebacks instead of exit 2 ---------------------------------------------------------------

GOOD = (CONFIGS / "fork_exit_quick.toml").read_bytes()


@pytest.mark.parametrize("content, needle", [
    (b"name = \"x\xff\"\n", "not UTF-8"),
    ("name = 'x'\n".encode("utf-16"), "UTF-16"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested"),
    (b"a = " + b"[" * 100 + b"]" * 100 + b"\n", "nested"),
    (b'workload = "x"\n[[policies]]\nname = "netbsd5"\n', "workload"),
])
def test_undecodable_or_odd_configs_are_refused(tmp_path, content, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(content)
    assert_refused(cli("run", cfg, "--backend", "inline"), needle)


def test_a_config_with_a_utf8_bom_runs(tmp_path):
    cfg = tmp_path / "bom.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + GOOD)
    assert cli("run", cfg, "--backend", "inline", "--out", tmp_path / "r", "--quiet").code == 0


def test_exit_storm_with_too_many_pages_per_entry_is_refused_before_start(tiny, tmp_path):
    r = cli("run", tiny, "--backend", "inline", "--out", tmp_path / "r", "--set", "workload.pages=600000",
            "--set", "workload.entries=2", "--set", "machine.phys_pages=1048576")
    assert_refused(r, "300,000 pages per map entry", "workload.entries to at least 3")
    assert not (tmp_path / "r").exists()


MAPS = ("00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
        "7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0\n")


def test_maps_import_refuses_addresses_beyond_64_bits(tmp_path):
    m = tmp_path / "big.maps"
    m.write_text("1" * 20 + "-" + "2" * 20 + " r-xp 00000000 08:02 1 /x\n")
    assert_refused(cli("maps-import", m, "--out", tmp_path / "o.json"), "wider than 64 bits", "big.maps:1")
    m.write_text("800000000000-800000001000 rw-p 00000000 00:00 0\n")
    assert_refused(cli("maps-import", m, "--out", tmp_path / "o.json"), "47-bit user address space")


def test_maps_import_takes_non_utf8_paths(tmp_path):
    m = tmp_path / "odd.maps"
    m.write_bytes(MAPS.encode() + b"7f3a1c100000-7f3a1c121000 r--p 00000000 08:02 9 /lib/caf\xe9.so\n")
    r = cli("maps-import", m, "--out", tmp_path / "o.json")
    assert r.code == 0, r.text
    objs = {e["shared_object"] for e in read_json(tmp_path / "o.json")["images"][0]["entries"]}
    assert "/lib/caf\\xe9.so" in objs


def test_maps_import_refuses_a_fifo_instead_of_waiting_on_it(tmp_path):
    fifo = tmp_path / "maps.fifo"
    os.mkfifo(fifo)
    assert_refused(cli("maps-import", fifo, "--out", tmp_path / "o.json"), "is a FIFO")


def test_compare_and_analyze_a_run_with_no_finished_point(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"status": "interrupted"}')
    (run_dir / "summary.json").write_text('{"points": []}')
    assert_refused(cli("compare", run_dir), "nothing to compare", "has finished")
    assert cli("report", run_dir).code == 0 and "No point has finished" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("damage, needle", [
    (lambda d: (d / "run.json").write_bytes(b'{"status": "\xff"}'), "not UTF-8"),
    (lambda d: (d / "summary.json").write_text('{"points": [{"point": "../../x", "policy": "p"}]}'),
     "not a directory name"),
    (lambda d: (d / "summary.json").write_text('{"points": [{"point": "base", "policy": "p", "counters": '
                                               '{"tlb_hits": NaN}}]}'), "not valid JSON"),
    (lambda d: (d / "summary.json").write_text('{"points": [{"point": "base", "policy": "p", "params": [1]}]}'),
     "params must be a JSON object"),
    (lambda d: (d / "base" / "events.jsonl").write_bytes(b'{"event": "exit", "x": "\xff"}\n'), "not UTF-8"),
])
def test_damaged_run_files_are_refused_by_the_analysis(tmp_path, tiny, damage, needle):
    run_dir = _completed_run(tmp_path, tiny)
    damage(run_dir)
    assert_refused(cli("analyze", run_dir), needle)


def test_report_survives_a_plot_that_fails(tmp_path, tiny, monkeypatch):
    """A 1.5 GB log made matplotlib overflow and no report.md was written at all."""
    from smpsim.analysis import report
    run_dir = _completed_run(tmp_path, tiny)

    def overflow(*a, **k):
        raise OverflowError("In draw_path: Exceeded cell block limit")
    monkeypatch.setattr(report, "latency_cdf", overflow)
    r = cli("report", run_dir)
    assert r.code == 0, r.text
    md = (run_dir / "report.md").read_text()
    assert "exit latency CDF could not be drawn (OverflowError" in md and "## Full tables" in md


def test_long_series_are_thinned_before_plotting():
    from smpsim.analysis.plots import MAX_POINTS, thin_cdf, thin_steps
    from smpsim.stats import ecdf
    xs, ys = thin_cdf(*ecdf(list(range(1_000_000, 0, -1))))
    assert len(xs) <= MAX_POINTS + 1 and xs[-1] == 1_000_000 and ys[-1] == 1.0
    assert all(a <= b for a, b in zip(xs, xs[1:]))
    series = [0] * 500_000
    series[123_457] = 99                        # a one-epoch spike survives
    tx, ty = thin_steps(list(range(len(series))), series)
    assert len(tx) <= MAX_POINTS + 1 and max(ty) == 99


# --- 8. types coerced although the README says refused ---------------------------------------------

@pytest.mark.parametrize("override, key", [
    ('machine.ncpus="4"', "machine.ncpus"),
    ("machine.ncpus=4.0", "machine.ncpus"),
    ("machine.kernel_pages=true", "machine.kernel_pages"),
    ('policies[0].pcid="yes"', "policies[0].pcid"),
    ('run.check="yes"', "run.check"),
])
def test_wrong_types_are_refused_not_coerced(tiny, override, key):
    assert_refused(cli("run", tiny, "--backend", "inline", "--set", override), key, "(got ")


# --- 9. smaller ------------------------------------------------------------------------------------

def test_bad_address_is_bad_input_and_leaves_no_directory(tmp_path, tiny):
    """In a subprocess: attaching imports Ray (but starts nothing) and must leave this process alone."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                   # nothing listens there now
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    r = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", str(tiny), "--address", f"127.0.0.1:{port}",
                        "--out", str(tmp_path / "r")], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "no Ray cluster at 127.0.0.1:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


def test_a_megabyte_key_gives_a_short_message(tiny):
    r = cli("run", tiny, "--backend", "inline", "--set", f"machine.{'k' * 1_000_000}=1")
    assert_refused(r, "unknown key", "kkkk")


def test_run_dev_null_says_what_it_is(tmp_path):
    assert_refused(cli("run", "/dev/null", "--backend", "inline"), "/dev/null is a device")
    assert_refused(cli("run", tmp_path / "missing.toml", "--backend", "inline"), "config file not found")
