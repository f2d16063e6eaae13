"""fork_exit: on each CPU a long-lived parent repeatedly forks a short-lived child and waits
for it to exit. fork_exec_exit: the child execs a new image (its own pages plus `libs`
shared library texts) before it runs and exits. shell: as a shell runs a command (`sh -c`,
a pipeline stage): the child forks again before exec; the grandchild execs the image, runs
and exits; the child, woken from its wait, exits; the parent, woken, forks the next one. The
grandchild's copy-on-write sources are the child's amap and, behind it, the parent's (a chain).

fork is smpsim.vm.fork with the preset's `fork` strategy: the child shares the parent's
pages copy-on-write (NetBSD maps nothing in the child; FreeBSD and Linux copy the PTEs); the parent's writable pages are write-protected at fork
(pmap_protect and its shootdown, local, and remote when `parent_threads` > 1
keeps other threads of the parent running elsewhere). The child reads the first
`child_pages` pages of the parent's image (read faults map the parent's pages)
and writes the first `child_writes` of them (copy-on-write faults: allocate and
copy). Between forks the parent writes `parent_writes` pages again (write access
re-enabled, no copy), so that each fork has pages to write-protect.
"""

from __future__ import annotations

from dataclasses import dataclass

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up, split_layout
from smpsim.vm.operations import Exec, Fork, Mapping, Scheduled, Spawn, Teardown, Touch


@dataclass(frozen=True)
class Parent:
    cpu: int


@dataclass(frozen=True)
class Child:
    cpu: int


@dataclass(frozen=True)
class Grandchild:
    cpu: int


class ForkExit(Workload):
    def __init__(self, config):
        super().__init__(config)
        self.left = {c: self.w.iterations for c in range(self.ncpus)}
        self.parents: dict[int, object] = {}
        self.children: dict[int, int] = {}     # child pid -> cpu, until it execs
        self.middles: dict[int, object] = {}    # shell: grandchild pid -> the child waiting for it

    def _image(self) -> list:
        w = self.w
        entries = list(split_layout(w.pages, w.entries))
        if w.kind in ("fork_exec_exit", "shell"):
            slot = len(entries) + 1
            for j in range(w.libs):
                entries.append(Mapping((slot + j) * ENTRY_STRIDE, w.lib_pages, f"lib{j}.so", 0, w.lib_pages, "rx"))
        return entries

    def initial_operations(self):
        w = self.w
        self.outstanding = self.ncpus * w.iterations
        out = []
        for c in range(self.ncpus):
            cpus = [(c + j) % self.ncpus for j in range(w.parent_threads)]
            out.append(self.spawn(0, c, f"parent{c}", cpus, self._image(), ctx=Parent(c)))
        return out

    def _fork(self, t, cpu):
        self.left[cpu] -= 1
        parent = self.parents[cpu]
        return Scheduled(t, cpu, Fork(parent.pid, f"child{cpu}.{self.left[cpu]}", (cpu,), ctx=Child(cpu)))

    def _writes(self, t, proc, pages, ctx):
        out = []
        for start, n in self._touched_upto(pages):
            out.append(Scheduled(t, proc.home_cpu, Touch(proc.pid, start, n, True, ctx=ctx)))
        return out

    def _touched_upto(self, pages):
        """The first `pages` pages of the parent's image, as (start, npages) ranges."""
        out, left = [], pages
        for m in split_layout(self.w.pages, self.w.entries):
            if left <= 0:
                break
            n = min(left, m.npages)
            out.append((m.start, n))
            left -= n
        return out

    def after(self, op, t, proc):
        w = self.w
        q = self.q
        if isinstance(op, Spawn):
            self.parents[op.ctx.cpu] = proc
            return [self._fork(align_up(t, q) + w.run_epochs * q, op.ctx.cpu)]
        if isinstance(op, Fork):
            self.children[proc.pid] = op.ctx.cpu
            start = align_up(t, q)
            out = self._writes(start, proc, w.child_writes, op.ctx)
            if w.kind == "shell" and isinstance(op.ctx, Child):      # the child forks before exec
                out.append(Scheduled(start, proc.home_cpu, Fork(proc.pid, f"{proc.name}.exec", (op.ctx.cpu,),
                                                                ctx=Grandchild(op.ctx.cpu))))
            elif w.kind == "shell":
                self.middles[proc.pid] = proc.parent
                out.append(Scheduled(start, proc.home_cpu, Exec(proc.pid, tuple(self._exec_image()), ctx=op.ctx)))
            elif w.kind == "fork_exec_exit":
                out.append(Scheduled(start, proc.home_cpu, Exec(proc.pid, tuple(self._exec_image()), ctx=op.ctx)))
            else:
                out.append(self.exit(start + w.run_epochs * q, proc))
            return out
        if isinstance(op, Exec):
            self.children.pop(proc.pid, None)
            return [self.exit(align_up(t, q) + w.run_epochs * q, proc)]
        if isinstance(op, Teardown) and proc.pid in self.middles:
            self.children.pop(proc.pid, None)          # the grandchild is gone: its parent exits
            return [self.exit(align_up(t, q) + w.run_epochs * q, self.middles.pop(proc.pid))]
        if isinstance(op, Teardown):
            self.outstanding -= 1
            self.children.pop(proc.pid, None)
            cpu = proc.home_cpu
            if self.left[cpu] > 0:
                parent = self.parents[cpu]
                return self._writes(t, parent, w.parent_writes, Parent(cpu)) + \
                    [self._fork(align_up(t, q) + q, cpu)]
        return []

    def _exec_image(self) -> list:
        return self._image()

    def ranges(self, proc):
        if proc.pid in self.children:
            return tuple(self._touched_upto(self.w.child_pages))
        return proc.map.ranges()

    def estimated_epochs(self):
        w = self.w
        per = w.run_epochs + 3 if w.kind != "shell" else 2 * w.run_epochs + 5
        return 2 + w.run_epochs + w.iterations * (per + w.pages * 4000 // self.q)
