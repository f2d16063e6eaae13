"""The validate contract: what a case is, what it reports, and the registry of cases.

A `Case` declares its name, kind and source and holds a function that measures it on a
`Setup` (the costs, the policy switches and the clock under test), returning the reference
figure and the simulated one. Its `Result` is one row of `smpsim validate`: it passes when
simulated / reference lies in the band. `@case(...)` registers a case; `register` takes one
built at run time (from a profile or a trace file, say).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Callable

from smpsim.costs import CostModel
from smpsim.errors import ConfigError
from smpsim.experiments.config import MachineConfig, PolicyConfig
from smpsim.rundir.safeio import clip

DEFAULT_GHZ = MachineConfig.model_fields["ghz"].default


@dataclass(frozen=True)
class Setup:
    """What the cases run with: the costs, the policy switches laid over each case's preset
    (`policy.X=` overrides), and the clock that turns published times into cycles."""
    costs: CostModel = field(default_factory=CostModel)
    switches: dict = field(default_factory=dict)
    ghz: float = DEFAULT_GHZ

    def cycles(self, ns: float) -> float:
        """A published time in ns as cycles of the simulated clock."""
        return ns * self.ghz

    def policy(self, preset: str) -> PolicyConfig:
        """The preset under test with the switch overrides applied."""
        try:
            return PolicyConfig.model_validate({"name": preset, "preset": preset, **self.switches}, strict=True)
        except ValueError as e:        # pydantic's ValidationError is a ValueError
            raise ConfigError(f"--set policy.*: {clip(str(e).splitlines()[-1], 300)} (preset {preset})") from None


@dataclass(frozen=True)
class Result:
    name: str
    kind: str
    source: str
    reference: float
    simulated: float
    band: tuple[float, float]       # allowed simulated / reference
    unit: str = "cycles"
    note: str = ""
    min_reference: float = 0.0      # below it the reference is too small to judge by: "insufficient"

    @property
    def ratio(self) -> float | None:
        return self.simulated / self.reference if self.reference else None

    @property
    def insufficient(self) -> bool:
        return self.reference < self.min_reference

    @property
    def passed(self) -> bool:
        return not self.insufficient and self.ratio is not None and self.band[0] <= self.ratio <= self.band[1]

    @property
    def failed(self) -> bool:
        """Outside its band (an insufficient case neither passes nor fails)."""
        return not self.insufficient and not self.passed

    @property
    def status(self) -> str:
        return "insufficient" if self.insufficient else "pass" if self.passed else "FAIL"

    def as_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "reference": self.reference,
                "simulated": self.simulated, "ratio": self.ratio, "band": list(self.band), "unit": self.unit,
                "pass": self.passed, "status": self.status.lower(), "note": self.note}


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                       # "published", "profile", "trace"
    source: str
    band: tuple[float, float]
    measure: Callable[[Setup], tuple[float, float]]     # -> (reference, simulated)
    unit: str = "cycles"
    note: str = ""
    min_reference: float = 0.0

    def run(self, setup: Setup) -> Result:
        reference, simulated = self.measure(setup)
        return Result(self.name, self.kind, self.source, reference, simulated, self.band, self.unit, self.note,
                      self.min_reference)


CASES: list[Case] = []


def register(c: Case) -> Case:
    if any(other.name == c.name for other in CASES):
        raise ValueError(f"validate case {c.name!r} is registered twice")
    CASES.append(c)
    return c


def case(name: str, kind: str, source: str, band: tuple[float, float], unit: str = "cycles", note: str = ""):
    """Decorator: register `measure(setup) -> (reference, simulated)` as a case."""
    def wrap(measure):
        register(Case(name, kind, source, tuple(band), measure, unit, note))
        return measure
    return wrap


def select(patterns: list[str] | tuple = (), pool: list[Case] | None = None) -> list[Case]:
    """The cases of `pool` (the registered ones unless given) whose names match one of
    `patterns` (shell-style), all without any; ConfigError naming the cases when a pattern
    matches none."""
    pool = list(CASES) if pool is None else list(pool)
    if not patterns:
        return pool
    for p in patterns:
        if not any(fnmatch.fnmatchcase(c.name, p) for c in pool):
            raise ConfigError(f"--case {clip(p)!r} matches no case; cases: {', '.join(c.name for c in pool)}")
    return [c for c in pool if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]


def run(setup: Setup, patterns: list[str] | tuple = (), pool: list[Case] | None = None) -> list[Result]:
    return [c.run(setup) for c in select(patterns, pool)]
