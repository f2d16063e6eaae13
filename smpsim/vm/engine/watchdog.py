"""The progress watchdog: a run that can no longer progress fails naming why, instead of
running on to `run.max_epochs`; an operation kept from its CPU too long is flagged.

- **stranded** (fails the run): the workload has not finished, yet none of its operations is
  queued. Only a workload operation's completion moves a workload on (`Workload.after`);
  pagedaemon runs and faults never do, so nothing can finish it any more. Checked at the end
  of every epoch; exact.
- **starved** (flagged with a `starved` event): an operation has waited more than
  `run.stall_epochs` epochs for its CPU, and the work holding the CPU fell due after it.
  Operations waiting for one CPU start in the order they fell due (`events`), with one
  exception: a synchronous pagedaemon run. An allocation below freemin (`uvm_wait`, from any
  CPU's operation or fault, the pagedaemon's own CPU included) runs the pagedaemon on its CPU
  inside the allocating handler, which is atomic, so the run goes ahead of operations already
  waiting there. While allocators keep that CPU busy, an operation waiting on it (an exit, say)
  keeps being overtaken. Usually this ends (the allocators stop or memory recovers) and the
  run completes with the long wait in its numbers, which the event says.
- **no progress** (fails the run, cause "starved"): an operation is starved and no workload
  operation has completed anywhere for more than `run.stall_epochs` epochs — the livelock where
  the operation that would relieve the pressure (an exit freeing its pages) is the one kept
  from its CPU by the pagedaemon runs the pressure causes.

A wait is measured per operation from when it fell due to the end of the current epoch, and
looked at whenever the operation comes up for its CPU again.
"""

from __future__ import annotations

from smpsim.errors import NoProgress


class Watchdog:
    def __init__(self, k):
        self.k = k
        self.q = k.config.machine.quantum_cycles
        self.limit = k.config.run.stall_epochs
        self.last_completed = 0      # epoch a workload operation last completed in
        self.starved: dict = {}      # seq -> (event, facts at its last wait) of an operation starved now

    def ran(self, event) -> None:
        """`event`'s operation ran on its CPU."""
        if not event.op.background:
            self.last_completed = self.k.epoch
        self.starved.pop(event.seq, None)

    def waits(self, event, end: int) -> None:
        """`event` must wait again for its CPU (the epoch ends at `end`)."""
        view = self.k.views[event.cpu]
        # a queued pagedaemon run overtaken by synchronous ones has its work done by them
        if event.op.background or view.busy_due <= event.due or self._waited(event, end) <= self.limit:
            return
        facts = self._facts(event, end)
        if event.seq not in self.starved:
            self.k.emit("starved", end, **facts)
        self.starved[event.seq] = (event, facts)

    def end_of_epoch(self, workload, has_foreground: bool) -> None:
        """Fail a stranded workload, or a run where nothing completes while an operation starves."""
        k = self.k
        if not has_foreground and not workload.finished():
            raise NoProgress(
                "stranded",
                f"at epoch {k.epoch} the workload has not finished ({workload.outstanding} operations "
                f"outstanding) but none of its operations is queued, so nothing can finish it; this is a "
                f"bug in the workload or in a design strategy, not in the config",
                outstanding=workload.outstanding)
        idle = k.epoch - self.last_completed
        if self.starved and idle > self.limit:
            f = self._oldest()
            raise NoProgress("starved", self._message(f, idle), idle_epochs=idle, **f)

    def explain(self) -> str:
        """What is starved now, for a run that stops for another reason (run.max_epochs)."""
        if not self.starved:
            return ""
        f = self._oldest()
        return (f"; {f['operation']} on cpu{f['cpu']} has waited {f['waited_epochs']} epochs for its CPU, "
                f"held by {f['held_by']}")

    def _oldest(self) -> dict:
        """The facts of the starved operation that fell due first, its wait counted to now."""
        event, facts = min(self.starved.values(), key=lambda ef: ef[0].due)
        return dict(facts, waited_epochs=self._waited(event, (self.k.epoch + 1) * self.q))

    def _waited(self, event, end: int) -> int:
        return (end - event.due) // self.q

    def _facts(self, event, end: int) -> dict:
        view = self.k.views[event.cpu]
        held = view.busy_with              # an operation record, or what the pagedaemon wrote
        held_by = held if held is None or isinstance(held, str) else describe(self.k, held)
        return dict(cpu=event.cpu, operation=describe(self.k, event.op), due_epoch=event.due // self.q,
                    waited_epochs=self._waited(event, end), overtaken=event.overtaken, held_by=held_by,
                    cpu_clock_epoch=view.busy_until // self.q)

    def _message(self, f: dict, idle: int) -> str:
        times = "once" if f["overtaken"] == 1 else f"{f['overtaken']} times"
        return (f"no workload operation has completed for {idle} epochs (run.stall_epochs={self.limit}), and "
                f"{f['operation']} on cpu{f['cpu']}, due since epoch {f['due_epoch']}, has been kept from its "
                f"CPU for {f['waited_epochs']} epochs by work that fell due after it ({times}, last by "
                f"{f['held_by']}); cpu{f['cpu']}'s kernel work runs to epoch {f['cpu_clock_epoch']}, the "
                f"epoch clock is at {self.k.epoch}. The pagedaemon's synchronous runs (uvm_wait below "
                f"freemin) go ahead of what waits on its CPU: give it a CPU of its own (machine.ncpus one "
                f"higher, machine.pagedaemon_cpu set to that CPU) or more memory (machine.phys_pages)")


def describe(k, op) -> str:
    """An operation record as a user reads it: its type and, when it has one, its process."""
    kind = type(op).__name__
    pid = getattr(op, "pid", None)
    proc = k.procs.get(pid) if pid is not None else None
    return f"{kind} of process {pid} ({proc.name})" if proc is not None else kind
