"""Messages survive msgpack; the TLB is set-associative LRU; a CPU applies what the kernel decided."""


from smpsim.costs import CostModel
from smpsim.cpus.cpu import SimCpu
from smpsim.cpus.tlb import Tlb
from smpsim.protocol import (FLUSH_ALL, FLUSH_TAG, KERNEL, LAZY, STALE, VALID, CpuSetup, QuantumReply,
                             QuantumRequest, ShootdownAck, ShootdownRequest, Switch, SwitchAwayRequest)
from smpsim.runtime.wire import decode, encode


def test_every_message_round_trips_through_msgpack():
    msgs = [
        QuantumRequest(3, 1, Switch(5, 5, VALID, FLUSH_TAG), ((10, 4), (99, 2)), 100, ((10, 77),), True),
        QuantumReply(3, 1, VALID, 5, 90, (11, 12), ((5, 10, 77, 5),)),
        ShootdownRequest(9, 3, 0, (5, 6), (5, 6), ((5, 10), (6, 11)), "pagedaemon", False, True, False),
        ShootdownRequest(9, 3, 0, (5,), (5,), None, "exit", True, False, False),
        ShootdownAck(9, 2, 1450, 1, None),
        SwitchAwayRequest(4, 3, 5, "pressure", False),
    ]
    for m in msgs:
        assert decode(encode(m)) == m
    assert decode(encode(msgs)) == tuple(msgs)


def test_tlb_lru_within_a_set_and_tags():
    t = Tlb(entries=4, ways=2)      # 2 sets
    t.insert(1, 0, 100)
    t.insert(1, 2, 102)             # same set as va 0
    assert t.lookup(1, 0) == 100    # va 0 becomes most recent
    t.insert(1, 4, 104)             # evicts va 2, the least recently used
    assert t.lookup(1, 2) is None
    assert t.lookup(1, 0) == 100 and t.lookup(1, 4) == 104
    assert t.lookup(2, 0) is None   # another tag never hits
    t.insert(2, 1, 201)
    assert t.flush_tag(1) == 2
    assert t.entries() == [(2, 1, 201, 0)]


def _cpu(pcid=False):
    return SimCpu(CpuSetup(0, 64, 4, pcid, 1, CostModel().model_dump()))


RUN7 = Switch(7, 7, VALID)


def test_tlb_access_counts_hits_misses_and_lru():
    t = Tlb(entries=4, ways=2)      # 2 sets
    hits, misses = t.access(1, [0, 2, 0])
    assert (hits, misses) == (1, [0, 2])   # the second access to va 0 hits: the walk filled it
    for va in (0, 2):
        t.insert(1, va, 100 + va)
    assert t.access(1, [0]) == (1, [])     # va 0 becomes most recent
    t.insert(1, 4, 104)                    # evicts va 2, the least recently used
    assert t.lookup(1, 2) is None and t.lookup(1, 0) == 100


def test_lazy_cpu_goes_stale_on_shootdown_and_flushes_before_reuse():
    cpu = _cpu()
    r = cpu.run_quantum(QuantumRequest(0, 0, RUN7, ((0, 8),), 50))
    assert r.state == VALID and len(r.misses) == 8
    cpu.run_quantum(QuantumRequest(1, 0, RUN7, ((0, 8),), 0, tuple((va, 100 + va) for va in range(8))))
    assert len(cpu.tlb) == 8
    assert cpu.run_quantum(QuantumRequest(2, 0, Switch(7, 7, LAZY), (), 0)).state == LAZY
    assert len(cpu.tlb) == 8                       # lazy: the user pmap stays loaded
    ack = cpu.shootdown(ShootdownRequest(1, 2, 1, (7,), (7,), ((7, 3),), "munmap", go_stale=True))
    assert cpu.state == STALE and len(cpu.tlb) == 0 and ack.invlpg == 0
    c = CostModel()
    assert ack.handler_cycles == c.ipi_handler + c.local_full_flush   # a full flush, not one INVLPG
    r = cpu.run_quantum(QuantumRequest(3, 0, Switch(7, 7, VALID, FLUSH_ALL), ((0, 8),), 10))
    assert r.state == VALID and cpu.curpmap == 7 and r.misses   # the flushed TLB misses again


def test_valid_cpu_invalidates_only_named_vas():
    cpu = _cpu()
    cpu.run_quantum(QuantumRequest(0, 0, RUN7, (), 0))
    cpu.run_quantum(QuantumRequest(1, 0, RUN7, (), 0, ((1, 11), (2, 12), (3, 13))))
    ack = cpu.shootdown(ShootdownRequest(1, 1, 1, (7,), (7,), ((7, 1), (7, 3)), "munmap"))
    assert cpu.state == VALID and ack.invlpg == 2
    assert cpu.tlb.entries() == [(7, 2, 12, 7)]
    c = CostModel()
    assert ack.handler_cycles == c.ipi_handler + 2 * c.invlpg


def test_cpu_applies_the_switch_it_is_told():
    cpu = _cpu()
    cpu.run_quantum(QuantumRequest(0, 0, RUN7, (), 0, ((1, 11),)))
    cpu.run_quantum(QuantumRequest(1, 0, RUN7, (), 0, ((2, 12),)))
    assert len(cpu.tlb) == 2
    r = cpu.run_quantum(QuantumRequest(2, 0, Switch(None, 0, KERNEL, FLUSH_ALL), (), 0))
    assert r.state == KERNEL and r.curpmap is None and len(cpu.tlb) == 0


def test_switch_away_only_from_a_lazily_held_pmap():
    cpu = _cpu()
    cpu.run_quantum(QuantumRequest(0, 0, RUN7, (), 0))
    assert not cpu.switch_away(SwitchAwayRequest(1, 0, 7, "pressure")).switched   # VALID: refuses
    cpu.run_quantum(QuantumRequest(1, 0, Switch(7, 7, LAZY), (), 0))
    ack = cpu.switch_away(SwitchAwayRequest(2, 1, 7, "pressure"))
    assert ack.switched and cpu.state == KERNEL and cpu.curpmap is None


def test_pcid_keeps_other_tags_across_switches():
    cpu = _cpu(pcid=True)
    cpu.run_quantum(QuantumRequest(0, 0, Switch(7, 1, VALID), (), 0))
    cpu.run_quantum(QuantumRequest(1, 0, Switch(7, 1, VALID), (), 0, ((5, 55),)))
    cpu.run_quantum(QuantumRequest(2, 0, Switch(8, 2, VALID), (), 0, ((6, 66),)))
    cpu.run_quantum(QuantumRequest(3, 0, Switch(8, 2, VALID), (), 0, ((6, 66),)))
    assert cpu.tlb.entries() == [(1, 5, 55, 7), (2, 6, 66, 8)]    # no flush on switch with PCIDs
    cpu.run_quantum(QuantumRequest(4, 0, Switch(9, 1, VALID, FLUSH_TAG), (), 0))
    assert cpu.tlb.entries() == [(2, 6, 66, 8)]    # PCID 1 reused by pmap 9: only its entries flushed


def test_quantum_accesses_are_deterministic_per_seed_and_epoch():
    a, b = _cpu(), _cpu()
    req = QuantumRequest(4, 0, RUN7, ((0, 100), (1000, 50)), 500)
    ra, rb = a.run_quantum(req), b.run_quantum(req)
    assert ra == rb
    assert ra.hits + len(ra.misses) == 500
    assert all(0 <= va < 100 or 1000 <= va < 1050 for va in ra.misses)
    other = _cpu().run_quantum(QuantumRequest(5, 0, RUN7, ((0, 100), (1000, 50)), 500))
    assert other.misses != ra.misses
