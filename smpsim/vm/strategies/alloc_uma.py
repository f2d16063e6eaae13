"""Per-CPU UMA page buckets over the per-domain free lock, FreeBSD (`page_alloc = "uma"`).

FreeBSD sys/vm/vm_page.c and sys/vm/uma_core.c: `vm_page_alloc_domain_after` first asks the
domain's per-CPU page cache zone (`vmd_pgcache[pool].zone`, made by `vm_page_init_cache_zones`
with `uma_zcache_create(..., vm_page_zone_import, vm_page_zone_release, ...)`); `vm_page_free_toq`
gives a page back with `uma_zfree` to the same zone. UMA's layers, as modelled:

- per CPU (`uma_cache`: `cache_alloc` / `cache_free`): an alloc bucket and a free bucket, no lock;
  an empty alloc bucket is swapped with a non-empty free bucket, a full free bucket with an
  empty alloc bucket;
- per domain (`zone_fetch_bucket` / `zone_put_bucket` under the zone-domain lock `ZDOM_LOCK`):
  full buckets given back by CPUs and handed to CPUs that ran dry;
- `vm_page_zone_import`: when the domain has no full bucket, a whole bucket of pages is taken
  from `vm_phys_alloc_npages` under `vm_domain_free_lock` (one per NUMA domain: socket here).

The bucket holds UMA_BUCKET pages: the 128-entry bucket zone, which `zone_domain_lock` grows
`uz_bucket_size` to under contention up to `uz_bucket_size_max` (`bucket_zone_max` picks the
largest bucket with entries * 2 * ncpus within the zone's cache limit, 0.1% of the domain's
pages: on a 64-CPU machine with a 64 GiB domain, 126 * 2 * 64 <= 16,384). Simplified: the model
starts at that size (a machine that has run a while: growth from `bucket_select(PAGE_SIZE)` = 2
is not modelled) and never releases buckets to vm_phys (`vm_page_zone_release`): the domain's
cache limit is far above what a simulated workload frees between allocations.
Costs: `page_pcpu_alloc` / `page_pcpu_free` on the CPU, `page_batch_step` per page imported under
the free lock, `lock_acquire` + `lock_release` (+ a line transfer) per zone-domain bucket exchange.
"""

from __future__ import annotations

from smpsim.vm.locks import Op, SimLock
from smpsim.vm.strategies.alloc_base import PageAllocStrategy, PerCpuCounts

UMA_BUCKET = 126         # BUCKET_SIZE(128), uma_core.c: (128 pointers - the 16-byte header)


class UmaPageAlloc(PageAllocStrategy):
    def __init__(self, k, **switches):
        super().__init__(k, **switches)
        # alloc buckets; vm_domain_free_lock per domain
        # warm: a full alloc bucket, the free bucket empty (as a swap leaves them)
        self.alloc_bucket = PerCpuCounts(k, "vm_domain_free_lock", "domain_free", k.topology.sockets,
                                         UMA_BUCKET if self.warm else 0)
        self.free_bucket = [0] * k.topology.ncpus
        self.zdom = [SimLock(f"uma_zone_domain[{d}]", "uma_zdom") for d in range(len(self.alloc_bucket.locks))]
        self.full_buckets = [0] * len(self.zdom)           # full buckets cached per domain

    def _domain(self, cpu: int) -> int:
        return self.alloc_bucket.locks.index(self.alloc_bucket.lock(cpu))

    def _zdom_exchange(self, op: Op, domain: int, part: str) -> None:
        """One bucket taken from or put into the domain's bucket cache, under ZDOM_LOCK."""
        c = self.c
        op.acquire(self.zdom[domain], c.lock_acquire, part)
        op.release(self.zdom[domain], c.lock_release)

    def alloc(self, op: Op, part: str, data: bool) -> None:
        cpu, ab = op.cpu, self.alloc_bucket
        if ab.count[cpu] == 0 and self.free_bucket[cpu]:
            ab.count[cpu], self.free_bucket[cpu] = self.free_bucket[cpu], 0       # cache_bucket_swap
        if ab.count[cpu] == 0:
            domain = self._domain(cpu)
            self._zdom_exchange(op, domain, part)                # zone_fetch_bucket
            if self.full_buckets[domain]:
                self.full_buckets[domain] -= 1
            else:                                                # vm_page_zone_import
                ab.transfer(op, cpu, UMA_BUCKET, self.c.page_batch_step, part)
                op.counters["page_cache_refills"] += 1
            ab.count[cpu] = UMA_BUCKET
        ab.count[cpu] -= 1
        op.spend(self.c.page_pcpu_alloc, part)

    def free_pages(self, op: Op, n: int, part: str, data: bool = True, isolated: bool = False) -> None:
        cpu, ab = op.cpu, self.alloc_bucket
        for _ in range(n):
            op.spend(self.c.page_pcpu_free, part)
            if self.free_bucket[cpu] == UMA_BUCKET:
                if ab.count[cpu] == 0:
                    ab.count[cpu], self.free_bucket[cpu] = UMA_BUCKET, 0           # cache_bucket_swap
                else:                                            # zone_put_bucket
                    domain = self._domain(cpu)
                    self._zdom_exchange(op, domain, part)
                    self.full_buckets[domain] += 1
                    op.counters["page_cache_drains"] += 1
                    self.free_bucket[cpu] = 0
            self.free_bucket[cpu] += 1

    def locks(self):
        yield from self.alloc_bucket.locks
        yield from self.zdom
