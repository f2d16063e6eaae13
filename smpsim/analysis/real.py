"""The real kernel beside the designs: for a point that replayed a recorded program, the real
kernel's flush counts (smpsim.trace.info) next to each policy's model counter for the same
category (smpsim.trace.compare), and the real median duration of munmap, mprotect and madvise
next to the simulated one.

Real durations are converted to cycles with the point's `machine.ghz` (a cost profile of the
recording machine, given to the run, sets it to that machine's clock). They are sys_enter to
sys_exit as traced, so they include the tracing's own overhead.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from smpsim.analysis.results import PolicyResult
from smpsim.analysis.tables import Table
from smpsim.cost_profile import machine_differences
from smpsim.errors import SmpsimError
from smpsim.trace.compare import DURATION_CALLS, MODEL_COUNTERS, call_durations, model_count
from smpsim.trace.format import trace_digest
from smpsim.trace.info import trace_info


def _point_config(run, point: str) -> dict | None:
    path = Path(run.path) / point / "config.toml"
    try:
        return tomllib.loads(path.read_text()) if path.is_file() else run.config
    except (OSError, ValueError):
        return run.config


def _real(trace: str) -> tuple[dict, dict, dict]:
    st = Path(trace).stat()
    return _real_of_file(trace, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _real_of_file(trace: str, size: int, mtime_ns: int) -> tuple[dict, dict, dict]:
    info = trace_info(trace)
    return info["real"], call_durations(trace), info["machine"]


@lru_cache(maxsize=16)
def _digest(trace: str, size: int, mtime_ns: int) -> str:
    return trace_digest(trace)["sha256"]


def _changed(run, trace: str) -> str | None:
    """Why the trace is not the one the run read (None: it is, or the run did not record it)."""
    recorded = (run.run_info.get("traces") or {}).get(trace)
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
        return None
    st = Path(trace).stat()
    now = _digest(trace, st.st_size, st.st_mtime_ns)
    if now != recorded["sha256"]:
        return (f"it has changed since the run (sha256 {recorded['sha256'][:12]}... in run.json, "
                f"{now[:12]}... now)")
    return None


def clock_of(run, machine: dict) -> str:
    """Where the run's clock comes from, as the real durations' conversion says it."""
    path = Path(run.path) / "costs_profile.toml"
    if not path.is_file():
        return "the run's machine.ghz (no cost profile)"
    try:
        calibrated = tomllib.loads(path.read_text()).get("calibration", {}).get("machine", {})
    except (OSError, ValueError):
        calibrated = {}
    differences = machine_differences(calibrated, machine)
    if not differences:
        return "the clock of the run's cost profile, measured on the recording machine"
    return "the run's machine.ghz, from a cost profile of another machine (" + ", ".join(differences) + ")"


def real_of(run, point: str) -> dict | None:
    """{"trace", "real", "durations", "ghz"} of a point that replayed a trace (None otherwise;
    {"trace", "missing"} when the trace file is not where the run read it)."""
    cfg = _point_config(run, point) or {}
    workload = cfg.get("workload") or {}
    if workload.get("kind") != "trace" or not isinstance(workload.get("trace"), str):
        return None
    trace = workload["trace"]
    try:
        changed = _changed(run, trace)
        if changed:
            return {"trace": trace, "missing": changed}
        real, durations, machine = _real(trace)
    except (OSError, SmpsimError) as e:
        return {"trace": trace, "missing": str(e)}
    ghz = (cfg.get("machine") or {}).get("ghz", 2.5)
    return {"trace": trace, "real": real, "durations": durations, "ghz": ghz, "clock": clock_of(run, machine)}


def real_table(real: dict, results: list[PolicyResult]) -> Table:
    """Rows: each flush category, then each call's median duration; columns: real, then the
    policies (their model counter for the category, their simulated median)."""
    t = Table(["real kernel vs model", "real"] + [r.policy for r in results],
              title=f"the real kernel beside the designs (trace {Path(real['trace']).name}; flushes: "
                    f"docs/trace.md names each category's model counter; real durations at {real['ghz']} GHz, "
                    f"{real['clock']})")
    for category in MODEL_COUNTERS:
        t.rows.append([f"flushes {category.replace('_', ' ')}", real["real"].get(category)]
                      + [model_count(r.counters, category) for r in results])
    for call in DURATION_CALLS:
        d = real["durations"][call]
        ns = d["median_ns"]
        t.rows.append([f"{call} median cycles ({d['count']} real)", None if ns is None else round(ns * real["ghz"])]
                      + [(r.latency.get(call) or {}).get("p50_cycles") for r in results])
    return t


def real_json(real: dict, results: list[PolicyResult]) -> dict:
    if "missing" in real:
        return real
    return {**real, "model": {r.policy: {c: model_count(r.counters, c) for c in MODEL_COUNTERS} for r in results}}


def missing_note(real: dict) -> str:
    return f"the real kernel's counts: trace {real['trace']} cannot be read here ({real['missing']})"


def real_cells(doc: dict) -> list[tuple[str, str, object]]:
    """(column, metric, value) of the real column in long form, from `real_json`'s document: per
    flush category (metric flushes.CATEGORY), "real", then each policy's model counter for it."""
    cells = []
    for category in MODEL_COUNTERS:
        metric = f"flushes.{category}"
        cells.append(("real", metric, doc["real"].get(category)))
        cells += [(policy, metric, model[category]) for policy, model in doc["model"].items()]
    return cells


def real_rows(run, results: list[PolicyResult]) -> list[list]:
    """analyze's long-form CSV rows of the real column: (run, point, "real" or the policy,
    "flushes.CATEGORY", count), the policies' being their model counter for the category."""
    rows = []
    for point in dict.fromkeys(r.point for r in results):
        real = real_of(run, point)
        if real is None or "missing" in real:
            continue
        doc = real_json(real, [r for r in results if r.point == point])
        rows += [[run.name, point, column, metric, value] for column, metric, value in real_cells(doc)]
    return rows
