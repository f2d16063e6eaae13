"""The shared zero page, the kind's interface (`ZeroPageStrategy`): what a read fault on
private anonymous memory with no page yet maps (`zero_page`).

`on` (Linux mm/memory.c `do_anonymous_page`: a read fault maps `my_zero_pfn(addr)`, the one
shared zero page, read-only; the first write faults again and `do_wp_page` -> `wp_page_copy`
allocates a zeroed page and replaces the PTE with `ptep_clear_flush`, which flushes that address
wherever the mm is loaded) and `off` (NetBSD sys/uvm/uvm_fault.c `uvm_fault_upper_lookup` /
`uvm_fault_lower`: an anon with no page gets a fresh zeroed page, `uvm_pagealloc(...,
UVM_PGA_ZERO)`; FreeBSD sys/vm/vm_fault.c `vm_fault_zerofill`). Both are in `zero_page`.

The zero page is one KERNEL frame (never freed, never a data page of any object); its PTEs have
no PV entry (Linux: `vm_normal_page` returns NULL for the zero pfn, so rmap never sees it).
"""

from __future__ import annotations

from smpsim.vm.declare import Kind


class ZeroPageStrategy:
    """Kernel hook: `read_fault_frame` is do_anonymous_page's choice on a read fault that
    finds no page: the frame to map read-only, or None to allocate a zeroed page (the base:
    no zero page). `frame` is the zero page's frame once it exists (None before)."""

    KIND = Kind("zero_page", "off", "What a read fault on untouched private anonymous memory maps: "
                                    "the shared zero page (on) or a fresh zeroed page (off)")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k
        self.frame: int | None = None

    def read_fault_frame(self, op) -> int | None:
        return None

    def is_zero(self, frame: int) -> bool:
        return frame == self.frame

    def filter_pv(self, pv):
        """The PV tracker the kernel uses (the zero page's frame gets no PV entries)."""
        return pv
