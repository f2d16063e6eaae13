"""PV tracking as in the 2011 NetBSD x86 pmap (`pv_tracking = "global_hash"`).

Models sys/arch/x86/x86/pmap.c of NetBSD 5/6 after the rmind-uvmplock merge:
`pmap_enter_pv` / `pmap_remove_pv` keep PV entries in a global hash keyed by
(PTP, VA) — `pvhash()`, PV_HASH_SIZE 32768 buckets under PV_HASH_LOCK_CNT 32
lock stripes — for the V->P direction, plus a per-page list under the page's
`pp_lock` for P->V. Insertions go at the head of both; removals walk the page
list and the hash chain to find the entry.

`pmap_page_remove` holds the page's pp_lock and needs each mapping pmap's lock,
against the lock order (pmap, then page): when that pmap lock is held at that
simulated moment it drops its locks, backs off (SPINLOCK_BACKOFF) and starts
over (`p2v_retries`).

Bucket heads are shared cache lines (smpsim.vm.topology.LineMap): linking or
unlinking at a bucket last written by another CPU pays a line transfer, on top
of the stripe lock's own line.
"""

from __future__ import annotations

from smpsim.errors import SimulationError
from smpsim.vm.locks import Op, SimLock
from smpsim.vm.strategies.pv_base import PageLocks, PvTrackingStrategy
from smpsim.vm.topology import LineMap

PV_HASH_SIZE = 32768
PV_HASH_LOCK_CNT = 32
MAX_RETRIES = 10_000


class GlobalHashPv(PvTrackingStrategy, PageLocks):
    retries_p2v = True

    def __init__(self, k):
        PvTrackingStrategy.__init__(self, k)
        PageLocks.__init__(self)
        self.buckets: dict[int, list] = {}
        self.stripes = [SimLock(f"pvhash{i}", "pv") for i in range(PV_HASH_LOCK_CNT)]
        self.heads = LineMap()            # last writer of each bucket head

    @staticmethod
    def bucket(ptp_frame: int, va: int) -> int:
        # pvhash(): PTP address plus VA page number, folded into the table
        return ((ptp_frame * 4096) // 64 + va) % PV_HASH_SIZE

    def locks(self):
        yield from self.stripes
        yield from self.pp_locks.values()

    def indexed_entries(self):
        return [key for chain in self.buckets.values() for key in chain], "the global PV hash"

    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        c = self.c
        op.counters["pv_inserts"] += 1
        op.spend(c.pv_alloc, "pv")
        with self.page_locked(op, frame, c):
            b = self.bucket(ptp_frame, va)
            stripe = self.stripes[b % PV_HASH_LOCK_CNT]
            op.acquire(stripe, c.lock_acquire, "pv")
            self.buckets.setdefault(b, []).insert(0, (pmap.id, va))
            op.spend(c.pv_hash_step + self.heads.write(b, op.cpu, op.topo), "pv")
            op.release(stripe, c.lock_release)
            self.link_page(frame, (pmap.id, va))
            op.spend(c.pv_list_step, "pv")

    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        c = self.c
        op.counters["pv_removes"] += 1
        with self.page_locked(op, frame, c, held=page_locked):
            pos = self.unlink_page(frame, (pmap.id, va))
            op.spend(pos * c.pv_list_step, "pv")
            b = self.bucket(ptp_frame, va)
            stripe = self.stripes[b % PV_HASH_LOCK_CNT]
            op.acquire(stripe, c.lock_acquire, "pv")
            chain = self.buckets[b]
            idx = chain.index((pmap.id, va))
            del chain[idx]
            if not chain:
                del self.buckets[b]
            op.spend((idx + 1) * c.pv_hash_step + self.heads.write(b, op.cpu, op.topo), "pv")
            op.release(stripe, c.lock_release)
        op.spend(c.pv_free, "pv")

    def page_remove(self, frame: int, op: Op, unmap_one) -> None:
        k, c = self.k, self.c
        pp = self.pp_lock(frame)
        tries = 0
        while True:
            restart_at = op.t
            op.acquire(pp, c.lock_acquire, "pv")
            lost = self._unmap_all(frame, op, unmap_one)
            op.release(pp, c.lock_release)
            if lost is None:
                return
            # lost the lock-order race: everything dropped; back off and start over
            tries += 1
            op.spend(c.lock_backoff << min(tries - 1, 5), "lock_wait")
            k.counters["p2v_retries"] += 1
            k.counters["p2v_retry_cycles"] += op.t - restart_at
            if tries > MAX_RETRIES:
                raise SimulationError(f"pmap_page_remove of frame {frame} retried {tries} times "
                                      f"against pmap {lost.id}'s lock")

    def _unmap_all(self, frame: int, op: Op, unmap_one):
        """One pass over the page's list with its pp_lock held; the pmap whose lock was
        busy (the pass stopped there), or None when every mapping is gone."""
        k, c = self.k, self.c
        for pmap_id, va in self.page_entries(frame):
            pmap = k.pmaps[pmap_id]
            if pmap.lock.busy_at(op.t):
                return pmap
            op.acquire(pmap.lock, c.lock_acquire, "other")
            unmap_one(pmap, va)
            op.release(pmap.lock, c.lock_release)
        return None
