"""Which pages of a replayed address space the trace mapped as anonymous or shared memory.

The replay maps every private mapping as anonymous memory (docs/trace.md), but what a write
fault on a page the real kernel had present means depends on what the mapping was: in a private
file mapping, or an image execve mapped, the page was most likely mapped by fault-around and the
write copies it from the page cache, with a flush; in anonymous memory it was populated some
other way the trace does not show (the kernel's own copy_to_user, a user fault before the
recording), and in a shared mapping a write never copies. `AnonRanges` holds the page ranges
the trace mapped anonymous (mmap with MAP_ANONYMOUS, brk) or shared (MAP_SHARED), kept as the
calls change them; smpsim.experiments.workloads.trace_calls asks it.
"""

from __future__ import annotations


class AnonRanges:
    """Disjoint page ranges [start, end), in no particular order (a process has few)."""

    def __init__(self, ranges=()):
        self.ranges: list[tuple[int, int]] = list(ranges)

    def copy(self) -> "AnonRanges":
        return AnonRanges(self.ranges)

    def add(self, start: int, n: int) -> None:
        self.remove(start, n)
        if n > 0:
            self.ranges.append((start, start + n))

    def remove(self, start: int, n: int) -> None:
        end = start + n
        kept = []
        for lo, hi in self.ranges:
            if hi <= start or end <= lo:
                kept.append((lo, hi))
                continue
            if lo < start:
                kept.append((lo, start))
            if end < hi:
                kept.append((end, hi))
        self.ranges = kept

    def __contains__(self, page: int) -> bool:
        return any(lo <= page < hi for lo, hi in self.ranges)
