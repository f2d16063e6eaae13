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

    def close(self) -> None:
        if self._rich:
            self._rich.stop()
            self._rich = None
