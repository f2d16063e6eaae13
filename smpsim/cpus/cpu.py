"""One simulated CPU: its TLB, its loaded pmap and its lazy-TLB state.

States follow the 2011 x86 pmap (x86_tlb.c): VALID (running a user thread of the
loaded pmap), LAZY (idle or a kernel thread with the last user pmap still loaded
and referenced), STALE (a lazy CPU that took a shootdown for that pmap and left
its pm_cpus; it must flush before using the pmap again) and KERNEL (pmap_kernel
loaded). The CPU only ever learns about the VM through messages; it has no
access to page tables. Misses are reported back in one batch per quantum and
their translations arrive as fills with the next quantum.
"""

from __future__ import annotations

from bisect import bisect_right

from smpsim import rng
from smpsim.cpus.tlb import Tlb
from smpsim.protocol import (CpuSetup, CpuSnapshot, QuantumReply, QuantumRequest, ShootdownAck,
                             ShootdownRequest, SnapshotRequest, SwitchAwayAck, SwitchAwayRequest)

VALID, LAZY, STALE, KERNEL = "VALID", "LAZY", "STALE", "KERNEL"


class SimCpu:
    def __init__(self, setup: CpuSetup):
        self.id = setup.cpu
        self.setup = setup
        self.tlb = Tlb(setup.tlb_entries, setup.tlb_ways)
        self.lazy_tlb = setup.lazy_tlb
        self.pcid = setup.pcid
        self.costs = setup.costs
        self.curpmap: int | None = None
        self.tag = 0
        self.state = KERNEL

    # --- dispatch ---------------------------------------------------------------
    def handle(self, msg):
        if isinstance(msg, QuantumRequest):
            return self.run_quantum(msg)
        if isinstance(msg, ShootdownRequest):
            return self.shootdown(msg)
        if isinstance(msg, SwitchAwayRequest):
            return self.switch_away(msg)
        if isinstance(msg, SnapshotRequest):
            return self.snapshot()
        raise TypeError(f"cpu{self.id}: unexpected message {type(msg).__name__}")

    def _flush_user(self) -> None:
        """What loading a new CR3 (or INVPCID single-context with PCID) throws away."""
        if self.pcid:
            self.tlb.flush_tag(self.tag)
        else:
            self.tlb.flush_all()

    def _tlb_or_none(self, want: bool):
        return tuple(self.tlb.entries()) if want else None

    # --- context switches (pmap_activate / pmap_deactivate) ------------------------
    def _switch(self, sw) -> None:
        if sw.run_pmap is None:
            if self.state == VALID:
                if self.lazy_tlb:
                    self.state = LAZY
                else:
                    if not self.pcid:
                        self.tlb.flush_all()
                    self.curpmap, self.tag, self.state = None, 0, KERNEL
            return
        if sw.run_pmap == self.curpmap:
            if self.state == STALE:
                self._flush_user()
        else:
            if not self.pcid:
                self.tlb.flush_all()
            self.curpmap, self.tag = sw.run_pmap, sw.tag
        if sw.flush_tag and self.pcid:
            self.tlb.flush_tag(sw.tag)
        self.state = VALID

    # --- quantum -----------------------------------------------------------------------
    def run_quantum(self, req: QuantumRequest) -> QuantumReply:
        self._switch(req.switch)
        hits = 0
        misses: list[int] = []
        if self.state == VALID:
            tag, owner = self.tag, self.curpmap
            insert = self.tlb.insert
            for va, frame in req.fills:
                insert(tag, va, frame, owner)
            if req.accesses and req.ranges:
                hits, misses = self._accesses(req)
        return QuantumReply(req.epoch, self.id, self.state, self.curpmap, hits, tuple(misses),
                            self._tlb_or_none(req.want_tlb))

    def _accesses(self, req: QuantumRequest):
        starts, cum = [], []
        total = 0
        for start, npages in req.ranges:
            starts.append(start)
            cum.append(total)
            total += npages
        r = rng.stream(self.setup.seed, "cpu", self.id, "epoch", req.epoch).random
        sets, nsets = self.tlb.sets, self.tlb.nsets
        tagbits = self.tag << 40
        pending: set[int] = set()
        misses: list[int] = []
        hits = 0
        for _ in range(req.accesses):
            idx = int(r() * total)
            i = bisect_right(cum, idx) - 1
            va = starts[i] + idx - cum[i]
            s = sets[va % nsets]
            key = tagbits | va
            frame = s.pop(key, None)
            if frame is not None:
                s[key] = frame
                hits += 1
            elif va in pending:
                hits += 1  # the hardware would have filled it at the first miss
            else:
                pending.add(va)
                misses.append(va)
        return hits, misses

    # --- shootdown handler (pmap_tlb_intr) ------------------------------------------------
    def shootdown(self, req: ShootdownRequest) -> ShootdownAck:
        c = self.costs
        went_stale = False
        invlpg = 0
        full = req.vas is None
        if not req.local and self.state == LAZY and self.curpmap in req.pmaps:
            # A lazy CPU drops out of pm_cpus and flushes; it must flush again before reuse.
            self._flush_user()
            self.state = STALE
            went_stale = True
            full = True
        elif full:
            if self.pcid:
                for tag in req.tags:
                    self.tlb.flush_tag(tag)
            else:
                self.tlb.flush_all()
        else:
            for tag, va in req.vas:
                self.tlb.invalidate(tag, va)
            invlpg = len(req.vas)
        work = c["local_full_flush"] if full else invlpg * c["invlpg"]
        handler = work if req.local else c["ipi_handler"] + work
        return ShootdownAck(req.xid, self.id, handler, invlpg, went_stale,
                            self._tlb_or_none(req.want_tlb))

    # --- switch-away request (memory pressure) ---------------------------------------------
    def switch_away(self, req: SwitchAwayRequest) -> SwitchAwayAck:
        c = self.costs
        if self.curpmap == req.pmap and self.state in (LAZY, STALE):
            if not self.pcid:
                self.tlb.flush_all()
            self.curpmap, self.tag, self.state = None, 0, KERNEL
            return SwitchAwayAck(req.xid, self.id, True, c["ipi_handler"] + c["switch_away"],
                                 self._tlb_or_none(req.want_tlb))
        return SwitchAwayAck(req.xid, self.id, False, c["ipi_handler"], self._tlb_or_none(req.want_tlb))

    def snapshot(self) -> CpuSnapshot:
        return CpuSnapshot(self.id, self.state, self.curpmap, self.tag, tuple(self.tlb.entries()))
