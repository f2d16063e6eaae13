"""What a backend is: something that runs one (point, policy) simulation and streams its output.

`smpsim.experiments.runner` drives a backend; it never knows whether the CPUs
are objects in this process or Ray actors. A backend calls the sink as the run
goes so that nothing logged is lost if the run dies half-way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol


class RunSink(Protocol):
    """Where a running simulation sends what it produces, as it produces it."""

    def events(self, events: list[dict]) -> None: ...
    def trace(self, records: list[dict]) -> None: ...
    def progress(self, epoch: int, total_epochs: int) -> None: ...


class Backend(ABC):
    name = "abstract"
    address: str | None = None

    @abstractmethod
    def run_point(self, config, policy, *, point: str, check: bool, trace: bool, sink: RunSink) -> dict:
        """Simulate one policy on one resolved point config; return the coordinator's result dict."""

    def close(self) -> None:
        """Release what the backend holds (actors, a cluster it started)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
