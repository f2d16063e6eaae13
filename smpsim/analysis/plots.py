"""PNG plots of a run for the report (matplotlib, Agg canvas, imported lazily).

Each function takes the results of one run and a directory, writes one PNG
when there is something to draw, and returns ``(caption, path)`` or None:

* :func:`latency_cdf` — CDF of one latency kind, one panel per point, one line per policy;
* :func:`cost_vs_param` — mean latency (and pinned-PTP peak) against one swept parameter;
* :func:`exit_breakdown` — stacked bars of where exit cycles go, per point and policy;
* :func:`pinned_ptps` — PTPs held by dying pmaps over simulated time, per point.

Axes switch to log scale when the values span more than 30x. Series are
thinned to at most :data:`MAX_POINTS` points before drawing (a livelocked run's
log holds millions of samples; a PNG a few hundred pixels wide shows no more,
and Agg can overflow its cell-block limit on such paths).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from smpsim.analysis.analyze import by_point
from smpsim.analysis.results import BREAKDOWN_PARTS, PolicyResult
from smpsim.stats import ecdf

LOG_SPAN = 30.0
COST_KINDS = ("exit", "munmap", "shootdown", "switch_away")
LINESTYLES = ("-", "--", ":", "-.")   # identical series (e.g. two policies that behave alike) stay visible
MAX_POINTS = 2000


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


def _style(i: int) -> dict:
    return {"color": f"C{i % 10}", "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _figure(npanels: int, width: float = 4.8, height: float = 3.4):
    from matplotlib.figure import Figure   # lazy: no matplotlib import unless a report is made

    ncols = min(3, max(1, npanels))
    nrows = math.ceil(npanels / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[npanels:]:
        ax.set_visible(False)
    return fig, axes[:npanels]


def wide_span(values) -> bool:
    """True when the positive ``values`` span more than :data:`LOG_SPAN` (then a log axis reads better)."""
    pos = [v for v in values if isinstance(v, (int, float)) and v > 0]
    return bool(pos) and max(pos) / min(pos) > LOG_SPAN


def safe_name(s: str) -> str:
    """``s`` made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", s)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def latency_cdf(results: list[PolicyResult], kind: str, outdir: Path) -> tuple[str, Path] | None:
    """CDF of ``kind`` latencies (simulated cycles) from events.jsonl samples; None without samples."""
    groups = {pt: rs for pt, rs in by_point(results).items()
              if any(r.events and r.events.cycles.get(kind) for r in rs)}
    if not groups:
        return None
    fig, axes = _figure(len(groups))
    for ax, (point, rs) in zip(axes, groups.items()):
        allv = []
        for i, r in enumerate(rs):
            samples = r.events.cycles.get(kind, []) if r.events else []
            if samples:
                xs, ys = ecdf(samples)
                n = len(xs)
                xs, ys = thin_cdf(xs, ys)
                ax.step([xs[0]] + xs, [0.0] + ys, where="post", label=f"{r.policy} (n={n})", **_style(i))
                allv += [xs[0], xs[-1]]
        if wide_span(allv):
            ax.set_xscale("log")
        ax.set_title(point if len(groups) > 1 else f"{kind} latency")
        ax.set_xlabel(f"{kind} latency (simulated cycles)")
        ax.set_ylabel("fraction <= x")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if len(groups) > 1:
        fig.suptitle(f"{kind} latency CDF per point")
    return f"{kind} latency CDF", _save(fig, outdir / f"cdf_{kind}.png")


def _as_number(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def cost_vs_param(results: list[PolicyResult], key: str, swept: list[str], outdir: Path) -> tuple[str, Path] | None:
    """Mean latency per kind (and the pinned-PTP peak) against swept parameter ``key``.

    One line per policy and combination of the other swept parameters.
    """
    metrics = [(f"mean {k} latency (cycles)", (lambda r, k=k: r.latency.get(k, {}).get("mean_cycles")))
               for k in COST_KINDS]
    metrics.append(("ptp_pinned_peak", lambda r: r.counters.get("ptp_pinned_peak")))
    metrics = [(t, f) for t, f in metrics if any(_as_number(f(r)) for r in results)]
    if not metrics:
        return None
    others = [k for k in swept if k != key]
    xvals = [r.params.get(key) for r in results]
    numeric_x = all(_as_number(x) is not None for x in xvals)
    categories = list(dict.fromkeys(repr(x) for x in xvals))
    policies = list(dict.fromkeys(r.policy for r in results))
    groups = list(dict.fromkeys(tuple(repr(r.params.get(k)) for k in others) for r in results))
    markers = "os^vDx*"
    fig, axes = _figure(len(metrics), width=5.6, height=3.8)
    for ax, (title, get) in zip(axes, metrics):
        # colour = policy, line style and marker = values of the other swept parameters
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
            sample = next(r for r in results if r.policy == policies[pi]
                          and tuple(repr(r.params.get(k)) for k in others) == groups[g])
            label = policies[pi] + "".join(f", {k.split('.')[-1]}={sample.params.get(k)}" for k in others)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, color=f"C{pi % 10}",
                    linestyle=LINESTYLES[g % len(LINESTYLES)], marker=markers[g % len(markers)])
            ys += [p[1] for p in pts]
        if wide_span(ys):
            ax.set_yscale("log")
        if numeric_x and wide_span(xvals):
            ax.set_xscale("log", base=2)
        if not numeric_x:
            ax.set_xticks(range(len(categories)), [c.strip("'") for c in categories])
        ax.set_xlabel(key)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", ncols=2 if len(lines) > 6 else 1)
    return f"cost against {key}", _save(fig, outdir / f"vs_{safe_name(key)}.png")


def exit_breakdown(results: list[PolicyResult], outdir: Path) -> tuple[str, Path] | None:
    """Stacked bars: mean simulated cycles per exit in each part of the teardown; a panel per point."""
    groups: dict[str, list] = {}
    for r in results:
        n = r.latency.get("exit", {}).get("count") or 0
        parts = {p: r.exit_breakdown.get(p) or 0 for p in BREAKDOWN_PARTS}
        parts.update({p: v or 0 for p, v in r.exit_breakdown.items() if p not in parts})
        if n and sum(parts.values()) > 0:
            groups.setdefault(r.point, []).append((r.policy, {p: v / n for p, v in parts.items()}))
    if not groups:
        return None
    part_names = list(dict.fromkeys(p for bars in groups.values() for _, parts in bars for p in parts))
    used = [p for p in part_names if any(parts.get(p) for bars in groups.values() for _, parts in bars)]
    width = max(4.8, 0.9 * max(len(b) for b in groups.values()) + 2.5)
    fig, axes = _figure(len(groups), width=width, height=3.8)
    colors = {p: f"C{i}" for i, p in enumerate(used)}
    for ax, (point, bars) in zip(axes, groups.items()):
        xs = list(range(len(bars)))
        bottom = [0.0] * len(bars)
        for part in used:
            heights = [parts.get(part, 0) for _, parts in bars]
            ax.bar(xs, heights, bottom=bottom, label=part, color=colors[part])
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_xticks(xs, [policy for policy, _ in bars])
        ax.set_ylabel("simulated cycles per exit (mean)")
        ax.set_title(point if len(groups) > 1 else "where exit cycles go")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize="small")
    if len(groups) > 1:
        fig.suptitle("where exit cycles go (mean per exit)")
    return "exit cost breakdown", _save(fig, outdir / "exit_breakdown.png")


def pinned_ptps(results: list[PolicyResult], outdir: Path) -> tuple[str, Path] | None:
    """PTPs pinned by dying pmaps (``ptp_pinned`` of epoch events) over simulated time; None if never any."""
    groups = {pt: rs for pt, rs in by_point(results).items()
              if any(r.events and any(n for _, n in r.events.pinned) for r in rs)}
    if not groups:
        return None
    fig, axes = _figure(len(groups))
    for ax, (point, rs) in zip(axes, groups.items()):
        for i, r in enumerate(rs):
            if r.events and r.events.pinned:
                xs, ys = thin_steps([t for t, _ in r.events.pinned], [n for _, n in r.events.pinned])
                ax.step(xs, ys, where="post", label=r.policy, **_style(i))
        ax.set_title(point if len(groups) > 1 else "pinned page-table pages")
        ax.set_xlabel("simulated time (cycles)")
        ax.set_ylabel("PTPs held by dying pmaps")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return "pinned PTPs over time", _save(fig, outdir / "ptp_pinned.png")
