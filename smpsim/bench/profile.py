"""`--profile`: where the time goes behind each missed target, sampled with py-spy.

For a missed exchange target: the caller and one CPU actor while exchanges to
the largest fan-out run; for a missed TLB target: `CpuWorker.handle` (what a CPU
actor runs per quantum) in this process, since py-spy sees a process it can
attach to; for the 16-CPU wall-time target: a breakdown from section 3a (its
time goes to starting actor processes, which sampling cannot see). Each profile
is a report `Section`; without py-spy a note says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.report import Section
from smpsim.bench.scaling import ScalingResult
from smpsim.bench.sizes import Sizes
from smpsim.bench.targets import QUICK_RAY_NCPUS, TargetKind, TargetResult, Verdict
from smpsim.bench.tlb import quanta_spec
from smpsim.bench.workloads import cpu_setups, shootdown_requests, warm_request

SAMPLE_HZ = 250
OWN_CODE = ("smpsim/protocol.py", "smpsim/runtime/wire.py", "smpsim/cpus/")
PROFILE_HEADERS = ["function (by self time)", "self", "incl."]


@dataclass
class Profiles:
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pyspy_available() -> str | None:
    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


def pyspy_record(pids: list[int], seconds: float, workdir: Path) -> list:
    """Start py-spy on each pid for `seconds` (raw collapsed stacks); returns (pid, process, path)."""
    exe = pyspy_available()
    out = []
    for pid in pids:
        path = workdir / f"pyspy-{pid}-{time.monotonic_ns()}.txt"
        p = subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                              "--rate", str(SAMPLE_HZ), "--format", "raw", "--output", str(path),
                              "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((pid, p, path))
    return out


def short_frame(frame: str) -> str:
    """'run_quantum (smpsim/cpus/cpu.py:92)' -> 'run_quantum (smpsim/cpus/cpu.py)'."""
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    for anchor in ("smpsim", "ray", "site-packages", "lib"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            file = "/".join(parts[i:])
            break
    return f"{name} ({file})" if file else name


def collapse_summary(path: Path, top: int = 8, within: str | None = None) -> tuple[int, list]:
    """(samples, [(function, self %, inclusive %)]) from a py-spy raw (collapsed) file, and a last line for
    smpsim's own code; with `within`, only the stacks through a frame containing that text, from it down."""
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
        frames = [short_frame(f) for f in raw]
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return 0, []
    ranked = sorted(self_n.items(), key=lambda kv: -kv[1])[:top]
    out = [(f, 100 * n / total, 100 * incl.get(f, 0) / total) for f, n in ranked]
    out.append(("(any smpsim message or CPU-model code on the stack)", None, 100 * own / total))
    return total, out


def _summarise(title: str, note: str, recs: list, labels: dict, within: str | None = None) -> list[Section]:
    sections = []
    for pid, p, path in recs:
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
        total, top = collapse_summary(path, within=within)
        rows = [[f, Figure(s, 1, "%"), Figure(i, 1, "%")] for f, s, i in top]
        sections.append(Section(Table(PROFILE_HEADERS, rows,
                                      title=f"{title}: {labels.get(pid, pid)} ({total} samples)"), note))
    return sections


def _profile_exchange(sizes: Sizes, workdir: Path) -> list[Section]:
    from smpsim.runtime.probes import CpuActors
    k = max(sizes.fanouts)
    with CpuActors(k + 1, timeout_s=60.0) as cpus:
        cpus.setup(cpu_setups(k + 1))
        cpus.exchange(list(range(k)), [warm_request(c) for c in range(k)])
        actor_pid = cpus.pids([0])[0]
        seconds = 6
        recs = pyspy_record([os.getpid(), actor_pid], seconds, workdir)
        time.sleep(1.0)                 # let py-spy attach before the measured loop starts
        t_end = time.perf_counter() + seconds - 1.5
        xid = n = 0
        while time.perf_counter() < t_end:
            xid += 1
            cpus.exchange(list(range(k)), shootdown_requests(xid, k, k))
            n += 1
        return _summarise(f"exchange k={k}", f"{n} exchanges of a shootdown to {k} CPU actors, sampled at "
                          f"{SAMPLE_HZ} Hz; self = samples in that function, incl. = samples with it on the stack.",
                          recs, {os.getpid(): "caller (driver) process", actor_pid: "CPU actor cpu0"})


def _profile_tlb(sizes: Sizes, workdir: Path, working_sets: list[int]) -> list[Section]:
    from smpsim.runtime.probes import CPU_WORKER_HANDLE_FRAME, local_cpu_worker, run_quanta
    sections = []
    for ws in working_sets:
        worker = local_cpu_worker(cpu_setups(1)[0])
        spec = replace(quanta_spec(sizes, ws), quanta=20)     # short calls: the sampling window ends on time
        recs = pyspy_record([os.getpid()], 5, workdir)
        time.sleep(0.7)
        t_end = time.perf_counter() + 4
        while time.perf_counter() < t_end:
            run_quanta(worker.handle, 0, spec, wire=True)
        sections += _summarise(
            f"TLB quanta, {ws}-page working set",
            f"`CpuWorker.handle` on msgpack quanta of {sizes.accesses:,} accesses over {ws} pages "
            f"(decode, SimCpu.run_quantum, encode, as in a CPU actor), run in this process and sampled by "
            f"py-spy at {SAMPLE_HZ} Hz; only the samples inside `CpuWorker.handle` (not the benchmark's own "
            "request building) are counted.", recs, {os.getpid(): "CpuWorker.handle"},
            within=CPU_WORKER_HANDLE_FRAME)
    return sections


def _profile_quick(scaling: ScalingResult | None) -> list[Section]:
    """Where a Ray run_point's wall time goes at 16 CPUs: actor start-up against simulation (3a's figures)."""
    row = scaling.row(QUICK_RAY_NCPUS) if scaling is not None else None
    if row is None or row.first_step_s is None:
        return []
    wall, first = row.wall_s, row.first_step_s
    rows = [[f"create {row.ncpus} CPU actors + the VM actor, set up, first step (8 epochs)", Figure(first, 2),
             Figure(100 * first / wall, unit="%")],
            [f"the remaining {max(0, row.epochs - 8)} epochs, result, kill", Figure(wall - first, 2),
             Figure(100 * (wall - first) / wall, unit="%")]]
    return [Section(Table(["phase", "s", "share"], rows,
                          title=f"{row.ncpus}-CPU exit_storm on Ray: one policy's run_point (from 3a)"),
                    "The quick config runs 4 policies, each a run_point with its own actors.")]


def profile_missed(results: list[TargetResult], sizes: Sizes, use_ray: bool, workdir: Path,
                   scaling: ScalingResult | None) -> Profiles:
    """Sample the hot paths behind each missed target."""
    out = Profiles()
    missed = [r.target for r in results if r.verdict is Verdict.MISS]
    if not missed:
        return out
    if pyspy_available() is None:
        out.notes.append("py-spy not found: missed targets not profiled")
        return out
    kinds = {t.kind for t in missed}
    if TargetKind.EXCHANGE_OVERHEAD in kinds and use_ray:
        out.sections += _profile_exchange(sizes, workdir)
    tlb_missed = [t.at for t in missed if t.kind is TargetKind.ACTOR_LOOKUPS]
    if tlb_missed:
        out.sections += _profile_tlb(sizes, workdir, tlb_missed)
    if TargetKind.QUICK_RAY_WALL in kinds and use_ray:
        out.sections += _profile_quick(scaling)
    return out
