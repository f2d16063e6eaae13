"""Resuming a run directory: what may be resumed, and the checks that it is the same experiment.

`--resume DIR` reruns only what did not complete, and only when the resolved config is the one
the directory holds and its completed points are intact; every refusal says how to start a new
run instead. `resume_config` reads and checks the saved config, `check_points` the directory's
layout and completed points against it, and `point_completed` says which points are kept.
"""

from __future__ import annotations

from pathlib import Path

from smpsim.errors import ConfigError, RunDirError
from smpsim.experiments import config as cfgmod
from smpsim.experiments.resolved import as_saved, resolved
from smpsim.rundir.entries import check_entry
from smpsim.rundir.files import read_json
from smpsim.rundir.safeio import clip, describe_oserror

RUN_FILES = ("run.json", "summary.json", "config.toml")
POINT_FILES = ("run.json", "summary.json", "config.toml", "events.jsonl", "messages.msgpack")


def resume_config(run_dir: Path, config_path: str | None, overrides: list, costs: str | None = None) -> dict:
    """The config saved in `run_dir`, which a --resume runs; ConfigError when it may not be resumed
    (a CONFIG, --set or --costs given too, not a run directory, or a config this smpsim resolves differently).
    The saved config holds the costs a cost profile gave it: no profile is read again."""
    where = f"--resume {clip(str(run_dir))}"
    if config_path:
        raise ConfigError(f"give either CONFIG or {where}, not both: --resume finishes the run with the config "
                          f"saved in it. {how_to_start_new(run_dir)}")
    if overrides:
        raise ConfigError(f"{where} cannot take --set: the remaining points must run the config the finished ones "
                          f"ran. {how_to_start_new(run_dir)}")
    if costs:
        raise ConfigError(f"{where} cannot take --costs: the remaining points must run with the costs the "
                          f"finished ones ran with, which the run's config.toml holds (its cost profile is "
                          f"never read again). To run with another profile, start a new run from the original "
                          f"config: smpsim run CONFIG --costs PROFILE --out NEW_DIR")
    if not run_dir.is_dir():
        raise ConfigError(f"{where}: no such run directory")
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"{where}: not a run directory (no config.toml)")
    data = cfgmod.read_toml(run_dir / "config.toml")
    cfgmod.validate(data, str(run_dir / "config.toml"))
    again = as_saved(resolved(data))
    if again != data:
        changed = ", ".join(differences(data, again)[:5])
        raise ConfigError(f"{where}: its config.toml no longer resolves to itself with this smpsim (differs in: "
                          f"{changed}), so the remaining points would not run the same experiment. "
                          f"{how_to_start_new(run_dir)}")
    return data


def check_points(run_dir: Path, names: list, points: list) -> None:
    """ConfigError unless the run directory's files and completed points can be resumed with `points`."""
    check_layout(run_dir, names)
    check_completed_points(run_dir, names, points)


def how_to_start_new(run_dir: Path) -> str:
    return (f"to run something else, start a new run from the saved config: "
            f"smpsim run {run_dir / 'config.toml'} [--set KEY=VALUE ...] --out NEW_DIR")


def differences(a, b, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved configs."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(dict.fromkeys([*a, *b])):
            out += differences(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if a == b else [prefix or "(top level)"]


def check_layout(run_dir: Path, names: list) -> None:
    """A resume rewrites the run's files: each must be a regular file (or absent), each point a directory."""
    import stat as st

    def bad(path: Path, want: str) -> ConfigError:
        return ConfigError(f"--resume {clip(str(run_dir))}: {path.relative_to(run_dir)} is not {want}; this run "
                           f"directory is damaged. {how_to_start_new(run_dir)}")

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


def check_completed_points(run_dir: Path, names: list, points: list) -> None:
    """A completed point's results are kept on resume, so its saved config must be the one it would run."""
    for name, (_, point_data) in zip(names, points):
        pdir = run_dir / name
        if not point_completed(pdir):
            continue
        try:
            saved = cfgmod.read_toml(pdir / "config.toml")
        except ConfigError:
            continue                     # unreadable: the point reruns (point_completed() is re-checked then)
        want = as_saved(resolved(point_data))
        if saved != want:
            raise ConfigError(f"--resume {clip(str(run_dir))}: point {name} completed with a config that differs "
                              f"from the run's ({', '.join(differences(saved, want)[:5])})"
                              f"; its results cannot be mixed with new ones. {how_to_start_new(run_dir)}")


def point_completed(pdir: Path, policies: list[str] | None = None) -> bool:
    """A point counts as completed when its run.json says so and its summary.json reads back with one
    well-formed entry for this point per policy (a damaged one makes the point run again)."""
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

