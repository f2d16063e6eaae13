"""The machine-independent pmap interface: NetBSD's pmap_* functions over x86-64 page tables.

Names and meanings are NetBSD's (uvm/uvm_pmap.h; the x86 implementation in
sys/arch/x86/x86/pmap.c). In particular `pmap_remove_all(pmap)` is NetBSD's
"the whole address space is about to go" hint, not FreeBSD's
remove-one-page-everywhere (that is `pmap_page_remove`).

The design choices behind the interface are the kernel's strategies: the PV
tracker (`k.pv`), the exit teardown a pmap is handed to once pmap_remove_all has
marked it (`k.teardown`), the shootdown that pmap_update sends (`k.shootdown`),
the lazy-TLB rule (`k.lazy`) and the TLB tags (`k.tags`). This module never asks
which strategy it has; it calls them.
"""

from __future__ import annotations

from smpsim.protocol import STALE, VALID
from smpsim.vm import checker
from smpsim.vm.locks import Op
from smpsim.vm.pagetables import DESTROYED, REMOVING_ALL, Pmap, Pte, Ptp


class PmapModule:
    """The pmap_* functions. `k` is the kernel context (smpsim.vm.kernel.Kernel)."""

    def __init__(self, k):
        self.k = k

    # --- creation and destruction -----------------------------------------------------
    def pmap_create(self, owner: int, op: Op) -> Pmap:
        k = self.k
        frame = self._alloc_ptp(op)
        pid = k.next_id("pmap")
        pmap = Pmap(pid, k.tags.alloc(pid), frame, owner)
        k.pmaps[pid] = pmap
        return pmap

    def _alloc_ptp(self, op: Op) -> int:
        k = self.k
        frame = k.phys.alloc_ptp()
        k.counters["ptp_allocated"] += 1
        k.page_alloc.alloc(op, "other", data=False)
        op.spend(k.costs.page_zero, "other")
        return frame

    def pmap_reference(self, pmap: Pmap) -> None:
        pmap.refs += 1

    def pmap_destroy(self, pmap: Pmap, op: Op) -> bool:
        """Drop a reference; on the last one free every PTP (in bulk when the teardown
        strategy says so) and release the tag. Returns True if destroyed."""
        k = self.k
        pmap.refs -= 1
        if pmap.refs < 0:
            k.violation("refcount", f"pmap {pmap.id} reference count went to {pmap.refs}")
        if pmap.refs > 0:
            return False
        if k.check:
            checker.check_destroy(k, pmap)
        bulk = pmap.state == REMOVING_ALL and k.teardown.bulk_ptp_free
        start = op.t
        if bulk:
            k.page_alloc.bulk_begin(op, "ptp_free")     # one hold for the splice
        for ptp in list(pmap.ptps.values()):
            k.free_ptp(pmap, ptp, op, bulk=bulk)
        if bulk:
            k.page_alloc.bulk_end(op)
        k.record_latency("destroy", op.t - start)
        if op.kind not in ("teardown", "execteardown", "drain"):
            op.deferred += op.t - start         # a destroy left behind by the exit, done later
            k.counters["deferred_destroy_cycles"] += op.t - start
        pmap.ptps.clear()
        pmap.state = DESTROYED
        k.counters["pmaps_destroyed"] += 1
        k.tags.release(pmap)
        k.on_pmap_destroyed(pmap)
        return True

    # --- context switches: the one place a CPU's TLB state is decided ------------------------
    def pmap_deactivate(self, view, op: Op) -> None:
        """The CPU stops running user code; the lazy-TLB strategy decides what it keeps."""
        if view.state == VALID:
            self.k.lazy.deactivate(view, op)

    def pmap_activate(self, view, pmap: Pmap, op: Op) -> None:
        """The CPU runs a thread of `pmap` (pmap_load)."""
        k = self.k
        if pmap is view.curpmap:
            if view.state == STALE:
                k.lazy.join_cpumask(pmap, view, op)  # back in; the CPU flushes before use
                k.tags.stale_return(view, pmap, op)
            else:
                k.lazy.reactivate(view, pmap, op)   # back from LAZY: the design's catch-up rule
            view.state = VALID
        else:
            k.drop_cpu_ref(view, op)
            view.curpmap = pmap
            self.pmap_reference(pmap)
            k.lazy.join_cpumask(pmap, view, op)
            view.state = VALID
            k.tags.load(view, op)
        k.tags.activated(view, pmap, op)

    # --- entering mappings ---------------------------------------------------------------
    def _ensure_pt(self, pmap: Pmap, va: int, op: Op) -> Ptp:
        pt = pmap.ptps.get((1, va >> 9))
        if pt is not None:
            return pt
        parent = pmap.ptps[(4, 0)]
        for level in (3, 2, 1):
            key = (level, va >> (9 * level))
            ptp = pmap.ptps.get(key)
            if ptp is None:
                ptp = Ptp(self._alloc_ptp(op), level, key[1])
                pmap.ptps[key] = ptp
                parent.nvalid += 1
                self.k.counters["pte_plain_stores"] += 1   # installing the PDE
                op.spend(self.k.costs.pte_plain, "pte")
            parent = ptp
        return parent

    def pmap_enter(self, pmap: Pmap, va: int, frame: int, prot: str, entry, op: Op,
                   access: bool = True) -> None:
        """Map va -> frame and link its PV entry (`entry` is the map entry, which the
        map_entry tracker links it to). `access`: the faulting access retries at once and
        sets PG_U; a prefaulted mapping stays unreferenced until a TLB fill uses it (and
        so needs no shootdown until then)."""
        k = self.k
        c = k.costs
        op.acquire(pmap.lock, c.lock_acquire, "other")
        pt = self._ensure_pt(pmap, va, op)
        old = pt.ptes.get(va)
        if old is not None and old.frame == frame:
            if old.prot != prot:                        # e.g. write access re-enabled after fork
                old.prot = prot
                k.counters["pte_atomic_updates"] += 1
                op.spend(c.pte_atomic, "pte")
        else:
            if old is not None:     # replaced (a copy-on-write copy): the PTP stays, its PTE slot is reused
                self._remove_pte(pmap, pt, va, old, entry, op, keep_ptp=True)
            pte = Pte(frame, prot, entry.wired)
            pte.ref = access
            pt.ptes[va] = pte
            pt.nvalid += 1
            pmap.resident += 1
            k.counters["pte_atomic_updates"] += 1      # pmap_pte_testset
            op.spend(c.pte_atomic, "pte")
            k.pv.insert(op, pmap, va, frame, pt.frame, entry)
        op.release(pmap.lock, c.lock_release)

    # --- removing mappings ------------------------------------------------------------------
    def _remove_pte(self, pmap: Pmap, pt: Ptp, va: int, pte: Pte, entry, op: Op,
                    page_locked: bool = False, keep_ptp: bool = False) -> None:
        k = self.k
        k.pv.remove(op, pmap, va, pte.frame, pt.frame, entry, page_locked=page_locked)
        del pt.ptes[va]
        pt.nvalid -= 1
        pmap.resident -= 1
        k.counters["pte_atomic_updates"] += 1          # pmap_pte_testset(ptep, 0)
        op.spend(k.costs.pte_atomic, "pte")
        k.flush_rule.pte_cleared(self, pmap, va, pte)   # what the design's shootdown covers
        if pt.nvalid == 0 and not keep_ptp:
            self.pmap_free_ptp(pmap, pt, op)

    def drop_pv(self, pmap: Pmap, pt: Ptp, va: int, pte: Pte, entry, op: Op) -> None:
        """Only the software side of a removal: the PV entry goes, the PTE stays (deferred teardown)."""
        self.k.pv.remove(op, pmap, va, pte.frame, pt.frame, entry)

    def pmap_free_ptp(self, pmap: Pmap, ptp: Ptp, op: Op) -> None:
        """Unhook an empty PTP (and the parents it empties) and queue it to be freed after the
        shootdown that covers it (NetBSD's pmap_free_ptp; the free itself is `Kernel.free_ptp`,
        run by the shootdown's `update`). Teardown strategies call it for the PTPs they empty.
        What the shootdown must add for each freed PTP (the paging-structure caches) is the
        design's flush rule: NetBSD queues its recursive-mapping VA, Linux widens the gathered
        range, FreeBSD adds nothing (smpsim.vm.strategies.flush_base)."""
        k = self.k
        while ptp.level < 4 and ptp.nvalid == 0:
            del pmap.ptps[(ptp.level, ptp.index)]
            pmap.ptp_free_pending.append(ptp)
            k.counters["pte_plain_stores"] += 1        # clearing the PDE
            op.spend(k.costs.pte_plain, "pte")
            k.flush_rule.ptp_freed(self, pmap, ptp)
            parent = pmap.ptps[(ptp.level + 1, ptp.index >> 9)]
            parent.nvalid -= 1
            ptp = parent

    def pmap_remove(self, pmap: Pmap, sva: int, eva: int, entry, op: Op, reason: str) -> None:
        """Remove mappings in [sva, eva); a pmap being torn down is its teardown strategy's."""
        if pmap.state == REMOVING_ALL:
            self.k.teardown.remove(self, pmap, sva, eva, entry, op, reason)
        else:
            self.remove_live(pmap, sva, eva, entry, op, reason)

    def remove_live(self, pmap: Pmap, sva: int, eva: int, entry, op: Op, reason: str) -> None:
        self.remove_range(pmap, sva, eva, entry, op)
        if pmap.ptp_free_pending:
            # PTPs may only be freed once no CPU can walk them: shoot down now
            self.pmap_update(pmap, op, reason)

    def remove_range(self, pmap: Pmap, sva: int, eva: int, entry, op: Op) -> None:
        """Clear every valid PTE of [sva, eva) under the pmap lock, queueing invalidations."""
        c = self.k.costs
        rule = self.k.flush_rule
        op.acquire(pmap.lock, c.lock_acquire, "other")
        rule.begin_range(pmap, sva, eva)
        for pt, va, pte in self.scan(pmap, sva, eva, op):
            self._remove_pte(pmap, pt, va, pte, entry, op)
        rule.end_range(pmap)
        op.release(pmap.lock, c.lock_release)

    def scan(self, pmap: Pmap, sva: int, eva: int, op: Op):
        """The valid PTEs of [sva, eva) as (level-1 PTP, va, pte), charging the PTE reads."""
        cost = self.k.costs.pte_scan
        for idx in range(sva >> 9, ((eva - 1) >> 9) + 1):
            pt = pmap.ptps.get((1, idx))
            if pt is None:
                continue
            lo, hi = max(sva, idx << 9), min(eva, (idx + 1) << 9)
            op.spend((hi - lo) * cost, "pte")
            for va in sorted(v for v in pt.ptes if lo <= v < hi):
                yield pt, va, pt.ptes[va]

    def pmap_protect(self, pmap: Pmap, sva: int, eva: int, prot: str, entry, op: Op, per_pte: int = 0) -> None:
        """Lower the protection of [sva, eva) to `prot` (NetBSD: never raises it; no read
        access means remove). Each changed PTE is an atomic update plus `per_pte` cycles of the
        caller's own work around it (mprotect's `costs.protect_pte`; fork's write-protect has
        none); a PTE that may be in a
        TLB is queued for shootdown, sent by the caller's pmap_update."""
        k = self.k
        c = k.costs
        if "r" not in prot:
            self.pmap_remove(pmap, sva, eva, entry, op, "protect")
            return
        op.acquire(pmap.lock, c.lock_acquire, "other")
        k.flush_rule.begin_range(pmap, sva, eva, protect=True)
        for pt, va, pte in self.scan(pmap, sva, eva, op):
            new = "".join(ch for ch in pte.prot if ch in prot)
            if new == pte.prot:
                continue
            pte.prot = new
            k.counters["pte_atomic_updates"] += 1
            op.spend(c.pte_atomic + per_pte, "pte")
            k.flush_rule.pte_cleared(self, pmap, va, pte)
        k.flush_rule.end_range(pmap)
        op.release(pmap.lock, c.lock_release)

    def pmap_clear_reference_range(self, pmap: Pmap, sva: int, eva: int, op: Op) -> int:
        """Clear the accessed and modified bits of every valid PTE of [sva, eva) that has one
        (FreeBSD amd64 pmap.c `pmap_advise`; Linux mm/madvise.c `madvise_free_pte_range`, which
        makes the PTE old and clean): an atomic update each, and the referenced ones queued for
        invalidation (a TLB may hold them), sent by the caller's pmap_update. Returns the PTEs
        changed."""
        k = self.k
        c = k.costs
        changed = 0
        op.acquire(pmap.lock, c.lock_acquire, "other")
        for _pt, va, pte in self.scan(pmap, sva, eva, op):
            if not (pte.ref or pte.mod):
                continue
            if pte.ref:
                self.pmap_tlb_shootdown(pmap, va)
            pte.ref = pte.mod = False
            changed += 1
            k.counters["pte_atomic_updates"] += 1
            op.spend(c.pte_atomic, "pte")
        op.release(pmap.lock, c.lock_release)
        return changed

    def pmap_remove_all(self, pmap: Pmap) -> bool:
        """The address space is going away: hand the pmap to the teardown strategy. Returns
        True when every mapping is already gone, so UVM need not call pmap_remove."""
        return self.k.teardown.begin(self, pmap)

    def pmap_page_remove(self, frame: int, op: Op, batch: list | None = None) -> None:
        """Remove every mapping of physical page `frame` (the PV tracker's P->V walk), then
        shoot them all down in one packet. With `batch` (a list of pmaps the caller gathers),
        the invalidations stay queued in the pmaps' packets and the caller sends them once
        for many pages (Linux's TTU_BATCH_FLUSH, mm/rmap.c try_to_unmap_flush)."""
        k = self.k
        touched: list[Pmap] = [] if batch is None else batch

        def unmap_one(pmap: Pmap, va: int) -> None:
            pt = pmap.ptps[(1, va >> 9)]
            entry = k.procs[pmap.owner].map.lookup(va)
            self._remove_pte(pmap, pt, va, pt.ptes[va], entry, op, page_locked=True)
            if pmap not in touched:
                touched.append(pmap)

        k.pv.page_remove(frame, op, unmap_one)
        if touched and batch is None:
            k.shootdown.update(touched, op, "pagedaemon")

    # --- shootdowns -----------------------------------------------------------------------------
    def pmap_tlb_shootdown(self, pmap: Pmap, va: int) -> None:
        """Queue an invalidation of va in the pmap's packet (the teardown strategy's while the
        pmap is being torn down)."""
        if pmap.state == REMOVING_ALL:
            self.k.teardown.invalidate(self, pmap, va)
        else:
            self.queue_invalidation(pmap, va)

    def pmap_tlb_shootrange(self, pmap: Pmap, lo: int, hi: int) -> None:
        """Widen the pmap's gathered range to take in [lo, hi) (Linux's `__tlb_adjust_range`;
        a dying pmap's pages go to its teardown strategy one by one)."""
        if pmap.state == REMOVING_ALL:
            for va in range(lo, hi):
                self.k.teardown.invalidate(self, pmap, va)
        else:
            pmap.packet.add_range(pmap.tag, lo, hi, self.k.shootdown.ceiling)

    def pmap_tlb_shootall(self, pmap: Pmap) -> None:
        """The pmap's next shootdown flushes everything (FreeBSD's `pmap_invalidate_all`)."""
        pmap.packet.make_full()

    def queue_invalidation(self, pmap: Pmap, va: int) -> None:
        pmap.packet.add(pmap.tag, va, self.k.shootdown.ceiling)

    def pmap_update(self, pmap: Pmap, op: Op, reason: str) -> None:
        """Send the queued invalidations (pmap_tlb_shootnow), then free the PTPs they covered."""
        self.k.shootdown.update([pmap], op, reason)
