"""The whole run's run.json and summary.json: what they say as the run starts, and how its end is recorded.

run.json is written once the run has started (status "running", where and how widely it runs) and
last when it ends, after summary.json: "completed" in run.json means the summary is on disk. A run
that fails or is interrupted says so there, with the error; `reraise` then raises what ended it.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from smpsim.errors import RunWriteError, SmpsimError
from smpsim.experiments import signals
from smpsim.rundir.files import base_status, read_json, utc_now, write_json, write_status
from smpsim.rundir.safeio import clip, describe_oserror

RUN_JSON = "run.json"


def start_status(cfg, backend_name: str, backend, names: list, run_dir: Path, *, resumed: bool, cap,
                 profile=None, traces: dict | None = None) -> dict:
    """The run.json of a run about to start its points (`cap`: its capacity plan, None in this process;
    `profile`: the cost profile applied, recorded by path and sha256; `traces`: the recorded programs
    it replays, each path with its sha256 and size)."""
    status = base_status(cfg.name, cfg.seed, backend_name, backend.address)
    if profile is not None:
        status["costs_profile"] = profile.record()
    if traces:
        status["traces"] = traces
    status["points"] = {n: "pending" for n in names}
    if resumed:
        _keep_earlier(status, run_dir / RUN_JSON)
    status["parallel"] = cap.parallel if cap is not None else 1
    if cap is not None:
        from smpsim.runtime.ray_sessions import session_dir
        status["ray_session_dir"] = session_dir()
        status["cluster"] = {"nodes": {n.node_id: n.as_json() for n in backend.nodes()}, "capacity": cap.as_json()}
    return status


def _keep_earlier(status: dict, top_json: Path) -> None:
    """A resumed run keeps when it first started, the cost profile it was started with, and where its
    kept simulations ran."""
    if not top_json.is_file():
        return
    try:
        before = read_json(top_json)
        status["started_at"] = before.get("started_at", status["started_at"])
        if isinstance(before.get("costs_profile"), dict):
            status["costs_profile"] = before["costs_profile"]
        if isinstance(before.get("simulations"), dict):
            status["simulations"] = before["simulations"]
    except (OSError, ValueError, AttributeError):
        pass


def write_start(run_dir: Path, status: dict) -> None:
    try:
        write_status(run_dir / RUN_JSON, status)
    except OSError as e:
        raise RunWriteError(f"cannot write {run_dir / RUN_JSON}: {describe_oserror(e)}") from None


def record_failure(status: dict, e: BaseException) -> BaseException:
    """Record in `status` what ended the run; return it (a signal that surfaced as another exception
    becomes the interrupt it was)."""
    failure = signals.as_interrupt(e)
    status["status"] = "interrupted" if isinstance(failure, KeyboardInterrupt) else "failed"
    status["error"] = error_record(failure)
    if getattr(failure, "simulation", None):
        status["error"]["simulation"] = failure.simulation
    return failure


def write_end(run_dir: Path, status: dict, summary: dict, failure: BaseException | None) -> BaseException | None:
    """Write summary.json, then run.json; return what ended the run (`failure`, or the first write error)."""
    status["ended_at"] = utc_now()
    try:
        write_json(run_dir / "summary.json", summary)
    except OSError as e:
        if failure is None:
            failure = e
            status["status"] = "failed"
            status["error"] = error_record(e)
    try:
        write_status(run_dir / RUN_JSON, status)
    except OSError as e:
        failure = failure or e
        status["status_write_error"] = describe_oserror(e)
    return failure


def error_record(e: BaseException) -> dict:
    if isinstance(e, KeyboardInterrupt):
        return {"type": "KeyboardInterrupt", "signal": signals.signal_name(e),
                "message": f"interrupted by {signals.signal_name(e)}"}
    rec = {"type": type(e).__name__, "message": clip(str(e), 4000)}
    if not isinstance(e, (SmpsimError, OSError)):
        rec["traceback"] = traceback.format_exc(limit=20)       # a bug: keep what is needed to find it
    return rec


def reraise(failure: BaseException, status: dict, run_dir: Path):
    """Raise what ended the run (with `run_dir` on it, for the CLI's message): KeyboardInterrupt as it is,
    an I/O error as RunWriteError, anything else unchanged."""
    err = failure
    if isinstance(failure, OSError):
        note = ("" if "status_write_error" not in status
                else f"; run.json could not be updated either ({status['status_write_error']})")
        err = RunWriteError(f"writing the run directory failed: {describe_oserror(failure)}"
                            f"{_filename(failure)}{note}")
    elif "status_write_error" in status and not isinstance(failure, KeyboardInterrupt):
        err = RunWriteError(f"{failure}; and {run_dir / RUN_JSON} could not be updated "
                            f"({status['status_write_error']})")
    try:
        err.run_dir = run_dir
    except AttributeError:
        pass
    if err is failure:
        raise failure
    raise err from None


def _filename(e: OSError) -> str:
    return f" ({clip(str(e.filename), 200)})" if getattr(e, "filename", None) else ""
