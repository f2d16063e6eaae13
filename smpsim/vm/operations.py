"""Kernel operations as typed records: what a workload asks the kernel to do, and when.

A workload hands the coordinator `Scheduled(time, cpu, op)` items; the event
queue orders them by (time, cpu, sequence) and the dispatcher runs each `op`
through the handler registered for its type. `ctx` is the workload's own
object for the operation (its state machine lives there, not in the kernel);
the kernel never looks inside it. Background operations (pagedaemon runs, TLB
misses) do not keep a finished workload's run alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional


class Mapping(NamedTuple):
    """One map entry of a new process: [start, start+npages) of object `obj` (a shared
    object's name, or None for anonymous memory) at `offset`, first `prefault` pages faulted in."""
    start: int
    npages: int
    obj: Optional[str]
    offset: int
    prefault: int
    prot: str


@dataclass(frozen=True, eq=False)
class Spawn:
    """fork/exec: a new process named `name` with threads on `cpus` (the first is home)."""
    name: str
    cpus: tuple
    entries: tuple
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Exit:
    """exit(): the threads leave now; the address space goes at the next quantum (Teardown)."""
    pid: int
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Teardown:
    """uvmspace_free of an exited process."""
    pid: int
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Mmap:
    pid: int
    start: int
    npages: int
    obj: Optional[str] = None
    offset: int = 0
    prot: str = "rw"
    prefault: int = 0
    ctx: Any = None
    touch: bool = False         # the prefaulted pages are accessed (PG_U set), as a write loop does
    background = False


@dataclass(frozen=True, eq=False)
class Munmap:
    pid: int
    start: int
    npages: int
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Mprotect:
    pid: int
    start: int
    npages: int
    prot: str
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Fork:
    """fork(): process `pid` (its thread on the forking CPU) creates a child with threads on
    `cpus` (uvmspace_fork); with `wait` the forking thread sleeps in wait() until the child exits."""
    pid: int
    name: str
    cpus: tuple
    wait: bool = True
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Exec:
    """execve(): process `pid` gets a new vmspace mapping `entries` (Mapping records); the old
    one is torn down as at exit (ExecTeardown) once the CPU has switched away from it."""
    pid: int
    entries: tuple
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class ExecTeardown:
    """uvmspace_free of the vmspace an exec replaced (`pid` is its holder record)."""
    pid: int
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class Touch:
    """Process `pid` reads (or writes) [start, start+npages): faults where the access traps
    (copy-on-write faults on a forked child's writes)."""
    pid: int
    start: int
    npages: int
    write: bool
    ctx: Any = None
    background = False


@dataclass(frozen=True, eq=False)
class PagedaemonRun:
    background = True


@dataclass(frozen=True, eq=False)
class Miss:
    """A TLB miss that found no valid PTE at quantum time, resolved at its moment."""
    pid: int
    va: int
    background = True


class Scheduled(NamedTuple):
    time: int
    cpu: int
    op: object
