"""Resuming a run directory: what may be resumed, and the checks that it is the same experiment.

`--resume DIR` reruns only what did not complete, and only when the resolved config is the one
the directory holds and its completed points are intact; every refusal says how to start a new
run instead.
"""

from __future__ import annotations

from pathlib import Path

from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod
from smpsim.rundir.files import read_json
from smpsim.rundir.safeio import clip, describe_oserror

RUN_FILES = ("run.json", "summary.json", "config.toml")
POINT_FILES = ("run.json", "summary.json", "config.toml", "events.jsonl", "messages.msgpack")

def _how_to_start_new(run_dir: Path) -> str:
    return (f"to run something else, start a new run from the saved config: "
            f"smpsim run {run_dir / 'config.toml'} [--set KEY=VALUE ...] --out NEW_DIR")


def _differences(a, b, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved configs."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(dict.fromkeys([*a, *b])):
            out += _differences(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if a == b else [prefix or "(top level)"]


def _check_layout(run_dir: Path, names: list) -> None:
    """A resume rewrites the run's files: each must be a regular file (or absent), each point a directory."""
    import stat as st

    def bad(path: Path, want: str) -> ConfigError:
        return ConfigError(f"--resume {clip(str(run_dir))}: {path.relative_to(run_dir)} is not {want}; this run "
                           f"directory is damaged. {_how_to_start_new(run_dir)}")

    def check(path: Path, want_dir: bool) -> None:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return
        except OSError as e:
            raise ConfigError(f"--resume {clip(str(run_dir))}: {path.name}: {describe_oserror(e)}") from None
        if want_dir and not st.S_ISDIR(mode):
            raise bad(path, "a directory")
        if not want_dir and not (st.S_ISREG(mode) or st.S_ISLNK(mode)):    # a symlink is replaced, not followed
            raise bad(path, "a regular file")
    for f in RUN_FILES:
        check(run_dir / f, False)
    for name in names:
        check(run_dir / name, True)
        if (run_dir / name).is_dir():
            for f in POINT_FILES:
                check(run_dir / name / f, False)


def _check_completed_points(run_dir: Path, names: list, points: list, resolve) -> None:
    """A completed point's results are kept on resume, so its saved config must be the one it would run."""
    for name, (_, point_data) in zip(names, points):
        pdir = run_dir / name
        if not _completed(pdir):
            continue
        try:
            saved = cfgmod.read_toml(pdir / "config.toml")
        except ConfigError:
            continue                     # unreadable: the point reruns (_completed() is re-checked then)
        if saved != resolve(point_data):
            raise ConfigError(f"--resume {clip(str(run_dir))}: point {name} completed with a config that differs "
                              f"from the run's ({', '.join(_differences(saved, resolve(point_data))[:5])})"
                              f"; its results cannot be mixed with new ones. {_how_to_start_new(run_dir)}")


def _completed(pdir: Path, policies: list[str] | None = None) -> bool:
    """A point counts as completed when its run.json says so and its summary.json reads back with one
    well-formed entry for this point per policy (a damaged one makes the point run again)."""
    from smpsim.rundir.entries import check_entry
    from smpsim.errors import RunDirError
    try:
        if read_json(pdir / "run.json").get("status") != "completed":
            return False
        entries = read_json(pdir / "summary.json").get("points")
        if not isinstance(entries, list):
            return False
        for e in entries:
            check_entry(e, str(pdir / "summary.json"))
            if e["point"] != pdir.name:
                return False
        return policies is None or [e["policy"] for e in entries] == policies
    except (OSError, ValueError, AttributeError, RunDirError):
        return False


# --- the run directory ----------------------------------------------------------------------------
