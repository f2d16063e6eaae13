"""The architecture holds: layering contracts (import-linter), module and function sizes, and a new
kernel design added from outside smpsim/ (a strategy and a preset) runs through `smpsim run`."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from smpsim.cli import main
from smpsim.vm import design
from smpsim.vm.strategies.shootdown_mailbox import GlobalMailboxShootdown

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=cwd,
                          env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def test_layering_contracts_are_kept():
    out = _lint(ROOT, ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_an_import_from_the_model_into_runtime_breaks_the_contracts(tmp_path):
    shutil.copytree(ROOT / "smpsim", tmp_path / "smpsim", ignore=shutil.ignore_patterns("__pycache__"))
    kernel = tmp_path / "smpsim" / "vm" / "kernel.py"
    kernel.write_text(kernel.read_text() + "\nfrom smpsim.runtime.transport import InlineTransport  # noqa\n")
    out = _lint(tmp_path, tmp_path)
    assert out.returncode != 0
    assert "smpsim.vm.kernel -> smpsim.runtime.transport" in out.stdout
    assert "BROKEN" in out.stdout


def test_modules_and_model_functions_stay_small():
    too_long, long_functions = [], []
    for path in (ROOT / "smpsim").rglob("*.py"):
        text = path.read_text()
        if text.count("\n") > 400:
            too_long.append(str(path.relative_to(ROOT)))
        if path.parent.name in ("vm", "cpus", "strategies"):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if node.end_lineno - node.lineno + 1 > 60:
                        long_functions.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert not too_long, f"files over 400 lines: {too_long}"
    assert not long_functions, f"model functions over 60 lines: {long_functions}"


def test_every_module_says_what_lives_there():
    missing = [str(p.relative_to(ROOT)) for p in (ROOT / "smpsim").rglob("*.py")
               if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing, f"modules without a docstring: {missing}"


class AlwaysFullShootdown(GlobalMailboxShootdown):
    """A design that never uses INVLPG: every shootdown is a full flush."""

    def __init__(self, k, shootdown_batch: int):
        super().__init__(k, shootdown_batch)
        self.ceiling = 0


def test_a_new_strategy_and_preset_from_outside_smpsim_run_through_smpsim_run(tmp_path):
    design.register_strategy("shootdown", "always_full", AlwaysFullShootdown)
    design.register_preset("netbsd5_full_flush", dict(design.PRESETS["netbsd5"], shootdown="always_full"))
    try:
        out = tmp_path / "run"
        result = CliRunner().invoke(main, ["run", str(ROOT / "configs" / "munmap_fanout_quick.toml"), "--backend",
                                           "inline", "--out", str(out), "--quiet", "--check", "--set",
                                           'policies=["netbsd5", "netbsd5_full_flush"]', "--set",
                                           "workload.region_pages=4"])
        assert result.exit_code == 0, result.output
    finally:
        del design.PRESETS["netbsd5_full_flush"]
    points = json.loads((out / "summary.json").read_text())["points"]
    by = {p["policy"]: p["counters"] for p in points}
    assert set(by) == {"netbsd5", "netbsd5_full_flush"}
    assert by["netbsd5"]["shootdown_invlpg"] > 0
    assert by["netbsd5_full_flush"]["shootdown_invlpg"] == 0
    assert by["netbsd5_full_flush"]["shootdown_full_flushes"] == by["netbsd5_full_flush"]["shootdown_exchanges"] > 0
