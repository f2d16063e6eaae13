"""The VM actor: a VmCoordinator inside a Ray actor, reaching its CPU actors through a RayTransport.

`VmWorker` is built with the config, the policy (whose design carries the
strategy classes), the workload and the CPU actor handles the driver created;
it returns plain data, and turns smpsim's own errors into data too
(`pack_error`) so that they reach the driver with their type and attributes
(e.g. the events an InvariantViolation carries) whatever their constructor is.
`VmActor` is its `ray.remote` version. The CPU actor lives in `ray_cpu`.
"""

from __future__ import annotations

import importlib

import ray

from smpsim.errors import SmpsimError
from smpsim.runtime.ray_cpu import CpuActor, create_cpu_actors, kill_actors
from smpsim.runtime.ray_transport import RayTransport
from smpsim.vm.engine.coordinator import VmCoordinator

__all__ = ["ERROR_KEY", "CpuActor", "VmActor", "VmWorker", "create_cpu_actors", "create_vm_actor",
           "kill_actors", "pack_error", "unpack_error"]

ERROR_KEY = "__smpsim_error__"


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
    """The VM coordinator inside an actor; CPU actors reached through a RayTransport.

    Built with a simulation's arguments (`create_vm_actor`), or empty and given them by `begin`, which
    configures and starts a simulation in one call: a warm VM actor (`ray_pool`) runs one simulation after
    another, each with a fresh VmCoordinator.
    """

    def __init__(self, config=None, policy=None, workload=None, cpu_actors: list | None = None, *,
                 timeout_s: float = 120.0, check: bool = False, trace: bool = False, point: str = "base"):
        self.args = (config, policy, workload, list(cpu_actors or []), timeout_s, check, trace, point)
        self.vm = None

    def __repr__(self) -> str:
        return "vm"

    def ping(self) -> str:
        return "vm"

    def begin(self, config, policy, workload, cpu_actors: list, *, timeout_s: float, check: bool, trace: bool,
              point: str):
        """Set up a new simulation on this actor and start it (one round trip)."""
        self.args = (config, policy, workload, list(cpu_actors), timeout_s, check, trace, point)
        self.vm = None
        return self.start()

    def start(self):
        config, policy, workload, cpus, timeout_s, check, trace, point = self.args
        try:
            transport = RayTransport(cpus, timeout_s=timeout_s)
            self.vm = VmCoordinator(config, policy, transport, workload, check=check, trace=trace, point=point)
            self.vm.start()
        except SmpsimError as e:
            return pack_error(e)
        return {"ncpus": len(cpus)}

    def step(self, max_epochs: int):
        """One step; the last one (done) carries the result too, saving a round trip."""
        try:
            r = self.vm.step(max_epochs)
            out = {"epoch": r.epoch, "total_epochs": r.total_epochs, "done": r.done, "events": r.events,
                   "trace": r.trace}
            if r.done:
                out["result"] = self.vm.result()
            return out
        except SmpsimError as e:
            return pack_error(e)

    def result(self):
        try:
            return self.vm.result()
        except SmpsimError as e:
            return pack_error(e)


VmActor = ray.remote(max_restarts=0)(VmWorker)


def create_vm_actor(config, policy, workload, cpu_actors: list, *, num_cpus: float = 0.0, timeout_s: float,
                    check: bool, trace: bool, point: str):
    return VmActor.options(num_cpus=num_cpus).remote(config, policy, workload, cpu_actors, timeout_s=timeout_s,
                                                     check=check, trace=trace, point=point)
