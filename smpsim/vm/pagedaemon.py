"""The pagedaemon and the P->V path: uvm_pageout and pmap_page_remove.

Victims are chosen in FIFO order of allocation (a clock hand with no second
chance): the simplest policy that is deterministic and evicts long-cached shared
pages first, which is where P->V lists are long. Evicting an anonymous page is
treated as paging it out for free (swap I/O is not modelled); touching it again
is a fresh fault.

With `global_hash` the 2011 `pmap_page_remove` holds the page's `pp_lock` and
needs each mapping pmap's lock, against the lock order (pmap, then page): when
that pmap lock is held at that simulated moment it drops its locks, backs off
and starts over (`p2v_retries`). With `map_entry` the PV chains are protected by
the object lock, so it takes the object lock, then each pmap lock in order, and
waits instead of retrying.
"""

from __future__ import annotations

from smpsim.errors import SimulationError
from smpsim.vm.locks import Op

MAX_RETRIES = 10_000


def pmap_page_remove(k, frame: int, op: Op) -> None:
    """Remove every mapping of physical page `frame`, then shoot them all down at once."""
    c = k.costs
    pm = k.pmap_mod
    touched = []
    vas = []
    full = False

    def unmap_one(pmap, va, page_locked):
        # pmap_remove's per-PTE work; its invalidations are gathered into one packet below
        pt = pmap.ptps[(1, va >> 9)]
        entry = k.procs[pmap.owner].map.lookup(va)
        pm._remove_pte(pmap, pt, va, pt.ptes[va], entry, op, shortcut=False, page_locked=page_locked)
        if pmap not in touched:
            touched.append(pmap)

    if k.policy.p2v_retry:
        pp = k.pv.pp_lock(frame)
        tries = 0
        while True:
            restart_at = op.t
            op.acquire(pp, c.lock_acquire, "pv")
            lost = None
            for pmap_id, va in k.pv.page_entries(frame):
                pmap = k.pmaps[pmap_id]
                if pmap.lock.busy_at(op.t):
                    lost = pmap
                    break
                op.acquire(pmap.lock, c.lock_acquire, "other")
                unmap_one(pmap, va, page_locked=True)
                op.release(pmap.lock, c.lock_release)
            if lost is None:
                op.release(pp, c.lock_release)
                break
            # lost the lock-order race: drop everything, back off, start over
            op.release(pp, c.lock_release)
            tries += 1
            backoff = c.lock_backoff << min(tries - 1, 5)
            op.spend(backoff, "lock_wait")
            k.counters["p2v_retries"] += 1
            k.counters["p2v_retry_cycles"] += op.t - restart_at
            if tries > MAX_RETRIES:
                raise SimulationError(f"pmap_page_remove of frame {frame} retried {tries} times "
                                      f"against pmap {lost.id}'s lock")
    else:
        obj, _ = k.phys.owner[frame]
        op.acquire(obj.lock, c.lock_acquire, "other")
        for pmap_id, va in k.pv.page_entries(frame):
            pmap = k.pmaps[pmap_id]
            op.acquire(pmap.lock, c.lock_acquire, "other")
            unmap_one(pmap, va, page_locked=True)
            op.release(pmap.lock, c.lock_release)
        op.release(obj.lock, c.lock_release)

    for pmap in touched:
        # everything the removals queued (PTEs and freed PTPs) goes out in one packet
        if pmap.pending_full:
            full = True
        for va in pmap.pending_vas:
            if len(vas) >= k.policy.shootdown_batch:
                full = True
            else:
                vas.append((pmap.tag, va))
        pmap.pending_vas, pmap.pending_full = [], False
    if touched:
        flushed = k.shootnow(touched, None if full else tuple(vas), op, "pagedaemon") if (vas or full) else set()
        for pmap in touched:
            pending, pmap.ptp_free_pending = pmap.ptp_free_pending, []
            for ptp in pending:
                k.check_ptp_free(pmap, ptp, flushed)
                k.free_ptp(pmap, ptp, op, bulk=False)


def uvm_pageout(k, op: Op, target: int) -> int:
    """Scan data pages oldest first, unmap and free up to `target` of them; return how many."""
    c = k.costs
    start = op.t
    retries0 = k.counters["p2v_retries"]
    freed = scanned = 0
    for frame in list(k.phys.fifo):
        if freed >= target:
            break
        scanned += 1
        obj, offset = k.phys.owner[frame]
        if any(k.procs[k.pmaps[pid].owner].map.lookup(va).wired
               for pid, va in k.pv.page_entries(frame)):
            continue
        pmap_page_remove(k, frame, op)
        del obj.pages[offset]
        k.phys.release(frame)
        op.spend(c.page_free, "page_free")
        freed += 1
    k.counters["pagedaemon_scans"] += scanned
    k.counters["pages_freed"] += freed
    k.counters["pagedaemon_runs"] += 1
    k.record_latency("pagedaemon", op.t - start)
    k.emit("pagedaemon", start, initiator=op.cpu, scanned=scanned, freed=freed,
           retries=k.counters["p2v_retries"] - retries0, cycles=op.t - start)
    if freed == 0 and k.phys.free == 0:
        raise SimulationError("the pagedaemon found nothing to free and memory is exhausted")
    return freed
