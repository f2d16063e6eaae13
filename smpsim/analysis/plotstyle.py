"""How the report's figures are laid out: panel grids, legends outside the data, readable axes.

Shared by :mod:`smpsim.analysis.plots` and the docs' plotting scripts so a figure pasted into a
mailing-list post reads the same wherever it came from:

* :func:`figure` — a constrained-layout grid of panels (matplotlib imported lazily);
* :func:`outside_legend` — one legend for the whole figure, right of the panels or below them,
  never over a curve or a bar;
* :func:`cycles_axis` / :func:`log_axis` / :func:`value_ticks` — tick labels as plain compact
  numbers (``250``, ``40k``, ``1.2M``), a handful per axis, so log axes do not pile up labels
  like ``3x10^2 4x10^2 6x10^2``;
* :func:`wide_span` / :func:`geometric` — whether values call for a log axis.
"""

from __future__ import annotations

import math

LOG_SPAN = 30.0
LINESTYLES = ("-", "--", ":", "-.")   # identical series (e.g. two policies that behave alike) stay visible
MARKERS = "os^vDx*P"
MAX_VALUE_TICKS = 10
LEGEND_CHAR_IN = 0.075   # inches per character of a "small" legend label, to size the figure around it


def style(i: int) -> dict:
    """Colour, line style and width of the ``i``-th series; earlier series are drawn wider, so a later
    one with the same values (two policies that behave alike) leaves them showing at its edges."""
    return {"color": f"C{i % 10}", "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "linewidth": max(1.2, 2.6 - 0.4 * i)}


def wide_span(values) -> bool:
    """True when the positive ``values`` span more than :data:`LOG_SPAN` (then a log axis reads better)."""
    pos = [v for v in values if isinstance(v, (int, float)) and v > 0]
    return bool(pos) and max(pos) / min(pos) > LOG_SPAN


def geometric(values) -> bool:
    """True for a doubling-or-more sweep (2, 4, 8, 16): drawn on a log-2 axis its points sit evenly."""
    xs = sorted({v for v in values if isinstance(v, (int, float)) and v > 0})
    if len(xs) < 3 or len(xs) != len(set(values)):
        return False
    ratios = [b / a for a, b in zip(xs, xs[1:])]
    return min(ratios) >= 2 and max(ratios) / min(ratios) < 1.01


def compact(v: float) -> str:
    """``v`` as a short plain number: 0.5, 250, 40k, 1.2M, 3G."""
    if v == 0:
        return "0"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.2g}"


def _whole(x: float) -> bool:
    return abs(x - round(x)) <= 1e-6 * max(1.0, abs(x))


def compact_ticks(values, top: float | None = None) -> list[str]:
    """Labels of evenly spaced ticks: one suffix for all (that of ``top``, by default the largest tick)
    and as many decimals as the spacing needs, so neighbours never read alike (1850 1875 1900, not
    1.85k 1.88k 1.9k); no suffix below 10,000."""
    vals = [float(v) for v in values]
    if top is None:
        top = max((abs(v) for v in vals), default=0.0)
    scale, suffix = next(((s, x) for s, x in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if top >= max(s, 1e4)), (1.0, ""))
    steps = [abs(b - a) for a, b in zip(vals, vals[1:]) if b != a]
    step = min(steps) / scale if steps else 1.0
    decimals = 0
    while decimals < 6 and not _whole(step * 10 ** decimals):
        decimals += 1
    return ["0" if v == 0 else f"{v / scale:.{decimals}f}{suffix}" for v in vals]


def _compact_formatter():
    from matplotlib.ticker import Formatter

    class CompactFormatter(Formatter):
        def __call__(self, x, pos=None):
            return compact(x)

        def format_ticks(self, values):
            # the suffix of what is in view (0.9M of data reads 300k 600k 900k, not 0.3M 0.6M 0.9M)
            top = max(abs(v) for v in self.axis.get_view_interval()) if self.axis is not None else None
            return compact_ticks(values, top)

    return CompactFormatter()


def exact(v: float) -> str:
    """A swept value as written in the config (4096, not 4.1k); only round millions and thousands
    from 10,000 up take a suffix."""
    if float(v).is_integer():
        n = int(v)
        if abs(n) >= 10**6 and n % 10**6 == 0:
            return f"{n // 10**6}M"
        if abs(n) >= 10**4 and n % 1000 == 0:
            return f"{n // 1000}k"
        return str(n)
    return f"{v:g}"


def legend_width(labels) -> float:
    """Inches a one-column legend of ``labels`` takes beside the panels."""
    return 0.8 + LEGEND_CHAR_IN * max((len(s) for s in labels), default=0)


def figure(npanels: int, width: float = 4.8, height: float = 3.4, legend_in: float = 0.0, ncols_max: int = 3):
    """A figure of ``npanels`` panels, each ``width`` x ``height`` inches, plus ``legend_in`` inches on the
    right for a legend; returns ``(fig, axes)``."""
    from matplotlib.figure import Figure   # lazy: no matplotlib import unless a plot is made

    ncols = min(ncols_max, max(1, npanels))
    nrows = math.ceil(npanels / ncols)
    fig = Figure(figsize=(width * ncols + legend_in, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[npanels:]:
        ax.set_visible(False)
    return fig, axes[:npanels]


def _row_length(labels, width: float) -> int:
    """Entries per row of a legend under the panels: as many as fit in ``width`` inches (the longest
    labels counted first), then spread evenly so the last row is not a lone entry."""
    sizes = sorted((0.7 + LEGEND_CHAR_IN * len(s) for s in labels), reverse=True)
    per_row = 1
    while per_row < len(sizes) and sum(sizes[:per_row + 1]) <= width:
        per_row += 1
    nrows = math.ceil(len(labels) / per_row)
    return math.ceil(len(labels) / nrows)


def outside_legend(fig, handles, labels, below: bool = False, title: str | None = None):
    """One legend for the figure outside every panel: upper right of them, or in rows under them."""
    if below:
        return fig.legend(handles, labels, loc="outside lower center", ncols=_row_length(labels, fig.get_figwidth()),
                          fontsize="small", title=title, title_fontsize="small", frameon=False)
    return fig.legend(handles, labels, loc="outside right upper", fontsize="small",
                      title=title, title_fontsize="small", frameon=False)


def figure_handles(fig) -> tuple[list, list]:
    """The labelled artists of every panel of ``fig``, each label once, in drawing order."""
    seen: dict[str, object] = {}
    for ax in fig.axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    return list(seen.values()), list(seen)


def _set_scale(axis, scale: str, **kw) -> None:
    setter = axis.axes.set_xscale if axis.axis_name == "x" else axis.axes.set_yscale
    setter(scale, **kw)


def cycles_axis(axis) -> None:
    """Linear axis of cycles or counts: compact labels (40k, 1.2M) instead of a ``1e6`` offset."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(_compact_formatter())


def log_axis(axis, values) -> None:
    """Log-10 axis over ``values``: major ticks at 1-2-5 (or only decades when the span is wide),
    compact plain labels, no labelled minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    pos = [v for v in values if isinstance(v, (int, float)) and v > 0]
    decades = math.log10(max(pos) / min(pos)) if pos else 3.0
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0) if decades > 1 else (1.0, 2.0, 3.0, 5.0)
    _set_scale(axis, "log")
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=8))
    axis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    axis.set_minor_formatter(NullFormatter())


def value_ticks(axis, values, log2: bool = False) -> None:
    """Ticks at the swept ``values`` themselves (a handful of them at most), plainly labelled;
    on a log-2 scale when ``log2``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    if log2:
        _set_scale(axis, "log", base=2)
    xs = sorted(set(values))
    if len(xs) > MAX_VALUE_TICKS:
        step = -(-len(xs) // MAX_VALUE_TICKS)
        xs = xs[::step] + ([xs[-1]] if (len(xs) - 1) % step else [])
    axis.set_major_locator(FixedLocator(xs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: exact(v)))
    axis.set_minor_locator(NullLocator())
