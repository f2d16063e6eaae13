"""Section 3b: do `try_ncpus` (64) CPU actors start, and what do they cost?

Creates the actors, sets each up and runs one warm-up quantum on all of them,
then reads their memory and kills them. A failure is an answer ("no", with the
first line of the error), not an error of the benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smpsim.analysis.tables import Figure, Table
from smpsim.bench.machine import Memory, mem_available_kib, memory_of
from smpsim.bench.report import Section
from smpsim.bench.sizes import Sizes
from smpsim.bench.workloads import cpu_setups, warm_request
from smpsim.runtime.probes import CpuActors

WARM_PAGES = 64


@dataclass(frozen=True)
class ManyActorsResult:
    ncpus: int
    started: bool
    error: str                      # why not, when not started
    start_s: float                  # create + set up + one quantum (or until the failure)
    memory: Memory
    kill_s: float
    mem_available_kib: int

    def section(self) -> Section:
        ok = self.started
        row = [self.ncpus, "yes" if ok else f"no: {self.error}", Figure(self.start_s, 2),
               Figure(self.memory.rss_kib / 1024 if ok else None),
               Figure(self.memory.rss_kib / 1024 / self.ncpus if ok else None), Figure(self.kill_s, 2),
               Figure(self.mem_available_kib / 1024)]
        table = Table(["CPU actors", "started", "start + setup + one quantum s", "memory MiB (Σ VmRSS)",
                       "MiB per actor", "kill s", "MemAvailable after MiB"], [row],
                      title=f"3b. Do {self.ncpus} CPU actors start?", label_cols=2)
        return Section(table)


def bench_many_actors(sizes: Sizes) -> ManyActorsResult:
    n = sizes.try_ncpus
    actors = None
    started, error, memory = False, "", Memory()
    t0 = time.perf_counter()
    try:
        actors = CpuActors(n, timeout_s=300.0)
        actors.setup(cpu_setups(n))
        replies = actors.exchange(list(range(n)), [warm_request(c, WARM_PAGES) for c in range(n)]).replies
        started = len(replies) == n
        start_s = time.perf_counter() - t0
        memory = memory_of(actors.pids())
    except Exception as e:  # noqa: BLE001 - the answer is "no", with why
        start_s = time.perf_counter() - t0
        error = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
    finally:
        t1 = time.perf_counter()
        if actors is not None:
            actors.close()
        kill_s = time.perf_counter() - t1
    return ManyActorsResult(n, started, error, start_s, memory, kill_s, mem_available_kib())
