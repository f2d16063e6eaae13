"""SIGINT and SIGTERM end a run as "interrupted", recording which of the two came.

`smpsim run` installs the handlers for its duration (:func:`handled`); each
raises :class:`~smpsim.errors.Interrupted`, a KeyboardInterrupt, so every path
that cleans up after Ctrl-C (actors killed, logs closed, run.json written)
cleans up after SIGTERM too. The exit status is 128 + the signal number (130
for SIGINT, 143 for SIGTERM), as a shell reports a process killed by it.

`ray.init` installs its own SIGTERM handler (it calls ``sys.exit(15)``, which
skips smpsim's cleanup and leaves run.json "running"), so the runner calls
:func:`reinstall` once the Ray backend is connected. A signal that comes while
the run is already cleaning up is remembered but not raised again: cleanup is
bounded, and a second Ctrl-C must not cut the status write short.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from smpsim.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_active = False
_raised = False
_last: int | None = None


def _handler(signum, frame):
    global _raised, _last
    _last = signum
    if _raised:
        return                       # already unwinding: let the cleanup finish
    _raised = True
    raise Interrupted(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def handled():
    """smpsim's SIGINT/SIGTERM handlers for the duration; the previous ones are restored afterwards."""
    global _active, _raised, _last
    if not _main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    _active, _raised, _last = True, False, None
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        _active = False
        for s, h in saved.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def reinstall() -> None:
    """Put smpsim's handlers back where a library replaced them (ray.init's SIGTERM handler)."""
    if _active and _main_thread():
        for s in SIGNALS:
            if signal.getsignal(s) is not _handler:
                signal.signal(s, _handler)


def received() -> int | None:
    """The signal received while the handlers were installed, if any.

    An exception raised by a handler does not always arrive as itself: CPython turns one that
    lands in the middle of an import into "TypeError: expected a message argument" (seen when a
    signal came while Ray imported pydantic.v1 for its first actor). So whatever ends a run after
    a signal came is taken as that interruption.
    """
    return _last


def as_interrupt(exc: BaseException) -> BaseException:
    """`exc`, or Interrupted(signal) when a signal came and `exc` is what it surfaced as."""
    if isinstance(exc, KeyboardInterrupt) or _last is None:
        return exc
    return Interrupted(_last)


def signum_of(exc: BaseException) -> int:
    """The signal behind a KeyboardInterrupt: its own, else the last one received, else SIGINT.

    (Ray turns an exception raised by a handler during `ray.get` into a plain KeyboardInterrupt.)
    """
    n = getattr(exc, "signum", None)
    if n is None:
        n = _last if _last is not None else signal.SIGINT
    return int(n)


def signal_name(exc: BaseException) -> str:
    return signal.Signals(signum_of(exc)).name


def exit_code(exc: BaseException) -> int:
    """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum_of(exc)
