"""The VM coordinator: runs the simulation epoch by epoch and talks to CPUs only through a transport.

Each epoch of `quantum_cycles`:
  1. the scheduler picks what each CPU runs and every CPU gets one quantum request
     (context-switch notice, TLB fills for its last misses, accesses to make), all at once;
  2. kernel operations due in the epoch run in order of simulated start time (ties:
     CPU id, then sequence number): spawn, exit, munmap, mprotect, pagedaemon runs, and
     each CPU's TLB misses at their moments spread over the quantum (a page walk when
     the PTE is valid, otherwise `uvm_fault` -> `pmap_enter`); any of them may exchange
     shootdowns with CPUs and may wake the pagedaemon;
  3. below freetarg the pagedaemon is woken; the epoch is logged and, with checking on,
     every invariant is verified.
The translations of this epoch's misses reach the CPUs as fills with the next quantum,
if their PTEs are still valid then.
An exit kills the process's threads in the epoch it is called and tears the address
space down at the start of the next one, after those threads have left their CPUs
(as lwp_exit runs before uvmspace_free).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from smpsim.stats import latency_stats
from smpsim.cpus.cpu import LAZY, STALE
from smpsim.errors import InvariantViolation, SimulationError
from smpsim.protocol import CpuSetup, QuantumRequest, Switch
from smpsim.vm import checker, uvm
from smpsim.vm.kernel import LATENCY_KINDS, Kernel
from smpsim.vm.locks import PARTS, Op


@dataclass
class StepResult:
    epoch: int
    total_epochs: int
    done: bool
    events: list = field(default_factory=list)
    trace: list = field(default_factory=list)


class VmCoordinator:
    def __init__(self, config, policy, transport, *, check: bool = False, trace: bool = False,
                 point: str = "base", bugs=()):
        from smpsim.experiments.workloads import make_workload
        self.config = config
        self.policy = policy
        self.transport = transport
        self.point = point
        self.k = Kernel(config, policy, check=check, trace=trace, bugs=bugs)
        self.k.exchange = self._exchange
        self.k.schedule = self.schedule
        self.workload = make_workload(config, self.k)
        self.queue: list = []
        self._seq = 0
        self.epoch = 0
        self.quiet_epochs = 0
        self.done = False
        self.shared: dict[str, object] = {}
        m = config.machine
        self.cycles_per_access = max(1, m.quantum_cycles // max(1, m.accesses_per_quantum))

    # --- transport --------------------------------------------------------------------------
    def _exchange(self, targets, requests):
        return self.transport.exchange(targets, requests)

    def start(self) -> None:
        m, p = self.config.machine, self.policy
        costs = self.config.costs.model_dump()
        self.transport.start([CpuSetup(i, m.tlb_entries, m.tlb_ways, p.lazy_tlb == "on", p.pcid,
                                       self.config.seed, costs) for i in range(m.ncpus)])
        self.k.emit("run.start", 0, ncpus=m.ncpus, switches=p.switches(),
                    workload=self.config.workload.model_dump())
        for ev in self.workload.initial_events():
            self.schedule(ev[0], ev[1], ev[2], **ev[3])

    def schedule(self, time: int, cpu: int, kind: str, **args) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (time, cpu, self._seq, kind, args))

    # --- stepping -----------------------------------------------------------------------------
    def step(self, max_epochs: int = 1) -> StepResult:
        k = self.k
        try:
            for _ in range(max_epochs):
                if self.done:
                    break
                self._epoch()
        except InvariantViolation as e:
            k.emit("invariant.violation", k.epoch * self.config.machine.quantum_cycles,
                   invariant=e.name, detail=e.detail)
            e.events, e.trace = self._drain()
            raise
        except SimulationError as e:
            e.events, e.trace = self._drain()
            raise
        return StepResult(self.epoch, max(self.epoch, self.workload.estimated_epochs()), self.done,
                          *self._drain())

    def _drain(self):
        ev, tr = self.k.events, self.k.trace
        self.k.events, self.k.trace = [], []
        return ev, tr

    def _epoch(self) -> None:
        k, m = self.k, self.config.machine
        q = m.quantum_cycles
        e = self.epoch
        k.epoch = e
        start, end = e * q, (e + 1) * q
        for lock in self._all_locks():
            lock.prune(start)
        self._quanta(start)
        self._ops(end)
        k.wake_pagedaemon(end)
        k.note_pinned()
        k.emit("epoch", end, free_pages=k.phys.free, ptp_pages=k.phys.counts[2], ptp_pinned=k.pinned_ptps(),
               dying_pmaps=len(k.dying), lazy_cpus=sum(1 for v in k.views if v.state in (LAZY, STALE)))
        if k.check:
            checker.check_all(k)
        self.epoch += 1
        if not [e for e in self.queue if e[3] not in ("pagedaemon", "miss")] and self.workload.finished():
            self.quiet_epochs += 1
            if self.quiet_epochs > self.config.run.tail_epochs:
                self.done = True
                k.emit("run.end", self.epoch * q, status="completed", counters=self.counters())
        if not self.done and self.epoch >= self.config.run.max_epochs:
            raise SimulationError(f"the workload did not finish within run.max_epochs={self.config.run.max_epochs}")

    def _all_locks(self):
        k = self.k
        yield k.mailbox
        for p in k.pmaps.values():
            yield p.lock
        for o in k.objects.values():            # shared objects are registered there too
            yield o.lock
        yield from getattr(k.pv, "stripes", ())
        yield from getattr(k.pv, "pp_locks", {}).values()

    # --- 1 + 2: quanta and misses ------------------------------------------------------------------
    def _pick(self, view):
        rq = view.runq
        rq[:] = [t for t in rq if t.proc.state == "running"]
        if not rq:
            return None
        t = rq.pop(0)
        rq.append(t)
        return t

    def _switch(self, view, thread, start: int) -> Switch:
        """The scheduler's decision for one CPU as a context-switch notice; the kernel side
        (pm_cpus, references) is pmap_activate / pmap_deactivate, the TLB side is the CPU's."""
        k = self.k
        if thread is not view.cur_thread:
            k.counters["context_switches"] += 1
            view.cur_thread = thread
        op = Op("switch", view.id, start, k.counters)
        if thread is None:
            k.pmap_mod.pmap_deactivate(view, op)
            sw = Switch(None)
        else:
            pmap = thread.proc.pmap
            sw = Switch(pmap.id, pmap.tag, k.pmap_mod.pmap_activate(view, pmap, op))
        # the switch (and a last pmap_destroy it may trigger) runs on this CPU before its quantum
        k.counters["switch_cycles"] += op.cycles
        view.stolen += op.cycles
        return sw

    def _quanta(self, start: int) -> None:
        k, m = self.k, self.config.machine
        reqs = []
        threads = []
        for view in k.views:
            thread = self._pick(view)
            threads.append(thread)
            sw = self._switch(view, thread, start)
            fills = ()
            accesses = 0
            ranges = ()
            if thread is not None:
                pmap = thread.proc.pmap
                if view.fills_pmap is pmap:
                    out = []
                    for va in view.fill_vas:
                        pte = pmap.pte(va)
                        if pte is not None:
                            out.append((va, pte.frame))
                    fills = tuple(out)
                ranges = self.workload.ranges(thread.proc)
                accesses = max(0, m.accesses_per_quantum - view.stolen // self.cycles_per_access)
            view.stolen = 0
            view.fills_pmap, view.fill_vas = None, []
            reqs.append(QuantumRequest(self.epoch, view.id, sw, ranges, accesses, fills, k.check))
        ex = self.transport.exchange([v.id for v in k.views], reqs)
        q = m.quantum_cycles
        for view, thread, rep in zip(k.views, threads, ex.replies):
            expected_state = view.state
            cur = view.curpmap.id if view.curpmap is not None else None
            if rep.state != expected_state or rep.curpmap != cur:
                raise SimulationError(f"cpu{view.id} reports {rep.state} on pmap {rep.curpmap} but the kernel "
                                      f"expected {expected_state} on pmap {cur} (epoch {self.epoch})")
            if k.check:
                view.tlb = rep.tlb
            k.counters["tlb_hits"] += rep.hits
            k.counters["tlb_misses"] += len(rep.misses)
            if not rep.misses:
                continue
            # A miss with a valid PTE is a page walk: it takes no lock and changes no mapping
            # (if a later operation removes the PTE, the fill is dropped before delivery).
            # A miss that faults runs at its moment in the quantum, in time order with the
            # epoch's other operations (a munmap early in the epoch comes before it).
            n = len(rep.misses)
            proc = thread.proc
            pmap = proc.pmap
            if view.fills_pmap is not pmap:
                view.fills_pmap, view.fill_vas = pmap, []
            walks = 0
            for i, va in enumerate(rep.misses):
                pte = pmap.pte(va)
                if pte is not None:
                    pte.ref = True
                    view.fill_vas.append(va)
                    walks += 1
                else:
                    self.schedule(start + (i + 1) * q // (n + 1), view.id, "miss", pid=proc.pid, va=va)
            k.counters["page_walks"] += walks

    def _miss(self, op: Op, proc, va: int) -> None:
        """A TLB miss that found no valid PTE at quantum time: fault it in now (or walk, if
        another CPU's fault mapped it in between)."""
        k = self.k
        view = k.views[op.cpu]
        pmap = proc.pmap
        if proc.state != "running" or view.curpmap is not pmap or proc.map.lookup(va) is None:
            k.counters["misses_dropped"] += 1    # the thread left, or the range was unmapped first
            return
        op.spend(k.costs.page_walk)              # the walk that found no PTE
        pte = pmap.pte(va)
        if pte is not None:
            k.counters["page_walks"] += 1
            pte.ref = True
        else:
            uvm.uvm_fault(k, op, proc, va)
        if view.fills_pmap is not pmap:
            view.fills_pmap, view.fill_vas = pmap, []
        view.fill_vas.append(va)

    # --- 3: kernel operations ----------------------------------------------------------------------------
    def _ops(self, end: int) -> None:
        k = self.k
        while self.queue and self.queue[0][0] < end:
            time, cpu, seq, kind, args = heapq.heappop(self.queue)
            view = k.views[cpu]
            if kind == "miss":
                # part of the quantum's own time: recorded as fault latencies, but it neither
                # waits for nor delays the kernel operations this CPU initiates
                self._miss(Op(kind, cpu, time, k.counters), k.procs[args["pid"]], args["va"])
                continue       # checked with the epoch: a fill changes no mapping
            t = max(time, view.busy_until)
            if t >= end:
                heapq.heappush(self.queue, (t, cpu, seq, kind, args))
                continue
            op = Op(kind, cpu, t, k.counters)
            before = dict(k.counters) if kind in ("teardown", "munmap") else None
            follow = self._run_op(kind, op, args, before)
            view.busy_until = op.t
            k.note_pinned()
            if k.check:
                checker.check_all(k)
            for ev in follow or ():
                self.schedule(*ev[:3], **ev[3])

    def shared_object(self, name: str):
        obj = self.shared.get(name)
        if obj is None:
            obj = self.shared[name] = uvm.make_object(self.k, name, shared=True)
        return obj

    def _run_op(self, kind: str, op: Op, args: dict, before):
        k, w = self.k, self.workload
        q = self.config.machine.quantum_cycles
        if kind == "pagedaemon":
            k.pagedaemon(op)
            return None
        if kind == "spawn":
            proc = uvm.spawn(k, op, args["name"], args["cpus"])
            for (start, npages, objname, offset, prefault, prot) in args["entries"]:
                obj = self.shared_object(objname) if objname else None
                uvm.uvm_map(k, op, proc, start, npages, obj, offset, prot, prefault)
            return w.after(kind, args, op.t, proc)
        proc = k.procs[args["pid"]]
        if kind == "exit":
            proc.state = "exiting"
            nxt = (op.t // q + 1) * q
            return [(nxt, proc.home_cpu, "teardown", {"pid": proc.pid})]
        if kind == "teardown":
            pages = proc.pmap.resident
            uvm.exit_teardown(k, op, proc)
            k.counters["exits"] += 1
            k.record_latency("exit", op.cycles)
            for part, cyc in op.parts.items():
                k.exit_breakdown[part] = k.exit_breakdown.get(part, 0) + cyc
            k.emit("exit", op.start, process=proc.pid, name=proc.name, cpu=op.cpu, pages=pages,
                   cycles=op.cycles, deltas=k.counters.delta(before), breakdown=dict(op.parts))
            return w.after(kind, args, op.t, proc)
        if kind == "munmap":
            uvm.uvm_unmap(k, op, proc, args["start"], args["npages"], "munmap")
            k.counters["munmaps"] += 1
            k.record_latency("munmap", op.cycles)
            k.emit("munmap", op.start, process=proc.pid, cpu=op.cpu, pages=args["npages"], cycles=op.cycles,
                   deltas=k.counters.delta(before))
            return w.after(kind, args, op.t, proc)
        if kind == "mprotect":
            uvm.uvm_map_protect(k, op, proc, args["start"], args["npages"], args["prot"])
            return w.after(kind, args, op.t, proc)
        if kind == "mmap":
            obj = self.shared_object(args["obj"]) if args.get("obj") else None
            uvm.uvm_map(k, op, proc, args["start"], args["npages"], obj, args.get("offset", 0),
                        args.get("prot", "rw"), args.get("prefault", 0))
            return w.after(kind, args, op.t, proc)
        raise SimulationError(f"unknown operation {kind!r}")

    # --- results -------------------------------------------------------------------------------------------
    def counters(self) -> dict:
        return dict(self.k.counters)

    def result(self) -> dict:
        k = self.k
        latency = {kind: latency_stats(*k.latency[kind]) for kind in LATENCY_KINDS}
        breakdown = {part: k.exit_breakdown.get(part, 0) for part in PARTS}
        return {"counters": self.counters(), "latency": latency, "exit_breakdown": breakdown,
                "sim_cycles": self.epoch * self.config.machine.quantum_cycles, "epochs": self.epoch}
