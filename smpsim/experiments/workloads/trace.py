"""trace: replay a recorded program (`smpsim trace record` / `import`) under the simulated design.

The trace is read as a stream, an epoch ahead of the simulation (`due`), never loaded whole.
Its schedule is replayed open-loop: each event starts at its recorded time, converted to
cycles with `machine.ghz`, unless its address space is still busy with earlier simulated
work, when it waits and the lag is counted (`trace_lag_*`); simulated costs never reorder a
space's events. What each CPU runs is the recorded `sched_switch` timeline (`pick`), rounded to
the quantum (the task a CPU runs at the end of each quantum; a task switched in and out within
one quantum is never seen: `trace_switches_unseen`): a thread of the command's tree runs its
process's pmap; another user task runs the pmap of one process standing for all of them (it
maps nothing, so the command's mm is switched away as on the real CPU); the idle task and
kernel threads leave the CPU's mm loaded lazily. Running threads make no synthetic accesses:
the recorded faults are the program's accesses. Epochs where nothing is due are skipped.

Spaces, chains and what each recorded action becomes: trace_tasks and trace_calls.
"""

from __future__ import annotations

import dataclasses

from smpsim.errors import SimulationError
from smpsim.experiments.workloads import trace_calls
from smpsim.experiments.workloads.trace_ranges import AnonRanges
from smpsim.experiments.workloads.base import Workload
from smpsim.experiments.workloads.trace_tasks import BARRIER, Space, Step, Task, is_kernel_thread
from smpsim.trace import events as ev
from smpsim.trace.format import TraceReader
from smpsim.vm.operations import Exec, Exit, Fork, Scheduled, Spawn, Teardown
from smpsim.vm.uvm import Thread


class TraceReplay(Workload):
    picks_threads = True
    user_accesses = False

    def __init__(self, config):
        super().__init__(config)
        self.hz = config.machine.clock_hz
        with TraceReader(self.w.trace) as r:          # the header now; the events once bound
            h = r.header
        self.start_ns, self.end_ns = h["start_ns"], h.get("end_ns", h["start_ns"])
        self.end_cycles = self._cycles(self.end_ns)
        self.tasks = {tid: Task(tid, tgid, comm) for tid, tgid, comm, in_tree in h["tasks"] if in_tree}
        self.kernel = {tid for tid, _, comm, in_tree in h["tasks"] if not in_tree and is_kernel_thread(tid, comm)}
        self.kernel.add(0)
        self.by_tgid: dict[int, Space] = {}
        self.on_cpu: list = [0] * self.ncpus
        self.switch_epoch = [-1] * self.ncpus
        self.other = None
        self.reader = self._stream = self._next = None
        self._new: list[Scheduled] = []

    def bind(self, k) -> None:
        """The kernel to drive, where the simulation runs (on Ray: in the VM actor, so the open
        trace never travels): the trace's events start streaming here."""
        super().bind(k)
        self.reader = TraceReader(self.w.trace)
        self._stream = self.reader.events()
        self._advance()

    # --- the stream ------------------------------------------------------------------------
    def _cycles(self, t_ns: int) -> int:
        return (t_ns - self.start_ns) * self.hz // 1_000_000_000

    def _advance(self) -> None:
        item = next(self._stream, None)
        if item is None:
            self.reader.close()
            self._next = None
        else:
            self._next = (item[0], self._cycles(item[1]), *item[2:])

    def due(self, end: int) -> list[Scheduled]:
        while self._next is not None and self._next[1] < end:
            kind, t, cpu, tid, *args = self._next
            self._advance()
            if t > self.end_cycles:
                raise SimulationError(f"the trace has an event at {t:,} cycles, after its header's end_ns "
                                      f"({self.end_cycles:,} cycles): a damaged or hand-made header; re-import it")
            if not 0 <= cpu < self.ncpus:
                raise SimulationError(f"the trace has an event on cpu{cpu} but machine.ncpus={self.ncpus}: "
                                      f"set machine.ncpus to the recording machine's CPU count")
            self.k.counters["trace_events"] += 1
            self._event(kind, t, cpu, tid, args)
        return self._take()

    def has_more(self) -> bool:
        return self._next is not None

    def next_time(self) -> int | None:
        return self._next[1] if self._next is not None else None

    def estimated_epochs(self) -> int:
        return self._cycles(self.end_ns) // self.q + 2

    def _take(self) -> list[Scheduled]:
        out, self._new = self._new, []
        return out

    # --- events ----------------------------------------------------------------------------
    def _event(self, kind: int, t: int, cpu: int, tid: int, args: list) -> None:
        if kind == ev.SWITCH:
            self._switch(cpu, args[1], t)
            return
        task = self.tasks.get(tid)
        if task is None or kind in (ev.FLUSH, ev.CSD, ev.IPI):
            return                     # another task's, or the real kernel's ground truth
        if kind == ev.SYS_ENTER:
            task.enter = (args[0], tuple(args[1:]))
        elif kind == ev.SYS_EXIT:
            self._sys_exit(task, t, cpu, args[0], args[1])
        elif kind == ev.FAULT:
            self._push(self._space(task, t, cpu), t, cpu, ("fault", args[0] >> trace_calls.PAGE_SHIFT, args[1]),
                       lane=tid)
        elif kind == ev.FORK:
            self._fork(task, t, cpu, args[0], args[1])
        elif kind == ev.EXEC:
            self._exec(task, t, cpu)
        elif kind == ev.EXIT:
            self._exit(task, t, cpu, args[0])

    def _switch(self, cpu: int, next_tid: int, t: int) -> None:
        cnt = self.k.counters
        cnt["trace_switches"] += 1
        epoch = t // self.q
        if self.switch_epoch[cpu] == epoch:
            cnt["trace_switches_unseen"] += 1
        self.switch_epoch[cpu] = epoch
        self.on_cpu[cpu] = next_tid

    def _sys_exit(self, task: Task, t: int, cpu: int, code: int, ret: int) -> None:
        enter, task.enter = task.enter, ()
        if not enter or enter[0] != code:
            return                     # its sys_enter came before the recording began
        if ret < 0:
            self.k.counters["trace_calls_failed"] += 1
            return
        self._push(self._space(task, t, cpu), t, cpu, ("call", code, enter[1], ret))

    def _fork(self, task: Task, t: int, cpu: int, child_tid: int, shares_mm: int) -> None:
        child = self.tasks.get(child_tid)
        if child is None:
            return
        space = self._space(task, t, cpu)
        if child.tgid == task.tgid:                # a thread
            child.space = space
            space.live += 1
        elif shares_mm != 0:
            # vfork (1); clone3 outside the thread group (-1) is glibc's posix_spawn, CLONE_VM|CLONE_VFORK
            # (glibc's fork() uses clone): the child runs on its parent's mm until it execs
            child.space, child.borrowed = space, True
        else:
            new = Space(child.comm, live=1)
            child.space = self.by_tgid[child.tgid] = new
            self._push(space, t, cpu, ("fork", new, child.comm))

    def _exec(self, task: Task, t: int, cpu: int) -> None:
        if task.borrowed or task.space is None:
            task.borrowed = False
            task.space = None
            self._space(task, t, cpu)              # a new process with a new, empty vmspace
        else:
            self._push(task.space, t, cpu, ("exec",))

    def _exit(self, task: Task, t: int, cpu: int, group_dead: int) -> None:
        task.alive = False
        space = task.space
        if task.borrowed or space is None:
            return
        space.live -= 1
        if group_dead == 1 or (group_dead == -1 and space.live <= 0):
            self._push(space, t, cpu, ("exit",))

    def _space(self, task: Task, t: int, cpu: int) -> Space:
        """The task's address space; one met for the first time (a process running when the
        recording began, or a vfork child's after exec) is spawned now."""
        if task.space is None:
            space = self.by_tgid.get(task.tgid)
            if space is None:
                space = Space(task.comm, live=0)
                self.by_tgid[task.tgid] = space
                self._issue(t, cpu, Spawn(task.comm, (cpu,), (), ctx=Step(space, space)))
            task.space = space
            space.live += 1
        return task.space

    # --- chains ----------------------------------------------------------------------------
    def _push(self, space: Space, t: int, cpu: int, action: tuple, lane=BARRIER) -> None:
        """Queue a recorded event on its space: a fault in its thread's lane, anything else as a
        barrier (trace_tasks)."""
        if space.dead:
            self.k.counters["trace_events_orphaned"] += 1
            return
        space.pending.append((t, cpu, lane, action))
        self._launch(space)

    def _launch(self, space: Space, key=BARRIER, lane=None) -> None:
        """Issue what the space may start now: the next operation of `lane` (whose operation just
        finished; a lane is otherwise busy from its event's first operation to its last), then the
        events at the head of its queue for as long as they are admitted."""
        if space.proc is None:
            return                                 # its spawn or fork has not run yet
        if lane is not None and lane.ops:
            self._next_op(space, key, lane)
        while space.pending and space.admits(space.pending[0][2]):
            t, cpu, key, action = space.pending.popleft()
            lane = space.lane(key)
            # the event's first operation is due at its recorded time; the rest follow it
            ops = self._operations(space, cpu, action)
            lane.ops.extend((t if i == 0 else None, cpu, op) for i, op in enumerate(ops))
            if lane.ops:
                self._next_op(space, key, lane)

    def _next_op(self, space: Space, key, lane) -> None:
        t, cpu, op = lane.ops.popleft()
        if t is None:
            start = lane.free_at
        else:
            start = max(t, space.free_at if key is BARRIER else max(lane.free_at, space.barrier_at))
            if start > t:
                cnt = self.k.counters
                cnt["trace_lag_events"] += 1
                cnt["trace_lag_cycles_total"] += start - t
                cnt["trace_lag_cycles_max"] = max(cnt["trace_lag_cycles_max"], start - t)
        lane.busy = True
        self._issue(start, cpu, dataclasses.replace(op, ctx=Step(space, op.ctx, key)))

    def _issue(self, t: int, cpu: int, op) -> None:
        self.outstanding += 1
        self._new.append(Scheduled(t, cpu, op))

    def _operations(self, space: Space, cpu: int, action: tuple) -> list:
        proc, what = space.proc, action[0]
        if what == "fault":
            return trace_calls.fault(space, action[1], action[2], self.k.counters)
        if what == "call":
            return trace_calls.syscall(space, action[1], action[2], action[3], self.k.counters)
        if what == "fork":
            action[1].anon = space.anon.copy()       # the child's map is the parent's as it is now
            return [Fork(proc.pid, action[2], (cpu,), wait=False, ctx=action[1])]
        if what == "exec":
            space.brk, space.anon = None, AnonRanges()
            return [Exec(proc.pid, ())]
        space.dead = True
        self.k.counters["trace_events_orphaned"] += len(space.pending)
        space.pending.clear()
        return [Exit(proc.pid)]

    def initial_operations(self) -> list[Scheduled]:
        # one process stands for every user task outside the command's tree (a CPU running one
        # has switched the command's mm away); it maps nothing
        self.outstanding += 1
        return [self.spawn(0, 0, "other tasks", range(self.ncpus), ())]

    def after(self, op, t: int, proc) -> list[Scheduled]:
        self.outstanding -= 1
        step = op.ctx
        if step is None:
            self.other = proc
            return self._take()
        space = step.space
        if isinstance(op, Teardown):
            return self._take()
        if isinstance(op, Spawn):
            space.proc, space.free_at, space.barrier_at = proc, t, t
        else:
            if isinstance(op, Fork):
                child = step.creates
                child.proc, child.free_at, child.barrier_at = proc, t, t
                self._launch(child)
            lane = space.lanes[step.lane]
            space.finished(lane, step.lane, t)
            self._launch(space, step.lane, lane)
            return self._take()
        self._launch(space)
        return self._take()

    # --- the CPUs ----------------------------------------------------------------------------
    def pick(self, view, t: int):
        tid = self.on_cpu[view.id]
        task = self.tasks.get(tid)
        if task is None:
            if tid in self.kernel or self.other is None:
                return None
            return self.other.threads[view.id]
        space = task.space
        proc = space.proc if space is not None else None
        if proc is None or proc.state != "running":
            return None
        if task.thread is None or task.thread.proc is not proc:
            task.thread = Thread(proc, len(proc.threads), view.id)
            proc.threads.append(task.thread)
        return task.thread
