"""The progress watchdog: a run that can no longer progress fails naming why, instead of
running on to `run.max_epochs`.

This model can stop making progress in two ways, and each is detected exactly:

- **stranded**: the workload has not finished, yet none of its operations is queued. Only a
  workload operation's completion moves a workload on (`Workload.after`); pagedaemon runs and
  faults never do, so nothing can finish it any more. Checked at the end of every epoch.
- **starved**: an operation has waited for its CPU for more than `run.stall_epochs` epochs, and
  the work holding that CPU now was due after it. Kernel operations on one CPU run in the order
  they fell due, so an operation can be overtaken only by work started from another CPU: a
  synchronous pagedaemon run (`uvm_wait` below freemin runs it on the pagedaemon's CPU for the
  allocating CPU). When allocators keep that CPU busy, its kernel clock runs away from the epoch
  clock and an operation waiting there (an exit, say) never runs: the livelock this guards
  against. A wait behind one long operation, or behind a queue of operations each due before
  it, ends by itself and is not a stall.
"""

from __future__ import annotations

from smpsim.errors import NoProgress


def check_stranded(k, workload, has_foreground: bool) -> None:
    """Fail when the workload waits for operations of its own that are no longer queued."""
    if has_foreground or workload.finished():
        return
    raise NoProgress(
        "stranded",
        f"at epoch {k.epoch} the workload has not finished ({workload.outstanding} operations "
        f"outstanding) but none of its operations is queued, so nothing can finish it; this is a "
        f"bug in the workload or in a design strategy, not in the config",
        outstanding=workload.outstanding)


def check_starved(k, event, end: int) -> None:
    """Called when `event` must wait again for its CPU: fail when it has waited more than
    run.stall_epochs epochs and is being overtaken by work due after it."""
    q = k.config.machine.quantum_cycles
    limit = k.config.run.stall_epochs
    waited = (end - event.due) // q
    view = k.views[event.cpu]
    # a background operation (a queued pagedaemon run) overtaken by synchronous pagedaemon runs has
    # its work done by them: it is redundant, not starved
    if waited <= limit or view.busy_due <= event.due or event.op.background:
        return
    raise NoProgress(
        "starved",
        f"{describe(k, event.op)} on cpu{event.cpu}, due at epoch {event.due // q}, has waited {waited} "
        f"epochs (run.stall_epochs={limit}) and was overtaken {event.overtaken} times by work due after "
        f"it, last by {view.busy_with}; cpu{event.cpu}'s kernel clock is at epoch {view.busy_until // q}, "
        f"the epoch clock at {end // q - 1}. Move machine.pagedaemon_cpu off the workload's CPUs, give "
        f"it more memory (machine.phys_pages), or raise run.stall_epochs if this wait is what you "
        f"mean to measure",
        cpu=event.cpu, operation=describe(k, event.op), due_epoch=event.due // q, waited_epochs=waited,
        overtaken=event.overtaken)


def describe(k, op) -> str:
    """An operation as a user reads it: its kind and, when it has one, its process."""
    kind = type(op).__name__
    pid = getattr(op, "pid", None)
    proc = k.procs.get(pid) if pid is not None else None
    return f"{kind} of process {pid} ({proc.name})" if proc is not None else kind
