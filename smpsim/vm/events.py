"""The event queue: operations on one heap keyed by (simulated time, CPU, sequence).

Every operation — a workload's, a pagedaemon run, a faulting TLB miss — is
pushed with the time and CPU it starts on; the sequence number breaks ties in
the order things were scheduled, so the order is total and deterministic.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple


class Event(NamedTuple):
    time: int
    cpu: int
    seq: int
    op: object


class EventQueue:
    def __init__(self):
        self._heap: list[Event] = []
        self._seq = 0

    def push(self, time: int, cpu: int, op) -> None:
        self._seq += 1
        heapq.heappush(self._heap, Event(time, cpu, self._seq, op))

    def repush(self, event: Event, time: int) -> None:
        """Put back an event that must start later, keeping its place among equals."""
        heapq.heappush(self._heap, event._replace(time=time))

    def pop_before(self, end: int) -> Event | None:
        """The next event starting before `end`, or None."""
        if self._heap and self._heap[0].time < end:
            return heapq.heappop(self._heap)
        return None

    def has_foreground(self) -> bool:
        """Whether any queued operation keeps the run alive (not a pagedaemon run or a miss)."""
        return any(not e.op.background for e in self._heap)
