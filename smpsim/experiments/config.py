"""The config schema: machine, costs, workload, policies, sweep, run options.

A config is a TOML file. Everything is validated before anything starts:
unknown keys, wrong types and impossible values are refused with a
`ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smpsim.costs import CostModel
from smpsim.errors import ConfigError
from smpsim.policy import Policy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MachineConfig(_Strict):
    """The simulated machine. Watermarks default as in uvmexp: freetarg = freemin * 4/3."""

    ncpus: int = Field(4, ge=1, le=256, description="simulated CPUs, one actor each")
    sockets: int = Field(1, ge=1, le=64, description="sockets; CPUs are split evenly (cpu * sockets // ncpus); "
                                                     "IPIs and cache-line transfers cost more across them")
    phys_pages: int = Field(65536, ge=256, description="physical memory in 4 KiB pages")
    kernel_pages: int = Field(512, ge=0, description="pages owned by the kernel (never freed)")
    freemin: int | None = Field(None, ge=1, description="uvmexp.freemin; default max(16, phys_pages/128)")
    freetarg: int | None = Field(None, ge=2, description="uvmexp.freetarg; default freemin*4/3")
    tlb_entries: int = Field(1536, ge=1, description="combined STLB entries (Haswell-Skylake: 1536)")
    tlb_ways: int = Field(6, ge=1, description="STLB associativity (Haswell-Skylake: 6)")
    pcids: int = Field(4096, ge=2, le=4096, description="PCIDs available when a policy turns pcid on")
    quantum_cycles: int = Field(250_000, ge=1000, description="epoch length: 100 us at 2.5 GHz")
    accesses_per_quantum: int = Field(2000, ge=0, description="memory accesses a running thread makes per quantum")
    pagedaemon_cpu: int = Field(0, ge=0, description="CPU the pagedaemon runs on")
    pagedaemon_batch: int = Field(64, ge=1, description="pages freed per pagedaemon run beyond freetarg")
    walk_lines: int = Field(64, ge=0, description="PTE cache lines (8 PTEs each) a CPU remembers having walked: "
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

    def watermarks(self) -> tuple[int, int]:
        fm = self.freemin if self.freemin is not None else max(16, self.phys_pages // 128)
        ft = self.freetarg if self.freetarg is not None else max(fm + 1, fm * 4 // 3)
        return fm, ft


class ExitStorm(_Strict):
    """P processes of S pages in E entries, T threads each, run, then exit together or staggered."""
    kind: Literal["exit_storm"]
    processes: int = Field(8, ge=1)
    pages: int = Field(256, ge=1, description="resident pages per process")
    entries: int = Field(4, ge=1, description="map entries per process")
    threads: int = Field(1, ge=1, description="threads per process, on distinct CPUs")
    run_epochs: int = Field(3, ge=1, description="epochs the processes run before exiting")
    exit: Literal["together", "staggered"] = "together"
    stagger_epochs: int = Field(1, ge=1)
    image: str | None = Field(None, description="image file from `smpsim maps-import`; its layouts replace pages/entries")


class ForkExit(_Strict):
    """Each CPU repeatedly creates a short-lived process and lets it exit."""
    kind: Literal["fork_exit", "fork_exec_exit"]
    iterations: int = Field(4, ge=1, description="processes per CPU")
    pages: int = Field(64, ge=1)
    entries: int = Field(3, ge=1)
    run_epochs: int = Field(1, ge=1)
    libs: int = Field(2, ge=0, description="fork_exec_exit: shared libraries mapped by each process")
    lib_pages: int = Field(32, ge=1, description="fork_exec_exit: pages of each library's text")
    child_pages: int = Field(16, ge=0, description="pages of the parent's image the child touches (reads) "
                                                   "before it exits or execs")
    child_writes: int = Field(4, ge=0, description="of those, pages the child writes first (copy-on-write faults)")
    parent_writes: int = Field(16, ge=0, description="pages the parent writes between forks (each fork "
                                                     "write-protects them again)")
    parent_threads: int = Field(1, ge=1, description="threads of each parent, on consecutive CPUs: the others "
                                                     "keep running, so fork's pmap_protect shoots them down")


class MunmapFanout(_Strict):
    """One process with threads on k CPUs repeatedly unmaps ranges of R pages."""
    kind: Literal["munmap_fanout"]
    threads: int = Field(4, ge=0, description="k: CPUs the process runs on (0: all of them)")
    region_pages: int = Field(64, ge=1, description="R: pages per munmap")
    rounds: int = Field(8, ge=1)
    interval_epochs: int = Field(1, ge=1)
    protect: bool = Field(False, description="mprotect the region read-only (pmap_protect) one epoch before each munmap")
    region_mix: list[int] = Field(default_factory=list, description="if given, round i maps and unmaps "
                                  "region_mix[i % len] pages instead of region_pages")
    working_pages: int = Field(0, ge=0, description="a long-lived working set every thread keeps touching "
                                                     "(what a full flush makes it refill)")


class MemoryPressure(_Strict):
    """Short processes exit (their CPUs go idle, holding the dying pmaps lazily) while growers eat memory."""
    kind: Literal["memory_pressure"]
    processes: int = Field(4, ge=1, description="short-lived processes, one per CPU from cpu 0 upwards")
    pages: int = Field(512, ge=1)
    entries: int = Field(8, ge=1)
    growers: int = Field(1, ge=1, description="long-lived processes growing their working set")
    grow_pages: int = Field(256, ge=1, description="pages each grower faults in per epoch")
    exit_start_epoch: int = Field(4, ge=1)
    stagger_epochs: int = Field(2, ge=1)
    run_epochs: int = Field(4, ge=1, description="epochs after the last exit")


class SharedEviction(_Strict):
    """Many processes map a shared object; the pagedaemon evicts its pages while they munmap."""
    kind: Literal["shared_eviction"]
    processes: int = Field(8, ge=1)
    object_pages: int = Field(512, ge=1)
    chunk_pages: int = Field(32, ge=1, description="pages each process unmaps and remaps per round")
    anon_pages: int = Field(128, ge=0, description="private pages each process faults per round (the pressure)")
    rounds: int = Field(8, ge=1)


class TlbFlush(_Strict):
    """will-it-scale tlb_flush1: threads of one process map, write and unmap their own region in a loop."""
    kind: Literal["tlb_flush"]
    threads: int = Field(4, ge=0, description="threads, one per CPU from cpu 0 upwards (0: one per CPU)")
    region_pages: int = Field(8, ge=1, description="pages each thread maps, writes and unmaps per loop")
    loops: int = Field(16, ge=1, description="loops per thread")


class CtxSwitch(_Strict):
    """A context-switch storm: more threads than CPUs, each process remapping a region every epoch."""
    kind: Literal["ctx_switch"]
    processes: int = Field(8, ge=1)
    threads: int = Field(2, ge=1, description="threads per process, spread round-robin over the CPUs")
    pages: int = Field(64, ge=1, description="resident pages per process")
    region_pages: int = Field(8, ge=1, description="pages unmapped and remapped every epoch")
    rounds: int = Field(4, ge=1, description="remaps before the first process exits (process p does rounds + p)")
    interval_epochs: int = Field(2, ge=1, description="epochs between remaps")


Workload = Annotated[Union[ExitStorm, ForkExit, MunmapFanout, MemoryPressure, SharedEviction, TlbFlush,
                           CtxSwitch],
                     Field(discriminator="kind")]


class RunOptions(_Strict):
    check: bool = Field(False, description="run the invariant checker after every step")
    max_epochs: int = Field(100_000, ge=1, description="hard stop for a run that does not finish")
    tail_epochs: int = Field(2, ge=0, description="epochs simulated after the workload's last event")
    timeout_s: float = Field(120.0, gt=0, description="Ray backend: seconds to wait for an exchange")


class ExperimentConfig(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(1, ge=0)
    machine: MachineConfig = MachineConfig()
    costs: CostModel = CostModel()
    workload: Workload
    policies: list[Policy] = Field(min_length=1)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    run: RunOptions = RunOptions()

    @model_validator(mode="after")
    def _check(self):
        names = [p.name for p in self.policies]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(dup)}")
        w, m = self.workload, self.machine
        need = {"exit_storm": "threads", "munmap_fanout": "threads", "tlb_flush": "threads"}.get(w.kind)
        if need and getattr(w, need) > m.ncpus:
            raise ValueError(f"workload.{need}={getattr(w, need)} needs that many CPUs but machine.ncpus={m.ncpus}")
        if w.kind == "memory_pressure" and w.processes + w.growers > m.ncpus:
            raise ValueError(f"workload.processes + workload.growers = {w.processes + w.growers} must be <= "
                             f"machine.ncpus={m.ncpus} (each runs on its own CPU)")
        if w.kind == "shared_eviction" and w.chunk_pages > w.object_pages:
            raise ValueError(f"workload.chunk_pages={w.chunk_pages} exceeds workload.object_pages={w.object_pages}")
        for key, values in self.sweep.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"sweep.{key} must be a non-empty list")
        return self


# --- loading, overrides, sweeps ---------------------------------------------------------

def _fmt_loc(loc) -> str:
    parts = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p in ("exit_storm", "fork_exit", "fork_exec_exit", "munmap_fanout", "memory_pressure",
                   "shared_eviction", "tlb_flush", "ctx_switch", "function-after[_check(), ExperimentConfig]"):
            continue
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _explain(err: ValidationError, source: str) -> ConfigError:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        loc = _fmt_loc([p for p in e["loc"] if not str(p).startswith("function-")])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  {loc}: {msg}{shown}")
    return ConfigError("\n".join(lines))


def validate(data: dict, source: str = "") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        raise _explain(e, source) from None


def read_toml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None


def parse_value(text: str):
    """A --set value: TOML syntax (numbers, booleans, lists, quoted strings), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(data: dict, key: str, value) -> dict:
    """A copy of `data` with dotted `key` set to `value` (policies[1].teardown style indexes allowed)."""
    out = copy.deepcopy(data)
    node = out
    parts = key.split(".")
    if key.startswith("sweep."):
        parts = ["sweep", key[len("sweep."):]]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        name, idx = part, None
        if part.endswith("]") and "[" in part:
            name, _, rest = part.partition("[")
            try:
                idx = int(rest[:-1])
            except ValueError:
                raise ConfigError(f"--set {key}: bad index in {part!r}") from None
        if idx is not None:
            seq = node.get(name)
            if not isinstance(seq, list) or not -len(seq) <= idx < len(seq):
                raise ConfigError(f"--set {key}: {name} has no element [{idx}]")
            if last:
                seq[idx] = value
            else:
                if isinstance(seq[idx], str):
                    seq[idx] = {"name": seq[idx], "preset": seq[idx]}
                node = seq[idx]
        elif last:
            node[name] = value
        else:
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {name} is not a table")
            node = child
    return out


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        data = set_path(data, key.strip(), parse_value(text.strip()))
    return data


def load(path: str | Path, overrides: list[str] = ()) -> tuple[ExperimentConfig, dict]:
    """Validated config and the raw dict it came from (after overrides), and every sweep point validated."""
    data = apply_overrides(read_toml(path), list(overrides))
    data.setdefault("name", Path(path).stem)
    image = (data.get("workload") or {}).get("image")
    if isinstance(image, str) and not image.startswith("bundled:") and not Path(image).is_absolute():
        beside = Path(path).resolve().parent / image
        if beside.is_file():
            data["workload"]["image"] = str(beside)      # an image named relative to its config
    cfg = validate(data, str(path))
    if cfg.workload.kind == "exit_storm" and cfg.workload.image:
        from smpsim.experiments.images import resolve_images
        resolve_images(cfg.workload.image)               # refuse a missing or bad image before starting
    for params, point_data in sweep_points(data):
        validate(point_data, f"{path} at sweep point {params}")
    return cfg, data


def sweep_points(data: dict) -> list[tuple[dict, dict]]:
    """[(params, raw config of the point without [sweep])] for the cartesian product of the sweep."""
    sweep = data.get("sweep") or {}
    base = {k: v for k, v in data.items() if k != "sweep"}
    if not sweep:
        return [({}, base)]
    keys = list(sweep)
    points = []
    for combo in itertools.product(*(sweep[k] for k in keys)):
        point = base
        params = {}
        for k, v in zip(keys, combo):
            point = set_path(point, k, v)
            params[k] = v
        points.append((params, point))
    return points


def point_name(params: dict) -> str:
    if not params:
        return "base"
    return ",".join(f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in params.items())


def _short(value) -> str:
    """A swept value in a point name: a whole table (e.g. a workload) by its kind and threads."""
    if isinstance(value, dict):
        return "-".join(str(value[key]) for key in ("kind", "threads") if key in value) or "table"
    return str(value)
