"""`smpsim trace info`: what a trace holds, and what the real kernel did while it was recorded.

The real kernel's flushes are `tlb:tlb_flush` events with pages != 0 (switch_mm and the flush
callback also trace 0 pages when they flush nothing), in the categories docs/trace.md names:

- initiated: "local MM shootdown" by a task of the command's tree;
- remote requested: "remote IPI send" by a task of the tree (traced in native_flush_tlb_multi
  whenever another CPU is in mm_cpumask, before the lazy-CPU filter of 6.13+: it may reach none);
- remote queued: csd_queue_cpu with func flush_tlb_func by a task of the tree, one per target;
- received: "remote shootdown" on any CPU (the CPU may be idle or running another task, lazily
  holding the tree's mm; a trace cannot tell which mm a flush was for);
- task switch: "flush on task switch" on any CPU;
- kernel-internal: "local shootdown" and "remote wrong CPU", counted apart.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from smpsim.trace import events as ev
from smpsim.trace.format import TraceReader

CATEGORIES = ("initiated", "remote_requested", "remote_queued", "received", "task_switch", "kernel_internal")
_REASON_CATEGORY = {3: "initiated", 4: "remote_requested", 1: "received", 0: "task_switch",
                    2: "kernel_internal", 5: "kernel_internal"}
_TREE_ONLY = {"initiated", "remote_requested"}


def fault_type(error_code: int) -> str:
    if error_code & 0x10:
        return "fetch"
    if error_code & 0x2:
        return "write on present" if error_code & 0x1 else "write"
    return "read on present" if error_code & 0x1 else "read"


def _processes(tasks: list) -> list[dict]:
    groups: dict[int, dict] = {}
    for tid, tgid, comm, in_tree in tasks:
        if in_tree:
            g = groups.setdefault(tgid, {"pid": tgid, "comm": comm, "threads": 0})
            g["threads"] += 1
            if tid == tgid:
                g["comm"] = comm
    return sorted(groups.values(), key=lambda g: g["pid"])


def _real(kind: int, tid_in_tree: bool, args: list, real: Counter, reasons: Counter) -> None:
    if kind == ev.FLUSH:
        pages, reason = args[0], args[1]
        reasons[f"{ev.FLUSH_REASONS.get(reason, f'reason {reason}')}{'' if pages else ' (0 pages: no flush)'}"] += 1
        category = _REASON_CATEGORY.get(reason)
        if pages and category and (tid_in_tree or category not in _TREE_ONLY):
            real[category] += 1
    elif kind == ev.CSD and args[1] and tid_in_tree:
        real["remote_queued"] += 1


def trace_info(path: Path | str) -> dict:
    """Counts of one trace, read as a stream."""
    with TraceReader(path) as r:
        h = r.header
        tree = {tid for tid, _, _, in_tree in h["tasks"] if in_tree}
        kinds, other, real, reasons, faults, calls, ipis = (Counter() for _ in range(7))
        cpus, n, last = set(), 0, h["start_ns"]
        for kind, t, cpu, tid, *args in r.events():
            n, last = n + 1, t
            cpus.add(cpu)
            in_tree = tid in tree
            (kinds if in_tree else other)[ev.KINDS[kind]] += 1
            _real(kind, in_tree, args, real, reasons)
            if kind == ev.FAULT and in_tree:
                faults[fault_type(args[1])] += 1
            elif kind == ev.SYS_ENTER and in_tree:
                calls[ev.SYSCALLS[args[0]]] += 1
            elif kind == ev.IPI and in_tree:
                ipis[args[1]] += 1
        summary = r.summary or {}
    names = summary.get("callsites", [])
    ipi_callsites = {(names[i] if isinstance(names, list) and 0 <= i < len(names) else f"#{i}"): n
                     for i, n in ipis.items()}
    return {"path": str(path), "machine": h.get("machine", {}), "source": h.get("source", {}),
            "tree": h.get("tree"), "root_tgid": h.get("root_tgid"), "command": h.get("command"),
            "exit_status": h.get("exit_status"),
            "missing_tracepoints": h.get("missing_tracepoints", []),
            "recording": h.get("recording", {"scope": "system"}),
            "processes": _processes(h["tasks"]), "threads": len(tree), "cpus": sorted(cpus),
            "duration_s": (last - h["start_ns"]) / 1e9, "events": n,
            "events_by_kind": dict(kinds), "other_tasks_events_by_kind": dict(other),
            "faults_by_type": dict(faults), "syscalls": dict(calls),
            "real": {c: real[c] for c in CATEGORIES}, "flushes_by_reason": dict(reasons),
            "ipis_by_callsite": ipi_callsites,
            "warnings": summary.get("warnings", {})}


def _table(title: str, counts: dict) -> list[str]:
    if not counts:
        return [f"{title}: none"]
    width = max(len(k) for k in counts)
    return [f"{title}:"] + [f"  {k:<{width}}  {v:>9,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]


def _recording(rec: dict) -> list[str]:
    """A per-task recording's line, and what its replay then infers (none for every CPU)."""
    if rec.get("scope") != "task":
        return []
    return ["recording: the command's tasks only, not every CPU; inferred: " + "; ".join(rec.get("inferred", []))]


def format_info(info: dict) -> str:
    m = info["machine"]
    lines = [f"trace {info['path']}",
             f"machine: {m.get('cpu_model', 'unknown CPU')}, {m.get('online_cpus', m.get('cpus_seen'))} CPUs, "
             f"Linux {m.get('kernel_release', '?')}"
             + (", virtual machine" if m.get("virtual_machine") else ""),
             f"command: {' '.join(info['command'])} (exit status {info['exit_status']})" if info["command"] else
             f"source: {info['source'].get('input', '?')}",
             f"process tree: {info['tree']}",
             *_recording(info["recording"]),
             f"{len(info['processes'])} process(es), {info['threads']} thread(s), CPUs "
             f"{','.join(map(str, info['cpus']))}, {info['duration_s']:.3f} s, {info['events']:,} events"]
    lines += [f"  pid {p['pid']:>7}  {p['comm']:<16} {p['threads']} thread(s)" for p in info["processes"]]
    if info["missing_tracepoints"]:
        lines.append("missing tracepoints (their counts are 'no data'): " + ", ".join(info["missing_tracepoints"]))
    lines += _table("events of the command's tasks, by kind", info["events_by_kind"])
    lines += _table("events of other tasks (CPU state and ground truth only)", info["other_tasks_events_by_kind"])
    lines += _table("faults by type", info["faults_by_type"])
    lines += _table("system calls", info["syscalls"])
    lines += _table("the real kernel's flushes (pages != 0), by category", info["real"])
    lines += _table("tlb:tlb_flush events by reason", info["flushes_by_reason"])
    lines += _table("IPIs the command's tasks sent, by sender (ipi:ipi_send_*; the handler they name is "
                    "the generic call-function one, so which carried a flush is what csd_queue_cpu says)",
                    info["ipis_by_callsite"])
    lines += _table("warnings (counted; \"skipped\" events are not in the trace)", info["warnings"])
    return "\n".join(lines)
