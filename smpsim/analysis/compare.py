"""`smpsim compare`: several policies (of one or more runs) side by side, with ratios against a baseline.

Columns are the policies of every run given, labelled ``POLICY`` for a single
run and ``RUN:POLICY`` for several. Points are matched by name across runs.
The baseline is a column: ``--baseline POLICY`` (first run having it) or
``RUN:POLICY``; by default the first policy of the first run. Each other
column gets a ratio column ``value / baseline`` (``-`` when undefined, ``inf``
when only the baseline is zero).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from smpsim.analysis.analyze import FORMATS, metric_items, point_title
from smpsim.analysis.errors import AnalysisOptionError
from smpsim.analysis.load import load_run
from smpsim.analysis.real import real_cells, real_json, real_of, real_table
from smpsim.analysis.results import PolicyResult, collect
from smpsim.stats import ratio
from smpsim.analysis.tables import Ratio, Table, raw_cell, render_csv, render_text


@dataclass
class Column:
    """One compared column: a policy of a run."""

    run: int        # position of the run in the arguments
    policy: str
    label: str


def make_columns(runs_results: list[list[PolicyResult]], run_names: list[str]) -> list[Column]:
    """Columns for every (run, policy), labelled by policy alone when there is a single run."""
    multi = len(run_names) > 1
    cols = []
    for i, (name, results) in enumerate(zip(run_names, runs_results)):
        for policy in dict.fromkeys(r.policy for r in results):
            cols.append(Column(i, policy, f"{name}:{policy}" if multi else policy))
    labels = [c.label for c in cols]
    if len(set(labels)) != len(labels):   # two run directories with the same name
        for i, c in enumerate(cols):
            c.label = f"{c.label}#{i}" if labels.count(c.label) > 1 else c.label
    return cols


def pick_baseline(cols: list[Column], baseline: str | None) -> Column:
    """The baseline column named by ``baseline`` (label or policy name), default the first column."""
    if baseline is None:
        return cols[0]
    for c in cols:
        if c.label == baseline:
            return c
    for c in cols:
        if c.policy == baseline:
            return c
    raise AnalysisOptionError(f"baseline {baseline!r} is not a policy of the compared runs; "
                              f"choose one of: {', '.join(c.label for c in cols)}")


def _visible(metric: str, values: list) -> bool:
    # latency rows other than the count are noise when no column has a sample of that kind
    parts = metric.split(".")
    return not (parts[0] == "latency" and parts[2] != "count" and all(v is None for v in values))


def _load(run_dirs: list) -> tuple[list, list]:
    """The runs, and each one's results, read once."""
    if not run_dirs:
        raise AnalysisOptionError("compare needs at least one run directory")
    runs = [load_run(d) for d in run_dirs]
    return runs, [collect(r) for r in runs]


def comparison(run_dirs: list, baseline: str | None) -> dict:
    """The comparison as data: columns, baseline, and per point the metrics and ratios by column label."""
    return _comparison(*_load(run_dirs), baseline)


def _comparison(runs: list, runs_results: list, baseline: str | None) -> dict:
    cols = make_columns(runs_results, [r.name for r in runs])
    if not cols:
        raise AnalysisOptionError(f"nothing to compare: no point x policy of {', '.join(r.name for r in runs)} "
                                  "has finished (its summary.json has no entries; see its run.json)")
    base = pick_baseline(cols, baseline)
    index = {(i, r.policy, r.point): r for i, results in enumerate(runs_results) for r in results}
    points = list(dict.fromkeys(r.point for results in runs_results for r in results))
    out_points, warnings = [], []
    for point in points:
        present = {c.label: index.get((c.run, c.policy, point)) for c in cols}
        metric_names: dict[str, None] = {}
        values: dict[str, dict[str, object]] = {}
        for label, r in present.items():
            if r is None:
                continue
            warnings += r.warnings
            for m, v in metric_items(r):
                metric_names.setdefault(m)
                values.setdefault(m, {})[label] = v
        metrics, ratios = {}, {}
        for m in metric_names:
            vals = [values[m].get(c.label) for c in cols]
            if not _visible(m, vals):
                continue
            metrics[m] = {c.label: values[m].get(c.label) for c in cols}
            b = metrics[m][base.label] if present[base.label] is not None else None
            ratios[m] = {c.label: ratio(metrics[m][c.label], b) for c in cols if c is not base}
        params = next((r.params for r in present.values() if r is not None), {})
        reals = {run.name: real_json(real, [r for r in results if r.point == point])
                 for run, results in zip(runs, runs_results) if (real := real_of(run, point)) is not None}
        out_points.append({"point": point, "params": params,
                           "columns": [c.label for c in cols if present[c.label] is not None],
                           "metrics": metrics, "ratios": ratios, **({"real": reals} if reals else {})})
    return {"runs": [r.name for r in runs], "columns": [c.label for c in cols], "baseline": base.label,
            "points": out_points, "warnings": warnings}


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def point_table(cmp: dict, p: dict) -> Table:
    """The text table of one point: metric, the columns present at that point, and their ratios.

    Ratio columns are headed ``LABEL/base``; the baseline is named in the title.
    """
    base = cmp["baseline"]
    others = [c for c in p["columns"] if c != base]
    cols = ([base] if base in p["columns"] else []) + others
    title = point_title(p["point"], p["params"])
    title += f"  [base = {base}]" if base in p["columns"] else f"  [baseline {base} has no result here: no ratios]"
    rated = others if base in p["columns"] else []
    t = Table(["metric"] + cols + [f"{c}/base" for c in rated], title=title)
    for m, vals in p["metrics"].items():
        rats = [Ratio(p["ratios"][m].get(c)) if _numeric(vals.get(c)) else None for c in rated]
        t.rows.append([m] + [vals.get(c) for c in cols] + rats)
    return t


def real_tables(runs: list, runs_results: list, point: str) -> list:
    """The real kernel beside each run's policies at `point`, for runs that replayed a trace there."""
    tables = []
    for run, results in zip(runs, runs_results):
        real = real_of(run, point)
        rs = [r for r in results if r.point == point]
        if real is not None and "missing" not in real and rs:
            t = real_table(real, rs)
            t.title = f"{run.name}: {t.title}"
            tables.append(t)
    return tables


def _real_csv_rows(cmp: dict) -> list[list]:
    """The real column as CSV rows: metric flushes.CATEGORY, column "real" (RUN:real with several
    runs) and each policy's model counter, no ratio."""
    multi = len(cmp["runs"]) > 1
    rows = []
    for p in cmp["points"]:
        for run, doc in (p.get("real") or {}).items():
            if "missing" not in doc:
                rows += [[p["point"], metric, f"{run}:{column}" if multi else column, value, ""]
                         for column, metric, value in real_cells(doc)]
    return rows


def compare_runs(run_dirs: list, baseline: str | None = None, fmt: str = "table") -> str:
    """Render the comparison of ``run_dirs`` in ``fmt`` ("table", "csv" or "json")."""
    if fmt not in FORMATS:
        raise AnalysisOptionError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    runs, runs_results = _load(run_dirs)
    cmp = _comparison(runs, runs_results, baseline)
    if fmt == "json":
        doc = dict(cmp)
        doc["points"] = [{**p, "ratios": {m: {c: raw_cell(v) for c, v in rs.items()}
                                          for m, rs in p["ratios"].items()}} for p in cmp["points"]]
        return json.dumps(doc, indent=1) + "\n"
    if fmt == "csv":
        rows = []
        for p in cmp["points"]:
            for m, vals in p["metrics"].items():
                for c in cmp["columns"]:
                    rows.append([p["point"], m, c, vals.get(c),
                                 "" if c == cmp["baseline"] else raw_cell(p["ratios"][m].get(c))])
        rows += _real_csv_rows(cmp)
        return render_csv(["point", "metric", "column", "value", f"ratio_vs_{cmp['baseline']}"], rows)
    out = [f"compare: {', '.join(cmp['runs'])}  baseline {cmp['baseline']}"]
    for p in cmp["points"]:
        out += ["", render_text(point_table(cmp, p))]
        for t in real_tables(runs, runs_results, p["point"]):
            out += ["", render_text(t)]
    if cmp["warnings"]:
        out += ["", "warnings:"] + [f"  {w}" for w in cmp["warnings"]]
    return "\n".join(out) + "\n"
