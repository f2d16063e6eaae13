"""The point directories of a run: laid out before its simulations start, completed as their last one ends.

`RunContext` is what `simulations.execute` calls back into: `prepare_points`
makes each point directory (config.toml, run.json "running"; on --resume a
completed point is read back and a point's completed parts are kept),
`finish_point` assembles a point whose simulations have all completed (logs,
then summary.json, then run.json "completed", then the parts are dropped), and
`fail_point` records a simulation that failed or was interrupted (the point's
run.json says so, its events.jsonl is assembled from the parts there are, for
reading; the parts stay for --resume).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smpsim.experiments import config as cfgmod
from smpsim.experiments.scheduling import parts
from smpsim.experiments import signals
from smpsim.experiments.resume import point_completed
from smpsim.rundir.files import base_status, read_json, utc_now, write_json, write_status, write_toml
from smpsim.experiments.scheduling.simulations import Point


def error_record(e: BaseException) -> dict:
    if isinstance(e, KeyboardInterrupt):
        name = signals.signal_name(e)
        return {"type": "KeyboardInterrupt", "signal": name, "message": f"interrupted by {name}"}
    return {"type": type(e).__name__, "message": str(e)}


@dataclass
class RunContext:
    req: object
    run_dir: Path
    backend_name: str
    address: str | None
    check: bool
    status: dict
    progress: object
    resolved: object             # the runner's resolved(data) -> dict
    stop: object = None

    points: list = field(default_factory=list)

    def entries(self) -> list[dict]:
        """Every completed simulation's summary entry, in config order (points, then policies)."""
        return [p.entries[i] for p in self.points for i in sorted(p.entries)]

    def write_top(self) -> None:
        sims = self.status.get("simulations")
        if sims:                             # in config order, whatever order they finished in
            order = [f"{p.name}/{pol.name}" for p in self.points for pol in p.cfg.policies]
            self.status["simulations"] = {k: sims[k] for k in order if k in sims}
        write_status(self.run_dir / "run.json", self.status)

    def prepare_points(self, names, points, point_cfgs, resumed: bool) -> list[Point]:
        out = []
        for k, (name, (params, data), pcfg) in enumerate(zip(names, points, point_cfgs)):
            pdir = self.run_dir / name
            point = Point(k, name, params, data, pcfg, pdir)
            if resumed and point_completed(pdir, [policy.name for policy in pcfg.policies]):
                for i, entry in enumerate(read_json(pdir / "summary.json")["points"]):
                    point.entries[i] = entry
                self.status["points"][name] = "completed"
                self.progress.done_runs += len(pcfg.policies)
                out.append(point)
                continue
            pdir.mkdir(parents=True, exist_ok=True)
            write_toml(pdir / "config.toml", self.resolved(data))
            for stale in ("events.jsonl", "messages.msgpack", "summary.json"):
                (pdir / stale).unlink(missing_ok=True)        # rebuilt from the parts when the point completes
            point.status = base_status(pcfg.name, pcfg.seed, self.backend_name, self.address)
            point.status["params"] = params
            write_status(pdir / "run.json", point.status)
            for i, policy in enumerate(pcfg.policies):
                entry = parts.completed_result(pdir, i, policy.name) if resumed else None
                if entry is not None:
                    point.entries[i] = entry
                    self.progress.done_runs += 1
                else:
                    point.left.add(i)
            if not resumed:
                parts.discard(pdir)
            out.append(point)
            if not point.left:                  # every part completed in an earlier attempt
                self.finish_point(point, [point.entries[i] for i in sorted(point.entries)])
        self.points = out
        return out

    def finish_point(self, point: Point, entries: list[dict]) -> None:
        pcfg = point.cfg
        try:
            parts.assemble(point.pdir, len(pcfg.policies), trace=self.req.trace)
            write_json(point.pdir / "summary.json", {"config": pcfg.name, "seed": pcfg.seed,
                                                     "backend": self.backend_name, "points": entries})
        except BaseException as e:
            # not completed without its logs and summary on disk: the point failed, and says so
            point.status["status"] = "failed"
            point.status["error"] = error_record(e)
            point.status["ended_at"] = utc_now()
            self.status["points"][point.name] = "failed"
            write_status(point.pdir / "run.json", point.status)
            raise
        point.status["status"] = "completed"
        point.status["ended_at"] = utc_now()
        write_status(point.pdir / "run.json", point.status)
        parts.discard(point.pdir)
        self.status["points"][point.name] = "completed"

    def fail_point(self, point: Point, exc: BaseException, policy, sim: str) -> None:
        exc = signals.as_interrupt(exc)      # a signal that surfaced as another exception is still one
        state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        if point.status.get("status") not in ("failed",):
            point.status["status"] = state
            point.status["error"] = dict(error_record(exc), simulation=sim)
        point.status["ended_at"] = utc_now()
        self.status["points"][point.name] = point.status["status"]
        try:
            parts.assemble(point.pdir, len(point.cfg.policies), trace=self.req.trace)
            entries = [point.entries[i] for i in sorted(point.entries)]
            if entries:
                write_json(point.pdir / "summary.json", {"config": point.cfg.name, "seed": point.cfg.seed,
                                                         "backend": self.backend_name, "points": entries})
        except Exception:  # noqa: BLE001 - best effort: the failure is what matters
            pass
        write_status(point.pdir / "run.json", point.status)

    def close_points(self, state: str) -> None:
        """After the run stopped (`state`: interrupted or failed): points still "running" say how it ended."""
        for point in self.points:
            if point.status.get("status") == "running":
                point.status["status"] = state if state == "interrupted" else "pending"
                point.status["ended_at"] = utc_now()
                self.status["points"][point.name] = point.status["status"]
                try:
                    write_status(point.pdir / "run.json", point.status)
                except OSError:
                    pass

    @staticmethod
    def point_names(points) -> list[str]:
        return [cfgmod.point_name(p) for p, _ in points]
