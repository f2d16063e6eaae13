"""Section 1: smpsim's shootdown exchange against a bare Ray round trip of the same fan-out.

For each fan-out k three variants are timed alternately (interleaved iterations,
the order rotated every iteration, so drift on the machine hits them alike):

* floor: one trivial method on k trivial actors, all submitted, one `ray.get`;
* smpsim: `RayTransport.exchange` of a real ShootdownRequest to k CPU actors
  running the pmap with a warm TLB;
* floor+bytes: the trivial actors taking and returning bytes of the exchange's
  message sizes, which splits the overhead into "Ray carrying the messages" and
  "smpsim's own work".

smpsim's own code per target (encode, decode, the actor's handler) is timed on
its own for the breakdown in the note.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smpsim.analysis.tables import Figure, Ratio, Table
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.bench.timing import Samples, micros
from smpsim.bench.workloads import SHOOTDOWN_VAS, cpu_setups, shootdown_requests, warm_request
from smpsim.cpus.cpu import SimCpu
from smpsim.runtime.probes import CpuActors, FloorActors
from smpsim.runtime.wire import decode, encode

VARIANTS = ("floor", "smpsim", "echo")       # echo: the floor carrying the exchange's bytes
BREAKDOWN_CALLS = 2000


@dataclass
class FanoutTimes:
    k: int
    floor: Samples
    echo: Samples
    smpsim: Samples

    @property
    def ratio(self) -> float:
        """smpsim's median over the floor's: what the target bounds."""
        return self.smpsim.median_wall / self.floor.median_wall


@dataclass(frozen=True)
class Breakdown:
    """smpsim's own work per target, in ns, and the message sizes in bytes."""
    encode_ns: float
    decode_ns: float
    handle_ns: float
    request_bytes: int
    ack_bytes: int


@dataclass
class ExchangeResult:
    sizes: Sizes
    fanouts: list[FanoutTimes]
    breakdown: Breakdown

    def ratios(self) -> dict[int, float]:
        return {f.k: f.ratio for f in self.fanouts}

    def section(self) -> Section:
        rows = []
        for f in self.fanouts:
            fm, em, sm = f.floor.median_wall, f.echo.median_wall, f.smpsim.median_wall
            rows.append([f.k, micros(fm), micros(f.floor.p99_wall), micros(em), micros(sm),
                         micros(f.smpsim.p99_wall), Ratio(f.ratio),
                         Figure((em - fm) / f.k / 1000, signed=True), Figure((sm - em) / f.k / 1000, signed=True),
                         *(Figure(s.median_cpu / f.k / 1000) for s in (f.floor, f.echo, f.smpsim))])
        table = Table(["k", "floor median µs", "floor p99 µs", "floor+bytes median µs", "smpsim median µs",
                       "smpsim p99 µs", "smpsim/floor", "bytes cost µs/target", "smpsim work µs/target",
                       "caller CPU µs/target: floor", "caller CPU µs/target: +bytes",
                       "caller CPU µs/target: smpsim"], rows,
                      title="1. Exchange overhead against the bare-Ray floor")
        sz, b = self.sizes, self.breakdown
        note = (f"{sz.exchange_iters} interleaved iterations per fan-out after {sz.exchange_warmup} warm-up ones "
                f"(the order of the three variants rotated every iteration). floor: "
                f"`ray.get([a.ping.remote() for a in actors])` on k trivial actors; smpsim: `RayTransport.exchange` "
                f"of a {SHOOTDOWN_VAS}-VA ShootdownRequest to k CpuActors running the pmap with a warm TLB; "
                f"floor+bytes: the trivial actors taking a {b.request_bytes}-byte argument and returning "
                f"{b.ack_bytes} bytes (the exchange's message sizes), so 'bytes cost' is what Ray charges for "
                f"carrying the messages and 'smpsim work' the rest. smpsim's own code per target: "
                f"{b.encode_ns / 1000:.1f} µs encode + {b.decode_ns / 1000:.1f} µs decode in the caller, "
                f"{b.handle_ns / 1000:.1f} µs `CpuWorker.handle` (decode, SimCpu.shootdown, encode) in the actor. "
                f"Caller CPU: the calling thread's CPU time.")
        return Section(table, note)


def message_sizes(initiator: int) -> tuple[object, object]:
    """A shootdown request and the ack a warm CPU answers it with (for their sizes and the breakdown)."""
    probe = SimCpu(cpu_setups(1)[0])
    probe.handle(warm_request(0))
    request = shootdown_requests(1, 1, initiator)[0]
    return request, probe.handle(request)


def bench_exchange(sizes: Sizes) -> ExchangeResult:
    n = max(sizes.fanouts) + 1
    initiator = n                              # a CPU that is not a target (its shootdown goes to the others)
    request, ack = message_sizes(initiator)
    request_bytes, ack_bytes = encode(request), encode(ack)
    times = {k: FanoutTimes(k, Samples(), Samples(), Samples()) for k in sizes.fanouts}
    with FloorActors(n, len(ack_bytes)) as floors, CpuActors(n, timeout_s=60.0) as cpus:
        cpus.setup(cpu_setups(n))
        cpus.exchange(list(range(n)), [warm_request(c) for c in range(n)])
        floors.ping(n)
        payload = bytes(len(request_bytes))
        xid = 1
        for it in range(sizes.exchange_warmup + sizes.exchange_iters):
            keep = it >= sizes.exchange_warmup
            for k in sizes.fanouts:
                targets = list(range(k))
                xid += 1
                requests = shootdown_requests(xid, k, initiator)
                calls = {"floor": lambda: floors.ping(k), "smpsim": lambda: cpus.exchange(targets, requests),
                         "echo": lambda: floors.echo(k, payload)}
                shift = (it + k) % len(VARIANTS)           # rotate which goes first
                for name in VARIANTS[shift:] + VARIANTS[:shift]:
                    getattr(times[k], name).time(calls[name], keep=keep)
        # the breakdown: smpsim's own CPU work per target, on each side
        t = time.perf_counter_ns()
        for _ in range(BREAKDOWN_CALLS):
            encode(request)
        encode_ns = (time.perf_counter_ns() - t) / BREAKDOWN_CALLS
        t = time.perf_counter_ns()
        for _ in range(BREAKDOWN_CALLS):
            decode(ack_bytes)
        decode_ns = (time.perf_counter_ns() - t) / BREAKDOWN_CALLS
        handle_ns = cpus.time_handle(0, request_bytes, BREAKDOWN_CALLS)
    breakdown = Breakdown(encode_ns, decode_ns, handle_ns, len(request_bytes), len(ack_bytes))
    return ExchangeResult(sizes, [times[k] for k in sizes.fanouts], breakdown)
