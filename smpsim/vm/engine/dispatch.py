"""Running kernel operations: the handler table from operation type to UVM call.

`Dispatcher.run_due` pops every operation starting before the end of the epoch
and runs it on its CPU. One whose CPU is still busy with an earlier kernel
operation waits in line for it, behind every operation that fell due before it
(an operation pushed past the epoch waits for the next one); the progress
watchdog (`watchdog`) is told of every wait and every operation run. Each handler is one kernel
operation timed by an `Op`; what the workload schedules next comes back from its
`after` and is queued. Faulting TLB misses neither wait for nor delay the kernel
operations their CPU initiates (unless one runs the pagedaemon synchronously on
its CPU, see `watchdog`); their cycles come off the faulting CPU's next
quantum. Every system call (a record whose `syscall` is set) is charged the fixed entry/exit
cost `costs.syscall` before its handler runs. The workloads' system calls do not: they stand for calls made beside
the CPU's user thread (a workload issues them back to back), so their cycles are
counted in `kernel_cycles`, not taken from user progress.
"""

from __future__ import annotations

from smpsim.vm import checker, fork, uvm
from smpsim.vm.locks import Op
from smpsim.vm.madvise import uvm_madvise
from smpsim.vm.operations import (Exec, ExecTeardown, Exit, Fork, Madvise, Miss, Mmap, Mprotect, Munmap,
                                  PagedaemonRun, Scheduled, Spawn, Teardown, Touch)
from smpsim.vm.pagedaemon import pagedaemon


class Dispatcher:
    def __init__(self, k, workload, queue, watch):
        self.k = k
        self.workload = workload
        self.queue = queue
        self.watch = watch
        self.shared: dict[str, object] = {}
        self.handlers = {Spawn: self._spawn, Exit: self._exit, Teardown: self._teardown, Mmap: self._mmap,
                         Munmap: self._munmap, Mprotect: self._mprotect, PagedaemonRun: self._pagedaemon,
                         Fork: self._fork, Exec: self._exec, ExecTeardown: self._exec_teardown,
                         Touch: self._touch, Madvise: self._madvise}

    def schedule(self, items) -> None:
        for s in items:
            self.queue.push(s.time, s.cpu, s.op)

    def run_due(self, end: int) -> None:
        k = self.k
        while (ev := self.queue.pop_before(end)) is not None:
            if type(ev.op) is Miss:
                mop = Op(Miss.kind, ev.cpu, ev.time, k.counters, Miss.category)
                self._miss(mop, ev.op)
                # the fault ran on the faulting CPU: its cycles come off that CPU's next quantum
                k.views[ev.cpu].stolen += mop.cycles
                k.counters["fault_cycles_stolen"] += mop.cycles
                k.account(mop)
                continue       # checked with the epoch: a fill changes no mapping
            view = k.views[ev.cpu]
            t = max(ev.time, view.busy_until)
            if t > ev.time:
                # its CPU is busy: wait in line, behind whatever fell due before it
                self.watch.waits(self.queue.repush(ev, t, view.busy_due > ev.due), end)
                continue
            op = Op(ev.op.kind, ev.cpu, t, k.counters, ev.op.category)
            if ev.op.syscall:
                k.counters["syscalls"] += 1
                op.spend(k.costs.syscall, "other")      # entry and exit (measure/syscall.c)
            follow = self.handlers[type(ev.op)](op, ev.op)
            view.busy_until, view.busy_due, view.busy_with = op.t, ev.due, ev.op
            self.watch.ran(ev)
            k.account(op)
            k.note_pinned()
            if k.check:
                checker.check_all(k)
            self.schedule(follow)

    def shared_object(self, name: str):
        obj = self.shared.get(name)
        if obj is None:
            obj = self.shared[name] = uvm.make_object(self.k, name, shared=True)
        return obj

    # --- handlers -------------------------------------------------------------------------------
    def _pagedaemon(self, op: Op, rec: PagedaemonRun):
        pagedaemon(self.k, op)
        return ()

    def _spawn(self, op: Op, rec: Spawn):
        k = self.k
        proc = uvm.spawn(k, op, rec.name, list(rec.cpus))
        self._map_image(op, proc, rec.entries)
        return self.workload.after(rec, op.t, proc)

    def _map_image(self, op: Op, proc, entries) -> None:
        for m in entries:
            obj = self.shared_object(m.obj) if m.obj else None
            uvm.uvm_map(self.k, op, proc, m.start, m.npages, obj, m.offset, m.prot, m.prefault)

    def _fork(self, op: Op, rec: Fork):
        k = self.k
        parent = k.procs[rec.pid]
        # the parent's address-space lock for writing over the copy (NetBSD uvmspace_fork and
        # FreeBSD vmspace_fork: vm_map_lock(old_map); Linux dup_mmap: mmap_write_lock(oldmm))
        k.map_lock.map_enter(op, parent)
        child = fork.uvmspace_fork(k, op, parent, rec.name, list(rec.cpus))
        k.map_lock.map_exit(op, parent)
        if rec.wait:
            for t in parent.threads:
                if t.cpu == op.cpu:
                    t.asleep = True
        return self.workload.after(rec, op.t, child)

    def _exec(self, op: Op, rec: Exec):
        k = self.k
        proc = k.procs[rec.pid]
        holder = fork.uvmspace_exec(k, op, proc, f"{proc.name}.pre-exec")
        self._map_image(op, proc, rec.entries)
        q = k.config.machine.quantum_cycles
        return [Scheduled((op.t // q + 1) * q, proc.home_cpu, ExecTeardown(holder.pid))] + \
            list(self.workload.after(rec, op.t, proc))

    def _exec_teardown(self, op: Op, rec: ExecTeardown):
        k = self.k
        holder = k.procs[rec.pid]
        uvm.exit_teardown(k, op, holder)
        k.record_latency("exec", op.cycles)
        k.emit("exec_teardown", op.start, process=holder.pid, cpu=op.cpu, cycles=op.cycles)
        return ()

    def _touch(self, op: Op, rec: Touch):
        k = self.k
        proc = k.procs[rec.pid]
        if proc.state == "running":
            if rec.implicit and proc.map.lookup(rec.start) is None:
                uvm.uvm_map(k, op, proc, *rec.implicit)
                k.counters["implicit_mappings"] += 1
                k.counters["implicit_pages"] += rec.implicit[1]
            fork.touch(k, op, proc, rec.start, rec.npages, rec.write)
        return self.workload.after(rec, op.t, proc)

    def _exit(self, op: Op, rec: Exit):
        """The threads leave now; the address space goes at the next quantum, once they have
        left their CPUs (lwp_exit runs before uvmspace_free)."""
        proc = self.k.procs[rec.pid]
        fork.exit1(self.k, op, proc)
        q = self.k.config.machine.quantum_cycles
        return [Scheduled((op.t // q + 1) * q, proc.home_cpu, Teardown(proc.pid, rec.ctx))]

    def _teardown(self, op: Op, rec: Teardown):
        k = self.k
        proc = k.procs[rec.pid]
        before = dict(k.counters)
        pages = proc.pmap.resident
        uvm.exit_teardown(k, op, proc)
        k.counters["exits"] += 1
        k.record_latency("exit", op.cycles)
        for part, cyc in op.parts.items():
            k.exit_breakdown[part] = k.exit_breakdown.get(part, 0) + cyc
        k.emit("exit", op.start, process=proc.pid, name=proc.name, cpu=op.cpu, pages=pages,
               cycles=op.cycles, deltas=k.counters.delta(before), breakdown=dict(op.parts))
        return self.workload.after(rec, op.t, proc)

    def _munmap(self, op: Op, rec: Munmap):
        k = self.k
        proc = k.procs[rec.pid]
        before = dict(k.counters)
        uvm.uvm_unmap(k, op, proc, rec.start, rec.npages, "munmap")
        if rec.via != "munmap":                 # brk or mremap unmapping: not a munmap call
            k.counters[f"{rec.via}_unmaps"] += 1
            return self.workload.after(rec, op.t, proc)
        k.counters["munmaps"] += 1
        k.record_latency("munmap", op.cycles)
        k.emit("munmap", op.start, process=proc.pid, cpu=op.cpu, pages=rec.npages, cycles=op.cycles,
               deltas=k.counters.delta(before))
        return self.workload.after(rec, op.t, proc)

    def _madvise(self, op: Op, rec: Madvise):
        proc = self.k.procs[rec.pid]
        if proc.state == "running":
            uvm_madvise(self.k, op, proc, rec.start, rec.npages, rec.advice)
            self.k.record_latency("madvise", op.cycles)
        return self.workload.after(rec, op.t, proc)

    def _mprotect(self, op: Op, rec: Mprotect):
        proc = self.k.procs[rec.pid]
        uvm.uvm_map_protect(self.k, op, proc, rec.start, rec.npages, rec.prot)
        self.k.record_latency("mprotect", op.cycles)
        return self.workload.after(rec, op.t, proc)

    def _mmap(self, op: Op, rec: Mmap):
        proc = self.k.procs[rec.pid]
        if rec.fixed and any(e.start < rec.start + rec.npages and rec.start < e.end for e in proc.map.entries):
            uvm.uvm_unmap(self.k, op, proc, rec.start, rec.npages, "munmap")
            self.k.counters["mmap_fixed_unmaps"] += 1
        obj = self.shared_object(rec.obj) if rec.obj else None
        uvm.uvm_map(self.k, op, proc, rec.start, rec.npages, obj, rec.offset, rec.prot, rec.prefault, rec.touch)
        return self.workload.after(rec, op.t, proc)

    def _miss(self, op: Op, rec: Miss) -> None:
        """A TLB miss that found no valid PTE at quantum time: fault it in now (or walk, if
        another CPU's fault mapped it in between)."""
        k = self.k
        proc = k.procs[rec.pid]
        view = k.views[op.cpu]
        pmap = proc.pmap
        if proc.state != "running" or view.curpmap is not pmap or proc.map.lookup(rec.va) is None:
            k.counters["misses_dropped"] += 1    # the thread left, or the range was unmapped first
            return
        pte = pmap.pte(rec.va)                   # (the CPU paid the walk that found no PTE)
        if pte is not None:
            k.counters["page_walks"] += 1
            pte.ref = True
        else:
            uvm.uvm_fault(k, op, proc, rec.va, write=None)     # a miss does not say read or write
        if view.fills_pmap is not pmap:
            view.fills_pmap, view.fill_vas = pmap, []
        view.fill_vas.append(rec.va)
