"""RayTransport against real CPU actors: same replies as InlineTransport, and clear exchange errors."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from smpsim.costs import CostModel  # noqa: E402
from smpsim.errors import ExchangeError  # noqa: E402
from smpsim.protocol import (LAZY, VALID, CpuSetup, QuantumRequest, ShootdownRequest, SnapshotRequest,  # noqa: E402
                             Switch, SwitchAwayRequest)
from smpsim.runtime.ray_transport import RayTransport  # noqa: E402
from smpsim.runtime.transport import InlineTransport  # noqa: E402

from tests.ray_fixtures import kill_and_wait  # noqa: E402

pytestmark = pytest.mark.ray

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


def test_snapshot_request_kind_in_error(ray_cluster):
    t = RayTransport(timeout_s=1.0, delay_s={0: 60.0})
    try:
        t.start(_setups(1))
        with pytest.raises(ExchangeError, match=r"cpu0 .*snapshot exchange"):
            t.exchange([0], [SnapshotRequest(0)])
    finally:
        t.close()
