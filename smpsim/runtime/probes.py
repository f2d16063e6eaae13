"""Probes for measuring the Ray runtime itself: what the benchmark (`smpsim.bench`) needs from Ray.

The benchmark compares smpsim's exchanges with bare Ray and times CPU actors from
the inside; everything it does with Ray goes through this small API, so no code
outside `smpsim.runtime` imports Ray or calls into an actor directly:

* `FloorActors(n, reply_size)`: n trivial actors, the bare-Ray floor. `ping(k)` is
  one round trip to the first k of them (all submitted, one `ray.get`); `echo(k,
  payload)` the same carrying `payload` there and `reply_size` bytes back.
* `CpuActors(n)`: n CPU actors as the Ray backend creates them, behind a
  `RayTransport` (`setup`, `exchange`), plus what only the actor can measure:
  `time_handle` (mean ns of `CpuWorker.handle` on given bytes, timed in the actor),
  `run_quanta` (a `QuantaSpec` run inside the actor, see below) and `pids()`.
* `actor_pids(actors)`: the OS process ids of actor handles (to read their memory
  in /proc); `RayBackend.actor_pids()` uses it for the current point's actors.
* `run_quanta(handle, cpu, spec, wire=...)`: quanta of TLB lookups through any CPU
  handler (a `SimCpu.handle` in this process, a `CpuWorker.handle` in an actor, a
  transport exchange), each quantum's misses filled by the next as the coordinator
  does; only the handler is timed. Returns a `QuantaRate`.
* `local_cpu_worker(setup)`: a `CpuWorker` in this process (what a CPU actor runs),
  for profilers that cannot see into actors; `CPU_WORKER_HANDLE_FRAME` is how its
  `handle` appears in a py-spy stack.

Every actor these classes create is killed by `close()` (they are context managers).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import ray

from smpsim.protocol import VALID, CpuSetup, QuantumRequest, Switch
from smpsim.runtime.ray_cpu import CpuWorker, create_cpu_actors, kill_actors
from smpsim.runtime.ray_transport import RayTransport
from smpsim.runtime.transport import Exchange
from smpsim.runtime.wire import decode, encode

PID_TIMEOUT_S = 60.0
CPU_WORKER_HANDLE_FRAME = "handle (smpsim/runtime/ray_cpu.py"


# --- quanta of TLB lookups -----------------------------------------------------------------------------
@dataclass(frozen=True)
class QuantaSpec:
    """`quanta` quanta of `accesses` lookups each over `working_set` pages of `pmap` from `base_va`."""
    pmap: int
    base_va: int
    working_set: int
    accesses: int
    quanta: int


@dataclass(frozen=True)
class QuantaRate:
    """What `run_quanta` measured, the first quantum (from an empty TLB) left out."""
    lookups: int
    wall_ns: int
    cpu_ns: int                 # the calling thread's CPU time inside the handler
    hits: int
    misses: int

    @property
    def per_s(self) -> float:
        return self.lookups / (self.wall_ns / 1e9) if self.wall_ns else 0.0

    @property
    def per_cpu_s(self) -> float:
        return self.lookups / (self.cpu_ns / 1e9) if self.cpu_ns else 0.0

    @property
    def hit_rate(self) -> float:
        return self.hits / max(1, self.hits + self.misses)


def run_quanta(handle, cpu: int, spec: QuantaSpec, *, wire: bool = False) -> QuantaRate:
    """Run `spec` through `handle` (QuantumRequest -> QuantumReply); with `wire` the handler takes and
    returns msgpack bytes, encoded and decoded outside the timing."""
    switch = Switch(spec.pmap, spec.pmap, VALID)
    ranges = ((spec.base_va, spec.working_set),)
    fills: tuple = ()
    wall_ns = cpu_ns = hits = misses = 0
    for epoch in range(1, spec.quanta + 2):
        req = QuantumRequest(epoch, cpu, switch, ranges, spec.accesses, fills)
        if wire:
            req = encode(req)
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        rep = handle(req)
        dt = time.perf_counter_ns() - t
        dc = time.thread_time_ns() - c
        if wire:
            rep = decode(rep)
        if epoch > 1:                       # the first quantum starts from an empty TLB
            wall_ns += dt
            cpu_ns += dc
            hits += rep.hits
            misses += len(rep.misses)
        # the coordinator's answer to a miss: a translation, filled with the next quantum
        fills = tuple((va, va + 1000) for va in rep.misses)
    return QuantaRate(spec.quanta * spec.accesses, wall_ns, cpu_ns, hits, misses)


# --- run inside a CPU actor (through ActorHandle.__ray_call__, which passes the actor's CpuWorker) --------
def _getpid(_instance) -> int:
    return os.getpid()


def _time_handle(worker: CpuWorker, data: bytes, n: int) -> float:
    t = time.perf_counter_ns()
    for _ in range(n):
        worker.handle(data)
    return (time.perf_counter_ns() - t) / n


def _quanta_in_actor(worker: CpuWorker, spec: QuantaSpec) -> QuantaRate:
    return run_quanta(worker.handle, worker.id, spec, wire=True)


def actor_pids(actors: list, timeout_s: float = PID_TIMEOUT_S) -> list[int]:
    """The OS process id of each actor (any actor class), in the order given."""
    return ray.get([a.__ray_call__.remote(_getpid) for a in actors], timeout=timeout_s)


def local_cpu_worker(setup: CpuSetup) -> CpuWorker:
    """A CpuWorker set up in this process: the bytes-in, bytes-out handler a CPU actor runs."""
    worker = CpuWorker(setup.cpu)
    worker.setup(encode(setup))
    return worker


# --- the actors ------------------------------------------------------------------------------------------
class _FloorWorker:
    """A trivial actor: the least a Ray round trip can cost (and the same carrying bytes)."""

    def __init__(self, reply_size: int = 0):
        self.reply = bytes(reply_size)

    def ping(self) -> int:
        return 0

    def echo(self, data: bytes) -> bytes:
        return self.reply


_FloorActor = ray.remote(max_restarts=0)(_FloorWorker)


class _ActorSet:
    """Actors this probe made; `close()` (or leaving a `with` block) kills them."""

    actors: list

    def close(self) -> None:
        kill_actors(self.actors)
        self.actors = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FloorActors(_ActorSet):
    """`n` trivial actors (0 CPUs each, like the CPU actors); `ping`/`echo` reach the first k."""

    def __init__(self, n: int, reply_size: int = 0, timeout_s: float = 60.0):
        self.timeout_s = timeout_s
        self.actors = [_FloorActor.options(num_cpus=0).remote(reply_size) for _ in range(n)]

    def ping(self, k: int) -> None:
        ray.get([a.ping.remote() for a in self.actors[:k]], timeout=self.timeout_s)

    def echo(self, k: int, payload: bytes) -> None:
        ray.get([a.echo.remote(payload) for a in self.actors[:k]], timeout=self.timeout_s)


class CpuActors(_ActorSet):
    """`n` CPU actors (cpu i = actor i) with their RayTransport; killed by `close()`."""

    def __init__(self, n: int, *, timeout_s: float = 120.0):
        self.timeout_s = timeout_s
        self.actors = create_cpu_actors(n)
        self.transport = RayTransport(self.actors, timeout_s=timeout_s)

    def setup(self, setups: list[CpuSetup]) -> None:
        """A fresh SimCpu in every actor (an empty TLB)."""
        self.transport.start(setups)

    def exchange(self, targets: list[int], requests: list) -> Exchange:
        return self.transport.exchange(targets, requests)

    def time_handle(self, cpu: int, data: bytes, n: int) -> float:
        """Mean ns of CPU `cpu`'s `CpuWorker.handle(data)` over n calls, timed inside its actor."""
        return ray.get(self.actors[cpu].__ray_call__.remote(_time_handle, data, n), timeout=self.timeout_s)

    def run_quanta(self, cpu: int, spec: QuantaSpec, timeout_s: float = 600.0) -> QuantaRate:
        """`run_quanta` inside CPU `cpu`'s actor, through its bytes interface (decode, run, encode)."""
        return ray.get(self.actors[cpu].__ray_call__.remote(_quanta_in_actor, spec), timeout=timeout_s)

    def pids(self, cpus: list[int] | None = None) -> list[int]:
        chosen = self.actors if cpus is None else [self.actors[c] for c in cpus]
        return actor_pids(chosen)
