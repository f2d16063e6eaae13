"""Latency statistics: nearest-rank percentiles over simulated cycles and wall-clock microseconds.

The runner writes these figures into summary.json and the analysis recomputes
them from events.jsonl, both with :func:`latency_stats`, so the two agree
exactly. Pure Python, no heavy imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

STAT_KEYS = ("count", "mean_cycles", "p50_cycles", "p90_cycles", "p99_cycles", "max_cycles",
             "p50_wall_us", "p99_wall_us")


def nearest_rank(sorted_values: Sequence, pct: float):
    """The ``pct``-th percentile of ascending ``sorted_values`` by the nearest-rank method.

    The value at rank ``ceil(pct/100 * n)`` (1-based, at least 1); None when empty.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    if not 0 < pct <= 100:
        raise ValueError(f"percentile {pct!r} must be in (0, 100]")
    rank = max(1, math.ceil(pct / 100 * n))
    return sorted_values[rank - 1]


def latency_stats(cycles: list[int], wall_us: list[float]) -> dict:
    """Summary of one latency kind: the ``latency`` entry shape of summary.json.

    ``count, mean_cycles, p50_cycles, p90_cycles, p99_cycles, max_cycles``
    over ``cycles`` (integers, except the float mean), and ``p50_wall_us,
    p99_wall_us`` over ``wall_us`` (floats). Statistics of an empty list are
    None; ``wall_us`` may be empty while ``cycles`` is not (kinds that are not
    exchanges have no wall-clock figure).
    """
    cyc = sorted(int(c) for c in cycles)
    wall = sorted(float(w) for w in wall_us)
    n = len(cyc)
    return {
        "count": n,
        "mean_cycles": (sum(cyc) / n) if n else None,
        "p50_cycles": nearest_rank(cyc, 50),
        "p90_cycles": nearest_rank(cyc, 90),
        "p99_cycles": nearest_rank(cyc, 99),
        "max_cycles": cyc[-1] if n else None,
        "p50_wall_us": nearest_rank(wall, 50),
        "p99_wall_us": nearest_rank(wall, 99),
    }


def ecdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Empirical CDF: ascending values and the fraction of samples <= each (for step plots)."""
    xs = sorted(values)
    n = len(xs)
    return xs, [(i + 1) / n for i in range(n)]


def ratio(value, base) -> float | None:
    """``value / base``; None when either is missing or both are zero; inf when only ``base`` is zero."""
    if value is None or base is None:
        return None
    if base == 0:
        return None if value == 0 else math.inf
    return value / base
