"""Workloads: deterministic generators of kernel operations (SPEC §5).

A workload hands the coordinator timed operations — (time, cpu, kind, args) with
kind one of spawn, exit, munmap, mmap — and is told when each finishes so it can
schedule what follows. Address-space layouts put map entries 1 GiB apart
(each entry gets its own page directory), as a process's text, heap, libraries
and stack are in a real address space.
"""

from __future__ import annotations

ENTRY_STRIDE = 1 << 18          # pages: 1 GiB between entries


def align_up(t: int, q: int) -> int:
    return -(-t // q) * q


def split_layout(pages: int, entries: int, base_slot: int = 1, obj_prefix=None) -> list:
    """`pages` split over `entries` anonymous entries, fully prefaulted."""
    n = min(entries, pages)
    sizes = [pages // n + (1 if i < pages % n else 0) for i in range(n)]
    return [((base_slot + i) * ENTRY_STRIDE, size, None, 0, size, "rw") for i, size in enumerate(sizes)]


class Workload:
    def __init__(self, config, k):
        self.cfg = config
        self.w = config.workload
        self.k = k
        self.q = config.machine.quantum_cycles
        self.ncpus = config.machine.ncpus
        self.outstanding = 0          # operations scheduled by the workload not yet finished
        self._ranges: dict[int, tuple] = {}

    # --- interface used by the coordinator -------------------------------------------------
    def initial_events(self) -> list:
        raise NotImplementedError

    def after(self, kind: str, args: dict, t: int, proc) -> list:
        return []

    def finished(self) -> bool:
        return self.outstanding == 0

    def estimated_epochs(self) -> int:
        return 1

    def ranges(self, proc) -> tuple:
        """What the process's threads touch: every mapped range."""
        return proc.map.ranges()

    # --- helpers -----------------------------------------------------------------------------
    def ev(self, time, cpu, kind, **args):
        return (time, cpu, kind, args)

    def spawn(self, time, cpu, name, cpus, entries, **extra):
        return self.ev(time, cpu, "spawn", name=name, cpus=list(cpus), entries=entries, **extra)


class ExitStorm(Workload):
    def __init__(self, config, k):
        super().__init__(config, k)
        self.spawned_at: list[int] = []
        self.layout = self._layout()

    def _layout(self):
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
                entries.append((e.start_page, e.npages, obj, e.offset_pages, touch, e.prot))
            layouts.append(entries)
        return layouts

    def initial_events(self):
        w = self.w
        out = []
        for i in range(w.processes):
            cpus = [(i * w.threads + j) % self.ncpus for j in range(w.threads)]
            out.append(self.spawn(0, cpus[0], f"storm{i}", cpus, self.layout[i % len(self.layout)], index=i))
        self.outstanding = w.processes
        return out

    def ranges(self, proc):
        if self.w.image is None:
            return proc.map.ranges()
        return tuple((e.start, min(e.npages, self.w.pages)) for e in proc.map.entries if "r" in e.prot)

    def after(self, kind, args, t, proc):
        w = self.w
        if kind == "spawn":
            self.spawned_at.append(t)
            if w.exit == "staggered":
                when = align_up(t, self.q) + (w.run_epochs + args["index"] * w.stagger_epochs) * self.q
                return [self.ev(when, proc.home_cpu, "exit", pid=proc.pid)]
            if len(self.spawned_at) == w.processes:
                when = align_up(max(self.spawned_at), self.q) + w.run_epochs * self.q
                return [self.ev(when, p.home_cpu, "exit", pid=p.pid) for p in self.k.procs.values()]
        if kind == "teardown":
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        w = self.w
        return 2 + w.run_epochs + (w.processes * w.stagger_epochs if w.exit == "staggered" else 1) + \
            w.pages * w.processes * 4000 // self.q // max(1, min(self.ncpus, w.processes))


class ForkExit(Workload):
    """fork_exit: each CPU spawns a process, lets it run, exits it, repeats.
    fork_exec_exit: each process also maps `libs` shared library texts."""

    def __init__(self, config, k):
        super().__init__(config, k)
        self.left = {c: self.w.iterations for c in range(self.ncpus)}

    def _proc(self, time, cpu):
        w = self.w
        self.left[cpu] -= 1
        entries = split_layout(w.pages, w.entries)
        if w.kind == "fork_exec_exit":
            slot = len(entries) + 1
            for j in range(w.libs):
                entries.append(((slot + j) * ENTRY_STRIDE, w.lib_pages, f"lib{j}.so", 0, w.lib_pages, "rx"))
        return self.spawn(time, cpu, f"child{cpu}.{self.left[cpu]}", [cpu], entries)

    def initial_events(self):
        self.outstanding = self.ncpus * self.w.iterations
        return [self._proc(0, c) for c in range(self.ncpus)]

    def after(self, kind, args, t, proc):
        if kind == "spawn":
            return [self.ev(align_up(t, self.q) + self.w.run_epochs * self.q, proc.home_cpu, "exit", pid=proc.pid)]
        if kind == "teardown":
            self.outstanding -= 1
            if self.left[proc.home_cpu] > 0:
                return [self._proc(t, proc.home_cpu)]
        return []

    def estimated_epochs(self):
        w = self.w
        return 2 + w.iterations * (w.run_epochs + 2 + w.pages * 4000 // self.q)


class MunmapFanout(Workload):
    """One process, threads on CPUs 0..k-1; each round maps R pages, lets every thread
    touch them, then unmaps them (shootdown to the other k-1 CPUs)."""

    REGION = 2 * ENTRY_STRIDE

    def initial_events(self):
        w = self.w
        self.rounds_left = w.rounds
        self.outstanding = 1
        text = [(ENTRY_STRIDE, 16, None, 0, 16, "rx")]
        return [self.spawn(0, 0, "fanout", range(w.threads), text)]

    def _mmap(self, t, proc):
        w = self.w
        self.rounds_left -= 1
        return self.ev(t, proc.home_cpu, "mmap", pid=proc.pid, start=self.REGION, npages=w.region_pages,
                       prefault=w.region_pages)

    def after(self, kind, args, t, proc):
        w = self.w
        if kind == "spawn":
            return [self._mmap(align_up(t, self.q), proc)]
        if kind == "mmap" or kind == "mprotect":
            if kind == "mmap" and w.protect:
                return [self.ev(align_up(t, self.q) + w.interval_epochs * self.q, proc.home_cpu, "mprotect",
                                pid=proc.pid, start=self.REGION, npages=w.region_pages, prot="r")]
            return [self.ev(align_up(t, self.q) + w.interval_epochs * self.q, proc.home_cpu, "munmap",
                            pid=proc.pid, start=self.REGION, npages=w.region_pages)]
        if kind == "munmap":
            if self.rounds_left > 0:
                return [self._mmap(t, proc)]
            return [self.ev(t, proc.home_cpu, "exit", pid=proc.pid)]
        if kind == "teardown":
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        w = self.w
        return 3 + w.rounds * (w.interval_epochs + 1 + w.region_pages * 4000 // self.q)


class MemoryPressure(Workload):
    """Short-lived processes on CPUs 0..P-1 exit one by one and leave their CPUs idle,
    lazily holding the dying pmaps, while growers on the next CPUs keep faulting in memory."""

    GROW_BASE = 64 * ENTRY_STRIDE

    def initial_events(self):
        w = self.w
        out = []
        for i in range(w.processes):
            out.append(self.spawn(0, i, f"short{i}", [i], split_layout(w.pages, w.entries), role="short", index=i))
        for g in range(w.growers):
            cpu = w.processes + g
            out.append(self.spawn(0, cpu, f"grower{g}", [cpu], [(ENTRY_STRIDE, 16, None, 0, 16, "rw")],
                                  role="grower", index=g))
        self.outstanding = w.processes + w.growers
        self.last_exit_epoch = w.exit_start_epoch + (w.processes - 1) * w.stagger_epochs
        self.stop_epoch = self.last_exit_epoch + w.run_epochs
        self.grown = {}
        return out

    def after(self, kind, args, t, proc):
        w = self.w
        if kind == "spawn":
            if args["role"] == "short":
                when = (w.exit_start_epoch + args["index"] * w.stagger_epochs) * self.q
                return [self.ev(max(when, align_up(t, self.q)), proc.home_cpu, "exit", pid=proc.pid)]
            return [self._grow(align_up(t, self.q), proc)]
        if kind == "mmap":
            nxt = align_up(t + 1, self.q)
            if nxt // self.q < self.stop_epoch:
                return [self._grow(nxt, proc)]
            self.outstanding -= 1
        if kind == "teardown":
            self.outstanding -= 1
        return []

    def _grow(self, t, proc):
        r = self.grown.get(proc.pid, 0)
        self.grown[proc.pid] = r + 1
        start = self.GROW_BASE + r * self.w.grow_pages
        return self.ev(t, proc.home_cpu, "mmap", pid=proc.pid, start=start, npages=self.w.grow_pages,
                       prefault=self.w.grow_pages)

    def ranges(self, proc):
        # growers touch their newest regions only (the old ones are cold and get evicted)
        return proc.map.ranges()[-4:]

    def estimated_epochs(self):
        return self.stop_epoch + 2


class SharedEviction(Workload):
    """N processes map one shared object; every round each unmaps and remaps a chunk of it
    and faults in private pages, so the pagedaemon (FIFO: the shared pages are oldest)
    evicts shared pages with long P->V lists while the munmaps run."""

    SHARED = ENTRY_STRIDE
    PRIVATE = 8 * ENTRY_STRIDE
    SPACING = 1000                   # cycles between the processes' round operations

    def initial_events(self):
        w = self.w
        out = []
        for i in range(w.processes):
            cpu = i % self.ncpus
            entries = [(self.SHARED, w.object_pages, "shared.obj", 0, w.object_pages, "r")]
            out.append(self.spawn(i * self.SPACING, cpu, f"sharer{i}", [cpu], entries, index=i))
        self.outstanding = w.processes
        self.round = {}
        return out

    def _round_start(self, proc, index, t):
        r = self.round.get(proc.pid, 0)
        w = self.w
        if r >= w.rounds:
            return [self.ev(t, proc.home_cpu, "exit", pid=proc.pid)]
        self.round[proc.pid] = r + 1
        when = align_up(t, self.q) + index * self.SPACING
        chunk_off = ((r * w.processes + index) * w.chunk_pages) % (w.object_pages - w.chunk_pages + 1)
        return [self.ev(when, proc.home_cpu, "munmap", pid=proc.pid, start=self.SHARED + chunk_off,
                        npages=w.chunk_pages, index=index, chunk_off=chunk_off, round=r)]

    def after(self, kind, args, t, proc):
        w = self.w
        if kind == "spawn":
            return self._round_start(proc, args["index"], t)
        if kind == "munmap" and "chunk_off" in args:
            off = args["chunk_off"]
            return [self.ev(t, proc.home_cpu, "mmap", pid=proc.pid, start=self.SHARED + off, npages=w.chunk_pages,
                            obj="shared.obj", offset=off, prefault=w.chunk_pages, prot="r",
                            index=args["index"], round=args["round"], phase="remap")]
        if kind == "mmap" and args.get("phase") == "remap":
            start = self.PRIVATE + (args["round"] % 2) * ENTRY_STRIDE
            old = self.PRIVATE + ((args["round"] + 1) % 2) * ENTRY_STRIDE
            out = []
            if w.anon_pages:
                if args["round"] > 0:
                    out.append(self.ev(t, proc.home_cpu, "munmap", pid=proc.pid, start=old, npages=w.anon_pages))
                out.append(self.ev(t, proc.home_cpu, "mmap", pid=proc.pid, start=start, npages=w.anon_pages,
                                   prefault=w.anon_pages, index=args["index"], phase="anon"))
                return out
            return self._round_start(proc, args["index"], t)
        if kind == "mmap" and args.get("phase") == "anon":
            return self._round_start(proc, args["index"], t)
        if kind == "teardown":
            self.outstanding -= 1
        return []

    def estimated_epochs(self):
        return 2 + self.w.rounds * 2


WORKLOADS = {"exit_storm": ExitStorm, "fork_exit": ForkExit, "fork_exec_exit": ForkExit,
             "munmap_fanout": MunmapFanout, "memory_pressure": MemoryPressure,
             "shared_eviction": SharedEviction}


def make_workload(config, k) -> Workload:
    return WORKLOADS[config.workload.kind](config, k)
