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


@dataclass(frozen=True)
class CpuSetup:
    """Sent once: what the CPU needs to run (its id, TLB geometry, costs, switches, seed)."""
    cpu: int
    tlb_entries: int
    tlb_ways: int
    lazy_tlb: bool
    pcid: bool
    seed: int
    costs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Switch:
    """Context-switch notice carried by a quantum: what the scheduler decided for this CPU.

    run_pmap None means no user thread (idle or a kernel thread). flush_tag asks the
    CPU to flush the entries of `tag` before use (PCID reuse or a missed shootdown
    while the PCID was inactive).
    """
    run_pmap: Optional[int]
    tag: int = 0
    flush_tag: bool = False


@dataclass(frozen=True)
class QuantumRequest:
    """Run one quantum: switch as told, install fills, then perform `accesses` lookups."""
    epoch: int
    cpu: int
    switch: Switch
    ranges: tuple = ()          # ((start_va_page, npages), ...) the thread may touch
    accesses: int = 0
    fills: tuple = ()           # ((va_page, frame), ...) for the running pmap, from last misses
    want_tlb: bool = False      # reply with the whole TLB (invariant checking)


@dataclass(frozen=True)
class QuantumReply:
    epoch: int
    cpu: int
    state: str                  # VALID, LAZY, STALE or KERNEL after the switch
    curpmap: Optional[int]
    hits: int
    misses: tuple               # unique missed va pages, in order of first miss
    tlb: Optional[tuple] = None


@dataclass(frozen=True)
class ShootdownRequest:
    """Invalidate `vas` ((tag, va_page) pairs), or everything of `tags` when vas is None.

    `pmaps` are the pmaps the invalidations belong to (a P->V removal can cover
    several); a LAZY target holding one of them goes STALE. `local` marks the
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
    want_tlb: bool = False


@dataclass(frozen=True)
class ShootdownAck:
    xid: int
    cpu: int
    handler_cycles: int         # cycles the handler took on the target (stolen from it)
    invlpg: int
    went_stale: bool            # a LAZY target dropped out of pm_cpus
    tlb: Optional[tuple] = None


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
