"""madvise(MADV_DONTNEED / MADV_FREE) per kernel, the kind's interface (`MadviseStrategy`): what
the kernel does to the pages and mappings of an advised range (`madvise`).

The values: `zap` (Linux: DONTNEED discards the pages, FREE clears the young/dirty bits and frees
lazily; `madvise_zap`), `advise` (FreeBSD: pmap_advise + vm_object_madvise, data and mappings
kept; `madvise_advise`), `deactivate` (NetBSD: uvm_map_clean with PGO_DEACTIVATE or PGO_FREE;
`madvise_deactivate`). The system call around them (the address-space lock, the fixed syscall
cost) is smpsim.vm.madvise.
"""

from __future__ import annotations

import abc

from smpsim.vm.declare import Kind


class MadviseStrategy(abc.ABC):
    """Kernel hooks: `dontneed` and `free` are the advice's work on [start, end) of process
    `proc` (whole or part map entries), run with the address-space lock held as the kernel
    holds it; each sends whatever shootdown it needs before it returns."""

    KIND = Kind("madvise", "deactivate", "What madvise(MADV_DONTNEED / MADV_FREE) does to the pages "
                                         "and mappings of the range")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k

    @abc.abstractmethod
    def dontneed(self, op, proc, start: int, end: int) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def free(self, op, proc, start: int, end: int) -> None:
        raise NotImplementedError
