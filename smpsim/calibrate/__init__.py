"""The measurement half of `smpsim calibrate` (issue 21): C microbenchmarks shipped in
bench/calbench.c, compiled into a per-user cache (build.py), planned (plan.py), run pinned and
summarized (measure.py, stats.py), with the machine's description (machine.py).

Entry point: ``run_benchmarks(cpus=None, quick=False, progress=None) -> dict``. Failures raise
smpsim.errors.CalibrationError with a one-paragraph message. Never imports ray, the runtime or
the experiments.
"""

from smpsim.calibrate.measure import run_benchmarks

__all__ = ["run_benchmarks"]
