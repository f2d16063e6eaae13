"""Progress on long runs: a rich progress bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total_runs: int, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.total_runs = total_runs
        self.done_runs = 0
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self._rich = None
        self._last = 0.0
        self.label = ""
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
                TimeElapsedColumn
            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), transient=True)
            self._rich.start()
            self._runs = self._rich.add_task("points x policies", total=total_runs)
            self._epochs = self._rich.add_task("epochs", total=1)

    def start(self, point: str, policy: str) -> None:
        self.label = f"{point} / {policy}"
        if self._rich:
            self._rich.update(self._epochs, description=f"epochs  {self.label}", completed=0, total=1)
        elif self.enabled:
            print(f"[{self.done_runs + 1}/{self.total_runs}] {self.label} ...", file=self.stream, flush=True)
            self._last = time.monotonic()

    def epochs(self, epoch: int, total: int) -> None:
        if self._rich:
            self._rich.update(self._epochs, completed=epoch, total=max(total, epoch, 1))
        elif self.enabled and time.monotonic() - self._last > 5:
            print(f"    {self.label}: epoch {epoch} of ~{max(total, epoch)}", file=self.stream, flush=True)
            self._last = time.monotonic()

    def finish_run(self) -> None:
        self.done_runs += 1
        if self._rich:
            self._rich.update(self._runs, completed=self.done_runs)

    # --- simulations at once: done / running / waiting and an ETA ----------------------------------
    def note(self, text: str) -> None:
        if self._rich:
            self._rich.console.print(text)
        elif self.enabled:
            print(text, file=self.stream, flush=True)

    def parallel(self, n: int, to_run: int) -> None:
        """`to_run` simulations will run, up to `n` at once."""
        self.at_once, self.waiting, self.running = n, to_run, set()
        self._t0 = time.monotonic()
        self._done0 = self.done_runs
        if n > 1:
            self.note(f"{to_run} simulation(s) to run, up to {n} at once")

    def sim_started(self, name: str, policy: str) -> None:
        if getattr(self, "at_once", 1) <= 1:
            point = name[: -len(policy) - 1] if name.endswith("/" + policy) else name
            self.start(point, policy)
            return
        self.waiting -= 1
        self.running.add(name)
        self._show(f"started {name}")

    def sim_finished(self, name: str) -> None:
        if getattr(self, "at_once", 1) <= 1:
            self.finish_run()
            return
        self.running.discard(name)
        self.done_runs += 1
        if self._rich:
            self._rich.update(self._runs, completed=self.done_runs)
        self._show(f"finished {name}")

    def tick(self) -> None:
        if self._rich:
            self._show(None)

    def counts(self) -> tuple[int, int, int, float | None]:
        """(done, running, waiting, ETA seconds or None) of the simulations."""
        done_here = self.done_runs - self._done0
        left = len(self.running) + self.waiting
        elapsed = time.monotonic() - self._t0
        eta = elapsed / done_here * left if done_here else None
        return self.done_runs, len(self.running), self.waiting, eta

    def line(self) -> str:
        done, running, waiting, eta = self.counts()
        text = f"simulations: {done}/{self.total_runs} done, {running} running, {waiting} waiting"
        return text + (f", ETA {_duration(eta)}" if eta is not None else ", ETA -")

    def _show(self, what: str | None) -> None:
        if self._rich:
            self._rich.update(self._epochs, description=self.line(), completed=0, total=1)
        elif self.enabled and what:
            print(f"[{self.line()}] {what}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._rich:
            self._rich.stop()
            self._rich = None


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
