"""One simulated CPU: its TLB, its loaded pmap and TLB state, and its side of every exchange.

The CPU only ever learns about the VM through messages (`smpsim.protocol`); it
has no access to page tables and decides nothing of the kernel's policy: a
context switch arrives as a `Switch` the kernel decided (pmap_activate /
pmap_deactivate), a shootdown says whether this lazy CPU goes STALE (the
kernel's lazy-TLB rule). What the CPU does itself is what hardware and its
interrupt handler do: look up and fill its TLB, flush what it is told, and
report the cycles its handler took. Misses are reported back in one batch per
quantum and their translations arrive as fills with the next quantum.
"""

from __future__ import annotations

from bisect import bisect_right

from smpsim import rng
from smpsim.costs import CostModel
from smpsim.cpus.tlb import TAG_SHIFT, Tlb
from smpsim.cpus.walks import WalkCache
from smpsim.protocol import (FLUSH_ALL, FLUSH_TAG, KERNEL, LAZY, STALE, VALID, CpuSetup, CpuSnapshot,
                             QuantumReply, QuantumRequest, ShootdownAck, ShootdownRequest, SnapshotRequest,
                             Switch, SwitchAwayAck, SwitchAwayRequest)

__all__ = ["SimCpu", "VALID", "LAZY", "STALE", "KERNEL"]


class SimCpu:
    def __init__(self, setup: CpuSetup):
        self.id = setup.cpu
        self.seed = setup.seed
        self.tlb = Tlb(setup.tlb_entries, setup.tlb_ways)
        self.pcid = setup.pcid
        self.costs = CostModel(**setup.costs)
        self.curpmap: int | None = None
        self.tag = 0
        self.state = KERNEL
        self.walks = WalkCache(setup.walk_lines)
        self._handlers = {QuantumRequest: self.run_quantum, ShootdownRequest: self.shootdown,
                          SwitchAwayRequest: self.switch_away, SnapshotRequest: self.snapshot}

    def handle(self, msg):
        handler = self._handlers.get(type(msg))
        if handler is None:
            raise TypeError(f"cpu{self.id}: unexpected message {type(msg).__name__}")
        return handler(msg)

    def _flush_user(self, tag: int) -> None:
        """Throw away user entries: those of `tag` with PCIDs (INVPCID), else all (CR3 reload)."""
        if self.pcid:
            self.tlb.flush_tag(tag)
        else:
            self.tlb.flush_all()

    def _tlb_or_none(self, want: bool):
        return tuple(self.tlb.entries()) if want else None

    def _switch(self, sw: Switch) -> None:
        if sw.flush == FLUSH_ALL:
            self.tlb.flush_all()
        elif sw.flush == FLUSH_TAG:
            self.tlb.flush_tag(sw.tag)
        self.curpmap, self.tag, self.state = sw.pmap, sw.tag, sw.state

    # --- quantum -----------------------------------------------------------------------
    def run_quantum(self, req: QuantumRequest) -> QuantumReply:
        self._switch(req.switch)
        hits = done = cycles = walk_cycles = warm = 0
        misses: list[int] = []
        if self.state == VALID:
            for va, frame in req.fills:
                self.tlb.insert(self.tag, va, frame, self.curpmap)
            if req.accesses and req.ranges:
                vas = self._access_stream(req)
                if req.budget < 0:
                    hits, misses = self.tlb.access(self.tag, vas)
                    done = len(vas)
                else:
                    hits, misses, done, cycles, walk_cycles, warm = self.access_within_budget(req, vas)
        return QuantumReply(req.epoch, self.id, self.state, self.curpmap, hits, tuple(misses),
                            self._tlb_or_none(req.want_tlb), done, cycles, walk_cycles, warm)

    def access_within_budget(self, req: QuantumRequest, vas: list[int]):
        """Make accesses until the cycle budget is spent: user work plus a hit or a walk each
        (a walk is warm if this CPU walked the PTE's cache line recently, else cold). Returns
        (hits, missed VAs, accesses made, cycles spent, walk cycles, warm walks); validation
        calls it directly to price a refill."""
        c = self.costs
        walks = self.walks
        sets, nsets = self.tlb.sets, self.tlb.nsets
        tagbits = self.tag << TAG_SHIFT
        tag = self.tag
        hit_cost = req.user_cycles + c.tlb_hit
        budget = req.budget
        spent = hits = done = walk_cycles = warm = 0
        pending: set[int] = set()
        misses: list[int] = []
        for va in vas:                     # the TLB lookup inlined (Tlb.hit), for speed
            if spent >= budget:
                break
            done += 1
            s = sets[va % nsets]
            key = tagbits | va
            value = s.pop(key, None)
            if value is not None:
                s[key] = value             # LRU: most recently used last
            if value is not None or va in pending:
                hits += 1
                spent += hit_cost
                continue
            pending.add(va)
            misses.append(va)
            if walks.walk(tag, va):
                warm += 1
                cost = c.page_walk_warm
            else:
                cost = c.page_walk
            walk_cycles += cost
            spent += req.user_cycles + cost
        return hits, misses, done, spent, walk_cycles, warm

    def _access_stream(self, req: QuantumRequest) -> list[int]:
        """The quantum's accesses: uniform over the pages of the thread's ranges, from the
        CPU's own seeded stream for this epoch."""
        starts, cum = [], []
        total = 0
        for start, npages in req.ranges:
            starts.append(start)
            cum.append(total)
            total += npages
        r = rng.stream(self.seed, "cpu", self.id, "epoch", req.epoch).random
        out = []
        for _ in range(req.accesses):
            idx = int(r() * total)
            i = bisect_right(cum, idx) - 1
            out.append(starts[i] + idx - cum[i])
        return out

    # --- shootdown handler (pmap_tlb_intr) ------------------------------------------------
    def shootdown(self, req: ShootdownRequest) -> ShootdownAck:
        c = self.costs
        invlpg = 0
        full = req.vas is None
        if req.go_stale:
            self._flush_user(self.tag)
            self.state = STALE
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
        work = c.local_full_flush if full else invlpg * c.invlpg
        handler = work if req.local else c.ipi_handler + work
        return ShootdownAck(req.xid, self.id, handler, invlpg, self._tlb_or_none(req.want_tlb), work)

    # --- switch-away request (memory pressure) ---------------------------------------------
    def switch_away(self, req: SwitchAwayRequest) -> SwitchAwayAck:
        c = self.costs
        if self.curpmap == req.pmap and self.state in (LAZY, STALE):
            if not self.pcid:
                self.tlb.flush_all()
            self.curpmap, self.tag, self.state = None, 0, KERNEL
            return SwitchAwayAck(req.xid, self.id, True, c.ipi_handler + c.switch_away,
                                 self._tlb_or_none(req.want_tlb), c.switch_away)
        return SwitchAwayAck(req.xid, self.id, False, c.ipi_handler, self._tlb_or_none(req.want_tlb))

    def snapshot(self, req: SnapshotRequest | None = None) -> CpuSnapshot:
        return CpuSnapshot(self.id, self.state, self.curpmap, self.tag, tuple(self.tlb.entries()))
