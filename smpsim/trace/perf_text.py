"""Lines of `perf script -F comm,pid,tid,cpu,time,event,trace` text: one event per line.

    xz  8272/8274  [000] 67608.392233:     syscalls:sys_enter_munmap: addr: 0x7fb6..., len: 0x...

`pid` is perf's name for the thread-group id, `tid` the thread. Times are seconds with six or
nine decimals (`--ns`); they are kept as integer nanoseconds. A command name may hold spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smpsim.errors import TraceError

PERF_SCRIPT_FIELDS = "comm,pid,tid,cpu,time,event,trace"
PERF_SCRIPT_COMMAND = f"perf script --ns -F {PERF_SCRIPT_FIELDS} -i perf.data > trace.txt"
MAX_ID = 1 << 31               # pids and tids (pid_max is at most 2^22)
MAX_CPU = 1 << 16
MAX_SECONDS = 1 << 33          # some 272 years of uptime

_LINE = re.compile(r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)/(?P<tid>-?\d+)\s+\[(?P<cpu>\d+)\]\s+"
                   r"(?P<sec>\d+)\.(?P<frac>\d{1,9}):\s+(?P<event>[\w.-]+:[\w.-]+):\s?(?P<trace>.*)$")
# the same without pid/tid (perf script's default fields for a per-task recording, or -F without them)
_NO_IDS = re.compile(r"^\s*(?P<comm>.*?)\s+(?:(?P<id>-?\d+)\s+)?\[(?P<cpu>\d+)\]\s+\d+\.\d+:\s+[\w.-]+:[\w.-]+:")


@dataclass(frozen=True, slots=True)
class PerfLine:
    comm: str
    tgid: int
    tid: int
    cpu: int
    time_ns: int
    event: str          # "subsystem:name"
    trace: str          # the tracepoint's own fields, as perf prints them


def classify(line: str) -> tuple[str, PerfLine | None]:
    """("event", the event) for an event line; "no_ids" for an event line without pid/tid,
    "out_of_range" for one whose pid, tid, cpu or time no machine has, "other" for the rest."""
    m = _LINE.match(line)
    if m is None:
        return ("no_ids" if _NO_IDS.match(line) else "other"), None
    pid, tid, cpu, sec = int(m["pid"]), int(m["tid"]), int(m["cpu"]), int(m["sec"])
    if not (-1 <= pid < MAX_ID and -1 <= tid < MAX_ID and cpu < MAX_CPU and sec < MAX_SECONDS):
        return "out_of_range", None
    ns = sec * 1_000_000_000 + int(m["frac"].ljust(9, "0"))
    return "event", PerfLine(m["comm"], pid, tid, cpu, ns, m["event"], m["trace"].rstrip("\r\n"))


def refuse_without_ids(where: str, example: str) -> TraceError:
    """The error for a text none of whose event lines has the pid/tid fields: threads cannot be
    told from processes. It says how to produce the right text."""
    return TraceError(
        f"{where}: this perf script text has no pid/tid field (line: {example.strip()[:120]!r}), so "
        f"threads cannot be told from processes. Produce it with the fields smpsim reads: "
        f"`{PERF_SCRIPT_COMMAND}`, then `smpsim trace import trace.txt`.")
