"""The Ray backend, driver side: one VM actor and one actor per simulated CPU for each run_point.

`RayBackend(address=None|str, timeout_s, actor_num_cpus)` connects on construction
(`ray_cluster.connect`: a fresh loopback-only local cluster, or attach to `address`
/ RAY_ADDRESS); `address` is the GCS address used. For every (point, policy) it
creates the CPU actors (SPREAD over the nodes, `actor_num_cpus` each, 0 by default
so 16 simulated CPUs fit a 2-core machine) and the VM actor, then runs the shared
step loop (`backend.drive`) over the VM actor, streaming events, trace and progress
to the sink exactly as the inline backend does. The driver never
waits without a deadline: a dead VM actor or one silent past `step_timeout_s`
becomes an `ExchangeError` naming the VM actor; exchange failures inside the VM
actor (a dead or silent CPU actor) arrive as the ExchangeError RayTransport raised
there. The VM actor is killed when the point ends, whatever the ending (errors and
KeyboardInterrupt included); CPU actors are kept for the next point with the same
number of CPUs (each run sets them up afresh) unless the point failed. `close()`
shuts down a cluster this backend started and leaves an attached one running.

The VM actor lives in `ray_actors`, the CPU actor in `ray_cpu`, the transport in
`ray_transport` (re-exported here).
"""

from __future__ import annotations

import time

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from smpsim.errors import ExchangeError
from smpsim.runtime.backend import EPOCHS_PER_STEP, Backend, RunSink, drive
from smpsim.runtime.ray_actors import ERROR_KEY, VmActor, create_vm_actor, unpack_error
from smpsim.runtime.ray_cluster import ClusterConnection, connect
from smpsim.runtime.ray_cpu import CpuActor, create_cpu_actors, kill_actors
from smpsim.runtime.ray_transport import DEFAULT_TIMEOUT_S, SETUP_TIMEOUT_S, RayTransport
from smpsim.vm.coordinator import StepResult

__all__ = ["RayBackend", "RayTransport", "CpuActor", "VmActor"]


def _first_line(e: BaseException, limit: int = 240) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:limit]


class RayBackend(Backend):
    name = "ray"

    def __init__(self, address: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 actor_num_cpus: float = 0.0, *, step_timeout_s: float | None = None,
                 epochs_per_step: int = EPOCHS_PER_STEP, cpu_delay_s: dict | None = None,
                 local_num_cpus: int = 2):
        """`cpu_delay_s` {cpu: seconds} makes those CPU actors sleep before each request (fault tests).

        `step_timeout_s` bounds one vm.step() call as seen by the driver (default
        max(60, 2 x timeout_s + 30): longer than an exchange timeout, so a silent CPU
        is reported by the VM actor, naming it, before the driver gives up on the VM).
        """
        self.timeout_s = float(timeout_s)
        self.actor_num_cpus = float(actor_num_cpus)
        self.step_timeout_s = float(step_timeout_s) if step_timeout_s else max(60.0, 2 * self.timeout_s + 30.0)
        self.epochs_per_step = max(1, int(epochs_per_step))
        self.cpu_delay_s = dict(cpu_delay_s or {})
        self.cluster: ClusterConnection | None = connect(address, num_cpus=local_num_cpus)
        self.address = self.cluster.address
        self.vm_actor = None            # the current point's actors, for diagnostics and fault tests
        self.cpu_actors: list = []
        # CPU actors are kept between run_point calls with the same ncpus: starting a worker
        # process costs ~0.5-1 s on 2 cores, and each run sends a fresh CpuSetup anyway
        # (CpuWorker.setup builds a new SimCpu), so nothing carries over between runs.
        self._cpu_pool: list = []

    # --- one point x policy ------------------------------------------------------------------------
    def run_point(self, config, policy, *, workload, point: str, check: bool, trace: bool,
                  sink: RunSink) -> dict:
        if self.cluster is None:
            raise ExchangeError("RayBackend.run_point after close()")
        t0 = time.perf_counter()
        ncpus = config.machine.ncpus
        if len(self._cpu_pool) != ncpus:
            kill_actors(self._cpu_pool)
            self._cpu_pool = create_cpu_actors(ncpus, num_cpus=self.actor_num_cpus, delay_s=self.cpu_delay_s)
        self.cpu_actors = list(self._cpu_pool)
        self.vm_actor = create_vm_actor(config, policy, workload, self.cpu_actors, num_cpus=self.actor_num_cpus,
                                        timeout_s=self.timeout_s, check=check, trace=trace, point=point)
        try:
            result = drive(_RemoteSimulation(self), sink, self.epochs_per_step)
        except BaseException:
            # after a failure the CPU actors' state is unknown: do not reuse them
            kill_actors(self._cpu_pool)
            self._cpu_pool = []
            raise
        finally:
            kill_actors([self.vm_actor])
            self.vm_actor, self.cpu_actors = None, []
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
        """OS process ids of the running point's VM actor and CPU actors (none between points)."""
        from smpsim.runtime.probes import actor_pids
        return actor_pids([a for a in [self.vm_actor, *self.cpu_actors] if a is not None])

    def close(self) -> None:
        leftover = [a for a in [self.vm_actor, *self.cpu_actors, *self._cpu_pool] if a is not None]
        if leftover:
            kill_actors(leftover)
        self.vm_actor, self.cpu_actors, self._cpu_pool = None, [], []
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


class _RemoteSimulation:
    """The VM actor of the backend's current point, as the step loop sees a simulation."""

    def __init__(self, backend: RayBackend):
        self.backend = backend
        self.epoch = 0

    def start(self) -> None:
        self.backend._call(self.backend.vm_actor.start.remote(), "start", self.epoch)

    def step(self, max_epochs: int) -> StepResult:
        r = self.backend._call(self.backend.vm_actor.step.remote(max_epochs), "step", self.epoch)
        self.epoch = r["epoch"]
        return StepResult(**r)

    def result(self) -> dict:
        return self.backend._call(self.backend.vm_actor.result.remote(), "result", self.epoch)
