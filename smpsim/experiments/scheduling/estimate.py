"""An up-front estimate of what a run will cost: memory (model state, Ray actors) and wall time.

Checked before anything starts. A run whose peak memory cannot fit this
machine is refused (exit 2, with the figures); a run estimated to take longer
than :data:`CONFIRM_ABOVE_S` needs `--yes`. The figures are rough (within a
factor of two or three on the machine they were measured on, a 2-core x86
server, inline backend) and err on the high side; they are there to catch a
config that asks for a billion processes or a week of simulation, not to
predict a run's time.

Coefficients (measured with configs that isolate each term):

* memory: ~48 bytes per physical page (free list and page kinds), ~1.4 KB per
  page in use (PTE, PV entry, owner and FIFO records), ~100 bytes per TLB entry
  in use plus ~64 per TLB set and CPU, ~16 KB per process; on Ray, each CPU
  actor and the VM actor are separate processes of ~100 MiB, and a local
  cluster's own processes take ~600 MiB;
* time: ~0.6 us per simulated TLB access, ~70 us per CPU and epoch, ~120 us per
  page faulted in and torn down; on Ray, ~1 ms per epoch plus ~0.1 ms per CPU
  and epoch for the quantum exchange.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smpsim.errors import ConfigError

MiB = 1 << 20
GiB = 1 << 30

PHYS_PAGE_BYTES = 48
USED_PAGE_BYTES = 1400
TLB_ENTRY_BYTES = 100
TLB_SET_BYTES = 64
PROCESS_BYTES = 16 << 10
BASE_BYTES = 150 * MiB               # the driver: Python, pydantic, the run's own buffers
RAY_ACTOR_BYTES = 100 * MiB
RAY_CLUSTER_BYTES = 600 * MiB

ACCESS_S = 0.6e-6
CPU_EPOCH_S = 70e-6
PAGE_S = 120e-6
RAY_EPOCH_S = 1e-3
RAY_CPU_EPOCH_S = 0.1e-3

CONFIRM_ABOVE_S = 3600.0             # longer runs need --yes
FIT_FRACTION = 0.8                   # of the memory available, leaving room for everything else


@dataclass
class Estimate:
    memory_bytes: int                # peak, of the largest point
    seconds: float                   # every point x policy
    memory_parts: dict               # what the peak is made of, for the message
    runs: int                        # point x policy simulations
    epochs: int                      # of the longest point x policy (expected, not max_epochs)

    def describe(self) -> str:
        parts = ", ".join(f"{k} {_size(v)}" for k, v in self.memory_parts.items() if v)
        return (f"{self.runs} point x policy run(s), ~{_duration(self.seconds)} and ~{_size(self.memory_bytes)} "
                f"of memory at the peak ({parts})")


def _size(n: float) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


def pages_touched(cfg) -> tuple[int, int]:
    """(pages faulted in over the whole run, pages resident at the peak) of a point's workload."""
    w, m = cfg.workload, cfg.machine
    if w.kind == "exit_storm":
        per = w.pages
        if w.image:
            per = _image_pages(w.image, w.pages)
        return w.processes * per, w.processes * per
    if w.kind in ("fork_exit", "fork_exec_exit", "shell"):
        libs = w.libs * w.lib_pages if w.kind != "fork_exit" else 0
        return m.ncpus * w.iterations * (w.pages + libs), m.ncpus * (w.pages + libs)
    if w.kind == "munmap_fanout":
        return w.rounds * w.region_pages + 16, w.region_pages + 16
    if w.kind == "memory_pressure":
        epochs = w.exit_start_epoch + (w.processes - 1) * w.stagger_epochs + w.run_epochs
        grown = w.growers * w.grow_pages * epochs
        return w.processes * w.pages + grown, w.processes * w.pages + grown
    if w.kind == "shared_eviction":
        per_round = w.chunk_pages + w.anon_pages
        return w.object_pages + w.processes * w.rounds * per_round, w.object_pages + w.processes * 2 * per_round
    return 0, 0


def _image_pages(spec: str, pages: int) -> int:
    """Pages an image-based process touches: at most `pages` of each readable entry."""
    from smpsim.experiments.images import resolve_images
    try:
        images = resolve_images(spec)
    except ConfigError:
        return pages
    return max(sum(min(e.npages, pages) for e in im.entries if "r" in e.prot) for im in images)


def expected_epochs(cfg) -> int:
    """The workload's own estimate of its epochs (what the progress line shows), bounded by max_epochs."""
    try:
        from smpsim.experiments.workloads import make_workload
        wl = make_workload(cfg, None)
        wl.initial_events()              # some workloads fix their schedule here
        n = int(wl.estimated_epochs())
    except Exception:                    # noqa: BLE001 - an estimate must never stop a valid run
        n = 100
    return max(1, min(n + cfg.run.tail_epochs + 1, cfg.run.max_epochs))


def point_memory(cfg, backend: str) -> dict:
    m = cfg.machine
    _, resident = pages_touched(cfg)
    used = min(m.phys_pages, resident + 64 * _processes(cfg))        # + page-table pages
    tlb_used = min(m.tlb_entries, resident)
    tlbs = m.ncpus * (m.tlb_entries // m.tlb_ways * TLB_SET_BYTES + tlb_used * TLB_ENTRY_BYTES)
    parts = {"model": m.phys_pages * PHYS_PAGE_BYTES + used * USED_PAGE_BYTES + _processes(cfg) * PROCESS_BYTES,
             "TLBs": tlbs, "smpsim": BASE_BYTES}
    if backend == "ray":
        parts["Ray actors"] = (m.ncpus + 1) * RAY_ACTOR_BYTES
    return parts


def _processes(cfg) -> int:
    w, m = cfg.workload, cfg.machine
    return {"exit_storm": getattr(w, "processes", 1), "fork_exit": m.ncpus, "fork_exec_exit": m.ncpus, "shell": 2 * m.ncpus,
            "munmap_fanout": 1, "memory_pressure": getattr(w, "processes", 0) + getattr(w, "growers", 0),
            "shared_eviction": getattr(w, "processes", 1)}.get(w.kind, 1)


def point_seconds(cfg, backend: str) -> tuple[float, int]:
    """(wall seconds, expected epochs) of one policy of one point."""
    m = cfg.machine
    epochs = expected_epochs(cfg)
    faulted, _ = pages_touched(cfg)
    running = min(m.ncpus, max(1, _processes(cfg) * getattr(cfg.workload, "threads", 1)))
    s = (epochs * running * m.accesses_per_quantum * ACCESS_S + epochs * m.ncpus * CPU_EPOCH_S
         + faulted * PAGE_S)
    if backend == "ray":
        s += epochs * (RAY_EPOCH_S + m.ncpus * RAY_CPU_EPOCH_S)
    return s, epochs


def estimate(point_cfgs: list, backend: str) -> Estimate:
    """The estimate for a run of these (validated) point configs on `backend`."""
    seconds, peak, parts, runs, longest = 0.0, 0, {}, 0, 0
    for cfg in point_cfgs:
        s, epochs = point_seconds(cfg, backend)
        seconds += s * len(cfg.policies)
        runs += len(cfg.policies)
        longest = max(longest, epochs)
        p = point_memory(cfg, backend)
        if sum(p.values()) > peak:
            peak, parts = sum(p.values()), p
    if backend == "ray":
        parts = dict(parts, **{"local Ray cluster": RAY_CLUSTER_BYTES})
        peak += RAY_CLUSTER_BYTES
    return Estimate(peak, seconds, parts, runs, longest)


def available_memory() -> int | None:
    """Bytes this process could still use: MemAvailable, or less when the cgroup's remaining limit or
    this process's address-space limit (RLIMIT_AS) is lower."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            vsize = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            avail = min(avail, soft - vsize)
    except (ImportError, OSError, ValueError):
        pass
    return avail


def confirm_above_s() -> float:
    """The estimated wall time above which a run needs --yes (SMPSIM_CONFIRM_ABOVE_S overrides, for tests)."""
    try:
        return float(os.environ.get("SMPSIM_CONFIRM_ABOVE_S", CONFIRM_ABOVE_S))
    except ValueError:
        return CONFIRM_ABOVE_S


def check(point_cfgs: list, backend: str, *, yes: bool, attached: bool = False) -> Estimate:
    """Refuse (ConfigError) a run that cannot fit in memory, or that is long and not confirmed."""
    est = estimate(point_cfgs, backend)
    avail = available_memory()
    # on an attached cluster the actors run on its nodes: only the driver's part must fit here
    need = est.memory_bytes
    if attached:
        need -= est.memory_parts.get("Ray actors", 0) + est.memory_parts.get("local Ray cluster", 0)
    if avail is not None and need > FIT_FRACTION * avail:
        raise ConfigError(f"this run needs ~{_size(need)} of memory ({est.describe()}) but this machine has "
                          f"{_size(avail)} available; shrink machine.phys_pages, machine.ncpus, "
                          "machine.tlb_entries or the workload (or use a bigger machine)")
    limit = confirm_above_s()
    if est.seconds > limit and not yes:
        raise ConfigError(f"this run is estimated to take ~{_duration(est.seconds)} ({est.describe()}), more "
                          f"than {_duration(limit)}; pass --yes to run it anyway, or shrink the workload, the "
                          "sweep or the number of policies")
    return est
