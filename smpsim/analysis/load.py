"""Loading a run directory (docs/rundir.md): run.json, summary.json, config.toml and events.jsonl.

:func:`load_run` checks that a path is a run directory and reads its top-level
files; :func:`iter_events` streams one point's events.jsonl. Every defect raises
:class:`~smpsim.errors.RunDirError` naming the path and what is wrong.

Run directories are input like any other: files are read only when they are
regular files, within a size bound, as strict UTF-8; JSON with NaN/Infinity or
absurd nesting is refused; every summary entry is checked for the shape the
analysis relies on (tables of numbers where numbers are expected, point names
that are a single directory component), so that a damaged run directory gives
one clear error instead of a traceback somewhere in a table or a plot.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from smpsim.errors import RunDirError
from smpsim.rundir.entries import MAX_EVENT_LINE_BYTES, MAX_RUN_FILE_BYTES, check_entry, loads_json, reject_constant
from smpsim.rundir.safeio import clip, decode, read_text



@dataclass(frozen=True)
class Run:
    """A loaded run directory: its top-level files and the summary entries in file order."""

    path: Path
    run_info: dict          # run.json
    summary: dict           # summary.json
    config: dict | None     # config.toml parsed, None when absent
    entries: tuple[dict, ...] = field(default=())   # summary["points"]

    @property
    def name(self) -> str:
        """The run's name: its directory name."""
        return self.path.name

    @property
    def points(self) -> list[str]:
        """Point names in order of first appearance in summary.json."""
        return list(dict.fromkeys(e["point"] for e in self.entries))

    @property
    def policies(self) -> list[str]:
        """Policy names in order of first appearance in summary.json."""
        return list(dict.fromkeys(e["policy"] for e in self.entries))

    def entry(self, point: str, policy: str) -> dict | None:
        """The summary entry of ``point`` x ``policy``, or None."""
        for e in self.entries:
            if e["point"] == point and e["policy"] == policy:
                return e
        return None

    def events_path(self, point: str) -> Path:
        """Where the events of ``point`` are (the file may be absent)."""
        return self.path / point / "events.jsonl"


def _read_json(path: Path, run_dir: Path, what: str) -> dict:
    if not path.exists():
        raise RunDirError(f"{run_dir} is not a run directory: {path.name} is missing ({what})")
    doc = loads_json(read_text(path, limit=MAX_RUN_FILE_BYTES, what="run file", error=RunDirError), str(path))
    if not isinstance(doc, dict):
        raise RunDirError(f"{path}: must hold a JSON object, found {type(doc).__name__}")
    return doc


def load_run(path: str | Path) -> Run:
    """Load the run directory ``path``; raise :class:`RunDirError` if it is not a usable one."""
    run_dir = Path(path)
    if not run_dir.exists():
        raise RunDirError(f"{clip(str(run_dir), 200)}: no such run directory")
    if not run_dir.is_dir():
        raise RunDirError(f"{clip(str(run_dir), 200)} is not a run directory: it is not a directory")
    run_info = _read_json(run_dir / "run.json", run_dir, "written by `smpsim run` when the run starts")
    status = run_info.get("status", "unknown")
    summary = _read_json(run_dir / "summary.json", run_dir,
                         f"written by `smpsim run` as points finish; run status is {clip(repr(status))}")
    points = summary.get("points")
    if not isinstance(points, list):
        raise RunDirError(f"{run_dir / 'summary.json'}: \"points\" must be a list of point x policy entries")
    for i, e in enumerate(points):
        check_entry(e, f"{run_dir / 'summary.json'}: points[{i}]")
    if not isinstance(run_info.get("points"), (dict, type(None))):
        run_info = {k: v for k, v in run_info.items() if k != "points"}    # only shown, never relied upon
    config = None
    cfg_path = run_dir / "config.toml"
    if cfg_path.exists():
        text = read_text(cfg_path, limit=MAX_RUN_FILE_BYTES, what="run file", error=RunDirError)
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RunDirError(f"{cfg_path}: not valid TOML ({exc})") from None
        except RecursionError:
            raise RunDirError(f"{cfg_path}: not valid TOML (nested too deeply)") from None
    return Run(path=run_dir, run_info=run_info, summary=summary, config=config, entries=tuple(points))


def iter_events(path: Path) -> Iterator[dict]:
    """Each event (a dict) of the events.jsonl file ``path``; nothing when the file is absent.

    A line that is not a JSON object raises :class:`RunDirError` with the line
    number, except a truncated last line (a run killed mid-write), which is skipped.
    The file is read as bytes, a line at a time and at most MAX_EVENT_LINE_BYTES per
    line, so a damaged file cannot make one unbounded read; each line must be UTF-8.
    """
    if not path.is_file():
        return
    import os
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        lineno = 0
        while True:
            raw = fh.readline(MAX_EVENT_LINE_BYTES + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_EVENT_LINE_BYTES:
                raise RunDirError(f"{path}:{lineno}: a line longer than {MAX_EVENT_LINE_BYTES:,} bytes is not an event")
            if not raw.strip():
                continue
            try:
                line = decode(raw, where=f"{path}:{lineno}", error=RunDirError)
            except RunDirError:
                if not raw.endswith(b"\n"):    # a last line cut inside a multi-byte character
                    return
                raise
            try:
                ev = json.loads(line, parse_constant=reject_constant)
            except (json.JSONDecodeError, ValueError, RecursionError) as exc:
                if not line.endswith("\n"):   # only the last line can lack its newline
                    return
                raise RunDirError(f"{path}:{lineno}: not a JSON event ({clip(str(exc), 200)})") from None
            if not isinstance(ev, dict) or "event" not in ev:
                raise RunDirError(f"{path}:{lineno}: an event must be a JSON object with an \"event\" key")
            yield ev
