"""`smpsim calibrate`: measure this machine, fit the costs, write the profile, and show how well
the fitted model predicts what was held out.

The profile (smpsim.cost_profile) gets `[machine] ghz` (the clock), `[costs]` (only the fitted
entries: the rest keep their defaults) and `[calibration]`: the machine, the mode, whether the
fit was forced, which entry each measurement set (`fitted`, `fitted_from`), what was skipped and
why, and every measurement (median, quartiles, spread, repetitions, the samples). Nothing is
written until the measuring and the fit have succeeded, and then atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from smpsim.calibrate.measure import run_benchmarks
from smpsim.cost_profile import write_profile
from smpsim.errors import CalibrationError
from smpsim.rundir.safeio import output_problem
from smpsim.experiments.calibration.fit import STEPS, fit
from smpsim.experiments.calibration.heldout import profile_cases
from smpsim.experiments.validate.contract import Result


def _plain(value):
    """`value` without the Nones TOML cannot hold."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value if v is not None]
    return value


def calibration_table(results: dict, fitted, force: bool) -> dict:
    """The [calibration] table of a profile from run_benchmarks' results and the fit."""
    return _plain({
        "machine": results["machine"],
        "mode": results["machine"].get("mode"),
        "forced": force,
        "fitted": dict(fitted.how),
        "fitted_from": list(fitted.used),
        "fit_steps": [{"entries": list(s.entries), "measurements": list(s.measurements), "how": s.how}
                      for s in STEPS],
        "skipped": {**results.get("skipped", {}), **fitted.skipped},
        "measurements": results["measurements"],
    })


def check_out(out: str | Path) -> Path:
    """Where the profile goes, checked before anything is measured: a regular file or nothing,
    in a writable directory (a symbolic link is written through to its target)."""
    path = Path(out).expanduser().resolve()
    why = output_problem(path)
    if why:
        raise CalibrationError(f"cannot write the profile to {out}: {why}. Give --out a file path in a "
                               f"writable directory; nothing was measured.")
    return path


def calibrate(out: str | Path, quick: bool = False, cpus: list[int] | None = None, force: bool = False,
              progress: Callable[[str], None] | None = None) -> tuple[Path, list[Result], dict, dict]:
    """Measure, fit, write `out`; return the path, the held-out results, the measurements left
    out of them and the fit steps skipped (each with the reason)."""
    out = check_out(out)
    results = run_benchmarks(cpus, quick, progress)
    measurements = results["measurements"]
    ghz = measurements["clock"]["ghz"]
    if progress:
        progress("fitting the cost entries")
    fitted = fit(measurements, ghz, force)
    profile = write_profile(out, fitted.costs, {"ghz": round(ghz, 6)}, calibration_table(results, fitted, force))
    if progress:
        progress("predicting the held-out measurements")
    cases, left_out = profile_cases(profile)
    setup = fitted.setup()
    return profile.path, [c.run(setup) for c in cases], left_out, dict(fitted.skipped)
