"""A recorded program's tasks and address spaces, as the replay follows them.

A *task* is a thread of the trace (a tid); a *space* is one address space (an mm): the
processes of the command's tree each have one, their threads share it, and a `CLONE_VM` child
outside its parent's thread group (vfork, glibc's posix_spawn) borrows its parent's until it
execs. Each space replays its events in recorded order: an event's operations are made when
it may start, against the map as it then is (so a fault finds the mmap recorded before it,
whatever CPU either ran on), and start at their recorded time or, if what it waits for is still
busy, as soon as that is free (the lag is counted). A space's threads fault concurrently, as
they do under Linux's mmap_lock for reading (per-VMA locks since 6.4), NetBSD's and FreeBSD's
vm_map read lock: each thread has its own *lane*, and a fault waits only for its own thread's
previous fault. Every other event (mmap, munmap, mprotect, madvise, brk, mremap, fork, exec,
exit) is a *barrier*: it waits for every lane, and every later event waits for it. The queue is
first in, first out: a fault whose thread is still busy holds back the events behind it. Spaces
run concurrently with one another: nothing but fork relates two maps, and a child's space starts
once its fork has run.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from smpsim.experiments.workloads.trace_ranges import AnonRanges

# Tasks outside the command's tree that are kernel threads: a CPU running one keeps the user mm
# it had (lazy TLB), where a CPU running another user task has switched mm. A trace does not say
# which tasks are kernel threads; these are the names Linux gives its own (kernel/kthread.c
# callers), and a task named otherwise is taken for a user task.
KERNEL_THREAD = re.compile(r"^(swapper|kthreadd|kworker/|ksoftirqd/|rcu_|rcub/|migration/|cpuhp/|idle_inject/|"
                           r"kcompactd|kswapd|khugepaged|kdamond|oom_reaper|kauditd|kblockd|watchdog|irq/|"
                           r"jbd2/|writeback|kintegrityd|kthrotld|ksmd|scsi_|card\d|napi/|hwrng|kdevtmpfs)")


def is_kernel_thread(tid: int, comm: str) -> bool:
    return tid == 0 or bool(KERNEL_THREAD.match(comm))


@dataclass(eq=False)
class Lane:
    """The operations of one event in flight on a space: a thread's faults, or the barrier."""
    ops: deque = field(default_factory=deque)         # the event's operations not yet issued
    busy: bool = False                 # one of them is in flight
    free_at: int = 0                   # when its last operation finished

    def idle(self) -> bool:
        return not self.busy and not self.ops


BARRIER = None                         # the lane key of every event that is not a fault


@dataclass(eq=False)
class Space:
    """One address space of the trace, its queue of recorded events and its lanes."""
    name: str
    proc: object = None                # the model's process, once its spawn or fork has run
    pending: deque = field(default_factory=deque)     # (time, cpu, lane key, action) not yet started
    lanes: dict = field(default_factory=dict)         # lane key (a tid, or BARRIER) -> Lane
    free_at: int = 0                   # when its last operation of any lane finished
    barrier_at: int = 0                # when its last barrier finished
    live: int = 0                      # tasks of the tree using it
    brk: int | None = None             # the program break (bytes), once a brk call has said it
    anon: AnonRanges = field(default_factory=AnonRanges)   # pages mapped anonymous or shared
    dead: bool = False                 # exited: later events of it are orphans

    def lane(self, key) -> Lane:
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = Lane()
        return lane

    def admits(self, key) -> bool:
        """May the event at the head of the queue, of lane `key`, start now?"""
        if self.proc is None:
            return False
        if key is BARRIER:
            return all(lane.idle() for lane in self.lanes.values())
        return self.lane(BARRIER).idle() and self.lane(key).idle()

    def finished(self, lane: Lane, key, t: int) -> None:
        lane.busy, lane.free_at = False, t
        self.free_at = max(self.free_at, t)
        if key is BARRIER:
            self.barrier_at = t


@dataclass(eq=False)
class Task:
    """One thread of the command's tree."""
    tid: int
    tgid: int
    comm: str
    space: Space | None = None
    borrowed: bool = False             # a vfork/posix_spawn child on its parent's space, until exec
    thread: object = None              # the model's thread that stands for it
    enter: tuple = ()                  # the arguments of its system call in progress
    alive: bool = True


@dataclass(frozen=True, eq=False)
class Step:
    """What an operation of the replay belongs to (its `ctx`): its space, and for a fork or a
    spawn, the space it creates; `lane` its lane's key (None for a spawn)."""
    space: Space
    creates: Space | None = None
    lane: object = BARRIER


def prot_of(bits: int) -> str:
    """PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4 as the model's protection string."""
    return "".join(ch for bit, ch in ((1, "r"), (2, "w"), (4, "x")) if bits & bit)
