"""The transport interface between the VM coordinator and the CPUs, and the inline transport.

The coordinator never touches a CPU object: it hands messages to a transport and
gets replies back, in the order of the targets it named, with the wall-clock
microseconds the exchange took. `InlineTransport` delivers by direct call in
this process but still encodes every message with msgpack, so both backends move
the same bytes; the Ray transport lives in `smpsim.runtime.ray_transport`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from smpsim.cpus.cpu import SimCpu
from smpsim.protocol import CpuSetup, CpuSnapshot, SnapshotRequest
from smpsim.runtime.wire import decode, encode


@dataclass(frozen=True)
class Exchange:
    """Replies in target order, and wall-clock microseconds from first send to last reply."""
    replies: tuple
    wall_us: float


class Transport(ABC):
    """How the VM reaches its CPUs. Implementations must return replies in target order."""

    name = "abstract"

    @abstractmethod
    def start(self, setups: list[CpuSetup]) -> None:
        """Create one CPU per setup (setups[i].cpu == i)."""

    @abstractmethod
    def exchange(self, targets: list[int], requests: list) -> Exchange:
        """Send requests[i] to CPU targets[i], all before waiting for any reply; gather all replies."""

    def snapshot(self, cpus: list[int]) -> list[CpuSnapshot]:
        return list(self.exchange(cpus, [SnapshotRequest(c) for c in cpus]).replies)

    def close(self) -> None:
        """Release the CPUs."""


class InlineTransport(Transport):
    """All CPUs in this process; each message still crosses as msgpack bytes."""

    name = "inline"

    def __init__(self):
        self.cpus: list[SimCpu] = []

    def start(self, setups: list[CpuSetup]) -> None:
        self.cpus = [SimCpu(decode(encode(s))) for s in setups]

    def exchange(self, targets: list[int], requests: list) -> Exchange:
        t0 = time.perf_counter_ns()
        wire = [encode(r) for r in requests]
        replies = tuple(decode(encode(self.cpus[c].handle(decode(w)))) for c, w in zip(targets, wire))
        return Exchange(replies, (time.perf_counter_ns() - t0) / 1000.0)
