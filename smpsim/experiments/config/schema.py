"""The config schema: machine, costs, workload, policies, sweep, run options.

A config is a TOML file. Everything is validated before anything starts:
unknown keys, wrong types and impossible values are refused with a
`ConfigError` naming the key, the value and what is allowed.

Types are strict (pydantic strict mode): `ncpus = "4"`, `ncpus = 4.0`,
`kernel_pages = true` or `pcid = "yes"` are refused, not coerced. Sizes have
upper bounds that a real machine model needs; the reason for each is in
`LIMIT_REASONS` and in the message. The cost of what is left (memory, time) is
estimated in `smpsim.experiments.scheduling.estimate`.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smpsim.costs import GHZ_RANGE, MAX_COST, CostModel
from smpsim.rundir.safeio import clip
from smpsim.experiments.config.policy import PolicyConfig

ENTRY_STRIDE = 1 << 18          # pages between map entries (workloads.ENTRY_STRIDE: a 1 GiB slot each)
MAX_PAGES = 1 << 24             # 64 GiB of 4 KiB pages
MAX_EPOCHS = 1_000_000          # 100 s of simulated time at the default quantum
MAX_SWEEP_POINTS = 1000
MAX_POLICIES = 64
MAX_CONFIG_BYTES = 4 << 20
MAX_PROCESSES = 30000           # NetBSD's PID_MAX
MAX_ENTRIES = 65530             # Linux's default vm.max_map_count
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

# why each upper bound is where it is; appended to the message when a value exceeds it
LIMIT_REASONS = {
    "ncpus": "one actor per simulated CPU; NetBSD/x86 MAXCPUS is 256",
    "phys_pages": "64 GiB of 4 KiB pages: the model keeps ~40 bytes per physical page even when free, "
                  "~1.3 KB per page in use",
    "kernel_pages": "at most machine.phys_pages",
    "freemin": "at most machine.phys_pages",
    "freetarg": "at most machine.phys_pages",
    "pagedaemon_batch": "at most machine.phys_pages",
    "tlb_entries": "every entry of every CPU's TLB is modelled; real second-level TLBs hold 1536-3072",
    "tlb_ways": "at most machine.tlb_entries",
    "ghz": "server clocks stay below ~6 GHz; the bound catches a value given in MHz or Hz",
    "quantum_cycles": "0.4 s of a 2.5 GHz CPU per epoch; real quanta are a few ms",
    "accesses_per_quantum": "each access is a simulated TLB lookup",
    "processes": "NetBSD's PID_MAX is 30000",
    "growers": "each grower runs on its own CPU (machine.ncpus is at most 256)",
    "threads": "each thread runs on its own CPU (machine.ncpus is at most 256)",
    "pages": "64 GiB of 4 KiB pages, as machine.phys_pages",
    "region_pages": "64 GiB of 4 KiB pages, as machine.phys_pages",
    "grow_pages": "64 GiB of 4 KiB pages, as machine.phys_pages",
    "object_pages": "the shared object's slot ends where the private slots begin (7 x 262,144 pages)",
    "anon_pages": "each private region has one 1 GiB slot of 262,144 pages",
    "chunk_pages": "64 GiB of 4 KiB pages, as machine.phys_pages",
    "lib_pages": "each library has one 1 GiB slot of 262,144 pages",
    "entries": "Linux's default vm.max_map_count; each entry gets its own 1 GiB slot of address space",
    "libs": "each library is a map entry with its own 1 GiB slot",
    "iterations": "each is a process per CPU; run.max_epochs bounds the run anyway",
    "rounds": "each round takes at least an epoch; run.max_epochs bounds the run anyway",
    "run_epochs": "run.max_epochs is at most 1,000,000",
    "stagger_epochs": "run.max_epochs is at most 1,000,000",
    "exit_start_epoch": "run.max_epochs is at most 1,000,000",
    "interval_epochs": "run.max_epochs is at most 1,000,000",
    "stall_epochs": "run.max_epochs is at most 1,000,000",
    "max_epochs": "1,000,000 epochs are 100 s of simulated time at the default quantum",
    "tail_epochs": "epochs simulated after the workload's end; a few are enough",
    "timeout_s": "one day",
    "seed": "run files and messages carry it as a signed 64-bit integer",
    "name": "it names the run directory: letters, digits, '.', '_' and '-', starting with a letter or "
            "digit, at most 64 characters",
    "description": "a description, not a document",
    "policies": "each policy is a full simulation of every point",
}

_EPOCHS = dict(ge=1, le=MAX_EPOCHS)


class _Strict(BaseModel):
    # strict=True: no coercion ("4" or 4.0 for an int, "yes" for a bool); validate() also asks pydantic
    # for strict mode on the whole tree, so the models of costs.py and policy.py are strict too
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MachineConfig(_Strict):
    """The simulated machine. Watermarks default as in uvmexp: freetarg = freemin * 4/3."""

    ncpus: int = Field(4, ge=1, le=256, description="simulated CPUs, one actor each")
    sockets: int = Field(1, ge=1, le=64, description="sockets; CPUs are split evenly (cpu * sockets // ncpus); "
                                                     "IPIs and cache-line transfers cost more across them")
    phys_pages: int = Field(65536, ge=256, le=MAX_PAGES, description="physical memory in 4 KiB pages")
    kernel_pages: int = Field(512, ge=0, le=MAX_PAGES, description="pages owned by the kernel (never freed)")
    freemin: int | None = Field(None, ge=1, le=MAX_PAGES,
                                description="uvmexp.freemin; default max(16, phys_pages/128)")
    freetarg: int | None = Field(None, ge=2, le=MAX_PAGES, description="uvmexp.freetarg; default freemin*4/3")
    tlb_entries: int = Field(1536, ge=1, le=65536, description="combined STLB entries (Haswell-Skylake: 1536)")
    tlb_ways: int = Field(6, ge=1, le=65536, description="STLB associativity (Haswell-Skylake: 6)")
    pcids: int = Field(4096, ge=2, le=4096, description="PCIDs available when a policy turns pcid on")
    ghz: float = Field(2.5, ge=GHZ_RANGE[0], le=GHZ_RANGE[1], allow_inf_nan=False,
                       description="the simulated clock: every conversion between cycles and time reads it "
                                   "(the cost model's figures are cycles of a ~2.5 GHz x86 server)")
    quantum_cycles: int = Field(250_000, ge=1000, le=MAX_COST, description="epoch length: 100 us at 2.5 GHz")
    accesses_per_quantum: int = Field(2000, ge=0, le=1_000_000,
                                      description="memory accesses a running thread makes per quantum")
    pagedaemon_cpu: int = Field(0, ge=0, description="CPU the pagedaemon runs on")
    pagedaemon_batch: int = Field(64, ge=1, le=MAX_PAGES,
                                  description="pages freed per pagedaemon run beyond freetarg")
    walk_lines: int = Field(64, ge=0, le=1 << 20,
                            description="PTE cache lines (8 PTEs each) a CPU remembers having walked: "
                                        "a walk within them is warm (costs.page_walk_warm), else cold; "
                                        "choice (a few KiB of the L1/L2 data cache)")

    @model_validator(mode="after")
    def _check(self):
        usable = self.phys_pages - self.kernel_pages
        if usable < 64:
            raise ValueError(f"kernel_pages={self.kernel_pages} leaves {usable} pages of phys_pages="
                             f"{self.phys_pages}; at least 64 are needed")
        if self.tlb_entries % self.tlb_ways:
            raise ValueError(f"tlb_entries={self.tlb_entries} must be a multiple of tlb_ways={self.tlb_ways}")
        if self.sockets > self.ncpus:
            raise ValueError(f"sockets={self.sockets} must be <= ncpus={self.ncpus}")
        if self.pagedaemon_cpu >= self.ncpus:
            raise ValueError(f"pagedaemon_cpu={self.pagedaemon_cpu} must be < ncpus={self.ncpus}")
        fm, ft = self.watermarks()
        if not fm < ft:
            raise ValueError(f"freemin={fm} must be < freetarg={ft}")
        if ft >= usable:
            raise ValueError(f"freetarg={ft} must be below the {usable} pages not owned by the kernel")
        return self

    @property
    def clock_hz(self) -> int:
        """Cycles per simulated second (machine.ghz)."""
        return round(self.ghz * 1_000_000_000)

    def watermarks(self) -> tuple[int, int]:
        fm = self.freemin if self.freemin is not None else max(16, self.phys_pages // 128)
        ft = self.freetarg if self.freetarg is not None else max(fm + 1, fm * 4 // 3)
        return fm, ft


def _check_slots(w, pages: int, entries: int) -> None:
    """`pages` split over `entries` map entries must fit each entry's 1 GiB slot (workloads.split_layout)."""
    per_entry = -(-pages // min(entries, pages))
    if per_entry > ENTRY_STRIDE:
        raise ValueError(f"workload.pages={pages} over workload.entries={entries} gives {per_entry:,} pages per "
                         f"map entry; each entry has a 1 GiB slot of {ENTRY_STRIDE:,} pages, so raise "
                         f"workload.entries to at least {-(-pages // ENTRY_STRIDE)}")



class ExitStormConfig(_Strict):
    """P processes of S pages in E entries, T threads each, run, then exit together or staggered."""
    kind: Literal["exit_storm"]
    processes: int = Field(8, ge=1, le=MAX_PROCESSES)
    pages: int = Field(256, ge=1, le=MAX_PAGES, description="resident pages per process")
    entries: int = Field(4, ge=1, le=MAX_ENTRIES, description="map entries per process")
    threads: int = Field(1, ge=1, le=256, description="threads per process, on distinct CPUs")
    run_epochs: int = Field(3, **_EPOCHS, description="epochs the processes run before exiting")
    exit: Literal["together", "staggered"] = "together"
    stagger_epochs: int = Field(1, **_EPOCHS)
    image: str | None = Field(None, max_length=4096,
                              description="image file from `smpsim maps-import`; its layouts replace pages/entries")

    @model_validator(mode="after")
    def _check(self):
        if self.image is None:
            _check_slots(self, self.pages, self.entries)
        return self


class ForkExitConfig(_Strict):
    """Each CPU repeatedly creates a short-lived process and lets it exit."""
    kind: Literal["fork_exit", "fork_exec_exit", "shell"]
    iterations: int = Field(4, ge=1, le=1_000_000, description="processes per CPU")
    pages: int = Field(64, ge=1, le=MAX_PAGES)
    entries: int = Field(3, ge=1, le=MAX_ENTRIES)
    run_epochs: int = Field(1, **_EPOCHS)
    libs: int = Field(2, ge=0, le=1000, description="fork_exec_exit, shell: shared libraries mapped by each process")
    lib_pages: int = Field(32, ge=1, le=ENTRY_STRIDE, description="fork_exec_exit, shell: pages of each library's text")
    child_pages: int = Field(16, ge=0, le=MAX_PAGES, description="pages of the parent's image the child touches "
                                                                 "(reads) before it exits or execs")
    child_writes: int = Field(4, ge=0, le=MAX_PAGES,
                              description="of those, pages the child writes first (copy-on-write faults)")
    parent_writes: int = Field(16, ge=0, le=MAX_PAGES, description="pages the parent writes between forks (each "
                                                                   "fork write-protects them again)")
    parent_threads: int = Field(1, ge=1, le=256, description="threads of each parent, on consecutive CPUs: the "
                                                             "others keep running, so fork's pmap_protect shoots "
                                                             "them down")

    @model_validator(mode="after")
    def _check(self):
        _check_slots(self, self.pages, self.entries)
        return self


class MunmapFanoutConfig(_Strict):
    """One process with threads on k CPUs repeatedly unmaps ranges of R pages."""
    kind: Literal["munmap_fanout"]
    threads: int = Field(4, ge=0, le=256, description="k: CPUs the process runs on (0: all of them)")
    region_pages: int = Field(64, ge=1, le=MAX_PAGES, description="R: pages per munmap")
    rounds: int = Field(8, ge=1, le=1_000_000)
    interval_epochs: int = Field(1, **_EPOCHS)
    protect: bool = Field(False, description="mprotect the region read-only (pmap_protect) one epoch before each munmap")
    region_mix: list[int] = Field(default_factory=list, description="if given, round i maps and unmaps "
                                  "region_mix[i % len] pages instead of region_pages")
    working_pages: int = Field(0, ge=0, le=MAX_PAGES, description="a long-lived working set every thread keeps touching "
                                                     "(what a full flush makes it refill)")


class MemoryPressureConfig(_Strict):
    """Short processes exit (their CPUs go idle, holding the dying pmaps lazily) while growers eat memory.

    Defaults: 3 short processes and 1 grower fit the default 4-CPU machine. `grow_pages` is 80, as in
    the bundled configs: at 256 (the old default) two growers on memory_pressure_quick's machine
    fault in more per epoch than the pagedaemon can evict in a quantum, and the run never ends.
    """
    kind: Literal["memory_pressure"]
    processes: int = Field(3, ge=1, le=MAX_PROCESSES, description="short-lived processes, one per CPU from cpu 0 upwards")
    pages: int = Field(512, ge=1, le=MAX_PAGES)
    entries: int = Field(8, ge=1, le=MAX_ENTRIES)
    growers: int = Field(1, ge=1, le=256, description="long-lived processes growing their working set")
    grow_pages: int = Field(80, ge=1, le=MAX_PAGES, description="pages each grower faults in per epoch")
    exit_start_epoch: int = Field(4, **_EPOCHS)
    stagger_epochs: int = Field(2, **_EPOCHS)
    run_epochs: int = Field(4, **_EPOCHS, description="epochs after the last exit")

    @model_validator(mode="after")
    def _check(self):
        _check_slots(self, self.pages, self.entries)
        return self


class SharedEvictionConfig(_Strict):
    """Many processes map a shared object; the pagedaemon evicts its pages while they munmap."""
    kind: Literal["shared_eviction"]
    processes: int = Field(8, ge=1, le=MAX_PROCESSES)
    object_pages: int = Field(512, ge=1, le=7 * ENTRY_STRIDE)
    chunk_pages: int = Field(32, ge=1, le=MAX_PAGES, description="pages each process unmaps and remaps per round")
    anon_pages: int = Field(128, ge=0, le=ENTRY_STRIDE,
                            description="private pages each process faults per round (the pressure)")
    rounds: int = Field(8, ge=1, le=1_000_000)


class TlbFlushConfig(_Strict):
    """Threads of one process map, write and unmap their own region in a loop (a map-touch-unmap
    loop of smpsim's own; not one of will-it-scale's tests)."""
    kind: Literal["tlb_flush"]
    threads: int = Field(4, ge=0, le=256, description="threads, one per CPU from cpu 0 upwards (0: one per CPU)")
    region_pages: int = Field(8, ge=1, le=ENTRY_STRIDE, description="pages each thread maps, writes and unmaps per loop")
    loops: int = Field(16, ge=1, le=1_000_000, description="loops per thread")


class TlbFlush2Config(_Strict):
    """will-it-scale tlb_flush2: threads of one process each map 1 MB private anonymous and, page by
    page, write it, madvise(MADV_DONTNEED) it and read it back; then munmap, in a loop."""
    kind: Literal["tlb_flush2"]
    threads: int = Field(4, ge=0, le=256, description="threads, one per CPU from cpu 0 upwards (0: one per CPU)")
    region_pages: int = Field(256, ge=1, le=ENTRY_STRIDE,
                              description="pages each thread maps per loop (will-it-scale: 1 MB, 256 pages)")
    loops: int = Field(1, ge=1, le=1_000_000, description="mmap-to-munmap passes per thread")


class CtxSwitchConfig(_Strict):
    """A context-switch storm: more threads than CPUs, each process remapping a region every epoch."""
    kind: Literal["ctx_switch"]
    processes: int = Field(8, ge=1, le=MAX_PROCESSES)
    threads: int = Field(2, ge=1, le=256, description="threads per process, spread round-robin over the CPUs")
    pages: int = Field(64, ge=1, le=ENTRY_STRIDE, description="resident pages per process")
    region_pages: int = Field(8, ge=1, le=ENTRY_STRIDE, description="pages unmapped and remapped every epoch")
    rounds: int = Field(4, ge=1, le=1_000_000,
                        description="remaps before the first process exits (process p does rounds + p)")
    interval_epochs: int = Field(2, **_EPOCHS, description="epochs between remaps")


class TraceConfig(_Strict):
    """Replay a recorded program (`smpsim trace record` / `import`; docs/trace.md): its processes,
    threads, schedule, faults and memory-map calls, under each design."""
    kind: Literal["trace"]
    trace: str = Field(min_length=1, max_length=4096,
                       description="the trace file (.smpt); a relative path is relative to the config file")


WorkloadConfig = Annotated[Union[ExitStormConfig, ForkExitConfig, MunmapFanoutConfig, MemoryPressureConfig,
                                 SharedEvictionConfig, TlbFlushConfig, TlbFlush2Config, CtxSwitchConfig,
                                 TraceConfig],
                           Field(discriminator="kind")]


class RunConfig(_Strict):
    check: bool = Field(False, description="run the invariant checker after every step")
    max_epochs: int = Field(100_000, **_EPOCHS, description="hard stop for a run that does not finish")
    stall_epochs: int = Field(1000, **_EPOCHS,
                              description="an operation kept from its CPU this long by work due after it is "
                                          "flagged (a `starved` event); if no workload operation "
                                          "completes that long either, the run fails")
    tail_epochs: int = Field(2, ge=0, le=1000, description="epochs simulated after the workload's last event")
    timeout_s: float = Field(120.0, gt=0, le=86400, allow_inf_nan=False,
                             description="Ray backend: seconds to wait for an exchange")
    parallel: int | None = Field(None, ge=1, le=4096,
                                 description="simulations at once (default: what the cluster's CPUs and "
                                             "memory allow; --parallel overrides)")


_POLICY_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


class ExperimentConfig(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    description: str = Field("", max_length=10_000)
    seed: int = Field(1, ge=0, le=(1 << 63) - 1)
    machine: MachineConfig = MachineConfig()
    costs: CostModel = CostModel()
    workload: WorkloadConfig
    policies: list[PolicyConfig] = Field(min_length=1, max_length=MAX_POLICIES)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    run: RunConfig = RunConfig()

    @field_validator("policies", mode="before")
    @classmethod
    def _policy_keys(cls, value):
        # PolicyConfig's preset lookup hashes `name` and `preset` before their types are checked: a table there
        # would raise TypeError instead of a validation error
        if isinstance(value, list):
            for i, p in enumerate(value):
                if isinstance(p, dict):
                    for key in ("name", "preset"):
                        if key in p and not isinstance(p[key], str):
                            raise ValueError(f"policies[{i}].{key} must be a string, got {clip(repr(p[key]))}")
        return value

    @model_validator(mode="after")
    def _check(self):
        for p in self.policies:
            if not _POLICY_NAME.match(p.name):
                raise ValueError(f"policy name {clip(p.name)!r} must be 1-64 printable characters")
        names = [p.name for p in self.policies]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(dup)}")
        for key, value in self.costs.model_dump().items():
            if isinstance(value, int) and value > MAX_COST:
                raise ValueError(f"costs.{key}={value} exceeds {MAX_COST:,} cycles (0.4 s at 2.5 GHz for "
                                 "one modelled action); simulated clocks must stay far below 2^63")
        w, m = self.workload, self.machine
        need = {"exit_storm": "threads", "munmap_fanout": "threads", "tlb_flush": "threads",
                "tlb_flush2": "threads"}.get(w.kind)
        if need and getattr(w, need) > m.ncpus:
            raise ValueError(f"workload.{need}={getattr(w, need)} needs that many CPUs but machine.ncpus={m.ncpus}")
        if w.kind == "memory_pressure" and w.processes + w.growers > m.ncpus:
            raise ValueError(f"workload.processes + workload.growers = {w.processes + w.growers} must be <= "
                             f"machine.ncpus={m.ncpus} (each runs on its own CPU)")
        if w.kind == "shared_eviction" and w.chunk_pages > w.object_pages:
            raise ValueError(f"workload.chunk_pages={w.chunk_pages} exceeds workload.object_pages={w.object_pages}")
        total = 1
        for key, values in self.sweep.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"sweep.{clip(key)} must be a non-empty list")
            total *= len(values)
            seen = set()
            for v in values:
                canon = json.dumps(v, sort_keys=True, default=repr)
                if canon in seen:
                    raise ValueError(f"sweep.{clip(key)} repeats the value {clip(repr(v))}: each point must differ")
                seen.add(canon)
        if total > MAX_SWEEP_POINTS:
            sizes = " x ".join(str(len(v)) for v in self.sweep.values())
            raise ValueError(f"the sweep has {sizes} = {total:,} points, more than {MAX_SWEEP_POINTS:,}: each point "
                             "is a full simulation of every policy and a directory; split the study into "
                             "several runs")
        return self
