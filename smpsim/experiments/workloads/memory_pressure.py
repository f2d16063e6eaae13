"""memory_pressure: short-lived processes on CPUs 0..P-1 exit one by one and leave their CPUs
idle, lazily holding the dying pmaps, while growers on the next CPUs keep faulting in memory."""

from __future__ import annotations

from dataclasses import dataclass

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up, split_layout
from smpsim.vm.operations import Mapping, Mmap, Scheduled, Spawn, Teardown


@dataclass(frozen=True)
class Role:
    grower: bool
    index: int


class MemoryPressure(Workload):
    GROW_BASE = 64 * ENTRY_STRIDE

    def initial_operations(self):
        w = self.w
        out = []
        for i in range(w.processes):
            out.append(self.spawn(0, i, f"short{i}", [i], split_layout(w.pages, w.entries), ctx=Role(False, i)))
        for g in range(w.growers):
            cpu = w.processes + g
            out.append(self.spawn(0, cpu, f"grower{g}", [cpu], [Mapping(ENTRY_STRIDE, 16, None, 0, 16, "rw")],
                                  ctx=Role(True, g)))
        self.outstanding = w.processes + w.growers
        self.last_exit_epoch = w.exit_start_epoch + (w.processes - 1) * w.stagger_epochs
        self.stop_epoch = self.last_exit_epoch + w.run_epochs
        self.grown: dict[int, int] = {}
        return out

    def after(self, op, t, proc):
        w = self.w
        if isinstance(op, Spawn):
            if not op.ctx.grower:
                when = (w.exit_start_epoch + op.ctx.index * w.stagger_epochs) * self.q
                return [self.exit(max(when, align_up(t, self.q)), proc)]
            return [self._grow(align_up(t, self.q), proc)]
        if isinstance(op, Mmap):
            nxt = align_up(t + 1, self.q)
            if nxt // self.q < self.stop_epoch:
                return [self._grow(nxt, proc)]
            self.outstanding -= 1
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def _grow(self, t, proc):
        r = self.grown.get(proc.pid, 0)
        self.grown[proc.pid] = r + 1
        n = self.w.grow_pages
        return Scheduled(t, proc.home_cpu, Mmap(proc.pid, self.GROW_BASE + r * n, n, prefault=n))

    def ranges(self, proc):
        # growers touch their newest regions only (the old ones are cold and get evicted)
        return proc.map.ranges()[-4:]

    def estimated_epochs(self):
        return self.stop_epoch + 2
