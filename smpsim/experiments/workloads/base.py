"""The workload interface and the helpers every workload uses."""

from __future__ import annotations

from smpsim.vm.operations import Exit, Mapping, Scheduled, Spawn

ENTRY_STRIDE = 1 << 18          # pages: 1 GiB between entries (each gets its own page directory)


def align_up(t: int, q: int) -> int:
    return -(-t // q) * q


def split_layout(pages: int, entries: int, base_slot: int = 1) -> tuple:
    """`pages` split over `entries` anonymous entries, 1 GiB apart (as a process's text, heap,
    libraries and stack are in a real address space), fully prefaulted."""
    n = min(entries, pages)
    sizes = [pages // n + (1 if i < pages % n else 0) for i in range(n)]
    return tuple(Mapping((base_slot + i) * ENTRY_STRIDE, size, None, 0, size, "rw") for i, size in enumerate(sizes))


class Workload:
    def __init__(self, config):
        self.cfg = config
        self.w = config.workload
        self.q = config.machine.quantum_cycles
        self.ncpus = config.machine.ncpus
        self.outstanding = 0          # operations scheduled by the workload not yet finished
        self.k = None

    def bind(self, k) -> None:
        """The kernel this workload drives (its processes are read from it)."""
        self.k = k

    # --- interface used by the coordinator -------------------------------------------------
    def initial_operations(self) -> list[Scheduled]:
        raise NotImplementedError

    def after(self, op, t: int, proc) -> list[Scheduled]:
        """Operation `op` of process `proc` finished at time t: what comes next."""
        return []

    def finished(self) -> bool:
        return self.outstanding == 0

    def estimated_epochs(self) -> int:
        return 1

    def ranges(self, proc) -> tuple:
        """What the process's threads touch: every mapped range."""
        return proc.map.ranges()

    # --- for a workload that follows a recorded timeline (smpsim.experiments.workloads.trace) --
    # picks_threads: `pick` says which thread each CPU runs, instead of the scheduler's round robin;
    # user_accesses False: running threads make no synthetic accesses (the recorded faults are the
    # workload's accesses).
    picks_threads = False
    user_accesses = True

    def pick(self, view, t: int):
        """The thread CPU `view` runs in the quantum from `t` (None: idle or a kernel thread)."""
        raise NotImplementedError

    def due(self, end: int) -> list[Scheduled]:
        """Operations falling due before `end`, for a workload read as time goes (called at the
        start of every epoch, before its quanta)."""
        return []

    def has_more(self) -> bool:
        """Whether operations are still to come from `due` (the run is not finished meanwhile)."""
        return False

    def next_time(self) -> int | None:
        """The earliest time the workload next does anything (None: unknown, no epoch is skipped)."""
        return None

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def spawn(time: int, cpu: int, name: str, cpus, entries, ctx=None) -> Scheduled:
        return Scheduled(time, cpu, Spawn(name, tuple(cpus), tuple(entries), ctx))

    @staticmethod
    def exit(time: int, proc) -> Scheduled:
        return Scheduled(time, proc.home_cpu, Exit(proc.pid))
