"""munmap_fanout: one process, threads on CPUs 0..k-1; each round maps R pages, lets every
thread touch them, then unmaps them (a shootdown to the other k-1 CPUs; threads = 0: k is
every CPU). With `protect`,
each round first lowers the region to read-only (mprotect: pmap_protect and its shootdown)."""

from __future__ import annotations

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up
from smpsim.vm.operations import Mapping, Mmap, Mprotect, Munmap, Scheduled, Spawn, Teardown


class MunmapFanout(Workload):
    REGION = 2 * ENTRY_STRIDE

    def initial_operations(self):
        w = self.w
        self.rounds_left = w.rounds
        self.outstanding = 1
        text = [Mapping(ENTRY_STRIDE, 16, None, 0, 16, "rx")]
        return [self.spawn(0, 0, "fanout", range(w.threads or self.ncpus), text)]

    def _mmap(self, t, proc):
        n = self.w.region_pages
        self.rounds_left -= 1
        return Scheduled(t, proc.home_cpu, Mmap(proc.pid, self.REGION, n, prefault=n))

    def after(self, op, t, proc):
        w = self.w
        later = align_up(t, self.q) + w.interval_epochs * self.q
        if isinstance(op, Spawn):
            return [self._mmap(align_up(t, self.q), proc)]
        if isinstance(op, Mmap) and w.protect:
            return [Scheduled(later, proc.home_cpu, Mprotect(proc.pid, self.REGION, w.region_pages, "r"))]
        if isinstance(op, (Mmap, Mprotect)):
            return [Scheduled(later, proc.home_cpu, Munmap(proc.pid, self.REGION, w.region_pages))]
        if isinstance(op, Munmap):
            return [self._mmap(t, proc)] if self.rounds_left > 0 else [self.exit(t, proc)]
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        w = self.w
        return 3 + w.rounds * (w.interval_epochs + 1 + w.region_pages * 4000 // self.q)
