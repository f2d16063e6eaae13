"""Physical pages: free, data (owned by an object), page-table pages, or kernel-owned.

The free list is LIFO, like uvm's per-colour free lists in effect: a page just
freed is the next handed out, which is exactly what makes the deferred-teardown
hazard real (a freed data page is reused while a dying pmap's PTEs still name it).
Data pages are also kept in allocation order for the pagedaemon's FIFO scan.
"""

from __future__ import annotations

from smpsim.errors import SimulationError

FREE, DATA, PTP, KERNEL = 0, 1, 2, 3
KIND_NAMES = {FREE: "free", DATA: "data", PTP: "ptp", KERNEL: "kernel"}


class PhysMem:
    def __init__(self, total: int, kernel_pages: int, freemin: int, freetarg: int):
        self.total = total
        self.freemin = freemin
        self.freetarg = freetarg
        self.kind = bytearray(total)
        self.counts = {FREE: total, DATA: 0, PTP: 0, KERNEL: 0}
        self.owner: dict[int, tuple] = {}        # data frame -> (object, offset)
        self.fifo: dict[int, None] = {}          # data frames, oldest first (pagedaemon scan order)
        # hand out low frames first: free list is a stack with frame 0 on top
        self.free_list = list(range(total - 1, -1, -1))
        for _ in range(kernel_pages):
            self._take(KERNEL)

    @property
    def free(self) -> int:
        return self.counts[FREE]

    def _take(self, kind: int) -> int:
        if not self.free_list:
            raise SimulationError("out of physical memory: no free page and nothing left to reclaim; "
                                  "raise machine.phys_pages or shrink the workload")
        frame = self.free_list.pop()
        self.kind[frame] = kind
        self.counts[FREE] -= 1
        self.counts[kind] += 1
        return frame

    def alloc_data(self, obj, offset: int) -> int:
        frame = self._take(DATA)
        self.owner[frame] = (obj, offset)
        self.fifo[frame] = None
        return frame

    def alloc_kernel(self) -> int:
        """A page the kernel keeps for itself for good (the shared zero page): never released."""
        return self._take(KERNEL)

    def alloc_ptp(self) -> int:
        return self._take(PTP)

    def release(self, frame: int) -> None:
        kind = self.kind[frame]
        if kind in (FREE, KERNEL):
            raise SimulationError(f"freeing frame {frame} which is {KIND_NAMES[kind]}")
        if kind == DATA:
            del self.owner[frame]
            del self.fifo[frame]
        self.kind[frame] = FREE
        self.counts[kind] -= 1
        self.counts[FREE] += 1
        self.free_list.append(frame)
