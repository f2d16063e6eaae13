"""The model's figure for each calibration benchmark: the same operation, on the same CPUs, under
the `linux` preset, timed by the model's own code (inline), in cycles of the simulated clock.

Each probe mirrors one program of smpsim/calibrate/bench/calbench.c:

- `madvise(setup, pages, targets)`: `madvise(MADV_DONTNEED)` of the first `pages` pages of a
  256-page (1 MB) private anonymous mapping whose pages were all written, each call after a
  rewrite of those pages (calbench's loop), by a thread on CPU 0, with `targets` more threads of
  the process on CPUs 1..targets (the mm loaded there, so the flush is remote); the initiator's
  cycles from the call to its return, the mean of ROUNDS calls after one untimed round.
- `madvise_slope(setup, pages)`: calbench's paired slope, 1 and `pages` pages alternately.
- `fork_exit(setup, pages)`: fork + the child's exit + the parent's wait of a parent with `pages`
  written pages (smpsim.experiments.validate.fork.fork_exit_wait).
- `mprotect(setup, pages)`: `mprotect(PROT_READ)` of the first `pages` written pages of the same
  mapping, the process on CPU 0 alone.
- `read_fault_zero(setup)`: the first read of a page of a fresh mapping (the zero page).
- `cow_fault(setup)`: a parent with 64 written pages forks; the child's first write to one of them.
- `first_touch_fault(setup)`: the first write to a page of a fresh private anonymous mapping
  (its page table already there).
- `syscall(setup)`: the model charges `costs.syscall` per system call, nothing else.
- `ctx_switch(setup)`: the model's switch to another address space, `costs.context_switch`.
"""

from __future__ import annotations

import statistics

from smpsim.experiments.validate.contract import Setup
from smpsim.experiments.validate.fork import PARENT_VA, fork_exit_wait, parent_with_pages
from smpsim.experiments.validate.unmap import DATA, run_probe
from smpsim.vm import fork
from smpsim.vm.locks import Op
from smpsim.vm.operations import Madvise, Mmap, Mprotect, Scheduled, Touch

PRESET = "linux"
MAPPING_PAGES = 256
ROUNDS = 31             # FOLIO_BATCH_SIZE rounds: whole cycles of a CPU's LRU-add batch


def _timed_after_mmap(s: Setup, mmap: dict, steps: list, cpus: tuple) -> list[int]:
    """Run `steps` (each `(op of the pid, timed)`) in order on CPU 0 after an mmap with the
    arguments `mmap`, the process's threads on `cpus`; the cycles of each timed step."""
    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, **mmap))]

    def follow(w, op, t, proc):
        i = w.marks.get("step", 0)
        if i and steps[i - 1][1]:
            w.marks.setdefault("cycles", []).append(t - w.marks["start"])
        if i == len(steps):
            return None
        w.marks["step"] = i + 1
        w.marks["start"] = t
        return [Scheduled(t, 0, steps[i][0](proc.pid))]
    return run_probe(s, script, follow, PRESET, cpus=cpus).marks["cycles"]


def _after_mmap(s: Setup, mmap: dict, then, cpus: tuple) -> int:
    """Cycles of the operation `then(pid)` run on CPU 0 after an mmap with the arguments `mmap`."""
    return _timed_after_mmap(s, mmap, [(then, True)], cpus)[0]


def _written_mapping(pages: int) -> dict:
    if not 1 <= pages <= MAPPING_PAGES:
        raise ValueError(f"pages must be 1..{MAPPING_PAGES}, got {pages}")
    return {"start": DATA, "npages": MAPPING_PAGES, "prefault": MAPPING_PAGES, "touch": True}


def _dontneed_round(pages: int, timed: bool = True) -> list:
    """calbench's round: write the first `pages` pages (untimed), MADV_DONTNEED them."""
    return [(lambda pid: Touch(pid, DATA, pages, True), False),
            (lambda pid: Madvise(pid, DATA, pages), timed)]


def madvise(s: Setup, pages: int, targets: int = 0) -> float:
    """Cycles of one DONTNEED of `pages` pages inside a written 1 MB mapping, the mm on
    1 + `targets` CPUs: the mean of ROUNDS rounds after one untimed round, as calbench's
    per-sample means (an LRU-add batch filled now and then is part of the figure)."""
    steps = _dontneed_round(pages, timed=False) + _dontneed_round(pages) * ROUNDS
    cycles = _timed_after_mmap(s, _written_mapping(pages), steps, tuple(range(1 + targets)))
    return sum(cycles) / len(cycles)


def madvise_slope(s: Setup, pages: int = 8) -> float:
    """calbench's `slope -m madvise`: DONTNEED of 1 page and of `pages` pages alternately (each
    written first, untimed), the median pair's difference per extra page, over ROUNDS pairs after
    one untimed pair."""
    pair = _dontneed_round(1) + _dontneed_round(pages)
    steps = [(op, False) for op, _ in pair] + pair * ROUNDS
    cycles = _timed_after_mmap(s, _written_mapping(pages), steps, (0,))
    return statistics.median(b - a for a, b in zip(cycles[::2], cycles[1::2])) / (pages - 1)


def mprotect(s: Setup, pages: int) -> int:
    """Cycles of one mprotect(PROT_READ) of the first `pages` pages of a written 1 MB mapping,
    the process on one CPU."""
    return _after_mmap(s, _written_mapping(pages), lambda pid: Mprotect(pid, DATA, pages, "r"), (0,))


def _first_fault(s: Setup, write: bool) -> int:
    """The first access to page 7 of a fresh mapping whose page 0 was written first (untimed), so
    that its page table exists, as for all but the first of calbench's 256 faults."""
    return _after_mmap(s, {"start": DATA, "npages": 64, "prefault": 1, "touch": True},
                       lambda pid: Touch(pid, DATA + 7, 1, write), (0,))


def first_touch_fault(s: Setup) -> int:
    """Cycles of the first write to a page of a fresh private anonymous mapping."""
    return _first_fault(s, write=True)


def read_fault_zero(s: Setup) -> int:
    """Cycles of the first read of a page of a fresh private anonymous mapping (Linux maps the
    shared zero page)."""
    return _first_fault(s, write=False)


def cow_fault(s: Setup, pages: int = 64) -> int:
    """Cycles of a forked child's first write to one of its parent's `pages` written pages, the
    parent alive (calbench's parent waits on a pipe), both on CPU 0."""
    k, parent, setup = parent_with_pages(s.costs, s.policy(PRESET), pages, s.ghz)
    child = fork.uvmspace_fork(k, Op("fork", 0, setup.t, k.counters), parent, "child", [0])
    op = Op("fault", 0, setup.t, k.counters)
    fork.touch(k, op, child, PARENT_VA + pages // 2, 1, True)
    return op.t - op.start


def fork_exit(s: Setup, pages: int) -> int:
    return fork_exit_wait(s.costs, s.policy(PRESET), pages)


def syscall(s: Setup) -> int:
    return s.costs.syscall


def ctx_switch(s: Setup) -> int:
    return s.costs.context_switch
