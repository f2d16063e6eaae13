"""exit_storm: many processes (threads on several CPUs) exit together or one after another."""

from __future__ import annotations

from smpsim.experiments.workloads.base import Workload, align_up, split_layout
from smpsim.vm.operations import Mapping, Spawn, Teardown


class ExitStorm(Workload):
    def __init__(self, config):
        super().__init__(config)
        self.spawned_at: list[int] = []
        self.layouts = self._layouts()

    def _layouts(self) -> list[tuple]:
        w = self.w
        if w.image is None:
            return [split_layout(w.pages, w.entries)]
        from smpsim.experiments.images import resolve_images
        layouts = []
        for img in resolve_images(w.image):
            entries = []
            for e in img.entries:
                # touch at most `pages` pages of each accessible entry; reservations (---p) stay untouched
                touch = min(e.npages, w.pages) if "r" in e.prot else 0
                obj = f"file:{e.shared_object}" if e.shared_object else None
                entries.append(Mapping(e.start_page, e.npages, obj, e.offset_pages, touch, e.prot))
            layouts.append(tuple(entries))
        return layouts

    def initial_operations(self):
        w = self.w
        out = []
        for i in range(w.processes):
            cpus = [(i * w.threads + j) % self.ncpus for j in range(w.threads)]
            out.append(self.spawn(0, cpus[0], f"storm{i}", cpus, self.layouts[i % len(self.layouts)], ctx=i))
        self.outstanding = w.processes
        return out

    def ranges(self, proc):
        if self.w.image is None:
            return proc.map.ranges()
        return tuple((e.start, min(e.npages, self.w.pages)) for e in proc.map.entries if "r" in e.prot)

    def after(self, op, t, proc):
        w = self.w
        if isinstance(op, Spawn):
            self.spawned_at.append(t)
            if w.exit == "staggered":
                return [self.exit(align_up(t, self.q) + (w.run_epochs + op.ctx * w.stagger_epochs) * self.q, proc)]
            if len(self.spawned_at) == w.processes:
                when = align_up(max(self.spawned_at), self.q) + w.run_epochs * self.q
                return [self.exit(when, p) for p in self.k.procs.values()]
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        w = self.w
        return 2 + w.run_epochs + (w.processes * w.stagger_epochs if w.exit == "staggered" else 1) + \
            w.pages * w.processes * 4000 // self.q // max(1, min(self.ncpus, w.processes))
