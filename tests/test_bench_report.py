"""The benchmark's report: tables rendered by smpsim.analysis.tables, sections built from fabricated
measurements, the py-spy summaries. No Ray, no timing."""

from __future__ import annotations

import pytest

from smpsim.analysis.tables import (Figure, Ratio, Table, fmt_cell, raw_cell, render_csv, render_markdown,
                                   render_markdown_section)
from smpsim.bench import profile
from smpsim.bench.exchange import Breakdown, ExchangeResult, FanoutTimes
from smpsim.bench.machine import MachineInfo, Memory
from smpsim.bench.report import Report, Section, render, write_report
from smpsim.bench.scaling import ScalingResult, ScalingRow
from smpsim.bench.sizes import SIZES
from smpsim.bench.targets import TARGETS, Measurements, TargetKind, TargetResult, Verdict, evaluate
from smpsim.bench.timing import Samples, micros, percentile

INFO = MachineInfo("2026-01-01 00:00 UTC", "CPU", "2", "1.0 GiB", "2.60.0", "3.11.7", "abc1234", "0.1 0.2 0.3")


def test_render_markdown_of_analysis_tables_is_unchanged():
    t = Table(["point", "policy", "exit", "ratio"],
              [["a", "netbsd5", 1234.5, Ratio(0.5)], ["b", "seed", None, Ratio(None)]], title="T", label_cols=2)
    assert render_markdown(t) == ("**T**\n\n| point | policy | exit | ratio |\n|:---|:---|---:|---:|\n"
                                  "| a | netbsd5 | 1234 | 0.50x |\n| b | seed | - | - |")


@pytest.mark.parametrize("figure, text", [
    (Figure(1324.4), "1,324"), (Figure(1_000_000), "1,000,000"), (Figure(0.234, 2), "0.23"),
    (Figure(81.2, signed=True), "+81"), (Figure(-3.0, signed=True), "-3"), (Figure(100.0, unit="%"), "100%"),
    (Figure(None), "-"), (Figure(float("nan"), 1), "-"), (Figure(float("inf")), "inf"),
])
def test_figure_cells(figure, text):
    assert fmt_cell(figure) == text


def test_figures_stay_raw_in_csv():
    assert raw_cell(Figure(1324.4)) == 1324.4 and raw_cell(Figure(float("inf"))) == "inf"
    assert render_csv(["k", "v"], [[1, Figure(2.5, 0)]]) == "k,v\n1,2.5\n"


def test_markdown_section():
    text = render_markdown_section(Table(["a", "b"], [["x", Figure(1500.0)]], title="1. Title"), note="How.")
    assert text == "### 1. Title\n\nHow.\n\n| a | b |\n|:---|---:|\n| x | 1,500 |\n"
    assert render_markdown_section(Table(["a"], [[1]], title="P"), level=4).startswith("#### P\n\n| a |")


def test_percentile_and_micros():
    xs = list(range(1, 101))
    assert percentile(xs, 99) == 99 and percentile(xs, 100) == 100 and percentile([5], 99) == 5
    assert fmt_cell(micros(12_345)) == "12" and fmt_cell(micros(9_876)) == "9.9"


def samples(*wall_us: float, cpu_us: float = 100.0) -> Samples:
    return Samples([int(w * 1000) for w in wall_us], [int(cpu_us * 1000)] * len(wall_us))


def test_exchange_section_is_computed_from_the_samples():
    fanouts = [FanoutTimes(1, floor=samples(900, 1000, 1100), echo=samples(1100, 1200, 1300),
                           smpsim=samples(1200, 1300, 5000)),
               FanoutTimes(2, floor=samples(2000), echo=samples(2400), smpsim=samples(2300))]
    result = ExchangeResult(SIZES["smoke"], fanouts, Breakdown(3500.0, 1200.0, 8000.0, 62, 12))
    assert result.ratios() == {1: pytest.approx(1.3), 2: pytest.approx(1.15)}
    section = result.section()
    assert [len(r) for r in section.table.rows] == [len(section.table.headers)] * 2
    row = dict(zip(section.table.headers, section.table.rows[0]))
    assert row["floor median µs"].value == pytest.approx(1000) and row["smpsim p99 µs"].value == pytest.approx(5000)
    assert row["smpsim/floor"].value == pytest.approx(1.3)
    assert row["bytes cost µs/target"].value == pytest.approx(200)     # floor+bytes - floor
    assert row["smpsim work µs/target"].value == pytest.approx(100)    # smpsim - floor+bytes
    row2 = dict(zip(section.table.headers, section.table.rows[1]))
    assert row2["smpsim work µs/target"].value == pytest.approx(-50)   # per target: (2300 - 2400) / 2
    assert "62-byte argument and returning 12 bytes" in section.note
    assert "3.5 µs encode + 1.2 µs decode" in section.note and "8.0 µs `CpuWorker.handle`" in section.note


def test_render_puts_the_targets_first_and_appends(tmp_path):
    report = Report(SIZES["smoke"], ray=False, notes=["a note"])
    report.sections.append(Section(Table(["x"], [[1]], title="2a. Something"), "note"))
    report.targets = evaluate(Measurements(SIZES["smoke"], ray=False))
    text = render(report, INFO, ["--smoke"], "0.4 0.5 0.6", 3.2)
    lines = text.splitlines()
    assert lines[0] == "## 2026-01-01 00:00 UTC — smoke run"
    assert "- command: `scripts/bench.py --smoke`" in lines
    assert "- load average before / after: 0.1 0.2 0.3 / 0.4 0.5 0.6; benchmark wall time 3 s" in lines
    assert "- note: a note" in lines
    assert lines.index("### 4. Targets") < lines.index("### 2a. Something")
    out = tmp_path / "B.md"
    write_report(out, text)
    write_report(out, text)
    assert out.read_text().startswith("# Benchmarks\n") and out.read_text().count("— smoke run") == 2


# --- profiles -------------------------------------------------------------------------------------------------
def test_collapse_summary(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("proc;main (bench.py:1);handle (smpsim/runtime/ray_actors.py:40);"
                   "run_quantum (smpsim/cpus/cpu.py:92) 30\n"
                   "proc;main (bench.py:1);handle (smpsim/runtime/ray_actors.py:40);"
                   "decode (smpsim/runtime/wire.py:40) 10\n"
                   "proc;main (bench.py:1);build (bench.py:9) 60\n"
                   "garbage line\n")
    total, top = profile.collapse_summary(raw)
    assert total == 100
    assert top[0] == ("build (bench.py)", 60.0, 60.0)
    assert top[-1] == ("(any smpsim message or CPU-model code on the stack)", None, 40.0)
    total, top = profile.collapse_summary(raw, within="handle (smpsim/runtime/ray_actors.py")
    assert total == 40
    assert top[0] == ("run_quantum (smpsim/cpus/cpu.py)", 75.0, 75.0)
    assert profile.collapse_summary(tmp_path / "missing.txt") == (0, [])


def test_short_frame():
    assert profile.short_frame("run (/x/site-packages/ray/actor.py:12)") == "run (ray/actor.py)"
    assert profile.short_frame("run_quantum (smpsim/cpus/cpu.py:92)") == "run_quantum (smpsim/cpus/cpu.py)"
    assert profile.short_frame("<module>") == "<module>"


def missed(kind_index: int) -> list[TargetResult]:
    return [TargetResult(TARGETS[kind_index], 2.0, "2.00x", Verdict.MISS)]


def test_profiles_only_for_missed_targets(monkeypatch, tmp_path):
    ok = [TargetResult(TARGETS[0], 1.0, "1.00x", Verdict.PASS)]
    assert profile.profile_missed(ok, SIZES["full"], True, tmp_path, None).sections == []
    monkeypatch.setattr(profile, "pyspy_available", lambda: None)
    out = profile.profile_missed(missed(0), SIZES["full"], True, tmp_path, None)
    assert out.sections == [] and out.notes == ["py-spy not found: missed targets not profiled"]


def test_the_16_cpu_profile_splits_3a_figures(monkeypatch, tmp_path):
    monkeypatch.setattr(profile, "pyspy_available", lambda: "/bin/true")
    scaling = ScalingResult([ScalingRow(16, 11, 4.0, 3.0, Memory(1024, 1024))])
    quick = next(i for i, t in enumerate(TARGETS) if t.kind is TargetKind.QUICK_RAY_WALL)
    out = profile.profile_missed(missed(quick), SIZES["full"], True, tmp_path, scaling)
    [section] = out.sections
    assert [r[0] for r in section.table.rows] == [
        "create 16 CPU actors + the VM actor, set up, first step (8 epochs)", "the remaining 3 epochs, result, kill"]
    assert [r[2].value for r in section.table.rows] == [75.0, 25.0]
