"""munmap_fanout: one process, threads on CPUs 0..k-1; each round maps R pages, lets every
thread touch them, then unmaps them (a shootdown to the other k-1 CPUs; threads = 0: k is every CPU). With `protect`,
each round first lowers the region to read-only (mprotect: pmap_protect and its shootdown).
With `region_mix` the rounds cycle through those region sizes; with `working_pages` the
threads also keep touching a long-lived working set, which a full flush makes them refill
(the trade-off `configs/study_flush_ceiling.toml` sweeps)."""

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
        if w.working_pages:
            text.append(Mapping(3 * ENTRY_STRIDE, w.working_pages, None, 0, w.working_pages, "rw"))
        self.sizes: list[int] = []
        return [self.spawn(0, 0, "fanout", range(w.threads or self.ncpus), text)]

    def _mmap(self, t, proc):
        w = self.w
        i = w.rounds - self.rounds_left
        n = w.region_mix[i % len(w.region_mix)] if w.region_mix else w.region_pages
        self.sizes.append(n)
        self.rounds_left -= 1
        return Scheduled(t, proc.home_cpu, Mmap(proc.pid, self.REGION, n, prefault=n))

    def after(self, op, t, proc):
        w = self.w
        later = align_up(t, self.q) + w.interval_epochs * self.q
        if isinstance(op, Spawn):
            return [self._mmap(align_up(t, self.q), proc)]
        n = self.sizes[-1] if self.sizes else w.region_pages
        if isinstance(op, Mmap) and w.protect:
            return [Scheduled(later, proc.home_cpu, Mprotect(proc.pid, self.REGION, n, "r"))]
        if isinstance(op, (Mmap, Mprotect)):
            return [Scheduled(later, proc.home_cpu, Munmap(proc.pid, self.REGION, n))]
        if isinstance(op, Munmap):
            return [self._mmap(t, proc)] if self.rounds_left > 0 else [self.exit(t, proc)]
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        w = self.w
        size = max(w.region_mix) if w.region_mix else w.region_pages
        return 3 + w.rounds * (w.interval_epochs + 1 + size * 4000 // self.q)
