"""The CPU actor: one simulated CPU (a thin shell round SimCpu) behind a bytes-in, bytes-out interface.

`CpuWorker` takes msgpack bytes and returns msgpack bytes: `setup` once with an
encoded CpuSetup, then `handle` for every request. `delay_s` is a test hook (a
slow CPU): it sleeps in the actor before each request. `CpuActor` is its
`ray.remote` version; `create_cpu_actors` and `kill_actors` manage them.
"""

from __future__ import annotations

import time

import ray

from smpsim.cpus.cpu import SimCpu
from smpsim.errors import ExchangeError
from smpsim.runtime.wire import decode, encode


class CpuWorker:
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


CpuActor = ray.remote(max_restarts=0)(CpuWorker)


def create_cpu_actors(n: int, *, num_cpus: float = 0.0, delay_s: dict | None = None) -> list:
    """CPU actors 0..n-1, spread over the cluster's nodes (SPREAD); `delay_s` {cpu: seconds} for tests."""
    delay_s = delay_s or {}
    return [CpuActor.options(num_cpus=num_cpus, scheduling_strategy="SPREAD").remote(i, delay_s.get(i, 0.0))
            for i in range(n)]


def kill_actors(actors) -> None:
    for a in actors:
        try:
            ray.kill(a, no_restart=True)
        except Exception:  # noqa: BLE001 - already dead or gone with the cluster
            pass
