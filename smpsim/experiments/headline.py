"""The short table printed at the end of `smpsim run`: headline counters per policy, ratios vs the first."""

from __future__ import annotations

HEADLINE = (
    ("exit cyc (mean)", lambda e: (e["latency"].get("exit") or {}).get("mean_cycles")),
    ("kernel cyc (total)", lambda e: (e.get("kernel_cycles") or {}).get("total")),
    ("+ drain", lambda e: (e.get("kernel_cycles") or {}).get("drain")),
    ("user accesses", lambda e: (e.get("user_progress") or {}).get("total")),
    ("munmap cyc (mean)", lambda e: (e["latency"].get("munmap") or {}).get("mean_cycles")),
    ("pte_atomic_updates", lambda e: e["counters"]["pte_atomic_updates"]),
    ("pv_lock_contended", lambda e: e["counters"]["pv_lock_contended"]),
    ("p2v_retries", lambda e: e["counters"]["p2v_retries"]),
    ("shootdown_exchanges", lambda e: e["counters"]["shootdown_exchanges"]),
    ("switch_away_exchanges", lambda e: e["counters"]["switch_away_exchanges"]),
    ("ptp_bulk_freed", lambda e: e["counters"]["ptp_bulk_freed"]),
    ("ptp_pinned_peak", lambda e: e["counters"]["ptp_pinned_peak"]),
)


def _fmt(v, base):
    if v is None:
        return "-"
    text = f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)
    if base is None or base == 0 or v is base:
        return text
    return f"{text} ({v / base:.2f}x)"


def headline_rows(entries: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per point x policy, ratios against the first policy of each point."""
    header = ["point", "policy"] + [name for name, _ in HEADLINE]
    rows = []
    by_point: dict[str, list[dict]] = {}
    for e in entries:
        by_point.setdefault(e["point"], []).append(e)
    for point, group in by_point.items():
        base = group[0]
        for e in group:
            row = [point, e["policy"]]
            for _, get in HEADLINE:
                v, b = get(e), get(base)
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
