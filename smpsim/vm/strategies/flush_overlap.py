"""Concurrent flushes of one mm under Linux's tlb_gen: a local flush that finds its CPU caught up.

Models arch/x86/mm/tlb.c: `flush_tlb_mm_range` bumps the mm's generation (`inc_mm_tlb_gen`), then
`native_flush_tlb_multi` -> kernel/smp.c `smp_call_function_many_cond` queues each target's csd
and sends the IPIs before it calls `flush_tlb_func` for its own CPU, with interrupts still on. Another
CPU's flush IPI for the same mm can be handled on the initiator in that window: its
`flush_tlb_func` finds `mm_tlb_gen` past the local generation plus one and flushes everything up
to it ("Full flush"), so the initiator's own call then finds `f->new_tlb_gen <= local_tlb_gen` and
returns early, neither flushing nor tracing. In the bundled `xz -T2` recording, 2,726 of the 4,792
flushes that queued an IPI traced no "local MM shootdown" after their "remote IPI send", and each
of them had handled a foreign "remote shootdown" (a full flush) in between; none of the 3,400 that
queued no IPI did (docs/trace.md).

On a virtual machine whose ICR writes are VM exits, the host posts the interrupt to the target vCPU
while it handles the sender's ICR write, `costs.ipi_send_exit` before the sender re-enters the
guest, and a vCPU takes the interrupts posted to it at its next VM entry, where a vCPU running in
the guest waits for a kick (`ipi_delivery`). So an IPI posted to the initiator before the VM entry
that ends its last send (its local turn) is taken before its local flush, kicked or not. Measured
with perf on the project's KVM guest (docs/trace.md, "Concurrent flushes of one mm"): in
measure/flush_overlap.c with both threads replacing zero pages, a flush that queued an IPI
skipped its local flush when the other CPU's flush had begun up to ~10.5 us before it or up to
~1.5 us after it, and not later; in the bundled xz recording the same rule, ~1.2 us. On bare metal
(`ipi_send_exit` 0) an interrupt is taken when it arrives.

Operations run one after another in the model, so each flush is a *flight* remembered per pmap (the
last `KEEP`): its CPU, when it bumped the generation, when its local turn comes (after its sends),
whether its sends are VM exits, and when its IPIs are posted and their handlers start on the
CPUs that run the mm. A flight's local flush is caught up, counted in `local_flushes_caught_up`
instead of `local_flushes`, when another CPU's IPI for the same pmap is taken on its CPU between
its bump and its local turn; a flight processed later may so catch up one processed earlier, whose
count is moved then. The flush itself is still applied (the TLB contents stay exact, the foreign
full flush removed at least as much) and its cycles kept: the real CPU spent about as much on the
foreign handler's full flush, which the model times as the handler's range flush.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

KEEP = 8        # flights remembered per pmap: more than the flushes of one mm in flight at once


@dataclass
class Flight:
    cpu: int
    start: int                   # inc_mm_tlb_gen
    local_at: int | None         # its own flush_tlb_func call (None: the CPU does not run the mm)
    exits: bool                  # its sends are VM exits: it takes posted interrupts at their end
    arrivals: dict               # CPU running the mm -> (IPI posted, its handler starts there if running)
    counted: bool = False        # its local flush is counted in local_flushes

    def catches_up(self, other: Flight) -> bool:
        """Is this flight's IPI taken on `other`'s CPU between `other`'s bump and its local turn?"""
        sent = self.arrivals.get(other.cpu)
        if sent is None or other.local_at is None:
            return False
        posted, arrival = sent
        if arrival <= other.start:
            return False                     # taken before the other flight began
        return arrival < other.local_at or (other.exits and posted < other.local_at)


class Overlaps:
    def __init__(self, counters):
        self.counters = counters
        self.flights: dict[int, deque] = {}

    def fly(self, pmaps: list, flight: Flight) -> bool:
        """Remember `flight`; True if its own local flush finds its CPU caught up. The local flushes
        of flights remembered before that it catches up are recounted now."""
        cnt = self.counters
        caught_up = False
        for p in pmaps:
            recent = self.flights.setdefault(p.id, deque(maxlen=KEEP))
            for other in recent:
                if other.cpu == flight.cpu:
                    continue
                if other.counted and flight.catches_up(other):
                    other.counted = False
                    cnt["local_flushes"] -= 1
                    cnt["local_flushes_caught_up"] += 1
                caught_up = caught_up or other.catches_up(flight)
            recent.append(flight)
        flight.counted = flight.local_at is not None and not caught_up
        return caught_up
