"""ctx_switch: a context-switch storm between many processes, where lazy-TLB and ASID designs differ.

`processes` processes of `threads` threads each are spread round-robin over the CPUs, more
threads than CPUs, so every CPU switches between address spaces every quantum. Each process's
home thread unmaps and remaps (and writes) a region of `region_pages` every `interval_epochs` for `rounds`
+ its index rounds (process p remaps `rounds + p` times, then exits), so its shootdowns meet CPUs
that are running it, CPUs that ran it a quantum ago (which keep its entries under a PCID/ASID),
CPUs left idle by the processes that already exited (which hold it lazily), and CPUs that never
ran it. The other threads block one epoch in three (their CPUs go idle, holding the mm lazily),
and a one-page guard mapping keeps the region's page-table page, so a plain munmap frees no page
tables (Linux then leaves lazy CPUs out) while the exits do.
"""

from __future__ import annotations

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up, split_layout
from smpsim.vm.operations import Mapping, Mmap, Munmap, Scheduled, Spawn, Teardown


class CtxSwitch(Workload):
    REGION = 8 * ENTRY_STRIDE

    def initial_operations(self):
        w = self.w
        self.outstanding = w.processes
        self.rounds = {}
        self.index = {}
        ops = []
        for p in range(w.processes):
            cpus = [(p * w.threads + j) % self.ncpus for j in range(w.threads)]
            guard = Mapping(self.REGION + w.region_pages, 1, None, 0, 1, "rw")   # keeps the region's PTP
            ops.append(self.spawn(0, cpus[0], f"storm{p}", cpus, split_layout(w.pages, 2) + (guard,), ctx=p))
        return ops

    def after(self, op, t, proc):
        w = self.w
        nxt = align_up(t, self.q) + self.q
        if isinstance(op, Spawn):
            self.rounds[proc.pid] = 0
            self.index[proc.pid] = op.ctx
            return [Scheduled(nxt, proc.home_cpu, Mmap(proc.pid, self.REGION, w.region_pages,
                                                       prefault=w.region_pages, touch=True))]
        if isinstance(op, Mmap):
            self.rounds[proc.pid] += 1
            if self.rounds[proc.pid] > w.rounds + self.index[proc.pid]:
                return [self.exit(nxt, proc)]
            later = nxt + (w.interval_epochs - 1) * self.q
            return [Scheduled(later, proc.home_cpu, Munmap(proc.pid, self.REGION, w.region_pages))]
        if isinstance(op, Munmap):
            return [Scheduled(t, proc.home_cpu, Mmap(proc.pid, self.REGION, w.region_pages,
                                                     prefault=w.region_pages, touch=True))]
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def ranges(self, proc) -> tuple:
        """What the threads touch; asked as each quantum starts, which is also when the process's
        other threads block (one epoch in three) or wake."""
        for t in proc.threads[1:]:
            t.asleep = self.k.epoch % 3 == 2
        return proc.map.ranges()

    def estimated_epochs(self):
        w = self.w
        return 4 + (w.rounds + w.processes) * w.interval_epochs
