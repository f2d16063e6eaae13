"""Switch-away exchanges: asking CPUs that lazily hold dying pmaps to load pmap_kernel.

The 2011 proposal 3 (the seed): one IPI to each holder; a holder that still has
the pmap loaded (LAZY or STALE) drops it, and the last drop destroys the pmap
and frees its page-table pages. Timed as a shootdown is (smpsim.vm.ipi): IPI sends,
the initiator's own switch (if it is a holder) overlapped with the wait, the wait
for the last acknowledgement, sent before or after the holder's switch as the
design's shootdown acknowledgement says; there is no mailbox. The holders'
handler cycles are stolen from their next quantum, not added to the initiator.
"""

from __future__ import annotations

from smpsim.protocol import LAZY, STALE, SwitchAwayRequest, to_plain
from smpsim.vm.ipi import exchange_timing
from smpsim.vm.locks import Op


def lazy_holders(k, only=None) -> list:
    return [v for v in k.views
            if v.curpmap is not None and v.curpmap.id in k.dying and v.state in (LAZY, STALE)
            and (only is None or v.curpmap is only)]


def switch_away(k, op: Op, reason: str = "pressure", only=None) -> int:
    """Switch every lazy holder of a dying pmap (of `only`, if given) to pmap_kernel; return the
    PTPs freed."""
    holders = lazy_holders(k, only)
    if not holders:
        return 0
    cnt = k.counters
    me = op.cpu
    dests = [v.id for v in holders]
    xid = k.next_id("xid")
    reqs = [SwitchAwayRequest(xid, k.epoch, v.curpmap.id, reason, k.check) for v in holders]
    pmaps = sorted({v.curpmap.id for v in holders})
    t0 = op.t
    before = cnt["ptp_freed"]
    ex = k.exchange(dests, reqs)
    remote = [a for a in ex.replies if a.cpu != me]
    local = sum(a.work_cycles for a in ex.replies if a.cpu == me)
    timing = exchange_timing(k, me, [a.cpu for a in remote], {a.cpu: a.work_cycles for a in remote},
                             k.shootdown.ack, None, local)
    op.spend(timing.done, "other")
    _apply_acks(k, ex.replies, op)
    freed = cnt["ptp_freed"] - before
    cnt["switch_away_exchanges"] += 1
    cnt["switch_away_ipis"] += len(remote)
    cnt["ptp_switch_away_freed"] += freed
    total = op.t - t0
    k.record_latency("switch_away", total, ex.wall_us)
    k.emit("switch_away", t0, initiator=me, pmap=pmaps[0] if len(pmaps) == 1 else pmaps,
           targets=dests, reason=reason, cycles=total, wall_us=ex.wall_us, ptp_freed=freed)
    if k.tracing:
        k.trace.append(dict(kind="switch_away", epoch=k.epoch, initiator=me, targets=dests,
                            request=to_plain(reqs[0]), replies=[to_plain(a) for a in ex.replies],
                            cycles=total, wall_us=ex.wall_us))
    return freed


def _apply_acks(k, acks, op: Op) -> None:
    for a in acks:
        v = k.views[a.cpu]
        if k.check:
            v.tlb = a.tlb
        if a.cpu != op.cpu:
            v.stolen += a.handler_cycles
            k.counters["ipi_stolen_cycles"] += a.handler_cycles
        if a.switched:
            k.drop_cpu_ref(v, op)
