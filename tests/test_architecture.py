"""The architecture holds: layering contracts (import-linter), module and function sizes, and the
recipe "add a strategy value": a strategy module outside smpsim/ and a preset using it, registered
and nothing else edited, join the presets table, the test matrix, the generated docs and `smpsim
run`, and are gone again afterwards."""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from smpsim import docs_kernels
from smpsim.cli import main
from smpsim.vm import design
from tests import matrix

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


STRATEGY_MODULE = '''"""A design that never uses INVLPG (`shootdown = "always_full"`): every shootdown is a full flush."""

from smpsim.vm.strategies.shootdown_mailbox import GlobalMailboxShootdown


class AlwaysFullShootdown(GlobalMailboxShootdown):
    def __init__(self, k, shootdown_batch: int, shootdown_ack: str = "after"):
        super().__init__(k, shootdown_batch, shootdown_ack)
        self.ceiling = 0
'''


def _strategy_from_a_package_outside_smpsim(tmp_path, monkeypatch) -> type:
    pkg = tmp_path / "recipe_strategies"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Strategies written outside smpsim/."""\n')
    (pkg / "always_full.py").write_text(STRATEGY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("recipe_strategies", "recipe_strategies.always_full"):
        monkeypatch.delitem(sys.modules, name, raising=False)     # forgotten again after the test
    return importlib.import_module("recipe_strategies.always_full").AlwaysFullShootdown


def _run_munmap_fanout(out: Path, policies: str) -> dict:
    result = CliRunner().invoke(main, ["run", str(ROOT / "configs" / "munmap_fanout_quick.toml"), "--backend",
                                       "inline", "--out", str(out), "--quiet", "--check", "--set",
                                       f"policies={policies}", "--set", "workload.region_pages=4"])
    assert result.exit_code == 0, result.output
    points = json.loads((out / "summary.json").read_text())["points"]
    return {p["policy"]: p["counters"] for p in points}


def test_recipe_add_a_strategy_value(tmp_path, monkeypatch):
    strategy = _strategy_from_a_package_outside_smpsim(tmp_path, monkeypatch)
    presets, shootdowns = design.preset_names(), design.strategy_values("shootdown")
    with design.registered():
        design.register_strategy("shootdown", "always_full", strategy)
        design.register_preset("netbsd5_full_flush", dict(design.PRESETS["netbsd5"], shootdown="always_full"))
        # the presets table and the generated docs
        assert design.preset_names() == (*presets, "netbsd5_full_flush")
        table = docs_kernels.presets_table()
        assert "`netbsd5_full_flush`" in table.splitlines()[0] and "`always_full`" in table
        strategies = docs_kernels.strategies_section()
        assert ("| `always_full` | `recipe_strategies.always_full.AlwaysFullShootdown` | `netbsd5_full_flush` | "
                "A design that never uses INVLPG") in strategies
        assert docs_kernels.stale() == list(docs_kernels.DOCS)   # until someone regenerates
        # the test matrix
        assert dict(matrix.factors())["preset"][-1] == "netbsd5_full_flush"
        assert {c.config for c in matrix.pairwise_cases() if c.preset == "netbsd5_full_flush"} == \
            set(matrix.quick_configs())
        # a run
        by = _run_munmap_fanout(tmp_path / "run", '["netbsd5", "netbsd5_full_flush"]')
    assert by["netbsd5"]["shootdown_invlpg"] > 0
    assert by["netbsd5_full_flush"]["shootdown_invlpg"] == 0
    assert by["netbsd5_full_flush"]["shootdown_full_flushes"] == by["netbsd5_full_flush"]["shootdown_exchanges"] > 0
    # and gone again
    assert design.preset_names() == presets and design.strategy_values("shootdown") == shootdowns
    assert "netbsd5_full_flush" not in {c.preset for c in matrix.pairwise_cases()}
    assert docs_kernels.stale() == []


def test_registered_restores_a_replaced_strategy_and_preset():
    original, row = design.strategy("teardown", "eager"), dict(design.PRESETS["seed"])
    with design.registered():
        design.register_strategy("teardown", "eager", design.strategy("teardown", "deferred"))
        design.register_preset("seed", dict(row, teardown="eager"))
        design.unregister_strategy("teardown", "gc")
        assert "gc" not in design.strategy_values("teardown")
    assert design.strategy("teardown", "eager") is original and design.PRESETS["seed"] == row
    assert "gc" in design.strategy_values("teardown")


def test_every_vm_object_module_is_held_below_the_engine():
    """The contract that the kernel's VM objects never import vm/engine lists them by name: a new
    module in smpsim/vm must join that list, or it could import the engine unchecked."""
    import tomllib
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    listed = next(set(c["source_modules"]) for c in contracts if "never import the engine" in c["name"])
    modules = {f"smpsim.vm.{p.stem}" for p in (ROOT / "smpsim" / "vm").glob("*.py") if p.stem != "__init__"}
    assert modules - listed == set(), "add these to the engine contract in pyproject.toml"
    assert "smpsim.vm.strategies" in listed


def test_every_strategy_takes_its_kinds_parameters_and_one_that_does_not_is_refused():
    """A policy's shootdown_ack reaches the strategy: a class whose constructor drops a parameter
    of its kind would silently run another design than the one its switches say."""
    for kind in design.kinds():
        for value in design.strategy_values(kind):
            assert design.unaccepted_parameters(kind, design.strategy(kind, value)) == [], (kind, value)
    from smpsim.vm.strategies.shootdown_mailbox import GlobalMailboxShootdown

    class DropsTheAck(GlobalMailboxShootdown):
        def __init__(self, k, shootdown_batch: int):
            super().__init__(k, shootdown_batch)

    with design.registered():
        with pytest.raises(ValueError, match="does not take shootdown_ack"):
            design.register_strategy("shootdown", "drops_the_ack", DropsTheAck)
        assert "drops_the_ack" not in design.strategy_values("shootdown")
