"""Kernel operations as typed records: what a workload asks the kernel to do, and when.

A workload hands the coordinator `Scheduled(time, cpu, op)` items; the event
queue orders them by (time, cpu, due time, sequence) and the dispatcher runs each `op`
through the handler registered for its type. `ctx` is the workload's own
object for the operation (its state machine lives there, not in the kernel);
the kernel never looks inside it. Every record says what it is as data
(`Operation`): its `kind` (the name its timing `Op` carries), the
`kernel_cycles` category its cycles are counted in, and whether it is
background work — background operations (pagedaemon runs, TLB misses) do not
keep a finished workload's run alive — and whether it is a system call (`syscall`: the
dispatcher charges the fixed entry/exit cost `costs.syscall` on each; faults are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Optional


class Mapping(NamedTuple):
    """One map entry of a new process: [start, start+npages) of object `obj` (a shared
    object's name, or None for anonymous memory) at `offset`, first `prefault` pages faulted in."""
    start: int
    npages: int
    obj: Optional[str]
    offset: int
    prefault: int
    prot: str


class Operation:
    """What every operation record declares: `kind`, the operation's name (its `Op`'s kind, as
    the pmap and the events see it); `category`, where its cycles go in the summary's
    `kernel_cycles` (smpsim.vm.kernel.CATEGORIES); `background`, whether it is the kernel's
    own work rather than a workload's; `syscall`, whether a user thread entered the kernel
    by a system call to run it (charged `costs.syscall`)."""
    kind: ClassVar[str]
    category: ClassVar[str]
    background: ClassVar[bool] = False
    syscall: ClassVar[bool] = False


@dataclass(frozen=True, eq=False)
class Spawn(Operation):
    """fork/exec: a new process named `name` with threads on `cpus` (the first is home)."""
    name: str
    cpus: tuple
    entries: tuple
    ctx: Any = None
    kind: ClassVar[str] = "spawn"
    category: ClassVar[str] = "forks"
    syscall: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Exit(Operation):
    """exit(): the threads leave now; the address space goes at the next quantum (Teardown)."""
    pid: int
    ctx: Any = None
    kind: ClassVar[str] = "exit"
    category: ClassVar[str] = "exits"
    syscall: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Teardown(Operation):
    """uvmspace_free of an exited process."""
    pid: int
    ctx: Any = None
    kind: ClassVar[str] = "teardown"
    category: ClassVar[str] = "exits"


@dataclass(frozen=True, eq=False)
class Mmap(Operation):
    pid: int
    start: int
    npages: int
    obj: Optional[str] = None
    offset: int = 0
    prot: str = "rw"
    prefault: int = 0
    ctx: Any = None
    touch: bool = False         # the prefaulted pages are accessed (PG_U set), as a write loop does
    fixed: bool = False         # MAP_FIXED: what the range overlaps is unmapped first, in the same call
    kind: ClassVar[str] = "mmap"
    category: ClassVar[str] = "mmaps"
    syscall: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Munmap(Operation):
    """munmap(start, npages); `via` names another call that unmaps the same way (brk shrinking,
    mremap): its cycles count as munmaps' but not in the munmap count or latency."""
    pid: int
    start: int
    npages: int
    ctx: Any = None
    via: str = "munmap"
    kind: ClassVar[str] = "munmap"
    category: ClassVar[str] = "munmaps"
    syscall: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Mprotect(Operation):
    pid: int
    start: int
    npages: int
    prot: str
    ctx: Any = None
    kind: ClassVar[str] = "mprotect"
    category: ClassVar[str] = "mprotects"
    syscall: ClassVar[bool] = True


MADV_DONTNEED, MADV_FREE = "dontneed", "free"


@dataclass(frozen=True, eq=False)
class Madvise(Operation):
    """madvise(start, npages, advice) with advice MADV_DONTNEED or MADV_FREE: what the kernel
    does with the range is its `madvise` strategy's (smpsim.vm.madvise)."""
    pid: int
    start: int
    npages: int
    advice: str = MADV_DONTNEED
    ctx: Any = None
    kind: ClassVar[str] = "madvise"
    category: ClassVar[str] = "madvises"
    syscall: ClassVar[bool] = True

    def __post_init__(self):
        if self.advice not in (MADV_DONTNEED, MADV_FREE):
            raise ValueError(f"madvise advice {self.advice!r}; modelled: {MADV_DONTNEED!r}, {MADV_FREE!r}")


@dataclass(frozen=True, eq=False)
class Fork(Operation):
    """fork(): process `pid` (its thread on the forking CPU) creates a child with threads on
    `cpus` (uvmspace_fork); with `wait` the forking thread sleeps in wait() until the child exits."""
    pid: int
    name: str
    cpus: tuple
    wait: bool = True
    ctx: Any = None
    kind: ClassVar[str] = "fork"
    category: ClassVar[str] = "forks"
    syscall: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Exec(Operation):
    """execve(): process `pid` gets a new vmspace mapping `entries` (Mapping records); the old
    one is torn down as at exit (ExecTeardown) once the CPU has switched away from it."""
    pid: int
    entries: tuple
    ctx: Any = None
    kind: ClassVar[str] = "exec"
    category: ClassVar[str] = "execs"
    syscall: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class ExecTeardown(Operation):
    """uvmspace_free of the vmspace an exec replaced (`pid` is its holder record)."""
    pid: int
    ctx: Any = None
    kind: ClassVar[str] = "execteardown"
    category: ClassVar[str] = "execs"


@dataclass(frozen=True, eq=False)
class Touch(Operation):
    """Process `pid` reads (or writes) [start, start+npages): faults where the access traps
    (copy-on-write faults on a forked child's writes). `implicit` (start, npages): where
    `start` is mapped by nothing, an anonymous entry over that range is mapped first (a region
    a recorded program used that the recording never saw mapped: set up by execve or before
    the recording began; the replay counts them)."""
    pid: int
    start: int
    npages: int
    write: bool
    ctx: Any = None
    implicit: tuple = ()
    kind: ClassVar[str] = "touch"
    category: ClassVar[str] = "faults"


@dataclass(frozen=True, eq=False)
class PagedaemonRun(Operation):
    kind: ClassVar[str] = "pagedaemon"
    category: ClassVar[str] = "pagedaemon"
    background: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Miss(Operation):
    """A TLB miss that found no valid PTE at quantum time, resolved at its moment."""
    pid: int
    va: int
    kind: ClassVar[str] = "miss"
    category: ClassVar[str] = "faults"
    background: ClassVar[bool] = True


class Scheduled(NamedTuple):
    time: int
    cpu: int
    op: object
