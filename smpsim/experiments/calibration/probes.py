"""The model's figure for each calibration benchmark: the same operation, on the same CPUs, under
the `linux` preset, timed by the model's own code (inline), in cycles of the simulated clock.

Each probe mirrors one program of smpsim/calibrate/bench/calbench.c:

- `madvise(setup, pages, targets)`: `madvise(MADV_DONTNEED)` of the first `pages` pages of a
  256-page (1 MB) private anonymous mapping whose pages were all written, by a thread on CPU 0,
  with `targets` more threads of the process on CPUs 1..targets (the mm loaded there, so the
  flush is remote); the initiator's cycles from the call to its return.
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

from smpsim.experiments import config as cfgmod
from smpsim.experiments.validate.contract import Setup
from smpsim.experiments.validate.fork import fork_exit_wait
from smpsim.experiments.validate.unmap import DATA, run_probe
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import fork, uvm
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.locks import Op
from smpsim.vm.operations import Madvise, Mmap, Mprotect, Scheduled, Touch

PRESET = "linux"
MAPPING_PAGES = 256


def madvise(s: Setup, pages: int, targets: int = 0) -> int:
    """Cycles of one DONTNEED of `pages` pages inside a written 1 MB mapping, the mm on
    1 + `targets` CPUs."""
    if not 1 <= pages <= MAPPING_PAGES:
        raise ValueError(f"pages must be 1..{MAPPING_PAGES}, got {pages}")

    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, MAPPING_PAGES, prefault=MAPPING_PAGES, touch=True))]

    def follow(w, op, t, proc):
        if isinstance(op, Mmap):
            w.marks["start"] = t
            return [Scheduled(t, 0, Madvise(proc.pid, DATA, pages))]
        w.marks["cycles"] = t - w.marks["start"]
        return None
    return run_probe(s, script, follow, PRESET, cpus=tuple(range(1 + targets))).marks["cycles"]


def mprotect(s: Setup, pages: int) -> int:
    """Cycles of one mprotect(PROT_READ) of the first `pages` pages of a written 1 MB mapping,
    the process on one CPU."""
    if not 1 <= pages <= MAPPING_PAGES:
        raise ValueError(f"pages must be 1..{MAPPING_PAGES}, got {pages}")

    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, MAPPING_PAGES, prefault=MAPPING_PAGES, touch=True))]

    def follow(w, op, t, proc):
        if isinstance(op, Mmap):
            w.marks["start"] = t
            return [Scheduled(t, 0, Mprotect(proc.pid, DATA, pages, "r"))]
        w.marks["cycles"] = t - w.marks["start"]
        return None
    return run_probe(s, script, follow, PRESET, cpus=(0,)).marks["cycles"]


def _first_fault(s: Setup, write: bool) -> int:
    """The first access to page 7 of a fresh mapping whose page 0 was written first (untimed), so
    that its page table exists, as for all but the first of calbench's 256 faults."""
    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, 64, prefault=1, touch=True))]

    def follow(w, op, t, proc):
        if isinstance(op, Mmap):
            w.marks["start"] = t
            return [Scheduled(t, 0, Touch(proc.pid, DATA + 7, 1, write))]
        w.marks["cycles"] = t - w.marks["start"]
        return None
    return run_probe(s, script, follow, PRESET, cpus=(0,)).marks["cycles"]


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
    cfg = cfgmod.validate({"name": "calibration", "machine": {"ncpus": 2, "phys_pages": 8192, "ghz": s.ghz},
                           "costs": s.costs.model_dump(), "policies": [s.policy(PRESET).model_dump()],
                           "workload": {"kind": "fork_exit", "iterations": 1, "pages": 1, "entries": 1}})
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    k = vm.k
    setup = Op("spawn", 0, 0, k.counters)
    parent = uvm.spawn(k, setup, "parent", [0])
    uvm.uvm_map(k, setup, parent, DATA, pages, prefault=pages, touch=True)
    child = fork.uvmspace_fork(k, Op("fork", 0, setup.t, k.counters), parent, "child", [0])
    op = Op("fault", 0, setup.t, k.counters)
    fork.touch(k, op, child, DATA + pages // 2, 1, True)
    return op.t - op.start


def fork_exit(s: Setup, pages: int) -> int:
    return fork_exit_wait(s.costs, s.policy(PRESET), pages)


def syscall(s: Setup) -> int:
    return s.costs.syscall


def ctx_switch(s: Setup) -> int:
    return s.costs.context_switch
