"""`smpsim analyze`: per point and policy, the counters and latency statistics of one run.

Three renderings of the same data: aligned text tables, CSV in long form
(``run,point,policy,metric,value``; metrics are ``counters.NAME``,
``latency.KIND.STAT``, ``exit_breakdown.PART``, ``sim_cycles``, ``epochs``,
``wall_seconds``), and JSON (one object per point x policy, shape of a
summary.json entry plus ``latency_source`` and ``warnings``; a run that replayed a recorded
program adds ``real``, the real kernel's counts per point: smpsim.analysis.real).
"""

from __future__ import annotations

import json

from smpsim.analysis.errors import AnalysisOptionError
from smpsim.analysis.load import Run
from smpsim.analysis.real import missing_note, real_json, real_of, real_rows, real_table
from smpsim.analysis.results import PolicyResult, collect
from smpsim.stats import STAT_KEYS
from smpsim.analysis.tables import Table, render_csv, render_text

FORMATS = ("table", "csv", "json")
TOTALS = ("sim_cycles", "epochs", "wall_seconds")


def metric_items(r: PolicyResult) -> list[tuple[str, object]]:
    """Every metric of one result as (dotted name, value), in a stable order."""
    items = [(f"counters.{k}", v) for k, v in r.counters.items()]
    for kind, stats in r.latency.items():
        items += [(f"latency.{kind}.{s}", stats.get(s)) for s in STAT_KEYS]
    items += [(f"exit_breakdown.{k}", v) for k, v in r.exit_breakdown.items()]
    items += [(k, r.totals.get(k)) for k in TOTALS]
    return items


def run_header(run: Run) -> str:
    """One line naming the run, its status and provenance."""
    info = run.run_info
    parts = [f"run {run.name}", f"status {info.get('status', '?')}",
             f"config {run.summary.get('config', info.get('config', '?'))}",
             f"seed {run.summary.get('seed', info.get('seed', '?'))}",
             f"backend {run.summary.get('backend', info.get('backend', '?'))}"]
    if info.get("git_revision"):
        parts.append(f"git {info['git_revision']}")
    return "  ".join(parts)


def point_title(point: str, params: dict) -> str:
    """Heading of one point: its name and parameters."""
    ps = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"point {point}" + (f"  ({ps})" if ps and ps != point else "")


def counter_table(results: list[PolicyResult]) -> Table:
    """Counters, totals and exit breakdown of one point: one row per metric, one column per policy."""
    names = list(dict.fromkeys(k for r in results for k in r.counters))
    parts = list(dict.fromkeys(k for r in results for k in r.exit_breakdown))
    t = Table(["counter"] + [r.policy for r in results], title="counters")
    t.rows += [[n] + [r.counters.get(n) for r in results] for n in names]
    t.rows += [[k] + [r.totals.get(k) for r in results] for k in TOTALS]
    t.rows += [[f"exit_breakdown.{p}"] + [r.exit_breakdown.get(p) for r in results] for p in parts]
    return t


def latency_table(results: list[PolicyResult]) -> Table:
    """Latency statistics of one point: one row per policy x kind."""
    t = Table(["policy", "kind", "count", "mean cyc", "p50 cyc", "p90 cyc", "p99 cyc", "max cyc",
               "p50 wall us", "p99 wall us", "from"], title="latency (simulated cycles; wall-clock us)",
              label_cols=2)
    for r in results:
        for kind, s in r.latency.items():
            t.rows.append([r.policy, kind] + [s.get(k) for k in STAT_KEYS] + [r.latency_source[kind]])
    return t


def by_point(results: list[PolicyResult]) -> dict[str, list[PolicyResult]]:
    """Results grouped by point, in order."""
    groups: dict[str, list[PolicyResult]] = {}
    for r in results:
        groups.setdefault(r.point, []).append(r)
    return groups


def analyze_text(run: Run, results: list[PolicyResult]) -> str:
    """The aligned-text rendering."""
    out = [run_header(run)]
    for point, rs in by_point(results).items():
        out += ["", "== " + point_title(point, rs[0].params), ""]
        real = real_of(run, point)
        if real is not None:
            out += [missing_note(real) if "missing" in real else render_text(real_table(real, rs)), ""]
        out += [render_text(counter_table(rs)), "", render_text(latency_table(rs))]
    warnings = [w for r in results for w in r.warnings]
    if warnings:
        out += ["", "warnings:"] + [f"  {w}" for w in warnings]
    return "\n".join(out) + "\n"


def analyze_run(run: Run, fmt: str = "table") -> str:
    """Render ``run`` in ``fmt`` ("table", "csv" or "json")."""
    if fmt not in FORMATS:
        raise AnalysisOptionError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    results = collect(run)
    if fmt == "table":
        return analyze_text(run, results)
    if fmt == "csv":
        rows = [[r.run, r.point, r.policy, m, v] for r in results for m, v in metric_items(r)]
        rows += real_rows(run, results)
        return render_csv(["run", "point", "policy", "metric", "value"], rows)
    doc = {"run": run.name, "path": str(run.path), "status": run.run_info.get("status"),
           "config": run.summary.get("config"), "seed": run.summary.get("seed"),
           "backend": run.summary.get("backend"), "results": [r.as_json() for r in results]}
    reals = {point: real_json(real, rs) for point, rs in by_point(results).items()
             if (real := real_of(run, point)) is not None}
    if reals:
        doc["real"] = reals          # per point that replayed a trace: the real kernel's counts
    return json.dumps(doc, indent=1) + "\n"
