"""A recorded action as the model's operations, made against the process's map as it is now.

Actions are what a space's chain replays (smpsim.experiments.workloads.trace_tasks): a fault,
a memory-map system call that succeeded (mmap, munmap, mprotect, madvise, brk, mremap), fork,
exec, exit. Each becomes zero or more operations of smpsim.vm.operations:

- a fault at an address: a `Touch` of its page, a write where the error code says so (0x2); a
  page no entry maps is in a region the trace never saw mapped (set up by execve or the loader,
  or before the recording): the touch maps an *implicit* anonymous entry first, the 2 MiB
  window around the page (one page-table page's span) clipped to its mapped neighbours;
- mmap: the range the kernel returned, MAP_FIXED-like (`fixed`: an implicit window the model
  guessed there is unmapped first); MAP_SHARED makes a shared object of its own (inherited at
  fork), everything else is private anonymous memory (a private file mapping is copy-on-write
  of the page cache in a real kernel; its read faults are modelled as faults of anonymous
  memory, the zero page where the kernel has one); MAP_POPULATE prefaults the range;
- munmap, mprotect, madvise (MADV_DONTNEED, MADV_FREE; other advice is not modelled and
  counted): the range as given; brk: the heap's growth mapped, its shrinking unmapped;
  mremap: growth in place mapped, shrinking unmapped, a move replayed as a new mapping and an
  unmap of the old range (the real kernel moves the page tables instead: counted; with
  MREMAP_DONTUNMAP the old range stays); the unmaps brk and mremap make are not munmap calls
  (`Munmap.via`: not in the munmap count or latency);
- fork: `Fork` (the kernel's fork strategy copies the address space); exec: `Exec` to an
  empty image (its regions become implicit); exit of the last thread: `Exit`.
"""

from __future__ import annotations

from smpsim.trace.events import SYSCALL_CODE
from smpsim.experiments.workloads.trace_tasks import prot_of
from smpsim.vm.operations import MADV_DONTNEED, MADV_FREE, Madvise, Mmap, Mprotect, Munmap, Touch

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
WINDOW = 512                        # pages: 2 MiB, the span of one page-table page
USER_PAGES = 1 << 36                # the 48-bit user address space, in pages
MAP_SHARED, MAP_ANONYMOUS, MAP_POPULATE = 0x01, 0x20, 0x8000
MREMAP_DONTUNMAP = 0x4
ADVICE = {4: MADV_DONTNEED, 8: MADV_FREE}
MMAP, MUNMAP, MPROTECT, MADVISE, BRK, MREMAP = (SYSCALL_CODE[n] for n in ("mmap", "munmap", "mprotect", "madvise",
                                                                           "brk", "mremap"))


def pages(addr: int, length: int) -> tuple[int, int]:
    """The pages [start, start+n) a byte range covers."""
    start = addr >> PAGE_SHIFT
    return start, max(0, -(-(addr + length) // PAGE) - start)


def implicit_window(proc, va: int) -> tuple[int, int]:
    """The 2 MiB window around page `va`, clipped to the entries mapped beside it."""
    lo, hi = va - va % WINDOW, va - va % WINDOW + WINDOW
    for e in proc.map.entries:
        if e.end <= va:
            lo = max(lo, e.end)
        elif e.start > va:
            hi = min(hi, e.start)
    return lo, hi - lo


def fault(space, va: int, error_code: int, counters) -> list:
    proc = space.proc
    write = bool(error_code & 0x2)
    counters["trace_faults"] += 1
    if not 0 <= va < USER_PAGES:                 # a hand-made trace's (import skips these)
        counters["trace_faults_outside"] += 1
        return []
    pte = proc.pmap.pte(va)
    entry = proc.map.lookup(va)
    if pte is not None and entry is not None and (not write or "w" in pte.prot or "w" not in entry.prot):
        counters["trace_faults_unneeded"] += 1
    implicit = () if entry is not None else implicit_window(proc, va)
    if write and error_code & 0x1 and pte is None and va not in space.anon and _never_had(entry, va):
        # a file mapping's page the real kernel had mapped (fault-around), the model never had:
        # map it as a read fault would, so that the write meets what the kernel's did
        counters["trace_faults_present_unmapped"] += 1
        return [Touch(proc.pid, va, 1, False, implicit=implicit), Touch(proc.pid, va, 1, True)]
    return [Touch(proc.pid, va, 1, write, implicit=implicit)]


def _never_had(entry, va: int) -> bool:
    """No page of the model's backs `va`: neither the entry's own memory nor a copy-on-write source
    it reads through (where one does, the design itself left the page unmapped, as NetBSD's fork
    leaves the child's PTEs to its faults)."""
    if entry is None:
        return True
    off = entry.offset + (va - entry.start)
    return all(off not in o.pages for o in (entry.obj, *entry.sources()))


def _in_space(start: int, n: int) -> bool:
    return n > 0 and 0 <= start and start + n <= USER_PAGES


def _unmapped(proc, start: int, n: int, counters) -> None:
    if not any(e.start < start + n and start < e.end for e in proc.map.entries):
        counters["trace_ranges_unmapped"] += 1


def syscall(space, code: int, args: tuple, ret: int, counters) -> list:
    """The operations of a system call that returned `ret` (>= 0) with `args` (its sys_enter's)."""
    proc = space.proc
    pid = proc.pid
    if code == MMAP and len(args) >= 4:
        start, n = pages(ret, args[1])
        if not _in_space(start, n):
            return _outside(counters)
        obj = f"shm.{pid}.{start:x}" if args[3] & MAP_SHARED else None
        if args[3] & (MAP_SHARED | MAP_ANONYMOUS):
            space.anon.add(start, n)
        else:
            space.anon.remove(start, n)                 # a private file mapping
        return [Mmap(pid, start, n, obj, 0, prot_of(args[2]), n if args[3] & MAP_POPULATE else 0, fixed=True)]
    if code == BRK:
        return _brk(space, ret, counters)
    if code == MREMAP and len(args) >= 3:
        return _mremap(space, args, ret, counters)
    if code in (MUNMAP, MPROTECT, MADVISE) and len(args) >= 2:
        start, n = pages(args[0], args[1])
        if not _in_space(start, n):
            return _outside(counters)
        _unmapped(proc, start, n, counters)
        if code == MUNMAP:
            space.anon.remove(start, n)
            return [Munmap(pid, start, n)]
        if code == MPROTECT and len(args) >= 3:
            return [Mprotect(pid, start, n, prot_of(args[2]))]
        if code == MADVISE and len(args) >= 3 and args[2] in ADVICE:
            return [Madvise(pid, start, n, ADVICE[args[2]])]
    counters["trace_calls_unmodelled"] += 1
    return []


def _outside(counters) -> list:
    counters["trace_calls_unmodelled"] += 1
    return []


def _brk(space, ret: int, counters) -> list:
    """brk moved the break from space.brk to `ret`: map the growth, unmap the shrinking."""
    old, space.brk = space.brk, ret
    if old is None or ret == old:
        return []
    lo, hi = -(-min(old, ret) // PAGE), -(-max(old, ret) // PAGE)
    if hi <= lo:
        return []
    if not _in_space(lo, hi - lo):
        return _outside(counters)
    pid = space.proc.pid
    if ret > old:
        space.anon.add(lo, hi - lo)
        return [Mmap(pid, lo, hi - lo, fixed=True)]
    space.anon.remove(lo, hi - lo)
    return [Munmap(pid, lo, hi - lo, via="brk")]


def _mremap(space, args: tuple, ret: int, counters) -> list:
    pid, anon = space.proc.pid, space.anon
    addr, old_len, new_len = args[0], args[1], args[2]
    old_start, old_n = pages(addr, old_len)
    new_start, new_n = pages(ret, new_len)
    if not (_in_space(old_start, max(1, old_n)) and _in_space(new_start, new_n)):
        return _outside(counters)
    was_anon = old_start in anon
    if new_start == old_start:
        if new_n > old_n:
            if was_anon:
                anon.add(old_start + old_n, new_n - old_n)
            return [Mmap(pid, old_start + old_n, new_n - old_n, fixed=True)]
        anon.remove(new_start + new_n, max(0, old_n - new_n))
        return [Munmap(pid, new_start + new_n, old_n - new_n, via="mremap")] if old_n > new_n else []
    counters["trace_mremap_moved"] += 1
    keep_old = len(args) >= 4 and args[3] & MREMAP_DONTUNMAP      # the old range stays mapped, emptied
    out = [Munmap(pid, old_start, old_n, via="mremap")] if old_n and not keep_old else []
    if not keep_old:
        anon.remove(old_start, old_n)
    if was_anon:
        anon.add(new_start, new_n)
    else:
        anon.remove(new_start, new_n)
    return out + [Mmap(pid, new_start, new_n, fixed=True)]
