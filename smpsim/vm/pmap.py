"""The pmap: x86-64 4-level page tables, PTEs, pm_cpus, and the pmap_* interface.

Names and meanings are NetBSD's (sys/arch/x86/x86/pmap.c). In particular
`pmap_remove_all(pmap)` is NetBSD's "the whole address space is about to go"
hint, not FreeBSD's remove-one-page-everywhere (that is `pmap_page_remove`).

Page-table pages (PTPs) are allocated on demand at levels 3, 2 and 1 (the PML4
at level 4 is allocated with the pmap). A level-1 PTP holds the PTEs of 512
consecutive VA pages; its `ptes` dict maps va -> Pte for the valid slots.
"""

from __future__ import annotations

from smpsim.cpus.cpu import LAZY, STALE, VALID
from smpsim.vm.locks import Op, SimLock

LIVE, REMOVING_ALL, DESTROYED = "live", "removing-all", "destroyed"


class Pte:
    __slots__ = ("frame", "prot", "wired", "ref", "mod")

    def __init__(self, frame: int, prot: str, wired: bool = False):
        self.frame = frame
        self.prot = prot
        self.wired = wired
        self.ref = False       # PG_U: set when a TLB fill used it; only then can a TLB hold it
        self.mod = False


class Ptp:
    __slots__ = ("frame", "level", "index", "nvalid", "ptes")

    def __init__(self, frame: int, level: int, index: int):
        self.frame = frame
        self.level = level
        self.index = index
        self.nvalid = 0          # valid entries in this page (PTEs or lower-level PDEs)
        self.ptes: dict[int, Pte] = {}   # level 1 only


class Pmap:
    def __init__(self, pid: int, tag: int, pml4_frame: int, owner: int):
        self.id = pid
        self.tag = tag            # TLB tag: the pmap id, or its PCID when PCIDs are on
        self.owner = owner        # process id
        self.refs = 1             # the vmspace's reference
        self.state = LIVE
        self.ptps: dict[tuple[int, int], Ptp] = {(4, 0): Ptp(pml4_frame, 4, 0)}
        self.pm_cpus: set[int] = set()
        self.resident = 0
        self.lock = SimLock(f"pmap{pid}", "pmap")
        # the per-CPU shootdown packet being filled (pmap_tlb_shootdown), sent by pmap_update
        self.pending_vas: list[int] = []
        self.pending_full = False
        self.ptp_free_pending: list[Ptp] = []
        self.pcid_cpus: set[int] = set()   # PCID: CPUs that may hold entries tagged with this pmap

    def pte(self, va: int) -> Pte | None:
        pt = self.ptps.get((1, va >> 9))
        return pt.ptes.get(va) if pt is not None else None

    def valid_ptes(self):
        for (level, _), ptp in self.ptps.items():
            if level == 1:
                yield from ptp.ptes.items()

    @property
    def nptps(self) -> int:
        return len(self.ptps)


class PmapModule:
    """The pmap_* functions. `k` is the kernel context (smpsim.vm.kernel.Kernel)."""

    def __init__(self, k):
        self.k = k

    # --- creation and destruction -----------------------------------------------------
    def pmap_create(self, owner: int, op: Op) -> Pmap:
        k = self.k
        frame = self._alloc_ptp(op)
        pid = k.next_pmap_id()
        pmap = Pmap(pid, k.alloc_tag(pid), frame, owner)
        k.pmaps[pid] = pmap
        return pmap

    def _alloc_ptp(self, op: Op) -> int:
        k = self.k
        frame = k.phys.alloc_ptp()
        k.counters["ptp_allocated"] += 1
        op.spend(k.costs.page_alloc + k.costs.page_zero, "other")
        return frame

    def pmap_reference(self, pmap: Pmap) -> None:
        pmap.refs += 1

    def pmap_destroy(self, pmap: Pmap, op: Op) -> bool:
        """Drop a reference; on the last one free every PTP (in bulk after pmap_remove_all
        with deferred teardown) and release the tag. Returns True if destroyed."""
        k = self.k
        pmap.refs -= 1
        if pmap.refs < 0:
            k.violation("refcount", f"pmap {pmap.id} reference count went to {pmap.refs}")
        if pmap.refs > 0:
            return False
        k.check_destroy(pmap)
        bulk = pmap.state == REMOVING_ALL and k.shortcut
        start = op.t
        for ptp in list(pmap.ptps.values()):
            k.free_ptp(pmap, ptp, op, bulk=bulk)
        k.record_latency("destroy", op.t - start)
        pmap.ptps.clear()
        pmap.state = DESTROYED
        k.counters["pmaps_destroyed"] += 1
        k.release_tag(pmap)
        k.on_pmap_destroyed(pmap)
        return True

    # --- context switches ------------------------------------------------------------------
    def pmap_deactivate(self, view, op: Op) -> None:
        """The CPU stops running user code. With lazy_tlb the user pmap stays loaded (LAZY,
        still in pm_cpus, still referenced); without, the CPU loads pmap_kernel at once."""
        k = self.k
        if view.state != VALID:
            return
        if k.policy.lazy_tlb == "on":
            view.state = LAZY
        else:
            k.drop_cpu_ref(view, op)
            if not k.policy.pcid:
                k.counters["tlb_switch_flushes"] += 1
                op.spend(k.costs.local_full_flush, "other")

    def pmap_activate(self, view, pmap: Pmap, op: Op) -> bool:
        """The CPU runs a thread of `pmap` (pmap_load). Returns whether the CPU must flush the
        PCID first (it was reused by another pmap, or a shootdown skipped this inactive CPU)."""
        k = self.k
        c = k.costs
        if pmap is view.curpmap:
            if view.state == STALE:
                pmap.pm_cpus.add(view.id)           # back in; the CPU flushes before use
                k.counters["tlb_switch_flushes"] += 1
                op.spend(c.local_full_flush, "other")
            view.state = VALID
        else:
            k.drop_cpu_ref(view, op)
            view.curpmap = pmap
            self.pmap_reference(pmap)
            pmap.pm_cpus.add(view.id)
            view.state = VALID
            if k.policy.pcid:
                op.spend(c.context_switch - min(c.pcid_switch_saving, c.context_switch), "other")
            else:
                op.spend(c.context_switch + c.local_full_flush, "other")   # CR3 reload flushes
                k.counters["tlb_switch_flushes"] += 1
        if not k.policy.pcid:
            return False
        tag = pmap.tag
        flush = view.tag_owner.get(tag, pmap.id) != pmap.id or tag in view.flush_tags
        if "skip_pcid_flush" in k.bugs:
            flush = False
        if flush:
            k.counters["tlb_switch_flushes"] += 1
            op.spend(c.local_full_flush, "other")       # INVPCID single-context
        view.tag_owner[tag] = pmap.id
        view.flush_tags.discard(tag)
        pmap.pcid_cpus.add(view.id)
        return flush

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
        """Map va -> frame; link the PV entry (on `entry`'s list with pv_tracking=map_entry).
        `access`: the faulting access retries at once and sets PG_U; a prefaulted mapping
        stays unreferenced until a TLB fill uses it (and so needs no shootdown until then)."""
        k = self.k
        c = k.costs
        op.acquire(pmap.lock, c.lock_acquire, "other")
        pt = self._ensure_pt(pmap, va, op)
        old = pt.ptes.get(va)
        if old is not None and old.frame == frame:
            old.prot = prot
        else:
            if old is not None:
                self._remove_pte(pmap, pt, va, old, entry, op, shortcut=False)
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
    def _remove_pte(self, pmap: Pmap, pt: Ptp, va: int, pte: Pte, entry, op: Op, shortcut: bool,
                    page_locked: bool = False) -> None:
        k = self.k
        if "leave_pv" not in k.bugs:
            k.pv.remove(op, pmap, va, pte.frame, pt.frame, entry, page_locked=page_locked)
        if shortcut:
            return   # proposal 2: the PTE stays until pmap_destroy frees its page in bulk
        del pt.ptes[va]
        pt.nvalid -= 1
        pmap.resident -= 1
        k.counters["pte_atomic_updates"] += 1          # pmap_pte_testset(ptep, 0)
        op.spend(k.costs.pte_atomic, "pte")
        if pte.ref:
            self.pmap_tlb_shootdown(pmap, va)
        if pt.nvalid == 0:
            self._unlink_ptp(pmap, pt, op)

    def _unlink_ptp(self, pmap: Pmap, ptp: Ptp, op: Op) -> None:
        """pmap_free_ptp: unhook an empty PTP (and empty parents); free after the shootdown."""
        k = self.k
        while ptp.level < 4 and ptp.nvalid == 0:
            del pmap.ptps[(ptp.level, ptp.index)]
            pmap.ptp_free_pending.append(ptp)
            k.counters["pte_plain_stores"] += 1        # clearing the PDE
            op.spend(k.costs.pte_plain, "pte")
            if ptp.level == 1:
                # the paging-structure caches for this range must go with the shootdown
                self.pmap_tlb_shootdown(pmap, ptp.index << 9)
            parent = pmap.ptps[(ptp.level + 1, ptp.index >> 9)]
            parent.nvalid -= 1
            ptp = parent

    def pmap_remove(self, pmap: Pmap, sva: int, eva: int, entry, op: Op, reason: str) -> None:
        """Remove mappings in [sva, eva). After pmap_remove_all with deferred teardown
        (the shortcut), only the software PV entries are torn down."""
        k = self.k
        c = k.costs
        shortcut = pmap.state == REMOVING_ALL and k.shortcut
        op.acquire(pmap.lock, c.lock_acquire, "other")
        if shortcut and entry is not None and k.pv.name == "map_entry":
            # proposal 1 + 2: walk the map entry's own PV list; the page tables are not read
            for va in sorted(v for v in entry.pv if sva <= v < eva):
                pt = pmap.ptps[(1, va >> 9)]
                self._remove_pte(pmap, pt, va, pt.ptes[va], entry, op, shortcut)
            op.release(pmap.lock, c.lock_release)
            return
        for pt, va, pte in self._scan(pmap, sva, eva, op):
            if shortcut and (pmap.id, va) not in k.pv.pages.get(pte.frame, ()):
                continue   # its PV entry is already gone
            self._remove_pte(pmap, pt, va, pte, entry, op, shortcut)
        op.release(pmap.lock, c.lock_release)
        if pmap.ptp_free_pending and not (k.gc_teardown and pmap.state == REMOVING_ALL):
            # PTPs may only be freed once no CPU can walk them: shoot down now
            # (md_gc_pmap collects them for the caller's pmap_update instead).
            self.pmap_update(pmap, op, reason)

    def _scan(self, pmap: Pmap, sva: int, eva: int, op: Op):
        """The valid PTEs of [sva, eva) as (level-1 PTP, va, pte), charging the PTE reads."""
        scan = self.k.costs.pte_scan
        for idx in range(sva >> 9, ((eva - 1) >> 9) + 1):
            pt = pmap.ptps.get((1, idx))
            if pt is None:
                continue
            lo, hi = max(sva, idx << 9), min(eva, (idx + 1) << 9)
            op.spend((hi - lo) * scan, "pte")
            for va in sorted(v for v in pt.ptes if lo <= v < hi):
                yield pt, va, pt.ptes[va]

    def pmap_protect(self, pmap: Pmap, sva: int, eva: int, prot: str, entry, op: Op) -> None:
        """Lower the protection of [sva, eva) to `prot` (NetBSD: never raises it; no read
        access means remove). Each changed PTE is an atomic update; a PTE that may be in a
        TLB is queued for shootdown, sent by the caller's pmap_update."""
        k = self.k
        c = k.costs
        if "r" not in prot:
            self.pmap_remove(pmap, sva, eva, entry, op, "protect")
            return
        op.acquire(pmap.lock, c.lock_acquire, "other")
        for pt, va, pte in self._scan(pmap, sva, eva, op):
            new = "".join(ch for ch in pte.prot if ch in prot)
            if new == pte.prot:
                continue
            pte.prot = new
            k.counters["pte_atomic_updates"] += 1
            op.spend(c.pte_atomic, "pte")
            if pte.ref:
                self.pmap_tlb_shootdown(pmap, va)
        op.release(pmap.lock, c.lock_release)

    def pmap_remove_all(self, pmap: Pmap) -> bool:
        """The address space is going away. With deferred teardown later pmap_remove calls
        take the shortcut; with gc they suppress shootdowns and collect PTPs until
        pmap_update; with eager teardown nothing changes but the state."""
        pmap.state = REMOVING_ALL
        return False

    # --- shootdowns -----------------------------------------------------------------------------
    def pmap_tlb_shootdown(self, pmap: Pmap, va: int) -> None:
        """Queue an invalidation in the current packet; past shootdown_batch VAs it becomes full.
        With teardown=gc a pmap being torn down only asks for one full flush at pmap_update."""
        if pmap.pending_full:
            return
        if self.k.gc_teardown and pmap.state == REMOVING_ALL:
            pmap.pending_full = True
            pmap.pending_vas.clear()
            return
        if len(pmap.pending_vas) >= self.k.policy.shootdown_batch:
            pmap.pending_full = True
            pmap.pending_vas.clear()
        else:
            pmap.pending_vas.append(va)

    def pmap_update(self, pmap: Pmap, op: Op, reason: str) -> None:
        """Send the queued invalidations (pmap_tlb_shootnow), then free PTPs they covered."""
        k = self.k
        if "free_ptp_early" in k.bugs:
            pending, pmap.ptp_free_pending = pmap.ptp_free_pending, []
            for ptp in pending:
                k.check_ptp_free(pmap, ptp, set())
                k.free_ptp(pmap, ptp, op, bulk=False)
        if pmap.pending_vas or pmap.pending_full:
            vas = None if pmap.pending_full else tuple((pmap.tag, va) for va in pmap.pending_vas)
            pmap.pending_vas = []
            pmap.pending_full = False
            flushed = k.shootnow([pmap], vas, op, reason)
        else:
            flushed = set()
        pending, pmap.ptp_free_pending = pmap.ptp_free_pending, []
        for ptp in pending:
            k.check_ptp_free(pmap, ptp, flushed)
            k.free_ptp(pmap, ptp, op, bulk=False)
