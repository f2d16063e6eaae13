"""PNG plots of a run for the report (matplotlib, Agg canvas, imported lazily).

Each function takes the results of one run and a directory, writes one PNG
when there is something to draw, and returns ``(caption, path)`` or None:

* :func:`latency_cdf` — CDF of one latency kind, one panel per point, one line per policy;
* :func:`cost_vs_param` — mean latency (and pinned-PTP peak) against one swept parameter;
* :func:`exit_breakdown` — stacked bars of where exit cycles go, per point and policy;
* :func:`pinned_ptps` — PTPs held by dying pmaps over simulated time, per point.

Each has a ``*_figure`` twin that returns the matplotlib figure instead (what
the tests measure). Legends sit outside the panels, never over the data, and
axes carry compact plain tick labels (see :mod:`smpsim.analysis.plotstyle`).
Axes switch to log scale when the values span more than 30x. Series are
thinned to at most :data:`MAX_POINTS` points before drawing (a livelocked run's
log holds millions of samples; a PNG a few hundred pixels wide shows no more,
and Agg can overflow its cell-block limit on such paths).
"""

from __future__ import annotations

import re
from pathlib import Path

from smpsim.analysis.analyze import by_point
from smpsim.analysis.plotstyle import (LINESTYLES, MARKERS, cycles_axis, figure, figure_handles, legend_width,
                                       geometric, log_axis, outside_legend, style, value_ticks,
                                       wide_span)
from smpsim.analysis.results import BREAKDOWN_PARTS, PolicyResult
from smpsim.stats import ecdf
from smpsim.summary import EVENT_LATENCY_KINDS, STANDARD_LATENCY_KINDS

# The cost panels show the kinds the report draws CDFs of (the standard kinds with per-event samples):
# the operations a study times first (exit, munmap), the exchanges they wait on after them.
COST_KINDS = tuple(sorted((k for k in STANDARD_LATENCY_KINDS if k in EVENT_LATENCY_KINDS),
                          key=lambda k: k not in ("exit", "munmap")))
MAX_POINTS = 2000
DPI = 100


def thin_cdf(xs: list, ys: list, limit: int = MAX_POINTS) -> tuple[list, list]:
    """At most about `limit` points of an ECDF, taken on the curve itself (evenly by rank, last one kept)."""
    n = len(xs)
    if n <= limit:
        return xs, ys
    step = -(-n // limit)
    idx = list(range(step - 1, n, step))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return [xs[i] for i in idx], [ys[i] for i in idx]


def thin_steps(xs: list, ys: list, limit: int = MAX_POINTS) -> tuple[list, list]:
    """At most about `limit` points of a step series: each bucket drawn at its start with its peak,
    so a short spike (what the pinned-PTP plot is for) survives the thinning."""
    n = len(xs)
    if n <= limit:
        return xs, ys
    step = -(-n // limit)
    return [xs[i] for i in range(0, n, step)], [max(ys[i:i + step]) for i in range(0, n, step)]


def safe_name(s: str) -> str:
    """``s`` made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", s)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


def _finish(fig, handles, labels, npanels: int, title: str | None = None) -> None:
    """The figure's legend outside the panels: on the right of a single panel, under a grid of them."""
    if labels:
        outside_legend(fig, handles, labels, below=npanels > 1, title=title)


def _n_range(ns: list[int]) -> str:
    return f"n={ns[0]}" if min(ns) == max(ns) else f"n={min(ns)}-{max(ns)}"


def latency_cdf_figure(results: list[PolicyResult], kind: str):
    """The figure of :func:`latency_cdf`, or None without samples."""
    groups = {pt: rs for pt, rs in by_point(results).items()
              if any(r.events and r.events.cycles.get(kind) for r in rs)}
    if not groups:
        return None
    policies = list(dict.fromkeys(r.policy for rs in groups.values() for r in rs))
    counts: dict[str, list[int]] = {p: [] for p in policies}
    labels = [f"{p} (n=00000-00000)" for p in policies]   # widest label, to size the figure
    fig, axes = figure(len(groups), legend_in=legend_width(labels) if len(groups) == 1 else 0.0)
    for ax, (point, rs) in zip(axes, groups.items()):
        allv = []
        for r in rs:
            samples = r.events.cycles.get(kind, []) if r.events else []
            if samples:
                xs, ys = ecdf(samples)
                counts[r.policy].append(len(xs))
                xs, ys = thin_cdf(xs, ys)
                ax.step([xs[0]] + xs, [0.0] + ys, where="post", label=r.policy, **style(policies.index(r.policy)))
                allv += [xs[0], xs[-1]]
        if wide_span(allv):
            log_axis(ax.xaxis, allv)
        else:
            cycles_axis(ax.xaxis)
        ax.set_title(point if len(groups) > 1 else f"{kind} latency")
        ax.set_xlabel(f"{kind} latency (simulated cycles)")
        ax.set_ylabel("fraction <= x")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
    if len(groups) > 1:
        fig.suptitle(f"{kind} latency CDF per point")
    handles, names = figure_handles(fig)
    _finish(fig, handles, [f"{p} ({_n_range(counts[p])})" for p in names], len(groups))
    return fig


def latency_cdf(results: list[PolicyResult], kind: str, outdir: Path) -> tuple[str, Path] | None:
    """CDF of ``kind`` latencies (simulated cycles) from events.jsonl samples; None without samples."""
    fig = latency_cdf_figure(results, kind)
    return None if fig is None else (f"{kind} latency CDF", _save(fig, outdir / f"cdf_{kind}.png"))


def _as_number(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _cost_metrics(results: list[PolicyResult]) -> list[tuple]:
    metrics = [(f"mean {k} latency (cycles)", (lambda r, k=k: r.latency.get(k, {}).get("mean_cycles")))
               for k in COST_KINDS]
    metrics.append(("peak PTPs pinned by dying pmaps", lambda r: r.counters.get("ptp_pinned_peak")))
    return [(t, f) for t, f in metrics if any(_as_number(f(r)) for r in results)]


def _cost_legend(policies: list[str], groups: list[tuple], others: list[str]) -> tuple[list, list]:
    """Colour = policy, then line style and marker = values of the other swept parameters: n + m entries
    instead of n x m."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{i % 10}", linewidth=2) for i in range(len(policies))]
    labels = list(policies)
    if len(groups) > 1:
        handles += [Line2D([], [], color="0.35", linestyle=LINESTYLES[g % len(LINESTYLES)],
                           marker=MARKERS[g % len(MARKERS)]) for g in range(len(groups))]
        labels += [", ".join(f"{k.split('.')[-1]}={v.strip(chr(39))}" for k, v in zip(others, grp)) for grp in groups]
    else:
        handles = [Line2D([], [], color=f"C{i % 10}", marker=MARKERS[0]) for i in range(len(policies))]
    return handles, labels


def _cost_x_axis(ax, key: str, xvals: list, numeric_x: bool, categories: list[str]) -> None:
    if numeric_x:
        value_ticks(ax.xaxis, xvals, log2=wide_span(xvals) or geometric(xvals))
    else:
        ax.set_xticks(range(len(categories)), [c.strip("'") for c in categories])
        if sum(len(c) for c in categories) > 40:
            ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel(key)


def cost_vs_param_figure(results: list[PolicyResult], key: str, swept: list[str]):
    """The figure of :func:`cost_vs_param`, or None when there is no cost to draw."""
    metrics = _cost_metrics(results)
    if not metrics:
        return None
    others = [k for k in swept if k != key]
    xvals = [r.params.get(key) for r in results]
    numeric_x = all(_as_number(x) is not None for x in xvals)
    categories = list(dict.fromkeys(repr(x) for x in xvals))
    policies = list(dict.fromkeys(r.policy for r in results))
    groups = list(dict.fromkeys(tuple(repr(r.params.get(k)) for k in others) for r in results))
    handles, labels = _cost_legend(policies, groups, others)
    fig, axes = figure(len(metrics), width=5.2, height=3.6,
                       legend_in=legend_width(labels) if len(metrics) == 1 else 0.0)
    for ax, (title, get) in zip(axes, metrics):
        lines: dict[tuple[int, int], list[tuple]] = {}
        for r in results:
            x = r.params.get(key) if numeric_x else categories.index(repr(r.params.get(key)))
            y = _as_number(get(r))
            if y is not None:
                g = groups.index(tuple(repr(r.params.get(k)) for k in others))
                lines.setdefault((policies.index(r.policy), g), []).append((x, y))
        ys = []
        for (pi, g), pts in sorted(lines.items()):
            pts.sort()
            # earlier policies wider and with bigger markers: a later one with the same values shows inside
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=f"C{pi % 10}",
                    linestyle=LINESTYLES[g % len(LINESTYLES)], marker=MARKERS[g % len(MARKERS)],
                    linewidth=max(1.2, 2.2 - 0.3 * pi), markersize=max(4.0, 7.5 - 1.0 * pi))
            ys += [p[1] for p in pts]
        if wide_span(ys):
            log_axis(ax.yaxis, ys)
        else:
            cycles_axis(ax.yaxis)
        _cost_x_axis(ax, key, xvals, numeric_x, categories)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    _finish(fig, handles, labels, len(metrics))
    return fig


def cost_vs_param(results: list[PolicyResult], key: str, swept: list[str], outdir: Path) -> tuple[str, Path] | None:
    """Mean latency per kind (and the pinned-PTP peak) against swept parameter ``key``.

    One line per policy (colour) and combination of the other swept parameters (line style, marker).
    """
    fig = cost_vs_param_figure(results, key, swept)
    return None if fig is None else (f"cost against {key}", _save(fig, outdir / f"vs_{safe_name(key)}.png"))


def _breakdown_groups(results: list[PolicyResult]) -> dict[str, list]:
    groups: dict[str, list] = {}
    for r in results:
        n = r.latency.get("exit", {}).get("count") or 0
        parts = {p: r.exit_breakdown.get(p) or 0 for p in BREAKDOWN_PARTS}
        parts.update({p: v or 0 for p, v in r.exit_breakdown.items() if p not in parts})
        if n and sum(parts.values()) > 0:
            groups.setdefault(r.point, []).append((r.policy, {p: v / n for p, v in parts.items()}))
    return groups


def exit_breakdown_figure(results: list[PolicyResult]):
    """The figure of :func:`exit_breakdown`, or None when no exit was timed."""
    groups = _breakdown_groups(results)
    if not groups:
        return None
    part_names = list(dict.fromkeys(p for bars in groups.values() for _, parts in bars for p in parts))
    used = [p for p in part_names if any(parts.get(p) for bars in groups.values() for _, parts in bars)]
    nbars = max(len(b) for b in groups.values())
    longest = max(len(policy) for bars in groups.values() for policy, _ in bars)
    rotate = nbars * longest > 60
    fig, axes = figure(len(groups), width=max(4.0, 0.9 * nbars + 1.6), height=3.8,
                       legend_in=legend_width(used) if len(groups) == 1 else 0.0)
    colors = {p: f"C{i % 10}" for i, p in enumerate(used)}
    for ax, (point, bars) in zip(axes, groups.items()):
        xs = list(range(len(bars)))
        bottom = [0.0] * len(bars)
        for part in used:
            heights = [parts.get(part, 0) for _, parts in bars]
            ax.bar(xs, heights, bottom=bottom, label=part, color=colors[part])
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_xticks(xs, [policy for policy, _ in bars])
        if rotate:
            ax.tick_params(axis="x", labelrotation=30)
        cycles_axis(ax.yaxis)
        ax.set_ylabel("simulated cycles per exit (mean)")
        ax.set_title(point if len(groups) > 1 else "where exit cycles go")
        ax.grid(True, axis="y", alpha=0.3)
    if len(groups) > 1:
        fig.suptitle("where exit cycles go (mean per exit)")
    handles, labels = figure_handles(fig)
    # top of the stack first, as the bars read
    _finish(fig, handles[::-1], labels[::-1], len(groups), title="part of exit")
    return fig


def exit_breakdown(results: list[PolicyResult], outdir: Path) -> tuple[str, Path] | None:
    """Stacked bars: mean simulated cycles per exit in each part of the teardown; a panel per point."""
    fig = exit_breakdown_figure(results)
    return None if fig is None else ("exit cost breakdown", _save(fig, outdir / "exit_breakdown.png"))


def pinned_ptps_figure(results: list[PolicyResult]):
    """The figure of :func:`pinned_ptps`, or None if no PTP was ever pinned."""
    groups = {pt: rs for pt, rs in by_point(results).items()
              if any(r.events and any(n for _, n in r.events.pinned) for r in rs)}
    if not groups:
        return None
    policies = list(dict.fromkeys(r.policy for rs in groups.values() for r in rs))
    fig, axes = figure(len(groups), legend_in=legend_width(policies) if len(groups) == 1 else 0.0)
    for ax, (point, rs) in zip(axes, groups.items()):
        for r in rs:
            if r.events and r.events.pinned:
                xs, ys = thin_steps([t for t, _ in r.events.pinned], [n for _, n in r.events.pinned])
                ax.step(xs, ys, where="post", label=r.policy, **style(policies.index(r.policy)))
        cycles_axis(ax.xaxis)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(point if len(groups) > 1 else "pinned page-table pages")
        ax.set_xlabel("simulated time (cycles)")
        ax.set_ylabel("PTPs held by dying pmaps")
        ax.grid(True, alpha=0.3)
    if len(groups) > 1:
        fig.suptitle("PTPs held by dying pmaps over simulated time")
    handles, labels = figure_handles(fig)
    _finish(fig, handles, labels, len(groups))
    return fig


def pinned_ptps(results: list[PolicyResult], outdir: Path) -> tuple[str, Path] | None:
    """PTPs pinned by dying pmaps (``ptp_pinned`` of epoch events) over simulated time; None if never any."""
    fig = pinned_ptps_figure(results)
    return None if fig is None else ("pinned PTPs over time", _save(fig, outdir / "ptp_pinned.png"))
