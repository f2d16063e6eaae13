"""PV tracking with the map entry, the 2011 proposal 1 (`pv_tracking = "map_entry"`).

From the 2011 tech-kern post (the seed): the caller of pmap_enter passes the PV
list head embedded in the vm_map_entry, and the pmap links the PV entry there
and on the page's list. Both lists are doubly linked, so removal is O(1), and
the chains are protected by the object lock the caller already holds: no PV
lock at all. `pmap_page_remove` takes the object lock, then each pmap lock in
order, and waits instead of retrying. With deferred teardown the dying pmap's
PV entries are found from the map entry's own list without reading page tables.
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.strategies.pv_base import PvTrackingStrategy


class MapEntryPv(PvTrackingStrategy):
    locks_object_on_remove = True

    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        c = self.c
        op.counters["pv_inserts"] += 1
        entry.pv[va] = frame
        self.link_page(frame, (pmap.id, va))
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

    def page_remove(self, frame: int, op: Op, unmap_one) -> None:
        k, c = self.k, self.c
        obj, _ = k.phys.owner[frame]
        op.acquire(obj.lock, c.lock_acquire, "other")
        for pmap_id, va in self.page_entries(frame):
            pmap = k.pmaps[pmap_id]
            op.acquire(pmap.lock, c.lock_acquire, "other")
            unmap_one(pmap, va)
            op.release(pmap.lock, c.lock_release)
        op.release(obj.lock, c.lock_release)

    def indexed_entries(self):
        keys = []
        for proc in self.k.procs.values():
            for entry in proc.map.entries:
                keys.extend((proc.pmap.id, va) for va in entry.pv)
        return keys, "the map entries' PV lists"

    def dying_mappings(self, pm, pmap, sva: int, eva: int, entry, op: Op):
        if entry is None:
            yield from super().dying_mappings(pm, pmap, sva, eva, entry, op)
            return
        # the map entry's own PV list: the page tables are not read
        for va in sorted(v for v in entry.pv if sva <= v < eva):
            pt = pmap.ptps[(1, va >> 9)]
            yield pt, va, pt.ptes[va]
