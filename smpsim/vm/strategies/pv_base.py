"""PV tracking, the common part and the kind's interface (`PvTrackingStrategy`): which
(pmap, va) map each physical page (P->V).

Every tracker keeps each page's PV list in walk order (`pages`: frame ->
{(pmap id, va): None}, newest first). The strategies add the V->P index and
locking of the design they model (`pv_global_hash`, `pv_map_entry`) and the
P->V walk `page_remove` that pmap_page_remove runs on them.
"""

from __future__ import annotations

import abc
from contextlib import contextmanager

from smpsim.vm.locks import Op, SimLock
from smpsim.vm.declare import Kind


class PvTrackingStrategy(abc.ABC):
    """The interface and the per-page lists. `k` is the kernel context.

    Kernel hooks: `insert` is pmap_enter's pv_enter, `remove` pmap_remove's pv_remove,
    `page_remove` pmap_page_remove's P->V walk, `dying_mappings` deferred teardown's scan."""

    KIND = Kind("pv_tracking", "global_hash", "How the P->V (PV) entries of each physical page are "
                                              "kept and locked")
    PARAMETERS = ()

    locks_object_on_remove = False   # the PV chains are protected by the object lock the caller takes
    retries_p2v = False              # P->V takes locks against the lock order and restarts when it loses

    def __init__(self, k):
        self.k = k
        self.c = k.costs
        self.pages: dict[int, dict] = {}     # frame -> {(pmap_id, va): None} in list order

    # --- the interface ---------------------------------------------------------------
    @abc.abstractmethod
    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def page_remove(self, frame: int, op: Op, unmap_one) -> None:
        """pmap_page_remove's walk: call unmap_one(pmap, va) for every mapping of `frame`,
        under the locks the design takes."""
        raise NotImplementedError

    @abc.abstractmethod
    def indexed_entries(self) -> tuple[list, str]:
        """The V->P index's (pmap id, va) keys, and what the index is (for the checker)."""
        raise NotImplementedError

    def locks(self):
        """Every lock the tracker owns (their calendars are pruned each epoch)."""
        return ()

    def dying_mappings(self, pm, pmap, sva: int, eva: int, entry, op: Op):
        """For deferred teardown: the (level-1 PTP, va, pte) of [sva, eva) that still have a
        PV entry, found by scanning the page tables."""
        for pt, va, pte in pm.scan(pmap, sva, eva, op):
            if self.has_entry(pmap.id, va, pte.frame):
                yield pt, va, pte

    # --- per-page lists ---------------------------------------------------------------
    def has_entry(self, pmap_id: int, va: int, frame: int) -> bool:
        return (pmap_id, va) in self.pages.get(frame, ())

    def page_entries(self, frame: int) -> list[tuple[int, int]]:
        """The page's PV list in walk order: (pmap id, va)."""
        return list(self.pages.get(frame, ()))

    def all_entries(self):
        for frame, lst in self.pages.items():
            for pmap_id, va in lst:
                yield pmap_id, va, frame

    def link_page(self, frame, key):
        lst = self.pages.get(frame)
        if lst is None:
            self.pages[frame] = {key: None}
        else:
            # insert at the head: rebuild with the new key first
            self.pages[frame] = {key: None, **lst}

    def unlink_page(self, frame, key) -> int:
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


class PageLocks:
    """Per-page PV locks (NetBSD's `pp_lock`, one per physical page, made on first use)."""

    def __init__(self):
        self.pp_locks: dict[int, SimLock] = {}

    def pp_lock(self, frame: int) -> SimLock:
        lock = self.pp_locks.get(frame)
        if lock is None:
            lock = self.pp_locks[frame] = SimLock(f"pp{frame}", "pv")
        return lock

    @contextmanager
    def page_locked(self, op: Op, frame: int, c, held: bool = False):
        """The body runs with the page's pp_lock held (taken and dropped here unless the caller
        already `held` it, as pmap_page_remove does around each removal)."""
        pp = self.pp_lock(frame)
        if not held:
            op.acquire(pp, c.lock_acquire, "pv")
        yield pp
        if not held:
            op.release(pp, c.lock_release)
