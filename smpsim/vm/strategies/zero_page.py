"""The shared zero page per kernel (`zero_page`): `on` (Linux) and `off` (NetBSD UVM, FreeBSD).

`on` — Linux mm/memory.c `do_anonymous_page`: a read fault (no FAULT_FLAG_WRITE) on a private
anonymous VMA maps `my_zero_pfn(vmf->address)` with `pte_mkspecial`, read-only, and allocates
nothing; the first write to it faults again (`do_wp_page`: the zero pfn is not a normal page) and
`wp_page_copy` allocates a zeroed folio (`vma_alloc_zeroed_movable_folio`), then replaces the PTE
with `ptep_clear_flush` (mm/pgtable-generic.c), which flushes that address on every CPU of the
mm (`flush_tlb_page` -> x86 `flush_tlb_mm_range`: a shootdown when the mm is loaded elsewhere).
The zero page is one kernel page shared by every process; `vm_normal_page` returns NULL for it,
so it has no rmap (here: no PV entry, `ZeroPageAwarePv`) and is never freed.

`off` — NetBSD sys/uvm/uvm_fault.c (`uvm_fault_upper` with no anon: `uvm_analloc` +
`uvm_pagealloc(..., UVM_PGA_ZERO)`) and FreeBSD sys/vm/vm_fault.c (`vm_fault_zerofill`): the
first touch, read or write, gets a zeroed page of its own.
"""

from __future__ import annotations

from smpsim.vm.strategies.zero_page_base import ZeroPageStrategy


class NoZeroPage(ZeroPageStrategy):
    """Every first touch allocates a zeroed page (the base's rule)."""


class SharedZeroPage(ZeroPageStrategy):
    def read_fault_frame(self, op) -> int | None:
        if self.frame is None:
            self.frame = self.k.phys.alloc_kernel()      # one kernel frame, for good
        self.k.counters["zero_page_maps"] += 1
        return self.frame

    def filter_pv(self, pv):
        return ZeroPageAwarePv(pv, self)


class ZeroPageAwarePv:
    """The PV tracker seen through the zero page: mappings of the zero frame get no PV entry
    (Linux: `vm_normal_page` is NULL for the zero pfn, so no rmap is added or removed); every
    other call and attribute is the tracker's own."""

    def __init__(self, pv, zero: ZeroPageStrategy):
        self.tracker = pv
        self.zero = zero

    def __getattr__(self, name):
        return getattr(self.tracker, name)

    def insert(self, op, pmap, va, frame, ptp_frame, entry) -> None:
        if not self.zero.is_zero(frame):
            self.tracker.insert(op, pmap, va, frame, ptp_frame, entry)

    def remove(self, op, pmap, va, frame, ptp_frame, entry, page_locked=False) -> None:
        if not self.zero.is_zero(frame):
            self.tracker.remove(op, pmap, va, frame, ptp_frame, entry, page_locked=page_locked)
