"""Per-CPU free-page caches over per-package bucket locks, NetBSD 10 (`page_alloc = "pgflcache"`).

NetBSD 10 sys/uvm/uvm_pgflcache.c (Andrew Doran, 2019, after netbsd-9 branched) and
sys/uvm/uvm_page.c:

- allocation (`uvm_pagealloc_pgfl`): `uvm_pgflcache_alloc` pops a page from this CPU's cache
  without a lock; on a miss `uvm_pagealloc_pgb` takes the bucket lock
  (`uvm_freelist_locks[b]`), takes one page and, while it holds the lock, `uvm_pgflcache_fill`
  moves up to FILLPGS = 6 more into the cache;
- free (`uvm_pagefree`): `uvm_pgflcache_free` pushes the page into the cache; when the cache
  holds MAXPGS = 7, `uvm_pgflcache_spill` first returns all 7 to the bucket under its lock;
- buckets (`uvm_page_rebucket`): one per CPU package (socket), at most PGFL_MAX_BUCKETS = 8
  (sys/uvm/uvm_pglist.h); each CPU uses its package's bucket.

Simplified: the real cache is per page colour (MAXPGS per colour, FILLPGS filled per colour);
an allocating CPU steps through the colours (`ucpu->pgflcolor`), so it takes the bucket lock
once per FILLPGS + 1 allocations when its caches are empty and spills MAXPGS pages when they are
full; the model keeps one count per CPU of up to MAXPGS * NCOLORS pages, refilled FILLPGS + 1
pages a hold when empty and spilling MAXPGS a hold when full. The NUMA bucket scheme (one bucket per node) is the same count here (sockets).
Costs: `page_pcpu_alloc` / `page_pcpu_free` on the CPU, `page_batch_step` per page under the lock.
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.strategies.alloc_base import PageAllocStrategy, PerCpuCounts

MAXPGS = 7               # uvm_pgflcache.c: maximum pages per colour, per bucket
FILLPGS = 6              # uvm_pgflcache.c: pages filled at once, per colour, per bucket
PGFL_MAX_BUCKETS = 8     # uvm_pglist.h
NCOLORS = 8              # uvm_pgflcache.c: "an average Intel system has ... 8x L2 cache colors" (2019)
CACHE_MAX = MAXPGS * NCOLORS       # a CPU's cache, every colour full


class PgflCachePageAlloc(PageAllocStrategy):
    def __init__(self, k, **switches):
        super().__init__(k, **switches)
        # warm: every colour full but the one the last spill emptied
        self.cache = PerCpuCounts(k, "uvm_freelist_locks", "freelist", PGFL_MAX_BUCKETS,
                                  CACHE_MAX - MAXPGS if self.warm else 0)

    def alloc(self, op: Op, part: str, data: bool) -> None:
        cache, cpu = self.cache, op.cpu
        if cache.count[cpu] == 0:
            # uvm_pagealloc_pgb: the page itself plus uvm_pgflcache_fill's FILLPGS, one hold
            cache.transfer(op, cpu, 1 + FILLPGS, self.c.page_batch_step, part)
            op.counters["page_cache_refills"] += 1
            cache.count[cpu] = FILLPGS
        else:
            cache.count[cpu] -= 1
        op.spend(self.c.page_pcpu_alloc, part)

    def free_pages(self, op: Op, n: int, part: str, data: bool = True, isolated: bool = False) -> None:
        cache, cpu = self.cache, op.cpu
        for _ in range(n):
            op.spend(self.c.page_pcpu_free, part)
            if cache.count[cpu] == CACHE_MAX:
                # uvm_pgflcache_spill: the whole cache back to the bucket
                cache.transfer(op, cpu, MAXPGS, self.c.page_batch_step, part)
                op.counters["page_cache_drains"] += 1
                cache.count[cpu] = 0
            cache.count[cpu] += 1

    def locks(self):
        yield from self.cache.locks
