"""The events a trace holds, decoded from the tracepoints' text.

Each event is a tuple `(kind, time_ns, cpu, tid, *args)`; `KINDS` names the kinds in the order
of their codes (the trace header repeats it, docs/trace.md documents the arguments):

- FAULT `addr, error_code` (exceptions:page_fault_user; bits 0x1 present, 0x2 write, 0x10 fetch)
- FLUSH `pages, reason` (tlb:tlb_flush; pages -1 = the whole TLB, 0 = nothing flushed)
- CSD `target_cpu, tlb` (csd:csd_queue_cpu; tlb 1 when func is flush_tlb_func)
- IPI `target_cpu, callsite` (ipi:ipi_send_cpu; target -1 for ipi:ipi_send_cpumask, whose mask
  perf cannot print; `callsite` the sender's function, an index into the end mark's `callsites`
  in the file, its name as decoded here)
- SWITCH `prev_tid, next_tid` (sched:sched_switch on `cpu`)
- FORK `child_tid, shares_mm` (sched:sched_process_fork by the parent; shares_mm 1 when the
  parent's last clone/vfork asked for CLONE_VM, 0 when it did not, -1 when unknown: clone3)
- EXEC (sched:sched_process_exec), EXIT `group_dead` (sched:sched_process_exit; -1 unknown)
- SYS_ENTER `syscall, args...`, SYS_EXIT `syscall, ret` (syscalls:sys_enter_* / sys_exit_*)
"""

from __future__ import annotations

import re

KINDS = ("fault", "flush", "csd", "ipi", "switch", "fork", "exec", "exit", "sys_enter", "sys_exit")
FAULT, FLUSH, CSD, IPI, SWITCH, FORK, EXEC, EXIT, SYS_ENTER, SYS_EXIT = range(len(KINDS))

SYSCALLS = ("mmap", "munmap", "mprotect", "madvise", "brk", "mremap", "clone", "clone3", "vfork",
            "execve", "exit_group", "fork")
SYSCALL_CODE = {name: i for i, name in enumerate(SYSCALLS)}
TRACED_EXITS = ("mmap", "munmap", "mprotect", "madvise", "brk", "mremap")
TRACED_ENTRIES = SYSCALLS

TRACEPOINTS = (
    "sched:sched_switch", "sched:sched_process_fork", "sched:sched_process_exec",
    "sched:sched_process_exit", "exceptions:page_fault_user", "tlb:tlb_flush", "csd:csd_queue_cpu",
    "ipi:ipi_send_cpu", "ipi:ipi_send_cpumask",
    *(f"syscalls:sys_enter_{s}" for s in TRACED_ENTRIES),
    *(f"syscalls:sys_exit_{s}" for s in TRACED_EXITS),
)
# without these a trace has no ground truth / no faults to replay (both x86-only)
GROUND_TRUTH = "tlb:tlb_flush"
FAULTS = "exceptions:page_fault_user"

# tlb:tlb_flush reasons (include/linux/mm_types.h, enum tlb_flush_reason)
FLUSH_REASONS = {0: "flush on task switch", 1: "remote shootdown", 2: "local shootdown",
                 3: "local MM shootdown", 4: "remote IPI send", 5: "remote wrong CPU"}
CLONE_VM, CLONE_THREAD = 0x100, 0x10000
_MASK64 = (1 << 64) - 1

_KV = re.compile(r"([A-Za-z_]\w*)[:=]\s*(-?0x[0-9a-fA-F]+|-?\d+)")
_REASON = re.compile(r"pages:(-?\d+)\s+reason:.*\((\d+)\)\s*$")


class Malformed(ValueError):
    """A tracepoint's text that does not carry the fields its event needs."""


# args each kind carries (sys_enter: the syscall code and any number of arguments)
ARITY = {FAULT: 2, FLUSH: 2, CSD: 2, IPI: 2, SWITCH: 2, FORK: 2, EXEC: 0, EXIT: 1, SYS_EXIT: 2}
MIN_INT, MAX_INT = -(1 << 63), 1 << 64      # what msgpack holds


def _int(text: str) -> int:
    value = int(text, 0)
    if not MIN_INT <= value < MAX_INT:
        raise Malformed(f"{text[:24]} is beyond 64 bits")
    return value


def _fields(text: str) -> dict:
    return {k: _int(v) for k, v in _KV.findall(text)}


def _need(fields: dict, *names: str) -> list[int]:
    missing = [n for n in names if n not in fields]
    if missing:
        raise Malformed(f"missing {', '.join(missing)}")
    return [fields[n] for n in names]


def signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


def _switch(text: str) -> tuple:
    # perf prints `prev_comm=C prev_pid=P ... ==> next_comm=C next_pid=P ...`; a command name may
    # itself hold "prev_pid=": the last one before the arrow and the last after it are the fields
    before, arrow, after = text.rpartition(" ==> ")
    prev = re.findall(r"prev_pid=(-?\d+)", before)
    nxt = re.findall(r"next_pid=(-?\d+)", after)
    if not arrow or not prev or not nxt:
        raise Malformed("missing prev_pid or next_pid")
    return _int(prev[-1]), _int(nxt[-1])


def _flush(text: str) -> tuple:
    m = _REASON.search(text)
    if m is None:
        raise Malformed("missing pages or reason")
    return _int(m.group(1)), _int(m.group(2))


def _csd(text: str) -> tuple:
    cpu, = _need(_fields(text), "cpu")
    func = re.search(r"func=(\S+)", text)
    return cpu, int(bool(func) and func.group(1).startswith("flush_tlb_func"))


def _callsite(text: str) -> str:
    """The function that sent an IPI (`callsite=ttwu_queue_wakelist+0x11d` -> ttwu_queue_wakelist)."""
    m = re.search(r"callsite=([A-Za-z_][\w.]*)", text)
    return m.group(1) if m else "?"


def _exit(text: str) -> tuple:
    m = re.search(r"group_dead=(\w+)", text)
    return (-1 if m is None else int(m.group(1) == "true"),)


def _sys_enter(name: str, text: str) -> tuple:
    values = [_int(v) for _, v in _KV.findall(text)]
    return (SYSCALL_CODE[name], *values)


def _sys_exit(name: str, text: str) -> tuple:
    m = re.match(r"\s*(-?0x[0-9a-fA-F]+|-?\d+)", text)
    if m is None:
        raise Malformed("no return value")
    return SYSCALL_CODE[name], signed64(_int(m.group(1)))


def decode(event: str, text: str) -> tuple | None:
    """(kind, *args) for a tracepoint's text, None for an event smpsim does not read; Malformed
    when the event is one it reads but the text lacks its fields."""
    subsystem, _, name = event.partition(":")
    if event == "exceptions:page_fault_user":
        return (FAULT, *_need(_fields(text), "address", "error_code"))
    if event == "tlb:tlb_flush":
        return (FLUSH, *_flush(text))
    if event == "csd:csd_queue_cpu":
        return (CSD, *_csd(text))
    if event == "ipi:ipi_send_cpu":
        return (IPI, *_need(_fields(text), "cpu"), _callsite(text))
    if event == "ipi:ipi_send_cpumask":
        return (IPI, -1, _callsite(text))
    if event == "sched:sched_switch":
        return (SWITCH, *_switch(text))
    if event == "sched:sched_process_fork":
        return (FORK, *_need(_fields(text), "child_pid"))
    if event == "sched:sched_process_exec":
        return (EXEC,)
    if event == "sched:sched_process_exit":
        return (EXIT, *_exit(text))
    if subsystem == "syscalls":
        if name.startswith("sys_enter_") and name[10:] in SYSCALL_CODE:
            return (SYS_ENTER, *_sys_enter(name[10:], text))
        if name.startswith("sys_exit_") and name[9:] in SYSCALL_CODE:
            return (SYS_EXIT, *_sys_exit(name[9:], text))
    return None


def clone_shares_mm(syscall: str, args: tuple) -> int:
    """What a clone-family call says about the child's address space: 1 shares the parent's mm
    without being a thread of it (vfork; clone with CLONE_VM and not CLONE_THREAD), 0 does not
    share it or is a thread (told apart by thread-group id), -1 unknown (clone3's flags are in
    user memory the tracepoint does not print)."""
    if syscall == "vfork":
        return 1
    if syscall == "fork":
        return 0
    if syscall == "clone" and args:
        flags = args[0]
        return int(bool(flags & CLONE_VM) and not flags & CLONE_THREAD)
    return -1
