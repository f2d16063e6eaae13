"""The protocol between the VM coordinator and the CPUs: frozen message records, no encoding.

Everything that crosses the CPU/VM boundary is one of these records. Both sides
import this module and nothing else of each other; how the records travel
(msgpack bytes, in this process or between Ray actors) is the runtime's
business (`smpsim.runtime.wire`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional


# A TLB entry on the wire: (tag, va_page, frame, pmap it was filled for).
TlbEntry = tuple[int, int, int, int]

# A CPU's TLB state for its loaded pmap, as in NetBSD's x86_tlb.c: VALID (running a user
# thread of it), LAZY (idle or in a kernel thread with it still loaded and referenced),
# STALE (a lazy CPU that took a shootdown for it and left its pm_cpus; it flushes before
# using it again) and KERNEL (pmap_kernel loaded).
VALID, LAZY, STALE, KERNEL = "VALID", "LAZY", "STALE", "KERNEL"

# What a context switch throws away from the TLB before the CPU runs on: nothing, the
# entries of one tag (INVPCID single-context), or everything but global pages (CR3 reload).
FLUSH_NONE, FLUSH_TAG, FLUSH_ALL = 0, 1, 2


@dataclass(frozen=True)
class CpuSetup:
    """Sent once: what the CPU needs to run (its id, TLB geometry, costs, seed).

    `pcid` is the hardware mode (CR4.PCIDE): with it, user entries are flushed per
    tag; without, every user flush is a full one.
    """
    cpu: int
    tlb_entries: int
    tlb_ways: int
    pcid: bool
    seed: int
    costs: dict = field(default_factory=dict)
    walk_lines: int = 64        # PTE cache lines remembered as walked (warm walks)


@dataclass(frozen=True)
class Switch:
    """Context-switch notice carried by a quantum: what the kernel decided for this CPU.

    The CPU applies it as told: flush (FLUSH_NONE, FLUSH_TAG: the entries of `tag`,
    FLUSH_ALL), then have `pmap` (None: pmap_kernel) loaded under `tag` in `state`.
    The kernel's pmap_activate / pmap_deactivate are the only place the state is decided.
    """
    pmap: Optional[int]
    tag: int = 0
    state: str = KERNEL
    flush: int = FLUSH_NONE


@dataclass(frozen=True)
class QuantumRequest:
    """Run one quantum: switch as told, install fills, then perform up to `accesses` lookups.

    With `budget` >= 0 the quantum is a budget of cycles: each access costs `user_cycles`
    of user work plus a TLB hit or a page walk (warm or cold), and the CPU stops when the
    budget is spent. `budget` < 0: no budget (every access is made; used by probes)."""
    epoch: int
    cpu: int
    switch: Switch
    ranges: tuple = ()          # ((start_va_page, npages), ...) the thread may touch
    accesses: int = 0
    fills: tuple = ()           # ((va_page, frame), ...) for the running pmap, from last misses
    want_tlb: bool = False      # reply with the whole TLB (invariant checking)
    budget: int = -1
    user_cycles: int = 0


@dataclass(frozen=True)
class QuantumReply:
    epoch: int
    cpu: int
    state: str                  # VALID, LAZY, STALE or KERNEL after the switch
    curpmap: Optional[int]
    hits: int
    misses: tuple               # unique missed va pages, in order of first miss
    tlb: Optional[tuple] = None
    accesses_done: int = 0      # user accesses completed within the budget
    cycles: int = 0             # cycles they took (user work, hits, walks)
    walk_cycles: int = 0        # of which page walks (TLB refills)
    warm_walks: int = 0         # walks that found their PTE line cached


@dataclass(frozen=True)
class ShootdownRequest:
    """Invalidate `vas` ((tag, va_page) pairs), or everything of `tags` when vas is None.

    `pmaps` are the pmaps the invalidations belong to (a P->V removal can cover
    several). `go_stale`: the kernel's lazy-TLB rule says this (lazy) target flushes
    everything of its loaded pmap and leaves its pm_cpus (STALE). `local` marks the
    initiator's own flush, which is not an IPI.
    """
    xid: int
    epoch: int
    initiator: int
    pmaps: tuple
    tags: tuple
    vas: Optional[tuple]
    reason: str
    local: bool = False
    go_stale: bool = False
    want_tlb: bool = False


@dataclass(frozen=True)
class ShootdownAck:
    xid: int
    cpu: int
    handler_cycles: int         # cycles the handler took on the target (stolen from it)
    invlpg: int
    tlb: Optional[tuple] = None
    flush_cycles: int = 0       # the flush part of handler_cycles (delays an ack sent after the flush)


@dataclass(frozen=True)
class SwitchAwayRequest:
    """Switch away from `pmap` (load pmap_kernel) if still lazily holding it."""
    xid: int
    epoch: int
    pmap: int
    reason: str
    want_tlb: bool = False


@dataclass(frozen=True)
class SwitchAwayAck:
    xid: int
    cpu: int
    switched: bool              # False: the CPU no longer held that pmap
    handler_cycles: int
    tlb: Optional[tuple] = None
    work_cycles: int = 0        # the switch part of handler_cycles (delays an ack sent after it)


@dataclass(frozen=True)
class SnapshotRequest:
    """Ask for the CPU's whole state (used by the invariant checker and tests)."""
    cpu: int


@dataclass(frozen=True)
class CpuSnapshot:
    cpu: int
    state: str
    curpmap: Optional[int]
    tag: int
    tlb: tuple


MESSAGE_TYPES = (CpuSetup, Switch, QuantumRequest, QuantumReply, ShootdownRequest,
                 ShootdownAck, SwitchAwayRequest, SwitchAwayAck, SnapshotRequest, CpuSnapshot)


def to_plain(msg) -> dict:
    """A message as a plain dict with its kind, for the exchange trace."""
    d = dataclasses.asdict(msg)
    d["kind"] = type(msg).__name__
    return d
