"""The runner: validate a config, lay out the run directory, run every point x policy, summarise.

Nothing starts before the whole config (every sweep point) has validated, the
estimate of its memory and time has passed (`estimate.check`), the run
directory is created and locked, and the backend is connected; a failure up to
there is bad input (exit 2) and leaves no run directory behind. From then on a
run that fails or is interrupted still leaves its logs and a run.json saying
what happened; `--resume DIR` reruns only the points that did not complete,
with exactly the config saved in DIR.

A point is "completed" only once its events, trace and summary.json are on
disk (fsync, then rename); its run.json is written last.
"""

from __future__ import annotations

import signal
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from smpsim.errors import ConfigError, Interrupted, OutputError, RunWriteError, SmpsimError
from smpsim.experiments import config as cfgmod
from smpsim.experiments import signals
from smpsim.experiments.progress import Progress
from smpsim.experiments.resume import _check_completed_points, _check_layout, _differences, _how_to_start_new
from smpsim.rundir.files import (LOCK_NAME, RunLock, base_status, create_run_dir,
                                       read_json, utc_now, write_json, write_status, write_toml)
from smpsim.rundir.safeio import clip, describe_oserror


NOTE_ABOVE_S = 600          # runs estimated longer than this say so before they start
NOTE_ABOVE_BYTES = 2 << 30  # as do runs estimated to need more memory (e.g. 200 CPU actors on Ray)


@dataclass
class RunRequest:
    config_path: str | None = None
    overrides: list = field(default_factory=list)
    backend: str = "ray"
    out: str | None = None
    resume: str | None = None
    check: bool = False
    trace: bool = False
    address: str | None = None
    progress: bool = True
    yes: bool = False            # run even when the estimate says it will take long
    parallel: int | None = None  # simulations at once (None: run.parallel, else what the cluster allows)


@dataclass
class Plan:
    """What a request resolves to before anything is written: the config, its points and their names."""
    data: dict
    cfg: cfgmod.ExperimentConfig
    points: list                 # [(params, raw point config)]
    names: list                  # point directory names, in the same order
    point_cfgs: list             # validated point configs


def resolved(data: dict) -> dict:
    """The config with every default filled in (and the sweep table kept)."""
    sweep = data.get("sweep")
    cfg = cfgmod.validate({k: v for k, v in data.items() if k != "sweep"})
    out = cfg.model_dump(mode="json")
    fm, ft = cfg.machine.watermarks()
    out["machine"]["freemin"], out["machine"]["freetarg"] = fm, ft
    out.pop("sweep", None)
    if sweep:
        out["sweep"] = sweep
    return out


def make_backend(req: RunRequest, timeout_s: float):
    """The backend for the request. `--backend inline` stays in this process (no Ray import) unless it is
    given a cluster: `--address`, or more than one simulation at once (each then runs in a Ray task)."""
    if req.backend == "inline" and not (req.address or (req.parallel or 1) > 1):
        from smpsim.runtime.inline_backend import InlineBackend
        return InlineBackend()
    if req.backend in ("ray", "inline"):
        try:
            if req.backend == "inline":
                from smpsim.runtime.ray_inline import RayInlineBackend
                return RayInlineBackend(address=req.address)
            from smpsim.runtime.ray_backend import RayBackend
            return RayBackend(address=req.address, timeout_s=timeout_s)
        except SystemExit as e:
            # ray.init's own SIGTERM handler (sys.exit(15)) fired before smpsim's was back in place
            if e.code == signal.SIGTERM:
                raise Interrupted(signal.SIGTERM) from None
            raise
    raise ConfigError(f"--backend {req.backend!r}: allowed are ray, inline")


def plan_capacity(backend, point_cfgs: list, requested: int | None):
    """How many simulations at once on this backend (None: one, in this process); ConfigError when a
    simulation cannot fit the cluster. Before any actor or task starts."""
    if not hasattr(backend, "nodes"):
        return None
    from smpsim.experiments.scheduling import capacity
    ncpus = [c.machine.ncpus for c in point_cfgs]
    pool = getattr(backend, "pool", None)
    cap = capacity.plan(backend.nodes(), backend="ray" if backend.name == "ray" else "inline", max_ncpus=max(ncpus),
                        actor_bytes=pool.actor_bytes if pool is not None else capacity.ACTOR_BYTES,
                        sim_bytes=getattr(backend, "sim_bytes", None) or capacity.SIM_BYTES, requested=requested,
                        simulations=sum(len(c.policies) for c in point_cfgs))
    backend.prepare(ncpus)
    return cap


# --- planning: everything checked, nothing written ------------------------------------------------

def _plan_resume(req: RunRequest) -> tuple[Path, dict]:
    run_dir = Path(req.resume)
    if req.config_path:
        raise ConfigError(f"give either CONFIG or --resume {clip(str(run_dir))}, not both: --resume finishes "
                          f"the run with the config saved in it. {_how_to_start_new(run_dir)}")
    if req.overrides:
        raise ConfigError(f"--resume {clip(str(run_dir))} cannot take --set: the remaining points must run the "
                          f"config the finished ones ran. {_how_to_start_new(run_dir)}")
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {clip(str(run_dir))}: no such run directory")
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"--resume {clip(str(run_dir))}: not a run directory (no config.toml)")
    data = cfgmod.read_toml(run_dir / "config.toml")
    cfgmod.validate(data, str(run_dir / "config.toml"))
    again = _plain(resolved(data))
    if again != data:
        changed = ", ".join(_differences(data, again)[:5])
        raise ConfigError(f"--resume {clip(str(run_dir))}: its config.toml no longer resolves to itself with this "
                          f"smpsim (differs in: {changed}), so the remaining points would not run the same "
                          f"experiment. {_how_to_start_new(run_dir)}")
    return run_dir, data


def _plain(data: dict) -> dict:
    """`data` as it reads back from config.toml (None dropped, TOML types)."""
    import tomllib

    from smpsim.rundir.files import toml_text
    return tomllib.loads(toml_text(data))


def prepare(req: RunRequest) -> tuple[Path | None, Plan]:
    """Validate the request and everything it names; return (run dir when resuming, plan). Writes nothing."""
    run_dir = None
    if req.resume:
        run_dir, data = _plan_resume(req)
        where = str(run_dir / "config.toml")
    else:
        if not req.config_path:
            raise ConfigError("give a CONFIG file to run, or --resume RUN_DIR")
        _, data = cfgmod.load(req.config_path, req.overrides)
        where = req.config_path
    cfg = cfgmod.validate(data, where)
    points = cfgmod.sweep_points(data)
    names = cfgmod.point_names([p for p, _ in points])
    point_cfgs = [cfgmod.validate(pd, f"{where} at sweep point {n}") for n, (_, pd) in zip(names, points)]
    if run_dir is not None:
        _check_layout(run_dir, names)
        _check_completed_points(run_dir, names, points, lambda d: _plain(resolved(d)))
    return run_dir, Plan(data, cfg, points, names, point_cfgs)




@dataclass
class _Dir:
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


def open_run_dir(req: RunRequest, plan: Plan, resume_dir: Path | None) -> _Dir:
    """Create (or reopen) and lock the run directory. Before the run starts, so every problem is bad input:
    OutputError (cannot create or write), RunDirInUse (locked by another process), ConfigError (--out taken)."""
    if resume_dir is not None:
        try:
            return _Dir(resume_dir, RunLock(resume_dir).acquire())
        except OSError as e:
            raise _output_error("cannot lock run directory", resume_dir, e) from None
    taken = ConfigError(f"--out {clip(str(req.out))} exists and is not empty; use --resume {clip(str(req.out))} "
                        "to finish it") if req.out else None
    try:
        if req.out:
            path = Path(req.out)
            if path.is_dir() and _not_empty(path):
                raise taken                  # before creating anything in someone else's directory
            created = _missing_dirs(path)
            path.mkdir(parents=True, exist_ok=True)
        else:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            path = Path("runs") / f"{stamp}-{plan.cfg.name}"
            created = _missing_dirs(Path("runs"))
            path = create_run_dir(Path("runs"), path.name)
            created.insert(0, path)
    except OSError as e:
        raise _output_error("cannot create run directory", path, e) from None
    except ValueError:
        raise OutputError(f"--out {clip(repr(str(req.out)))}: not a valid path (it contains a NUL byte)") from None
    d = _Dir(path, RunLock(path), created)
    try:
        if not (path / LOCK_NAME).exists():
            d.written.append(path / LOCK_NAME)
        d.lock.acquire()
        if req.out and _not_empty(path):
            raise taken                      # another process got there first and has finished meanwhile
        write_toml(path / "config.toml", resolved(plan.data))
        d.written.append(path / "config.toml")
    except OSError as e:
        d.discard()
        raise _output_error("cannot write to run directory", path, e) from None
    except BaseException:
        d.discard()
        raise
    return d


# --- running ----------------------------------------------------------------------------------------

def _error_record(e: BaseException) -> dict:
    if isinstance(e, KeyboardInterrupt):
        return {"type": "KeyboardInterrupt", "signal": signals.signal_name(e),
                "message": f"interrupted by {signals.signal_name(e)}"}
    rec = {"type": type(e).__name__, "message": clip(str(e), 4000)}
    if not isinstance(e, (SmpsimError, OSError)):
        rec["traceback"] = traceback.format_exc(limit=20)       # a bug: keep what is needed to find it
    return rec


def run(req: RunRequest, echo=print) -> tuple[Path, dict]:
    """Run the experiment; return the run directory and the top-level summary."""
    from smpsim.experiments.scheduling import estimate
    resume_dir, plan = prepare(req)
    est = estimate.check(plan.point_cfgs, req.backend, yes=req.yes,
                         attached=req.backend == "ray" and bool(req.address))
    d = open_run_dir(req, plan, resume_dir)
    req = replace(req, parallel=req.parallel or plan.cfg.run.parallel)
    try:
        backend = None
        try:
            backend = make_backend(req, plan.cfg.run.timeout_s)
            signals.reinstall()
            cap = plan_capacity(backend, plan.point_cfgs, req.parallel)
        except BaseException:
            if backend is not None:
                try:
                    backend.close()
                except Exception:                               # noqa: BLE001
                    pass
            if resume_dir is None:
                d.discard()              # nothing started: leave no run directory behind
            raise
        try:
            return _run_started(req, plan, d.path, backend, resumed=resume_dir is not None, est=est, cap=cap)
        finally:
            try:
                backend.close()
            except Exception:                                   # noqa: BLE001 - the run's outcome matters more
                pass
    finally:
        d.lock.release()


def _run_started(req: RunRequest, plan: Plan, run_dir: Path, backend, *, resumed: bool, est,
                 cap) -> tuple[Path, dict]:
    from smpsim.experiments.scheduling.pointrun import RunContext
    from smpsim.experiments.scheduling.simulations import execute
    cfg = plan.cfg
    check = req.check or cfg.run.check
    status = base_status(cfg.name, cfg.seed, req.backend, backend.address)
    status["points"] = {n: "pending" for n in plan.names}
    top_json = run_dir / "run.json"
    if resumed and top_json.is_file():
        try:
            before = read_json(top_json)
            status["started_at"] = before.get("started_at", status["started_at"])
            if isinstance(before.get("simulations"), dict):
                status["simulations"] = before["simulations"]      # where the kept simulations ran
        except (OSError, ValueError, AttributeError):
            pass
    parallel = cap.parallel if cap is not None else 1
    status["parallel"] = parallel
    if cap is not None:
        from smpsim.runtime.ray_sessions import session_dir
        status["ray_session_dir"] = session_dir()
        status["cluster"] = {"nodes": {n.node_id: n.as_json() for n in backend.nodes()}, "capacity": cap.as_json()}
    try:
        write_status(top_json, status)
    except OSError as e:
        raise RunWriteError(f"cannot write {top_json}: {describe_oserror(e)}") from None
    progress = Progress(len(plan.points) * len(cfg.policies), enabled=req.progress, max_epochs=cfg.run.max_epochs)
    if req.progress and (est.seconds > NOTE_ABOVE_S or est.memory_bytes > NOTE_ABOVE_BYTES):
        progress.note(f"estimate: {est.describe()}")
    for note in (cap.notes if cap is not None else []):
        progress.note(note)
    ctx = RunContext(req, run_dir, req.backend, backend.address, check, status, progress, resolved)
    failure: BaseException | None = None
    try:
        pts = ctx.prepare_points(plan.names, plan.points, plan.point_cfgs, resumed=resumed)
        ctx.write_top()
        progress.parallel(parallel, sum(len(p.left) for p in pts))
        execute(ctx, pts, backend, parallel)
        status["status"] = "completed"
    except BaseException as e:
        failure = signals.as_interrupt(e)
        status["status"] = "interrupted" if isinstance(failure, KeyboardInterrupt) else "failed"
        status["error"] = _error_record(failure)
        if getattr(failure, "simulation", None):
            status["error"]["simulation"] = failure.simulation
    finally:
        progress.close()
        if status["status"] != "completed":
            ctx.close_points(status["status"])
        status["ray_address"] = backend.address
        status["ended_at"] = utc_now()
        entries = ctx.entries()
        summary = {"config": cfg.name, "seed": cfg.seed, "backend": req.backend, "points": entries}
        # summary first: "completed" in run.json must mean the summary is on disk
        try:
            write_json(run_dir / "summary.json", summary)
        except OSError as e:
            if failure is None:
                failure = e
                status["status"] = "failed"
                status["error"] = _error_record(e)
        try:
            write_status(top_json, status)
        except OSError as e:
            failure = failure or e
            status["status_write_error"] = describe_oserror(e)
    if failure is not None:
        _reraise(failure, top_json, status, run_dir)
    return run_dir, summary


def _reraise(failure: BaseException, top_json: Path, status: dict, run_dir: Path):
    """Raise what ended the run (with `run_dir` on it, for the CLI's message): KeyboardInterrupt as it is,
    an I/O error as RunWriteError, anything else unchanged."""
    err = failure
    if isinstance(failure, OSError):
        note = ("" if "status_write_error" not in status
                else f"; run.json could not be updated either ({status['status_write_error']})")
        err = RunWriteError(f"writing the run directory failed: {describe_oserror(failure)}"
                            f"{_filename(failure)}{note}")
    elif "status_write_error" in status and not isinstance(failure, KeyboardInterrupt):
        err = RunWriteError(f"{failure}; and {top_json} could not be updated ({status['status_write_error']})")
    try:
        err.run_dir = run_dir
    except AttributeError:
        pass
    if err is failure:
        raise failure
    raise err from None


def _filename(e: OSError) -> str:
    return f" ({clip(str(e.filename), 200)})" if getattr(e, "filename", None) else ""
