"""The Ray backend, driver side: each (point, policy) simulation on a VM actor and CPU actors of its own.

`RayBackend(address=None|str, timeout_s, actor_num_cpus)` connects on construction
(`ray_cluster.connect`: a fresh loopback-only local cluster, or attach to `address`
/ RAY_ADDRESS); `address` is the GCS address used. Every `run_point` takes a set
of actors from the backend's `ActorPool` (`ray_pool`: a VM actor and CPU actors
placed together on one node by a placement group, warm from an earlier simulation
of the run when one is free), runs the shared step loop (`backend.drive`) over the
VM actor, streaming events, trace and progress to the sink exactly as the inline
backend does, and gives the set back. `run_point` may be called from several
threads at once (`concurrent`): each call has its own actors. Where each
simulation ran is kept in `placements[(point, policy)]`.

The driver never waits without a deadline: a dead VM actor or one silent past
`step_timeout_s` becomes an `ExchangeError` naming the VM actor; exchange failures
inside the VM actor (a dead or silent CPU actor) arrive as the ExchangeError
RayTransport raised there. A set whose simulation failed (errors and
KeyboardInterrupt included) is killed, never reused. `abort()` kills every set,
running ones too (Ctrl-C, SIGTERM); `close()` kills what is left and shuts down a
cluster this backend started, leaving an attached one running.

The VM actor lives in `ray_actors`, the CPU actor in `ray_cpu`, the transport in
`ray_transport` (re-exported here).
"""

from __future__ import annotations

import time

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from smpsim.errors import ExchangeError
from smpsim.runtime.backend import EPOCHS_PER_STEP, Backend, RunSink, drive
from smpsim.runtime.ray_actors import ERROR_KEY, VmActor, unpack_error
from smpsim.runtime.ray_cluster import ClusterConnection, connect
from smpsim.runtime.ray_cpu import CpuActor
from smpsim.runtime.ray_pool import ACTOR_BYTES, ActorPool, NodeInfo, cluster_nodes
from smpsim.runtime.ray_transport import DEFAULT_TIMEOUT_S, SETUP_TIMEOUT_S, RayTransport
from smpsim.vm.engine.coordinator import StepResult

__all__ = ["RayBackend", "RayTransport", "CpuActor", "VmActor"]


def _first_line(e: BaseException, limit: int = 240) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:limit]


class RayBackend(Backend):
    name = "ray"

    concurrent = True

    def __init__(self, address: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 actor_num_cpus: float = 0.0, *, step_timeout_s: float | None = None,
                 epochs_per_step: int = EPOCHS_PER_STEP, cpu_delay_s: dict | None = None,
                 local_num_cpus: int = 2, actor_bytes: int = ACTOR_BYTES):
        """`cpu_delay_s` {cpu: seconds} makes those CPU actors sleep before each request (fault tests).

        `step_timeout_s` bounds one vm.step() call as seen by the driver (default
        max(60, 2 x timeout_s + 30): longer than an exchange timeout, so a silent CPU
        is reported by the VM actor, naming it, before the driver gives up on the VM).
        """
        self.timeout_s = float(timeout_s)
        self.actor_num_cpus = float(actor_num_cpus)
        self.step_timeout_s = float(step_timeout_s) if step_timeout_s else max(60.0, 2 * self.timeout_s + 30.0)
        self.epochs_per_step = max(1, int(epochs_per_step))
        self.cluster: ClusterConnection | None = connect(address, num_cpus=local_num_cpus)
        self.address = self.cluster.address
        self.pool = ActorPool(actor_num_cpus=actor_num_cpus, actor_bytes=actor_bytes, delay_s=cpu_delay_s)
        self.placements: dict = {}      # (point, policy) -> where its actors ran (ActorSet.placement)
        self.vm_actor = None            # the latest simulation's actors, for diagnostics and fault tests
        self.cpu_actors: list = []

    def prepare(self, ncpus: list[int]) -> None:
        """The ncpus of every simulation the run will ask for: actor sets are made big enough for all."""
        self.pool.set_size = max([0, *ncpus])

    def nodes(self) -> list[NodeInfo]:
        return cluster_nodes()

    # --- one point x policy ------------------------------------------------------------------------
    def run_point(self, config, policy, *, workload, point: str, check: bool, trace: bool,
                  sink: RunSink) -> dict:
        if self.cluster is None:
            raise ExchangeError("RayBackend.run_point after close()")
        t0 = time.perf_counter()
        ncpus = config.machine.ncpus
        aset = self.pool.acquire(ncpus)
        cpus = aset.cpus[:ncpus]
        self.vm_actor, self.cpu_actors = aset.vm, list(cpus)
        begin = aset.vm.begin.remote(config, policy, workload, cpus, timeout_s=self.timeout_s, check=check,
                                     trace=trace, point=point)
        healthy = False
        try:
            result = drive(_RemoteSimulation(self, aset.vm, begin), sink, self.epochs_per_step)
            healthy = True
        finally:
            # after a failure the actors' state is unknown: the set is killed, not reused
            self.pool.release(aset, healthy)
            if self.vm_actor is aset.vm:
                self.vm_actor, self.cpu_actors = None, []
        self.placements[(point, policy.name)] = aset.placement(ncpus)
        result["wall_seconds"] = round(time.perf_counter() - t0, 3)
        return result

    def _call(self, ref, what: str, epoch: int):
        """ray.get with a deadline; VM actor failures become ExchangeError, smpsim errors are re-raised."""
        where = f"the VM actor (during {what}, after epoch {epoch})"
        # start() also waits for every actor's worker process to come up
        timeout_s = self.step_timeout_s + (SETUP_TIMEOUT_S if what == "start" else 0.0)
        try:
            out = ray.get(ref, timeout=timeout_s)
        except GetTimeoutError:
            raise ExchangeError(f"no answer from {where} within {timeout_s:g} s") from None
        except RayActorError as e:
            raise ExchangeError(f"{where} died: {_first_line(e)}") from None
        except RayTaskError as e:
            cause = e.cause
            if isinstance(cause, Exception):
                raise cause from None
            raise ExchangeError(f"{where} failed: {_first_line(e)}") from None
        except RayError as e:
            raise ExchangeError(f"{where} failed: {_first_line(e)}") from None
        if isinstance(out, dict) and ERROR_KEY in out:
            raise unpack_error(out)     # with the events and trace it carries; `drive` forwards them
        return out

    def actor_pids(self) -> list[int]:
        """OS process ids of the latest running simulation's VM actor and CPU actors (none between them)."""
        from smpsim.runtime.probes import actor_pids
        return actor_pids([a for a in [self.vm_actor, *self.cpu_actors] if a is not None])

    def abort(self) -> None:
        """Stop every simulation now (their run_point calls fail); no new one starts."""
        self.pool.kill_all()

    def close(self) -> None:
        self.pool.kill_all()
        self.vm_actor, self.cpu_actors = None, []
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


class _RemoteSimulation:
    """One simulation's VM actor, as the step loop sees a simulation (`begin` already submitted)."""

    def __init__(self, backend: RayBackend, vm, begin_ref):
        self.backend, self.vm, self.begin_ref = backend, vm, begin_ref
        self.epoch = 0
        self._result = None

    def start(self) -> None:
        self.backend._call(self.begin_ref, "start", self.epoch)

    def step(self, max_epochs: int) -> StepResult:
        r = self.backend._call(self.vm.step.remote(max_epochs), "step", self.epoch)
        self.epoch = r["epoch"]
        self._result = r.pop("result", None)
        return StepResult(**r)

    def result(self) -> dict:
        if self._result is not None:
            return self._result
        return self.backend._call(self.vm.result.remote(), "result", self.epoch)
