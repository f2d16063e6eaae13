"""Locks as resources in simulated time, and the per-operation clock.

Operations are applied one at a time in the order of their simulated start time,
each atomically; their lock holds are recorded on per-lock calendars of busy
intervals. An acquisition at time t that falls inside a recorded hold waits
until that hold ends and counts as contended, so a later-starting operation
waits for (or, on the P->V path, retries against) the holds of earlier-starting
operations that overlap it in simulated time. All of this is deterministic.

Exclusion is exact at the moment of acquisition. A hold whose length is only
known at release may run into a hold recorded later in processing order by an
operation that started later; the calendar then merges the two (an
approximation of true interleaving). The shootdown mailbox, whose hold length is
known before it is taken, uses `Op.hold_for` and never overlaps.
"""

from __future__ import annotations

from bisect import bisect_right

from smpsim.summary import EXIT_PARTS as PARTS

# lock kind -> its (acquisitions, contended acquisitions, wait cycles) counters
LOCK_COUNTERS = {
    "pv": ("pv_lock_acquires", "pv_lock_contended", "pv_lock_wait_cycles"),
    "pmap": ("pmap_lock_acquires", "pmap_lock_contended", "pmap_lock_wait_cycles"),
    "object": ("object_lock_acquires", "object_lock_contended", "object_lock_wait_cycles"),
    "fpageq": ("fpageq_lock_acquires", "fpageq_lock_contended", "fpageq_lock_wait_cycles"),
    # the page allocators of today's kernels (smpsim.vm.strategies.alloc_*)
    **{f: (f"{f}_lock_acquires", f"{f}_lock_contended", f"{f}_lock_wait_cycles")
       for f in ("freelist", "domain_free", "uma_zdom", "zone", "lru")},
    # the address-space lock (SimRwLock): NetBSD/FreeBSD vm_map lock, Linux mmap_lock
    "map": ("map_lock_acquires", "map_lock_contended", "map_lock_wait_cycles"),
    "mmap": ("mmap_lock_acquires", "mmap_lock_contended", "mmap_lock_wait_cycles"),
}


class SimLock:
    """A lock's busy calendar: sorted, non-overlapping [start, end) intervals."""

    __slots__ = ("name", "kind", "starts", "ends", "last_cpu")

    def __init__(self, name: str, kind: str):
        self.name = name
        self.kind = kind          # counter family: a LOCK_COUNTERS key, or mailbox
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.last_cpu: int | None = None     # the CPU that last wrote the lock's cache line

    def free_at(self, t: int) -> int:
        """The earliest time >= t at which the lock is not held."""
        i = bisect_right(self.starts, t) - 1
        if i >= 0 and self.ends[i] > t:
            return self.ends[i]
        return t

    def free_for(self, t: int, duration: int) -> int:
        """The earliest time >= t from which the lock is free for `duration` cycles."""
        starts, ends = self.starts, self.ends
        t = self.free_at(t)
        i = bisect_right(starts, t)
        while i < len(starts) and starts[i] < t + duration:
            t = ends[i]
            i += 1
        return t

    def busy_at(self, t: int) -> bool:
        return self.free_at(t) != t

    def record(self, start: int, end: int) -> None:
        if end <= start:
            end = start + 1
        starts, ends = self.starts, self.ends
        i = bisect_right(starts, start)
        # merge with the previous interval if it touches
        if i > 0 and ends[i - 1] >= start:
            i -= 1
            start = starts[i]
            end = max(end, ends[i])
            del starts[i], ends[i]
        while i < len(starts) and starts[i] <= end:
            end = max(end, ends[i])
            del starts[i], ends[i]
        starts.insert(i, start)
        ends.insert(i, end)

    def prune(self, floor: int) -> None:
        """Forget holds that ended before `floor` (no later operation can start before it)."""
        n = bisect_right(self.ends, floor)
        if n:
            del self.starts[:n], self.ends[:n]


class RwSide:
    """One side (`read` or `write`) of a SimRwLock, taken with `Op.acquire` / `Op.release` like a
    SimLock: `free_at(t)` is when a thread arriving at t may enter this side (and notes t as
    its arrival), `record` files the hold with that arrival."""

    __slots__ = ("rw", "writer", "name", "kind", "arrival")

    def __init__(self, rw: "SimRwLock", writer: bool):
        self.rw = rw
        self.writer = writer
        self.name = f"{rw.name}.{'write' if writer else 'read'}"
        self.kind = rw.kind
        self.arrival = 0

    @property
    def last_cpu(self):
        return self.rw.last_cpu

    @last_cpu.setter
    def last_cpu(self, cpu) -> None:
        self.rw.last_cpu = cpu        # both sides write the same lock word

    def free_at(self, t: int) -> int:
        """First come, first served: a reader waits for every writer that arrived before it
        (holding, or itself waiting) to finish; a writer for every reader and writer that
        arrived before it. Later arrivals queue behind (an rwsem with waiters lets no new
        reader past a waiting writer), so a stream of readers cannot starve a writer."""
        self.arrival = t
        rw = self.rw
        ends = [end for arrival, end in rw.writes if arrival <= t < end]
        if self.writer:
            ends += [end for arrival, end in rw.reads if arrival <= t < end]
        return max(ends, default=t)

    def record(self, start: int, end: int) -> None:
        hold = (min(self.arrival, start), max(end, start + 1))
        (self.rw.writes if self.writer else self.rw.reads).append(hold)


class SimRwLock:
    """A reader/writer lock in simulated time (an rwlock / rw_semaphore: NetBSD's and FreeBSD's
    vm_map lock, Linux's mmap_lock), served first come, first served (`RwSide.free_at`). `read`
    and `write` are its two sides, each taken with `Op.acquire` like a SimLock; a writer that downgrades (Linux mmap_write_downgrade,
    `Op.downgrade`) releases `write` and holds `read` from the same instant. Holds are kept as
    (arrival, end), the write holds and the read holds apart. Operations are applied in the
    order they start, so a thread that reaches the lock earlier but starts later than one
    already applied may overlap it (the approximation SimLock makes too)."""

    __slots__ = ("name", "kind", "reads", "writes", "read", "write", "last_cpu")

    def __init__(self, name: str, kind: str):
        self.name = name
        self.kind = kind
        self.reads: list[tuple[int, int]] = []        # (arrival, end) of each read hold
        self.writes: list[tuple[int, int]] = []       # and of each write hold
        self.read = RwSide(self, writer=False)
        self.write = RwSide(self, writer=True)
        self.last_cpu: int | None = None

    def prune(self, floor: int) -> None:
        """Forget holds that ended before `floor` (no later operation can start before it)."""
        self.reads = [h for h in self.reads if h[1] > floor]
        self.writes = [h for h in self.writes if h[1] > floor]


class Op:
    """One kernel operation on one CPU: its local clock and where its cycles went. `kind` names
    the operation, `category` the `kernel_cycles` category it is accounted in (its kind unless
    given: an operation record declares both, smpsim.vm.operations)."""

    __slots__ = ("kind", "category", "cpu", "start", "t", "parts", "held", "counters", "topo", "deferred", "asleep")

    def __init__(self, kind: str, cpu: int, start: int, counters, category: str | None = None):
        self.kind = kind
        self.category = category or kind
        self.cpu = cpu
        self.start = start
        self.t = start
        self.parts = dict.fromkeys(PARTS, 0)
        self.held: list[tuple[SimLock, int, str]] = []
        self.counters = counters
        # the kernel's sockets and line costs travel with its counters (smpsim.vm.topology)
        self.topo = getattr(counters, "topology", None)
        self.deferred = 0         # cycles of a deferred pmap_destroy run inside this operation
        self.asleep = 0           # cycles asleep (uvm_wait for the pagedaemon): not this CPU's work

    def line(self, lock: SimLock) -> int:
        """Take the lock's cache line for writing: the transfer if another CPU wrote it last."""
        prev, lock.last_cpu = lock.last_cpu, self.cpu
        return self.topo.transfer(prev, self.cpu) if self.topo is not None else 0

    def spend(self, cycles: int, part: str = "other") -> None:
        self.t += cycles
        self.parts[part] += cycles

    def _wait(self, lock: SimLock, free: int) -> int:
        """Count the acquisition and wait until `free`; return the wait in cycles."""
        c = self.counters
        wait = free - self.t
        if lock.kind == "mailbox":
            if wait:
                c["mailbox_waits"] += 1
                c["mailbox_wait_cycles"] += wait
        else:
            acquires, contended, wait_cycles = LOCK_COUNTERS[lock.kind]
            c[acquires] += 1
            if wait:
                c[contended] += 1
                c[wait_cycles] += wait
        if wait:
            self.spend(wait, "lock_wait")
        return wait

    def acquire(self, lock: SimLock, cost: int, part: str) -> int:
        """Take `lock` (waiting for a recorded hold to end); return the wait in cycles."""
        wait = self._wait(lock, lock.free_at(self.t))
        self.held.append((lock, self.t, part))
        self.spend(cost + self.line(lock), part)
        return wait

    def hold_for(self, lock: SimLock, duration: int, part: str) -> int:
        """Take `lock` for a hold whose length is known in advance (the shootdown mailbox):
        wait for a gap long enough, so the hold never overlaps another. Returns the wait.
        The line transfer, if any, must be part of `duration` (see `Op.line`)."""
        wait = self._wait(lock, lock.free_for(self.t, duration))
        lock.record(self.t, self.t + duration)
        self.spend(duration, part)
        return wait

    def release(self, lock: SimLock, cost: int = 0) -> None:
        for i in range(len(self.held) - 1, -1, -1):
            if self.held[i][0] is lock:
                _, since, part = self.held.pop(i)
                break
        else:
            raise RuntimeError(f"{self.kind} on cpu{self.cpu} releases {lock.name} it does not hold")
        self.spend(cost, part)          # the release is part of the work the lock protected
        lock.record(since, self.t)

    def downgrade(self, rw: SimRwLock) -> None:
        """Turn a held write side of `rw` into a read hold from this instant (Linux
        mmap_write_downgrade): no writer can slip in between."""
        self.release(rw.write)
        rw.read.arrival = self.t
        self.held.append((rw.read, self.t, "other"))

    @property
    def cycles(self) -> int:
        return self.t - self.start
