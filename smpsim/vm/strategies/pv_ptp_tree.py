"""PV tracking as NetBSD 10's x86 pmap does it (`pv_tracking = "ptp_tree"`).

Models sys/arch/x86/x86/pmap.c since the 2020 rework (`pmap_enter_pv`, `pmap_remove_pv`,
`pmap_pvmap_lookup`, `pmap_pp_remove`) and include/pmap_pv.h: a page's first mapping is embedded
in its `pmap_page` (`pp_pte`, no allocation); further PV entries come from the pmap's own pool and
are kept in a red-black tree per page-table page keyed by VA (`ptp->mdpage.mp_pp.pp_rb`), so V->P
removal is a tree lookup; the page's list (`pp_pvlist`) is under the page's `pp_lock`. There is no
global hash and no global lock. `pmap_pp_remove` holds the page lock and tries to hand off to the
pmap's lock; when that pmap lock is busy it waits for it (`p2v_lock_waits`) and carries on — the
2011 drop-everything-and-retry loop is gone, so `p2v_retries` stays 0.

Simplified: the tree's cost is ceil(log2(n + 1)) steps of `pv_tree_step` for a tree of n
entries; the wait for the pmap lock does not re-validate the page (NetBSD rechecks the entry
after the hand-off; in the model nothing can change it meanwhile).
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.strategies.pv_base import PageLocks, PvTrackingStrategy


class PtpTreePv(PvTrackingStrategy, PageLocks):
    def __init__(self, k):
        PvTrackingStrategy.__init__(self, k)
        PageLocks.__init__(self)
        self.embedded: dict[int, tuple] = {}        # frame -> (pmap id, va) of its first mapping
        self.trees: dict[int, set] = {}             # PTP frame -> {(pmap id, va)} not embedded

    def locks(self):
        yield from self.pp_locks.values()

    def _tree_cost(self, op: Op, ptp_frame: int) -> None:
        steps = max(1, len(self.trees.get(ptp_frame, ())).bit_length())
        op.counters["pv_tree_steps"] += steps
        op.spend(steps * self.c.pv_tree_step, "pv")

    def insert(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry) -> None:
        c = self.c
        op.counters["pv_inserts"] += 1
        with self.page_locked(op, frame, c):
            key = (pmap.id, va)
            if frame not in self.embedded:
                self.embedded[frame] = key              # pp_pte: no PV entry allocated
            else:
                op.spend(c.pv_alloc, "pv")
                self._tree_cost(op, ptp_frame)
                self.trees.setdefault(ptp_frame, set()).add(key)
            self.link_page(frame, key)
            op.spend(c.pv_list_step, "pv")

    def remove(self, op: Op, pmap, va: int, frame: int, ptp_frame: int, entry, page_locked=False) -> None:
        c = self.c
        op.counters["pv_removes"] += 1
        with self.page_locked(op, frame, c, held=page_locked):
            key = (pmap.id, va)
            if self.embedded.get(frame) == key:
                del self.embedded[frame]
                op.spend(c.pv_list_step, "pv")
            else:
                self._tree_cost(op, ptp_frame)
                tree = self.trees[ptp_frame]
                tree.discard(key)
                if not tree:
                    del self.trees[ptp_frame]
                op.spend(c.pv_free, "pv")
            self.unlink_page(frame, key)
            op.spend(c.pv_list_step, "pv")

    def page_remove(self, frame: int, op: Op, unmap_one) -> None:
        k, c = self.k, self.c
        pp = self.pp_lock(frame)
        op.acquire(pp, c.lock_acquire, "pv")
        for pmap_id, va in self.page_entries(frame):
            pmap = k.pmaps[pmap_id]
            if pmap.lock.busy_at(op.t):
                k.counters["p2v_lock_waits"] += 1   # the hand-off failed: wait, no restart
            op.acquire(pmap.lock, c.lock_acquire, "other")
            unmap_one(pmap, va)
            op.release(pmap.lock, c.lock_release)
        op.release(pp, c.lock_release)

    def indexed_entries(self):
        keys = list(self.embedded.values())
        for tree in self.trees.values():
            keys.extend(tree)
        return keys, "the embedded entries and the per-PTP trees"
