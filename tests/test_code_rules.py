"""The code rules of smpsim/, checked on the source text (AST only: nothing of smpsim is imported).

* size: no source file over 400 lines, no function or method over 60 lines (the `def` line to
  the last line of its body; decorators not counted);
* star: no `from X import *`;
* private-import: no `from smpsim... import _name` (another module's private name), and no
  `mod._name` where `mod` is an smpsim module bound by `import smpsim...` or `from smpsim... import mod`;
* reach-in: no `obj._name` on anything but `self`, `cls` or `super()` unless `_name` is defined in
  the same module (a def, a class attribute, or a `self._name =`/`cls._name =` assignment);
* ray-private: Ray's private modules (`ray._private`, `ray._raylet`, ...) only in RAY_INTERNALS,
  the one module that says, for each use, why Ray 2.60 has no public interface for it.

Each violation names the file, the line and the rule. The synthetic tests below show that every
rule can fail.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "smpsim"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Ray 2.60 has no public way to switch token authentication on in a process that has already
# imported Ray, to ask whether a token exists, to probe a GCS without ray.init's 20-second retry
# loop, to find the address `ray start` recorded, or to keep 127.0.0.1 as the node IP: those
# calls live in this one module, each with its reason.
RAY_INTERNALS = "smpsim/runtime/ray_internals.py"
# Underscore names that are public API of the standard library.
STDLIB_UNDERSCORE = {"_exit", "_getframe", "_replace", "_asdict", "_fields", "_make", "_field_defaults"}
RULES = ("file-size", "function-size", "star", "private-import", "reach-in", "ray-private")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _absolute(module: str | None, level: int, here: str, is_package: bool) -> str:
    """The absolute name of `from <level dots><module> import ...` written in module `here`."""
    if not level:
        return module or ""
    parts = here.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _defined_names(tree: ast.AST) -> set[str]:
    """Names this module defines: defs and classes, class attributes, self./cls. assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                    [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
                names.update(t.id for t in targets if isinstance(t, ast.Name))
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in ("self", "cls"):
                names.add(t.attr)
    return names


def _is_ray_private(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "ray" and len(parts) > 1 and parts[1].startswith("_")


def _attr_chain(node: ast.Attribute) -> str | None:
    """'a.b.c' for an attribute chain on a plain name, else None."""
    parts = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    return ".".join([value.id, *reversed(parts)])


class _Checker:
    """The rules for one source file."""

    def __init__(self, root: Path, path: Path, text: str):
        self.root, self.path, self.text = root, path, text
        self.rel = str(path.relative_to(root))
        self.tree = ast.parse(text, filename=self.rel)
        self.here = _module_name(root, path)
        self.is_package = path.name == "__init__.py"
        self.out: list[Violation] = []
        self.smpsim_modules: dict[str, str] = {}      # local name -> smpsim module it is bound to

    def flag(self, node, rule: str, message: str) -> None:
        self.out.append(Violation(self.rel, getattr(node, "lineno", 1), rule, message))

    def run(self) -> list[Violation]:
        nlines = len(self.text.splitlines())
        if nlines > MAX_FILE_LINES:
            self.flag(None, "file-size", f"{nlines} lines (at most {MAX_FILE_LINES})")
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.function_size(node)
            elif isinstance(node, ast.Import):
                self.import_(node)
            elif isinstance(node, ast.ImportFrom):
                self.import_from(node)
        self.attributes()
        return self.out

    def function_size(self, node) -> None:
        n = node.end_lineno - node.lineno + 1
        if n > MAX_FUNCTION_LINES:
            self.flag(node, "function-size", f"function {node.name} is {n} lines (at most {MAX_FUNCTION_LINES})")

    def import_(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_ray_private(alias.name) and self.rel != RAY_INTERNALS:
                self.flag(node, "ray-private", f"import {alias.name}: Ray's private API only in {RAY_INTERNALS}")
            if alias.name.split(".")[0] == PACKAGE:
                local = alias.asname or alias.name.split(".")[0]
                self.smpsim_modules[local] = alias.name if alias.asname else PACKAGE

    def import_from(self, node: ast.ImportFrom) -> None:
        module = _absolute(node.module, node.level, self.here, self.is_package)
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, "star", f"from {module} import *")
                continue
            if module == "ray" and alias.name.startswith("_") or _is_ray_private(module):
                if self.rel != RAY_INTERNALS:
                    self.flag(node, "ray-private", f"from {module} import {alias.name}: Ray's private API only "
                                                   f"in {RAY_INTERNALS}")
            if module.split(".")[0] != PACKAGE:
                continue
            if _private(alias.name):
                self.flag(node, "private-import", f"from {module} import {alias.name}: a private name of "
                                                  "another module")
            elif _is_module(self.root, f"{module}.{alias.name}"):
                self.smpsim_modules[alias.asname or alias.name] = f"{module}.{alias.name}"

    def attributes(self) -> None:
        defined = _defined_names(self.tree)
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Attribute):
                continue
            if isinstance(node.value, ast.Name) and node.value.id == "ray" and node.attr.startswith("_"):
                if self.rel != RAY_INTERNALS:
                    self.flag(node, "ray-private", f"ray.{node.attr}: Ray's private API only in {RAY_INTERNALS}")
                continue
            if not _private(node.attr):
                continue
            self.private_attribute(node, defined)

    def private_attribute(self, node: ast.Attribute, defined: set[str]) -> None:
        value = node.value
        bound = value.id if isinstance(value, ast.Name) else _attr_chain(value) if isinstance(value, ast.Attribute) \
            else None
        if bound and bound.split(".")[0] in self.smpsim_modules:
            self.flag(node, "private-import", f"{bound}.{node.attr}: a private name of another module")
            return
        if isinstance(value, ast.Name) and value.id in ("self", "cls"):
            return
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
            return
        if node.attr in defined or node.attr in STDLIB_UNDERSCORE:
            return
        self.flag(node, "reach-in", f"{ast.unparse(node)}: {node.attr} is not defined in this module")


def check_tree(root: Path, package: str = PACKAGE) -> list[Violation]:
    """Every violation of the code rules in `root/package`."""
    out: list[Violation] = []
    for path in sorted((root / package).rglob("*.py")):
        out += _Checker(root, path, path.read_text(encoding="utf-8")).run()
    return out


# --- the real tree --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def violations() -> list[Violation]:
    return check_tree(ROOT)


@pytest.mark.parametrize("rule", RULES)
def test_smpsim_follows_the_code_rules(violations, rule):
    found = [str(v) for v in violations if v.rule == rule]
    assert not found, f"{len(found)} violation(s) of rule {rule}:\n" + "\n".join(found)


# --- every rule can fail ----------------------------------------------------------------------------

def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if str(parent) != ".":
            (root / parent / "__init__.py").touch()
    path.write_text(text)


def _rules(root: Path) -> set[tuple[str, str, int]]:
    return {(v.rule, v.path, v.line) for v in check_tree(root)}


def test_a_file_over_400_lines_is_flagged(tmp_path):
    _write(tmp_path, "smpsim/big.py", "x = 1\n" * 401)
    _write(tmp_path, "smpsim/fits.py", "x = 1\n" * 400)
    assert _rules(tmp_path) == {("file-size", "smpsim/big.py", 1)}


def test_a_function_over_60_lines_is_flagged(tmp_path):
    body = "    x = 1\n" * 59                          # with the def line: 60, the most allowed
    _write(tmp_path, "smpsim/f.py", "import functools\n\n\n@functools.cache\n@functools.cache\n"
                                    f"def fits():\n{body}\n\n"
                                    f"class C:\n    async def too_long(self):\n    {body.replace(chr(10), chr(10) + '    ')}"
                                    "    pass\n")
    found = check_tree(tmp_path)
    assert [(v.rule, v.line) for v in found] == [("function-size", 69)]
    assert str(found[0]).startswith("smpsim/f.py:69: [function-size] function too_long is 61 lines")


def test_a_star_import_is_flagged(tmp_path):
    _write(tmp_path, "smpsim/a.py", "from os.path import *\nfrom .b import *\n")
    _write(tmp_path, "smpsim/b.py", "")
    assert _rules(tmp_path) == {("star", "smpsim/a.py", 1), ("star", "smpsim/a.py", 2)}


def test_importing_a_private_name_of_another_module_is_flagged(tmp_path):
    _write(tmp_path, "smpsim/pkg/lib.py", "def _helper():\n    pass\n\ndef helper():\n    pass\n")
    _write(tmp_path, "smpsim/pkg/user.py",
           "from smpsim.pkg.lib import _helper, helper\n"
           "from .lib import _helper as h\n"
           "from smpsim.pkg import lib\n"
           "import smpsim.pkg.lib as L\n"
           "import smpsim.pkg.lib\n"
           "lib._helper(); L._helper(); smpsim.pkg.lib._helper(); lib.helper()\n")
    assert _rules(tmp_path) == {("private-import", "smpsim/pkg/user.py", line) for line in (1, 2, 6)}
    assert len([v for v in check_tree(tmp_path) if v.line == 6]) == 3


def test_reaching_into_another_modules_object_is_flagged(tmp_path):
    _write(tmp_path, "smpsim/pmap.py", "class Pmap:\n    def _unlink_ptp(self):\n        pass\n")
    _write(tmp_path, "smpsim/teardown.py",
           "class Teardown:\n"
           "    _limit = 3\n"
           "    def __init__(self, other):\n"
           "        self._own = other._own\n"                   # defined here (self._own =)
           "        super()._setup(); self._more(); cls = type(self); cls._limit\n"
           "    def free(self, pm, nt):\n"
           "        pm._unlink_ptp(); pm.__class__; nt._replace(a=1)\n"
           "        return pm._limit\n")                         # a class attribute of this module
    found = check_tree(tmp_path)
    assert [(v.rule, v.path, v.line) for v in found] == [("reach-in", "smpsim/teardown.py", 7)]
    assert "pm._unlink_ptp" in str(found[0])


def test_rays_private_api_is_flagged_outside_its_module(tmp_path):
    text = ("import ray\nimport ray._private.ray_constants as c\nfrom ray._raylet import GcsClient\n"
            "from ray import _private\nray._private.worker.global_worker\n")
    _write(tmp_path, "smpsim/runtime/ray_cluster.py", text)
    _write(tmp_path, RAY_INTERNALS, text)
    assert _rules(tmp_path) == {("ray-private", "smpsim/runtime/ray_cluster.py", line) for line in (2, 3, 4, 5)}
