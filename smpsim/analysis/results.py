"""Per point x policy results of a run: summary.json merged with what events.jsonl recomputes.

Latency distributions of the kinds whose events carry ``cycles``
(``smpsim.summary.EVENT_LATENCY_KINDS``) are recomputed from events.jsonl, which
also keeps the raw samples for CDF plots and the ``ptp_pinned`` series of
``epoch`` events. Kinds without events (fault) and points without an events
file fall back to summary.json. Where both exist and the sample counts differ,
a warning says so (it means the run directory is inconsistent).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from smpsim.analysis.load import Run, iter_events
from smpsim.rundir.entries import is_number
from smpsim.stats import latency_stats
from smpsim.summary import EVENT_LATENCY_KINDS, STANDARD_LATENCY_KINDS
from smpsim.summary import EXIT_PARTS as BREAKDOWN_PARTS  # noqa: F401 - the plots' name for the parts


@dataclass
class PolicyEvents:
    """What one policy's events of one point hold: latency samples and the pinned-PTP series."""

    cycles: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    wall_us: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    pinned: list[tuple[int, int]] = field(default_factory=list)   # (sim_cycles, ptp_pinned) per epoch
    nevents: int = 0


def scan_events(run: Run, point: str) -> dict[str, PolicyEvents] | None:
    """One pass over ``point``'s events.jsonl, grouped by policy; None when the file is absent."""
    path = run.events_path(point)
    if not path.is_file():
        return None
    by_policy: dict[str, PolicyEvents] = defaultdict(PolicyEvents)
    for ev in iter_events(path):
        pe = by_policy[str(ev.get("policy"))]
        pe.nevents += 1
        kind = ev["event"]
        # numbers out of 64-bit range, NaN or of the wrong type are not samples (a damaged line)
        if kind in EVENT_LATENCY_KINDS and is_number(ev.get("cycles")):
            pe.cycles[kind].append(int(ev["cycles"]))
            if is_number(ev.get("wall_us")):
                pe.wall_us[kind].append(float(ev["wall_us"]))
        elif kind == "epoch" and is_number(ev.get("ptp_pinned")):
            t = ev.get("sim_cycles", 0)
            pe.pinned.append((int(t) if is_number(t) else 0, int(ev["ptp_pinned"])))
    return dict(by_policy)


@dataclass
class PolicyResult:
    """One point x policy of one run, ready for tables and plots."""

    run: str
    point: str
    policy: str
    params: dict
    switches: dict
    counters: dict
    latency: dict[str, dict]          # kind -> latency_stats shape
    latency_source: dict[str, str]    # kind -> "events" | "summary"
    exit_breakdown: dict
    totals: dict                      # sim_cycles, epochs, wall_seconds, kernel_cycles, user_progress
    events: PolicyEvents | None
    warnings: list[str]

    def as_json(self) -> dict:
        """JSON-ready form (no raw samples)."""
        return {"run": self.run, "point": self.point, "policy": self.policy, "params": self.params,
                "switches": self.switches, "counters": self.counters, "latency": self.latency,
                "latency_source": self.latency_source, "exit_breakdown": self.exit_breakdown,
                **self.totals, "warnings": self.warnings}


def _kind_order(kinds) -> list[str]:
    kinds = set(kinds)
    return [k for k in STANDARD_LATENCY_KINDS if k in kinds] + sorted(kinds - set(STANDARD_LATENCY_KINDS))


def collect(run: Run) -> list[PolicyResult]:
    """Every point x policy of ``run`` in summary order, latencies recomputed from events where possible."""
    results = []
    for point in run.points:
        scanned = scan_events(run, point)
        for entry in (e for e in run.entries if e["point"] == point):
            policy = entry["policy"]
            summary_lat = entry.get("latency") or {}
            pe = scanned.get(policy) if scanned else None
            latency, source, warnings = {}, {}, []
            kinds = set(summary_lat) | (set(STANDARD_LATENCY_KINDS) & set(EVENT_LATENCY_KINDS)) \
                | (set(pe.cycles) if pe else set())
            for kind in _kind_order(kinds):
                if pe is not None and kind in EVENT_LATENCY_KINDS:
                    stats = latency_stats(pe.cycles.get(kind, []), pe.wall_us.get(kind, []))
                    s_count = (summary_lat.get(kind) or {}).get("count")
                    if s_count is not None and s_count != stats["count"]:
                        warnings.append(f"{point}/{policy}: {kind}: events.jsonl has {stats['count']} samples, "
                                        f"summary.json count is {s_count}")
                    latency[kind], source[kind] = stats, "events"
                elif isinstance(summary_lat.get(kind), dict):
                    latency[kind], source[kind] = dict(summary_lat[kind]), "summary"
                else:
                    latency[kind], source[kind] = latency_stats([], []), "none"
            results.append(PolicyResult(
                run=run.name, point=point, policy=policy,
                params=dict(entry.get("params") or {}), switches=dict(entry.get("switches") or {}),
                counters=dict(entry.get("counters") or {}), latency=latency, latency_source=source,
                exit_breakdown=dict(entry.get("exit_breakdown") or {}),
                totals={k: entry.get(k) for k in ("sim_cycles", "epochs", "wall_seconds", "kernel_cycles",
                                                  "user_progress")},
                events=pe, warnings=warnings))
    return results


def swept_keys(results: list[PolicyResult]) -> list[str]:
    """Parameter keys whose value differs between points, in first-seen order."""
    seen: dict[str, set] = {}
    for r in results:
        for k, v in r.params.items():
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vals in seen.items() if len(vals) > 1]
