"""Run directories (docs/rundir.md): layout, run.json status, and the per-point log writers.

Also what keeps run directories apart and intact:

* :func:`create_run_dir` makes the default ``runs/<UTC second>-<name>`` with
  ``os.mkdir`` (atomic), adding ``-2``, ``-3``... when that second's name is taken,
  so two runs started in the same second never share a directory;
* :class:`RunLock` holds an exclusive ``flock`` on ``RUN/.lock`` for the whole run,
  so a second process can neither run nor resume the same directory at once
  (the kernel drops the lock when the holder dies, so a killed run never
  leaves a stale lock behind);
* every JSON/TOML file is written atomically and durably (safeio.atomic_write),
  and :func:`write_status` records a final status even on a full disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import msgpack
import structlog
import tomli_w

import smpsim
from smpsim.errors import RunDirInUse
from smpsim.rundir.safeio import atomic_write, overwrite_in_place

LOCK_NAME = ".lock"
MAX_JSON_BYTES = 256 << 20          # the largest run.json/summary.json a resume reads back


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode()


def write_json(path: Path, data) -> None:
    """Write atomically and durably, so a crash never leaves half a file (nor a *.tmp)."""
    atomic_write(path, _json_bytes(data))


def write_status(path: Path, data) -> None:
    """Write a run.json; when a full disk refuses the temporary file, rewrite the old file over its
    own blocks instead (a status is a few hundred bytes), so "failed" is recorded all the same."""
    try:
        write_json(path, data)
    except OSError:
        if not path.is_file():
            raise
        overwrite_in_place(path, _json_bytes(data))


def read_json(path: Path):
    from smpsim.rundir.safeio import read_text
    return json.loads(read_text(path, limit=MAX_JSON_BYTES, what="run file", error=ValueError))


def toml_text(data: dict) -> str:
    """`data` as config.toml holds it (TOML has no null: None values are left out)."""
    return tomli_w.dumps(_drop_none(data))


def write_toml(path: Path, data: dict) -> None:
    atomic_write(path, toml_text(data).encode())


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(smpsim.__file__).parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def ray_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("ray")
    except Exception:
        return None


def base_status(config_name: str, seed: int, backend: str, address: str | None) -> dict:
    return {"status": "running", "config": config_name, "seed": seed, "backend": backend,
            "ray_address": address, "smpsim_version": smpsim.__version__, "ray_version": ray_version(),
            "python_version": platform.python_version(), "git_revision": git_revision(),
            "started_at": utc_now(), "ended_at": None, "error": None}


# --- creating and locking run directories ----------------------------------------------------

def create_run_dir(parent: Path, base: str, max_tries: int = 1000) -> Path:
    """A new directory `parent/base` (or `base-2`, `base-3`, ... when taken), created atomically."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, max_tries + 1):
        path = parent / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent / base}: {max_tries} run directories of that name already exist")


class RunLock:
    """An exclusive lock on RUN/.lock, held while a process runs or resumes RUN.

    flock(2) rather than a pid file: the kernel releases it when the holder exits or
    is killed, so there is never a stale lock to clear. The file stays (unlinking a
    lock file lets a third process lock a fresh inode while the second holds the old one).
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunDirInUse(f"{self.path.parent} is in use by another smpsim process{holder}; "
                              "wait for it to finish (or stop it), then resume") from None
        except OSError:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass                     # the pid is only for the message above; the lock is what counts
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)        # closing the descriptor drops the flock
            self.fd = None


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def close_durably(file) -> None:
    """Flush and fsync (a point counts as completed only once its logs are on disk), then close."""
    try:
        file.flush()
        os.fsync(file.fileno())
    finally:
        file.close()


class EventLog:
    """events.jsonl for one point: structlog JSON lines, flushed after every batch."""

    def __init__(self, path: Path, point: str):
        self.file = open(path, "a", buffering=1, encoding="utf-8")
        self.point = point
        self.seq = 0
        self.log = structlog.wrap_logger(
            structlog.PrintLogger(self.file),
            processors=[structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
                        structlog.processors.JSONRenderer(sort_keys=False)],
            context_class=dict)
        if path.stat().st_size:
            # resuming: continue the sequence
            with open(path, "rb") as f:
                self.seq = sum(1 for _ in f)

    def write(self, events: list[dict], policy: str) -> None:
        for ev in events:
            ev = dict(ev)
            name = ev.pop("event")
            self.log.info(name, seq=self.seq, policy=policy, point=self.point, **ev)
            self.seq += 1
        self.file.flush()

    def close(self) -> None:
        close_durably(self.file)


class TraceLog:
    """messages.msgpack: a stream of msgpack maps, one per exchange."""

    def __init__(self, path: Path):
        self.file = open(path, "ab")

    def write(self, records: list[dict], policy: str) -> None:
        for r in records:
            self.file.write(msgpack.packb(dict(r, policy=policy), use_bin_type=True))
        self.file.flush()

    def close(self) -> None:
        close_durably(self.file)
