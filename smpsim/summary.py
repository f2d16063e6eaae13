"""The names a simulation's summary uses, declared once for the model that writes it and the
readers (experiments, analysis) that may not import the model or each other.

- `LATENCY_KINDS`: the `latency` entries of a summary, one per kind of timed operation;
- `EVENT_LATENCY_KINDS`: the kinds whose events in events.jsonl carry their `cycles`, from which
  analysis recomputes the distribution (the others are only in summary.json);
- `STANDARD_LATENCY_KINDS`: the kinds a table always shows, in this order (others follow, sorted);
- `EXIT_PARTS`: where an exit's cycles went (the summary's `exit_breakdown`);
- `HEADLINE`: the headline figures, each with the path to it in a summary entry, its label in
  `smpsim report` and its column in the table `smpsim run` prints (None: the report only).
"""

from __future__ import annotations

from dataclasses import dataclass

LATENCY_KINDS = ("shootdown", "switch_away", "exit", "munmap", "fault", "pagedaemon", "destroy", "fork", "exec",
                 "mprotect", "madvise")
EVENT_LATENCY_KINDS = ("shootdown", "switch_away", "exit", "munmap", "pagedaemon")
STANDARD_LATENCY_KINDS = ("shootdown", "switch_away", "exit", "munmap", "fault")
EXIT_PARTS = ("pte", "pv", "lock_wait", "shootdown", "ptp_free", "page_free", "other")


@dataclass(frozen=True)
class Metric:
    """One headline figure of a summary entry (a point x policy)."""

    label: str                  # its row in `smpsim report`
    path: tuple[str, ...]       # keys from the entry down to the number
    column: str | None = None   # its column in `smpsim run`'s table; None: the report only

    def get(self, entry: dict):
        """The figure in `entry`, or None where the entry does not have it."""
        value = entry
        for key in self.path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


def _latency(kind: str, stat: str, label: str, column: str | None = None) -> Metric:
    return Metric(label, ("latency", kind, stat), column)


def _counter(name: str, label: str, column: str | None = None) -> Metric:
    return Metric(label, ("counters", name), column)


# a report row is shown when some policy has a non-zero value; columns keep this order
HEADLINE = (
    Metric("kernel cycles (total)", ("kernel_cycles", "total"), "kernel cyc (total)"),
    Metric("kernel cycles incl. final drain", ("kernel_cycles", "total_with_drain")),
    Metric("final drain cycles", ("kernel_cycles", "drain"), "+ drain"),
    Metric("user accesses", ("user_progress", "total"), "user accesses"),
    _latency("exit", "mean_cycles", "exit: mean cycles", "exit cyc (mean)"),
    _latency("exit", "p99_cycles", "exit: p99 cycles"),
    _latency("munmap", "mean_cycles", "munmap: mean cycles", "munmap cyc (mean)"),
    _latency("fault", "mean_cycles", "fault: mean cycles"),
    _counter("shootdown_exchanges", "shootdown exchanges", "shootdown_exchanges"),
    _counter("shootdown_ipis", "shootdown IPIs"),
    _latency("shootdown", "mean_cycles", "shootdown: mean cycles"),
    _latency("shootdown", "p99_wall_us", "shootdown: p99 wall us"),
    _counter("mailbox_waits", "mailbox waits"),
    _counter("switch_away_exchanges", "switch-away exchanges", "switch_away_exchanges"),
    _counter("pte_atomic_updates", "PTE atomic updates", "pte_atomic_updates"),
    _counter("pv_lock_acquires", "PV lock acquires"),
    _counter("pv_lock_contended", "PV lock contended", "pv_lock_contended"),
    _counter("p2v_retries", "P->V retries", "p2v_retries"),
    _counter("ptp_bulk_freed", "PTPs freed in bulk", "ptp_bulk_freed"),
    _counter("ptp_pinned_peak", "pinned PTPs (peak)", "ptp_pinned_peak"),
    _counter("pagedaemon_scans", "pagedaemon scans"),
    _latency("pagedaemon", "mean_cycles", "pagedaemon: mean cycles"),
    Metric("simulated cycles", ("sim_cycles",)),
)
