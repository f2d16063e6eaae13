"""Progress on long runs: a rich progress bar on a terminal, plain periodic lines otherwise.

The epoch figure a backend reports as the total is the workload's own
estimate, which a run that does not make progress overruns; so the lines show
the estimate and the real bound (`run.max_epochs`) separately, and say so when
a run is far past its estimate. On a terminal the bar's total becomes
max_epochs once the estimate is overrun, instead of creeping towards "N of N".
"""

from __future__ import annotations

import sys
import time

OVERRUN = 4          # a run this many times past its estimate is flagged as possibly stuck


class Progress:
    def __init__(self, total_runs: int, enabled: bool = True, stream=None, max_epochs: int | None = None):
        self.stream = stream or sys.stderr
        self.total_runs = total_runs
        self.done_runs = 0
        self.enabled = enabled
        self.max_epochs = max_epochs
        self.tty = enabled and self.stream.isatty()
        self._rich = None
        self._last = 0.0
        self.label = ""
        self._expected: int | None = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
                TimeElapsedColumn
            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), transient=True, console=Console(file=self.stream))
            self._rich.start()
            self._runs = self._rich.add_task("points x policies", total=total_runs)
            self._epochs = self._rich.add_task("epochs", total=1)

    def note(self, text: str) -> None:
        """A line of information: above the bar on a terminal, else a plain line (when enabled); e.g. the
        estimate before the run, or how many simulations run at once."""
        if self._rich:
            self._rich.console.print(text)
        elif self.enabled:
            print(text, file=self.stream, flush=True)

    def start(self, point: str, policy: str, expected: int | None = None) -> None:
        """A new point x policy; `expected` is its estimated epochs (the backend's total stops saying
        once the run overruns it: it reports max(epoch, estimate))."""
        self.label = f"{point} / {policy}"
        self._expected = expected
        if self._rich:
            self._rich.update(self._epochs, description=f"epochs  {self.label}", completed=0, total=1)
        elif self.enabled:
            print(f"[{self.done_runs + 1}/{self.total_runs}] {self.label} ...", file=self.stream, flush=True)
            self._last = time.monotonic()

    def describe(self, epoch: int, estimate: int) -> str:
        """'epoch N (expected ~E, stops at run.max_epochs=M)', flagged when far past the estimate."""
        bound = f", stops at run.max_epochs={self.max_epochs}" if self.max_epochs else ""
        text = f"epoch {epoch} (expected ~{estimate}{bound})"
        if estimate and epoch > OVERRUN * estimate:
            text += f"; {epoch / estimate:.0f}x past the estimate: the run may not be making progress"
        return text

    def epochs(self, epoch: int, total: int) -> None:
        if total > epoch or not self._expected:
            self._expected = total
        total = self._expected or total
        if self._rich:
            over = epoch > total and self.max_epochs
            bar_total = self.max_epochs if over else max(total, epoch, 1)
            desc = f"epochs  {self.label}" + (f"  (past the estimate ~{total}; max {self.max_epochs})" if over else "")
            self._rich.update(self._epochs, completed=epoch, total=bar_total, description=desc)
        elif self.enabled and time.monotonic() - self._last > 5:
            print(f"    {self.label}: {self.describe(epoch, total)}", file=self.stream, flush=True)
            self._last = time.monotonic()

    def finish_run(self) -> None:
        self.done_runs += 1
        if self._rich:
            self._rich.update(self._runs, completed=self.done_runs)

    # --- simulations at once: done / running / waiting and an ETA ----------------------------------
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
