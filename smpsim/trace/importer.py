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
from smpsim.trace import events as ev
from smpsim.trace.format import TraceWriter
from smpsim.trace.perf_text import PERF_SCRIPT_FIELDS, parse_line, refuse_without_ids
from smpsim.trace.source import kind_of, open_text, perf_header, perf_script

PERF_EXEC = "perf-exec"
NOT_COMMAND = {"perf"}
MACHINE_WIDE = (ev.SWITCH, ev.FLUSH, ev.CSD, ev.IPI)
MAX_VA = 1 << 48


@dataclass
class Scan:
    """What the first pass learns."""
    tasks: dict = field(default_factory=dict)      # tid -> [tgid, comm]
    forks: list = field(default_factory=list)      # (parent tid, child tid), in time order
    perf_exec: int | None = None                   # tgid of the task perf record started
    start_ns: int | None = None
    end_ns: int = 0
    cpus: int = 0
    lines: int = 0
    seen: Counter = field(default_factory=Counter)  # event name -> lines

    def tree(self, root: int | None) -> tuple[set, str]:
        """The thread-group ids of the command's process tree, and how it was chosen."""
        if root is None and self.perf_exec is not None:
            root, how = self.perf_exec, f"the task perf record started (pid {self.perf_exec}) and its descendants"
        elif root is not None:
            how = f"pid {root} and its descendants"
        else:
            groups = {tgid for tgid, comm in self.tasks.values() if tgid > 0 and comm not in NOT_COMMAND}
            return groups, "every task but the idle task and perf (no root named, none started by perf record)"
        groups = {root}
        for parent, child in self.forks:
            if self.tasks.get(parent, [parent])[0] in groups:
                groups.add(self.tasks.get(child, [child])[0])
        return groups, how


def _scan(path: Path) -> Scan:
    s = Scan()
    with open_text(path) as f:
        for line in f:
            p = parse_line(line)
            if p is None:
                refuse_without_ids(line, str(path))
                continue
            s.lines += 1
            s.seen[p.event] += 1
            task = s.tasks.setdefault(p.tid, [p.tgid, p.comm])
            if task[1] == PERF_EXEC and p.comm != PERF_EXEC:
                task[1] = p.comm
            if p.comm == PERF_EXEC and s.perf_exec is None:
                s.perf_exec = p.tgid
            if s.start_ns is None:
                s.start_ns = p.time_ns
            s.end_ns = max(s.end_ns, p.time_ns)
            s.cpus = max(s.cpus, p.cpu + 1)
            if p.event == "sched:sched_process_fork":
                child = ev.decode(p.event, p.trace)
                if child is not None:
                    s.forks.append((p.tid, child[1]))
    if not s.lines:
        raise TraceError(f"{path} holds no perf script event lines. Produce them with "
                         f"`perf script -F {PERF_SCRIPT_FIELDS} -i perf.data > trace.txt`.")
    return s


class _Pass:
    """The second pass: decode, filter and write."""

    def __init__(self, writer: TraceWriter, groups: set, tasks: dict):
        self.w, self.groups, self.tasks = writer, groups, tasks
        self.warnings = Counter()
        self.counts = Counter()
        self.last_clone: dict[int, int] = {}
        self.last_t = 0

    def line(self, p) -> None:
        try:
            decoded = ev.decode(p.event, p.trace)
        except (ev.Malformed, ValueError):
            self.warnings[f"malformed {p.event}"] += 1
            return
        if decoded is None:
            self.warnings[f"unknown event {p.event}"] += 1
            return
        kind, *args = decoded
        if self.tasks[p.tid][0] not in self.groups and kind not in MACHINE_WIDE:
            return
        if kind == ev.SYS_ENTER and ev.SYSCALLS[args[0]] in ("clone", "clone3", "vfork"):
            self.last_clone[p.tid] = ev.clone_shares_mm(ev.SYSCALLS[args[0]], tuple(args[1:]))
        elif kind == ev.FORK:
            args = [args[0], self.last_clone.pop(p.tid, -1)]
        elif kind == ev.FAULT and not 0 <= args[0] < MAX_VA:
            self.warnings["fault beyond the 48-bit user address space"] += 1
            return
        t = p.time_ns
        if t < self.last_t:
            self.warnings["out-of-order time (kept at the previous event's)"] += 1
            t = self.last_t
        self.last_t = t
        self.w.write((kind, t, p.cpu, p.tid, *args))
        self.counts[ev.KINDS[kind]] += 1


def _header(scan: Scan, groups: set, how: str, machine: dict, source: dict) -> dict:
    tasks = [[tid, tgid, comm, int(tgid in groups)] for tid, (tgid, comm) in sorted(scan.tasks.items())]
    return {"machine": {"cpus_seen": scan.cpus, **machine}, "source": source, "tree": how,
            "root_tgid": min(groups) if len(groups) == 1 else None, "tasks": tasks,
            "start_ns": scan.start_ns, "end_ns": scan.end_ns,
            "tracepoints_seen": sorted(scan.seen)}


def import_text(text: Path, out: Path, root: int | None = None, machine: dict | None = None,
                source: dict | None = None, extra: dict | None = None) -> dict:
    """Import `perf script` text (plain/gzip/zstd) into the trace `out`; returns the header."""
    scan = _scan(text)
    groups, how = scan.tree(root)
    if root is not None and not any(tgid == root for tgid, _ in scan.tasks.values()):
        raise TraceError(f"pid {root} does not appear in {text}: no event of that process was recorded. "
                         f"`smpsim trace info` of an import without --pid lists the processes.")
    header = _header(scan, groups, how, machine or {}, source or {"input": str(text)})
    header.update(extra or {})
    writer = TraceWriter(out, header)
    try:
        work = _Pass(writer, groups, scan.tasks)
        with open_text(text) as f:
            for line in f:
                p = parse_line(line)
                if p is None:
                    if line.strip() and not line.lstrip().startswith("#"):
                        work.warnings["lines that are not events"] += 1
                    continue
                work.line(p)
        writer.close({"counts": dict(work.counts), "warnings": dict(work.warnings)})
    except BaseException:
        writer.abort()
        raise
    return {**header, "events": writer.events, "counts": dict(work.counts), "warnings": dict(work.warnings)}


def import_any(path: Path, out: Path, root: int | None = None, extra: dict | None = None,
               machine: dict | None = None, source: dict | None = None) -> dict:
    """Import a perf.data file (through `perf script`) or perf script text; `machine` adds to what
    the perf.data header says of the recording machine, `source` replaces the header's record of
    the input (by default its path and kind)."""
    path = Path(path)
    kind = kind_of(path)
    source = source or {"input": str(path), "kind": kind}
    if kind != "perf.data":
        return import_text(path, out, root, machine, source, extra)
    machine = {**perf_header(path), **(machine or {})}
    with tempfile.TemporaryDirectory(prefix="smpsim-import-") as tmp:
        text = Path(tmp) / "perf-script.txt"
        perf_script(path, text)
        return import_text(text, out, root, machine, source, extra)
