"""tlb_flush: threads of one process each map a private region, write every page, and unmap it,
over and over — a map-touch-unmap loop of smpsim's own. It is neither of will-it-scale's TLB
tests (both are madvise loops: tlb_flush1 over a private mapping of each thread's 128 MB file,
tlb_flush2 over 1 MB of anonymous memory, the `tlb_flush2` workload).

Every munmap of a thread's own region shoots down the process's other CPUs (they run the same
mm), so the loop measures what a shootdown costs its initiator under each design. Throughput is
reported as `loops` (all threads) and `loops_per_sim_second`: loops over the simulated time from
the first mmap to the last munmap, at the machine's clock (machine.ghz).

Simplified: each thread's loop is back-to-back kernel operations on its CPU; IPI handlers that
interrupt a target are taken from that CPU's user accesses, not from its loop.
"""

from __future__ import annotations

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up
from smpsim.vm.operations import Mapping, Mmap, Munmap, Scheduled, Spawn, Teardown


class TlbFlush(Workload):
    BASE = 4 * ENTRY_STRIDE

    def initial_operations(self):
        w = self.w
        self.threads = w.threads or self.ncpus      # 0: one thread per CPU
        self.outstanding = 1
        self.done = [0] * self.threads
        self.start = None
        self.end = 0
        text = [Mapping(ENTRY_STRIDE, 16, None, 0, 16, "rx")]
        return [self.spawn(0, 0, "tlb_flush", range(self.threads), text)]

    def _region(self, i: int) -> int:
        return self.BASE + i * 2 * self.w.region_pages

    def _mmap(self, t, proc, i):
        n = self.w.region_pages
        return Scheduled(t, i, Mmap(proc.pid, self._region(i), n, prefault=n, ctx=i, touch=True))

    def after(self, op, t, proc):
        w = self.w
        if isinstance(op, Spawn):
            self.start = align_up(t, self.q)
            return [self._mmap(self.start, proc, i) for i in range(self.threads)]
        if isinstance(op, Mmap):
            return [Scheduled(t, op.ctx, Munmap(proc.pid, self._region(op.ctx), w.region_pages, ctx=op.ctx))]
        if isinstance(op, Munmap):
            i = op.ctx
            self.done[i] += 1
            self.k.counters["loops"] += 1
            self.end = max(self.end, t)
            if self.done[i] < w.loops:
                return [self._mmap(t, proc, i)]
            if all(d >= w.loops for d in self.done):
                return [self.exit(t, proc)]
            return []
        if isinstance(op, Teardown):
            self.outstanding -= 1
            span = max(1, self.end - self.start)
            self.k.counters["loops_per_sim_second"] = sum(self.done) * self.cfg.machine.clock_hz // span
        return []

    def estimated_epochs(self):
        w = self.w
        return 4 + w.loops * w.region_pages * 5000 * max(1, w.threads or self.ncpus) // self.q
