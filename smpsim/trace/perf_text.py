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
PERF_SCRIPT_COMMAND = f"perf script -F {PERF_SCRIPT_FIELDS} -i perf.data > trace.txt"

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


def parse_line(line: str) -> PerfLine | None:
    """The event on `line`, or None when the line is not an event line of the expected fields."""
    m = _LINE.match(line)
    if m is None:
        return None
    frac = m["frac"]
    ns = int(m["sec"]) * 1_000_000_000 + int(frac.ljust(9, "0"))
    return PerfLine(m["comm"], int(m["pid"]), int(m["tid"]), int(m["cpu"]), ns, m["event"],
                    m["trace"].rstrip("\n"))


def refuse_without_ids(line: str, where: str) -> None:
    """A line that is an event line but lacks the pid/tid fields makes the whole input unusable:
    threads cannot be told from processes. Raise the error that says how to produce the right text."""
    if _LINE.match(line) is None and _NO_IDS.match(line):
        raise TraceError(
            f"{where}: this perf script text has no pid/tid field (line: {line.strip()[:120]!r}), so "
            f"threads cannot be told from processes. Produce it with the fields smpsim reads: "
            f"`{PERF_SCRIPT_COMMAND}`, then `smpsim trace import trace.txt`.")
