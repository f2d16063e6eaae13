"""A set-associative TLB with LRU replacement, tagged by pmap or PCID.

One combined level models the second-level STLB (1536 entries, 6-way on
Haswell-Skylake, per Intel's CPUID descriptors): the L1 dTLB only changes how
cheap a hit is, not whether a translation is cached, so it is folded into the
hit cost. Keys are `tag << 40 | va_page` so a lookup is one dict operation.
Values are `owner << 40 | frame`: the frame, and (for the invariant checker
only, a real TLB has no such field) the pmap the entry was filled for, so that
an entry surviving the reuse of its PCID by another pmap can be recognised.
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
        """The frame va maps to under tag, or None on a miss (LRU updated on a hit)."""
        s = self.sets[va % self.nsets]
        key = (tag << TAG_SHIFT) | va
        value = s.get(key)
        if value is None:
            return None
        self.access(tag, (va,))
        return value & VA_MASK

    def access(self, tag: int, vas) -> tuple[int, list[int]]:
        """Look up every va of `vas` in order under `tag` (LRU updated on each hit).
        Returns (hits, misses): misses are the unique missed vas in order of first miss;
        a later access to a va that missed counts as a hit (the hardware walk filled it)."""
        sets, nsets = self.sets, self.nsets
        tagbits = tag << TAG_SHIFT
        pending: set[int] = set()
        misses: list[int] = []
        hits = 0
        for va in vas:
            s = sets[va % nsets]
            key = tagbits | va
            value = s.pop(key, None)
            if value is not None:
                s[key] = value
                hits += 1
            elif va in pending:
                hits += 1
            else:
                pending.add(va)
                misses.append(va)
        return hits, misses

    def hit(self, tag: int, va: int) -> bool:
        """One lookup: True on a hit (LRU updated), False on a miss."""
        s = self.sets[va % self.nsets]
        key = (tag << TAG_SHIFT) | va
        value = s.pop(key, None)
        if value is None:
            return False
        s[key] = value
        return True

    def insert(self, tag: int, va: int, frame: int, owner: int = 0) -> None:
        s = self.sets[va % self.nsets]
        key = (tag << TAG_SHIFT) | va
        s.pop(key, None)
        if len(s) >= self.ways:
            del s[next(iter(s))]
        s[key] = (owner << TAG_SHIFT) | frame

    def invalidate(self, tag: int, va: int) -> bool:
        return self.sets[va % self.nsets].pop((tag << TAG_SHIFT) | va, None) is not None

    def flush_tag(self, tag: int) -> int:
        n = 0
        if not any(self.sets):
            return 0               # an empty TLB (a replayed trace makes no synthetic accesses)
        for s in self.sets:
            dead = [k for k in s if k >> TAG_SHIFT == tag]
            for k in dead:
                del s[k]
            n += len(dead)
        return n

    def flush_all(self) -> None:
        for s in self.sets:
            s.clear()

    def entries(self) -> list[tuple[int, int, int, int]]:
        """(tag, va, frame, owner pmap) for every entry, sorted."""
        return sorted((k >> TAG_SHIFT, k & VA_MASK, v & VA_MASK, v >> TAG_SHIFT)
                      for s in self.sets for k, v in s.items())

    def __len__(self) -> int:
        return sum(len(s) for s in self.sets)
