"""The processes of the local Ray clusters smpsim starts: finding, stopping and reaping them.

Each local cluster smpsim starts is registered (a small file per driver pid) so that a later run can
stop what a driver killed outright (SIGKILL) left behind; `stop_session` stops every process of a
session and waits for them to go.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

import ray

# --- processes of the local clusters smpsim started -----------------------------------------------------

STOP_GRACE_S = 5.0         # SIGTERM, then SIGKILL after this
STOP_WAIT_S = 30.0         # at most this long for killed processes to go


def registry_dir() -> Path:
    """Where the local clusters started by smpsim drivers of this user are registered."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"smpsim-{os.getuid()}" / "ray-sessions"


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` (field 22 of /proc/PID/stat), None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    now = _start_time(pid)
    return now is not None and (start is None or now == start)


def session_processes(session_dir: str) -> dict[int, str]:
    """{pid: start time} of the live processes of a Ray session (see the module docstring)."""
    session_dir = os.path.realpath(session_dir)
    needle = os.path.basename(session_dir)
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        start = _start_time(pid)
        if start is None:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            found[pid] = start
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(session_dir + os.sep):
                found[pid] = start
                break
    return found


def _signal_all(procs: dict[int, str], sig: int) -> None:
    for pid, start in procs.items():
        if _alive(pid, start):          # the start time guards against a reused pid
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _wait_gone(procs: dict[int, str], timeout_s: float) -> dict[int, str]:
    """Wait (polling /proc, at most `timeout_s`) until the processes are gone; return those left."""
    deadline = time.monotonic() + timeout_s
    left = dict(procs)
    while left:
        left = {p: s for p, s in left.items() if _alive(p, s)}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return left


def stop_session(session_dir: str, grace_s: float = STOP_GRACE_S) -> dict[int, str]:
    """Stop every process of a Ray session: SIGTERM, SIGKILL what is left after `grace_s`; return survivors."""
    procs = session_processes(session_dir)
    if not procs:
        return {}
    _signal_all(procs, signal.SIGTERM)
    left = _wait_gone(procs, grace_s)
    if left:
        _signal_all(left, signal.SIGKILL)
        left = _wait_gone(left, STOP_WAIT_S)
    return left


def register(session_dir: str) -> None:
    """Record that this process started the local cluster of `session_dir` (best effort)."""
    try:
        d = registry_dir()
        d.mkdir(parents=True, exist_ok=True)
        info = {"driver_pid": os.getpid(), "driver_start": _start_time(os.getpid()), "session_dir": session_dir}
        tmp = d / f".{os.getpid()}.tmp"
        tmp.write_text(json.dumps(info))
        os.replace(tmp, d / f"{os.getpid()}.json")
    except OSError:
        pass


def unregister(pid: int) -> None:
    try:
        (registry_dir() / f"{pid}.json").unlink()
    except OSError:
        pass


def reap_dead_sessions() -> list[str]:
    """Stop the processes of every registered session whose driver is dead; return those sessions."""
    reaped = []
    try:
        files = list(registry_dir().glob("*.json"))
    except OSError:
        return reaped
    for f in files:
        try:
            info = json.loads(f.read_text())
            pid, start, session = int(info["driver_pid"]), info.get("driver_start"), str(info["session_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            f.unlink(missing_ok=True)
            continue
        if _alive(pid, start):
            continue                      # its driver is running: not ours to touch
        # the agents ignore SIGTERM; their driver is gone, so nothing waits for a graceful stop
        stop_session(session, grace_s=0.5)
        f.unlink(missing_ok=True)
        reaped.append(session)
    return reaped


def session_dir() -> str | None:
    """The Ray session directory of this driver's cluster (where its processes keep their files and logs),
    None when Ray is not initialised."""
    if not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    return os.path.join(context.get_temp_dir(), context.get_session_name())
