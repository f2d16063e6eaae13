"""Per-CPU pcp lists over zone->lock, plus the LRU stage under lru_lock, Linux (`page_alloc = "pcp"`).

Linux mm/page_alloc.c (6.x):

- allocation (`rmqueue_pcplist` -> `__rmqueue_pcplist`): pop from this CPU's pcp list; when it is
  empty, `rmqueue_bulk` takes `nr_pcp_alloc` pages from the buddy lists under `zone->lock`.
  `nr_pcp_alloc` (Huang Ying's pcp auto-tuning, 6.7): `batch << alloc_factor`, the factor growing
  by one per refill up to CONFIG_PCP_BATCH_SCALE_MAX = 5 while `batch <= max_nr_alloc` and halved by
  every free (`free_unref_page_commit`), capped at `max(high - count - batch, batch)`;
- free (`free_unref_folios` -> `free_unref_page_commit`): push onto the pcp list; when its count
  reaches `high`, `free_pcppages_bulk` returns `nr_pcp_free` (here `batch`) pages under `zone->lock`;
- `zone_batchsize`: batch = 63 for any zone over 256 MiB (a quarter of 1 MiB of pages, rounded to
  2^n - 1); `zone_highsize`: high is at least `batch << 2` (the model keeps high there: the
  auto-tuned high between high_min and high_max is not modelled).

The LRU stage (mm/swap.c), when `lru_batch` > 0: a newly faulted anonymous folio goes through
`folio_add_lru` into this CPU's `cpu_fbatches.lru_add` folio_batch; when it holds `lru_batch`
(FOLIO_BATCH_SIZE, 31) folios, `folio_batch_move_lru` adds them to the LRU under
`lruvec->lru_lock` (one lruvec per node without memcg: one lock per socket here). Freeing user
pages (`tlb_finish_mmu` -> `free_pages_and_swap_cache` -> `folios_put_refs`, `release_pages`)
takes each `lru_batch` folios off the LRU in one `lru_lock` hold (`__page_cache_release`) before
`free_unref_folios` frees them to the pcp list. A folio still in this CPU's lru_add batch is not
on the LRU: dropping it only drops a reference, and the batch's move (`folio_batch_move_lru`,
when an allocation fills it) adds it, then `folios_put` takes it off and frees it. No unmapping
call drains the batch first: measured on Linux 6.18 with the pagemap:mm_lru_insertion and
kmem:mm_page_free_batched tracepoints (measure/results/dontneed_split.txt); before 6.15 (Rik van
Riel's "mm: remove unnecessary calls to lru_add_drain") munmap, MADV_DONTNEED and exit drained
it first (`lru_drain = "unmap"`). The model takes the pages a CPU frees to be its most recent
allocations: up to the live folios of its batch.
Page-table pages skip the LRU; so do pages the
pagedaemon reclaims (simplified: `isolate_lru_folios` takes them off the LRU under lru_lock in
batches of SWAP_CLUSTER_MAX, not modelled). `lru_batch = 0`
leaves the LRU stage out (what removing the lru_lock bottleneck would give: Rik van Riel's
INVLPGB series, whose gain showed only once that lock was out of the way).
Costs: `page_pcpu_alloc` / `page_pcpu_free` on the CPU, `page_batch_step` per page moved under
zone->lock, `lru_add` per folio batched, `lru_step` per folio moved under lru_lock.
"""

from __future__ import annotations

from smpsim.vm.locks import Op, SimLock
from smpsim.vm.strategies.alloc_base import PageAllocStrategy, PerCpuCounts

PCP_BATCH = 63               # zone_batchsize() for a zone over 256 MiB
PCP_HIGH = PCP_BATCH << 2    # zone_highsize(): at least batch << 2
PCP_BATCH_SCALE_MAX = 5      # CONFIG_PCP_BATCH_SCALE_MAX default (mm/Kconfig)


class PcpPageAlloc(PageAllocStrategy):
    def __init__(self, k, **switches):
        super().__init__(k, **switches)
        topo = k.topology
        # warm: what free_pcppages_bulk leaves when the list reaches high
        self.pcp = PerCpuCounts(k, "zone_lock", "zone", topo.sockets, PCP_HIGH - PCP_BATCH if self.warm else 0)
        self.alloc_factor = [0] * topo.ncpus
        self.lru_locks = [SimLock(f"lru_lock[{s}]", "lru") for s in range(topo.sockets)]
        self.lru_pending = [0] * topo.ncpus          # folios in this CPU's lru_add batch
        self.lru_dead = [0] * topo.ncpus             # of those, folios already unmapped and dropped
        self.socket = topo.socket

    def _nr_pcp_alloc(self, cpu: int) -> int:
        max_nr_alloc = max(PCP_HIGH - self.pcp.count[cpu] - PCP_BATCH, PCP_BATCH)
        batch = PCP_BATCH << self.alloc_factor[cpu]
        if batch <= max_nr_alloc and self.alloc_factor[cpu] < PCP_BATCH_SCALE_MAX:
            self.alloc_factor[cpu] += 1
        return min(batch, max_nr_alloc)

    def alloc(self, op: Op, part: str, data: bool) -> None:
        cpu, pcp = op.cpu, self.pcp
        if pcp.count[cpu] == 0:                      # rmqueue_bulk under zone->lock
            n = self._nr_pcp_alloc(cpu)
            pcp.transfer(op, cpu, n, self.c.page_batch_step, part)
            op.counters["page_cache_refills"] += 1
            pcp.count[cpu] = n
        pcp.count[cpu] -= 1
        op.spend(self.c.page_pcpu_alloc, part)
        if data and self.lru_batch:                  # folio_add_lru
            op.spend(self.c.lru_add, part)
            self.lru_pending[cpu] += 1
            if self.lru_pending[cpu] >= self.lru_batch:
                self._move_batch(op, part)

    def _move_batch(self, op: Op, part: str) -> None:
        """folio_batch_move_lru: the batch onto the LRU in one hold, then folios_put frees the
        folios already dropped (off the LRU in one more hold, into the pcp list)."""
        cpu = op.cpu
        self._lru_move(op, self.lru_pending[cpu], part)
        dead = self.lru_dead[cpu]
        self.lru_pending[cpu] = self.lru_dead[cpu] = 0
        if dead:
            self._lru_move(op, dead, part)
            self._free_unref(op, dead, part)

    def _lru_move(self, op: Op, folios: int, part: str) -> None:
        """One lru_lock hold moving `folios` onto or off the LRU."""
        lock = self.lru_locks[self.socket(op.cpu)]
        op.acquire(lock, self.c.lock_acquire, part)
        op.spend(folios * self.c.lru_step, part)
        op.release(lock, self.c.lock_release)
        op.counters["lru_lock_batches"] += 1

    def free_pages(self, op: Op, n: int, part: str, data: bool = True, isolated: bool = False) -> None:
        cpu = op.cpu
        if data and not isolated and self.lru_batch and n:
            if self.drain_on_unmap and self.lru_pending[cpu]:
                self._move_batch(op, part)           # lru_add_drain (lru_drain = "unmap")
            in_batch = min(n, self.lru_pending[cpu] - self.lru_dead[cpu])
            self.lru_dead[cpu] += in_batch           # freed when the batch moves
            op.counters["lru_batch_deferred_frees"] += in_batch
            n -= in_batch
            for done in range(0, n, self.lru_batch):      # folios_put_refs, one batch a hold
                self._lru_move(op, min(self.lru_batch, n - done), part)
        self._free_unref(op, n, part)

    def _free_unref(self, op: Op, n: int, part: str) -> None:
        """free_unref_folios: `n` pages into this CPU's pcp list, draining it when it is full."""
        cpu, pcp = op.cpu, self.pcp
        for _ in range(n):                           # free_unref_page_commit
            op.spend(self.c.page_pcpu_free, part)
            self.alloc_factor[cpu] >>= 1
            pcp.count[cpu] += 1
            if pcp.count[cpu] >= PCP_HIGH:           # free_pcppages_bulk
                pcp.transfer(op, cpu, PCP_BATCH, self.c.page_batch_step, part)
                op.counters["page_cache_drains"] += 1
                pcp.count[cpu] -= PCP_BATCH

    def locks(self):
        yield from self.pcp.locks
        yield from self.lru_locks
