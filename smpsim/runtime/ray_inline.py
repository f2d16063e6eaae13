"""Inline simulations on a Ray cluster: each (point, policy) runs whole inside one Ray task.

For throughput sweeps that do not need per-exchange wall-clock latencies:
`RayInlineBackend` runs the VM coordinator and every CPU in one task (an
`InlineTransport`, exactly what `InlineBackend` runs), so the cluster's every
core runs a simulation. The task is a Ray generator: it yields after `start`
and after every step (events, trace, epoch), then the result, so the driver
runs the shared step loop (`backend.drive`) over it and streams to the sink as
the inline backend does; the simulated results are the inline backend's.

Each task reserves one CPU and `sim_bytes` of Ray's `memory` resource, so Ray
queues what does not fit. It is aimed (softly) at the node running the fewest
of this backend's tasks, so the nodes share the work. `abort()` cancels every
running task (force: the worker process is killed); `close()` does too and
shuts down a cluster this backend started.
"""

from __future__ import annotations

import threading
import time

import ray
from ray.exceptions import RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from smpsim.errors import ExchangeError, SmpsimError
from smpsim.runtime.backend import EPOCHS_PER_STEP, Backend, RunSink, drive
from smpsim.runtime.ray_actors import ERROR_KEY, pack_error, unpack_error
from smpsim.runtime.ray_cluster import ClusterConnection, connect
from smpsim.runtime.ray_pool import NodeInfo, cluster_nodes
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import StepResult, VmCoordinator

MiB = 1 << 20
SIM_BYTES = 300 * MiB            # default reservation of one inline simulation (worker process + model)


def _simulate(config, policy, workload, point: str, check: bool, trace: bool, epochs_per_step: int):
    """The task: one simulation inline; yields {"node"} once started, each step, then {"result"}."""
    transport = InlineTransport()
    try:
        vm = VmCoordinator(config, policy, transport, workload, check=check, trace=trace, point=point)
        vm.start()
        yield {"node": ray.get_runtime_context().get_node_id()}
        while True:
            r = vm.step(epochs_per_step)
            yield {"epoch": r.epoch, "total_epochs": r.total_epochs, "done": r.done, "events": r.events,
                   "trace": r.trace}
            if r.done:
                yield {"result": vm.result()}
                return
    except SmpsimError as e:
        yield pack_error(e)
    finally:
        transport.close()


_SimulateTask = ray.remote(max_retries=0)(_simulate)


class RayInlineBackend(Backend):
    name = "inline"
    concurrent = True

    def __init__(self, address: str | None = None, *, step_timeout_s: float = 3600.0,
                 local_num_cpus: int = 2, sim_bytes: int = SIM_BYTES, epochs_per_step: int = EPOCHS_PER_STEP):
        self.step_timeout_s = float(step_timeout_s)
        self.sim_bytes = int(sim_bytes)
        self.epochs_per_step = epochs_per_step
        self.cluster: ClusterConnection | None = connect(address, num_cpus=local_num_cpus)
        self.address = self.cluster.address
        self.placements: dict = {}
        self._lock = threading.Lock()
        self._running: dict = {}         # id -> (generator, node aimed at)
        self._aborted = False

    def prepare(self, ncpus: list[int]) -> None:
        pass

    def nodes(self) -> list[NodeInfo]:
        return cluster_nodes()

    def _target(self) -> str | None:
        nodes = [n for n in cluster_nodes() if n.cpus >= 1 and n.memory >= self.sim_bytes]
        if not nodes:
            return None
        load = {n.node_id: 0 for n in nodes}
        for _, node in self._running.values():
            if node in load:
                load[node] += 1
        return min(nodes, key=lambda n: (load[n.node_id] / max(n.cpus, 1.0), -n.cpus)).node_id

    def run_point(self, config, policy, *, workload, point: str, check: bool, trace: bool,
                  sink: RunSink) -> dict:
        if self.cluster is None:
            raise ExchangeError("RayInlineBackend.run_point after close()")
        t0 = time.perf_counter()
        key = object()
        with self._lock:
            if self._aborted:
                raise ExchangeError("the run was stopped")
            node = self._target()
            opts = dict(num_cpus=1, memory=self.sim_bytes)
            if node is not None:
                opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
            gen = _SimulateTask.options(**opts).remote(config, policy, workload, point, check, trace,
                                                        self.epochs_per_step)
            self._running[key] = (gen, node)
        sim = _TaskSimulation(gen, self.step_timeout_s, f"the task of {point}/{policy.name}")
        try:
            result = drive(sim, sink, self.epochs_per_step)
        finally:
            with self._lock:
                self._running.pop(key, None)
            if not sim.finished:
                _cancel(gen)
        self.placements[(point, policy.name)] = {"nodes": [sim.node], "task_node": sim.node, "spread": False}
        result["wall_seconds"] = round(time.perf_counter() - t0, 3)
        return result

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            gens = [g for g, _ in self._running.values()]
        for g in gens:
            _cancel(g)

    def close(self) -> None:
        self.abort()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


def _cancel(gen) -> None:
    try:
        ray.cancel(gen, force=True)
    except Exception:  # noqa: BLE001 - finished, or gone with the cluster
        pass


class _TaskSimulation:
    """A running `_simulate` task as the step loop sees a simulation."""

    def __init__(self, gen, timeout_s: float, what: str):
        self.gen, self.timeout_s, self.what = gen, timeout_s, what
        self.node = None
        self.finished = False
        self._result = None

    def _next(self) -> dict:
        ready, _ = ray.wait([self.gen], timeout=self.timeout_s)
        if not ready:
            raise ExchangeError(f"no answer from {self.what} within {self.timeout_s:g} s")
        try:
            item = ray.get(next(self.gen), timeout=self.timeout_s)
        except StopIteration:
            raise ExchangeError(f"{self.what} ended without a result") from None
        except RayError as e:
            self.finished = True
            text = str(e).strip().splitlines()[0][:240] if str(e).strip() else type(e).__name__
            raise ExchangeError(f"{self.what} failed: {text}") from None
        if ERROR_KEY in item:
            self.finished = True
            raise unpack_error(item)
        return item

    def start(self) -> None:
        self.node = self._next()["node"]

    def step(self, max_epochs: int) -> StepResult:
        return StepResult(**self._next())

    def result(self) -> dict:
        self._result = self._next()["result"]
        self.finished = True
        return self._result
