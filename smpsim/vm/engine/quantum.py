"""Quanta: one request per CPU per epoch, all at once, and what their replies mean.

Each CPU is told its context switch (the scheduler's), gets the fills for the
misses it reported last quantum (those whose PTEs are still valid), and makes
its accesses. A quantum is a budget of cycles: what the kernel took from the
CPU since its last quantum (IPI handlers, context switches, its faults) comes
off first (any excess carries over), and each access costs its share of user
work plus a TLB hit or a page walk, so a CPU that refills after a flush
completes fewer accesses (`user_accesses`, per CPU in `user_progress`). Its reply's misses are classified here: a miss with a valid PTE
is a page walk — it takes no lock and changes no mapping, so it is resolved at
once (if a later operation removes the PTE, the fill is dropped before
delivery); a miss that faults becomes a `Miss` operation at its moment in the
quantum, in time order with the epoch's other operations.
"""

from __future__ import annotations

from smpsim.errors import SimulationError
from smpsim.protocol import QuantumRequest
from smpsim.vm.engine import scheduler
from smpsim.vm.operations import Miss


class QuantumDriver:
    def __init__(self, k, workload, exchange, queue):
        self.k = k
        self.workload = workload
        self.exchange = exchange
        self.queue = queue
        m = k.config.machine
        self.quantum = m.quantum_cycles
        self.accesses = m.accesses_per_quantum
        # user work per access: with every access a TLB hit, a full quantum makes exactly
        # accesses_per_quantum accesses
        self.user_cycles = max(0, m.quantum_cycles // max(1, m.accesses_per_quantum) - k.costs.tlb_hit)

    def run(self, epoch: int, start: int) -> None:
        k = self.k
        threads, reqs = [], []
        w = self.workload
        views = []
        for view in k.views:
            thread = w.pick(view, start) if w.picks_threads else scheduler.pick(view)
            req = self._request(epoch, view, thread, start)
            if self._idle_repeat(view, req):
                continue
            view.sent_switch = req.switch
            views.append(view)
            threads.append(thread)
            reqs.append(req)
        if not views:
            return
        ex = self.exchange([v.id for v in views], reqs)
        for view, thread, rep in zip(views, threads, ex.replies):
            self._reply(epoch, view, thread, rep, start)

    def _idle_repeat(self, view, req: QuantumRequest) -> bool:
        """A quantum that would change nothing on its CPU: no accesses, no fills, and the same
        switch notice as the CPU last applied (a replayed trace's CPU between events). It is not
        sent (the invariant checker, which reads every reply's TLB, has every quantum sent)."""
        return (not req.accesses and not req.fills and not self.k.check
                and req.switch == view.sent_switch)

    def _request(self, epoch: int, view, thread, start: int) -> QuantumRequest:
        sw = scheduler.switch(self.k, view, thread, start)
        fills = ()
        accesses = 0
        ranges = ()
        if thread is not None:
            pmap = thread.proc.pmap
            if view.fills_pmap is pmap:
                fills = tuple((va, pte.frame) for va in view.fill_vas if (pte := pmap.pte(va)) is not None)
            if self.workload.user_accesses:
                ranges = self.workload.ranges(thread.proc)
                accesses = self.accesses
        budget = max(0, self.quantum - view.stolen)
        # kernel work beyond a whole quantum delays a running thread's next one too
        view.stolen = max(0, view.stolen - self.quantum) if thread is not None else 0
        view.fills_pmap, view.fill_vas = None, []
        return QuantumRequest(epoch, view.id, sw, ranges, accesses, fills, self.k.check, budget, self.user_cycles)

    def _reply(self, epoch: int, view, thread, rep, start: int) -> None:
        k = self.k
        cur = view.curpmap.id if view.curpmap is not None else None
        if rep.state != view.state or rep.curpmap != cur:
            raise SimulationError(f"cpu{view.id} reports {rep.state} on pmap {rep.curpmap} but the kernel "
                                  f"expected {view.state} on pmap {cur} (epoch {epoch})")
        if k.check:
            view.tlb = rep.tlb
        cnt = k.counters
        cnt["tlb_hits"] += rep.hits
        cnt["tlb_misses"] += len(rep.misses)
        cnt["user_accesses"] += rep.accesses_done
        cnt["user_access_cycles"] += rep.cycles
        cnt["tlb_refill_cycles"] += rep.walk_cycles
        cnt["tlb_hit_cycles"] += rep.hits * k.costs.tlb_hit
        cnt["walks_warm"] += rep.warm_walks
        cnt["walks_cold"] += len(rep.misses) - rep.warm_walks
        k.cycles["tlb_refills"] += rep.walk_cycles
        k.progress[view.id] += rep.accesses_done
        if not rep.misses:
            return
        n = len(rep.misses)
        proc = thread.proc
        pmap = proc.pmap
        if view.fills_pmap is not pmap:
            view.fills_pmap, view.fill_vas = pmap, []
        walks = 0
        for i, va in enumerate(rep.misses):
            pte = pmap.pte(va)
            if pte is not None:
                pte.ref = True
                view.fill_vas.append(va)
                walks += 1
            else:
                self.queue.push(start + (i + 1) * self.quantum // (n + 1), view.id, Miss(proc.pid, va))
        k.counters["page_walks"] += walks
