"""Memory objects and address maps: uvm_object / amap, vm_map and vm_map_entry.

An anonymous object (an amap) belongs to one map entry and its pages are freed
when the entry is unmapped. A shared object (a file such as a library's text)
outlives its mappings: its pages stay cached until the pagedaemon evicts them,
and they are mapped by many processes (long P->V lists).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from smpsim.vm.locks import SimLock


class UObject:
    __slots__ = ("id", "name", "shared", "pages", "lock", "refs", "sourced", "spill")

    def __init__(self, oid: int, name: str, shared: bool):
        self.id = oid
        self.name = name
        self.shared = shared
        self.pages: dict[int, int] = {}      # offset (pages) -> frame
        self.lock = SimLock(f"obj{oid}", "object")
        self.refs = 0                        # map entries referencing it
        self.sourced = 0                     # of them, entries naming it as a copy-on-write source
        self.spill = False                   # holds pages a parent's copy-on-write left its children


def make_object(k, name: str, shared: bool) -> UObject:
    """A new object, registered with the kernel's objects."""
    obj = UObject(k.next_id("obj"), name, shared)
    k.objects[obj.id] = obj
    return obj


@dataclass(eq=False)
class VmMapEntry:
    """A mapped range [start, start+npages) of `obj` at `offset`.

    `pv` is the list head of proposal 1: with pv_tracking=map_entry the pmap links
    the PV entry of each mapping in this range here (va -> frame).

    `backing` is the copy-on-write source of a forked private entry (the parent's amap,
    shared with needs-copy set, as uvmspace_fork leaves it): a read fault maps its page
    read-only, a write fault copies it into `obj`, the entry's own amap. `chain` holds the
    sources behind it when the parent was itself a forked child (a child forking before exec,
    as a shell does): the grandchild's entry looks in `obj`, then `backing` (the child's own
    amap), then the chain (the grandparent's), as UVM's shared anons and Linux's anon_vma
    chains resolve. The entry holds a reference on every source.
    """
    start: int
    npages: int
    obj: UObject
    offset: int
    prot: str = "rw"
    wired: bool = False
    pv: dict = field(default_factory=dict)
    backing: UObject | None = None
    chain: tuple = ()

    def sources(self) -> tuple:
        """The copy-on-write sources, nearest first."""
        return () if self.backing is None else (self.backing, *self.chain)

    @property
    def end(self) -> int:
        return self.start + self.npages

    def contains(self, va: int) -> bool:
        return self.start <= va < self.start + self.npages


class VmMap:
    """A process's vm_map: entries sorted by start, non-overlapping."""

    def __init__(self, pmap):
        self.pmap = pmap
        self.entries: list[VmMapEntry] = []
        self._starts: list[int] = []         # each entry's start, in the same order (lookup's index)

    def insert(self, entry: VmMapEntry) -> None:
        i = bisect_right(self._starts, entry.start)
        for e in self.entries[max(0, i - 1):i + 1]:
            if e.start < entry.end and entry.start < e.end:
                raise ValueError(f"map entry [{entry.start:#x}, {entry.end:#x}) overlaps "
                                 f"[{e.start:#x}, {e.end:#x})")
        self.entries.insert(i, entry)
        self._starts.insert(i, entry.start)

    def remove(self, entry: VmMapEntry) -> None:
        i = self.entries.index(entry)
        del self.entries[i], self._starts[i]

    def lookup(self, va: int) -> VmMapEntry | None:
        i = bisect_right(self._starts, va) - 1
        if i >= 0 and va < self.entries[i].end:
            return self.entries[i]
        return None

    def ranges(self) -> tuple:
        return tuple((e.start, e.npages) for e in self.entries)
