"""shared_eviction: N processes map one shared object; every round each unmaps and remaps a
chunk of it and faults in private pages, so the pagedaemon (FIFO: the shared pages are
oldest) evicts shared pages with long P->V lists while the munmaps run."""

from __future__ import annotations

from dataclasses import dataclass

from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up
from smpsim.vm.operations import Mapping, Mmap, Munmap, Scheduled, Spawn, Teardown


@dataclass(frozen=True)
class Chunk:
    """A round's unmap (then remap) of one chunk of the shared object."""
    index: int
    offset: int
    round: int
    remapped: bool = False


@dataclass(frozen=True)
class Private:
    """The round's private pages, faulted in after the remap."""
    index: int


class SharedEviction(Workload):
    SHARED = ENTRY_STRIDE
    PRIVATE = 8 * ENTRY_STRIDE
    SPACING = 1000                   # cycles between the processes' round operations

    def initial_operations(self):
        w = self.w
        out = []
        for i in range(w.processes):
            cpu = i % self.ncpus
            entries = [Mapping(self.SHARED, w.object_pages, "shared.obj", 0, w.object_pages, "r")]
            out.append(self.spawn(i * self.SPACING, cpu, f"sharer{i}", [cpu], entries, ctx=i))
        self.outstanding = w.processes
        self.round: dict[int, int] = {}
        return out

    def _round_start(self, proc, index, t):
        r = self.round.get(proc.pid, 0)
        w = self.w
        if r >= w.rounds:
            return [self.exit(t, proc)]
        self.round[proc.pid] = r + 1
        when = align_up(t, self.q) + index * self.SPACING
        off = ((r * w.processes + index) * w.chunk_pages) % (w.object_pages - w.chunk_pages + 1)
        return [Scheduled(when, proc.home_cpu, Munmap(proc.pid, self.SHARED + off, w.chunk_pages,
                                                      ctx=Chunk(index, off, r)))]

    def after(self, op, t, proc):
        w = self.w
        ctx = getattr(op, "ctx", None)
        if isinstance(op, Spawn):
            return self._round_start(proc, op.ctx, t)
        if isinstance(op, Munmap) and isinstance(ctx, Chunk):
            return [Scheduled(t, proc.home_cpu, Mmap(proc.pid, self.SHARED + ctx.offset, w.chunk_pages,
                                                     obj="shared.obj", offset=ctx.offset, prot="r",
                                                     prefault=w.chunk_pages,
                                                     ctx=Chunk(ctx.index, ctx.offset, ctx.round, True)))]
        if isinstance(op, Mmap) and isinstance(ctx, Chunk):
            return self._after_remap(ctx, t, proc)
        if isinstance(op, Mmap) and isinstance(ctx, Private):
            return self._round_start(proc, ctx.index, t)
        if isinstance(op, Teardown):
            self.outstanding -= 1
        return []

    def _after_remap(self, ctx: Chunk, t, proc):
        w = self.w
        if not w.anon_pages:
            return self._round_start(proc, ctx.index, t)
        start = self.PRIVATE + (ctx.round % 2) * ENTRY_STRIDE
        old = self.PRIVATE + ((ctx.round + 1) % 2) * ENTRY_STRIDE
        out = []
        if ctx.round > 0:
            out.append(Scheduled(t, proc.home_cpu, Munmap(proc.pid, old, w.anon_pages)))
        out.append(Scheduled(t, proc.home_cpu, Mmap(proc.pid, start, w.anon_pages, prefault=w.anon_pages,
                                                    ctx=Private(ctx.index))))
        return out

    def estimated_epochs(self):
        return 2 + self.w.rounds * 2
