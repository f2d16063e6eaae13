"""The benchmark (SPEC §7): simulator throughput, exchange overhead against bare Ray, scaling.

Everything is measured in one process run, so the figures are comparable:

1. exchange overhead: for fan-outs k, the wall latency of a bare Ray round trip (a
   trivial method on k actors, all submitted, one `ray.get`) and of smpsim's shootdown
   exchange to k CPU actors through `RayTransport.exchange` (real ShootdownRequest
   messages to real CpuActor actors holding a SimCpu), measured alternately
   (interleaved iterations, the order rotated every iteration). A third variant, the
   trivial actors taking and returning bytes of the exchange's message sizes, splits
   the overhead into "Ray carrying arguments and results" and "smpsim's own work";
2. throughput: TLB lookups per second in quanta (a SimCpu in this process, and inside
   a CPU actor), VM operations per second in the coordinator (inline), epochs per
   second for 4, 8 and 16 CPUs (inline and Ray), inline vs Ray wall time for
   configs/exit_storm_quick.toml through the runner;
3. scaling: wall time and peak memory (sum of the actor processes' VmHWM) of a fixed
   exit_storm for ncpus = 2..32 on Ray, and whether 64 CPU actors start;
4. targets: a table of target, measured value and PASS / MISS.

Ray parts run on a fresh loopback-only local cluster (`ray_cluster.start_local`), or
on the Ray this process already has (the tests' session cluster). `--smoke` runs tiny
sizes in seconds and writes BENCHMARKS.md only when `--out` is given; `--no-ray`
leaves out every Ray part. Benchmarks are never timed tests: nothing here asserts a
time. `--profile` samples the hot paths of missed targets with py-spy (a timing breakdown
for the 16-CPU run, whose time goes to starting actor processes py-spy cannot see).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from smpsim.experiments.workloads import make_workload

ROOT = Path(__file__).resolve().parent.parent
QUICK_CONFIG = ROOT / "configs" / "exit_storm_quick.toml"

# --- targets (SPEC §7 and issue 5, for the 2-core default machine) ----------------------------------
TARGET_RATIO = 1.3                 # exchange median within 1.3x of the bare-Ray floor, every fan-out
TARGET_LOOKUPS = 1_000_000         # TLB lookups per second per CPU actor
TARGET_16CPU_S = 60.0              # 16-CPU quick exit_storm on Ray, wall seconds

PMAP = 1                           # the pmap (and tag) the benchmark CPUs run
BASE_VA = 1 << 18                  # first va page of the benchmark working sets
SHOOTDOWN_VAS = 6                  # VAs per shootdown: the default shootdown_batch


@dataclass(frozen=True)
class Sizes:
    mode: str
    fanouts: tuple = (1, 2, 4, 8, 15)
    exchange_iters: int = 400
    exchange_warmup: int = 30
    tlb_quanta: int = 300
    accesses: int = 2000                    # per quantum: MachineConfig.accesses_per_quantum default
    working_sets: tuple = (256, 4096)       # pages: fits the 1536-entry TLB / thrashes it
    vm_pages: int = 8192
    vm_munmap_pages: int = 16
    epoch_ncpus: tuple = (4, 8, 16)
    epoch_run_epochs: int = 40
    quick_ncpus: int = 16                   # the target's "16-CPU quick exit_storm"
    scale_ncpus: tuple = (2, 4, 8, 16, 32)
    try_ncpus: int = 64
    inline_repeats: int = 3


SIZES = {
    "full": Sizes("full"),
    "quick": Sizes("quick", exchange_iters=150, exchange_warmup=15, tlb_quanta=100, vm_pages=4096,
                   epoch_run_epochs=20),
    "smoke": Sizes("smoke", fanouts=(1, 2), exchange_iters=8, exchange_warmup=2, tlb_quanta=4, accesses=500,
                   working_sets=(64,), vm_pages=128, epoch_ncpus=(2,), epoch_run_epochs=2, quick_ncpus=2,
                   scale_ncpus=(2,), try_ncpus=3, inline_repeats=1),
}


# --- results --------------------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    goal: str
    measured: str
    verdict: str          # PASS, MISS, n/a (not measured at the target's size), SKIP (not run)


@dataclass
class Results:
    sizes: Sizes
    sections: list = field(default_factory=list)      # (title, note, header, rows)
    targets: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    profiles: list = field(default_factory=list)      # (title, note, header, rows)
    data: dict = field(default_factory=dict)          # raw figures the targets and profiles use

    def section(self, title: str, header: list, rows: list, note: str = "") -> None:
        self.sections.append((title, note, header, rows))
        log(md_table(header, rows, title=title, note=note))


def log(text: str = "") -> None:
    print(text, flush=True)


def md_table(header: list, rows: list, *, title: str = "", note: str = "") -> str:
    out = [f"### {title}", ""] if title else []
    if note:
        out += [note, ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    out.append("")
    return "\n".join(out)


def pct(xs: list, p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def us(ns: float) -> str:
    return f"{ns / 1000:,.0f}" if ns >= 10_000 else f"{ns / 1000:,.1f}"


def rate(x: float) -> str:
    return f"{x:,.0f}"


# --- the machine ----------------------------------------------------------------------------------------
def machine_info() -> dict:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(len(os.sched_getaffinity(0)))
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        import ray
        ray_version = ray.__version__
    except ImportError:
        ray_version = "not installed"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split("\n")
        dirty = sorted(ln[3:] for ln in dirty if ln[3:].startswith("smpsim/"))
        if dirty:
            rev += f" + uncommitted changes to {', '.join(dirty)}"
    except (OSError, subprocess.CalledProcessError):
        rev = "?"
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "model": model, "nproc": nproc,
            "memory": mem, "ray": ray_version, "python": platform.python_version(), "git": rev,
            "load": loadavg()}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def proc_status(pid: int) -> dict:
    """VmRSS and VmHWM of a process in KiB ({} when it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return out


def mem_of(pids: list) -> tuple[int, int]:
    """(sum of VmHWM, sum of VmRSS) over pids, in KiB."""
    st = [proc_status(p) for p in pids]
    return sum(s.get("VmHWM", 0) for s in st), sum(s.get("VmRSS", 0) for s in st)


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


# --- helpers run inside actors (through ActorHandle.__ray_call__) ---------------------------------------
def _getpid(_worker) -> int:
    return os.getpid()


def _time_handle(worker, data: bytes, n: int) -> float:
    """Mean ns of worker.handle(data) inside the actor."""
    t = time.perf_counter_ns()
    for _ in range(n):
        worker.handle(data)
    return (time.perf_counter_ns() - t) / n


def _actor_quanta(worker, working_set: int, accesses: int, quanta: int) -> dict:
    """Quanta run inside a CPU actor through its bytes interface (decode, run, encode)."""
    return run_quanta(worker.handle, worker.id, working_set, accesses, quanta, wire=True)


def actor_pids(actors: list) -> list[int]:
    import ray
    return ray.get([a.__ray_call__.remote(_getpid) for a in actors], timeout=60)


# --- workloads for the CPUs -------------------------------------------------------------------------------
def cpu_setups(n: int) -> list:
    from smpsim.costs import CostModel
    from smpsim.experiments.config import MachineConfig
    from smpsim.protocol import CpuSetup
    m = MachineConfig()
    costs = CostModel().model_dump()
    return [CpuSetup(i, m.tlb_entries, m.tlb_ways, False, 1, costs) for i in range(n)]


def warm_request(cpu: int, pages: int = 512):
    """A quantum that loads PMAP on the CPU and fills its TLB with `pages` translations."""
    from smpsim.protocol import VALID, QuantumRequest, Switch
    fills = tuple((BASE_VA + i, 1000 + i) for i in range(pages))
    return QuantumRequest(0, cpu, Switch(PMAP, PMAP, VALID), ((BASE_VA, pages),), 0, fills)


def shootdown_requests(xid: int, k: int, initiator: int) -> list:
    """What pmap_update sends for a batch of SHOOTDOWN_VAS pages of PMAP to k CPUs running it."""
    from smpsim.protocol import ShootdownRequest
    off = (xid * SHOOTDOWN_VAS) % 512
    vas = tuple((PMAP, BASE_VA + (off + j) % 512) for j in range(SHOOTDOWN_VAS))
    return [ShootdownRequest(xid, 1, initiator, (PMAP,), (PMAP,), vas, "bench") for _ in range(k)]


def run_quanta(handle, cpu: int, working_set: int, accesses: int, quanta: int, *, wire: bool = False) -> dict:
    """`quanta` quanta of `accesses` lookups over `working_set` pages of PMAP, each quantum's misses
    filled by the next (as the coordinator does). Only `handle` is timed (wall and this thread's CPU
    time); with `wire` it takes and returns msgpack bytes, encoded and decoded outside the timing."""
    from smpsim.protocol import VALID, QuantumRequest, Switch
    from smpsim.runtime.wire import decode, encode
    sw = Switch(PMAP, PMAP, VALID)
    ranges = ((BASE_VA, working_set),)
    fills: tuple = ()
    ns = cpu_ns = hits = misses = 0
    for epoch in range(1, quanta + 2):
        req = QuantumRequest(epoch, cpu, sw, ranges, accesses, fills)
        if wire:
            req = encode(req)
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        rep = handle(req)
        dt = time.perf_counter_ns() - t
        dc = time.thread_time_ns() - c
        if wire:
            rep = decode(rep)
        if epoch > 1:                       # the first quantum starts from an empty TLB
            ns += dt
            cpu_ns += dc
            hits += rep.hits
            misses += len(rep.misses)
        fills = tuple((va, va + 1000) for va in rep.misses)
    n = quanta * accesses
    return {"lookups": n, "ns": ns, "per_s": n / (ns / 1e9) if ns else 0.0,
            "per_cpu_s": n / (cpu_ns / 1e9) if cpu_ns else 0.0, "hit_rate": hits / max(1, hits + misses)}


# --- 1. exchange overhead against the floor -----------------------------------------------------------------
class FloorWorker:
    """The bare-Ray floor: a trivial actor method (and one taking and returning bytes, for the breakdown)."""

    def __init__(self, reply_size: int = 0):
        self.reply = bytes(reply_size)

    def ping(self) -> int:
        return 0

    def echo(self, data: bytes) -> bytes:
        return self.reply


def bench_exchange(res: Results, kmax: int) -> None:
    import ray

    from smpsim.cpus.cpu import SimCpu
    from smpsim.runtime.wire import decode, encode
    from smpsim.runtime.ray_actors import create_cpu_actors
    from smpsim.runtime.ray_transport import RayTransport, kill_actors
    sz = res.sizes
    initiator = kmax                           # a CPU that is not a target (its shootdown goes to the others)
    probe = SimCpu(cpu_setups(1)[0])
    probe.handle(warm_request(0))
    req = shootdown_requests(1, 1, initiator)[0]
    ack = probe.handle(req)
    req_size, ack_size = len(encode(req)), len(encode(ack))
    floor_cls = ray.remote(max_restarts=0)(FloorWorker)
    floors = [floor_cls.options(num_cpus=0).remote(ack_size) for _ in range(kmax)]
    cpus = create_cpu_actors(kmax)
    tr = RayTransport(cpus, timeout_s=60.0)
    try:
        tr.start(cpu_setups(kmax))
        tr.exchange(list(range(kmax)), [warm_request(c) for c in range(kmax)])
        ray.get([f.ping.remote() for f in floors], timeout=60)
        wall = {v: {k: [] for k in sz.fanouts} for v in ("floor", "echo", "smpsim")}
        cpu = {v: {k: [] for k in sz.fanouts} for v in ("floor", "echo", "smpsim")}
        payload = bytes(req_size)
        xid = 1
        for it in range(sz.exchange_warmup + sz.exchange_iters):
            keep = it >= sz.exchange_warmup
            for k in sz.fanouts:
                targets = list(range(k))
                fa = floors[:k]
                xid += 1
                reqs = shootdown_requests(xid, k, initiator)
                calls = [("floor", lambda: ray.get([a.ping.remote() for a in fa])),
                         ("smpsim", lambda: tr.exchange(targets, reqs)),
                         ("echo", lambda: ray.get([a.echo.remote(payload) for a in fa]))]
                shift = (it + k) % 3                      # rotate which goes first
                for name, fn in calls[shift:] + calls[:shift]:
                    c = time.thread_time_ns()
                    t = time.perf_counter_ns()
                    fn()
                    dt = time.perf_counter_ns() - t
                    dc = time.thread_time_ns() - c
                    if keep:
                        wall[name][k].append(dt)
                        cpu[name][k].append(dc)
        # the breakdown: smpsim's own CPU work per target, on each side
        data = encode(req)
        n = 2000
        t = time.perf_counter_ns()
        for _ in range(n):
            encode(req)
        enc_ns = (time.perf_counter_ns() - t) / n
        ack_bytes = encode(ack)
        t = time.perf_counter_ns()
        for _ in range(n):
            decode(ack_bytes)
        dec_ns = (time.perf_counter_ns() - t) / n
        handle_ns = ray.get(cpus[0].__ray_call__.remote(_time_handle, data, n), timeout=120)
    finally:
        kill_actors(floors)
        kill_actors(cpus)
    rows = []
    ratios = {}
    med = statistics.median
    for k in sz.fanouts:
        f, s, e = wall["floor"][k], wall["smpsim"][k], wall["echo"][k]
        fm, sm, em = med(f), med(s), med(e)
        ratios[k] = sm / fm
        rows.append([k, us(fm), us(pct(f, 99)), us(em), us(sm), us(pct(s, 99)), f"{sm / fm:.2f}",
                     f"{(em - fm) / k / 1000:+.0f}", f"{(sm - em) / k / 1000:+.0f}",
                     f"{med(cpu['floor'][k]) / k / 1000:.0f} / {med(cpu['echo'][k]) / k / 1000:.0f} / "
                     f"{med(cpu['smpsim'][k]) / k / 1000:.0f}"])
    res.data["exchange_ratio"] = ratios
    res.data["exchange_breakdown"] = {"encode_ns": enc_ns, "decode_ns": dec_ns, "handle_ns": handle_ns,
                                      "req_bytes": req_size, "ack_bytes": ack_size}
    res.section(
        "1. Exchange overhead against the bare-Ray floor",
        ["k", "floor median µs", "floor p99 µs", "floor+bytes median µs", "smpsim median µs",
         "smpsim p99 µs", "smpsim/floor", "bytes cost µs/target", "smpsim work µs/target",
         "caller CPU µs/target floor / +bytes / smpsim"],
        rows,
        note=(f"{sz.exchange_iters} interleaved iterations per fan-out after {sz.exchange_warmup} warm-up ones "
              f"(the order of the three variants rotated every iteration). floor: "
              f"`ray.get([a.ping.remote() for a in actors])` on k trivial actors; smpsim: `RayTransport.exchange` "
              f"of a {SHOOTDOWN_VAS}-VA ShootdownRequest to k CpuActors running the pmap with a warm TLB; "
              f"floor+bytes: the trivial actors taking a {req_size}-byte argument and returning {ack_size} bytes "
              f"(the exchange's message sizes), so 'bytes cost' is what Ray charges for carrying the messages "
              f"and 'smpsim work' the rest. smpsim's own code per target: {enc_ns / 1000:.1f} µs encode + "
              f"{dec_ns / 1000:.1f} µs decode in the caller, {handle_ns / 1000:.1f} µs `CpuWorker.handle` "
              f"(decode, SimCpu.shootdown, encode) in the actor. Caller CPU: the calling thread's CPU time."))


# --- 2. throughput ------------------------------------------------------------------------------------------------
def bench_tlb(res: Results, use_ray: bool) -> None:
    from smpsim.cpus.cpu import SimCpu
    sz = res.sizes
    rows = []

    def row(where, ws, r, cpu=True):
        rows.append([where, ws, sz.accesses, f"{r['hit_rate']:.0%}", rate(r["per_s"]),
                     rate(r["per_cpu_s"]) if cpu else "-"])

    for ws in sz.working_sets:
        cpu = SimCpu(cpu_setups(1)[0])
        r = run_quanta(cpu.handle, 0, ws, sz.accesses, sz.tlb_quanta)
        row("SimCpu.handle in this process", ws, r)
        res.data.setdefault("tlb_inproc", {})[ws] = (r["per_s"], r["per_cpu_s"])
    if use_ray:
        import ray

        from smpsim.runtime.ray_actors import create_cpu_actors
        from smpsim.runtime.ray_transport import RayTransport, kill_actors
        actors = create_cpu_actors(1)
        tr = RayTransport(actors, timeout_s=120.0)
        try:
            for ws in sz.working_sets:
                tr.start(cpu_setups(1))       # a fresh SimCpu: empty TLB
                r = ray.get(actors[0].__ray_call__.remote(_actor_quanta, ws, sz.accesses, sz.tlb_quanta),
                            timeout=600)
                row("CpuActor: `CpuWorker.handle` in the actor (bytes in, bytes out)", ws, r)
                res.data.setdefault("tlb_actor", {})[ws] = (r["per_s"], r["per_cpu_s"])
                tr.start(cpu_setups(1))
                r = run_quanta(lambda q: tr.exchange([0], [q]).replies[0], 0, ws, sz.accesses, sz.tlb_quanta)
                row("CpuActor: `RayTransport.exchange` from the caller (adds the round trip)", ws, r, cpu=False)
                res.data.setdefault("tlb_actor_wall", {})[ws] = r["per_s"]
        finally:
            kill_actors(actors)
    res.section("2a. TLB lookups per second per CPU during quanta",
                ["where", "working set (pages)", "accesses/quantum", "hit rate", "lookups/s (wall)",
                 "lookups/s (CPU time)"], rows,
                note=(f"{sz.tlb_quanta} quanta after a first one from an empty TLB; each quantum's misses are "
                      f"filled by the next, as the coordinator does. Only the CPU's handling of each quantum is "
                      f"timed (in the actor: decode the request, SimCpu.run_quantum, encode the reply), in wall "
                      f"time and in the thread's CPU time (which other processes on the machine do not inflate). "
                      f"The TLB is the default 1536-entry 6-way STLB: 256 pages fit it, 4096 do not."))


def bench_vm_ops(res: Results) -> None:
    """Faults and removes per second in the coordinator (inline), CPUs running the pmap."""
    from smpsim.experiments import config as cfgmod
    from smpsim.runtime.transport import InlineTransport
    from smpsim.vm import uvm
    from smpsim.vm.coordinator import VmCoordinator
    from smpsim.vm.locks import Op
    sz = res.sizes
    ncpus = 4
    rows = []
    for policy in ("netbsd5", "seed"):
        data = {"name": "bench_vm", "seed": 1,
                "machine": {"ncpus": ncpus, "phys_pages": max(65536, 4 * sz.vm_pages), "accesses_per_quantum": 0},
                "workload": {"kind": "exit_storm", "processes": 1, "pages": 64, "entries": 1, "threads": ncpus,
                             "run_epochs": 100_000},
                "policies": [{"name": policy}]}
        cfg = cfgmod.validate(data)
        vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport())
        vm.start()
        vm.step(3)                              # spawned, its threads run (pmap loaded) on every CPU
        k = vm.k
        proc = next(iter(k.procs.values()))
        t = vm.epoch * cfg.machine.quantum_cycles
        base = 64 << 18
        op = Op("mmap", 0, t, k.counters)
        uvm.uvm_map(k, op, proc, base, sz.vm_pages)
        t = op.t
        c0 = dict(k.counters)
        t0 = time.perf_counter_ns()
        for va in range(base, base + sz.vm_pages):
            op = Op("fault", 0, t, k.counters)
            uvm.uvm_fault(k, op, proc, va)
            t = op.t
        fault_ns = time.perf_counter_ns() - t0
        faults = k.counters["page_faults"] - c0["page_faults"]
        step = sz.vm_munmap_pages
        c1 = dict(k.counters)
        t0 = time.perf_counter_ns()
        for start in range(base, base + sz.vm_pages, step):
            op = Op("munmap", 0, t, k.counters)
            uvm.uvm_unmap(k, op, proc, start, step, "munmap")
            t = op.t
        unmap_ns = time.perf_counter_ns() - t0
        removed = k.counters["pv_removes"] - c1["pv_removes"]
        munmaps = sz.vm_pages // step
        sds = k.counters["shootdown_exchanges"] - c1["shootdown_exchanges"]
        rows.append([policy, rate(faults / (fault_ns / 1e9)), rate(removed / (unmap_ns / 1e9)),
                     rate(munmaps / (unmap_ns / 1e9)), f"{sds} / {munmaps}"])
        res.data.setdefault("vm_faults", {})[policy] = faults / (fault_ns / 1e9)
        res.data.setdefault("vm_removes", {})[policy] = removed / (unmap_ns / 1e9)
    res.section("2b. VM operations per second in the coordinator (inline)",
                ["policy", "faults/s", "pages removed/s", "munmaps/s", "shootdown exchanges / munmaps"], rows,
                note=(f"One process with threads on {ncpus} CPUs (its pmap loaded on all of them): "
                      f"{sz.vm_pages} faults (`uvm_fault`: page allocation, PTPs, `pmap_enter`, PV insert), then "
                      f"`uvm_unmap` of {sz.vm_munmap_pages}-page ranges (`pmap_remove`, PV removal, page free, "
                      f"`pmap_update` with its shootdown through the inline transport)."))


class TimingSink:
    """A RunSink that keeps nothing but the time of each progress report (and can hook it)."""

    def __init__(self, hook=None):
        self.marks: list[tuple[float, int]] = []
        self.hook = hook

    def events(self, events) -> None:
        pass

    def trace(self, records) -> None:
        pass

    def progress(self, epoch: int, total: int) -> None:
        self.marks.append((time.perf_counter(), epoch))
        if self.hook is not None:
            self.hook()

    def steady_rate(self) -> float | None:
        """Epochs per second between the first and the last progress report."""
        if len(self.marks) < 2:
            return None
        (t0, e0), (t1, e1) = self.marks[0], self.marks[-1]
        return (e1 - e0) / (t1 - t0) if t1 > t0 else None


def sz_accesses() -> str:
    from smpsim.experiments.config import MachineConfig
    return f"{MachineConfig().accesses_per_quantum:,}"


def storm_config(ncpus: int, *, processes: int, run_epochs: int, policy: str = "netbsd5"):
    from smpsim.experiments import config as cfgmod
    data = {"name": f"bench_storm_{ncpus}", "seed": 1, "machine": {"ncpus": ncpus, "phys_pages": 65536},
            "workload": {"kind": "exit_storm", "processes": processes, "pages": 256, "entries": 4,
                         "threads": min(2, ncpus), "run_epochs": run_epochs, "exit": "together"},
            "policies": [{"name": policy}]}
    cfg = cfgmod.validate(data)
    return cfg, cfg.policies[0]


def bench_epochs(res: Results, ray_backend) -> None:
    from smpsim.runtime.inline_backend import InlineBackend
    sz = res.sizes
    rows = []
    backends = [("inline", InlineBackend())] + ([("ray", ray_backend)] if ray_backend is not None else [])
    for n in sz.epoch_ncpus:
        cfg, policy = storm_config(n, processes=n, run_epochs=sz.epoch_run_epochs)
        for name, be in backends:
            runs = []
            for _ in range(sz.inline_repeats if name == "inline" else 1):
                sink = TimingSink()
                t0 = time.perf_counter()
                r = be.run_point(cfg, policy, workload=make_workload(cfg), point="base", check=False, trace=False, sink=sink)
                runs.append((time.perf_counter() - t0, sink.steady_rate() or 0.0, r["epochs"]))
            wall = statistics.median(x[0] for x in runs)
            steady = statistics.median(x[1] for x in runs)
            epochs = runs[0][2]
            rows.append([n, name, epochs, f"{wall:.2f}", f"{epochs / wall:.1f}", f"{steady:.1f}" if steady else "-"])
            res.data.setdefault("epochs", {})[(n, name)] = (steady, wall)
    res.section("2c. Epochs per second",
                ["CPUs", "backend", "epochs", "wall s", "epochs/s (all)", "epochs/s (steady)"], rows,
                note=(f"exit_storm with one 256-page, 2-thread process per CPU running {sz.epoch_run_epochs} epochs "
                      f"({sz_accesses()} accesses per quantum), policy netbsd5, one `run_point` each (inline: median "
                      f"of {sz.inline_repeats}). 'all' includes creating and killing the actors; 'steady' is between "
                      f"the first and the last progress report (8 epochs per step)."))


def run_quick_config(backend: str, ncpus: int | None, out_root: Path) -> float:
    from smpsim.experiments.runner import RunRequest, run
    overrides = [f"machine.ncpus={ncpus}"] if ncpus else []
    out = out_root / f"{backend}-{ncpus or 'default'}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    run(RunRequest(config_path=str(QUICK_CONFIG), overrides=overrides, backend=backend, out=str(out),
                   progress=False), echo=lambda *a, **k: None)
    return time.perf_counter() - t0


def bench_quick_config(res: Results, use_ray: bool, out_root: Path) -> None:
    sz = res.sizes
    rows = []
    for ncpus in (None, sz.quick_ncpus) if sz.mode != "smoke" else (sz.quick_ncpus,):
        for backend in ("inline", "ray") if use_ray else ("inline",):
            wall = run_quick_config(backend, ncpus, out_root)
            rows.append([ncpus or "4 (as in the file)", backend, f"{wall:.2f}"])
            res.data.setdefault("quick", {})[(ncpus, backend)] = wall
    res.section("2d. configs/exit_storm_quick.toml end to end (runner.run, 4 policies)",
                ["CPUs", "backend", "wall s"], rows,
                note=("`runner.run(RunRequest(backend=..., progress=False))`: validation, run directory, every "
                      "policy (on Ray: the CPU and VM actors as RayBackend creates and reuses them), summary. "
                      "Ray wall time is on the already-running cluster (no cluster start-up)."))


# --- 3. scaling --------------------------------------------------------------------------------------------------
def bench_scaling(res: Results, ray_backend) -> None:
    sz = res.sizes
    rows = []
    for n in sz.scale_ncpus:
        cfg, policy = storm_config(n, processes=8, run_epochs=3)
        seen: dict = {}

        def hook():
            if "pids" not in seen:
                seen["pids"] = actor_pids([ray_backend.vm_actor, *ray_backend.cpu_actors])
            seen["mem"] = mem_of(seen["pids"])

        sink = TimingSink(hook)
        t0 = time.perf_counter()
        r = ray_backend.run_point(cfg, policy, workload=make_workload(cfg), point="base", check=False, trace=False, sink=sink)
        wall = time.perf_counter() - t0
        hwm, rss = seen.get("mem", (0, 0))
        first = sink.marks[0][0] - t0 if sink.marks else float("nan")
        rows.append([n, r["epochs"], f"{wall:.2f}", f"{first:.2f}", mib(hwm), mib(rss),
                     f"{hwm / 1024 / (n + 1):,.0f}"])
        res.data.setdefault("scaling", {})[n] = (wall, hwm, first, r["epochs"])
    res.section("3a. Scaling on Ray: a fixed exit_storm, ncpus varied",
                ["ncpus", "epochs", "wall s", "to first step s", "peak memory MiB (Σ VmHWM)",
                 "RSS at end MiB (Σ VmRSS)", "MiB per actor"], rows,
                note=("exit_storm_quick's workload (8 processes of 256 pages, 2 threads, 3 epochs, exit together), "
                      "policy netbsd5, one `RayBackend.run_point` (create ncpus CPU actors + the VM actor, run, "
                      "kill). Memory: the VM and CPU actor processes (PIDs from an actor call), summed VmHWM / "
                      "VmRSS from /proc/PID/status read after the last step; 'to first step' covers actor "
                      "start-up and the first 8 epochs."))


def bench_many_actors(res: Results) -> None:
    from smpsim.runtime.ray_actors import create_cpu_actors
    from smpsim.runtime.ray_transport import RayTransport, kill_actors
    n = res.sizes.try_ncpus
    t0 = time.perf_counter()
    actors = []
    ok, err, hwm, rss = False, "", 0, 0
    try:
        actors = create_cpu_actors(n)
        tr = RayTransport(actors, timeout_s=300.0)
        tr.start(cpu_setups(n))
        reps = tr.exchange(list(range(n)), [warm_request(c, 64) for c in range(n)]).replies
        ok = len(reps) == n
        wall = time.perf_counter() - t0
        hwm, rss = mem_of(actor_pids(actors))
    except Exception as e:  # noqa: BLE001 - the answer is "no", with why
        wall = time.perf_counter() - t0
        err = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
    finally:
        t1 = time.perf_counter()
        kill_actors(actors)
        kill_s = time.perf_counter() - t1
    free = _mem_available_kib()
    res.data["many"] = (n, ok, wall, hwm)
    res.section(f"3b. Do {n} CPU actors start?",
                ["CPU actors", "started", "start + setup + one quantum s", "memory MiB (Σ VmRSS)",
                 "MiB per actor", "kill s", "MemAvailable after MiB"],
                [[n, "yes" if ok else f"no: {err}", f"{wall:.2f}", mib(rss) if ok else "-",
                  f"{rss / 1024 / n:,.0f}" if ok else "-", f"{kill_s:.2f}", mib(free)]])


def _mem_available_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- 4. targets ------------------------------------------------------------------------------------------------------
def evaluate_targets(res: Results, use_ray: bool) -> None:
    sz = res.sizes
    full_size = sz.mode != "smoke"
    ratios = res.data.get("exchange_ratio", {})
    for k in SIZES["full"].fanouts:
        name = f"exchange overhead, k={k}"
        goal = f"smpsim/floor ≤ {TARGET_RATIO:.2f}x"
        if k in ratios:
            r = ratios[k]
            verdict = ("PASS" if r <= TARGET_RATIO else "MISS") if full_size else "n/a"
            res.targets.append(Target(name, goal, f"{r:.2f}x", verdict))
        else:
            res.targets.append(Target(name, goal, "-", "SKIP" if not use_ray else "n/a"))
    goal = f"≥ {TARGET_LOOKUPS:,} /s"
    actor = res.data.get("tlb_actor", {})
    inproc = res.data.get("tlb_inproc", {})
    for ws in SIZES["full"].working_sets:
        name = f"TLB lookups/s per CPU actor, {ws}-page working set"
        if ws in actor:
            v, v_cpu = actor[ws]
            verdict = ("PASS" if v >= TARGET_LOOKUPS else "MISS") if full_size else "n/a"
            res.targets.append(Target(name, goal, f"{rate(v)} (CPU time: {rate(v_cpu)})", verdict))
        elif ws in inproc:
            v, v_cpu = inproc[ws]
            res.targets.append(Target(name, goal, f"{rate(v)} (SimCpu in-process; no actor)", "SKIP"))
        else:
            res.targets.append(Target(name, goal, "-", "n/a"))
    name = "16-CPU quick exit_storm on Ray, wall"
    goal = f"< {TARGET_16CPU_S:.0f} s"
    q = res.data.get("quick", {}).get((sz.quick_ncpus, "ray"))
    if q is None:
        res.targets.append(Target(name, goal, "-", "SKIP"))
    elif sz.quick_ncpus != 16:
        res.targets.append(Target(name, goal, f"{q:.1f} s at {sz.quick_ncpus} CPUs", "n/a"))
    else:
        res.targets.append(Target(name, goal, f"{q:.1f} s", "PASS" if q < TARGET_16CPU_S else "MISS"))


def targets_table(res: Results) -> str:
    return md_table(["target", "goal", "measured", "result"],
                    [[t.name, t.goal, t.measured, t.verdict] for t in res.targets], title="4. Targets")


# --- profiling (py-spy) ----------------------------------------------------------------------------------------------
def pyspy_available() -> str | None:
    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


def pyspy_record(pids: list, seconds: float, workdir: Path) -> list:
    """Start py-spy on each pid for `seconds` (raw collapsed stacks); returns (pid, process, path)."""
    exe = pyspy_available()
    out = []
    for pid in pids:
        path = workdir / f"pyspy-{pid}-{time.monotonic_ns()}.txt"
        p = subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                              "--rate", "250", "--format", "raw", "--output", str(path), "--nonblocking"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((pid, p, path))
    return out


OWN_CODE = ("smpsim/protocol.py", "smpsim/runtime/wire.py", "smpsim/cpus/")


def collapse_summary(path: Path, top: int = 8, within: str | None = None) -> tuple[int, list]:
    """(samples, [(function, self %, inclusive %)]) from a py-spy raw (collapsed) file; with `within`, only
    the stacks that pass through a frame containing that text, and only the frames from it down."""
    self_n: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = own = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0, []
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        raw = [f for f in stack.split(";") if f]
        if within is not None:
            cut = next((i for i, f in enumerate(raw) if within in f), None)
            if cut is None:
                continue
            raw = raw[cut:]
        if not raw:
            continue
        n = int(count)
        total += n
        if any(m in f for f in raw for m in OWN_CODE):
            own += n
        frames = [_short(f) for f in raw]
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return 0, []
    ranked = sorted(self_n.items(), key=lambda kv: -kv[1])[:top]
    out = [(f, 100 * n / total, 100 * incl.get(f, 0) / total) for f, n in ranked]
    out.append(("(any smpsim message or CPU-model code on the stack)", None, 100 * own / total))
    return total, out


def _short(frame: str) -> str:
    """'run_quantum (smpsim/cpus/cpu.py:92)' -> 'run_quantum (cpus/cpu.py)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = Path(file).parts
    for anchor in ("smpsim", "ray", "site-packages", "lib"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            file = "/".join(parts[i:])
            break
    return f"{name} ({file})" if file else name


def profile_missed(res: Results, use_ray: bool, workdir: Path) -> None:
    """Sample the hot paths behind each missed target with py-spy; summaries go into res.profiles."""
    exe = pyspy_available()
    missed = [t for t in res.targets if t.verdict == "MISS"]
    if not missed:
        return
    if exe is None:
        res.notes.append("py-spy not found: missed targets not profiled")
        return
    kinds = {t.name.split(",")[0] for t in missed}
    if "exchange overhead" in kinds and use_ray:
        _profile_exchange(res, workdir)
    tlb_missed = [int(t.name.split(", ")[1].split("-")[0]) for t in missed
                  if t.name.startswith("TLB lookups/s per CPU actor")]
    if tlb_missed:
        _profile_tlb(res, workdir, tlb_missed)
    if "16-CPU quick exit_storm on Ray" in kinds and use_ray:
        _profile_quick16(res)


def _summarise(res: Results, title: str, note: str, recs: list, labels: dict, within: str | None = None) -> None:
    for pid, p, path in recs:
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
        total, top = collapse_summary(path, within=within)
        rows = [[f, f"{s:.1f}%" if s is not None else "", f"{i:.1f}%"] for f, s, i in top]
        res.profiles.append((f"{title}: {labels.get(pid, pid)} ({total} samples)", note,
                             ["function (by self time)", "self", "incl."], rows))


def _profile_exchange(res: Results, workdir: Path) -> None:
    from smpsim.runtime.ray_actors import create_cpu_actors
    from smpsim.runtime.ray_transport import RayTransport, kill_actors
    k = max(res.sizes.fanouts)
    cpus = create_cpu_actors(k + 1)
    tr = RayTransport(cpus, timeout_s=60.0)
    try:
        tr.start(cpu_setups(k + 1))
        tr.exchange(list(range(k)), [warm_request(c) for c in range(k)])
        pids = actor_pids(cpus[:1])
        seconds = 6
        recs = pyspy_record([os.getpid(), pids[0]], seconds, workdir)
        time.sleep(1.0)
        t_end = time.perf_counter() + seconds - 1.5
        xid, n = 0, 0
        while time.perf_counter() < t_end:
            xid += 1
            tr.exchange(list(range(k)), shootdown_requests(xid, k, k))
            n += 1
        _summarise(res, "exchange k=%d" % k, f"{n} exchanges of a shootdown to {k} CPU actors, sampled at 250 Hz; "
                   "self = samples in that function, incl. = samples with it on the stack.", recs,
                   {os.getpid(): "caller (driver) process", pids[0]: "CPU actor cpu0"})
    finally:
        kill_actors(cpus)


def _profile_tlb(res: Results, workdir: Path, working_sets: list) -> None:
    """CpuWorker.handle (what a CPU actor runs per quantum: decode, run_quantum, encode), in this process."""
    from smpsim.runtime.wire import encode
    from smpsim.runtime.ray_actors import CpuWorker
    for ws in working_sets:
        worker = CpuWorker(0)
        worker.setup(encode(cpu_setups(1)[0]))
        recs = pyspy_record([os.getpid()], 5, workdir)
        time.sleep(0.7)
        t_end = time.perf_counter() + 4
        while time.perf_counter() < t_end:
            run_quanta(worker.handle, 0, ws, res.sizes.accesses, 20, wire=True)
        _summarise(res, f"TLB quanta, {ws}-page working set",
                   f"`CpuWorker.handle` on msgpack quanta of {res.sizes.accesses:,} accesses over {ws} pages "
                   "(decode, SimCpu.run_quantum, encode, as in a CPU actor), run in this process and sampled by "
                   "py-spy at 250 Hz; only the samples inside `CpuWorker.handle` (not the benchmark's own "
                   "request building) are counted.", recs, {os.getpid(): "CpuWorker.handle"},
                   within="handle (smpsim/runtime/ray_actors.py")


def _profile_quick16(res: Results) -> None:
    """Where a Ray run_point's wall time goes at 16 CPUs: actor start-up against simulation (3a's figures)."""
    sc = res.data.get("scaling", {}).get(16)
    if sc is None:
        return
    wall, _, first, epochs = sc
    rows = [["create 16 CPU actors + the VM actor, set up, first step (8 epochs)", f"{first:.2f}",
             f"{100 * first / wall:.0f}%"],
            [f"the remaining {max(0, epochs - 8)} epochs, result, kill", f"{wall - first:.2f}",
             f"{100 * (wall - first) / wall:.0f}%"]]
    res.profiles.append(("16-CPU exit_storm on Ray: one policy's run_point (from 3a)",
                         "The quick config runs 4 policies, each a run_point with its own 17 actors.",
                         ["phase", "s", "share"], rows))


# --- the report -------------------------------------------------------------------------------------------------------
def render(res: Results, info: dict, argv: list, started: float) -> str:
    sz = res.sizes
    lines = [f"## {info['date']} — {sz.mode} run", "",
             f"- machine: {info['model']}, {info['nproc']} CPUs (nproc), {info['memory']} memory",
             f"- Ray {info['ray']}, Python {info['python']}, smpsim at git {info['git']}",
             f"- command: `{' '.join(['scripts/bench.py', *argv])}`",
             f"- load average before / after: {info['load']} / {loadavg()}; "
             f"benchmark wall time {time.perf_counter() - started:.0f} s", ""]
    lines += [f"- note: {n}" for n in res.notes]
    if res.notes:
        lines.append("")
    lines.append(targets_table(res))
    for title, note, header, rows in res.sections:
        lines.append(md_table(header, rows, title=title, note=note))
    if res.profiles:
        lines += ["### Profiles of missed targets (py-spy)", ""]
        for title, note, header, rows in res.profiles:
            lines.append(md_table(header, rows, title=title, note=note).replace("### ", "#### ", 1))
    return "\n".join(lines).rstrip() + "\n"


def write_report(path: Path, text: str) -> None:
    if not path.exists() or not path.read_text().strip():
        head = ("# Benchmarks\n\n"
                "Measured by `scripts/bench.py` (`smpsim bench`), all figures of a section in one process run; "
                "newest section last. Wall-clock figures depend on the machine and on what else runs on it "
                "(the load average is recorded). Benchmarks are never timed tests.\n\n")
        path.write_text(head + text)
    else:
        with path.open("a") as f:
            f.write("\n" + text)


def connect_local():
    """The project's loopback-only local cluster (or the Ray this process already has)."""
    import ray

    from smpsim.runtime.ray_cluster import ClusterConnection, start_local
    if ray.is_initialized():
        return ClusterConnection(ray.get_runtime_context().gcs_address, started=False, initialised=False)
    return start_local()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smpsim bench", description=(
        "Measure simulator throughput, exchange overhead against bare Ray and scaling with ncpus, "
        "and append the results to BENCHMARKS.md."))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true",
                      help="tiny sizes, seconds; writes nothing unless --out is given")
    size.add_argument("--quick", action="store_true", help="fewer iterations (about half the full run's time)")
    p.add_argument("--out", type=Path, default=None,
                   help="Markdown file to append the results to (default BENCHMARKS.md at the repository root)")
    p.add_argument("--no-write", action="store_true", help="print only, write no file")
    p.add_argument("--no-ray", action="store_true", help="leave out every part that needs Ray")
    p.add_argument("--profile", action="store_true",
                   help="sample the hot paths of missed targets with py-spy and add the summaries")
    return p


def main(argv: list | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    res = Results(SIZES[mode])
    use_ray = not args.no_ray
    started = time.perf_counter()
    info = machine_info()
    log(f"smpsim bench ({mode}): {info['model']}, {info['nproc']} CPUs, {info['memory']}, "
        f"Ray {info['ray']}, Python {info['python']}, load {info['load']}\n")
    conn = None
    ray_backend = None
    with tempfile.TemporaryDirectory(prefix="smpsim-bench-") as tmp:
        tmpdir = Path(tmp)
        try:
            if use_ray:
                conn = connect_local()
                from smpsim.runtime.ray_backend import RayBackend
                ray_backend = RayBackend(timeout_s=120.0)
                bench_exchange(res, max(res.sizes.fanouts) + 1)
            bench_tlb(res, use_ray)
            bench_vm_ops(res)
            bench_epochs(res, ray_backend)
            bench_quick_config(res, use_ray, tmpdir)
            if use_ray:
                bench_scaling(res, ray_backend)
                bench_many_actors(res)
            evaluate_targets(res, use_ray)
            if args.profile:
                profile_missed(res, use_ray, tmpdir)
                for title, note, header, rows in res.profiles:
                    log(md_table(header, rows, title="Profile: " + title, note=note))
        finally:
            if ray_backend is not None:
                ray_backend.close()
            if conn is not None:
                conn.close()
    log(targets_table(res))
    text = render(res, info, argv, started)
    if args.no_write or (args.smoke and args.out is None):
        return 0
    out = args.out if args.out is not None else ROOT / "BENCHMARKS.md"
    write_report(out, text)
    log(f"appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
