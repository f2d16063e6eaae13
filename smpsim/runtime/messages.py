"""Typed messages between the VM coordinator and the CPUs, with a msgpack encoding.

Everything that crosses the CPU/VM boundary is one of these frozen records;
`encode` and `decode` turn them into bytes and back, so the inline backend and
the Ray backend carry exactly the same bytes. Tuples become lists on the wire
and are restored by `decode`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import msgpack

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
    flushes: int                # full local flushes done by the switch
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
    full_flush: bool
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


MESSAGE_TYPES = [CpuSetup, Switch, QuantumRequest, QuantumReply, ShootdownRequest,
                 ShootdownAck, SwitchAwayRequest, SwitchAwayAck, SnapshotRequest, CpuSnapshot]
_CODE = {cls: i for i, cls in enumerate(MESSAGE_TYPES)}
_TUPLE_FIELDS = {cls: [f.name for f in dataclasses.fields(cls)] for cls in MESSAGE_TYPES}


def _to_wire(obj):
    if dataclasses.is_dataclass(obj):
        return msgpack.ExtType(_CODE[type(obj)], packb([getattr(obj, n) for n in _TUPLE_FIELDS[type(obj)]]))
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _from_wire(code, data):
    # use_list=False: arrays come back as tuples, the types the records declare
    return MESSAGE_TYPES[code](*msgpack.unpackb(data, ext_hook=_from_wire, strict_map_key=False,
                                                use_list=False))


def packb(obj) -> bytes:
    return msgpack.packb(obj, default=_to_wire, use_bin_type=True)


def encode(msg) -> bytes:
    """Bytes for one message (a dataclass above, or a list of them)."""
    return packb(msg)


def decode(data: bytes):
    """The message (or list of messages) encoded by `encode`."""
    return msgpack.unpackb(data, ext_hook=_from_wire, strict_map_key=False, use_list=False)


def to_plain(msg) -> dict:
    """A message as a plain dict with its kind, for the exchange trace."""
    d = dataclasses.asdict(msg)
    d["kind"] = type(msg).__name__
    return d
