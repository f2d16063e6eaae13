"""Running the simulations of a run, up to N at once, in config order of starting.

`run_all(jobs, parallel, ...)` starts jobs in list order, at most `parallel` at a
time, each in a daemon thread of its own (the thread mostly waits on Ray: the
work is in actors or tasks); with `parallel` 1 each runs in the calling thread,
exactly as a sequential run always has. Completions are handled in the calling
thread (`on_done`, `on_fail`), in whatever order they come: what a job writes
must not depend on it (see `parts`).

A failed job stops new ones from starting; the ones running finish (their
results are kept for --resume), then the first failure is raised. Ctrl-C or
SIGTERM (a KeyboardInterrupt in the calling thread) sets `stop` (jobs check it
between steps), calls `abort()` (the backend kills every running simulation's
actors or tasks), waits a bounded time for the threads to notice, and
re-raises.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable

POLL_S = 0.5
STOP_WAIT_S = 60.0


@dataclass
class Job:
    name: str                       # "point/policy", for messages
    run: Callable[[], object]       # the simulation; returns its result


def run_all(jobs: list[Job], parallel: int, *, on_start: Callable[[Job], None], on_done: Callable[[Job, object], None],
            on_fail: Callable[[Job, BaseException], None], abort: Callable[[], None], stop: threading.Event,
            tick: Callable[[], None] = lambda: None) -> None:
    if parallel <= 1:
        for job in jobs:
            on_start(job)
            try:
                result = job.run()
            except BaseException as e:
                on_fail(job, e)
                raise
            on_done(job, result)
        return
    done: queue.Queue = queue.Queue()
    pending = list(jobs)
    running: dict[int, Job] = {}
    failure: BaseException | None = None

    def worker(job: Job) -> None:
        try:
            done.put((id(job), job.run(), None))
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread
            done.put((id(job), None, e))

    try:
        while pending or running:
            while pending and len(running) < parallel and failure is None and not stop.is_set():
                job = pending.pop(0)
                on_start(job)
                running[id(job)] = job
                threading.Thread(target=worker, args=(job,), name=f"smpsim-{job.name}", daemon=True).start()
            if not running:
                break
            try:
                key, result, err = done.get(timeout=POLL_S)
            except queue.Empty:
                tick()
                continue
            job = running.pop(key)
            if err is None:
                on_done(job, result)
            else:
                on_fail(job, err)
                if failure is None:
                    failure = err
    except BaseException:
        stop.set()
        abort()
        _drain(done, running, on_fail)
        raise
    if failure is not None:
        raise failure


def _drain(done: queue.Queue, running: dict, on_fail) -> None:
    """After an abort: wait (bounded) for the running jobs to end, recording each as failed."""
    import time
    deadline = time.monotonic() + STOP_WAIT_S
    while running and time.monotonic() < deadline:
        try:
            key, _, err = done.get(timeout=POLL_S)
        except queue.Empty:
            continue
        except BaseException:  # noqa: BLE001 - a second Ctrl-C: stop waiting
            break
        job = running.pop(key, None)
        if job is not None:
            try:
                on_fail(job, KeyboardInterrupt())
            except Exception:  # noqa: BLE001
                pass
    for job in list(running.values()):
        try:
            on_fail(job, KeyboardInterrupt())
        except Exception:  # noqa: BLE001
            pass
