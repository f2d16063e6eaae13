"""Locks in simulated time: waits, contention counts, calendars."""

from smpsim.vm.counters import Counters
from smpsim.vm.locks import Op, SimLock


def test_calendar_waits_for_recorded_holds_and_merges():
    lock = SimLock("l", "pmap")
    lock.record(100, 200)
    lock.record(300, 400)
    assert lock.free_at(50) == 50
    assert lock.free_at(150) == 200
    assert lock.free_at(250) == 250
    assert lock.busy_at(399) and not lock.busy_at(400)
    lock.record(190, 310)            # bridges the two holds
    assert lock.starts == [100] and lock.ends == [400]
    lock.prune(401)
    assert lock.starts == []


def test_op_acquire_counts_contention_and_wait_cycles():
    c = Counters()
    lock = SimLock("stripe", "pv")
    first = Op("a", 0, 0, c)
    first.acquire(lock, 20, "pv")
    first.spend(480)
    first.release(lock)               # held [0, 500)
    second = Op("b", 1, 100, c)
    wait = second.acquire(lock, 20, "pv")
    assert wait == 400 and second.t == 520
    assert c["pv_lock_acquires"] == 2 and c["pv_lock_contended"] == 1 and c["pv_lock_wait_cycles"] == 400
    assert second.parts["lock_wait"] == 400


def test_mailbox_waits_are_counted_separately():
    c = Counters()
    box = SimLock("mb", "mailbox")
    box.record(0, 1000)
    op = Op("s", 2, 10, c)
    op.acquire(box, 20, "shootdown")
    assert c["mailbox_waits"] == 1 and c["mailbox_wait_cycles"] == 990


def test_hold_of_known_length_waits_for_a_gap_long_enough():
    c = Counters()
    box = SimLock("mb", "mailbox")
    box.record(100, 200)
    box.record(250, 400)
    op = Op("s", 0, 50, c)
    wait = op.hold_for(box, 100, "shootdown")      # [50, 150) would overlap [100, 200); [200, 300) too
    assert wait == 350 and op.t == 500
    assert box.starts == [100, 250] and box.ends == [200, 500]
    assert c["mailbox_waits"] == 1 and c["mailbox_wait_cycles"] == 350
    op2 = Op("s", 1, 0, c)
    assert op2.hold_for(box, 100, "shootdown") == 0 and op2.t == 100   # fits before the first hold
