"""fork_exit: each CPU spawns a process, lets it run, exits it, repeats.
fork_exec_exit: each process also maps `libs` shared library texts."""

from __future__ import annotations

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up, split_layout
from smpsim.vm.operations import Mapping, Spawn, Teardown


class ForkExit(Workload):
    def __init__(self, config):
        super().__init__(config)
        self.left = {c: self.w.iterations for c in range(self.ncpus)}

    def _proc(self, time, cpu):
        w = self.w
        self.left[cpu] -= 1
        entries = list(split_layout(w.pages, w.entries))
        if w.kind == "fork_exec_exit":
            slot = len(entries) + 1
            for j in range(w.libs):
                entries.append(Mapping((slot + j) * ENTRY_STRIDE, w.lib_pages, f"lib{j}.so", 0, w.lib_pages, "rx"))
        return self.spawn(time, cpu, f"child{cpu}.{self.left[cpu]}", [cpu], entries)

    def initial_operations(self):
        self.outstanding = self.ncpus * self.w.iterations
        return [self._proc(0, c) for c in range(self.ncpus)]

    def after(self, op, t, proc):
        if isinstance(op, Spawn):
            return [self.exit(align_up(t, self.q) + self.w.run_epochs * self.q, proc)]
        if isinstance(op, Teardown):
            self.outstanding -= 1
            if self.left[proc.home_cpu] > 0:
                return [self._proc(t, proc.home_cpu)]
        return []

    def estimated_epochs(self):
        w = self.w
        return 2 + w.iterations * (w.run_epochs + 2 + w.pages * 4000 // self.q)
