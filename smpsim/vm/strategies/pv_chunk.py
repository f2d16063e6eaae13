"""PV tracking as FreeBSD's amd64 pmap does it (`pv_tracking = "pv_chunk"`).

Models sys/amd64/amd64/pmap.c: PV entries live in per-pmap `pv_chunk`s, page-sized blocks of
`_NPCPV` = 168 entries with a free bitmap (`get_pv_entry`, `free_pv_entry`; a new chunk page when
all are full, the chunk freed when it empties); each page's `md.pv_list` is under a PV-list lock
(`PHYS_TO_PV_LIST_LOCK`) and carries a generation `md.pv_gen`. The P->V removal
`pmap_remove_all(m)` (FreeBSD's name for NetBSD's pmap_page_remove) holds the page's list lock and
`PMAP_TRYLOCK`s each mapping pmap; when that fails it records the generation, drops the list lock,
takes the pmap lock, retakes the list lock, and restarts from the top if the generation moved
(`pv_trylock_failures`, `pv_gen_restarts`) — a restart, not the 2011 NetBSD backoff loop, so
`p2v_retries` stays 0. `pmap_remove_pages` walks the chunks (`pmap_entries`).

In simulated time the page's list "moved" during the wait if a PV insert or remove on that page
happened between the failed trylock and the moment the pmap lock was free.
"""

from __future__ import annotations

from smpsim.errors import SimulationError
from smpsim.vm.locks import Op, SimLock
from smpsim.vm.strategies.pv_base import PvTrackingStrategy

NPCPV = 168
MAX_RESTARTS = 10_000


class PvChunkPv(PvTrackingStrategy):
    def __init__(self, k):
        super().__init__(k)
        self.by_pmap: dict[int, dict] = {}          # pmap id -> {va: frame}: the chunks' entries
        self.list_locks: dict[int, SimLock] = {}
        self.changed_at: dict[int, int] = {}        # frame -> simulated time of its last PV change

    def list_lock(self, frame: int) -> SimLock:
        lock = self.list_locks.get(frame)
        if lock is None:
            lock = self.list_locks[frame] = SimLock(f"pvl{frame}", "pv")
        return lock

    def locks(self):
        yield from self.list_locks.values()

    def pmap_entries(self, pmap_id: int) -> list[tuple[int, int]]:
        """The pmap's PV entries in chunk order, as (va, frame): what pmap_remove_pages walks."""
        return list(self.by_pmap.get(pmap_id, {}).items())

    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        c = self.c
        op.counters["pv_inserts"] += 1
        mine = self.by_pmap.setdefault(pmap.id, {})
        if len(mine) % NPCPV == 0:                  # every chunk full: a new chunk page
            op.counters["pv_chunks_allocated"] += 1
            op.spend(c.page_alloc, "pv")
        mine[va] = frame
        op.spend(c.pv_list_step, "pv")             # find a free bit in the chunk's map
        lock = self.list_lock(frame)
        op.acquire(lock, c.lock_acquire, "pv")
        self.link_page(frame, (pmap.id, va))
        self.changed_at[frame] = op.t
        op.spend(c.pv_list_step, "pv")
        op.release(lock, c.lock_release)

    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        c = self.c
        op.counters["pv_removes"] += 1
        lock = self.list_lock(frame)
        if not page_locked:
            op.acquire(lock, c.lock_acquire, "pv")
        pos = self.unlink_page(frame, (pmap.id, va))
        self.changed_at[frame] = op.t
        op.spend(pos * c.pv_list_step, "pv")
        if not page_locked:
            op.release(lock, c.lock_release)
        mine = self.by_pmap[pmap.id]
        del mine[va]
        op.spend(c.pv_list_step, "pv")             # set the chunk's free bit
        if len(mine) % NPCPV == 0:
            op.counters["pv_chunks_freed"] += 1
            op.spend(c.page_free, "pv")
        if not mine:
            del self.by_pmap[pmap.id]

    def page_remove(self, frame: int, op: Op, unmap_one) -> None:
        k, c = self.k, self.c
        lock = self.list_lock(frame)
        restarts = 0
        op.acquire(lock, c.lock_acquire, "pv")
        while (entries := self.page_entries(frame)):
            pmap_id, va = entries[0]
            pmap = k.pmaps[pmap_id]
            if pmap.lock.busy_at(op.t):
                k.counters["pv_trylock_failures"] += 1
                tried = op.t
                op.release(lock, c.lock_release)
                op.acquire(pmap.lock, c.lock_acquire, "other")
                op.acquire(lock, c.lock_acquire, "pv")
                if tried < self.changed_at.get(frame, -1) <= op.t:
                    restarts += 1
                    k.counters["pv_gen_restarts"] += 1
                    op.release(pmap.lock, c.lock_release)
                    if restarts > MAX_RESTARTS:
                        raise SimulationError(f"pmap_remove_all(m) of frame {frame} restarted {restarts} times")
                    continue
            else:
                op.acquire(pmap.lock, c.lock_acquire, "other")
            unmap_one(pmap, va)
            op.release(pmap.lock, c.lock_release)
        op.release(lock, c.lock_release)

    def indexed_entries(self):
        keys = [(pid, va) for pid, mine in self.by_pmap.items() for va in mine]
        return keys, "the pmaps' PV chunks"
