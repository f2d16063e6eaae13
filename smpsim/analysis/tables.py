"""Table rendering: one :class:`Table` shape, written as aligned text, Markdown or CSV rows.

Numbers are formatted for reading in text and Markdown (``-`` for missing,
ratios as ``0.42x``, :class:`Figure` measurements with thousands separators) and
left raw in CSV and JSON. The analysis commands and the benchmark
(`smpsim.bench`) both render through here; `render_markdown_section` is the
benchmark's form: the table under a Markdown heading with a note before it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field, replace


@dataclass
class Ratio:
    """A ratio against the baseline, so renderers can format it as ``0.42x``."""

    value: float | None


@dataclass
class Figure:
    """A measured quantity shown with fixed decimals and thousands separators: ``1,324``, ``+81``, ``100%``.

    ``unit`` is appended as written (``"%"``, ``" s"``); ``signed`` shows ``+`` on differences.
    """

    value: float | None
    decimals: int = 0
    unit: str = ""
    signed: bool = False


@dataclass
class Table:
    """A titled table: header row, body rows; the first ``label_cols`` columns are labels (left-aligned)."""

    headers: list[str]
    rows: list[list] = field(default_factory=list)
    title: str = ""
    label_cols: int = 1


def fmt_cell(v) -> str:
    """Human formatting of one cell value."""
    if isinstance(v, Ratio):
        r = v.value
        if r is None:
            return "-"
        return "inf" if math.isinf(r) else f"{r:.2f}x"
    if isinstance(v, Figure):
        if v.value is None or math.isnan(v.value):
            return "-"
        if math.isinf(v.value):
            return str(v.value)
        return f"{v.value:{'+' if v.signed else ''},.{v.decimals}f}{v.unit}"
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            return str(v)
        if abs(v) >= 1000:
            return f"{v:.0f}"
        if abs(v) >= 1 or v == 0:
            return f"{v:.1f}"
        return f"{v:.3g}"
    return str(v)


def raw_cell(v):
    """Machine form of one cell value (CSV/JSON): ratios and figures unwrapped, inf as the string "inf"."""
    if isinstance(v, (Ratio, Figure)):
        v = v.value
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return v


def render_text(table: Table) -> str:
    """Aligned plain-text table for a terminal: labels left, numbers right."""
    cells = [[fmt_cell(c) for c in row] for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(table.headers)]

    def line(vals):
        return "  ".join(v.ljust(w) if i < table.label_cols else v.rjust(w)
                         for i, (v, w) in enumerate(zip(vals, widths))).rstrip()

    out = [table.title] if table.title else []
    out += [line(table.headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


def render_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown table (labels left-aligned, numbers right-aligned)."""
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    out = [f"**{table.title}**", ""] if table.title else []
    out.append("| " + " | ".join(esc(h) for h in table.headers) + " |")
    out.append("|" + "|".join(":---" if i < table.label_cols else "---:" for i in range(len(table.headers))) + "|")
    out += ["| " + " | ".join(esc(fmt_cell(c)) for c in row) + " |" for row in table.rows]
    return "\n".join(out)


def render_markdown_section(table: Table, *, level: int = 3, note: str = "") -> str:
    """The table under a Markdown heading of `level` made of its title, with `note` as a paragraph
    between them; ends with an empty line so sections can be joined with newlines."""
    out = [f"{'#' * level} {table.title}", ""] if table.title else []
    if note:
        out += [note, ""]
    out += [render_markdown(replace(table, title="")), ""]
    return "\n".join(out)


def render_csv(headers: list[str], rows: list[list]) -> str:
    """CSV text (header line first) with raw values."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers)
    for row in rows:
        w.writerow(["" if c is None else raw_cell(c) for c in row])
    return buf.getvalue()
