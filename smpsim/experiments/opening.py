"""Opening the run directory before a run starts: create (or reopen) it, lock it, save the config
(and a copy of the cost profile it applied).

Everything here happens before the run starts, so every problem is bad input: OutputError (cannot
create or write), RunDirInUse (locked by another process), ConfigError (--out taken). A run that
then never starts undoes what was written here (`RunDir.discard`), and nothing of a resumed run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smpsim.errors import ConfigError, OutputError
from smpsim.rundir.files import LOCK_NAME, RunLock, create_run_dir, write_toml
from smpsim.rundir.safeio import atomic_write, clip, describe_oserror

RUNS = Path("runs")                 # where a run without --out goes


@dataclass
class RunDir:
    path: Path
    lock: RunLock
    created: list = field(default_factory=list)     # directories we made, deepest first
    written: list = field(default_factory=list)     # files we wrote before the run started

    def discard(self) -> None:
        """Undo what a run that never started wrote: its files, the lock file and the directories it
        made (only those, and only when empty). Nothing of a resumed run is touched."""
        for f in self.written:
            if f.name == LOCK_NAME and self.lock.fd is None:
                continue                     # not ours: another process holds that lock
            try:
                f.unlink()
            except OSError:
                pass
        self.lock.release()
        for d in self.created:
            try:
                d.rmdir()
            except OSError:
                break


PROFILE_COPY = "costs_profile.toml"  # the cost profile a run used, copied byte for byte


def open_run_dir(out: str | None, default_name: str, config: dict, resume_dir: Path | None,
                 profile=None) -> RunDir:
    """Lock `resume_dir`, or create `out` (else runs/`default_name`, made unique), lock it and save `config`
    (the resolved config) in it, and a copy of the cost `profile` when one was applied."""
    if resume_dir is not None:
        try:
            return RunDir(resume_dir, RunLock(resume_dir).acquire())
        except OSError as e:
            raise _output_error("cannot lock run directory", resume_dir, e) from None
    taken = ConfigError(f"--out {clip(str(out))} exists and is not empty; use --resume {clip(str(out))} "
                        "to finish it") if out else None
    d = _create(out, default_name, taken)
    try:
        if not (d.path / LOCK_NAME).exists():
            d.written.append(d.path / LOCK_NAME)
        d.lock.acquire()
        if out and _not_empty(d.path):
            raise taken                      # another process got there first and has finished meanwhile
        write_toml(d.path / "config.toml", config)
        d.written.append(d.path / "config.toml")
        if profile is not None:
            atomic_write(d.path / PROFILE_COPY, profile.raw)
            d.written.append(d.path / PROFILE_COPY)
    except OSError as e:
        d.discard()
        raise _output_error("cannot write to run directory", d.path, e) from None
    except BaseException:
        d.discard()
        raise
    return d


def _create(out: str | None, default_name: str, taken: ConfigError | None) -> RunDir:
    """The new run directory, not locked yet, knowing which directories it had to make."""
    path = Path(out) if out else RUNS / default_name
    try:
        if out:
            if path.is_dir() and _not_empty(path):
                raise taken                  # before creating anything in someone else's directory
            created = _missing_dirs(path)
            path.mkdir(parents=True, exist_ok=True)
        else:
            created = _missing_dirs(RUNS)
            path = create_run_dir(RUNS, default_name)
            created.insert(0, path)
    except OSError as e:
        raise _output_error("cannot create run directory", path, e) from None
    except ValueError:
        raise OutputError(f"--out {clip(repr(str(out)))}: not a valid path (it contains a NUL byte)") from None
    return RunDir(path, RunLock(path), created)


def _output_error(what: str, path: Path, e: OSError) -> OutputError:
    return OutputError(f"{what} {clip(str(path), 200)}: {describe_oserror(e)}; nothing was started")


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and those of its ancestors that do not exist yet, deepest first."""
    out = []
    p = path
    while not p.exists() and p != p.parent and len(out) < 64:
        out.append(p)
        p = p.parent
    return out


def _not_empty(path: Path) -> bool:
    return any(p.name != LOCK_NAME for p in path.iterdir())
