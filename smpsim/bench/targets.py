"""The speed targets (for the 2-core default machine) and how they are judged.

A `Target` is a bound on one measured quantity (`relation` and `bound`), defined
at one size (`at`: the fan-out, the working set in pages, or the CPU count).
`Measurements` holds the figures the targets are judged on, as the benchmark
modules measured them; `evaluate` turns them into one `TargetResult` per
target with a `Verdict`:

* PASS / MISS: measured at the target's size and within / outside the bound;
* n/a: the part ran but not at the target's size (a smoke run, another fan-out);
* SKIP: the part that measures it did not run (`--no-ray`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from enum import Enum

from smpsim.analysis.tables import Table
from smpsim.bench.sizes import SIZES, Sizes

EXCHANGE_RATIO_BOUND = 1.3          # exchange median within 1.3x of the bare-Ray floor, every fan-out
ACTOR_LOOKUPS_BOUND = 1_000_000     # TLB lookups per second per CPU actor
QUICK_RAY_WALL_BOUND_S = 60.0       # 16-CPU quick exit_storm on Ray, wall seconds
QUICK_RAY_NCPUS = 16
REPLAY_EVENTS_BOUND = 30_000        # trace events per second, replaying the bundled compressor trace inline
REPLAY_NCPUS = 2

_RELATIONS = {"≤": operator.le, "<": operator.lt, "≥": operator.ge}


class Verdict(Enum):
    PASS = "PASS"
    MISS = "MISS"
    NOT_JUDGED = "n/a"
    SKIPPED = "SKIP"


class TargetKind(Enum):
    EXCHANGE_OVERHEAD = "exchange overhead"
    ACTOR_LOOKUPS = "TLB lookups per CPU actor"
    QUICK_RAY_WALL = "quick exit_storm on Ray"
    REPLAY = "trace replay"


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    name: str
    relation: str               # "≤", "<" or "≥": measured <relation> bound passes
    bound: float
    at: int                     # fan-out k, working set (pages) or CPUs the target is defined for
    decimals: int = 0           # how the bound is shown
    unit: str = ""
    quantity: str = ""          # what is compared, when the name does not say it

    def __post_init__(self):
        if self.relation not in _RELATIONS:
            raise ValueError(f"relation {self.relation!r}: allowed are {', '.join(_RELATIONS)}")

    @property
    def goal(self) -> str:
        bound = f"{self.relation} {self.bound:,.{self.decimals}f}{self.unit}"
        return f"{self.quantity} {bound}" if self.quantity else bound

    def met_by(self, value: float) -> bool:
        return _RELATIONS[self.relation](value, self.bound)


TARGETS: tuple[Target, ...] = (
    *(Target(TargetKind.EXCHANGE_OVERHEAD, f"exchange overhead, k={k}", "≤", EXCHANGE_RATIO_BOUND, k,
             decimals=2, unit="x", quantity="smpsim/floor") for k in SIZES["full"].fanouts),
    *(Target(TargetKind.ACTOR_LOOKUPS, f"TLB lookups/s per CPU actor, {ws}-page working set", "≥",
             ACTOR_LOOKUPS_BOUND, ws, unit=" /s") for ws in SIZES["full"].working_sets),
    Target(TargetKind.QUICK_RAY_WALL, f"{QUICK_RAY_NCPUS}-CPU quick exit_storm on Ray, wall", "<",
           QUICK_RAY_WALL_BOUND_S, QUICK_RAY_NCPUS, unit=" s"),
    Target(TargetKind.REPLAY, "compressor trace replayed inline (xz_t2), every design", "≥", REPLAY_EVENTS_BOUND,
           REPLAY_NCPUS, unit=" events/s"),
)


@dataclass(frozen=True)
class LookupRate:
    """TLB lookups per second of wall time and of the handling thread's CPU time."""
    wall_per_s: float
    cpu_per_s: float


@dataclass
class Measurements:
    """The figures the targets are judged on; a missing key: not measured."""
    sizes: Sizes
    ray: bool                                                   # the Ray parts ran
    exchange_ratio: dict[int, float] = field(default_factory=dict)       # k -> smpsim / floor median
    actor_lookups: dict[int, LookupRate] = field(default_factory=dict)   # working set -> in a CPU actor
    in_process_lookups: dict[int, LookupRate] = field(default_factory=dict)
    quick_ray_wall_s: dict[int, float] = field(default_factory=dict)     # ncpus -> quick config on Ray
    replay_events_per_s: float | None = None                             # the slowest design on xz_t2


@dataclass(frozen=True)
class TargetResult:
    target: Target
    measured: float | None      # the value judged (None: nothing measured at the target's size)
    shown: str                  # the measurement as the table shows it, with context
    verdict: Verdict


def judge(target: Target, measured: float | None, *, ran: bool, judged: bool) -> Verdict:
    """The verdict on `measured`; `ran`: the measuring part ran; `judged`: it ran at the target's size."""
    if not ran:
        return Verdict.SKIPPED
    if measured is None or not judged:
        return Verdict.NOT_JUDGED
    return Verdict.PASS if target.met_by(measured) else Verdict.MISS


def _exchange(t: Target, m: Measurements) -> TargetResult:
    ratio = m.exchange_ratio.get(t.at)
    shown = "-" if ratio is None else f"{ratio:.2f}x"
    return TargetResult(t, ratio, shown, judge(t, ratio, ran=m.ray, judged=m.sizes.judged))


def _lookups(t: Target, m: Measurements) -> TargetResult:
    rate = m.actor_lookups.get(t.at)
    if rate is not None:
        shown = f"{rate.wall_per_s:,.0f} (CPU time: {rate.cpu_per_s:,.0f})"
        return TargetResult(t, rate.wall_per_s, shown, judge(t, rate.wall_per_s, ran=m.ray, judged=m.sizes.judged))
    local = m.in_process_lookups.get(t.at)     # without actors, show what the SimCpu alone does
    shown = "-" if local is None else f"{local.wall_per_s:,.0f} (SimCpu in-process; no actor)"
    return TargetResult(t, None, shown, judge(t, None, ran=m.ray, judged=m.sizes.judged))


def _quick_wall(t: Target, m: Measurements) -> TargetResult:
    ncpus = m.sizes.quick_ncpus
    wall = m.quick_ray_wall_s.get(ncpus)
    if wall is None:
        shown = "-"
    else:
        shown = f"{wall:.1f} s" if ncpus == t.at else f"{wall:.1f} s at {ncpus} CPUs"
    return TargetResult(t, wall, shown, judge(t, wall, ran=m.ray, judged=m.sizes.judged and ncpus == t.at))


def _replay(t: Target, m: Measurements) -> TargetResult:
    rate = m.replay_events_per_s
    shown = "-" if rate is None else f"{rate:,.0f}" + ("" if m.sizes.judged else " (sqlite trace; smoke)")
    return TargetResult(t, rate, shown, judge(t, rate, ran=rate is not None, judged=m.sizes.judged))


_EVALUATORS = {TargetKind.EXCHANGE_OVERHEAD: _exchange, TargetKind.ACTOR_LOOKUPS: _lookups,
               TargetKind.QUICK_RAY_WALL: _quick_wall, TargetKind.REPLAY: _replay}


def evaluate(m: Measurements, targets: tuple[Target, ...] = TARGETS) -> list[TargetResult]:
    return [_EVALUATORS[t.kind](t, m) for t in targets]


def targets_table(results: list[TargetResult]) -> Table:
    return Table(["target", "goal", "measured", "result"],
                 [[r.target.name, r.target.goal, r.shown, r.verdict.value] for r in results],
                 title="4. Targets", label_cols=4)
