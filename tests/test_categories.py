"""Kernel cycles land in the category their operation declares, never in one named after a class."""

from __future__ import annotations

import dataclasses
import inspect

from smpsim.experiments import config as cfgmod
from smpsim.vm import operations
from smpsim.vm.kernel import CATEGORIES
from tests.helpers import run_policies

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def _records() -> list[type]:
    return [cls for _, cls in inspect.getmembers(operations, inspect.isclass)
            if dataclasses.is_dataclass(cls) and cls.__module__ == operations.__name__]


def test_every_operation_record_declares_its_kind_and_category():
    records = _records()
    assert len(records) >= 12
    for cls in records:
        assert issubclass(cls, operations.Operation), cls
        assert "kind" in vars(cls) and "category" in vars(cls), f"{cls.__name__} declares no kind or category"
        assert cls.category in CATEGORIES, (cls.__name__, cls.category)
        assert cls.kind.islower() and cls.kind.isidentifier(), (cls.__name__, cls.kind)


def test_queued_pagedaemon_runs_are_counted_as_pagedaemon():
    _, data = cfgmod.load(ROOT / "configs" / "memory_pressure_quick.toml")
    results = run_policies(data, check=False)
    for name, (result, _) in results.items():
        cycles = result["kernel_cycles"]
        assert "pagedaemonrun" not in cycles, name
        if result["counters"]["pagedaemon_runs"] > 0:
            assert cycles["pagedaemon"] > 0, name
    assert any(r["counters"]["pagedaemon_runs"] > 0 for r, _ in results.values())
