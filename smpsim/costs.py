"""The cost model: simulated cycles for every modelled action.

Figures are cycles of a ~2.5 GHz x86 server, the default clock (`machine.ghz`,
which every conversion between cycles and time reads). Each default's description names
its source (a paper, a kernel mailing-list measurement) or says plainly that it
is a choice and why, where no measurement was found. Every field can be overridden in a config's
`[costs]` table. `docs/costs.md` is generated from these descriptions
(`smpsim costs --markdown`), and a test keeps it up to date.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_COST = 1_000_000_000        # cycles of one modelled action: 0.4 s at 2.5 GHz
GHZ_RANGE = (0.1, 10.0)         # machine.ghz: server clocks stay below ~6 GHz; catches MHz or Hz given as GHz


def _c(default: int, source: str):
    return Field(default=default, ge=0, description=source)


class CostModel(BaseModel):
    """Cycle costs. Immutable; validated like the rest of the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- TLB and page tables -------------------------------------------------
    tlb_hit: int = _c(1, "choice: an STLB/L1 dTLB hit adds about one cycle to the access it serves; charged "
                         "on every user access that hits (the user work between accesses is the rest of "
                         "quantum_cycles / accesses_per_quantum)")
    page_walk: int = _c(300, "page walk on an L2 TLB miss whose page-table lines are not cached (cold), "
                             "~300 (Molnar 2015 cold-access figures); charged to the user access that missed")
    page_walk_warm: int = _c(35, "page walk whose PTE cache line this CPU walked recently (warm), ~35 "
                                 "(Molnar 2015); a CPU remembers the last `walk_lines` PTE lines it walked")
    invlpg: int = _c(250, "INVLPG of one 4 KiB page, 216-280 on Intel (Molnar/Hansen, LKML 2015)")
    local_full_flush: int = _c(120, "CR3 reload without global pages, 96-152 (Molnar/Hansen 2015)")
    context_switch: int = _c(2000, "choice: switching a CPU to another address space (pmap_load), "
                                   "excluding the TLB flush (~800 ns); charged to that CPU's quantum")
    pcid_switch_saving: int = _c(250, "PCID saves ~100 ns per context switch (Lutomirski, LKML 2017)")

    # --- PTE updates -----------------------------------------------------------
    pte_atomic: int = _c(20, "locked cmpxchg on a hot line ~20 (common figure; Baumann et al. SOSP 2009)")
    pte_plain: int = _c(2, "choice: plain store to a PTE already in cache (an L1 store)")
    protect_pte: int = _c(120, "mprotect's work per PTE it lowers, beyond the atomic update (pte_atomic) and the "
                               "PTE read (pte_scan): Linux change_pte_range -> ptep_modify_prot_start/commit, "
                               "pte_modify and vm_normal_page. Measured on this project's machine (Linux 6.18, "
                               "KVM guest, AMD EPYC): mprotect(PROT_READ) of 64 -> 256 written pages, above "
                               "the 33-page ceiling so without per-page INVLPG, costs 49-57 ns per extra page "
                               "(measure/dontneed_split.c, 2026-12-06), ~142 cycles at 2.5 GHz of which "
                               "pte_atomic + pte_scan are 23; perf record of a 64-page loop put those "
                               "functions at ~59 ns per PTE (2026-12-05). Charged to every kernel's mprotect "
                               "(not to fork's write-protect, Linux's ptep_set_wrprotect): a simplification "
                               "for NetBSD and FreeBSD, whose per-PTE loop (an atomic update and a "
                               "modified-bit test) is likely shorter")
    pte_scan: int = _c(3, "choice: reading one PTE slot while scanning a PTP (8 slots per 64-byte line, "
                          "sequential, prefetched)")

    # --- locks and shared cache lines ----------------------------------------------
    lock_acquire: int = _c(20, "uncontended spin-lock acquire on a line this CPU owns: one locked "
                               "cmpxchg (as pte_atomic); a line last written by another CPU adds a "
                               "line transfer")
    lock_release: int = _c(5, "choice: release is a plain store plus a compiler barrier on x86")
    lock_backoff: int = _c(400, "SPINLOCK_BACKOFF before a P->V retry: the 2011 x86 pmap backs off "
                                "exponentially from a few hundred cycles; choice of the first step")
    line_transfer: int = _c(120, "moving a written cache line from another core of the same socket: "
                                 "44-51 ns CAS ping-pong median on Xeon Broadwell-Ice Lake "
                                 "(nviennot/core-to-core-latency), ~48 ns")
    line_transfer_remote: int = _c(300, "moving a written cache line from a core on another socket: "
                                        "2-3x the in-socket figure on dual-socket machines "
                                        "(nviennot/core-to-core-latency notebook); 2.5x chosen")

    # --- PV tracking ---------------------------------------------------------------
    pv_hash_step: int = _c(100, "one link of a global PV hash chain: a dependent load into a 256 KiB "
                                "bucket array and PV entries scattered over memory, shared by all CPUs, "
                                "so an L3 hit at best (~70-80 cycles on Skylake-SP) plus the compare; "
                                "choice, tuned so that netbsd5's exit cost per page sits above Linux's ~320: "
                                "validate's exit_per_page was used to set it and is not evidence for it")
    pv_list_step: int = _c(10, "choice: one link of a per-page or per-entry PV list (lines mostly cached)")
    pv_alloc: int = _c(60, "choice: pool_cache_get of a PV entry from the per-CPU cache (no lock)")
    pv_free: int = _c(40, "choice: pool_cache_put of a PV entry to the per-CPU cache (no lock)")

    # --- pages -----------------------------------------------------------------------
    fault_trap: int = _c(1500, "choice: exception entry/exit plus uvm_fault lookups (~600 ns)")
    page_alloc: int = _c(200, "choice: uvm_pagealloc taking a page off a free list, excluding the "
                              "uvm_fpageqlock acquisition charged separately")
    page_zero: int = _c(1000, "choice: zeroing a 4 KiB page with cache misses (~10 B/cycle gives ~400 "
                              "in cache)")
    page_copy: int = _c(1500, "choice: copying a 4 KiB page for copy-on-write (reads the source and "
                              "writes the destination: 1.5x page_zero)")
    page_free: int = _c(150, "uvm_pagefree and accounting, excluding the free-page queue lock: what "
                             "remains of the ~320 cycles per page zapped in a large munmap (Yang Shi, "
                             "LKML 2018) after the PTE update and rmap work; tuned to that figure, which "
                             "smpsim validate's exit_per_page checks against, so not its own evidence")
    ptp_free: int = _c(150, "freeing one PTP back to the page allocator, as page_free")
    ptp_bulk_free: int = _c(30, "choice: freeing one PTP in a bulk splice onto the free list (one lock "
                                "hold for the whole splice)")
    page_pcpu_alloc: int = _c(120, "choice: an allocation served from this CPU's page cache (NetBSD 10 "
                                   "uvm_pgflcache_alloc, FreeBSD's UMA per-CPU bucket, Linux's pcp list) "
                                   "with the allocation's bookkeeping, no lock: page_alloc's work less the "
                                   "shared-list manipulation that moves to page_batch_step, because Gorman's "
                                   "2017 'Use per-cpu allocator for !irq requests' series puts the per-CPU "
                                   "fast path roughly 30% below the locked path")
    page_pcpu_free: int = _c(100, "choice: a free into this CPU's page cache (uvm_pgflcache_free, uma_zfree "
                                  "into the free bucket, free_unref_page_commit), no lock: page_free's "
                                  "bookkeeping less the shared-list insert, for the same reason as "
                                  "page_pcpu_alloc")
    page_batch_step: int = _c(40, "choice: moving one page between a shared free list and a per-CPU cache "
                                  "inside a batch under the list lock (rmqueue_bulk / free_pcppages_bulk, "
                                  "uvm_pgflcache_fill / spill, vm_phys_alloc_npages): a list unlink and "
                                  "link on a struct page whose line the walk prefetches, about two "
                                  "L2 hits plus stores")
    lru_add: int = _c(40, "Linux folio_add_lru putting a new folio in this CPU's lru_add folio_batch "
                          "(no lock): measured 17 ns (43 cycles at 2.5 GHz) per folio on this machine "
                          "(measure/page_alloc_fault.c under perf, KVM guest, 2026; measure/results)")
    lru_step: int = _c(200, "one folio added to or removed from the LRU under lruvec->lru_lock "
                            "(folio_batch_move_lru / folios_put_refs: list work and memcg lruvec "
                            "statistics): measured 95 and 67 ns per folio of lock hold (236 and 168 "
                            "cycles at 2.5 GHz; mean taken) on this machine (measure/page_alloc_fault.c "
                            "under perf, KVM guest, 2026; measure/results)")

    # --- fork, exit and wait --------------------------------------------------------------
    fork_fixed: int = _c(110_000, "process creation outside the VM copy (fork1/copy_process: the proc, "
                                  "threads, credentials, file table, signals, the new pmap's top level), "
                                  "charged to every new process (fork, and a workload's spawn of an image): "
                                  "measured on this machine by measure/fork_exit.c: the fork syscall as the "
                                  "parent sees it is 44.2 us + 70 ns per touched page (Linux 6.18, KVM "
                                  "guest, AMD EPYC, 2026-12-05), the intercept at 2.5 GHz. No figure for "
                                  "today's NetBSD or FreeBSD was found (McGarry 2004 compares NetBSD 2.0 "
                                  "and FreeBSD 5.3 on 2004 hardware): every kernel gets Linux's, a choice")
    exit_fixed: int = _c(127_000, "exit() outside the address space's teardown (exit1/do_exit: files, "
                                  "signals, reparenting, waking the parent), charged to the Exit operation: "
                                  "measured on this machine by measure/fork_exit.c: from the child's "
                                  "_exit(0) until the parent's waitid returns is 50.9 us + 54 ns per page "
                                  "(Linux 6.18, KVM guest, 2026-12-05), the intercept at 2.5 GHz; every "
                                  "kernel gets it, a choice (no BSD figure found)")
    wait_fixed: int = _c(9_800, "the parent's wait reaping an exited child (wait4 -> release_task / "
                                "proc_free), charged with the child's teardown since the model has no "
                                "operation for the parent's return from wait: measured on this machine by "
                                "measure/fork_exit.c: waitpid of a zombie is 3.9 us (2026-12-05)")
    fork_pte_copy: int = _c(40, "fork copying one PTE beyond the pmap_enter it goes through (the loop of "
                                "copy_pte_range or amd64 pmap_copy: read the source PTE, find its struct "
                                "page, store the copy): choice, tuned with fork_rmap_dup so that Linux's "
                                "simulated fork costs ~70 ns per touched page, as measure/fork_exit.c "
                                "measured (2026-12-05); not its own evidence")
    fork_rmap_dup: int = _c(45, "Linux folio_try_dup_anon_rmap_pte per copied anonymous PTE: the folio's "
                                "mapcount and refcount raised (two atomics on a struct page line not "
                                "recently touched); choice, tuned with fork_pte_copy to the 70 ns per page "
                                "measured by measure/fork_exit.c (2026-12-05)")
    zap_rmap_drop: int = _c(110, "Linux unmapping a present PTE (zap_present_ptes in munmap, MADV_DONTNEED and "
                                 "exit; try_to_unmap_one), beyond the PTE clear and the mapcount atomic: "
                                 "folio_remove_rmap_ptes' statistics, the RSS counter, __tlb_remove_page into "
                                 "the mmu_gather and free_pages_and_swap_cache dropping the reference (the page's "
                                 "free, when it is the last, is the allocator's). Measured on this project's "
                                 "machine (Linux 6.18, KVM guest, AMD EPYC, 2026-12-06) by measure/"
                                 "dontneed_split.c: a MADV_DONTNEED of 34-256 pages still mapped by a live "
                                 "forked child costs ~54 ns per page, no page freed, as mprotect's per-page "
                                 "work does (~135 cycles at 2.5 GHz, of which the model's pte_atomic x2 + "
                                 "pte_scan are 43); also ~54 ns per copied page of a child's exit in "
                                 "measure/fork_exit.c")
    rmap_last_unmap: int = _c(80, "Linux unmapping the last mapping of a page, beyond zap_rmap_drop: "
                                  "folio_remove_rmap_ptes' accounting of a folio no longer mapped "
                                  "(NR_ANON_MAPPED / NR_FILE_MAPPED through __lruvec_stat_mod_folio). "
                                  "Measured on this project's machine (Linux 6.18, KVM guest, 2026-12-06) "
                                  "by measure/dontneed_split.c: below the 6/7-page step, a MADV_DONTNEED "
                                  "of pages only this process maps costs ~32 ns per page more than of "
                                  "pages a live child also maps, neither freeing a page (plain 1->8 pages "
                                  "189 ns/page, shared 157); 80 cycles at 2.5 GHz")
    gather_batch_page: int = _c(1000, "Linux's mmu_gather taking a batch page once its on-stack bundle is full "
                                      "(tlb_next_batch's __get_free_page(GFP_NOWAIT) when a zap gathers a "
                                      "7th page, again every MAX_GATHER_BATCH = 509 pages) and freeing it in "
                                      "tlb_finish_mmu: measured on this project's machine (Linux 6.18, KVM "
                                      "guest, 2026-12-06) as the step between a 6- and a 7-page MADV_DONTNEED "
                                      "less one page's ~95 ns: ~410 ns with the pages still mapped by a live "
                                      "child (none freed), 330-460 ns in the other loops of measure/"
                                      "dontneed_split.c, where mprotect has no step; 1,000 cycles at 2.5 GHz")

    # --- IPIs and shootdowns -----------------------------------------------------------
    ipi_send: int = _c(170, "initiator's cost per IPI target (ICR write, or queueing Linux's call-function "
                            "entry, and collecting that target's acknowledgement): each extra same-socket "
                            "target ~70 ns (Amit, LKML RFC 2019); tuned to that figure, which validate's "
                            "ipi_per_target checks, so that case is not its evidence")
    ipi_send_exit: int = _c(0, "choice (bare metal: 0): on a virtual machine whose ICR write is a VM exit, the "
                               "end of ipi_send from the host posting the interrupt to the sender's VM entry. "
                               "Above 0, a vCPU takes the interrupts posted to it before its entry there, so "
                               "another CPU's flush IPI lands between the sender's tlb_gen bump and its local "
                               "flush (smpsim.vm.strategies.flush_overlap). On bare metal the ICR write is a "
                               "register store and an interrupt is taken when it arrives; a profile of a "
                               "virtual machine sets it (docs/trace.md)")
    ipi_delivery: int = _c(800, "from the ICR write to the handler starting on a same-socket target; "
                                "chosen so that a one-page, one-target round trip with acknowledgement "
                                "after the flush is ~1,900 cycles (~775 ns, Amit, LKML RFC 2019); tuned to "
                                "the figure validate's ipi_round_trip checks, so that case is not its evidence")
    ipi_delivery_remote: int = _c(2000, "as ipi_delivery for a target on another socket: 2.5x, as for a "
                                        "line transfer (nviennot/core-to-core-latency; LATR, ASPLOS 2018 "
                                        "reports 2.7 us for a 16-core 2-socket shootdown)")
    ipi_handler_entry: int = _c(500, "choice: the part of ipi_handler before the handler can touch the "
                                     "request (interrupt entry, reading the packet)")
    ipi_handler: int = _c(1200, "remote handler cost stolen from a target, entry plus exit, excluding its "
                                "flush work (estimate; no direct measurement found)")
    mailbox_claim: int = _c(20, "claiming the global shootdown mailbox: one compare-and-swap, as pte_atomic "
                                "(a line last written by another CPU adds a line transfer)")

    # --- scheduling ----------------------------------------------------------------------
    switch_away: int = _c(400, "choice: a lazy CPU loading pmap_kernel and dropping its reference: CR3 "
                               "write plus atomic refcount decrement")

    # --- syscalls, madvise and the address-space lock ------------------------------------
    syscall: int = _c(430, "fixed entry and exit of one system call (mmap, munmap, mprotect, madvise, fork, "
                           "exec, exit; not faults): ~173 ns median for syscall(SYS_getppid), pinned, on this "
                           "project's machine (AMD EPYC Zen 4 KVM guest, Linux 6.18, retpolines), measured "
                           "with measure/syscall.c in 2026 (measure/results/syscall.txt); 430 cycles at 2.5 GHz")
    map_entry_update: int = _c(300, "choice: inserting, clipping or detaching one map entry (NetBSD/FreeBSD "
                                    "vm_map_entry in the map's tree; Linux a VMA split and maple-tree store), "
                                    "the address-space lock's write-held work outside the pmap; ~120 ns, a few "
                                    "cache misses in the tree")
    zap_fixed: int = _c(0, "the fixed work of a munmap or madvise on its range beyond the syscall floor and the "
                           "address-space lock: the VMA walk, mmu_gather setup and finish (Linux tlb_gather_mmu / "
                           "tlb_finish_mmu), lru_add_drain's per-CPU checks, the flush decision. A choice: 0 in the "
                           "defaults, because no published figure separates it from the syscall and the per-page "
                           "work; `smpsim calibrate` fits it from the 1-page MADV_DONTNEED (about 0.8 us on this "
                           "project's KVM guest, configs/profiles/kvm_epyc_2vcpu.toml)")
    page_deactivate: int = _c(100, "choice: moving one resident page to the inactive queue for madvise "
                                   "(NetBSD uvm_pagedeactivate, FreeBSD vm_page_advise): a list move under "
                                   "the page-queue lock, lines mostly cached")

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
    tlbsync_remote_socket: int = _c(180, "what TLBSYNC waits more for each socket beyond the first: "
                                         "INVLPGB goes to every core of the machine, and the issuer's "
                                         "TLBSYNC completes when the last socket has acknowledged over the "
                                         "inter-socket link; no published figure, a choice: the extra of a "
                                         "cross-socket line round trip over a same-socket one "
                                         "(line_transfer_remote 300 - line_transfer 120), one per further "
                                         "socket, as the acknowledgements are gathered by the issuing socket")


def markdown() -> str:
    """docs/costs.md: every cost, its default and its description (source or reason)."""
    lines = ["# Cost model", "",
             "Generated from `smpsim/costs.py` by `smpsim costs --markdown > docs/costs.md`; do not edit by hand",
             "(a test checks that this file is up to date). Cycles of a ~2.5 GHz x86 server (the default clock,",
             "`machine.ghz`, which converts cycles to time wherever smpsim does); every field can be",
             "overridden in a config's `[costs]` table. `smpsim validate` holds these defaults against published",
             "measurements.", "", "| cost | default (cycles) | source or reason |", "|---|---:|---|"]
    for name, field in CostModel.model_fields.items():
        lines.append(f"| `{name}` | {field.default:,} | {field.description} |")
    return "\n".join(lines) + "\n"
