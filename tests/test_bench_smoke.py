"""The benchmark in smoke mode: its report is complete, well formed and consistent with what it
measured, and the figures the simulator determines (hit rates, operation counts, epochs) are the
simulator's. Never asserts on a timing: speed targets are judged by the benchmark, not by tests."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from smpsim.analysis.tables import Figure, Ratio, fmt_cell
from smpsim.bench import command
from smpsim.bench.machine import loadavg, machine_info
from smpsim.bench.report import Report, render
from smpsim.bench.sizes import SIZES
from smpsim.bench.targets import TARGETS, TargetKind, Verdict, evaluate, judge
from smpsim.bench.timing import TimingSink
from smpsim.bench.tlb import Where
from smpsim.bench.vm_ops import bench_vm_ops
from smpsim.bench.workloads import storm_config
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.inline_backend import InlineBackend

SMOKE = SIZES["smoke"]
INLINE_SECTIONS = ["2a. TLB lookups per second per CPU during quanta",
                   "2b. VM operations per second in the coordinator (inline)",
                   "2c. Epochs per second",
                   "2d. configs/exit_storm_quick.toml end to end (runner.run, 4 policies)",
                   "2e. Replaying a recorded program (inline)"]
RAY_SECTIONS = ["1. Exchange overhead against the bare-Ray floor", *INLINE_SECTIONS,
                "3a. Scaling on Ray: a fixed exit_storm, ncpus varied",
                f"3b. Do {SMOKE.try_ncpus} CPU actors start?"]
ALIGN = re.compile(r"^:?-{3,}:?$")


def split_row(line: str) -> list[str]:
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def markdown_tables(text: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Heading -> (header, body rows) of every table under a ### or #### heading, each checked to be well
    formed: one header, an alignment row, body rows with as many cells as the header."""
    tables: dict = {}
    heading = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("### ", "#### ")):
            heading = line.split(" ", 1)[1]
        elif line.startswith("|") and not lines[i - 1].startswith("|"):
            assert heading is not None and heading not in tables, f"table without its own heading: {line}"
            block = []
            for ln in lines[i:]:
                if not ln.startswith("|"):
                    break
                block.append(split_row(ln))
            header, align, *rows = block
            assert len(align) == len(header) and all(ALIGN.match(c) for c in align), align
            assert all(len(r) == len(header) for r in rows), (heading, rows)
            tables[heading] = (header, rows)
    return tables


def simulated_epochs(ncpus: int, *, processes: int, run_epochs: int) -> int:
    """Epochs of the benchmark's exit_storm, simulated here inline."""
    cfg, policy = storm_config(ncpus, processes=processes, run_epochs=run_epochs)
    return InlineBackend().run_point(cfg, policy, workload=make_workload(cfg), point="base", check=False,
                                     trace=False,
                                     sink=TimingSink())["epochs"]


def column(report: Report, title_prefix: str, header: str) -> list:
    table = report.section(title_prefix).table
    i = table.headers.index(header)
    return [row[i] for row in table.rows]


def check_report(report: Report, text: str, *, ray: bool) -> None:
    assert re.search(r"^## \d{4}-\d\d-\d\d \d\d:\d\d UTC — smoke run$", text, re.M)
    assert re.search(r"^- Ray \S+, Python 3\.\d+", text, re.M) and "- machine: " in text
    tables = markdown_tables(text)
    assert list(tables) == ["4. Targets", *(RAY_SECTIONS if ray else INLINE_SECTIONS)]
    # every table in the text is its typed table, rendered
    for s in report.sections:
        assert tables[s.table.title] == (s.table.headers, [[fmt_cell(c) for c in r] for r in s.table.rows])

    # the targets: every one listed, rendered as judged, each verdict the one its measurement gets
    assert [r.target for r in report.targets] == list(TARGETS)
    assert tables["4. Targets"][1] == [[r.target.name, r.target.goal, r.shown, r.verdict.value]
                                       for r in report.targets]
    for r in report.targets:          # smoke sizes are never judged; without Ray only the replay ran
        ran = ray or r.target.kind is TargetKind.REPLAY
        assert r.verdict is judge(r.target, r.measured, ran=ran, judged=False)
        assert r.verdict is (Verdict.NOT_JUDGED if ran else Verdict.SKIPPED)

    # 2a: 64 pages fit the TLB and each quantum's misses are filled by the next: all hits, everywhere
    wheres = [Where.IN_PROCESS] + ([Where.IN_ACTOR, Where.ROUND_TRIP] if ray else [])
    assert column(report, "2a.", "where") == [w.value for w in wheres]
    assert column(report, "2a.", "working set (pages)") == list(SMOKE.working_sets) * len(wheres)
    assert [f.value for f in column(report, "2a.", "hit rate")] == [100.0] * len(wheres)
    assert all(f.value > 0 for f in column(report, "2a.", "lookups/s (wall)"))
    wall = dict(zip(column(report, "2a.", "where"), column(report, "2a.", "lookups/s (wall)")))
    m = report.measurements
    assert m.in_process_lookups[64].wall_per_s == wall[Where.IN_PROCESS.value].value
    assert (m.actor_lookups[64].wall_per_s == wall[Where.IN_ACTOR.value].value) if ray else not m.actor_lookups

    # 2b: every 16-page munmap of a pmap loaded on 4 CPUs sends exactly one shootdown
    assert column(report, "2b.", "policy") == ["netbsd5", "seed"]
    munmaps = SMOKE.vm_pages // SMOKE.vm_munmap_pages
    assert column(report, "2b.", "munmaps") == [munmaps] * 2
    assert column(report, "2b.", "shootdown exchanges") == [munmaps] * 2

    # 2c / 2d: the backends ran the simulation the note describes, with the same result
    backends = ["inline", "ray"] if ray else ["inline"]
    assert column(report, "2c.", "backend") == backends
    epochs = simulated_epochs(2, processes=2, run_epochs=SMOKE.epoch_run_epochs)
    assert column(report, "2c.", "epochs") == [epochs] * len(backends)
    assert column(report, "2d.", "backend") == backends
    assert column(report, "2d.", "CPUs") == [SMOKE.quick_ncpus] * len(backends)
    quick_walls = [f.value for f in column(report, "2d.", "wall s")]
    assert m.quick_ray_wall_s == ({SMOKE.quick_ncpus: quick_walls[1]} if ray else {})
    if ray:
        check_ray_sections(report)


def check_ray_sections(report: Report) -> None:
    m = report.measurements
    # 1: the ratio is smpsim's median over the floor's, and it is what the targets are judged on
    assert column(report, "1.", "k") == list(SMOKE.fanouts)
    floor = column(report, "1.", "floor median µs")
    smpsim = column(report, "1.", "smpsim median µs")
    ratios = column(report, "1.", "smpsim/floor")
    assert all(isinstance(r, Ratio) for r in ratios)
    for k, f, s, r in zip(SMOKE.fanouts, floor, smpsim, ratios):
        assert f.value > 0 and r.value == pytest.approx(s.value / f.value)
        assert m.exchange_ratio[k] == r.value
    shown = {r.target.at: r for r in report.targets if r.target.name.startswith("exchange")}
    assert [shown[k].measured for k in SMOKE.fanouts] == [m.exchange_ratio[k] for k in SMOKE.fanouts]
    # judged as if at full size, the measured ratios give the verdict the bound says
    as_full = {r.target.name: r for r in evaluate(replace(m, sizes=SIZES["full"]))}
    for k in SMOKE.fanouts:
        r = as_full[f"exchange overhead, k={k}"]
        assert r.verdict is (Verdict.PASS if r.measured <= 1.3 else Verdict.MISS)
    assert as_full["exchange overhead, k=15"].verdict is Verdict.NOT_JUDGED

    # 3a: the Ray run simulated what inline does; the actors' memory was read while they lived
    assert column(report, "3a.", "ncpus") == list(SMOKE.scale_ncpus)
    assert column(report, "3a.", "epochs") == [simulated_epochs(2, processes=8, run_epochs=3)]
    [peak] = column(report, "3a.", "peak memory MiB (Σ VmHWM)")
    [rss] = column(report, "3a.", "RSS at end MiB (Σ VmRSS)")
    assert peak.value >= rss.value > 0
    # 3b
    assert column(report, "3b.", "started") == ["yes"]
    assert all(isinstance(c, Figure) and c.value > 0 for c in column(report, "3b.", "memory MiB (Σ VmRSS)"))


def smoke_text(report: Report) -> str:
    return render(report, machine_info(), ["--smoke"], loadavg(), 1.0)


def test_vm_ops_counts_are_the_simulators():
    result = bench_vm_ops(SMOKE)
    for row in result.rows:
        assert row.faults == SMOKE.vm_pages and row.pages_removed == SMOKE.vm_pages
        assert row.munmaps == row.shootdown_exchanges == SMOKE.vm_pages // SMOKE.vm_munmap_pages


def test_smoke_without_ray():
    report = command.run_benchmarks(SMOKE, use_ray=False)
    check_report(report, smoke_text(report), ray=False)


def test_main_appends_a_section(tmp_path, capsys):
    out = tmp_path / "BENCH.md"
    assert command.main(["--smoke", "--no-ray", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks\n")
    assert list(markdown_tables(text)) == ["4. Targets", *INLINE_SECTIONS]
    assert "| target | goal | measured | result |" in capsys.readouterr().out
    assert command.main(["--smoke", "--no-ray", "--out", str(out)]) == 0
    assert out.read_text().count(" — smoke run") == 2


def test_smoke_writes_nothing_without_out(tmp_path, monkeypatch):
    monkeypatch.setattr(command, "DEFAULT_REPORT", tmp_path / "BENCHMARKS.md")
    assert command.main(["--smoke", "--no-ray"]) == 0
    assert not (tmp_path / "BENCHMARKS.md").exists()


def test_bad_option_is_a_usage_error():
    with pytest.raises(SystemExit) as e:
        command.main(["--smoke", "--quick"])
    assert e.value.code == 2


@pytest.mark.ray
def test_smoke_with_ray(ray_cluster):
    report = command.run_benchmarks(SMOKE, use_ray=True)
    check_report(report, smoke_text(report), ray=True)
