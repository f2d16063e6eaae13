"""The runner: validate a config, lay out the run directory, run every point x policy, summarise.

Nothing starts before the whole config (every sweep point) has validated, the
estimate of its memory and time has passed (`estimate.check`), the run
directory is created and locked (`opening`), and the backend is connected; a
failure up to there is bad input (exit 2) and leaves no run directory behind.
From then on a run that fails or is interrupted still leaves its logs and a
run.json saying what happened (`runstatus`); `--resume DIR` reruns only the
points that did not complete, with exactly the config saved in DIR (`resume`).

A point is "completed" only once its events, trace and summary.json are on
disk (fsync, then rename); its run.json is written last.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from smpsim.cost_profile import CostProfile
from smpsim.errors import ConfigError, Interrupted
from smpsim.experiments import config as cfgmod
from smpsim.experiments import runstatus, signals
from smpsim.experiments.opening import open_run_dir
from smpsim.experiments.progress import Progress
from smpsim.experiments.resolved import resolved
from smpsim.experiments.trace_check import trace_records
from smpsim.experiments.resume import check_points, resume_config


NOTE_ABOVE_S = 600          # runs estimated longer than this say so before they start
NOTE_ABOVE_BYTES = 2 << 30  # as do runs estimated to need more memory (e.g. 200 CPU actors on Ray)


@dataclass
class RunRequest:
    """What `smpsim run` was asked to do (its options, as the CLI parsed them)."""
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
    costs: str | None = None     # --costs: a cost profile, replacing the config's costs_profile


@dataclass
class Plan:
    """What a request resolves to before anything is written: the config, its points and their names."""
    data: dict
    cfg: cfgmod.ExperimentConfig
    points: list                 # [(params, raw point config)]
    names: list                  # point directory names, in the same order
    point_cfgs: list             # validated point configs
    profile: CostProfile | None = None   # the cost profile applied (None without one, and on --resume)


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

def prepare(req: RunRequest) -> tuple[Path | None, Plan]:
    """Validate the request and everything it names; return (run dir when resuming, plan). Writes nothing."""
    run_dir = None
    if req.resume:
        run_dir = Path(req.resume)
        data = resume_config(run_dir, req.config_path, req.overrides, req.costs)
        where = str(run_dir / "config.toml")
        profile = None                   # the saved config holds the costs; the profile is not read again
    else:
        if not req.config_path:
            raise ConfigError("give a CONFIG file to run, or --resume RUN_DIR")
        _, data, profile = cfgmod.load_profiled(req.config_path, req.overrides, req.costs)
        where = req.config_path
    cfg = cfgmod.validate(data, where)
    points = cfgmod.sweep_points(data)
    names = cfgmod.point_names([p for p, _ in points])
    point_cfgs = [cfgmod.validate(pd, f"{where} at sweep point {n}") for n, (_, pd) in zip(names, points)]
    if run_dir is not None:
        check_points(run_dir, names, points)
    return run_dir, Plan(data, cfg, points, names, point_cfgs, profile)


def _default_dir_name(plan: Plan) -> str:
    """runs/<UTC time>-<config name> (made unique when taken)."""
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{plan.cfg.name}"


# --- running ----------------------------------------------------------------------------------------

def run(req: RunRequest, echo=print) -> tuple[Path, dict]:
    """Run the experiment; return the run directory and the top-level summary."""
    from smpsim.experiments.scheduling import estimate
    resume_dir, plan = prepare(req)
    est = estimate.check(plan.point_cfgs, req.backend, yes=req.yes,
                         attached=req.backend == "ray" and bool(req.address))
    d = open_run_dir(req.out, _default_dir_name(plan), resolved(plan.data), resume_dir, plan.profile)
    req = replace(req, parallel=req.parallel or plan.cfg.run.parallel)
    try:
        try:
            backend, cap = _connect(req, plan)
        except BaseException:
            if resume_dir is None:
                d.discard()              # nothing started: leave no run directory behind
            raise
        try:
            return _run_started(req, plan, d.path, backend, resumed=resume_dir is not None, est=est, cap=cap)
        finally:
            _close(backend)
    finally:
        d.lock.release()


def _connect(req: RunRequest, plan: Plan):
    """(backend, capacity plan): connected and sized for the run, or closed again when that fails."""
    backend = None
    try:
        backend = make_backend(req, plan.cfg.run.timeout_s)
        signals.reinstall()
        return backend, plan_capacity(backend, plan.point_cfgs, req.parallel)
    except BaseException:
        if backend is not None:
            _close(backend)
        raise


def _close(backend) -> None:
    try:
        backend.close()
    except Exception:                                           # noqa: BLE001 - the run's outcome matters more
        pass



def _run_started(req: RunRequest, plan: Plan, run_dir: Path, backend, *, resumed: bool, est,
                 cap) -> tuple[Path, dict]:
    """Run the points (the run directory is open, the backend connected); record how the run ended."""
    from smpsim.experiments.scheduling.pointrun import RunContext
    cfg = plan.cfg
    status = runstatus.start_status(cfg, req.backend, backend, plan.names, run_dir, resumed=resumed, cap=cap,
                                    profile=plan.profile, traces=trace_records(cfg, plan.data))
    runstatus.write_start(run_dir, status)
    progress = _progress(req, plan, est, cap)
    ctx = RunContext(req, run_dir, req.backend, backend.address, req.check or cfg.run.check, status, progress,
                     resolved)
    failure: BaseException | None = None
    try:
        _run_points(ctx, plan, backend, status["parallel"], resumed=resumed)
        status["status"] = "completed"
    except BaseException as e:
        failure = runstatus.record_failure(status, e)
    finally:
        progress.close()
        if status["status"] != "completed":
            ctx.close_points(status["status"])
        status["ray_address"] = backend.address
        summary = {"config": cfg.name, "seed": cfg.seed, "backend": req.backend, "points": ctx.entries()}
        failure = runstatus.write_end(run_dir, status, summary, failure)
    if failure is not None:
        runstatus.reraise(failure, status, run_dir)
    return run_dir, summary


def _progress(req: RunRequest, plan: Plan, est, cap) -> Progress:
    """The run's progress display, having said what is worth knowing before the run starts."""
    progress = Progress(len(plan.points) * len(plan.cfg.policies), enabled=req.progress,
                        max_epochs=plan.cfg.run.max_epochs)
    if req.progress and (est.seconds > NOTE_ABOVE_S or est.memory_bytes > NOTE_ABOVE_BYTES):
        progress.note(f"estimate: {est.describe()}")
    for note in (cap.notes if cap is not None else []):
        progress.note(note)
    return progress


def _run_points(ctx, plan: Plan, backend, parallel: int, *, resumed: bool) -> None:
    """Lay out the point directories (keeping what a resumed run completed) and run what is left."""
    from smpsim.experiments.scheduling.simulations import execute
    pts = ctx.prepare_points(plan.names, plan.points, plan.point_cfgs, resumed=resumed)
    ctx.write_top()
    ctx.progress.parallel(parallel, sum(len(p.left) for p in pts))
    execute(ctx, pts, backend, parallel)
