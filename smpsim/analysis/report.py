"""`smpsim report`: RUN/report.md with a headline table, plots in RUN/plots/, and the full tables.

Laid out to be pasted into a mailing-list post: what was run, the headline
numbers of each policy with ratios against the baseline (the first policy),
the plots, then every counter and latency statistic as an appendix.
"""

from __future__ import annotations

from pathlib import Path

from smpsim.analysis.analyze import analyze_text, by_point
from smpsim.analysis.load import load_run
from smpsim.analysis.real import missing_note, real_of, real_table
from smpsim.analysis.plots import (cost_vs_param, exit_breakdown, latency_cdf,
                                   pinned_ptps)
from smpsim.analysis.results import PolicyResult, collect, swept_keys
from smpsim.stats import ratio
from smpsim.analysis.tables import Ratio, Table, render_markdown, render_markdown_section
from smpsim.rundir.safeio import atomic_write
from smpsim.summary import EVENT_LATENCY_KINDS, HEADLINE, STANDARD_LATENCY_KINDS, Metric

# a latency CDF needs the per-event samples
CDF_KINDS = tuple(k for k in STANDARD_LATENCY_KINDS if k in EVENT_LATENCY_KINDS)


def _figure(metric: Metric, r: PolicyResult):
    return metric.get(r.as_json())


def _shown(values) -> bool:
    return any(isinstance(v, (int, float)) and v for v in values)


def headline_point(rs: list[PolicyResult]) -> Table:
    """Headline of one point: a row per metric, the policies, then each policy's ratio to the baseline."""
    base, others = rs[0], rs[1:]
    t = Table(["metric"] + [r.policy for r in rs] + [f"{r.policy} / {base.policy}" for r in others])
    for metric in HEADLINE:
        vals = [_figure(metric, r) for r in rs]
        if _shown(vals):
            t.rows.append([metric.label] + vals + [Ratio(ratio(v, vals[0])) for v in vals[1:]])
    return t


def headline_sweep(results: list[PolicyResult], swept: list[str]) -> list[Table]:
    """Headline of a sweep: a table per metric, a row per point, policies and ratios as columns."""
    groups = by_point(results)
    policies = list(dict.fromkeys(r.policy for r in results))
    base, others = policies[0], policies[1:]
    tables = []
    for metric in HEADLINE:
        if not _shown(_figure(metric, r) for r in results):
            continue
        t = Table([k.split(".")[-1] for k in swept] + policies + [f"{p} / {base}" for p in others],
                  title=metric.label, label_cols=len(swept))
        for rs in groups.values():
            byp = {r.policy: _figure(metric, r) for r in rs}
            t.rows.append([rs[0].params.get(k) for k in swept] + [byp.get(p) for p in policies]
                          + [Ratio(ratio(byp.get(p), byp.get(base))) for p in others])
        tables.append(t)
    return tables


def _switch_table(results: list[PolicyResult]) -> Table:
    first = {}
    for r in results:
        first.setdefault(r.policy, r.switches)
    names = list(dict.fromkeys(k for s in first.values() for k in s))
    t = Table(["switch"] + list(first))
    t.rows += [[n] + [first[p].get(n) for p in first] for n in names]
    return t


def build_report(run_dir) -> Path:
    """Write RUN/report.md and RUN/plots/*.png; return the report's path."""
    run = load_run(run_dir)
    results = collect(run)
    swept = swept_keys(results)
    plots, failed = draw_plots(results, swept, run.path / "plots")
    md = describe_run(run, results, swept)
    md += headline_section(results, swept)
    md += real_section(run, results)
    md += plots_section(results, plots, failed)
    warnings = [w for r in results for w in r.warnings]
    if warnings:
        md += ["## Warnings", ""] + [f"- {w}" for w in warnings] + [""]
    md += ["## Full tables", "", "```", analyze_text(run, results).rstrip(), "```", ""]
    out = run.path / "report.md"
    atomic_write(out, "\n".join(md).encode())
    return out


def real_section(run, results: list[PolicyResult]) -> list[str]:
    """For points that replayed a recorded program: the real kernel's counts beside the designs'."""
    md = []
    for point in dict.fromkeys(r.point for r in results):
        real = real_of(run, point)
        if real is None:
            continue
        rs = [r for r in results if r.point == point]
        md += [missing_note(real), ""] if "missing" in real else \
            [render_markdown_section(real_table(real, rs), level=3, note=f"point {point}")]
    return (["## The real kernel beside the designs", "",
             "The real kernel's flushes, recorded with the program, and each design's model counter for the "
             "same category (docs/trace.md); real median call durations at the run's clock.", ""] + md) if md else []


def draw_plots(results: list[PolicyResult], swept: list[str], plot_dir: Path) -> tuple[list, list[str]]:
    """Every plot of the report: (caption, path) of those drawn, and why the others could not be."""
    if not results:
        return [], []
    jobs = [(f"{kind} latency CDF", latency_cdf, (results, kind, plot_dir))
            for kind in CDF_KINDS]
    jobs += [(f"cost against {key}", cost_vs_param, (results, key, swept, plot_dir)) for key in swept]
    jobs += [("exit cost breakdown", exit_breakdown, (results, plot_dir)),
             ("pinned PTPs over time", pinned_ptps, (results, plot_dir))]
    plots, failed = [], []
    for caption, plot, args in jobs:
        try:
            plots.append(plot(*args))
        except OSError:
            raise                    # cannot write into the run directory: the CLI says so
        except Exception as e:       # noqa: BLE001 - one odd series must not cost the whole report
            failed.append(f"{caption} could not be drawn ({type(e).__name__}: {str(e)[:200]})")
    return [p for p in plots if p is not None], failed


def describe_run(run, results: list[PolicyResult], swept: list[str]) -> list[str]:
    """The report's title and what was run: versions, status (and how partial), the sweep."""
    info = run.run_info
    md = [f"# smpsim: {run.summary.get('config', info.get('config', run.name))}", ""]
    md += [f"Run `{run.name}`: status {info.get('status', '?')}, seed {run.summary.get('seed', info.get('seed'))}, "
           f"backend {run.summary.get('backend', info.get('backend'))}, smpsim {info.get('smpsim_version', '?')}"
           + (f" (git {info['git_revision']})" if info.get("git_revision") else "")
           + f", Ray {info.get('ray_version', '?')}, Python {info.get('python_version', '?')}.", ""]
    if info.get("status") != "completed":
        pts = info.get("points") or {}
        done = sum(1 for v in pts.values() if v == "completed")
        md += [f"**Partial results:** the run is {info.get('status', 'unknown')!r}"
               + (f"; {done} of {len(pts)} points completed" if pts else "")
               + (f"; error: {info['error'].get('type')}: {info['error'].get('message')}"
                  if isinstance(info.get("error"), dict) else "") + ".", ""]
    if swept:
        md += [f"Sweep over {', '.join(f'`{k}`' for k in swept)}: {len(by_point(results))} points.", ""]
    return md


def headline_section(results: list[PolicyResult], swept: list[str]) -> list[str]:
    """The policies' switches and the headline tables (one per metric over a sweep, else one per point)."""
    if not results:
        return ["No point has finished: summary.json has no entries.", ""]
    md = ["Policies:", "", render_markdown(_switch_table(results)), ""]
    policies = list(dict.fromkeys(r.policy for r in results))
    md += ["## Headline", "", f"Ratios are against `{policies[0]}`; simulated figures are "
           "deterministic for the config and seed, wall-clock figures are not.", ""]
    tables = headline_sweep(results, swept) if swept else [headline_point(rs) for rs in by_point(results).values()]
    for t in tables:
        md += [render_markdown(t), ""]
    return md


def plots_section(results: list[PolicyResult], plots: list, failed: list[str]) -> list[str]:
    """The plots, then what could not be plotted and why."""
    md = []
    if plots:
        md += ["## Plots", ""]
        for caption, path in plots:
            md += [f"![{caption}](plots/{path.name})", ""]
    missing = list(failed)
    if results and not failed and not any(p.name == "ptp_pinned.png" for _, p in plots):
        missing.append("no PTPs were pinned by dying pmaps (no epoch event with ptp_pinned > 0)")
    if results and not any(r.events for r in results):
        missing.append("no events.jsonl: latency CDFs need the per-event samples")
    if missing:
        md += ["Not plotted: " + "; ".join(missing) + ".", ""]
    return md
