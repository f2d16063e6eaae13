"""The short table printed at the end of `smpsim run`: headline counters per policy, ratios vs the first.

Its columns are the metrics of `smpsim.summary.HEADLINE` that name one (the report shows them all).
"""

from __future__ import annotations

from smpsim.summary import HEADLINE

COLUMNS = tuple(m for m in HEADLINE if m.column)


def _fmt(v, base):
    if v is None:
        return "-"
    text = f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)
    if base is None or base == 0 or v is base:
        return text
    return f"{text} ({v / base:.2f}x)"


def headline_rows(entries: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per point x policy, ratios against the first policy of each point."""
    header = ["point", "policy"] + [m.column for m in COLUMNS]
    rows = []
    by_point: dict[str, list[dict]] = {}
    for e in entries:
        by_point.setdefault(e["point"], []).append(e)
    for point, group in by_point.items():
        base = group[0]
        for e in group:
            row = [point, e["policy"]]
            for metric in COLUMNS:
                v, b = metric.get(e), metric.get(base)
                row.append(_fmt(v, None if e is base else b))
            rows.append(row)
    return header, rows


def render(entries: list[dict]) -> str:
    header, rows = headline_rows(entries)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return "\n".join(lines)
