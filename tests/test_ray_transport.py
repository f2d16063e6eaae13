"""RayTransport against real CPU actors: same replies as InlineTransport, and clear exchange errors.

Without Ray: the conversation the Ray tests hold carries every message kind of the protocol, each of
which survives the wire, and the inline transport (which crosses the wire) replies as direct calls do.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

ray = pytest.importorskip("ray")

from smpsim.costs import CostModel  # noqa: E402
from smpsim.errors import ExchangeError  # noqa: E402
from smpsim.cpus.cpu import SimCpu  # noqa: E402
from smpsim.protocol import (LAZY, MESSAGE_TYPES, VALID, CpuSetup, QuantumRequest, ShootdownRequest,  # noqa: E402
                             SnapshotRequest, Switch, SwitchAwayRequest)
from smpsim.runtime.ray_transport import RayTransport, exchange_kind  # noqa: E402
from smpsim.runtime.transport import Exchange, InlineTransport, Transport  # noqa: E402
from smpsim.runtime.wire import decode, encode  # noqa: E402

from tests.ray_fixtures import kill_and_wait  # noqa: E402

NCPUS = 3


def _setups(n=NCPUS, pcid=False):
    costs = CostModel().model_dump()
    return [CpuSetup(i, 64, 4, pcid, 7, costs) for i in range(n)]


def _script(transport):
    """A fixed conversation (quanta, fills, shootdowns, switch-away, snapshot); every exchange's replies."""
    log = []

    def ex(targets, reqs):
        e = transport.exchange(targets, reqs)
        assert e.wall_us > 0
        log.append(e.replies)
        return e.replies

    cpus = list(range(NCPUS))
    rng = ((0, 48), (100, 16))
    r0 = ex(cpus, [QuantumRequest(0, 0, Switch(1, 0, VALID), rng, 40),
                   QuantumRequest(0, 1, Switch(1, 0, VALID), rng, 40),
                   QuantumRequest(0, 2, Switch(None), (), 0)])
    fills = {c: tuple((va, 1000 + va) for va in r0[c].misses) for c in cpus}
    r1 = ex(cpus, [QuantumRequest(1, 0, Switch(1, 0, VALID), rng, 40, fills[0], want_tlb=True),
                   QuantumRequest(1, 1, Switch(1, 0, LAZY), (), 0, fills[1], want_tlb=True),
                   QuantumRequest(1, 2, Switch(2, 0, VALID), ((200, 8),), 10, want_tlb=True)])
    some = tuple((0, va) for va in r0[0].misses[:3])
    ex([0, 1], [ShootdownRequest(1, 1, 0, (1,), (0,), some, "munmap", local=True, want_tlb=True),
                ShootdownRequest(1, 1, 0, (1,), (0,), some, "munmap", go_stale=True, want_tlb=True)])
    ex([1, 2], [ShootdownRequest(2, 1, 0, (1,), (0,), None, "exit"),
                ShootdownRequest(2, 1, 0, (1,), (0,), None, "exit")])
    ex([1], [SwitchAwayRequest(3, 2, 1, "pressure", want_tlb=True)])
    ex(cpus, [QuantumRequest(2, c, Switch(1, 0, VALID), rng, 30, want_tlb=True) for c in cpus])
    log.append(tuple(transport.snapshot(cpus)))
    assert r1[0].tlb  # the conversation really filled TLBs
    return log


class DirectTransport(Transport):
    """The CPUs called directly, nothing encoded; keeps every message and reply it carried."""

    name = "direct"

    def __init__(self):
        self.cpus, self.carried = [], []

    def start(self, setups):
        self.carried.extend(setups)
        self.cpus = [SimCpu(s) for s in setups]

    def exchange(self, targets, requests):
        t0 = time.perf_counter_ns()
        replies = tuple(self.cpus[c].handle(r) for c, r in zip(targets, requests))
        self.carried.extend([*requests, *replies])
        return Exchange(replies, max(time.perf_counter_ns() - t0, 1) / 1000.0)


def _messages(obj):
    """`obj` and every protocol record nested in its fields."""
    if dataclasses.is_dataclass(obj):
        yield obj
        for f in dataclasses.fields(obj):
            yield from _messages(getattr(obj, f.name))
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _messages(x)


def test_every_message_kind_of_the_conversation_survives_the_wire_and_inline_replies_as_direct_calls():
    direct = DirectTransport()
    direct.start(_setups())
    expected = _script(direct)
    carried = [m for top in direct.carried for m in _messages(top)]
    assert {type(m) for m in carried} == set(MESSAGE_TYPES), "the conversation should carry every kind"
    for m in carried:
        assert decode(encode(m)) == m, m
    inline = InlineTransport()
    inline.start(_setups())
    assert _script(inline) == expected


def test_exchange_kind_names_the_requests():
    assert exchange_kind([QuantumRequest(0, 0, Switch(None))]) == "quantum"
    assert exchange_kind([ShootdownRequest(1, 2, 0, (1,), (0,), None, "exit"),
                          SwitchAwayRequest(1, 2, 1, "pressure")]) == "shootdown+switch_away"
    assert exchange_kind([SnapshotRequest(0), *_setups(1)]) == "setup+snapshot"
    assert exchange_kind([]) == "empty"


@pytest.mark.ray
def test_ray_transport_replies_equal_inline(ray_cluster):
    inline = InlineTransport()
    inline.start(_setups())
    expected = _script(inline)
    t = RayTransport(timeout_s=60)
    try:
        t.start(_setups())
        got = _script(t)
    finally:
        t.close()
    assert got == expected


@pytest.mark.ray
def test_dead_cpu_actor_names_actor_epoch_and_exchange(ray_cluster):
    t = RayTransport(timeout_s=60)
    try:
        t.start(_setups())
        t.exchange([0, 1, 2], [QuantumRequest(0, c, Switch(1, 0, VALID), ((0, 8),), 4) for c in range(NCPUS)])
        kill_and_wait(t.actors[1])
        with pytest.raises(ExchangeError) as err:
            t.exchange([0, 1, 2], [ShootdownRequest(9, 5, 0, (1,), (0,), None, "exit") for _ in range(NCPUS)])
    finally:
        t.close()
    msg = str(err.value)
    assert "cpu1" in msg and "died" in msg and "shootdown" in msg and "epoch 5" in msg, msg
    assert "cpu0" not in msg and "cpu2" not in msg, msg


@pytest.mark.ray
def test_slow_cpu_actor_times_out_naming_it(ray_cluster):
    t = RayTransport(timeout_s=1.0, delay_s={2: 60.0})
    try:
        t.start(_setups())
        with pytest.raises(ExchangeError) as err:
            t.exchange([0, 2], [SwitchAwayRequest(4, 3, 1, "pressure") for _ in range(2)])
    finally:
        t.close()
    msg = str(err.value)
    assert "cpu2" in msg and "no reply within 1 s" in msg and "switch_away" in msg and "epoch 3" in msg, msg
    assert "cpu0" not in msg, msg


@pytest.mark.ray
def test_snapshot_request_kind_in_error(ray_cluster):
    t = RayTransport(timeout_s=1.0, delay_s={0: 60.0})
    try:
        t.start(_setups(1))
        with pytest.raises(ExchangeError, match=r"cpu0 .*snapshot exchange"):
            t.exchange([0], [SnapshotRequest(0)])
    finally:
        t.close()
