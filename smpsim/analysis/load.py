"""Loading a run directory (docs/rundir.md): run.json, summary.json, config.toml and events.jsonl.

:func:`load_run` checks that a path is a run directory and reads its top-level
files; :func:`iter_events` streams one point's events.jsonl. Every defect raises
:class:`~smpsim.errors.RunDirError` naming the path and what is wrong.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from smpsim.errors import RunDirError


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
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a run directory: {path.name} is missing ({what})")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise RunDirError(f"{path}: must hold a JSON object, found {type(doc).__name__}")
    return doc


def load_run(path: str | Path) -> Run:
    """Load the run directory ``path``; raise :class:`RunDirError` if it is not a usable one."""
    run_dir = Path(path)
    if not run_dir.exists():
        raise RunDirError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a run directory: it is not a directory")
    run_info = _read_json(run_dir / "run.json", run_dir, "written by `smpsim run` when the run starts")
    status = run_info.get("status", "unknown")
    summary = _read_json(run_dir / "summary.json", run_dir,
                         f"written by `smpsim run` as points finish; run status is {status!r}")
    points = summary.get("points")
    if not isinstance(points, list):
        raise RunDirError(f"{run_dir / 'summary.json'}: \"points\" must be a list of point x policy entries")
    for i, e in enumerate(points):
        if not isinstance(e, dict) or not isinstance(e.get("point"), str) or not isinstance(e.get("policy"), str):
            raise RunDirError(f"{run_dir / 'summary.json'}: points[{i}] needs string \"point\" and \"policy\"")
    config = None
    cfg_path = run_dir / "config.toml"
    if cfg_path.is_file():
        try:
            config = tomllib.loads(cfg_path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RunDirError(f"{cfg_path}: not valid TOML ({exc})") from None
    return Run(path=run_dir, run_info=run_info, summary=summary, config=config, entries=tuple(points))


def iter_events(path: Path) -> Iterator[dict]:
    """Each event (a dict) of the events.jsonl file ``path``; nothing when the file is absent.

    A line that is not a JSON object raises :class:`RunDirError` with the line
    number, except a truncated last line (a run killed mid-write), which is skipped.
    """
    if not path.is_file():
        return
    with path.open() as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError as exc:
                if not line.endswith("\n"):   # only the last line can lack its newline
                    return
                raise RunDirError(f"{path}:{lineno}: not a JSON event ({exc})") from None
            if not isinstance(ev, dict) or "event" not in ev:
                raise RunDirError(f"{path}:{lineno}: an event must be a JSON object with an \"event\" key")
            yield ev
