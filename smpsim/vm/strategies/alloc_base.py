"""Page allocation, the kind's interface (`PageAllocStrategy`): how a page is taken from and given
back to the free pages, and which locks that takes (`page_alloc`).

The values are `global` (NetBSD 5/6: every allocation and free under `uvm_fpageqlock`,
`alloc_global`), `pgflcache` (NetBSD 10: per-CPU caches over per-package bucket locks,
`alloc_pgflcache`), `uma` (FreeBSD: per-CPU UMA buckets over the per-domain free lock,
`alloc_uma`) and `pcp` (Linux: per-CPU pcp lists over `zone->lock`, plus the LRU-add stage
under `lru_lock`, `alloc_pcp`). `PerCpuCounts` is the per-CPU cache bookkeeping they share.

Which physical frame is handed out stays smpsim.vm.physmem's business (its LIFO free list): a
strategy decides only what an allocation or free costs and which locks it holds, so the frames a
run uses, and every invariant about them, do not depend on the allocator.
"""

from __future__ import annotations

import abc

from smpsim.vm.declare import Kind, Parameter
from smpsim.vm.locks import Op, SimLock

# Every free-page lock family a page allocator may take: their `<family>_lock_wait_cycles` counters
# sum to the page-allocator lock waits (smpsim.vm.locks.LOCK_COUNTERS has their counter names).
# Linux's LRU lock (`lru`) is the LRU lists' lock, not the free pages': counted on its own.
ALLOC_LOCK_FAMILIES = ("fpageq", "freelist", "domain_free", "uma_zdom", "zone")
LRU_LOCK_FAMILY = "lru"

# FOLIO_BATCH_SIZE, include/linux/pagevec.h (31 since 6.x; PAGEVEC_SIZE 15 before)
FOLIO_BATCH_SIZE = 31


def alloc_lock_wait_cycles(counters: dict) -> int:
    """The cycles spent waiting on any free-page lock (ALLOC_LOCK_FAMILIES; not the LRU lock)."""
    return sum(counters.get(f"{family}_lock_wait_cycles", 0) for family in ALLOC_LOCK_FAMILIES)


class PageAllocStrategy(abc.ABC):
    """Kernel hooks: `alloc` is one page allocation (uvm_pagealloc / vm_page_alloc /
    alloc_pages), `data` True for a page faulted into a user mapping (Linux adds it to the LRU);
    `free_pages` frees `n` pages of one operation (uvm_pagefree of each page / Linux
    release_pages of the batch), `data` as for alloc, `isolated` for pages reclaim has already
    taken off the LRU; `bulk_begin` / `bulk_free` / `bulk_end`
    are pmap_destroy's splice of a dying pmap's PTPs (`teardown.bulk_ptp_free`); `locks` the
    locks the allocator owns (their calendars are pruned each epoch)."""

    KIND = Kind("page_alloc", "global", "How pages are allocated and freed: one global free-page lock "
                                        "or per-CPU caches refilled and drained in batches")
    PARAMETERS = (
        Parameter("lru_batch", KIND.name, int, FOLIO_BATCH_SIZE,
                  "Linux (pcp): folios a CPU's LRU-add batch and release_pages' batch hold before "
                  "they take lruvec->lru_lock (FOLIO_BATCH_SIZE); 0 leaves the LRU stage out",
                  ge=0, le=512),
        Parameter("lru_drain", KIND.name, str, "fault",
                  "Linux (pcp): when a CPU's LRU-add batch is moved: 'fault', only by the allocation "
                  "that fills it (Linux 6.15+, after van Riel's removal of lru_add_drain from the "
                  "unmap paths; measured on 6.18), or 'unmap', also first thing in every munmap, "
                  "MADV_DONTNEED and exit that frees data pages (lru_add_drain, kernels before 6.15)",
                  values=("fault", "unmap")),
        Parameter("page_cache_start", KIND.name, str, "warm",
                  "What each CPU's page cache holds when a run starts: 'warm', what a running system's "
                  "frees leave in it (the cache's drain threshold less one drain), or 'cold', empty as "
                  "at boot (global: no cache either way)", values=("warm", "cold")),
    )

    def __init__(self, k, lru_batch: int = FOLIO_BATCH_SIZE, page_cache_start: str = "warm",
                 lru_drain: str = "fault"):
        self.k = k
        self.c = k.costs
        self.lru_batch = lru_batch
        self.drain_on_unmap = lru_drain == "unmap"
        self.warm = page_cache_start == "warm"

    @abc.abstractmethod
    def alloc(self, op: Op, part: str, data: bool) -> None:
        """One page allocation by `op`'s CPU."""

    @abc.abstractmethod
    def free_pages(self, op: Op, n: int, part: str, data: bool = True, isolated: bool = False) -> None:
        """`n` pages freed by `op`'s CPU (data pages unless `data` is False: page-table pages;
        `isolated`: pages the pagedaemon reclaimed, already off the LRU)."""

    def bulk_begin(self, op: Op, part: str) -> None:
        """Before pmap_destroy frees a dying pmap's PTPs in one splice (nothing by default)."""

    def bulk_free(self, op: Op, part: str) -> None:
        """One PTP of that splice: by default an ordinary free."""
        self.free_pages(op, 1, part, data=False)

    def bulk_end(self, op: Op) -> None:
        """After the splice (nothing by default)."""

    def locks(self):
        """Every lock the allocator owns."""
        return ()


class PerCpuCounts:
    """The pages each CPU's cache holds (a count per CPU, no frames: see the module docstring),
    with the lock of the shared free list behind each CPU (one per socket, or fewer)."""

    def __init__(self, k, name: str, family: str, nlocks: int, start: int = 0):
        topo = k.topology
        self.c = k.costs
        self.count = [start] * topo.ncpus
        n = max(1, min(nlocks, topo.sockets))
        self.locks = [SimLock(f"{name}[{i}]", family) for i in range(n)]
        self._lock_of = [self.locks[topo.socket(cpu) * n // topo.sockets] for cpu in range(topo.ncpus)]

    def lock(self, cpu: int) -> SimLock:
        return self._lock_of[cpu]

    def transfer(self, op: Op, cpu: int, pages: int, step: int, part: str) -> None:
        """Move `pages` between the shared list and a CPU's cache under the CPU's list lock."""
        lock = self.lock(cpu)
        op.acquire(lock, self.c.lock_acquire, part)
        op.spend(pages * step, part)
        op.release(lock, self.c.lock_release)
        op.counters["page_batch_transfers"] += 1
        op.counters["page_batch_pages"] += pages
