"""Run directories (docs/rundir.md): layout, run.json status, and the per-point log writers."""

from __future__ import annotations

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


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data) -> None:
    """Write atomically so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def write_toml(path: Path, data: dict) -> None:
    path.write_text(tomli_w.dumps(_drop_none(data)))


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


class EventLog:
    """events.jsonl for one point: structlog JSON lines, flushed after every batch."""

    def __init__(self, path: Path, point: str):
        self.file = open(path, "a", buffering=1)
        self.point = point
        self.seq = 0
        self.log = structlog.wrap_logger(
            structlog.PrintLogger(self.file),
            processors=[structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
                        structlog.processors.JSONRenderer(sort_keys=False)],
            context_class=dict)
        if path.stat().st_size:
            # resuming: continue the sequence
            with open(path) as f:
                self.seq = sum(1 for _ in f)

    def write(self, events: list[dict], policy: str) -> None:
        for ev in events:
            ev = dict(ev)
            name = ev.pop("event")
            self.log.info(name, seq=self.seq, policy=policy, point=self.point, **ev)
            self.seq += 1
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class TraceLog:
    """messages.msgpack: a stream of msgpack maps, one per exchange."""

    def __init__(self, path: Path):
        self.file = open(path, "ab")

    def write(self, records: list[dict], policy: str) -> None:
        for r in records:
            self.file.write(msgpack.packb(dict(r, policy=policy), use_bin_type=True))
        self.file.flush()

    def close(self) -> None:
        self.file.close()
