"""The cost model: simulated cycles for every modelled action.

Figures are cycles on a ~2.5 GHz x86 server. Each default's description names
its source (a paper, a kernel mailing-list measurement) or says that it is a
choice and why, where no measurement was found. Every field can be overridden
in a config's `[costs]` table.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _c(default: int, source: str):
    return Field(default=default, ge=0, description=source)


class CostModel(BaseModel):
    """Cycle costs. Immutable; validated like the rest of the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- TLB and page tables -------------------------------------------------
    tlb_hit: int = _c(1, "L1/L2 dTLB hit folded into the access; counted, not charged beyond 1")
    page_walk: int = _c(300, "page walk on an L2 TLB miss, cold (Molnar 2015: ~35 warm, ~300 cold); "
                             "random accesses over large working sets walk cold tables")
    invlpg: int = _c(250, "INVLPG of one 4 KiB page, 216-280 on Intel (Molnar/Hansen, LKML 2015)")
    local_full_flush: int = _c(120, "CR3 reload without global pages, 96-152 (Molnar/Hansen 2015)")
    context_switch: int = _c(2000, "choice: switching a CPU to another address space (pmap_load), "
                                   "excluding the TLB flush (~800 ns); charged to that CPU's quantum")
    pcid_switch_saving: int = _c(250, "PCID saves ~100 ns per context switch (Lutomirski, LKML 2017)")

    # --- PTE updates -----------------------------------------------------------
    pte_atomic: int = _c(20, "locked cmpxchg on a hot line ~20 (common figure; Baumann et al. SOSP 2009)")
    pte_plain: int = _c(2, "plain store to a PTE already in cache; choice")
    pte_scan: int = _c(3, "reading one PTE slot while scanning a PTP for valid entries; choice")

    # --- locks -------------------------------------------------------------------
    lock_acquire: int = _c(20, "uncontended spin-lock acquire: one locked cmpxchg (as pte_atomic)")
    lock_release: int = _c(5, "release: plain store plus barrier; choice")
    lock_backoff: int = _c(400, "SPINLOCK_BACKOFF before a P->V retry: the 2011 x86 pmap backs off "
                                "exponentially from a few hundred cycles; choice of the first step")

    # --- PV tracking ---------------------------------------------------------------
    pv_hash_step: int = _c(40, "one link of a global PV hash chain: a likely cache miss on a "
                               "32768-bucket table shared by all CPUs; choice")
    pv_list_step: int = _c(10, "one link of a per-page or per-entry PV list (lines mostly cached); choice")
    pv_alloc: int = _c(60, "pool_cache_get of a PV entry; choice (per-CPU cache hit)")
    pv_free: int = _c(40, "pool_cache_put of a PV entry; choice")

    # --- pages -----------------------------------------------------------------------
    fault_trap: int = _c(1500, "choice: exception entry/exit plus uvm_fault lookups (~600 ns)")
    page_alloc: int = _c(200, "uvm_pagealloc from the free list; choice")
    page_zero: int = _c(1000, "zeroing a 4 KiB page with cache misses (~10 B/cycle gives ~400 "
                              "in cache); choice")
    page_free: int = _c(150, "uvm_pagefree and accounting: what remains of the ~320 cycles per "
                             "page zapped in a large munmap (Yang Shi, LKML 2018) after the PTE "
                             "update and PV removal")
    ptp_free: int = _c(150, "freeing one PTP back to the page allocator, as page_free")
    ptp_bulk_free: int = _c(30, "freeing one PTP in a bulk splice onto the free list; choice")

    # --- IPIs and shootdowns -----------------------------------------------------------
    ipi_first: int = _c(1900, "IPI to the first remote target, initiator round trip ~775 ns "
                              "(Amit, LKML RFC 2019)")
    ipi_extra: int = _c(170, "each extra same-socket IPI target ~70 ns (Amit, LKML RFC 2019)")
    ipi_handler: int = _c(1200, "remote handler cost stolen from a target, excluding its flush work "
                                "(estimate; no direct measurement found)")
    mailbox_claim: int = _c(20, "claiming the global shootdown mailbox: one compare-and-swap")

    # --- scheduling ----------------------------------------------------------------------
    switch_away: int = _c(400, "a lazy CPU loading pmap_kernel and dropping its reference: CR3 write "
                               "plus atomic refcount decrement; choice")

    # --- today's kernels (issue 10): broadcast invalidation, reverse maps ---------------------
    invlpgb: int = _c(250, "issuing one INVLPGB: no published cycle count found; a choice, taken as "
                           "one local INVLPG (216-280, Molnar/Hansen 2015) since the issuer's side is "
                           "the same page-walk-cache and TLB lookup")
    tlbsync: int = _c(1000, "TLBSYNC wait for the issuer's broadcasts to complete: no published figure; "
                            "a choice between a cross-CCX cache-line round trip (107 ns on EPYC Milan, "
                            "core-to-core-latency) and an IPI round trip (~775 ns, Amit 2019), as it "
                            "crosses the fabric but enters no interrupt handler (~400 ns)")
    pv_tree_step: int = _c(15, "one level of a per-PTP red-black tree of PV entries (NetBSD 10 "
                               "pmap_pvmap / rb_tree_find_node): a compare and a likely-cached pointer "
                               "load; choice, as pv_list_step plus the comparison")
    rmap_vma_step: int = _c(100, "Linux rmap: one VMA of an anon_vma or i_mmap interval-tree walk "
                                 "(vma_address, then page_vma_mapped_walk down the page table): about "
                                 "three warm page-walk steps (~35 each, Molnar 2015); choice")
