"""`smpsim trace import`: `perf script` text (or a perf.data file) into an smpsim trace.

Two passes over the text. The first learns the tasks (thread id -> thread-group id and name,
from perf's `pid/tid` field), the forks and the time span, and picks the command's process
tree: the given root, else the task `perf record -- CMD` starts (named `perf-exec` until it
execs), else every task but the idle task and perf itself. The second writes the events in time
order: every event of the tree's tasks; of other tasks only what shapes the CPUs and the ground
truth (sched_switch, tlb_flush, csd_queue_cpu, ipi_send_*). Lines that are not events, events
smpsim does not read, malformed events and out-of-order times are counted in the header's
`warnings`, never fatal; a text without pid/tid fields is refused (threads cannot be told from
processes without them).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from smpsim.errors import TraceError
from smpsim.rundir.safeio import output_problem
from smpsim.trace import events as ev
from smpsim.trace.format import TraceWriter
from smpsim.trace.perf_text import PERF_SCRIPT_FIELDS, classify, refuse_without_ids
from smpsim.trace.source import kind_of, open_text, perf_header, perf_script

PERF_EXEC = "perf-exec"
NOT_COMMAND = {"perf"}
MACHINE_WIDE = (ev.SWITCH, ev.FLUSH, ev.CSD, ev.IPI)
MAX_VA = 1 << 48
CLONES = ("clone", "clone3", "vfork", "fork")


@dataclass
class Scan:
    """What the first pass learns."""
    tasks: dict = field(default_factory=dict)      # tid -> [tgid, comm]
    forks: list = field(default_factory=list)      # (parent tid, child tid), in time order
    perf_exec: int | None = None                   # tgid of the task perf record started
    no_ids: str | None = None                      # an event line without pid/tid, if any
    start_ns: int | None = None
    end_ns: int = 0
    cpus: int = 0
    lines: int = 0
    seen: Counter = field(default_factory=Counter)  # event name -> lines

    def tree(self, root: int | None) -> tuple[set, int | None, str]:
        """The thread-group ids of the command's process tree, its root, and how it was chosen."""
        if root is None and self.perf_exec is not None:
            root, how = self.perf_exec, f"the task perf record started (pid {self.perf_exec}) and its descendants"
        elif root is not None:
            how = f"pid {root} and its descendants"
        else:
            groups = {tgid for tgid, comm in self.tasks.values() if tgid > 0 and comm not in NOT_COMMAND}
            return groups, None, "every task but the idle task and perf (no root named, none started by perf record)"
        groups = {root}
        for parent, child in self.forks:
            if self.tasks.get(parent, [parent])[0] in groups:
                groups.add(self.tasks.get(child, [child])[0])
        return groups, root, how


def task_of(p) -> int | None:
    """The thread an event belongs to: perf names an exited task `:-1` with tid -1 (and at times
    tgid -1): such an event is given to its process's main thread, or dropped when perf could
    not name the process either."""
    if p.tid >= 0:
        return p.tid
    return p.tgid if p.tgid > 0 else None


def _classified(path: Path):
    """Each line of `path` as (kind, PerfLine or None, line): smpsim.trace.perf_text.classify."""
    with open_text(path) as f:
        for line in f:
            yield *classify(line), line


def _scan(path: Path) -> Scan:
    s = Scan()
    for kind, p, line in _classified(path):
        if kind == "no_ids" and s.no_ids is None:
            s.no_ids = line
        if kind != "event":
            continue
        s.lines += 1
        s.seen[p.event] += 1
        tid = task_of(p)
        if tid is None:
            continue
        task = s.tasks.setdefault(tid, [p.tgid, p.comm])
        if p.event == "sched:sched_process_exec" or task[1] == PERF_EXEC:
            task[1] = p.comm                          # the program's name once it has exec'd
        if p.comm == PERF_EXEC and s.perf_exec is None:
            s.perf_exec = p.tgid
        if s.start_ns is None:
            s.start_ns = p.time_ns
        s.end_ns = max(s.end_ns, p.time_ns)
        s.cpus = max(s.cpus, p.cpu + 1)
        if p.event == "sched:sched_process_fork":
            try:
                child = ev.decode(p.event, p.trace)
            except ev.Malformed:
                continue
            s.forks.append((tid, child[1]))
    if not s.lines:
        if s.no_ids is not None:
            raise refuse_without_ids(str(path), s.no_ids)
        raise TraceError(f"{path} holds no perf script event lines. Produce them with "
                         f"`perf script --ns -F {PERF_SCRIPT_FIELDS} -i perf.data > trace.txt`.")
    return s


class _Pass:
    """The second pass: decode, filter and write."""

    def __init__(self, writer: TraceWriter, groups: set, tasks: dict, infer_switches: bool = False):
        self.w, self.groups, self.tasks = writer, groups, tasks
        # a per-task recording has a task's switches out of a CPU (sched_switch fires in the task
        # leaving) but not its switches in: each is inferred at the task's first event on the CPU
        self.infer_switches = infer_switches
        self.running: dict[int, int] = {}             # cpu -> the task last seen running there
        self.warnings = Counter()
        self.counts = Counter()
        self.last_clone: dict[int, int] = {}
        self.last_t = 0
        self.callsites: dict[str, int] = {}           # IPI senders, numbered as first seen

    def line(self, p) -> None:
        tid = task_of(p)
        if tid is None:
            self.warnings["skipped: events of an exited task perf could not name (-1/-1)"] += 1
            return
        try:
            decoded = ev.decode(p.event, p.trace)
        except (ev.Malformed, ValueError):
            self.warnings[f"skipped: malformed {p.event}"] += 1
            return
        if decoded is None:
            self.warnings[f"skipped: unknown event {p.event}"] += 1
            return
        kind, *args = decoded
        if self.tasks[tid][0] not in self.groups and kind not in MACHINE_WIDE:
            return
        if kind == ev.SYS_ENTER and ev.SYSCALLS[args[0]] in CLONES:
            self.last_clone[tid] = ev.clone_shares_mm(ev.SYSCALLS[args[0]], tuple(args[1:]))
        elif kind == ev.FORK:
            args = [args[0], self.last_clone.pop(tid, -1)]
        elif kind == ev.IPI:
            args = [args[0], self.callsites.setdefault(args[1], len(self.callsites))]
        elif kind == ev.FAULT and not 0 <= args[0] < MAX_VA:
            self.warnings["skipped: fault beyond the 48-bit user address space"] += 1
            return
        t = p.time_ns
        if t < self.last_t:
            self.warnings["kept: out-of-order time, given the previous event's"] += 1
            t = self.last_t
        self.last_t = t
        if self.infer_switches:
            self._switch_in(kind, t, p.cpu, tid, args)
        self.w.write((kind, t, p.cpu, tid, *args))
        self.counts[ev.KINDS[kind]] += 1

    def _switch_in(self, kind: int, t: int, cpu: int, tid: int, args: list) -> None:
        if kind == ev.SWITCH:
            self.running[cpu] = args[1]
            return
        if self.running.get(cpu) == tid or self.tasks[tid][0] not in self.groups:
            return
        prev = self.running.get(cpu, 0)
        self.w.write((ev.SWITCH, t, cpu, prev, prev, tid))
        self.running[cpu] = tid
        self.counts["switch"] += 1
        self.warnings["kept: switches into a task inferred from its first event on a CPU (per-task recording)"] += 1


def _header(scan: Scan, groups: set, root: int | None, how: str, machine: dict, source: dict) -> dict:
    tasks = [[tid, tgid, comm, int(tgid in groups)] for tid, (tgid, comm) in sorted(scan.tasks.items())]
    return {"machine": {"cpus_seen": scan.cpus, **machine}, "source": source, "tree": how,
            "root_tgid": root, "tasks": tasks,
            "start_ns": scan.start_ns, "end_ns": scan.end_ns,
            "tracepoints_seen": sorted(scan.seen)}


def _check_root(scan: Scan, root: int | None, text: Path) -> None:
    if root is None or any(tgid == root for tgid, _ in scan.tasks.values()):
        return
    if root in scan.tasks:
        raise TraceError(f"{root} is a thread of process {scan.tasks[root][0]} in {text}, not a process: "
                         f"give --pid {scan.tasks[root][0]}.")
    raise TraceError(f"pid {root} does not appear in {text}: no event of that process was recorded. "
                     f"`smpsim trace info` of an import without --pid lists the processes.")


def check_out(out: Path, inputs: tuple = ()) -> Path:
    """Where a trace goes, checked before anything is read or recorded: a regular file or nothing,
    in a writable directory, and not one of the inputs."""
    path = Path(out).expanduser().resolve()
    why = output_problem(path)
    if why is None and any(Path(i).expanduser().resolve() == path for i in inputs):
        why = "it is the input: importing would replace it"
    if why:
        raise TraceError(f"cannot write the trace to {out}: {why}. Give --out a new file path in a "
                         f"writable directory; nothing was read or recorded.")
    return path


def import_text(text: Path, out: Path, root: int | None = None, machine: dict | None = None,
                source: dict | None = None, extra: dict | None = None, infer_switches: bool = False) -> dict:
    """Import `perf script` text (plain/gzip/zstd) into the trace `out`; returns the header.
    `infer_switches`: the text is a per-task recording (switches into the command's tasks
    are inferred)."""
    scan = _scan(text)
    _check_root(scan, root, text)
    groups, root, how = scan.tree(root)
    header = _header(scan, groups, root, how, machine or {}, source or {"input": str(text)})
    header.update(extra or {})
    writer = TraceWriter(out, header)
    try:
        work = _Pass(writer, groups, scan.tasks, infer_switches)
        for kind, p, line in _classified(text):
            if kind == "event":
                work.line(p)
            elif kind != "other":
                work.warnings[f"skipped: event lines {'without pid/tid' if kind == 'no_ids' else 'with numbers out of range'}"] += 1
            elif line.strip() and not line.lstrip().startswith("#"):
                work.warnings["skipped: lines that are not events"] += 1
        writer.close({"counts": dict(work.counts), "warnings": dict(work.warnings),
                      "callsites": list(work.callsites)})
    except BaseException:
        writer.abort()
        raise
    return {**header, "events": writer.events, "counts": dict(work.counts), "warnings": dict(work.warnings)}


def import_any(path: Path, out: Path, root: int | None = None, extra: dict | None = None,
               machine: dict | None = None, source: dict | None = None, infer_switches: bool = False) -> dict:
    """Import a perf.data file (through `perf script`) or perf script text; `machine` adds to what
    the perf.data header says of the recording machine, `source` replaces the header's record of
    the input (by default its path and kind)."""
    path = Path(path)
    out = check_out(out, (path,))
    kind = kind_of(path)
    source = source or {"input": str(path), "kind": kind}
    if kind != "perf.data":
        return import_text(path, out, root, machine, source, extra, infer_switches)
    machine = {**perf_header(path), **(machine or {})}
    with tempfile.TemporaryDirectory(prefix="smpsim-import-") as tmp:
        text = Path(tmp) / "perf-script.txt"
        perf_script(path, text)
        return import_text(text, out, root, machine, source, extra, infer_switches)
