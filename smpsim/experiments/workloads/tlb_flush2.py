"""tlb_flush2: will-it-scale's tests/tlb_flush2.c — threads of one process each map 1 MB of
private anonymous memory and, page by page, write it, `madvise(page, 4096, MADV_DONTNEED)` it
and read it back; then unmap it, and start again.

The loop, as in will-it-scale (antonblanchard/will-it-scale tests/tlb_flush2.c `testcase`):
`mmap(NULL, 1 MB, PROT_READ|PROT_WRITE, MAP_ANONYMOUS|MAP_PRIVATE)`; for each page: `*(addr +
i) = 1`, `madvise(addr + i, pgsize, MADV_DONTNEED)`, `assert(*(addr + i) == 0)`, one iteration
counted; `munmap(addr, 1 MB)`. The threads are of ONE process (will-it-scale's threads mode),
one per CPU, so every DONTNEED of a page the thread just wrote flushes it on every CPU running
the mm. What each step costs is the kernel's: Linux zaps the page and flushes it, the read
faults the zero page back in; FreeBSD and NetBSD keep the page (and NetBSD its mapping: the read
does not fault).

Figures: `ops` (iterations, all threads) and `per_thread_ops`, iterations per thread per
simulated second from the first mmap to the last munmap at machine.ghz — the figure the 0-day
robot reports for this test. Simplified: each step is a kernel operation on the thread's CPU,
back to back (the write and the read are `Touch` operations: they fault where the access
would trap, and cost nothing kernel-side otherwise).
"""

from __future__ import annotations

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up
from smpsim.vm.operations import Madvise, Mapping, Mmap, Munmap, Scheduled, Spawn, Teardown, Touch


class TlbFlush2(Workload):
    BASE = 4 * ENTRY_STRIDE

    def initial_operations(self):
        w = self.w
        self.threads = w.threads or self.ncpus      # 0: one thread per CPU
        self.outstanding = 1
        self.done = [0] * self.threads              # passes over the region completed
        self.start = None
        self.end = 0
        text = [Mapping(ENTRY_STRIDE, 16, None, 0, 16, "rx")]
        return [self.spawn(0, 0, "tlb_flush2", range(self.threads), text)]

    def _region(self, i: int) -> int:
        return self.BASE + i * 2 * self.w.region_pages

    def _mmap(self, t, proc, i):
        return Scheduled(t, i, Mmap(proc.pid, self._region(i), self.w.region_pages, ctx=(i, 0)))

    def _page_step(self, t, proc, op):
        """What follows one step of thread i on page p: write -> madvise -> read -> next page."""
        i, p = op.ctx
        va = self._region(i) + p
        if isinstance(op, Mmap):
            return Scheduled(t, i, Touch(proc.pid, va, 1, True, ctx=(i, p)))
        if isinstance(op, Touch) and op.write:
            return Scheduled(t, i, Madvise(proc.pid, va, 1, ctx=(i, p)))
        if isinstance(op, Madvise):
            return Scheduled(t, i, Touch(proc.pid, va, 1, False, ctx=(i, p)))
        self.k.counters["ops"] += 1                 # the read came back zero: one iteration
        self.end = max(self.end, t)
        if p + 1 < self.w.region_pages:
            return Scheduled(t, i, Touch(proc.pid, va + 1, 1, True, ctx=(i, p + 1)))
        return Scheduled(t, i, Munmap(proc.pid, self._region(i), self.w.region_pages, ctx=(i, 0)))

    def after(self, op, t, proc):
        if isinstance(op, Spawn):
            self.start = align_up(t, self.q)
            return [self._mmap(self.start, proc, i) for i in range(self.threads)]
        if isinstance(op, Munmap):
            i = op.ctx[0]
            self.done[i] += 1
            self.end = max(self.end, t)
            if self.done[i] < self.w.loops:
                return [self._mmap(t, proc, i)]
            if all(d >= self.w.loops for d in self.done):
                return [self.exit(t, proc)]
            return []
        if isinstance(op, Teardown):
            self.outstanding -= 1
            span = max(1, self.end - self.start)
            ops = self.k.counters["ops"]
            self.k.counters["per_thread_ops"] = ops * self.cfg.machine.clock_hz // (span * self.threads)
            return []
        return [self._page_step(t, proc, op)]

    def estimated_epochs(self):
        w = self.w
        return 4 + w.loops * w.region_pages * 30000 * max(1, w.threads or self.ncpus) // self.q
