"""`smpsim trace record`: run a command under `perf record` with the tracepoints smpsim
reads, then import what was recorded.

System-wide recording (`-a`, scope "system") sees every CPU's switches and every flush, which
needs root or `kernel.perf_event_paranoid` <= -1 and a readable tracefs. Where that is not
permitted (scope "auto"), or when asked (scope "task"), perf records the command's tasks only
(no `-a`; children inherit the events). The trace's header then says so (`recording`): the
other tasks' switches are seen only as the command's tasks leave a CPU, a switch into a command
task is inferred at its first event on the CPU (smpsim.trace.importer), a flush the command's
mm received while another task ran is not seen, and a user without the privilege gets only the
system-call tracepoints (the kernel opens no other tracepoint's raw data to an unprivileged
per-task event: kernel/trace/trace_event_perf.c `perf_trace_event_perm`, TRACE_EVENT_FL_CAP_ANY).
Tracepoints this kernel lacks (tlb:tlb_flush and exceptions:page_fault_user are x86-only), and
those a per-task recording could not take, are left out and named in the trace's header
(`missing_tracepoints`): its ground truth or its faults then say "no data".
The command's exit status is kept in the header; a command that fails still leaves its trace.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from smpsim.calibrate.machine import cpu_flags, describe, usable_cpus
from smpsim.errors import TraceError
from smpsim.trace.events import TRACEPOINTS
from smpsim.trace.importer import check_out, import_any

TRACEFS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
PARANOID = Path("/proc/sys/kernel/perf_event_paranoid")
# what perf 6.x prints on every run of a kernel whose ipi_send_cpumask format it cannot parse
PERF_NOISE = re.compile(r"libtraceevent: No such file or directory|\[ipi:ipi_send_cpumask\] function __get_cpumask")


def machine() -> dict:
    """The recording machine, with the TLB features a replay may care about."""
    m = {k: v for k, v in describe(usable_cpus(), "").items() if k not in ("compiler", "cpus_used")}
    flags = cpu_flags()
    m.update(pcid="pcid" in flags, invlpgb="invlpgb" in flags)
    return m


def _tracefs() -> Path | None:
    return next((p for p in TRACEFS if (p / "events").is_dir()), None)


def _paranoid() -> int | None:
    try:
        return int(PARANOID.read_text())
    except (OSError, ValueError):
        return None


def system_wide_permitted() -> bool:
    """Whether this user may record every CPU's tracepoints (root, or perf_event_paranoid <= -1)."""
    paranoid = _paranoid()
    return os.geteuid() == 0 or (paranoid is not None and paranoid <= -1)


def _check_permitted() -> None:
    paranoid = _paranoid()
    if not system_wide_permitted():
        raise TraceError(
            f"recording every CPU's scheduling and TLB tracepoints is not permitted for this user "
            f"(kernel.perf_event_paranoid = {paranoid}). Run as root, or `sysctl "
            f"kernel.perf_event_paranoid=-1` and make tracefs readable (mount -o remount,mode=755 "
            f"/sys/kernel/tracing).")
    _check_tracefs()


def _check_tracefs() -> None:
    if _tracefs() is None:
        raise TraceError("tracefs is not mounted or not readable, so perf cannot find the tracepoints: "
                         "`mount -t tracefs nodev /sys/kernel/tracing` as root.")


def available(tracepoints=TRACEPOINTS) -> tuple[list[str], list[str]]:
    """(present, missing) among `tracepoints` on this kernel."""
    root = _tracefs()
    present, missing = [], []
    for tp in tracepoints:
        subsystem, name = tp.split(":")
        (present if root and (root / "events" / subsystem / name).is_dir() else missing).append(tp)
    return present, missing


def _perf_record(argv: list[str]) -> int:
    """Run perf record, passing its (and the command's) stderr through without perf's known
    noise; the command's exit status as a shell reports it (128 + N when a signal N killed it)."""
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
    for raw in proc.stderr:
        line = raw.decode(errors="replace")
        if not PERF_NOISE.search(line):
            sys.stderr.write(line)
    code = proc.wait()
    return 128 - code if code < 0 else code


def describe_status(status: int) -> str:
    if status > 128:
        try:
            return f"was killed by {signal.Signals(status - 128).name} (status {status})"
        except ValueError:
            pass
    return f"exited with status {status}"


SCOPES = ("auto", "system", "task")
PER_TASK_INFERRED = ("other tasks' switches are seen only where a task of the command leaves a CPU",
                     "a switch into a task of the command is inferred at its first event on a CPU",
                     "flushes the command's mm received while another task ran are not seen")


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise TraceError(f"unknown recording scope {scope!r}: give one of {', '.join(SCOPES)}.")
    if scope == "auto":
        scope = "system" if system_wide_permitted() else "task"
    if scope == "system":
        _check_permitted()
    else:
        _check_tracefs()
    return scope


def _check_readable(tracepoints: list[str]) -> None:
    """perf reads each tracepoint's format in tracefs: refuse, with the fix, where this user cannot."""
    root = _tracefs()
    unreadable = [tp for tp in tracepoints if not os.access(root / "events" / tp.replace(":", "/") / "format", os.R_OK)]
    if unreadable:
        raise TraceError(f"this user cannot read {len(unreadable)} of the tracepoints in {root} ({', '.join(unreadable[:3])}"
                         f"{', ...' if len(unreadable) > 3 else ''}), so perf cannot record them: record as root, or as "
                         f"root make them readable (`chmod -R o+rX {root}`; on kernels that mount tracefs with mode "
                         f"700 this lasts until the next boot).")


def _per_task_allowed(present: list[str]) -> tuple[list[str], list[str]]:
    """(recordable, left out) of `present` for a per-task recording by this user: without the
    privilege, only the system-call tracepoints (TRACE_EVENT_FL_CAP_ANY)."""
    if system_wide_permitted():
        return present, []
    return [tp for tp in present if tp.startswith("syscalls:")], [tp for tp in present if not tp.startswith("syscalls:")]


def record(command: list[str], out: Path, scope: str = "auto") -> dict:
    """Record `command` (system-wide, or its tasks only: `scope`) and import it into `out`;
    returns the trace header. The command's process tree is the task perf starts
    (smpsim.trace.importer)."""
    if not command:
        raise TraceError("no command to record: `smpsim trace record --out t.smpt -- CMD [ARGS...]`.")
    perf = shutil.which("perf")
    if perf is None:
        raise TraceError("`perf` is not installed, and recording a program needs it: install linux-tools "
                         "(Debian/Ubuntu: linux-perf or linux-tools-$(uname -r); Fedora: perf).")
    if shutil.which(command[0]) is None:
        raise TraceError(f"command not found: {command[0]!r}. Give a program on PATH or its path.")
    check_out(out)
    scope = _scope(scope)
    present, missing = available()
    left_out = []
    if scope == "task":
        present, left_out = _per_task_allowed(present)
    if not present:
        raise TraceError("none of the tracepoints smpsim records exists on this kernel.")
    _check_readable(present)
    wide = ["-a"] if scope == "system" else []
    with tempfile.TemporaryDirectory(prefix="smpsim-record-") as tmp:
        data = Path(tmp) / "perf.data"
        events = [a for tp in present for a in ("-e", tp)]
        status = _perf_record([perf, "record", *wide, "-q", "-o", str(data), *events, "--", *command])
        if not data.exists() or data.stat().st_size == 0:
            raise TraceError(f"perf record wrote nothing (exit {status}); see its messages above.")
        recording = {"scope": scope}
        if scope == "task":
            recording.update(inferred=list(PER_TASK_INFERRED), left_out=left_out)
        extra = {"command": list(command), "exit_status": status, "missing_tracepoints": missing + left_out,
                 "recording": recording}
        how = "perf record -a" if scope == "system" else "perf record, the command's tasks only"
        return import_any(data, out, extra=extra, machine=machine(), infer_switches=scope == "task",
                          source={"input": f"smpsim trace record ({how})", "kind": "perf.data"})
