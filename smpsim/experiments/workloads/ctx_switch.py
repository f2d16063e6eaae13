"""ctx_switch: a context-switch storm between many processes, where lazy-TLB and ASID designs differ.

`processes` processes of `threads` threads each are spread round-robin over the CPUs, more
threads than CPUs, so every CPU switches between address spaces every quantum. Each process's
home thread unmaps and remaps (and writes) a region of `region_pages` every epoch for `rounds`
epochs, so its shootdowns meet CPUs that are running it, CPUs that ran it a quantum ago (which
keep its entries under a PCID/ASID, or hold it lazily), and CPUs that never ran it. Processes
exit one epoch apart, leaving CPUs idle (lazy) at the end.
"""

from __future__ import annotations

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up, split_layout
from smpsim.vm.operations import Mmap, Munmap, Scheduled, Spawn, Teardown


class CtxSwitch(Workload):
    REGION = 8 * ENTRY_STRIDE

    def initial_operations(self):
        w = self.w
        self.outstanding = w.processes
        self.rounds = {}
        ops = []
        for p in range(w.processes):
            cpus = [(p * w.threads + j) % self.ncpus for j in range(w.threads)]
            ops.append(self.spawn(0, cpus[0], f"storm{p}", cpus, split_layout(w.pages, 2), ctx=p))
        return ops

    def after(self, op, t, proc):
        w = self.w
        nxt = align_up(t, self.q) + self.q
        if isinstance(op, Spawn):
            self.rounds[proc.pid] = 0
            return [Scheduled(nxt, proc.home_cpu, Mmap(proc.pid, self.REGION, w.region_pages,
                                                       prefault=w.region_pages, touch=True))]
        if isinstance(op, Mmap):
            self.rounds[proc.pid] += 1
            if self.rounds[proc.pid] > w.rounds:
                return [self.exit(nxt + (proc.pid % w.processes) * self.q, proc)]
            return [Scheduled(nxt, proc.home_cpu, Munmap(proc.pid, self.REGION, w.region_pages))]
        if isinstance(op, Munmap):
            return [Scheduled(t, proc.home_cpu, Mmap(proc.pid, self.REGION, w.region_pages,
                                                     prefault=w.region_pages, touch=True))]
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        w = self.w
        return 4 + w.rounds + w.processes
