"""The benchmark report: its sections, and their Markdown (appended to BENCHMARKS.md).

A `Section` is a table (its title is the heading) and a note on how it was
measured; tables are `smpsim.analysis.tables.Table`s rendered by
`render_markdown_section`, the code that renders the analysis tables. `Report`
holds one run's sections in the order BENCHMARKS.md shows them: the targets
first (section 4), then sections 1-3, then any profiles of missed targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smpsim.analysis.tables import Table, render_markdown_section
from smpsim.bench.machine import MachineInfo
from smpsim.bench.sizes import Sizes
from smpsim.bench.targets import Measurements, TargetResult, targets_table

PREAMBLE = ("# Benchmarks\n\n"
            "Measured by `scripts/bench.py` (`smpsim bench`), all figures of a section in one process run; "
            "newest section last. Wall-clock figures depend on the machine and on what else runs on it "
            "(the load average is recorded). Benchmarks are never timed tests.\n\n")


@dataclass
class Section:
    table: Table
    note: str = ""

    def markdown(self, level: int = 3) -> str:
        return render_markdown_section(self.table, level=level, note=self.note)


@dataclass
class Report:
    sizes: Sizes
    ray: bool
    sections: list[Section] = field(default_factory=list)
    measurements: Measurements | None = None
    targets: list[TargetResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[Section] = field(default_factory=list)

    def section(self, title_prefix: str) -> Section:
        """The section whose title starts with `title_prefix` (e.g. "2a.")."""
        return next(s for s in self.sections if s.table.title.startswith(title_prefix))


def log(text: str = "") -> None:
    print(text, flush=True)


def render(report: Report, info: MachineInfo, argv: list[str], load_after: str, wall_s: float) -> str:
    """The report as one Markdown section of BENCHMARKS.md (a `##` heading with the date and mode)."""
    lines = [f"## {info.date} — {report.sizes.mode} run", "",
             f"- machine: {info.model}, {info.nproc} CPUs (nproc), {info.memory} memory",
             f"- Ray {info.ray}, Python {info.python}, smpsim at git {info.git}",
             f"- command: `{' '.join(['scripts/bench.py', *argv])}`",
             f"- load average before / after: {info.load} / {load_after}; benchmark wall time {wall_s:.0f} s", ""]
    lines += [f"- note: {n}" for n in report.notes]
    if report.notes:
        lines.append("")
    lines.append(Section(targets_table(report.targets)).markdown())
    lines += [s.markdown() for s in report.sections]
    if report.profiles:
        lines += ["### Profiles of missed targets (py-spy)", ""]
        lines += [s.markdown(level=4) for s in report.profiles]
    return "\n".join(lines).rstrip() + "\n"


def write_report(path: Path, text: str) -> None:
    """Append `text` to `path`, starting the file with its preamble when it is new or empty."""
    if not path.exists() or not path.read_text().strip():
        path.write_text(PREAMBLE + text)
    else:
        with path.open("a") as f:
            f.write("\n" + text)
