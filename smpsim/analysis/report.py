"""`smpsim report`: RUN/report.md with a headline table, plots in RUN/plots/, and the full tables.

Laid out to be pasted into a mailing-list post: what was run, the headline
numbers of each policy with ratios against the baseline (the first policy),
the plots, then every counter and latency statistic as an appendix.
"""

from __future__ import annotations

from pathlib import Path

from smpsim.analysis.analyze import analyze_text, by_point
from smpsim.analysis.load import load_run
from smpsim.analysis.plots import (cost_vs_param, exit_breakdown, latency_cdf,
                                   pinned_ptps)
from smpsim.analysis.results import PolicyResult, collect, swept_keys
from smpsim.stats import ratio
from smpsim.analysis.tables import Ratio, Table, render_markdown
from smpsim.rundir.safeio import atomic_write

# (label, getter) of the headline rows; a row is shown when some policy has a non-zero value
HEADLINE = [
    ("kernel cycles (total)", lambda r: (r.totals.get("kernel_cycles") or {}).get("total")),
    ("kernel cycles incl. final drain", lambda r: (r.totals.get("kernel_cycles") or {}).get("total_with_drain")),
    ("final drain cycles", lambda r: (r.totals.get("kernel_cycles") or {}).get("drain")),
    ("user accesses", lambda r: (r.totals.get("user_progress") or {}).get("total")),
    ("exit: mean cycles", lambda r: r.latency.get("exit", {}).get("mean_cycles")),
    ("exit: p99 cycles", lambda r: r.latency.get("exit", {}).get("p99_cycles")),
    ("munmap: mean cycles", lambda r: r.latency.get("munmap", {}).get("mean_cycles")),
    ("fault: mean cycles", lambda r: r.latency.get("fault", {}).get("mean_cycles")),
    ("shootdown exchanges", lambda r: r.counters.get("shootdown_exchanges")),
    ("shootdown IPIs", lambda r: r.counters.get("shootdown_ipis")),
    ("shootdown: mean cycles", lambda r: r.latency.get("shootdown", {}).get("mean_cycles")),
    ("shootdown: p99 wall us", lambda r: r.latency.get("shootdown", {}).get("p99_wall_us")),
    ("mailbox waits", lambda r: r.counters.get("mailbox_waits")),
    ("switch-away exchanges", lambda r: r.counters.get("switch_away_exchanges")),
    ("PTE atomic updates", lambda r: r.counters.get("pte_atomic_updates")),
    ("PV lock acquires", lambda r: r.counters.get("pv_lock_acquires")),
    ("PV lock contended", lambda r: r.counters.get("pv_lock_contended")),
    ("P->V retries", lambda r: r.counters.get("p2v_retries")),
    ("pinned PTPs (peak)", lambda r: r.counters.get("ptp_pinned_peak")),
    ("pagedaemon scans", lambda r: r.counters.get("pagedaemon_scans")),
    ("pagedaemon: mean cycles", lambda r: r.latency.get("pagedaemon", {}).get("mean_cycles")),
    ("simulated cycles", lambda r: r.totals.get("sim_cycles")),
]


def _shown(values) -> bool:
    return any(isinstance(v, (int, float)) and v for v in values)


def headline_point(rs: list[PolicyResult]) -> Table:
    """Headline of one point: a row per metric, the policies, then each policy's ratio to the baseline."""
    base, others = rs[0], rs[1:]
    t = Table(["metric"] + [r.policy for r in rs] + [f"{r.policy} / {base.policy}" for r in others])
    for label, get in HEADLINE:
        vals = [get(r) for r in rs]
        if _shown(vals):
            t.rows.append([label] + vals + [Ratio(ratio(v, vals[0])) for v in vals[1:]])
    return t


def headline_sweep(results: list[PolicyResult], swept: list[str]) -> list[Table]:
    """Headline of a sweep: a table per metric, a row per point, policies and ratios as columns."""
    groups = by_point(results)
    policies = list(dict.fromkeys(r.policy for r in results))
    base, others = policies[0], policies[1:]
    tables = []
    for label, get in HEADLINE:
        if not _shown(get(r) for r in results):
            continue
        t = Table([k.split(".")[-1] for k in swept] + policies + [f"{p} / {base}" for p in others],
                  title=label, label_cols=len(swept))
        for rs in groups.values():
            byp = {r.policy: get(r) for r in rs}
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
    plot_dir = run.path / "plots"
    swept = swept_keys(results)
    plots, failed = [], []
    if results:
        jobs = [(f"{kind} latency CDF", latency_cdf, (results, kind, plot_dir))
                for kind in ("shootdown", "exit", "munmap", "switch_away")]
        jobs += [(f"cost against {key}", cost_vs_param, (results, key, swept, plot_dir)) for key in swept]
        jobs += [("exit cost breakdown", exit_breakdown, (results, plot_dir)),
                 ("pinned PTPs over time", pinned_ptps, (results, plot_dir))]
        for caption, plot, args in jobs:
            try:
                plots.append(plot(*args))
            except OSError:
                raise                    # cannot write into the run directory: the CLI says so
            except Exception as e:       # noqa: BLE001 - one odd series must not cost the whole report
                failed.append(f"{caption} could not be drawn ({type(e).__name__}: {str(e)[:200]})")
    plots = [p for p in plots if p is not None]

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
    if results:
        md += ["Policies:", "", render_markdown(_switch_table(results)), ""]
        policies = list(dict.fromkeys(r.policy for r in results))
        md += ["## Headline", "", f"Ratios are against `{policies[0]}`; simulated figures are "
               "deterministic for the config and seed, wall-clock figures are not.", ""]
        if swept:
            for t in headline_sweep(results, swept):
                md += [render_markdown(t), ""]
        else:
            for point, rs in by_point(results).items():
                md += [render_markdown(headline_point(rs)), ""]
    else:
        md += ["No point has finished: summary.json has no entries.", ""]
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
    warnings = [w for r in results for w in r.warnings]
    if warnings:
        md += ["## Warnings", ""] + [f"- {w}" for w in warnings] + [""]
    md += ["## Full tables", "", "```", analyze_text(run, results).rstrip(), "```", ""]
    out = run.path / "report.md"
    atomic_write(out, "\n".join(md).encode())
    return out
