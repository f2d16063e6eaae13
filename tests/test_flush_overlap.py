"""Concurrent flushes of one mm under Linux (smpsim.vm.strategies.flush_overlap): an initiator's
own flush_tlb_func finds its CPU caught up when another CPU's IPI for the mm is taken between its
tlb_gen bump and its local turn."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from smpsim.vm.strategies.flush_overlap import Flight, Overlaps

PMAP = SimpleNamespace(id=7)


def _flight(cpu, start, local_after=1000, to=None, posted=None, arrival=None, exits=False):
    arrivals = {} if to is None else {to: (posted, arrival)}
    return Flight(cpu, start, start + local_after, exits, arrivals)


def test_an_ipi_arriving_inside_the_window_catches_the_initiator_up():
    a = _flight(0, 10_000)                                   # window 10,000..11,000
    assert _flight(1, 9_500, to=0, posted=9_600, arrival=10_500).catches_up(a)
    assert not _flight(1, 9_000, to=0, posted=9_100, arrival=9_900).catches_up(a)      # before the bump
    assert not _flight(1, 9_900, to=0, posted=10_000, arrival=11_200).catches_up(a)    # after the local turn
    assert not _flight(1, 9_500, to=2, posted=9_600, arrival=10_500).catches_up(a)     # another CPU


def test_on_a_virtual_machine_an_interrupt_posted_before_the_senders_entry_is_taken_there():
    """A vCPU whose sends are VM exits takes at its entry what was posted before it, however slow
    the kick to a running vCPU (arrival) would have been; without exits it waits for the kick."""
    b = _flight(1, 9_800, to=0, posted=10_800, arrival=30_000)
    assert b.catches_up(_flight(0, 10_000, exits=True))
    assert not b.catches_up(_flight(0, 10_000, exits=False))
    assert not _flight(1, 10_500, to=0, posted=11_500, arrival=30_000).catches_up(_flight(0, 10_000, exits=True))
    # posted long enough before that the kick delivered it before the bump
    assert not _flight(1, 0, to=0, posted=1_000, arrival=9_000).catches_up(_flight(0, 10_000, exits=True))


def test_a_flight_processed_later_recounts_the_earlier_one_it_caught_up():
    cnt = Counter(local_flushes=2)
    o = Overlaps(cnt)
    first = _flight(0, 10_000, to=1, posted=10_900, arrival=30_000)
    assert o.fly([PMAP], first) is False and first.counted
    # CPU 1 bumped before CPU 0's IPI was posted, and its IPI reaches CPU 0 inside CPU 0's window:
    # both local flushes find their CPU caught up
    second = _flight(1, 10_100, to=0, posted=10_700, arrival=10_800, exits=True)
    assert o.fly([PMAP], second) is True and not second.counted
    assert not first.counted and cnt["local_flushes"] == 1 and cnt["local_flushes_caught_up"] == 1
    # the same CPU never catches itself up, and another pmap's flights are apart
    third = _flight(1, 10_200, to=0, posted=10_700, arrival=10_800, exits=True)
    assert o.fly([SimpleNamespace(id=8)], third) is False
