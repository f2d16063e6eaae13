"""Small measuring helpers shared by the benchmarks: samples and their statistics, and a timing sink.

`Samples` keeps the wall and caller-CPU nanoseconds of repeated calls;
`TimingSink` is a `RunSink` that records when each progress report of a
`run_point` arrived (and can run a hook then, e.g. to read the actors' memory
while they are alive). Nothing here asserts a time.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

from smpsim.analysis.tables import Figure


def percentile(xs: list, p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def micros(ns: float) -> Figure:
    """Nanoseconds shown as microseconds: whole ones from 10 µs up, one decimal below."""
    return Figure(ns / 1000, 0 if ns >= 10_000 else 1)


@dataclass
class Samples:
    """Wall-clock and calling-thread CPU nanoseconds of each timed call."""
    wall_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)

    def time(self, fn, *, keep: bool = True) -> None:
        """Call fn once, recording its wall and CPU time when `keep` (warm-up calls are not kept)."""
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        fn()
        dt = time.perf_counter_ns() - t
        dc = time.thread_time_ns() - c
        if keep:
            self.wall_ns.append(dt)
            self.cpu_ns.append(dc)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall_ns)

    @property
    def p99_wall(self) -> float:
        return percentile(self.wall_ns, 99)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_ns)


class TimingSink:
    """A RunSink that keeps nothing but the time of each progress report (and can hook it)."""

    def __init__(self, hook=None):
        self.marks: list[tuple[float, int]] = []
        self.hook = hook

    def events(self, events) -> None:
        pass

    def trace(self, records) -> None:
        pass

    def progress(self, epoch: int, total: int) -> None:
        self.marks.append((time.perf_counter(), epoch))
        if self.hook is not None:
            self.hook()

    def steady_rate(self) -> float | None:
        """Epochs per second between the first and the last progress report."""
        if len(self.marks) < 2:
            return None
        (t0, e0), (t1, e1) = self.marks[0], self.marks[-1]
        return (e1 - e0) / (t1 - t0) if t1 > t0 else None
