"""validate cases of the unmap path: the zero page's flush and the mmap_lock downgrade.

Each case runs a small inline simulation of one process whose threads sit on CPUs 0 and 1 (so
its mm is loaded on both), driven by a probe workload that issues a fixed script of system
calls and touches, and reads the kernel's counters around it.

- `zero_page_remote_flush`: read then write N fresh anonymous pages on CPU 0. Linux maps the
  zero page on the read; the write's `wp_page_copy` -> `ptep_clear_flush` flushes the page on
  CPU 1 too: one remote flush per page. Reference: measured on this machine with
  measure/zero_page.c under `perf record -e tlb:tlb_flush` (3,864 remote IPIs for 4,096 pages).
  Fails with `--set policy.zero_page=off` (the read maps a page of its own: no flush).
- `munmap_lock_downgrade`: a reader of the address-space lock (a one-page madvise on CPU 1)
  arrives just after a large munmap on CPU 0 has begun. Since 4.20 Linux holds mmap_lock for
  writing only to detach the VMAs and zaps under a read hold (Yang Shi, "mm: mmap: zap pages with
  read mmap_sem in munmap", LKML 2018), so the reader is held off for a sliver of the munmap;
  before, the munmap held it exclusively "from very beginning to all the way down to the end"
  (~18 s for 320 GB in that message; a reader, `ps`, hung behind it). Figure: the fraction of
  the munmap during which the reader was NOT held off by the address-space lock. Fails with
  `--set policy.map_lock=vm_map` (the write hold covers the removal and the shootdown; only the
  page freeing, after vm_map_unlock as in NetBSD's uvm_unmap1, leaves the reader free).
"""

from __future__ import annotations

from smpsim.experiments import config as cfgmod
from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.workloads.base import ENTRY_STRIDE, Workload, align_up
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.operations import Madvise, Mapping, Mmap, Munmap, Scheduled, Spawn, Teardown, Touch

PRESET = "linux"
DATA = 2 * ENTRY_STRIDE           # the probed region
OTHER = 3 * ENTRY_STRIDE          # a page of another region (the madvise reader's)


class Probe(Workload):
    """One process, threads on `cpus` (CPUs 0 and 1 unless given); `script(t, proc)` gives the first operations once
    both CPUs run it, `next(op, t, proc)` what follows each; the CPUs' own accesses stay on the
    text (so nothing but the script faults the probed pages)."""

    def __init__(self, config, script, follow, cpus=(0, 1)):
        super().__init__(config)
        self.script, self.follow = script, follow
        self.cpus = tuple(cpus)
        self.marks: dict = {}

    def initial_operations(self):
        self.outstanding = 1
        text = [Mapping(ENTRY_STRIDE, 4, None, 0, 4, "rx")]
        return [self.spawn(0, 0, "probe", self.cpus, text)]

    def ranges(self, proc):
        return ((ENTRY_STRIDE, 4),)

    def after(self, op, t, proc):
        if isinstance(op, Spawn):
            return self.script(align_up(t, self.q) + 2 * self.q, proc)
        if isinstance(op, Teardown):
            self.outstanding -= 1
            return []
        nxt = self.follow(self, op, t, proc)
        return nxt if nxt is not None else [self.exit(t, proc)]


def run_probe(s: Setup, script, follow, preset: str = PRESET, check: bool = False, cpus=(0, 1)) -> Probe:
    """Run the probe under `preset` (with the setup's switches) with its threads on `cpus` of a
    machine of at least two CPUs; `check`: the invariant checker after every operation."""
    ncpus = max(2, max(cpus) + 1)
    cfg = cfgmod.validate({"name": "validate", "machine": {"ncpus": ncpus, "phys_pages": 16384, "ghz": s.ghz},
                           "costs": s.costs.model_dump(), "policies": [s.policy(preset).model_dump()],

                           "workload": {"kind": "tlb_flush2", "threads": 2}})
    probe = Probe(cfg, script, follow, cpus)
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), probe, check=check)
    vm.start()
    while not vm.step(16).done:
        pass
    return probe


def zero_page_flushes_per_page(s: Setup, pages: int = 64) -> float:
    """Remote shootdown IPIs per page of read-then-write of `pages` fresh anonymous pages."""
    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, pages, ctx=0))]

    def follow(w, op, t, proc):
        c = w.k.counters
        if isinstance(op, Mmap):
            w.marks["before"] = c["shootdown_ipis"]
            return [Scheduled(t, 0, Touch(proc.pid, DATA, 1, False, ctx=0))]
        i = op.ctx
        if not op.write:                                   # read done: now the write
            return [Scheduled(t, 0, Touch(proc.pid, DATA + i, 1, True, ctx=i))]
        if i + 1 < pages:
            return [Scheduled(t, 0, Touch(proc.pid, DATA + i + 1, 1, False, ctx=i + 1))]
        w.marks["after"] = c["shootdown_ipis"]
        return None
    probe = run_probe(s, script, follow)
    return (probe.marks["after"] - probe.marks["before"]) / pages


@case("zero_page_remote_flush", "measured",
      "this machine: measure/zero_page.c under perf record -e tlb:tlb_flush (measure/results/zero_page.txt): "
      "3,864 remote IPIs for 4,096 read-then-written pages; mechanism: Linux mm/memory.c do_anonymous_page "
      "(zero page on a read), wp_page_copy -> ptep_clear_flush", (0.8, 1.25), "IPIs/page",
      note="linux: remote flushes per page, read then write of fresh anonymous pages, mm on 2 CPUs "
           "(switch: policy.zero_page)")
def zero_page_remote_flush(s: Setup):
    return 3864 / 4096, zero_page_flushes_per_page(s)


def reader_unblocked_fraction(s: Setup, pages: int = 2048, delay: int = 500) -> float:
    """1 - (address-space lock wait of a madvise reader arriving `delay` cycles into a munmap of
    `pages` populated pages) / (the munmap's cycles)."""
    def script(t, proc):
        return [Scheduled(t, 0, Mmap(proc.pid, DATA, pages, prefault=pages, touch=True, ctx="big")),
                Scheduled(t, 1, Mmap(proc.pid, OTHER, 1, prefault=1, touch=True, ctx="other"))]

    def follow(w, op, t, proc):
        c = w.k.counters
        if isinstance(op, Mmap):
            w.marks[op.ctx] = t
            if len(w.marks) < 2:
                return []
            start = align_up(max(w.marks.values()), w.q) + w.q
            w.marks["start"] = start
            w.marks["wait0"] = c["map_lock_wait_cycles"] + c["mmap_lock_wait_cycles"]
            return [Scheduled(start, 0, Munmap(proc.pid, DATA, pages, ctx="munmap")),
                    Scheduled(start + delay, 1, Madvise(proc.pid, OTHER, 1, ctx="reader"))]
        w.marks[op.ctx] = t
        if op.ctx == "munmap":
            w.marks["munmap_cycles"] = t - w.marks["start"]
        else:
            w.marks["wait"] = c["map_lock_wait_cycles"] + c["mmap_lock_wait_cycles"] - w.marks["wait0"]
        if "munmap_cycles" in w.marks and "wait" in w.marks:
            return None
        return []
    m = run_probe(s, script, follow).marks
    return 1 - m["wait"] / m["munmap_cycles"]


@case("munmap_lock_downgrade", "published",
      "Yang Shi, LKML 2018 '[RFC v8 PATCH 3/5] mm: mmap: zap pages with read mmap_sem in munmap' (merged "
      "4.20): munmap held mmap_sem for writing end to end (~18 s for 320 GB; a reader hung behind it); the "
      "zap, nearly all of it, now runs under a read hold", (0.95, 1.05), "fraction",
      note="linux: share of a 2,048-page munmap a concurrent address-space-lock reader is not held off "
           "(switch: policy.map_lock)")
def munmap_lock_downgrade(s: Setup):
    return 1.0, reader_unblocked_fraction(s)
