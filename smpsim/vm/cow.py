"""Copy-on-write faults of a forked child: the page a fault on a needs-copy entry maps.

Models the copy-on-write path of sys/uvm/uvm_fault.c (`uvm_fault_upper` /
`uvmfault_promote`) for an entry `uvmspace_fork` gave its own empty amap whose
sources are the parent's amap (`backing`) and, for a child of a forked child,
the sources behind it (`chain`): `uvm_fault` (smpsim.vm.uvm) asks here when the
entry's own amap lacks the page, and the sources are searched nearest first (as
a UVM anon shared through needs-copy amaps, or a Linux anon folio found through
the anon_vma chain, is the parent's or an older ancestor's);
`smpsim.vm.fork` sets such entries up.
"""

from __future__ import annotations

from smpsim.vm.locks import Op


def cow_fault(k, op: Op, entry, off: int, write: bool):
    """A fault on a forked private entry whose own amap lacks the page: (frame, prot) to map,
    or (None, prot) to zero-fill. Read: the source's page, read-only. Write: a copy of it."""
    c = k.costs
    frame = None
    for src in entry.sources():
        frame = src.pages.get(off)
        if frame is not None:
            break
    if frame is None:
        return None, entry.prot
    if not write:
        k.counters["cow_read_shares"] += 1
        return frame, entry.prot.replace("w", "")
    copy = k.phys.alloc_data(entry.obj, off)
    entry.obj.pages[off] = copy
    k.counters["pages_allocated"] += 1
    k.counters["cow_faults"] += 1
    k.counters["pages_copied"] += 1
    k.page_alloc.alloc(op, "other", data=True)
    op.spend(c.page_copy, "other")
    return copy, entry.prot
