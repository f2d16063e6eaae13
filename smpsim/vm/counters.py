"""The counters: names are a contract (docs/rundir.md says what each counts); never rename one, only add."""

from __future__ import annotations

SPEC_COUNTERS = (
    "tlb_hits", "tlb_misses", "page_walks", "page_faults",
    "pte_atomic_updates", "pte_plain_stores",
    "pv_inserts", "pv_removes", "pv_lock_acquires", "pv_lock_contended", "pv_lock_wait_cycles",
    "p2v_retries",
    "shootdown_exchanges", "shootdown_ipis", "shootdown_full_flushes", "shootdown_invlpg",
    "mailbox_waits", "mailbox_wait_cycles",
    "switch_away_exchanges", "switch_away_ipis",
    "ptp_allocated", "ptp_freed", "ptp_bulk_freed", "ptp_pinned_peak",
    "pages_freed", "pagedaemon_scans", "lazy_to_stale", "context_switches",
)

EXTRA_COUNTERS = (
    "p2v_retry_cycles",          # cycles lost to P->V backoffs and restarted work
    "pmap_lock_acquires", "pmap_lock_contended", "pmap_lock_wait_cycles",
    "object_lock_acquires", "object_lock_contended", "object_lock_wait_cycles",
    "pages_allocated",           # data pages
    "local_flushes",             # initiator-side flushes (not IPIs)
    "ipi_stolen_cycles",         # handler cycles taken from target CPUs by IPIs
    "pcid_deferred_flushes",     # PCID: inactive CPUs told to flush on next activation instead of an IPI
    "tlb_switch_flushes",        # full or per-PCID flushes done at context switches
    "switch_cycles",             # pmap_activate/deactivate work, incl. a last pmap_destroy; taken from the quantum
    "misses_dropped",            # misses whose thread left or whose range was unmapped before they were resolved
    "exits", "munmaps", "pagedaemon_runs", "pmaps_destroyed", "ptp_switch_away_freed",
    # fidelity (issue 9): shootdown timing, refills, shared lines, fork, drain, batched reclaim
    "shootdown_ack_wait_cycles",  # initiators spinning for acknowledgements after sends and local flush
    "ipi_broadcasts",             # shootdowns sent as one broadcast IPI (every other CPU a target)
    "user_accesses",              # user memory accesses completed by CPUs (progress)
    "user_access_cycles",         # cycles CPUs spent on them: user work, TLB hits and walks
    "tlb_hit_cycles", "tlb_refill_cycles", "walks_warm", "walks_cold",
    "fault_cycles_stolen",        # faults' kernel cycles taken from the faulting CPU's next quantum
    "line_transfers", "line_transfers_remote", "line_transfer_cycles",
    "fpageq_lock_acquires", "fpageq_lock_contended", "fpageq_lock_wait_cycles",
    "forks", "cow_faults", "cow_read_shares", "pages_copied", "fork_protect_ptes", "execs",
    "reclaim_batches",
    "drain_cycles", "drain_ptp_freed", "drain_pmaps_destroyed", "deferred_destroy_cycles",
)

ALL_COUNTERS = SPEC_COUNTERS + EXTRA_COUNTERS

# Counters of today's kernels' strategies (issue 10). They appear in a run's counters only when
# its design moves them, so the counters of the 2011 designs are unchanged.
DESIGN_COUNTERS = (
    "ipis_to_lazy",              # IPIs sent to CPUs that only held the pmap lazily
    "ipis_to_inactive",          # IPIs sent to CPUs not running the pmap (lazy or stale)
    "ipis_to_lazy_freeing_tables",  # of ipis_to_lazy: sent with page tables being freed
    "lazy_ipis_skipped",         # lazy CPUs a shootdown left out (Linux: no page tables freed)
    "tlb_gen_partial_flushes",   # tlb_gen: a CPU one generation behind replays the last range
    "tlb_gen_full_flushes",      # tlb_gen: a CPU further behind flushes the whole ASID
    "local_flushes_caught_up",   # Linux: an initiator's own flush_tlb_func found its CPU caught up by
                                 # another CPU's flush of the mm (not in local_flushes)
    "asid_slot_misses",          # Linux: the mm was not in the CPU's 6 dynamic ASIDs
    "lazy_switched_to_init_mm",  # Linux: a lazy CPU reached by a table-freeing flush left the mm
    "invlpgb_broadcasts", "invlpgb_instructions", "tlbsync_waits", "global_asids_assigned",
    "pv_tree_steps", "p2v_lock_waits", "pv_chunks_allocated", "pv_chunks_freed",
    "pv_trylock_failures", "pv_gen_restarts", "rmap_updates", "rmap_vmas_walked",
    "ptp_zap_batches", "pmap_invalidate_all", "mmu_gather_forced_flushes", "shoot_lazies_ipis",
    # page allocators (issue 20): per-CPU caches refilled / drained in batches under a list lock,
    # Linux's LRU stage; each lock family's acquires / contended / wait_cycles (smpsim.vm.locks)
    "page_cache_refills", "page_cache_drains", "page_batch_transfers", "page_batch_pages", "lru_lock_batches",
    *(f"{f}_lock_{what}" for f in ("freelist", "domain_free", "uma_zdom", "zone", "lru")
      for what in ("acquires", "contended", "wait_cycles")),
    "pcid_allocations",          # FreeBSD PCIDs: pmap_pcid_alloc handing a pmap a fresh PCID on a CPU
    "pcid_generations",          # FreeBSD PCIDs: a CPU ran out of PCIDs and started a new generation
    "abit_elided_invalidations",  # NetBSD flush rule: removed PTEs never referenced (PG_U clear), not queued
    "ptp_va_invalidations",      # NetBSD flush rule: freed PTPs whose recursive-mapping VA was queued
    "fork_ptes_copied",          # fork: PTEs copied into the child (pmap_copy, copy_page_range)
    "madvises",                  # madvise(MADV_DONTNEED / MADV_FREE) calls
    "madvise_pages_freed",       # pages madvise discarded (Linux DONTNEED, NetBSD FREE)
    "pages_deactivated",         # pages madvise moved to the inactive queue (NetBSD, FreeBSD)
    "zero_page_maps",            # read faults that mapped the shared zero page (zero_page = on)
    "zero_page_copies",          # write faults that replaced a zero-page PTE (wp_page_copy, flushed at once)
    "map_lock_acquires", "map_lock_contended", "map_lock_wait_cycles",        # vm_map lock (map_lock = vm_map)
    "mmap_lock_acquires", "mmap_lock_contended", "mmap_lock_wait_cycles",     # Linux mmap_lock
    "mmap_lock_downgrades",      # munmaps that downgraded mmap_lock to read for the zap
    "syscalls",                  # system calls charged costs.syscall
    "lru_batch_deferred_frees",  # Linux: freed pages still in their CPU's lru_add batch, freed when it moves
    "mmu_gather_batch_pages",    # Linux: batch pages an mmu_gather allocated (tlb_next_batch)
    "ops",                       # tlb_flush2 workload: write-madvise-read iterations completed
    "per_thread_ops",            # tlb_flush2 workload: ops per thread per simulated second (will-it-scale's figure)
    "loops",                     # tlb_flush workload: map-touch-unmap loops completed
    "loops_per_sim_second",      # tlb_flush workload: loops over the simulated span, at machine.ghz
    # Linux 6.13+ (issue 20): the lazy mm_cpumask and consider_global_asid
    "mm_cpumask_writes",         # Linux: locked sets and clears of a CPU's bit in an mm_cpumask
    "ipis_to_switched_away",     # Linux lazy mm_cpumask: IPIs to CPUs running another mm (TLB_REMOTE_WRONG_CPU)
    "mm_cpumask_trims",          # Linux 6db2526c1d69: flushes with trim_cpumask set (once a second per mm)
    "ipis_freeing_tables",       # per-CPU shootdowns: IPIs of flushes that free page tables (the whole mask)
    "global_asid_considered",    # INVLPGB: consider_global_asid calls (after an IPI flush)
    # replaying a recorded program (issue 22): smpsim.experiments.workloads.trace
    "implicit_mappings",         # regions a recorded program used that the trace never saw mapped
    "implicit_pages",            # their pages (each a 2 MiB window clipped to its neighbours)
    "mmap_fixed_unmaps",         # mmaps (MAP_FIXED, or a replayed mmap over an implicit region) that unmapped first
    "trace_events",              # trace events replayed (the command's; others only move CPUs)
    "trace_faults",              # recorded user page faults replayed as touches
    "trace_faults_unneeded",     # of them, faults the model did not take (its PTE allowed the access)
    "trace_faults_outside",      # of them, beyond the 48-bit user address space (hand-made traces), not replayed
    "trace_faults_present_unmapped",  # of them, writes to a page the real kernel had mapped (error code 0x1) and
                                      # the model had not (fault-around): replayed as a read fault, then the write
    "brk_unmaps", "mremap_unmaps",  # unmaps by brk shrinking and mremap (not munmap calls: not in `munmaps`)
    "trace_switches",            # recorded context switches applied to the CPUs
    "trace_switches_unseen",     # of them, superseded within one quantum (the CPU never ran that task)
    "trace_lag_events",          # events started after their recorded time (their address space busy)
    "trace_lag_cycles_total", "trace_lag_cycles_max",   # how late, summed and worst
    "trace_calls_unmodelled",    # calls replayed as nothing: madvise advice other than DONTNEED/FREE, ranges beyond 48 bits
    "trace_mremap_moved",        # mremaps that moved: replayed as unmap + map (the kernel moves the page tables)
    "trace_calls_failed",        # mmap/munmap/... the real kernel failed (negative return): not replayed
    "trace_ranges_unmapped",     # munmap/mprotect/madvise ranges (or parts) the model had nothing mapped in
    "trace_events_orphaned",     # events of a process the replay could not follow (after its exit)
    "epochs_skipped",            # idle epochs skipped (no event due, no CPU switching)
)


class Counters(dict):
    """A dict of every counter, all starting at 0. It also carries the kernel's `topology`
    (smpsim.vm.topology), so that every Op made with these counters charges line transfers."""

    def __init__(self, topology=None):
        super().__init__((name, 0) for name in ALL_COUNTERS)
        self.topology = topology

    def __missing__(self, key: str) -> int:
        return 0                   # a design counter (DESIGN_COUNTERS) not yet moved

    def delta(self, before: dict) -> dict:
        return {k: v - before.get(k, 0) for k, v in self.items() if v != before.get(k, 0)}
