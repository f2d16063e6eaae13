"""TLB shootdown through one global mailbox, as the x86 pmap of NetBSD 5 and later does.

Models sys/arch/x86/x86/x86_tlb.c (`pmap_tlb_shootdown`, `pmap_tlb_shootnow`,
`pmap_tlb_intr`; pmap_tlb.c in NetBSD 5): invalidations are queued in a packet
that becomes a full flush past `shootdown_batch` VAs (TP_MAXVA); `pmap_update`
sends it. One initiator at a time owns the global mailbox (taken by CAS) and
holds it until the last target has acknowledged; targets are the pmaps'
`pm_cpus` but the initiator, which flushes locally — overlapped with the wait —
when it has one of them loaded. PTPs unhooked meanwhile are freed only after the
shootdown that covers them. Timing (smpsim.vm.ipi): claim, sends, the wait for the
last acknowledgement; `ack` (the design's `shootdown_ack`) says whether a target
acknowledges before its flush (NetBSD 10 x86_tlb.c) or after it (NetBSD 5/6
pmap_tlb.c `pmap_tlb_intr`, the 2011 baseline). The targets' handler cycles are
taken from their quanta, never added to the initiator's.
"""

from __future__ import annotations

from smpsim.protocol import LAZY, VALID, ShootdownRequest, to_plain
from smpsim.vm.ipi import AFTER_FLUSH, exchange_timing
from smpsim.vm.locks import Op, SimLock
from smpsim.vm.packet import Packet
from smpsim.vm.strategies.shootdown_base import ShootdownStrategy


class GlobalMailboxShootdown(ShootdownStrategy):
    def __init__(self, k, shootdown_batch: int, shootdown_ack: str = AFTER_FLUSH):
        super().__init__(k, shootdown_batch, shootdown_ack)
        self.mailbox = SimLock("tlb_mailbox", "mailbox")
        self.freed_tables = False       # the packet being sent says page tables were freed

    def locks(self):
        yield self.mailbox

    # --- pmap_update ------------------------------------------------------------------------
    def update(self, pmaps: list, op: Op, reason: str) -> None:
        """Send what `pmaps` queued as one packet, then free the PTPs it covered."""
        packet = Packet()
        for pmap in pmaps:
            packet.merge(pmap.packet, self.ceiling)
            pmap.packet = Packet()
        self.freed_tables = packet.freed_tables
        flushed = self.shootnow(pmaps, packet.take(), op, reason) if not packet.empty else set()
        for pmap in pmaps:
            self.free_ptps(pmap, flushed, op)

    def free_ptps(self, pmap, flushed: set[int], op: Op) -> None:
        pending, pmap.ptp_free_pending = pmap.ptp_free_pending, []
        for ptp in pending:
            self.k.free_ptp(pmap, ptp, op, flushed=flushed)

    # --- pmap_tlb_shootnow -----------------------------------------------------------------
    def targets(self, pmaps: list, me: int) -> list[int]:
        return sorted(set().union(*(p.pm_cpus for p in pmaps)) - {me})

    def shootnow(self, pmaps: list, vas, op: Op, reason: str) -> set[int]:
        """One shootdown for `pmaps` (vas None: full): IPIs to the targets, a local flush on
        the initiator if it has one of them loaded. Returns the CPUs that flushed."""
        k = self.k
        me = op.cpu
        view = k.views[me]
        targets = self.targets(pmaps, me)
        local = view.curpmap in pmaps and view.state in (VALID, LAZY)
        k.tags.defer_flushes(pmaps, me)
        if not targets and not local:
            return set()
        reqs = self._requests(pmaps, vas, targets, local, me, reason)
        t0 = op.t
        ex = k.exchange(targets + [me] * local, reqs)
        acks = list(ex.replies)
        local_ack = acks.pop() if local else None
        wait = self.wait_for_acks(op, targets, acks, local_ack)
        if local_ack is not None:
            self._account_local(local_ack)
        self.account_remote(acks, reqs)
        if targets:
            self._log(pmaps, vas, targets, reason, t0, op, wait, ex, reqs, acks)
        return set(targets) | ({me} if local else set())

    def _requests(self, pmaps, vas, targets, local, me, reason) -> list:
        k = self.k
        xid = k.next_id("xid")
        ids = tuple(p.id for p in pmaps)
        reqs = [ShootdownRequest(xid, k.epoch, me, ids, *k.tags.request_tags(pmaps, vas, cpu), reason, False,
                                 k.lazy.goes_stale(k.views[cpu], pmaps), k.check) for cpu in targets]
        if local:
            reqs.append(ShootdownRequest(xid, k.epoch, me, ids, *k.tags.request_tags(pmaps, vas, me), reason, True,
                                         False, k.check))
        return reqs

    def wait_for_acks(self, op: Op, targets, acks, local_ack) -> int:
        """The initiator's wait for the targets (a hook: `per_cpu` has no mailbox). The mailbox is
        held from the claim until the last acknowledgement (or the end of the overlapped local
        flush); without targets only the local flush is spent."""
        local = local_ack.handler_cycles if local_ack is not None else 0
        if not targets:
            op.spend(local, "shootdown")
            return 0
        cnt = self.k.counters
        timing = exchange_timing(self.k, op.cpu, targets, {a.cpu: a.flush_cycles for a in acks}, self.ack,
                                 self.mailbox, local)
        wait = op.hold_for(self.mailbox, timing.done, "shootdown")
        cnt["shootdown_exchanges"] += 1
        cnt["shootdown_ipis"] += len(targets)
        cnt["shootdown_ack_wait_cycles"] += timing.wait
        return wait

    def _account_local(self, ack) -> None:
        k = self.k
        k.counters["local_flushes"] += 1
        k.counters["shootdown_invlpg"] += ack.invlpg
        if k.check:
            k.views[ack.cpu].tlb = ack.tlb

    def account_remote(self, acks, reqs) -> None:
        k = self.k
        cnt = k.counters
        for a, req in zip(acks, reqs):
            v = k.views[a.cpu]
            cnt["shootdown_invlpg"] += a.invlpg
            cnt["ipi_stolen_cycles"] += a.handler_cycles
            v.stolen += a.handler_cycles
            if k.check:
                v.tlb = a.tlb
            if req.go_stale:
                cnt["lazy_to_stale"] += 1
                k.mark_stale(v)

    def _log(self, pmaps, vas, targets, reason, t0, op, wait, ex, reqs, acks) -> None:
        k = self.k
        total = op.t - t0
        if vas is None:
            k.counters["shootdown_full_flushes"] += 1
        ids = [p.id for p in pmaps]
        k.record_latency("shootdown", total, ex.wall_us)
        k.emit("shootdown", t0, initiator=op.cpu, pmap=ids[0] if len(ids) == 1 else ids,
               targets=list(targets), vas="full" if vas is None else len(vas), reason=reason,
               cycles=total, mailbox_wait_cycles=wait, wall_us=ex.wall_us)
        if k.tracing:
            k.trace.append(dict(kind="shootdown", epoch=k.epoch, initiator=op.cpu, targets=list(targets),
                                request=to_plain(reqs[0]), replies=[to_plain(a) for a in acks],
                                cycles=total, wall_us=ex.wall_us))
