"""Entry points of the analysis CLI commands: analyze, compare and report.

Thin wrappers: ``smpsim analyze RUN --format``, ``smpsim compare RUN...
--baseline`` and ``smpsim report RUN`` call these. They read run directories
only and never rerun anything.
"""

from __future__ import annotations

from pathlib import Path

from smpsim.analysis.analyze import analyze_run
from smpsim.analysis.compare import compare_runs
from smpsim.analysis.load import load_run
from smpsim.analysis.report import build_report


def analyze(run_dir, fmt: str = "table") -> str:
    """Counters and latency statistics per point and policy of ``run_dir`` as "table", "csv" or "json"."""
    return analyze_run(load_run(run_dir), fmt)


def compare(run_dirs: list, baseline: str | None = None, fmt: str = "table") -> str:
    """Policies of ``run_dirs`` side by side with ratios against ``baseline`` (default: first policy of the first run)."""
    return compare_runs(list(run_dirs), baseline, fmt)


def report(run_dir) -> Path:
    """Write RUN/report.md and RUN/plots/*.png; return the path of report.md."""
    return build_report(run_dir)
