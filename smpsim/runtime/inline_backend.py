"""The inline backend: the VM coordinator and every CPU in this process (unit tests, quick runs)."""

from __future__ import annotations

import time

from smpsim.runtime.backend import EPOCHS_PER_STEP, Backend, RunSink, drive
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import VmCoordinator


class InlineBackend(Backend):
    name = "inline"

    def run_point(self, config, policy, *, workload, point: str, check: bool, trace: bool,
                  sink: RunSink) -> dict:
        t0 = time.perf_counter()
        transport = InlineTransport()
        vm = VmCoordinator(config, policy, transport, workload, check=check, trace=trace, point=point)
        try:
            result = drive(vm, sink, EPOCHS_PER_STEP)
        finally:
            transport.close()
        result["wall_seconds"] = round(time.perf_counter() - t0, 3)
        return result
