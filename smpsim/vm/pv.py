"""PV tracking: which (pmap, va) map each physical page (policy `pv_tracking`).

`GlobalHashPv` is the 2011 baseline: a global hash of PV entries keyed by
(PTP, VA), 32768 buckets under 32 lock stripes, for the V->P direction, plus a
per-page list under a per-page lock (`pp_lock`) for P->V. Insertions go at the
head of both; removals walk the page list and the hash chain to find the entry.

`MapEntryPv` is proposal 1: the caller of pmap_enter passes the list head
embedded in the vm_map_entry and the pmap links the PV entry there and on the
page's list. Both lists are doubly linked, so removal is O(1), and the chains
are protected by the object lock the caller already holds: no PV lock at all.
"""

from __future__ import annotations

from smpsim.vm.locks import Op, SimLock

PV_HASH_SIZE = 32768
PV_HASH_LOCK_CNT = 32


class PvTracker:
    takes_object_lock_on_remove = False

    def __init__(self, costs):
        self.c = costs
        self.pages: dict[int, dict] = {}     # frame -> {(pmap_id, va): None} in list order

    def page_entries(self, frame: int) -> list[tuple[int, int]]:
        """The page's PV list in walk order: (pmap id, va)."""
        return list(self.pages.get(frame, ()))

    def all_entries(self):
        for frame, lst in self.pages.items():
            for pmap_id, va in lst:
                yield pmap_id, va, frame

    def _page_insert(self, frame, key):
        lst = self.pages.get(frame)
        if lst is None:
            self.pages[frame] = {key: None}
        else:
            # insert at the head: rebuild with the new key first
            self.pages[frame] = {key: None, **lst}

    def _page_remove(self, frame, key) -> int:
        """Unlink; return the 1-based position it was found at (walk length)."""
        lst = self.pages[frame]
        pos = 1
        for k in lst:
            if k == key:
                break
            pos += 1
        del lst[key]
        if not lst:
            del self.pages[frame]
        return pos


class GlobalHashPv(PvTracker):
    name = "global_hash"

    def __init__(self, costs):
        super().__init__(costs)
        self.buckets: dict[int, list] = {}
        self.stripes = [SimLock(f"pvhash{i}", "pv") for i in range(PV_HASH_LOCK_CNT)]
        self.pp_locks: dict[int, SimLock] = {}

    @staticmethod
    def bucket(ptp_frame: int, va: int) -> int:
        # pvhash(): PTP address plus VA page number, folded into the table
        return ((ptp_frame * 4096) // 64 + va) % PV_HASH_SIZE

    def pp_lock(self, frame: int) -> SimLock:
        lock = self.pp_locks.get(frame)
        if lock is None:
            lock = self.pp_locks[frame] = SimLock(f"pp{frame}", "pv")
        return lock

    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        c = self.c
        op.counters["pv_inserts"] += 1
        op.spend(c.pv_alloc, "pv")
        pp = self.pp_lock(frame)
        op.acquire(pp, c.lock_acquire, "pv")
        b = self.bucket(ptp_frame, va)
        stripe = self.stripes[b % PV_HASH_LOCK_CNT]
        op.acquire(stripe, c.lock_acquire, "pv")
        self.buckets.setdefault(b, []).insert(0, (pmap.id, va))
        op.spend(c.pv_hash_step, "pv")
        op.release(stripe, c.lock_release)
        self._page_insert(frame, (pmap.id, va))
        op.spend(c.pv_list_step, "pv")
        op.release(pp, c.lock_release)

    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        c = self.c
        op.counters["pv_removes"] += 1
        pp = self.pp_lock(frame)
        if not page_locked:
            op.acquire(pp, c.lock_acquire, "pv")
        pos = self._page_remove(frame, (pmap.id, va))
        op.spend(pos * c.pv_list_step, "pv")
        b = self.bucket(ptp_frame, va)
        stripe = self.stripes[b % PV_HASH_LOCK_CNT]
        op.acquire(stripe, c.lock_acquire, "pv")
        chain = self.buckets[b]
        idx = chain.index((pmap.id, va))
        del chain[idx]
        if not chain:
            del self.buckets[b]
        op.spend((idx + 1) * c.pv_hash_step, "pv")
        op.release(stripe, c.lock_release)
        if not page_locked:
            op.release(pp, c.lock_release)
        op.spend(c.pv_free, "pv")


class MapEntryPv(PvTracker):
    name = "map_entry"
    takes_object_lock_on_remove = True

    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        c = self.c
        op.counters["pv_inserts"] += 1
        entry.pv[va] = frame
        self._page_insert(frame, (pmap.id, va))
        op.spend(c.pv_alloc + 2 * c.pv_list_step, "pv")

    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        c = self.c
        op.counters["pv_removes"] += 1
        del entry.pv[va]
        lst = self.pages[frame]
        del lst[(pmap.id, va)]
        if not lst:
            del self.pages[frame]
        op.spend(2 * c.pv_list_step + c.pv_free, "pv")


def make_tracker(name: str, costs) -> PvTracker:
    return {"global_hash": GlobalHashPv, "map_entry": MapEntryPv}[name](costs)
