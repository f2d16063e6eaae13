"""Memory pressure: waking the pagedaemon, its runs, and uvm_pageout.

Below freetarg an allocating operation wakes the pagedaemon (uvm_kick_pdaemon),
which runs on its own CPU as a queued operation; below freemin the allocator
waits for a run (uvm_wait). A run first lets the pressure-switch strategy
relieve pinned page tables, then evicts data pages.

Victims are chosen in FIFO order of allocation (a clock hand with no second
chance): the simplest policy that is deterministic and evicts long-cached shared
pages first, which is where P->V lists are long. Evicting an anonymous page is
treated as paging it out for free (swap I/O is not modelled); touching it again
is a fresh fault. Each victim is unmapped everywhere by `pmap_page_remove`.
With the design's `reclaim_batch` N > 1 the invalidations of up to N victims
are gathered and sent as one shootdown (one flush per target CPU per batch, as
Linux's TTU_BATCH_FLUSH / try_to_unmap_flush in mm/rmap.c does), and the
victims are freed only after it; N = 1 is NetBSD's page-by-page path. The Linux
presets take 32: mm/vmscan.c `shrink_lruvec` isolates at most SWAP_CLUSTER_MAX
(32, include/linux/swap.h) folios per `shrink_inactive_list` call, and
`shrink_folio_list` unmaps that list with TTU_BATCH_FLUSH (`set_tlb_ubc_flush_pending`
gathers the mms' cpumasks) and flushes once before freeing it (`try_to_unmap_flush`
-> `arch_tlbbatch_flush`). That flush names no mm (shootdown reason `reclaim_batch`,
which the per-CPU shootdown reads: every CPU of the gathered masks that is not lazy
gets it). Not modelled: `try_to_unmap_flush_dirty`, the flush before writing back a
dirty folio whose PTE was writable (Gorman's "Immediately flush dirty PTEs"), which
cuts a batch of dirty anonymous pages short; the model does not track dirtiness.
"""

from __future__ import annotations

from smpsim.errors import SimulationError
from smpsim.vm.locks import Op
from smpsim.vm.operations import PagedaemonRun
from smpsim.vm.declare import Parameter

RECLAIM_BATCH_REASON = "reclaim_batch"      # a batch's flush: Linux's arch_tlbbatch_flush (no mm)

# the design's reclaim batch: read here, not by a strategy (owner None)
RECLAIM_BATCH = Parameter("reclaim_batch", None, int, 1, "Victim pages whose invalidations the pagedaemon "
                          "sends as one shootdown (1: NetBSD's page by page; Linux's TTU_BATCH_FLUSH)",
                          ge=1, le=4096)


def wake_pagedaemon(k, t: int) -> None:
    """uvm_kick_pdaemon: below freetarg, queue a pagedaemon run on its CPU at time t."""
    if k.phys.free < k.phys.freetarg and not k.pd_pending:
        k.pd_pending = True
        k.schedule(t, k.config.machine.pagedaemon_cpu, PagedaemonRun())


def pagedaemon(k, op: Op, need: int = 0) -> None:
    """One pagedaemon run: relieve pressure (the pressure-switch strategy), then evict
    pages until freetarg (plus a batch) is reached."""
    k.pd_pending = False
    if k.in_relief:
        return
    phys = k.phys
    k.in_relief = True
    try:
        k.pressure.relieve(op, need)
        if phys.free - need < phys.freetarg:
            uvm_pageout(k, op, phys.freetarg + k.config.machine.pagedaemon_batch + need - phys.free)
    finally:
        k.in_relief = False


def need_pages(k, op: Op, n: int) -> None:
    """Called at the start of an operation that will allocate up to n pages. Below freemin
    it waits for a pagedaemon run (uvm_wait); below freetarg it only wakes the pagedaemon."""
    phys = k.phys
    if phys.free - n < phys.freemin and not k.in_relief:
        pd = k.views[k.config.machine.pagedaemon_cpu]
        pd_op = Op(PagedaemonRun.kind, pd.id, max(op.t, pd.busy_until), k.counters, PagedaemonRun.category)
        pagedaemon(k, pd_op, n)
        pd.busy_until, pd.busy_due = pd_op.t, op.t
        pd.busy_with = f"a pagedaemon run for cpu{op.cpu} (uvm_wait)"
        k.account(pd_op)
        if pd_op.t > op.t:
            op.asleep += pd_op.t - op.t            # uvm_wait sleeps; the pagedaemon's work is its own
            op.spend(pd_op.t - op.t, "other")
    elif phys.free - n < phys.freetarg:
        wake_pagedaemon(k, op.t)
    if phys.free < n:
        raise SimulationError(
            f"out of physical memory at epoch {k.epoch}: {phys.free} free, {n} needed, "
            f"{k.pinned_ptps()} PTPs pinned by dying pmaps; raise machine.phys_pages or "
            f"shrink the workload")


def uvm_pageout(k, op: Op, target: int) -> int:
    """Scan data pages oldest first, unmap and free up to `target` of them; return how many."""
    start = op.t
    retries0 = k.counters["p2v_retries"]
    freed = scanned = 0
    batch = max(1, k.design.reclaim_batch)
    pending: list = []
    touched: list = []
    for frame in list(k.phys.fifo):
        if freed + len(pending) >= target:
            break
        scanned += 1
        obj, offset = k.phys.owner[frame]
        if any(k.procs[k.pmaps[pid].owner].map.lookup(va).wired for pid, va in k.pv.page_entries(frame)):
            continue
        if batch == 1:
            k.pmap_mod.pmap_page_remove(frame, op)
            _free_victim(k, op, frame, obj, offset)
            freed += 1
            continue
        k.pmap_mod.pmap_page_remove(frame, op, touched)
        pending.append((frame, obj, offset))
        if len(pending) >= batch:
            freed += _flush_batch(k, op, touched, pending)
    if pending:
        freed += _flush_batch(k, op, touched, pending)
    k.counters["pagedaemon_scans"] += scanned
    k.counters["pages_freed"] += freed
    k.counters["pagedaemon_runs"] += 1
    k.record_latency("pagedaemon", op.t - start)
    k.emit("pagedaemon", start, initiator=op.cpu, scanned=scanned, freed=freed,
           retries=k.counters["p2v_retries"] - retries0, cycles=op.t - start)
    if freed == 0 and k.phys.free == 0:
        raise SimulationError("the pagedaemon found nothing to free and memory is exhausted")
    return freed


def _free_victim(k, op: Op, frame: int, obj, offset: int) -> None:
    del obj.pages[offset]
    k.phys.release(frame)
    k.page_alloc.free_pages(op, 1, "page_free", isolated=True)


def _flush_batch(k, op: Op, touched: list, pending: list) -> int:
    """One shootdown for the batch's pmaps, then free its victims. Returns how many."""
    if touched:
        k.shootdown.update(list(touched), op, RECLAIM_BATCH_REASON)
        k.counters["reclaim_batches"] += 1
    n = len(pending)
    for frame, obj, offset in pending:
        _free_victim(k, op, frame, obj, offset)
    touched.clear()
    pending.clear()
    return n
