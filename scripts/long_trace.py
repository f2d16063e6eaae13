#!/usr/bin/env python3
"""Write a synthetic trace of N events, to check that a replay's memory does not grow with the
trace's length (issue 22: a trace of 10 million events replays in bounded memory).

Usage: .venv/bin/python scripts/long_trace.py N OUT.smpt
One process of two threads on two CPUs maps a 1024-page region, then for the rest of the trace
the threads take turns on cpu1 (a sched_switch every 10 us) while the first writes its region's
pages round and round on cpu0 (one fault every 10 us, each on a page it already wrote, as a real
program's long steady state is): 9 events in 10 are switches, 1 a fault.
"""

import sys
from pathlib import Path

from smpsim.trace import events as ev
from smpsim.trace.format import TraceWriter

BASE = 0x7f0000000000
PAGES = 1024


def main(n: int, out: str) -> None:
    tasks = [[101, 101, "long", 1], [102, 101, "long", 1], [0, 0, "swapper", 0]]
    end = 10_000 * n
    w = TraceWriter(Path(out), {"machine": {"cpus_seen": 2}, "source": {"input": "scripts/long_trace.py"},
                                "tree": "synthetic", "root_tgid": 101, "tasks": tasks, "start_ns": 0,
                                "end_ns": end, "tracepoints_seen": []})
    w.write((ev.SWITCH, 0, 0, 0, 0, 101))
    w.write((ev.SYS_ENTER, 1_000, 0, 101, ev.SYSCALL_CODE["mmap"], 0, PAGES * 4096, 3, 0x22, -1, 0))
    w.write((ev.SYS_EXIT, 2_000, 0, 101, ev.SYSCALL_CODE["mmap"], BASE))
    t = 10_000
    for i in range(3, n):
        t += 1_000
        if i % 10:
            w.write((ev.SWITCH, t, 1, 0, 0, 102 if i % 2 else 0))
        else:
            w.write((ev.FAULT, t, 0, 101, BASE + (i // 10 % PAGES) * 4096, 0x6))
    w.close({"counts": {}, "warnings": {}, "callsites": []})


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
