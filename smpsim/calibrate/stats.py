"""Statistics of one benchmark's samples: median, quartiles and spread (IQR over median)."""

from __future__ import annotations

import statistics


def summarize(samples: list[float]) -> dict:
    """median_ns, q1_ns, q3_ns and iqr_over_median of per-sample ns-per-operation values.

    Quartiles are statistics.quantiles(method="inclusive") (the linear interpolation of the
    sorted samples); a single sample has IQR 0."""
    if not samples:
        raise ValueError("no samples")
    values = [float(v) for v in samples]
    median = statistics.median(values)
    if len(values) == 1:
        q1 = q3 = values[0]
    else:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    spread = (q3 - q1) / median if median > 0 else float("inf")
    return {"median_ns": median, "q1_ns": q1, "q3_ns": q3, "iqr_over_median": spread,
            "reps": len(values)}
