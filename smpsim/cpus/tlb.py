"""A set-associative TLB with LRU replacement, tagged by pmap or PCID.

One combined level models the second-level STLB (1536 entries, 6-way on
Haswell-Skylake, per Intel's CPUID descriptors): the L1 dTLB only changes how
cheap a hit is, not whether a translation is cached, so it is folded into the
hit cost. Keys are `tag << 40 | va_page` so a lookup is one dict operation.
"""

from __future__ import annotations

TAG_SHIFT = 40
VA_MASK = (1 << TAG_SHIFT) - 1


class Tlb:
    def __init__(self, entries: int = 1536, ways: int = 6):
        if entries <= 0 or ways <= 0 or entries % ways:
            raise ValueError(f"TLB entries ({entries}) must be a positive multiple of ways ({ways})")
        self.nsets = entries // ways
        self.ways = ways
        # One dict per set; insertion order is LRU order (oldest first).
        self.sets: list[dict[int, int]] = [dict() for _ in range(self.nsets)]

    def lookup(self, tag: int, va: int) -> int | None:
        s = self.sets[va % self.nsets]
        key = (tag << TAG_SHIFT) | va
        frame = s.pop(key, None)
        if frame is not None:
            s[key] = frame
        return frame

    def insert(self, tag: int, va: int, frame: int) -> None:
        s = self.sets[va % self.nsets]
        key = (tag << TAG_SHIFT) | va
        s.pop(key, None)
        if len(s) >= self.ways:
            del s[next(iter(s))]
        s[key] = frame

    def invalidate(self, tag: int, va: int) -> bool:
        return self.sets[va % self.nsets].pop((tag << TAG_SHIFT) | va, None) is not None

    def flush_tag(self, tag: int) -> int:
        n = 0
        for s in self.sets:
            dead = [k for k in s if k >> TAG_SHIFT == tag]
            for k in dead:
                del s[k]
            n += len(dead)
        return n

    def flush_all(self) -> None:
        for s in self.sets:
            s.clear()

    def entries(self) -> list[tuple[int, int, int]]:
        return sorted((k >> TAG_SHIFT, k & VA_MASK, f) for s in self.sets for k, f in s.items())

    def __len__(self) -> int:
        return sum(len(s) for s in self.sets)
