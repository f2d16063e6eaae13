"""Which page walks are warm: the PTE cache lines a CPU walked recently.

A page walk reads one PTE (and the upper levels, which a paging-structure cache
holds); its cost depends on whether that PTE's 64-byte line (8 PTEs) is still in
the CPU's data caches. The CPU remembers the last `walk_lines` lines it walked,
least recently used first out: a walk within them is warm (`page_walk_warm`,
~35 cycles), any other cold (`page_walk`, ~300; Molnar 2015). A TLB flush does
not evict these lines — which is why refilling a small working set after a full
flush is cheap and refilling a large one is not. The size is a choice
(`machine.walk_lines`), documented in the config schema.
"""

from __future__ import annotations


class WalkCache:
    def __init__(self, lines: int):
        self.lines = lines
        self.recent: dict[int, None] = {}

    def walk(self, tag: int, va: int) -> bool:
        """A walk of va under tag: True if warm. The line becomes most recently used."""
        key = (tag << 40) | (va >> 3)
        recent = self.recent
        if key in recent:
            del recent[key]
            recent[key] = None
            return True
        if self.lines:
            recent[key] = None
            if len(recent) > self.lines:
                del recent[next(iter(recent))]
        return False
