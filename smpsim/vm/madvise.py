"""The madvise(2) system call: MADV_DONTNEED and MADV_FREE on a range of a process.

`uvm_madvise` is the UVM side every kernel shares: the address-space lock taken as the kernel
takes it for this advice (`k.map_lock.advise_enter`: read for all three kernels — Linux
mm/madvise.c `madvise_need_mmap_write` is 0 for DONTNEED and FREE; FreeBSD `vm_map_madvise`
read-locks for them; NetBSD `uvm_map_clean` read-locks), the advice's work, which is the
kernel's (`k.madvise`: smpsim.vm.strategies.madvise_zap / madvise_advise /
madvise_deactivate), and the lock released. The fixed entry/exit cost is charged by the
dispatcher, as for every system call (`costs.syscall`).
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.operations import MADV_DONTNEED


def uvm_madvise(k, op: Op, proc, start: int, npages: int, advice: str) -> None:
    end = start + npages
    k.map_lock.advise_enter(op, proc)
    op.spend(k.costs.zap_fixed, "other")
    if advice == MADV_DONTNEED:
        k.madvise.dontneed(op, proc, start, end)
    else:
        k.madvise.free(op, proc, start, end)
    k.map_lock.advise_exit(op, proc)
    k.counters["madvises"] += 1
