"""The Ray actors: one per simulated CPU (a thin shell round SimCpu) and one VM actor.

`CpuWorker` takes msgpack bytes and returns msgpack bytes: `setup` once with an
encoded CpuSetup, then `handle` for every request. `delay_s` is a test hook (a
slow CPU): it sleeps in the actor before each request. `VmWorker` owns a
VmCoordinator whose transport is a `RayTransport` over CPU actor handles the
driver created; it returns plain data, and turns smpsim's own errors into data
too (`pack_error`) so that they reach the driver with their type and attributes
(e.g. the events an InvariantViolation carries) whatever their constructor is.
`CpuActor` and `VmActor` are the `ray.remote` versions of the two classes.
"""

from __future__ import annotations

import dataclasses
import importlib
import time

import ray

from smpsim.cpus.cpu import SimCpu
from smpsim.errors import ExchangeError, SmpsimError
from smpsim.runtime.wire import decode, encode

ERROR_KEY = "__smpsim_error__"


class CpuWorker:
    """One simulated CPU behind a bytes-in, bytes-out interface."""

    def __init__(self, cpu: int, delay_s: float = 0.0):
        self.id = cpu
        self.delay_s = float(delay_s)
        self.cpu: SimCpu | None = None

    def __repr__(self) -> str:          # Ray uses it to label the actor's log lines
        return f"cpu{self.id}"

    def setup(self, data: bytes) -> int:
        setup = decode(data)
        if setup.cpu != self.id:
            raise ExchangeError(f"cpu{self.id}: got the setup of cpu{setup.cpu}")
        self.cpu = SimCpu(setup)
        return self.id

    def handle(self, data: bytes) -> bytes:
        if self.cpu is None:
            raise ExchangeError(f"cpu{self.id}: request before setup")
        if self.delay_s:
            time.sleep(self.delay_s)
        return encode(self.cpu.handle(decode(data)))

    def ping(self) -> int:
        return self.id


def pack_error(e: SmpsimError) -> dict:
    return {ERROR_KEY: {"module": type(e).__module__, "qualname": type(e).__qualname__,
                        "message": str(e), "attrs": dict(vars(e))}}


def unpack_error(data: dict) -> SmpsimError:
    """The SmpsimError `pack_error` described, rebuilt without calling its constructor."""
    d = data[ERROR_KEY]
    try:
        cls = getattr(importlib.import_module(d["module"]), d["qualname"])
        if not (isinstance(cls, type) and issubclass(cls, SmpsimError)):
            raise TypeError
    except Exception:  # noqa: BLE001 - unknown class: keep the message
        cls = SmpsimError
    e = cls.__new__(cls)
    Exception.__init__(e, d["message"])
    e.__dict__.update(d["attrs"])
    return e


class VmWorker:
    """The VM coordinator inside an actor; CPU actors reached through a RayTransport."""

    def __init__(self, config, policy, cpu_actors: list, *, timeout_s: float, check: bool, trace: bool,
                 point: str, bugs=()):
        self.args = (config, policy, list(cpu_actors), timeout_s, check, trace, point, tuple(bugs))
        self.vm = None

    def __repr__(self) -> str:
        return "vm"

    def ping(self) -> str:
        return "vm"

    def start(self):
        from smpsim.runtime.ray_transport import RayTransport
        from smpsim.vm.coordinator import VmCoordinator
        config, policy, cpus, timeout_s, check, trace, point, bugs = self.args
        try:
            transport = RayTransport(cpus, timeout_s=timeout_s)
            self.vm = VmCoordinator(config, policy, transport, check=check, trace=trace, point=point, bugs=bugs)
            self.vm.start()
        except SmpsimError as e:
            return pack_error(e)
        return {"ncpus": len(cpus)}

    def step(self, max_epochs: int):
        try:
            return dataclasses.asdict(self.vm.step(max_epochs))
        except SmpsimError as e:
            return pack_error(e)

    def result(self):
        try:
            return self.vm.result()
        except SmpsimError as e:
            return pack_error(e)


CpuActor = ray.remote(max_restarts=0)(CpuWorker)
VmActor = ray.remote(max_restarts=0)(VmWorker)


def create_cpu_actors(n: int, *, num_cpus: float = 0.0, delay_s: dict | None = None) -> list:
    """CPU actors 0..n-1, spread over the cluster's nodes (SPREAD); `delay_s` {cpu: seconds} for tests."""
    delay_s = delay_s or {}
    return [CpuActor.options(num_cpus=num_cpus, scheduling_strategy="SPREAD").remote(i, delay_s.get(i, 0.0))
            for i in range(n)]


def create_vm_actor(config, policy, cpu_actors: list, *, num_cpus: float = 0.0, timeout_s: float,
                    check: bool, trace: bool, point: str, bugs=()):
    return VmActor.options(num_cpus=num_cpus).remote(config, policy, cpu_actors, timeout_s=timeout_s,
                                                     check=check, trace=trace, point=point, bugs=bugs)
