"""The inline backend: the VM coordinator and every CPU in this process (unit tests, quick runs)."""

from __future__ import annotations

import time

from smpsim.runtime.backend import Backend, RunSink
from smpsim.runtime.transport import InlineTransport

EPOCHS_PER_STEP = 8


class InlineBackend(Backend):
    name = "inline"

    def __init__(self, bugs=()):
        self.bugs = tuple(bugs)

    def run_point(self, config, policy, *, point: str, check: bool, trace: bool, sink: RunSink) -> dict:
        from smpsim.vm.coordinator import VmCoordinator
        t0 = time.perf_counter()
        transport = InlineTransport()
        vm = VmCoordinator(config, policy, transport, check=check, trace=trace, point=point, bugs=self.bugs)
        vm.start()
        try:
            while True:
                r = vm.step(EPOCHS_PER_STEP)
                sink.events(r.events)
                if r.trace:
                    sink.trace(r.trace)
                sink.progress(r.epoch, r.total_epochs)
                if r.done:
                    break
        except Exception as e:
            if getattr(e, "events", None):
                sink.events(e.events)
            raise
        finally:
            transport.close()
        result = vm.result()
        result["wall_seconds"] = round(time.perf_counter() - t0, 3)
        return result
