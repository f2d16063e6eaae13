"""The generated parts of docs/kernels.md and the README: the presets table and the strategies
of every kind, read from the design registry (`smpsim.vm.design`), never written by hand.

A generated part sits between `<!-- generated: NAME ... -->` and `<!-- end generated: NAME -->`;
the prose around it is hand-written and kept. `python -m smpsim.docs_kernels --write` rewrites
the parts, `--check` lists the files whose parts are stale (a test runs it), and with neither
the parts are printed. A preset or strategy registered from anywhere (a test, a user's module)
appears in them like a built-in one.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

from smpsim.vm import design

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "python -m smpsim.docs_kernels --write"
# file (relative to the repository) -> the generated parts it holds
DOCS = {"docs/kernels.md": ("presets", "strategies"), "README.md": ("presets",)}


def kind_description(kind: str) -> str:
    """What a strategy kind chooses, as its base class declares it (`design.KINDS`)."""
    return design.KINDS[kind].doc


def cell(value) -> str:
    """A value as the docs show it: TOML spelling, code-quoted (numbers plain)."""
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, int):
        return str(value)
    return f"`{value}`"


def parameters() -> tuple[str, ...]:
    """The design's parameters (strategy parameters, then the kernel's), as declared."""
    return tuple(design.PARAMETERS)


def allowed(name: str) -> str:
    """The values a kind or parameter takes, from its declaration and the registry."""
    if name in design.kinds():
        return ", ".join(cell(v) for v in design.strategy_values(name))
    p = design.PARAMETERS[name]
    if p.values:
        return ", ".join(cell(v) for v in p.values)
    return f"{p.ge}–{p.le}"


def presets_table() -> str:
    """One row per kind and parameter, one column per preset."""
    names = design.preset_names()
    rows = {name: design.preset_row(name) for name in names}
    lines = ["| kind or parameter | values | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for key in (*design.kinds(), *parameters()):
        doc = kind_description(key) if key in design.kinds() else design.PARAMETERS[key].doc
        label = f"`{key}` ({doc})" if doc else f"`{key}`"
        lines.append(f"| {label} | {allowed(key)} | " + " | ".join(cell(rows[n][key]) for n in names) + " |")
    return "\n".join(lines)


def docstring_summary(cls: type) -> str:
    """The first paragraph of the class's own docstring, else of its module's, on one line."""
    doc = cls.__dict__.get("__doc__") or (sys.modules[cls.__module__].__doc__ if cls.__module__ in sys.modules
                                         else None) or ""
    first = inspect.cleandoc(doc).split("\n\n")[0]
    return " ".join(first.split()).replace("|", "\\|")


def strategies_section() -> str:
    """Per kind, every registered strategy: its class, the presets using it and its docstring's summary."""
    rows = {name: design.preset_row(name) for name in design.preset_names()}
    out = []
    for kind in design.kinds():
        out += [f"### `{kind}`: {kind_description(kind)} (default `{design.KINDS[kind].default}`)", "",
                "| value | strategy | presets | what it models (its docstring) |", "|---|---|---|---|"]
        for value in design.strategy_values(kind):
            cls = design.strategy(kind, value)
            users = ", ".join(f"`{n}`" for n, row in rows.items() if row[kind] == value) or "-"
            out.append(f"| {cell(value)} | `{cls.__module__}.{cls.__qualname__}` | {users} | "
                       f"{docstring_summary(cls)} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def blocks() -> dict[str, str]:
    return {"presets": presets_table(), "strategies": strategies_section()}


def fill(text: str, parts: dict[str, str], names: tuple[str, ...]) -> str:
    """`text` with each named generated part replaced by its content (the markers are kept)."""
    for name in names:
        pattern = re.compile(rf"(<!-- generated: {name}\b[^>]*-->\n).*?(<!-- end generated: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no generated part {name!r} (<!-- generated: {name} --> ... "
                             f"<!-- end generated: {name} -->)")
        text = pattern.sub(lambda m: m.group(1) + parts[name] + "\n" + m.group(2), text)
    return text


def stale(root: Path = ROOT) -> list[str]:
    """The docs whose generated parts differ from what the registry says now."""
    parts = blocks()
    return [rel for rel, names in DOCS.items()
            if fill((root / rel).read_text(), parts, names) != (root / rel).read_text()]


def write(root: Path = ROOT) -> list[str]:
    """Regenerate every generated part; the files that changed."""
    changed = stale(root)
    parts = blocks()
    for rel in changed:
        path = root / rel
        path.write_text(fill(path.read_text(), parts, DOCS[rel]))
    return changed


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m smpsim.docs_kernels", description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the generated parts of the docs")
    ap.add_argument("--check", action="store_true", help="exit 1 if a generated part is stale")
    ap.add_argument("--root", type=Path, default=ROOT, help="the repository holding the docs")
    args = ap.parse_args(argv)
    if args.write:
        for rel in write(args.root):
            print(f"rewrote {rel}")
        return 0
    if args.check:
        out = stale(args.root)
        for rel in out:
            print(f"{rel} is stale: run `{REGENERATE}`")
        return 1 if out else 0
    for name, text in blocks().items():
        print(f"<!-- {name} -->\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
