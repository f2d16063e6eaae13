"""Every (point, policy) simulation of a run as an independent unit: scheduled, logged in parts, assembled.

`execute` lays out each point directory, turns every simulation that has not
completed (on --resume: whose part has no result) into a scheduler `Job`, runs
them up to `parallel` at once (`scheduler.run_all`), and completes a point
as soon as its last simulation does: its events.jsonl and messages.msgpack
assembled from the parts in policy order, its summary.json, then its run.json
"completed". The returned entries are in config order (points, then policies)
whatever order the simulations finished in, so summary.json is the same as a
sequential run's. Where each simulation ran (the backend's `placements`) goes
into the top-level run.json under "simulations".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from smpsim.experiments.scheduling import parts
from smpsim.experiments.scheduling.scheduler import Job, run_all
from smpsim.experiments.workloads import make_workload


@dataclass
class Point:
    index: int
    name: str
    params: dict
    data: dict                   # raw point config
    cfg: object                  # validated point config
    pdir: Path
    status: dict = field(default_factory=dict)
    left: set = field(default_factory=set)          # policy indices not completed yet
    entries: dict = field(default_factory=dict)     # policy index -> summary entry


class _Sink:
    """A simulation's sink: its part logs; epochs to the progress only when it runs alone."""

    def __init__(self, logs: parts.PartLogs, policy: str, name: str, progress, stop: threading.Event, alone: bool):
        self.logs, self.policy, self.name, self._progress, self.stop = logs, policy, name, progress, stop
        self.alone = alone

    def events(self, events):
        self.logs.events.write(events, self.policy)
        for e in events:
            if e.get("event") == "starved":
                self._progress.note(
                    f"note: {self.name}: {e['operation']} on cpu{e['cpu']} has waited "
                    f"{e['waited_epochs']} epochs for its CPU (past run.stall_epochs), held by "
                    f"{e['held_by']}; its wait is in the results (a `starved` event in events.jsonl)")
        if self.stop.is_set():
            raise KeyboardInterrupt("stopped")

    def trace(self, records):
        if self.logs.trace is not None:
            self.logs.trace.write(records, self.policy)

    def progress(self, epoch, total):
        if self.alone:
            self._progress.epochs(epoch, total)


def _sim_name(point: Point, policy) -> str:
    return f"{point.name}/{policy.name}"


def execute(ctx, points: list[Point], backend, parallel: int) -> list[dict]:
    """Run every simulation of `points` not yet completed; return all entries in config order.

    `ctx` is the runner's run context: req, check, status (top run.json dict), progress, and the callbacks
    write_top(), start_point(point), finish_point(point, entries), fail_point(point, exc, policy)."""
    jobs, owner = [], {}
    for point in points:
        for pi, policy in enumerate(point.cfg.policies):
            if pi not in point.left:
                continue
            job = Job(_sim_name(point, policy), _runner(ctx, point, pi, policy, backend, parallel <= 1))
            jobs.append(job)
            owner[id(job)] = (point, pi, policy)
    stop = threading.Event()
    ctx.stop = stop

    def on_start(job):
        point, pi, policy = owner[id(job)]
        ctx.progress.sim_started(job.name, policy.name)

    def on_done(job, entry):
        point, pi, policy = owner[id(job)]
        point.entries[pi] = entry
        point.left.discard(pi)
        where = getattr(backend, "placements", {}).get((point.name, policy.name))
        if where is not None:
            ctx.status.setdefault("simulations", {})[job.name] = where
        ctx.progress.sim_finished(job.name)
        if not point.left:
            ctx.finish_point(point, [point.entries[i] for i in sorted(point.entries)])
        ctx.write_top()

    def on_fail(job, exc):
        point, pi, policy = owner[id(job)]
        if not isinstance(exc, KeyboardInterrupt):
            _name_it(exc, job.name)
        ctx.progress.sim_finished(job.name)
        ctx.fail_point(point, exc, policy, job.name)

    abort = getattr(backend, "abort", lambda: None)
    run_all(jobs, parallel, on_start=on_start, on_done=on_done, on_fail=on_fail, abort=abort, stop=stop,
            tick=ctx.progress.tick)
    return [p.entries[i] for p in points for i in sorted(p.entries)]


def _name_it(exc: BaseException, name: str) -> None:
    """Put the simulation's name in front of the error's message (once)."""
    try:
        if not getattr(exc, "simulation", None):
            exc.simulation = name
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (f"{name}: {exc.args[0]}", *exc.args[1:])
    except (AttributeError, TypeError):
        pass


def _runner(ctx, point: Point, pi: int, policy, backend, alone: bool):
    def run() -> dict:
        logs = parts.PartLogs(point.pdir, pi, point.name, ctx.req.trace)
        sink = _Sink(logs, policy.name, _sim_name(point, policy), ctx.progress, ctx.stop, alone)
        try:
            result = backend.run_point(point.cfg, policy, workload=make_workload(point.cfg), point=point.name,
                                       check=ctx.check, trace=ctx.req.trace, sink=sink)
        except BaseException as e:
            _log_end(logs, policy.name, e)
            logs.close()
            raise
        entry = {"point": point.name, "params": point.params, "policy": policy.name,
                 "switches": policy.switches(), **result}
        logs.complete(entry)
        return entry
    return run


def _log_end(logs: parts.PartLogs, policy: str, e: BaseException) -> None:
    """The last line of a simulation that did not complete says why."""
    status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
    if isinstance(e, KeyboardInterrupt):
        error = {"type": "KeyboardInterrupt", "message": "interrupted"}
    else:
        error = {"type": type(e).__name__, "message": str(e)}
    try:
        logs.events.write([{"event": "run.end", "status": status, "error": error, "sim_cycles": None,
                            "epoch": None}], policy)
    except Exception:  # noqa: BLE001 - a full disk must not hide the error
        pass
