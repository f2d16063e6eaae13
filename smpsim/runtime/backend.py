"""What a backend is, and the one step loop every backend runs.

`smpsim.experiments.runner` drives a backend; it never knows whether the CPUs
are objects in this process or Ray actors. Both backends run one (point,
policy) simulation through `drive`: start it, step it until done, stream its
events, trace and progress to the sink as they come, and — when it fails —
forward the events and trace the error carries before raising, so that nothing
logged up to the failure is lost on either backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from smpsim.errors import SmpsimError

EPOCHS_PER_STEP = 8


class RunSink(Protocol):
    """Where a running simulation sends what it produces, as it produces it."""

    def events(self, events: list[dict]) -> None: ...
    def trace(self, records: list[dict]) -> None: ...
    def progress(self, epoch: int, total_epochs: int) -> None: ...


class Simulation(Protocol):
    """One simulation as the step loop sees it (a VmCoordinator, or a proxy to a VM actor)."""

    def start(self) -> None: ...
    def step(self, max_epochs: int): ...          # -> StepResult
    def result(self) -> dict: ...


def drive(sim: Simulation, sink: RunSink, epochs_per_step: int = EPOCHS_PER_STEP) -> dict:
    """Run `sim` to the end, streaming to `sink`; return its result."""
    try:
        sim.start()
        while True:
            r = sim.step(epochs_per_step)
            sink.events(r.events)
            if r.trace:
                sink.trace(r.trace)
            sink.progress(r.epoch, r.total_epochs)
            if r.done:
                return sim.result()
    except SmpsimError as e:
        if getattr(e, "events", None):
            sink.events(e.events)
        if getattr(e, "trace", None):
            sink.trace(e.trace)
        raise


class Backend(ABC):
    name = "abstract"
    address: str | None = None

    @abstractmethod
    def run_point(self, config, policy, *, workload, point: str, check: bool, trace: bool,
                  sink: RunSink) -> dict:
        """Simulate one policy on one resolved point config with `workload` (a fresh, unbound
        workload object); return the coordinator's result dict."""

    def close(self) -> None:
        """Release what the backend holds (actors, a cluster it started)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
