"""The event queue: operations on one heap keyed by (simulated time, CPU, due time, sequence).

Every operation — a workload's, a pagedaemon run, a faulting TLB miss — is
pushed with the time and CPU it starts on. One that finds its CPU busy is put
back at the time the CPU frees up, keeping the time it fell due: operations
waiting for the same CPU then start in the order they fell due, and the
sequence number breaks the remaining ties in the order things were scheduled,
so the order is total and deterministic.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple


class Event(NamedTuple):
    time: int
    cpu: int
    due: int             # the time it was first scheduled for (a wait for its CPU moves `time` only)
    seq: int
    op: object
    overtaken: int = 0   # times it found its CPU held by work due after it (see `watchdog`)


class EventQueue:
    def __init__(self):
        self._heap: list[Event] = []
        self._seq = 0

    def push(self, time: int, cpu: int, op) -> None:
        self._seq += 1
        heapq.heappush(self._heap, Event(time, cpu, time, self._seq, op))

    def repush(self, event: Event, time: int, overtaken: bool = False) -> Event:
        """Put back an event that must start later, keeping its place among equals; count it
        `overtaken` when its CPU is busy with work that was due after it."""
        event = event._replace(time=time, overtaken=event.overtaken + overtaken)
        heapq.heappush(self._heap, event)
        return event

    def pop_before(self, end: int) -> Event | None:
        """The next event starting before `end`, or None."""
        if self._heap and self._heap[0].time < end:
            return heapq.heappop(self._heap)
        return None

    def next_time(self) -> int | None:
        """When the first queued operation starts (None: nothing is queued)."""
        return self._heap[0].time if self._heap else None

    def has_foreground(self) -> bool:
        """Whether any queued operation keeps the run alive (not a pagedaemon run or a miss)."""
        return any(not e.op.background for e in self._heap)
