"""smpsim.calibrate's measurement half: statistics, CPU-list validation, compiler and platform
errors, the benchmarks' JSON lines, the build cache; and (slow) one quick calibration of this
machine checked for sanity."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys

import pytest

from smpsim.calibrate import build, machine, measure, plan, stats
from smpsim.errors import CalibrationError, SmpsimError


def test_summarize_gives_median_quartiles_and_spread():
    s = stats.summarize([10.0, 1.0, 2.0, 4.0, 3.0])
    assert s["median_ns"] == 3.0
    assert (s["q1_ns"], s["q3_ns"]) == (2.0, 4.0)
    assert s["iqr_over_median"] == pytest.approx(2.0 / 3.0)
    assert s["reps"] == 5
    one = stats.summarize([7.0])
    assert (one["median_ns"], one["iqr_over_median"], one["reps"]) == (7.0, 0.0, 1)
    with pytest.raises(ValueError):
        stats.summarize([])


def test_calibration_error_is_an_smpsim_error():
    assert issubclass(CalibrationError, SmpsimError)


def test_cpus_default_to_the_usable_ones_and_bad_lists_are_refused(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 3})
    assert machine.validate_cpus(None) == [0, 1, 3]
    assert machine.validate_cpus([3, 0]) == [3, 0]
    with pytest.raises(CalibrationError, match=r"CPU\(s\) 2, 7 are not usable.*Usable CPUs here.*0, 1, 3"):
        machine.validate_cpus([0, 2, 7])
    with pytest.raises(CalibrationError, match=r"CPU\(s\) 1 are given more than once"):
        machine.validate_cpus([1, 1])
    with pytest.raises(CalibrationError, match="no CPUs were given"):
        machine.validate_cpus([])


def test_a_missing_compiler_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(CalibrationError, match=r"no C compiler: tried CC=.*no-such-cc.*set CC"):
        build.find_compiler()
    monkeypatch.delenv("CC")
    with pytest.raises(CalibrationError, match="cc, gcc and clang on PATH"):
        build.find_compiler()


def test_not_linux_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(CalibrationError, match="'darwin'.*Linux machine"):
        build.require_linux()
    with pytest.raises(CalibrationError, match="'darwin'"):
        measure.run_benchmarks(quick=True)


def test_the_json_line_is_parsed_and_a_bad_one_is_refused():
    line = json.dumps({"name": "syscall", "samples_ns": [170.5, 171], "ops_per_sample": 1000, "cpus": [0]})
    data = measure.parse_line("warming up\n" + line + "\n", "syscall")
    assert data["samples_ns"] == [170.5, 171] and data["ops_per_sample"] == 1000
    with pytest.raises(CalibrationError, match="printed nothing"):
        measure.parse_line("\n", "syscall")
    with pytest.raises(CalibrationError, match="not JSON"):
        measure.parse_line("{oops", "syscall")
    with pytest.raises(CalibrationError, match="for 'cow_fault', not for syscall"):
        measure.parse_line(line.replace('"syscall"', '"cow_fault"'), "syscall")
    with pytest.raises(CalibrationError, match="samples_ns"):
        measure.parse_line(json.dumps({"name": "syscall", "samples_ns": [], "ops_per_sample": 1}), "syscall")


def test_the_plan_names_every_benchmark_and_skips_remote_ones_on_one_cpu():
    benches, skipped = plan.plan(2, quick=True)
    names = [b.name for b in benches]
    assert names[:7] == ["syscall", "madvise_local_1", "madvise_local_8", "madvise_local_32",
                         "madvise_local_33", "madvise_local_34", "madvise_local_64"]
    assert "madvise_remote_1_t1" in names and "madvise_remote_1_t2" not in names
    assert {"fork_exit_1", "fork_exit_64", "fork_exit_1024", "cow_fault", "ctx_switch_process",
            "ctx_switch_thread", "first_touch_fault", "read_fault_zero"} <= set(names)
    assert skipped == {} and len(names) == len(set(names))
    full, _ = plan.plan(8, quick=False)
    full_names = [b.name for b in full]
    assert "madvise_remote_256_t1" in full_names and "madvise_remote_1_t7" in full_names
    assert "fork_exit_256" in full_names
    quick8, _ = plan.plan(8, quick=True)
    assert "madvise_remote_1_t3" in [b.name for b in quick8] and "madvise_remote_1_t4" not in [b.name for b in quick8]
    one, skipped1 = plan.plan(1, quick=True)
    assert not any(b.name.startswith("madvise_remote") for b in one)
    assert "madvise_remote_1_t1" in skipped1 and "one usable CPU" in skipped1["madvise_remote_1_t1"]


def test_the_published_tsc_frequency_is_read_from_the_kernel_log(monkeypatch, tmp_path):
    monkeypatch.setattr(machine, "TSC_KHZ", tmp_path / "absent")
    log = "[0.0] tsc: Detected 2596.134 MHz processor\n[1.2] tsc: Refined TSC clocksource calibration: 2595.999 MHz\n"
    assert machine.published_tsc_ghz(log) == (pytest.approx(2.595999), pytest.approx(
        "kernel log: tsc: Refined TSC clocksource calibration"))
    assert machine.published_tsc_ghz("[0.0] tsc: Detected 2596.134 MHz processor\n")[0] == pytest.approx(2.596134)
    assert machine.published_tsc_ghz("nothing") is None
    (tmp_path / "khz").write_text("3000000\n")
    monkeypatch.setattr(machine, "TSC_KHZ", tmp_path / "khz")
    assert machine.published_tsc_ghz("") == (3.0, str(tmp_path / "khz"))


def _can_build() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    try:
        build.find_compiler()
    except CalibrationError as e:
        return str(e)
    return None


@pytest.mark.skipif(_can_build() is not None, reason=f"cannot build the benchmarks: {_can_build()}")
def test_a_compile_failure_names_the_compiler_output_and_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    bad = tmp_path / "src"
    bad.mkdir()
    (bad / "calbench.c").write_text("int main(void) { return undefined_thing; }\n")
    monkeypatch.setattr(build, "BENCH_DIR", bad)
    with pytest.raises(CalibrationError, match="compiling the calibration benchmarks failed.*undefined_thing"):
        build.build()
    assert not [p for p in (tmp_path / "smpsim").rglob("*") if p.is_file()]


MIN_SPINNER_SHARE = 0.9


def _ok(*values) -> bool:
    return all(v > 0 for v in values)


@pytest.mark.slow
def test_a_quick_calibration_of_this_machine_is_sane(tmp_path, monkeypatch):
    reason = _can_build()
    if reason:
        pytest.skip(f"cannot calibrate here: {reason}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))       # a fresh build, into the cache
    lines = []
    result = measure.run_benchmarks(quick=True, progress=lines.append)
    m = result["measurements"]
    assert lines[0].startswith("[1/") and "syscall" in lines[0]
    assert len(lines) == len(m)
    assert list((tmp_path / "smpsim" / "calibrate").glob("*/calbench"))
    assert m["syscall"]["median_ns"] > 0
    for name, entry in m.items():
        if name != "clock":
            assert entry["reps"] == plan.QUICK.samples and entry["ops_per_sample"] >= 1, name
            assert entry["median_ns"] == statistics.median(entry["samples_ns"]), name
    slope = (m["madvise_local_32"]["median_ns"] - m["madvise_local_1"]["median_ns"]) / 31
    assert slope > 0
    assert m["fork_exit_1024"]["median_ns"] > m["fork_exit_1"]["median_ns"]
    assert _ok(m["cow_fault"]["median_ns"], m["ctx_switch_process"]["median_ns"],
               m["ctx_switch_thread"]["median_ns"], m["first_touch_fault"]["median_ns"],
               m["read_fault_zero"]["median_ns"])
    assert 0.5 < m["clock"]["ghz"] < 10
    info = result["machine"]
    assert info["usable_cpus"] == len(os.sched_getaffinity(0)) and info["page_size"] > 0
    assert info["cpus_used"] == sorted(os.sched_getaffinity(0)) and info["kernel_release"] == os.uname().release
    assert shutil.which(build.find_compiler().path)
    if len(os.sched_getaffinity(0)) < 2:
        assert "madvise_remote_1_t1" in result["skipped"]
        return
    remote = m["madvise_remote_1_t1"]
    assert 0 < remote["spinner_cpu_share"] <= 1.0 and remote["cpus"] == info["cpus_used"][:2]
    if remote["spinner_cpu_share"] < MIN_SPINNER_SHARE:
        pytest.skip(f"the remote comparison needs the other CPU to itself: the spinning thread got "
                    f"{remote['spinner_cpu_share']:.0%} of it (another task ran there, and calls made "
                    f"meanwhile needed no shootdown); everything else checked")
    assert remote["median_ns"] > m["madvise_local_1"]["median_ns"]
