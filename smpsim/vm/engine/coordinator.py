"""The VM coordinator: runs one simulation epoch by epoch and talks to CPUs only through a transport.

Each epoch of `quantum_cycles`:
  1. every CPU gets one quantum request, all at once (`quantum.QuantumDriver`);
  2. kernel operations due in the epoch run in order of simulated start time (ties:
     CPU id, then sequence number) through the handler table (`dispatch.Dispatcher`):
     the workload's operations, pagedaemon runs and each CPU's faulting TLB misses at
     their moments in the quantum; any of them may exchange shootdowns with CPUs and
     may wake the pagedaemon;
  3. below freetarg the pagedaemon is woken; the epoch is logged and, with checking on,
     every invariant is verified; a workload left with nothing queued to finish it, or a run
     where nothing completes while an operation is starved of its CPU, fails (`watchdog`).
The coordinator is handed its design (through the policy) and its workload; it
never imports a workload or a transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smpsim.errors import InvariantViolation, NoProgress, SimulationError
from smpsim.protocol import LAZY, STALE, CpuSetup
from smpsim.vm import checker
from smpsim.vm.engine.dispatch import Dispatcher
from smpsim.vm.engine.drain import drain
from smpsim.vm.engine.events import EventQueue
from smpsim.vm.kernel import Kernel
from smpsim.vm.pagedaemon import wake_pagedaemon
from smpsim.vm.engine.quantum import QuantumDriver
from smpsim.vm.engine.results import result
from smpsim.vm.engine.watchdog import Watchdog

PRUNE_EVERY = 4096


@dataclass
class StepResult:
    epoch: int
    total_epochs: int
    done: bool
    events: list = field(default_factory=list)
    trace: list = field(default_factory=list)


class VmCoordinator:
    def __init__(self, config, policy, transport, workload, *, check: bool = False, trace: bool = False,
                 point: str = "base"):
        self.config = config
        self.policy = policy
        self.transport = transport
        self.point = point
        self.queue = EventQueue()
        self.k = Kernel(config, policy.design, exchange=transport.exchange, schedule=self.queue.push,
                        check=check, trace=trace)
        self.workload = workload
        workload.bind(self.k)
        self.watch = Watchdog(self.k)
        self.dispatcher = Dispatcher(self.k, workload, self.queue, self.watch)
        self.quanta = QuantumDriver(self.k, workload, transport.exchange, self.queue)
        self.epoch = 0
        self.pruned_at = 0
        self.quiet_epochs = 0
        self.done = False

    def start(self) -> None:
        m = self.config.machine
        costs = self.config.costs.model_dump()
        pcid = self.k.tags.hardware_pcid
        self.transport.start([CpuSetup(i, m.tlb_entries, m.tlb_ways, pcid, self.config.seed, costs, m.walk_lines)
                              for i in range(m.ncpus)])
        self.k.emit("run.start", 0, ncpus=m.ncpus, switches=self.policy.switches(),
                    workload=self.config.workload.model_dump())
        self.dispatcher.schedule(self.workload.initial_operations())

    def step(self, max_epochs: int = 1) -> StepResult:
        """Run up to `max_epochs` epochs. An error carries the events and trace up to it."""
        k = self.k
        try:
            for _ in range(max_epochs):
                if self.done:
                    break
                self._epoch()
        except SimulationError as e:
            t = k.epoch * self.config.machine.quantum_cycles
            if isinstance(e, InvariantViolation):
                k.emit("invariant.violation", t, invariant=e.name, detail=e.detail)
            elif isinstance(e, NoProgress):
                k.emit("no_progress", t, cause=e.cause, detail=str(e), **e.facts)
            e.events, e.trace = self._drain()
            raise
        return StepResult(self.epoch, max(self.epoch, self.workload.estimated_epochs()), self.done,
                          *self._drain())

    def _drain(self):
        ev, tr = self.k.events, self.k.trace
        self.k.events, self.k.trace = [], []
        return ev, tr

    def _epoch(self) -> None:
        k = self.k
        q = self.config.machine.quantum_cycles
        k.epoch = self.epoch
        start, end = self.epoch * q, (self.epoch + 1) * q
        if self.epoch - self.pruned_at >= PRUNE_EVERY:
            # forget holds that ended before this epoch (no operation starts before it): every
            # PRUNE_EVERY epochs, as a walk over every lock each epoch costs more than it saves
            self.pruned_at = self.epoch
            for lock in k.locks():
                lock.prune(start)
        self.dispatcher.schedule(self.workload.due(end))
        self.quanta.run(self.epoch, start)
        self.dispatcher.run_due(end)
        wake_pagedaemon(k, end)
        k.note_pinned()
        k.emit("epoch", end, free_pages=k.phys.free, ptp_pages=k.phys.counts[2], ptp_pinned=k.pinned_ptps(),
               dying_pmaps=len(k.dying), lazy_cpus=sum(1 for v in k.views if v.state in (LAZY, STALE)))
        if k.check:
            checker.check_all(k)
        self.epoch += 1
        self._check_end()
        if not self.done:
            self._skip_idle()

    def _skip_idle(self) -> None:
        """Skip the epochs before the workload's next event or the next queued operation when
        nothing happens in them (a recorded program's idle or compute-bound stretches: no
        operation, no switch, no synthetic access; `epochs_skipped` counts them)."""
        nxt = self.workload.next_time()
        if nxt is None:
            return
        head = self.queue.next_time()
        if head is not None:
            nxt = min(nxt, head)
        q = self.config.machine.quantum_cycles
        skip = min(nxt // q, self.config.run.max_epochs) - self.epoch
        if skip > 0:
            for view in self.k.views:
                view.stolen = max(0, view.stolen - skip * q)
            self.k.counters["epochs_skipped"] += skip
            self.epoch += skip

    def _check_end(self) -> None:
        run = self.config.run
        queued = self.queue.has_foreground() or self.workload.has_more()
        self.watch.end_of_epoch(self.workload, queued)
        if not queued:                  # and so finished: the watchdog has failed a stranded workload
            self.quiet_epochs += 1
            if self.quiet_epochs > run.tail_epochs:
                self.done = True
                q = self.config.machine.quantum_cycles
                drain(self.k, self.transport.exchange, self.epoch * q, self.epoch)
                if self.k.check:
                    checker.check_all(self.k)
                self.k.emit("run.end", self.epoch * self.config.machine.quantum_cycles, status="completed",
                            counters=dict(self.k.counters))
        if not self.done and self.epoch >= run.max_epochs:
            raise SimulationError(f"the workload did not finish within run.max_epochs={run.max_epochs}"
                                  + self.watch.explain())

    def counters(self) -> dict:
        return dict(self.k.counters)

    def result(self) -> dict:
        return result(self.k, self.epoch)
