"""The runner: validate a config, lay out the run directory, run every point x policy, summarise.

Nothing starts before the whole config (every sweep point) has validated. A run
that fails or is interrupted still leaves its logs and a run.json saying what
happened; `--resume DIR` reruns only the points that did not complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod
from smpsim.experiments.progress import Progress
from smpsim.experiments.rundir import base_status, read_json, utc_now, write_json, write_toml


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
    parallel: int | None = None      # simulations at once (None: run.parallel, else what the cluster allows)


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
    given a cluster: `--address`, or more than one simulation at once."""
    if req.backend == "inline":
        if req.address or (req.parallel or 1) > 1:
            from smpsim.runtime.ray_inline import RayInlineBackend
            return RayInlineBackend(address=req.address)
        from smpsim.runtime.inline_backend import InlineBackend
        return InlineBackend()
    if req.backend == "ray":
        from smpsim.runtime.ray_backend import RayBackend
        return RayBackend(address=req.address, timeout_s=timeout_s)
    raise ConfigError(f"--backend {req.backend!r}: allowed are ray, inline")


def _keeping_sigterm(start):
    """`start()` with this process's SIGTERM handler put back afterwards: ray.init installs its own
    (sys.exit), which would skip the cleanup that stops every simulation and marks the run interrupted."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return start()
    saved = signal.getsignal(signal.SIGTERM)
    try:
        return start()
    finally:
        if saved is not None:
            signal.signal(signal.SIGTERM, saved)


def plan_capacity(backend, point_cfgs: list, requested: int | None):
    """How many simulations at once on this backend (None for one in this process); ConfigError when a
    simulation cannot fit the cluster. Before any actor or task starts."""
    if not hasattr(backend, "nodes"):
        return None
    from smpsim.experiments import capacity
    from smpsim.runtime.ray_pool import ACTOR_BYTES
    from smpsim.runtime.ray_inline import SIM_BYTES
    ncpus = [c.machine.ncpus for c in point_cfgs]
    cap = capacity.plan(backend.nodes(), backend=backend.name if backend.name == "ray" else "inline",
                        max_ncpus=max(ncpus), actor_bytes=getattr(backend, "pool", None) and backend.pool.actor_bytes
                        or ACTOR_BYTES, sim_bytes=getattr(backend, "sim_bytes", SIM_BYTES), requested=requested,
                        simulations=sum(len(c.policies) for c in point_cfgs))
    backend.prepare(ncpus)
    return cap


def prepare(req: RunRequest) -> tuple[Path, dict]:
    """Validate and create (or reopen) the run directory; return it and the raw config."""
    if req.resume:
        run_dir = Path(req.resume)
        if not (run_dir / "config.toml").is_file():
            raise ConfigError(f"--resume {run_dir}: not a run directory (no config.toml)")
        data = cfgmod.read_toml(run_dir / "config.toml")
        data = cfgmod.apply_overrides(data, req.overrides) if req.overrides else data
        cfgmod.validate(data, str(run_dir / "config.toml"))
        for params, point in cfgmod.sweep_points(data):
            cfgmod.validate(point, f"{run_dir} at sweep point {params}")
        return run_dir, data
    if not req.config_path:
        raise ConfigError("give a CONFIG file to run, or --resume RUN_DIR")
    _, data = cfgmod.load(req.config_path, req.overrides)
    if req.out:
        run_dir = Path(req.out)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"--out {run_dir} exists and is not empty; use --resume {run_dir} to finish it")
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        run_dir = Path("runs") / f"{stamp}-{data['name']}"
    run_dir.mkdir(parents=True, exist_ok=True)
    write_toml(run_dir / "config.toml", resolved(data))
    return run_dir, data


def run(req: RunRequest, echo=print) -> tuple[Path, dict]:
    """Run the experiment; return the run directory and the top-level summary."""
    from smpsim.experiments.pointrun import RunContext
    from smpsim.experiments.simulations import execute
    run_dir, data = prepare(req)
    cfg = cfgmod.validate(data)
    points = cfgmod.sweep_points(data)
    names = [cfgmod.point_name(p) for p, _ in points]
    point_cfgs = [cfgmod.validate(pd) for _, pd in points]
    check = req.check or cfg.run.check
    requested = req.parallel or cfg.run.parallel
    status = base_status(cfg.name, cfg.seed, req.backend, None)
    status["points"] = {n: "pending" for n in names}
    top_json = run_dir / "run.json"
    if req.resume and top_json.is_file():
        before = read_json(top_json)
        status["started_at"] = before.get("started_at", status["started_at"])
        if isinstance(before.get("simulations"), dict):
            status["simulations"] = before["simulations"]      # where the kept simulations ran
    write_json(top_json, status)
    progress = Progress(len(points) * len(cfg.policies), enabled=req.progress)
    backend = ctx = None
    try:
        req = replace(req, parallel=requested)
        backend = _keeping_sigterm(lambda: make_backend(req, cfg.run.timeout_s))
        status["ray_address"] = backend.address
        cap = plan_capacity(backend, point_cfgs, requested)
        parallel = cap.parallel if cap is not None else 1
        status["parallel"] = parallel
        if cap is not None:
            from smpsim.runtime.ray_pool import session_dir
            status["ray_session_dir"] = session_dir()
            status["cluster"] = {"nodes": {n.node_id: n.as_json() for n in backend.nodes()},
                                 "capacity": cap.as_json()}
            for note in cap.notes:
                progress.note(note)
        ctx = RunContext(req, run_dir, req.backend, backend.address, check, status, progress, resolved)
        pts = ctx.prepare_points(names, points, point_cfgs, resumed=bool(req.resume))
        write_json(top_json, status)
        progress.parallel(parallel, sum(len(p.left) for p in pts))
        execute(ctx, pts, backend, parallel)
        status["status"] = "completed"
    except KeyboardInterrupt:
        status["status"] = "interrupted"
        status["error"] = {"type": "KeyboardInterrupt", "message": "interrupted by the user (SIGINT or SIGTERM)"}
        raise
    except Exception as e:
        status["status"] = "failed"
        status["error"] = {"type": type(e).__name__, "message": str(e)}
        if getattr(e, "simulation", None):
            status["error"]["simulation"] = e.simulation
        raise
    finally:
        progress.close()
        if ctx is not None and status["status"] != "completed":
            ctx.close_points(status["status"])
        if backend is not None:
            status["ray_address"] = backend.address
            try:
                backend.close()
            except Exception:
                pass
        status["ended_at"] = utc_now()
        write_json(top_json, status)
        entries = ctx.entries() if ctx is not None else []
        summary = {"config": cfg.name, "seed": cfg.seed, "backend": req.backend, "points": entries}
        write_json(run_dir / "summary.json", summary)
    return run_dir, summary
