"""The IPI path of Linux's TLB flush, timed from a 2-CPU trace's tracepoints, and which flushes
skipped their local flush against when the other CPU's flush began.

Usage: .venv/bin/python measure/ipi_timing.py TRACE.smpt   (a trace from `smpsim trace record`)

Per CPU, a flight is a tlb:tlb_flush "remote IPI send" (reason 4, traced at the top of
native_flush_tlb_multi, after inc_mm_tlb_gen) up to its "local MM shootdown" (reason 3), if any;
it queued an IPI if a csd:csd_queue_cpu with func=flush_tlb_func came between. Printed: the
flight's span with and without an IPI (their difference is the sender's cost of one IPI, csd
queueing plus the ICR write), from the ipi:ipi_send_cpu tracepoint to the local flush (the ICR
write), from the sender's ipi tracepoint to the "remote shootdown" on a CPU not itself in a flight
(the delivery and the handler), and, per 500 ns bin of the offset of the other CPU's nearest
queued flight, how many flights with an IPI skipped their local flush (measure/results/ipi_split.txt).
"""

from __future__ import annotations

import bisect
import collections
import sys

from smpsim.trace import events as ev
from smpsim.trace.format import TraceReader


def flights(path: str):
    """The flights (dicts: t, cpu, csd, ipi, recv, local), every "remote shootdown" (t, cpu,
    in a flight) and every ipi tracepoint of a flight (t, cpu)."""
    done, cur, recv, ipis = [], {}, [], []
    with TraceReader(path) as r:
        for kind, t, cpu, _tid, *a in r.events():
            f = cur.get(cpu)
            if kind == ev.FLUSH and a[1] == 4:
                if f is not None:
                    done.append(f)
                cur[cpu] = dict(t=t, cpu=cpu, csd=None, ipi=None, local=None, recv=None)
            elif kind == ev.CSD and a[1] == 1 and f is not None and f["csd"] is None:
                f["csd"] = t
            elif kind == ev.IPI and f is not None and f["ipi"] is None:
                f["ipi"] = t
                ipis.append((t, cpu))
            elif kind == ev.FLUSH and a[1] == 1:
                recv.append((t, cpu, f is not None))
                if f is not None and f["recv"] is None:
                    f["recv"] = t
            elif kind == ev.FLUSH and a[1] == 3 and f is not None:
                f["local"] = t
                done.append(cur.pop(cpu))
    return done, recv, sorted(ipis)


def spread(values) -> str:
    v = sorted(values)
    n = len(v)
    return f"n={n} p10={v[n // 10]} p50={v[n // 2]} p90={v[9 * n // 10]}" if n else "n=0"


def deliveries(recv, ipis) -> list[int]:
    """The other CPU's ipi tracepoint to a "remote shootdown" on a CPU not itself in a flight."""
    out = []
    for t, cpu, flying in recv:
        if flying:
            continue
        i = bisect.bisect_left(ipis, (t, -1)) - 1
        while i >= 0 and ipis[i][1] == cpu:
            i -= 1
        if i >= 0 and t - ipis[i][0] < 50_000:
            out.append(t - ipis[i][0])
    return out


def offsets(queued) -> tuple[collections.Counter, collections.Counter]:
    """Per 500 ns bin of (the other CPU's nearest queued flight - this one's start), flights and
    how many of them skipped their local flush."""
    sends = {c: sorted(f["t"] for f in queued if f["cpu"] == c) for c in {f["cpu"] for f in queued}}
    seen, skipped = collections.Counter(), collections.Counter()
    for f in queued:
        other = [c for c in sends if c != f["cpu"]]
        if not other:
            continue
        o = sends[other[0]]
        near = [x - f["t"] for x in o[bisect.bisect_left(o, f["t"] - 12_000):bisect.bisect_left(o, f["t"] + 12_000)]]
        if near:
            b = min(near, key=abs) // 500 * 500
            seen[b] += 1
            skipped[b] += f["local"] is None
    return seen, skipped


def main(path: str) -> None:
    fl, recv, ipis = flights(path)
    queued = [f for f in fl if f["csd"] is not None]
    alone = [f for f in fl if f["csd"] is None]
    print("flights that queued an IPI", len(queued), "of which skipped the local flush",
          sum(f["local"] is None for f in queued), "| without an IPI", len(alone), "skipped",
          sum(f["local"] is None for f in alone))
    clean = [f for f in queued if f["local"] and f["recv"] is None]
    print("send -> local flush, with an IPI, none received meanwhile:", spread(f["local"] - f["t"] for f in clean))
    print("send -> local flush, without an IPI:", spread(f["local"] - f["t"] for f in alone if f["local"]))
    print("send -> csd queued:", spread(f["csd"] - f["t"] for f in queued),
          "| send -> ipi tracepoint:", spread(f["ipi"] - f["t"] for f in queued if f["ipi"]))
    print("ipi tracepoint -> local flush:", spread(f["local"] - f["ipi"] for f in clean if f["ipi"]))
    print("other CPU's ipi tracepoint -> remote shootdown here:", spread(deliveries(recv, ipis)))
    seen, skipped = offsets(queued)
    print("other CPU's nearest flight start - this flight's start (500 ns bins): flights/skipped")
    print(" ".join(f"{b}:{seen[b]}/{skipped[b]}" for b in sorted(seen)))


if __name__ == "__main__":
    main(sys.argv[1])
