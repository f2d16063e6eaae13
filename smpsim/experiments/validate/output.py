"""validate's results as a table or as the JSON contract `{"cases": [...]}`."""

from __future__ import annotations

import json

from smpsim.experiments.validate.contract import Result


def as_json(results: list[Result]) -> str:
    return json.dumps({"cases": [r.as_json() for r in results]}, indent=1)


def _fmt(r: Result, v: float) -> str:
    return f"{v:,.2f}" if r.unit == "ratio" else f"{v:,.0f}"


def table(results: list[Result]) -> str:
    rows = [("case", "kind", "reference", "simulated", "band", "result", "what", "source")]
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        rows.append((r.name, r.kind, f"{_fmt(r, r.reference)} {r.unit}", f"{_fmt(r, r.simulated)} ({ratio})",
                     _band(r.band), r.status + (f" (< {r.min_reference:,.0f})" if r.insufficient and r.min_reference < float("inf")
                                    else ""), r.note, r.source))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _band(band: tuple[float, float]) -> str:
    """0.70x-1.30x; an open-ended band (an upper bound of a million or more) as >= 2.00x."""
    low, high = band
    return f">= {low:.2f}x" if high >= 1e6 else f"{low:.2f}x-{high:.2f}x"
