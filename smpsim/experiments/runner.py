"""The runner: validate a config, lay out the run directory, run every point x policy, summarise.

Nothing starts before the whole config (every sweep point) has validated. A run
that fails or is interrupted still leaves its logs and a run.json saying what
happened; `--resume DIR` reruns only the points that did not complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod
from smpsim.experiments.progress import Progress
from smpsim.experiments.workloads import make_workload
from smpsim.experiments.rundir import (EventLog, TraceLog, base_status, read_json, utc_now, write_json,
                                       write_toml)


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


class _Sink:
    def __init__(self, events: EventLog, trace: TraceLog | None, policy: str, progress: Progress):
        self._events, self._trace, self.policy, self._progress = events, trace, policy, progress

    def events(self, events):
        self._events.write(events, self.policy)

    def trace(self, records):
        if self._trace is not None:
            self._trace.write(records, self.policy)

    def progress(self, epoch, total):
        self._progress.epochs(epoch, total)


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
    if req.backend == "inline":
        from smpsim.runtime.inline_backend import InlineBackend
        return InlineBackend()
    if req.backend == "ray":
        from smpsim.runtime.ray_backend import RayBackend
        return RayBackend(address=req.address, timeout_s=timeout_s)
    raise ConfigError(f"--backend {req.backend!r}: allowed are ray, inline")


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
    run_dir, data = prepare(req)
    cfg = cfgmod.validate(data)
    points = cfgmod.sweep_points(data)
    check = req.check or cfg.run.check
    status = base_status(cfg.name, cfg.seed, req.backend, None)
    status["points"] = {cfgmod.point_name(p): "pending" for p, _ in points}
    top_json = run_dir / "run.json"
    if req.resume and top_json.is_file():
        status["started_at"] = read_json(top_json).get("started_at", status["started_at"])
    write_json(top_json, status)
    progress = Progress(len(points) * len(cfg.policies), enabled=req.progress)
    entries: list[dict] = []
    backend = None
    try:
        backend = make_backend(req, cfg.run.timeout_s)
        status["ray_address"] = backend.address
        for params, point_data in points:
            name = cfgmod.point_name(params)
            pdir = run_dir / name
            pjson = pdir / "run.json"
            if pjson.is_file() and read_json(pjson).get("status") == "completed" and (pdir / "summary.json").is_file():
                entries.extend(read_json(pdir / "summary.json")["points"])
                status["points"][name] = "completed"
                progress.done_runs += len(cfg.policies)
                continue
            entries.extend(_run_point(req, backend, pdir, name, params, point_data, check, status, progress))
            status["points"][name] = "completed"
            write_json(top_json, status)
        status["status"] = "completed"
    except KeyboardInterrupt:
        status["status"] = "interrupted"
        status["error"] = {"type": "KeyboardInterrupt", "message": "interrupted by the user (SIGINT)"}
        raise
    except Exception as e:
        status["status"] = "failed"
        status["error"] = {"type": type(e).__name__, "message": str(e)}
        raise
    finally:
        progress.close()
        if backend is not None:
            status["ray_address"] = backend.address
            try:
                backend.close()
            except Exception:
                pass
        status["ended_at"] = utc_now()
        write_json(top_json, status)
        summary = {"config": cfg.name, "seed": cfg.seed, "backend": req.backend, "points": entries}
        write_json(run_dir / "summary.json", summary)
    return run_dir, summary


def _run_point(req, backend, pdir: Path, name: str, params: dict, point_data: dict, check: bool,
               top_status: dict, progress: Progress) -> list[dict]:
    pdir.mkdir(parents=True, exist_ok=True)
    pcfg = cfgmod.validate(point_data)
    write_toml(pdir / "config.toml", resolved(point_data))
    for stale in ("events.jsonl", "messages.msgpack"):
        (pdir / stale).unlink(missing_ok=True)        # an unfinished attempt is rerun whole
    pstatus = base_status(pcfg.name, pcfg.seed, req.backend, backend.address)
    pstatus["params"] = params
    write_json(pdir / "run.json", pstatus)
    events = EventLog(pdir / "events.jsonl", name)
    trace = TraceLog(pdir / "messages.msgpack") if req.trace else None
    entries = []
    policy = None
    try:
        for policy in pcfg.policies:
            progress.start(name, policy.name)
            sink = _Sink(events, trace, policy.name, progress)
            result = backend.run_point(pcfg, policy, workload=make_workload(pcfg), point=name, check=check,
                                       trace=req.trace, sink=sink)
            entries.append({"point": name, "params": params, "policy": policy.name,
                            "switches": policy.switches(), **result})
            progress.finish_run()
        pstatus["status"] = "completed"
    except KeyboardInterrupt:
        pstatus["status"] = "interrupted"
        pstatus["error"] = {"type": "KeyboardInterrupt", "message": "interrupted by the user (SIGINT)"}
        top_status["points"][name] = "interrupted"
        _log_end(events, policy, pstatus)
        raise
    except Exception as e:
        pstatus["status"] = "failed"
        pstatus["error"] = {"type": type(e).__name__, "message": str(e)}
        top_status["points"][name] = "failed"
        _log_end(events, policy, pstatus)
        raise
    finally:
        pstatus["ended_at"] = utc_now()
        write_json(pdir / "run.json", pstatus)
        write_json(pdir / "summary.json", {"config": pcfg.name, "seed": pcfg.seed, "backend": req.backend,
                                           "points": entries})
        events.close()
        if trace is not None:
            trace.close()
    return entries


def _log_end(events: EventLog, policy, pstatus: dict) -> None:
    """The last line of a run that did not complete says why."""
    events.write([{"event": "run.end", "status": pstatus["status"], "error": pstatus["error"],
                   "sim_cycles": None, "epoch": None}], policy.name if policy is not None else None)
