"""`RayTransport`: the VM coordinator's messages to CPU actors, as Ray method calls on bytes.

An exchange submits every request (msgpack bytes) before waiting for any reply, then
waits for all of them with one `ray.get(refs, timeout=...)`; replies are decoded and
returned in target order, with the wall-clock microseconds from the first send to the
last reply. A timeout, a dead CPU actor or an error inside one becomes an
`ExchangeError` naming the actor (cpuN), the epoch and the kind of exchange
(quantum, shootdown, switch_away, snapshot, setup), taken from the requests.
"""

from __future__ import annotations

import time

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from smpsim.errors import ExchangeError
from smpsim.protocol import CpuSetup, QuantumRequest, ShootdownRequest, SnapshotRequest, SwitchAwayRequest
from smpsim.runtime.wire import decode, encode
from smpsim.runtime.ray_cpu import create_cpu_actors, kill_actors
from smpsim.runtime.transport import Exchange, Transport

DEFAULT_TIMEOUT_S = 120.0
SETUP_TIMEOUT_S = 120.0     # the setup exchange also waits for the actors' worker processes to start

_KIND = {QuantumRequest: "quantum", ShootdownRequest: "shootdown", SwitchAwayRequest: "switch_away",
         SnapshotRequest: "snapshot", CpuSetup: "setup"}


def exchange_kind(requests) -> str:
    kinds = sorted({_KIND.get(type(r), type(r).__name__) for r in requests})
    return "+".join(kinds) or "empty"


def _where(requests) -> str:
    """'the shootdown exchange of epoch 17 (xid 5)' for an error message."""
    epochs = sorted({r.epoch for r in requests if hasattr(r, "epoch")})
    xids = sorted({r.xid for r in requests if hasattr(r, "xid")})
    text = f"the {exchange_kind(requests)} exchange"
    text += f" of epoch {epochs[0]}" if len(epochs) == 1 else (f" of epochs {epochs}" if epochs else " (no epoch)")
    if xids:
        text += f" (xid {xids[0]})" if len(xids) == 1 else f" (xids {xids})"
    return text


def _first_line(e: BaseException, limit: int = 240) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:limit]


class RayTransport(Transport):
    """CPUs as Ray actors. `actors` are CpuActor handles (cpu i = actors[i]); None: start() creates them."""

    name = "ray"

    def __init__(self, actors: list | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 actor_num_cpus: float = 0.0, delay_s: dict | None = None):
        self.actors = list(actors) if actors is not None else None
        self.owned = actors is None
        self.timeout_s = float(timeout_s)
        self.actor_num_cpus = actor_num_cpus
        self.delay_s = dict(delay_s or {})
        self.setup_timeout_s = max(self.timeout_s, SETUP_TIMEOUT_S)

    def start(self, setups: list[CpuSetup]) -> None:
        if self.actors is None:
            self.actors = create_cpu_actors(len(setups), num_cpus=self.actor_num_cpus, delay_s=self.delay_s)
        if len(setups) != len(self.actors):
            raise ExchangeError(f"{len(setups)} CPUs to set up but {len(self.actors)} CPU actors were created")
        targets = [s.cpu for s in setups]
        refs = [self.actors[c].setup.remote(encode(s)) for c, s in zip(targets, setups)]
        self._wait(refs, targets, setups, self.setup_timeout_s)

    def exchange(self, targets: list[int], requests: list) -> Exchange:
        t0 = time.perf_counter_ns()
        refs = [self.actors[c].handle.remote(encode(r)) for c, r in zip(targets, requests)]
        raw = self._wait(refs, targets, requests)
        wall_us = (time.perf_counter_ns() - t0) / 1000.0
        return Exchange(tuple(decode(b) for b in raw), wall_us)

    def _wait(self, refs, targets, requests, timeout_s: float | None = None):
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        try:
            return ray.get(refs, timeout=timeout_s)
        except GetTimeoutError:
            _, pending = ray.wait(refs, num_returns=len(refs), timeout=0)
            pending = set(pending)
            slow = [f"cpu{c}" for c, r in zip(targets, refs) if r in pending] or ["?"]
            raise ExchangeError(f"{', '.join(slow)} gave no reply within {timeout_s:g} s "
                                f"to {_where(requests)}") from None
        except RayActorError as e:
            dead = self._failed(refs, targets) or ["?"]
            raise ExchangeError(f"CPU actor {', '.join(dead)} died during {_where(requests)}: "
                                f"{_first_line(e)}") from None
        except RayTaskError as e:
            bad = self._failed(refs, targets) or ["?"]
            raise ExchangeError(f"CPU actor {', '.join(bad)} failed in {_where(requests)}: "
                                f"{_first_line(e.cause if e.cause is not None else e)}") from None
        except RayError as e:
            raise ExchangeError(f"{_where(requests)} with cpus {targets} failed: {_first_line(e)}") from None

    @staticmethod
    def _failed(refs, targets) -> list[str]:
        """Targets whose reply is an error (post-mortem after a failed ray.get)."""
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        ready = set(ready)
        out = []
        for c, r in zip(targets, refs):
            if r in ready:
                try:
                    ray.get(r, timeout=0)
                except RayError:
                    out.append(f"cpu{c}")
        return out

    def close(self) -> None:
        if self.owned and self.actors:
            kill_actors(self.actors)
            self.actors = None

