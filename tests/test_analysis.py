"""Unit tests of smpsim.analysis on synthetic run directories written exactly as docs/rundir.md says."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from smpsim.analysis import commands
from smpsim.analysis.errors import AnalysisOptionError
from smpsim.analysis.load import iter_events
from smpsim.stats import latency_stats, nearest_rank
from smpsim.errors import RunDirError
from smpsim.summary import EXIT_PARTS

COUNTERS = ["tlb_hits", "tlb_misses", "page_walks", "page_faults", "pte_atomic_updates",
            "pte_plain_stores", "pv_inserts", "pv_removes", "pv_lock_acquires", "pv_lock_contended",
            "pv_lock_wait_cycles", "p2v_retries", "shootdown_exchanges", "shootdown_ipis",
            "shootdown_full_flushes", "shootdown_invlpg", "mailbox_waits", "mailbox_wait_cycles",
            "switch_away_exchanges", "switch_away_ipis", "ptp_allocated", "ptp_freed",
            "ptp_bulk_freed", "ptp_pinned_peak", "pages_freed", "pagedaemon_scans",
            "lazy_to_stale", "context_switches"]
PNG = b"\x89PNG\r\n\x1a\n"


def make_run(root: Path, name: str, points: dict[str, dict], policies: list[str], samples: dict,
             counters: dict | None = None, pinned: dict | None = None, events: bool = True,
             fault: dict | None = None) -> Path:
    """Write a run directory.

    points: point name -> params; samples: (point, policy, kind) -> list of (cycles, wall_us or None);
    counters: (point, policy) -> {counter: value}; pinned: (point, policy) -> [ptp_pinned per epoch];
    fault: (point, policy) -> summary latency entry of kind "fault" (no events carry faults).
    The summary's latency is computed from the same samples, as the runner does.
    """
    run = root / name
    run.mkdir(parents=True)
    meta = {"config": "synthetic", "seed": 7, "backend": "inline"}
    run_info = {"status": "completed", **meta, "ray_address": None, "smpsim_version": "0.1.0",
                "ray_version": "2.60.0", "python_version": "3.11.7", "git_revision": None,
                "started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:01:00Z",
                "error": None, "points": {p: "completed" for p in points}}
    (run / "run.json").write_text(json.dumps(run_info))
    (run / "config.toml").write_text('name = "synthetic"\nseed = 7\n')
    entries = []
    for point, params in points.items():
        pdir = run / point
        pdir.mkdir()
        lines, seq = [], 0

        def ev(event, policy, sim, **kw):
            nonlocal seq
            lines.append({"event": event, "seq": seq, "sim_cycles": sim, "epoch": sim // 1000,
                          "policy": policy, "point": point, "ts": "2026-01-01T00:00:01Z", **kw})
            seq += 1

        point_entries = []
        for policy in policies:
            ev("run.start", policy, 0, ncpus=4, switches={"teardown": "eager"}, workload="exit_storm")
            for i, n in enumerate((pinned or {}).get((point, policy), [])):
                ev("epoch", policy, 1000 * (i + 1), free_pages=100, ptp_pages=10, ptp_pinned=n,
                   dying_pmaps=0, lazy_cpus=0)
            latency = {}
            exit_total = 0
            for kind in ("shootdown", "switch_away", "exit", "munmap"):
                ss = samples.get((point, policy, kind), [])
                for j, (cyc, wall) in enumerate(ss):
                    extra = {"wall_us": wall} if wall is not None else {}
                    if kind == "shootdown":
                        ev(kind, policy, 5000 + j, initiator=0, pmap=1, targets=[1, 2], vas=3,
                           reason="munmap", cycles=cyc, mailbox_wait_cycles=0, **extra)
                    elif kind == "switch_away":
                        ev(kind, policy, 5000 + j, initiator=0, pmap=1, targets=[1], reason="pressure",
                           cycles=cyc, ptp_freed=2, **extra)
                    else:
                        ev(kind, policy, 5000 + j, process=j, pages=10, cycles=cyc, deltas={}, **extra)
                if kind == "exit":
                    exit_total = sum(c for c, _ in ss)
                latency[kind] = latency_stats([c for c, _ in ss], [w for _, w in ss if w is not None])
            latency["fault"] = (fault or {}).get((point, policy), latency_stats([], []))
            cnt = {c: 0 for c in COUNTERS}
            cnt.update((counters or {}).get((point, policy), {}))
            ev("run.end", policy, 9000, status="completed", counters=cnt)
            breakdown = {p: 0 for p in EXIT_PARTS}
            breakdown["pte"], breakdown["other"] = exit_total // 2, exit_total - exit_total // 2
            point_entries.append({"point": point, "params": params, "policy": policy,
                                  "switches": {"pv_tracking": "global_hash", "teardown": "eager"},
                                  "counters": cnt, "latency": latency, "exit_breakdown": breakdown,
                                  "sim_cycles": 9000, "epochs": 9, "wall_seconds": 0.5})
        if events:
            (pdir / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        (pdir / "run.json").write_text(json.dumps({**run_info, "points": None}))
        (pdir / "config.toml").write_text('name = "synthetic"\n')
        (pdir / "summary.json").write_text(json.dumps({**meta, "points": point_entries}))
        entries += point_entries
    (run / "summary.json").write_text(json.dumps({**meta, "points": entries}))
    return run


# ---------------------------------------------------------------- statistics

def test_latency_stats_nearest_rank_on_known_data():
    cycles = list(range(100, 0, -1))             # 1..100, unsorted on purpose
    wall = [float(x) / 10 for x in range(1, 101)]
    s = latency_stats(cycles, wall)
    assert s == {"count": 100, "mean_cycles": 50.5, "p50_cycles": 50, "p90_cycles": 90,
                 "p99_cycles": 99, "max_cycles": 100, "p50_wall_us": 5.0, "p99_wall_us": 9.9}
    assert all(isinstance(s[k], int) for k in ("p50_cycles", "p90_cycles", "p99_cycles", "max_cycles"))


def test_latency_stats_small_and_empty():
    s = latency_stats([10, 30, 20], [])
    assert (s["p50_cycles"], s["p90_cycles"], s["p99_cycles"], s["max_cycles"]) == (20, 30, 30, 30)
    assert s["mean_cycles"] == 20.0 and s["p50_wall_us"] is None and s["p99_wall_us"] is None
    empty = latency_stats([], [])
    assert empty["count"] == 0 and all(empty[k] is None for k in empty if k != "count")
    assert list(empty) == ["count", "mean_cycles", "p50_cycles", "p90_cycles", "p99_cycles",
                           "max_cycles", "p50_wall_us", "p99_wall_us"]


def test_nearest_rank_single_sample_and_bounds():
    assert nearest_rank([7], 1) == 7 and nearest_rank([7], 100) == 7
    assert nearest_rank([1, 2, 3, 4], 25) == 1 and nearest_rank([1, 2, 3, 4], 26) == 2
    with pytest.raises(ValueError):
        nearest_rank([1], 0)


def test_stats_module_has_no_heavy_imports():
    import subprocess
    import sys
    code = ("import sys, smpsim.stats, smpsim.analysis.commands; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- loading

def test_non_run_directory_raises_naming_path(tmp_path):
    d = tmp_path / "notarun"
    d.mkdir()
    with pytest.raises(RunDirError, match=re.escape(str(d)) + r".*run\.json"):
        commands.analyze(d)
    (d / "run.json").write_text('{"status": "failed"}')
    with pytest.raises(RunDirError, match=r"summary\.json.*failed"):
        commands.analyze(d)
    (d / "summary.json").write_text("{not json")
    with pytest.raises(RunDirError, match=re.escape(str(d / "summary.json")) + ".*not valid JSON"):
        commands.analyze(d)
    with pytest.raises(RunDirError, match="no such run directory"):
        commands.report(tmp_path / "missing")


def test_bad_event_line_names_file_and_line(tmp_path):
    run = make_run(tmp_path, "r", {"base": {}}, ["a"], {("base", "a", "exit"): [(5, None)]})
    path = run / "base" / "events.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "garbage\n" + "".join(lines[1:]))
    with pytest.raises(RunDirError, match=re.escape(f"{path}:2")):
        commands.analyze(run)
    # a truncated last line (a run killed mid-write) is tolerated
    path.write_text("".join(lines) + '{"event": "exi')
    assert len(list(iter_events(path))) == len(lines)


# ---------------------------------------------------------------- analyze

def one_point_run(tmp_path, events=True):
    samples = {
        ("base", "netbsd5", "exit"): [(c, None) for c in range(1, 101)],      # mean 50.5, p99 99
        ("base", "seed", "exit"): [(c, None) for c in range(1, 11)],          # mean 5.5
        ("base", "netbsd5", "shootdown"): [(100, 2.0), (300, 4.0), (200, 3.0)],
        ("base", "seed", "switch_away"): [(50, 1.5)],
    }
    counters = {("base", "netbsd5"): {"shootdown_exchanges": 3, "pv_lock_acquires": 400},
                ("base", "seed"): {"shootdown_exchanges": 0, "pv_lock_acquires": 100,
                                   "switch_away_exchanges": 1}}
    fault = {("base", "netbsd5"): {"count": 4, "mean_cycles": 12.5, "p50_cycles": 10, "p90_cycles": 20,
                                   "p99_cycles": 20, "max_cycles": 20, "p50_wall_us": None,
                                   "p99_wall_us": None}}
    return make_run(tmp_path, "run1", {"base": {}}, ["netbsd5", "seed"], samples, counters,
                    pinned={("base", "seed"): [0, 3, 5, 1]}, events=events, fault=fault)


def test_analyze_json_recomputes_from_events_and_falls_back_for_faults(tmp_path):
    run = one_point_run(tmp_path)
    doc = json.loads(commands.analyze(run, fmt="json"))
    res = {r["policy"]: r for r in doc["results"]}
    assert set(res) == {"netbsd5", "seed"}
    ex = res["netbsd5"]["latency"]["exit"]
    assert (ex["count"], ex["mean_cycles"], ex["p50_cycles"], ex["p90_cycles"], ex["p99_cycles"],
            ex["max_cycles"]) == (100, 50.5, 50, 90, 99, 100)
    sd = res["netbsd5"]["latency"]["shootdown"]
    assert (sd["count"], sd["p50_cycles"], sd["max_cycles"], sd["p50_wall_us"], sd["p99_wall_us"]) == (3, 200, 300, 3.0, 4.0)
    assert res["netbsd5"]["latency_source"]["exit"] == "events"
    assert res["netbsd5"]["latency_source"]["fault"] == "summary"
    assert res["netbsd5"]["latency"]["fault"]["mean_cycles"] == 12.5
    assert res["netbsd5"]["counters"]["pv_lock_acquires"] == 400
    assert res["seed"]["latency"]["switch_away"]["count"] == 1
    assert res["netbsd5"]["warnings"] == [] and res["seed"]["warnings"] == []


def test_analyze_falls_back_to_summary_without_events(tmp_path):
    run = one_point_run(tmp_path, events=False)
    doc = json.loads(commands.analyze(run, fmt="json"))
    r = next(r for r in doc["results"] if r["policy"] == "netbsd5")
    assert r["latency_source"]["exit"] == "summary"
    assert r["latency"]["exit"]["p90_cycles"] == 90


def test_analyze_warns_when_events_and_summary_disagree(tmp_path):
    run = one_point_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    summary["points"][0]["latency"]["exit"]["count"] = 99
    (run / "summary.json").write_text(json.dumps(summary))
    out = commands.analyze(run)
    assert "events.jsonl has 100 samples, summary.json count is 99" in out


def test_analyze_csv_and_table(tmp_path):
    run = one_point_run(tmp_path)
    rows = list(csv.DictReader(io.StringIO(commands.analyze(run, fmt="csv"))))
    assert set(rows[0]) == {"run", "point", "policy", "metric", "value"}
    got = {(r["policy"], r["metric"]): r["value"] for r in rows}
    assert got[("netbsd5", "latency.exit.p99_cycles")] == "99"
    assert got[("seed", "counters.pv_lock_acquires")] == "100"
    assert got[("netbsd5", "exit_breakdown.pte")] == str(sum(range(1, 101)) // 2)
    text = commands.analyze(run, fmt="table")
    assert "point base" in text
    exit_row = next(l for l in text.splitlines() if l.split()[:2] == ["netbsd5", "exit"])
    assert exit_row.split()[2:8] == ["100", "50.5", "50", "90", "99", "100"]
    with pytest.raises(AnalysisOptionError, match="xml"):
        commands.analyze(run, fmt="xml")


# ---------------------------------------------------------------- compare

def test_compare_ratios_against_default_and_named_baseline(tmp_path):
    run = one_point_run(tmp_path)
    doc = json.loads(commands.compare([run], None, fmt="json"))
    assert doc["baseline"] == "netbsd5" and doc["columns"] == ["netbsd5", "seed"]
    p = doc["points"][0]
    assert p["metrics"]["latency.exit.mean_cycles"] == {"netbsd5": 50.5, "seed": 5.5}
    assert p["ratios"]["latency.exit.mean_cycles"]["seed"] == pytest.approx(5.5 / 50.5)
    assert p["ratios"]["counters.pv_lock_acquires"]["seed"] == pytest.approx(0.25)
    assert p["ratios"]["counters.switch_away_exchanges"]["seed"] == "inf"     # 1 against 0
    assert p["ratios"]["counters.p2v_retries"]["seed"] is None               # 0 against 0
    doc2 = json.loads(commands.compare([run], "seed", fmt="json"))
    assert doc2["baseline"] == "seed"
    assert doc2["points"][0]["ratios"]["counters.pv_lock_acquires"]["netbsd5"] == pytest.approx(4.0)
    text = commands.compare([run], None)
    row = next(l for l in text.splitlines() if l.startswith("counters.pv_lock_acquires"))
    assert row.split() == ["counters.pv_lock_acquires", "400", "100", "0.25x"]
    with pytest.raises(AnalysisOptionError, match="freebsd.*netbsd5, seed"):
        commands.compare([run], "freebsd")


def test_compare_across_runs_labels_columns_with_run_names(tmp_path):
    a = make_run(tmp_path, "runA", {"base": {}}, ["netbsd5"], {("base", "netbsd5", "exit"): [(100, None)]})
    b = make_run(tmp_path, "runB", {"base": {}}, ["netbsd5", "seed"],
                 {("base", "netbsd5", "exit"): [(300, None)], ("base", "seed", "exit"): [(50, None)]})
    doc = json.loads(commands.compare([a, b], None, fmt="json"))
    assert doc["columns"] == ["runA:netbsd5", "runB:netbsd5", "runB:seed"]
    assert doc["baseline"] == "runA:netbsd5"
    r = doc["points"][0]["ratios"]["latency.exit.mean_cycles"]
    assert r == {"runB:netbsd5": 3.0, "runB:seed": 0.5}
    doc = json.loads(commands.compare([a, b], "runB:seed", fmt="json"))
    assert doc["points"][0]["ratios"]["latency.exit.mean_cycles"]["runA:netbsd5"] == 2.0
    rows = list(csv.reader(io.StringIO(commands.compare([a, b], None, fmt="csv"))))
    assert rows[0] == ["point", "metric", "column", "value", "ratio_vs_runA:netbsd5"]
    assert ["base", "latency.exit.mean_cycles", "runB:seed", "50.0", "0.5"] in rows


# ---------------------------------------------------------------- report

def sweep_run(tmp_path):
    points = {f"ncpus={n},pages={p}": {"machine.ncpus": n, "workload.pages": p}
              for n in (2, 4, 64) for p in (1024, 65536)}
    samples, pinned = {}, {}
    for pt, params in points.items():
        for pol, scale in (("netbsd5", 10), ("seed", 1)):
            base = params["machine.ncpus"] * params["workload.pages"] // 1024 * scale
            samples[(pt, pol, "exit")] = [(base + i, None) for i in range(5)]
            samples[(pt, pol, "munmap")] = [(base // 2 + 1, None)]
            samples[(pt, pol, "shootdown")] = [(100 * scale + i, 1.0 + i) for i in range(4)]
            pinned[(pt, pol)] = [0, 2 * scale, 4, 0]
        samples[(pt, "seed", "switch_away")] = [(70, 2.5)]
    return make_run(tmp_path, "sweep", points, ["netbsd5", "seed"], samples, pinned=pinned)


def test_report_writes_markdown_and_every_referenced_png(tmp_path):
    run = sweep_run(tmp_path)
    path = commands.report(run)
    assert path == run / "report.md"
    md = path.read_text()
    refs = re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", md)
    names = {Path(r).name for r in refs}
    assert {"cdf_exit.png", "cdf_shootdown.png", "cdf_munmap.png", "cdf_switch_away.png",
            "vs_machine.ncpus.png", "vs_workload.pages.png", "exit_breakdown.png",
            "ptp_pinned.png"} <= names
    for ref in refs:
        data = (run / ref).read_bytes()
        assert data.startswith(PNG), ref
    # headline: per metric a table with one row per point and the ratio to the baseline
    assert "## Headline" in md and "seed / netbsd5" in md
    m = re.search(r"\| 64 \| 65536 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|", md)
    assert m, md
    assert float(m.group(3)) == pytest.approx(float(m.group(2)) / float(m.group(1)), abs=0.01)
    assert "## Full tables" in md


def test_report_single_point_headline_has_ratios(tmp_path):
    run = one_point_run(tmp_path)
    md = commands.report(run).read_text()
    row = next(l for l in md.splitlines() if l.startswith("| exit: mean cycles"))
    assert [c.strip() for c in row.strip("|").split("|")] == ["exit: mean cycles", "50.5", "5.5", "0.11x"]
    row = next(l for l in md.splitlines() if l.startswith("| PV lock acquires"))
    assert row.replace(" ", "").endswith("|400|100|0.25x|")
    for ref in re.findall(r"\((plots/[^)]+\.png)\)", md):
        assert (run / ref).read_bytes().startswith(PNG)
    assert "ptp_pinned.png" in md     # the seed policy pinned PTPs


def test_report_without_events_still_written(tmp_path):
    run = one_point_run(tmp_path, events=False)
    md = commands.report(run).read_text()
    assert "cdf_" not in md and "latency CDFs need the per-event samples" in md
    assert "exit_breakdown.png" in md and (run / "plots" / "exit_breakdown.png").read_bytes().startswith(PNG)


def test_report_flags_partial_runs(tmp_path):
    run = one_point_run(tmp_path)
    info = json.loads((run / "run.json").read_text())
    info.update(status="interrupted", points={"base": "completed", "ncpus=8": "running"})
    (run / "run.json").write_text(json.dumps(info))
    md = commands.report(run).read_text()
    assert "**Partial results:** the run is 'interrupted'; 1 of 2 points completed." in md


def test_compare_point_missing_from_baseline_run_has_no_ratios(tmp_path):
    a = make_run(tmp_path, "runA", {"base": {}}, ["netbsd5"], {("base", "netbsd5", "exit"): [(100, None)]})
    c = make_run(tmp_path, "runC", {"ncpus=8": {"machine.ncpus": 8}}, ["seed"],
                 {("ncpus=8", "seed", "exit"): [(40, None)]})
    doc = json.loads(commands.compare([a, c], None, fmt="json"))
    p8 = next(p for p in doc["points"] if p["point"] == "ncpus=8")
    assert p8["columns"] == ["runC:seed"]
    assert p8["ratios"]["latency.exit.mean_cycles"] == {"runC:seed": None}
    text = commands.compare([a, c], None)
    block = text.split("point ncpus=8")[1]
    assert "baseline runA:netbsd5 has no result here: no ratios" in block
    header = block.splitlines()[1].split()
    assert header == ["metric", "runC:seed"]
