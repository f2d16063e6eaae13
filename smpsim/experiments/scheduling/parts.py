"""Per-simulation part files: how simulations that run in any order give a point the logs of a sequential run.

Every (point, policy) simulation writes its own files under `<point>/parts/` as it
runs: `<i>.events.jsonl` (the point's event lines, numbered from 0 within the
part), `<i>.messages.msgpack` with --trace, and, once it has completed and its
logs are on disk, `<i>.result.json` (its summary entry) — `i` being the policy's
index in the config. A part with a result is complete: `--resume` keeps it and
reruns only the others. When every policy of a point is complete, `assemble`
writes the point's `events.jsonl` (parts in policy order, `seq` renumbered from
0 across the point) and `messages.msgpack` (parts concatenated in policy order):
byte for byte what a sequential run writes, apart from wall-clock fields. The
parts are removed once the point's run.json says completed (`discard`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from smpsim.rundir.files import EventLog, TraceLog, read_json, write_json

PARTS = "parts"


def parts_dir(pdir: Path) -> Path:
    return pdir / PARTS


def events_path(pdir: Path, i: int) -> Path:
    return parts_dir(pdir) / f"{i}.events.jsonl"


def trace_path(pdir: Path, i: int) -> Path:
    return parts_dir(pdir) / f"{i}.messages.msgpack"


def result_path(pdir: Path, i: int) -> Path:
    return parts_dir(pdir) / f"{i}.result.json"


def completed_result(pdir: Path, i: int, policy: str) -> dict | None:
    """The summary entry of a completed part (None when it did not complete, or is not this policy's)."""
    try:
        entry = read_json(result_path(pdir, i))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("policy") == policy else None


class PartLogs:
    """The open logs of one running simulation (fresh: a part that did not complete is rewritten whole)."""

    def __init__(self, pdir: Path, i: int, point: str, trace: bool):
        parts_dir(pdir).mkdir(parents=True, exist_ok=True)
        self.pdir, self.i = pdir, i
        for p in (events_path(pdir, i), trace_path(pdir, i), result_path(pdir, i)):
            p.unlink(missing_ok=True)
        self.events = EventLog(events_path(pdir, i), point)
        self.trace = TraceLog(trace_path(pdir, i)) if trace else None

    def close(self) -> None:
        for log in (self.events, self.trace):
            if log is not None and not log.file.closed:
                log.close()

    def complete(self, entry: dict) -> None:
        """Logs on disk first, then the result that marks the part complete."""
        self.close()
        write_json(result_path(self.pdir, self.i), entry)


def assemble(pdir: Path, n_policies: int, *, trace: bool) -> None:
    """The point's events.jsonl (and messages.msgpack) from its parts 0..n-1 that exist, in policy order."""
    _write_events(pdir, [events_path(pdir, i) for i in range(n_policies)])
    if trace:
        _concat(pdir / "messages.msgpack", [trace_path(pdir, i) for i in range(n_policies)])


def _write_events(pdir: Path, parts: list[Path]) -> None:
    out = pdir / "events.jsonl"
    tmp = out.with_name(out.name + ".tmp")
    try:
        _renumber(tmp, parts)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)          # a full disk leaves no half file behind


def _renumber(tmp: Path, parts: list[Path]) -> None:
    seq = 0
    with open(tmp, "w") as f:
        for part in parts:
            if not part.is_file():
                continue
            with open(part) as src:
                for line in src:
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    ev["seq"] = seq
                    seq += 1
                    f.write(json.dumps(ev) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _concat(out: Path, parts: list[Path]) -> None:
    tmp = out.with_name(out.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                if part.is_file():
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def discard(pdir: Path) -> None:
    shutil.rmtree(parts_dir(pdir), ignore_errors=True)
