"""The address-space lock, the kind's interface (`MapLockStrategy`): which reader/writer lock of
the vmspace each operation takes, and how (`map_lock`).

The values: `vm_map` (NetBSD and FreeBSD: the vm_map lock, read for faults and madvise, write
for mmap, munmap and mprotect) and `mmap_lock` (Linux: munmap writes then downgrades to read for
the zap; madvise reads; faults take a per-VMA lock instead). Both are in `map_lock`. The lock is
one `SimRwLock` per vmspace (smpsim.vm.locks); its waits are counted as
`<kind>_lock_wait_cycles` (`map_lock_wait_cycles`, `mmap_lock_wait_cycles`).
"""

from __future__ import annotations

from smpsim.vm.declare import Kind
from smpsim.vm.locks import SimRwLock


class MapLockStrategy:
    """Kernel hooks, each given the operation and the process: `fault_enter`/`fault_exit`
    around uvm_fault, `map_enter`/`map_exit` around a change of the map (mmap, mprotect),
    `unmap_enter`/`unmap_zap`/`unmap_done`/`unmap_exit` around munmap (before the entries are
    detached, between the detach and the zap, after the flush, after the pages are freed),
    `advise_enter`/`advise_exit` around madvise. The base takes nothing (no address-space lock).
    `fault_object_enter`/`fault_object_exit` bracket the fault's page lookup and pmap_enter: the
    base takes the object's lock, as UVM (`amap_lock` in uvm_fault) and FreeBSD
    (`VM_OBJECT_WLOCK` in vm_fault) do."""

    KIND = Kind("map_lock", "vm_map", "The address-space lock (a reader/writer lock per vmspace) "
                                      "and which side each operation takes")
    PARAMETERS = ()
    LOCK_KIND = "map"              # the counter family of its waits (smpsim.vm.locks.LOCK_COUNTERS)
    LOCK_NAME = "vm_map"

    def __init__(self, k):
        self.k = k
        self.by_map: dict = {}     # VmMap -> its SimRwLock, made at first use

    def lock(self, proc) -> SimRwLock:
        lock = self.by_map.get(proc.map)
        if lock is None:
            lock = self.by_map[proc.map] = SimRwLock(f"{self.LOCK_NAME}.{proc.pid}", self.LOCK_KIND)
        return lock

    def locks(self):
        return self.by_map.values()

    def take(self, op, side) -> None:
        op.acquire(side, self.k.costs.lock_acquire, "other")

    def drop(self, op, side) -> None:
        op.release(side, self.k.costs.lock_release)

    def fault_enter(self, op, proc) -> None:
        pass

    def fault_exit(self, op, proc) -> None:
        pass

    def fault_object_enter(self, op, obj) -> None:
        op.acquire(obj.lock, self.k.costs.lock_acquire, "other")

    def fault_object_exit(self, op, obj) -> None:
        op.release(obj.lock, self.k.costs.lock_release)

    def map_enter(self, op, proc) -> None:
        pass

    def map_exit(self, op, proc) -> None:
        pass

    def unmap_enter(self, op, proc) -> None:
        pass

    def unmap_zap(self, op, proc) -> None:
        pass

    def unmap_done(self, op, proc) -> None:
        pass

    def unmap_exit(self, op, proc) -> None:
        pass

    def advise_enter(self, op, proc) -> None:
        pass

    def advise_exit(self, op, proc) -> None:
        pass
