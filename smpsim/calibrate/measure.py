"""Run the calibration benchmarks and return their measurements as plain data.

``run_benchmarks`` compiles the C program (build.py), runs each planned benchmark (plan.py) as a
subprocess with a timeout, parses its one JSON line, and summarizes the samples (stats.py). The
clock comes from what the kernel publishes (machine.py), else from rdtsc against
CLOCK_MONOTONIC (``calbench tsc``, x86 only), else from /proc/cpuinfo's "cpu MHz".
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Callable

from smpsim.calibrate import build, machine, plan as planmod, stats
from smpsim.errors import CalibrationError

STDERR_TAIL = 1500
CLOCK_TIMEOUT_S = 30
X86 = ("x86_64", "amd64", "i386", "i686")


def parse_line(stdout: str, name: str) -> dict:
    """The benchmark's one JSON object (the last non-empty line of stdout), checked for its fields."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise CalibrationError(f"benchmark {name} printed nothing on stdout; expected one JSON line.")
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise CalibrationError(f"benchmark {name} printed a line that is not JSON ({e}): {lines[-1][:300]!r}") from e
    if not isinstance(data, dict) or data.get("name") != name:
        raise CalibrationError(f"benchmark {name} printed a JSON line for {data.get('name') if isinstance(data, dict) else data!r}"
                               f", not for {name}.")
    samples = data.get("samples_ns")
    ok = isinstance(samples, list) and samples and all(isinstance(v, (int, float)) for v in samples)
    if not ok or not isinstance(data.get("ops_per_sample"), int):
        raise CalibrationError(f"benchmark {name}'s JSON line lacks a list of numbers samples_ns or an integer "
                               f"ops_per_sample: {lines[-1][:300]!r}")
    return data


def _run(binary: Path, name: str, argv: list[str], timeout: float) -> str:
    cmd = [str(binary), *argv]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise CalibrationError(f"benchmark {name} did not finish in {timeout:g} s ({' '.join(cmd)}); the machine "
                               f"may be overloaded: run calibrate again when it is quieter, or with --quick.") from e
    except OSError as e:
        raise CalibrationError(f"benchmark {name} could not be started ({' '.join(cmd)}): {e}") from e
    if res.returncode != 0:
        tail = res.stderr[-STDERR_TAIL:].strip() or "(nothing on stderr)"
        raise CalibrationError(f"benchmark {name} failed (exit {res.returncode}, {' '.join(cmd)}): {tail}")
    return res.stdout


def run_one(binary: Path, bench: planmod.Bench, cpus: list[int], mode: planmod.Mode) -> dict:
    """Run one benchmark on cpus[0] (and cpus[1..K] for its spinners); its summarized measurement."""
    used = cpus[:1 + bench.remote_threads]
    argv = [*bench.args, "-c", ",".join(map(str, used)), "-s", str(mode.samples),
            "-t", str(mode.target_us * bench.target_scale), "-w", str(mode.warmup_ms)]
    data = parse_line(_run(binary, bench.name, argv, mode.timeout_s), bench.name)
    result = stats.summarize(data["samples_ns"])
    result["ops_per_sample"] = data["ops_per_sample"]
    result["samples_ns"] = [float(v) for v in data["samples_ns"]]
    for key, value in data.items():
        if key not in ("name", "samples_ns", "ops_per_sample"):
            result[key] = value
    return result


def measure_clock(binary: Path) -> dict:
    """{"ghz", "source"}: published TSC frequency, else measured (x86), else /proc/cpuinfo."""
    measured = None
    if platform.machine().lower() in X86:
        out = _run(binary, "tsc", ["tsc"], CLOCK_TIMEOUT_S)
        try:
            measured = float(json.loads(out.strip().splitlines()[-1])["ghz"])
        except (ValueError, KeyError, IndexError) as e:
            raise CalibrationError(f"benchmark tsc printed no usable frequency: {out[:300]!r}") from e
    published = machine.published_tsc_ghz()
    if published:
        result = {"ghz": published[0], "source": published[1]}
    elif measured:
        result = {"ghz": measured, "source": "measured: rdtsc against CLOCK_MONOTONIC over 200 ms"}
    else:
        ghz = machine.cpuinfo_mhz_ghz()
        if ghz is None:
            raise CalibrationError("cannot tell the clock: no published TSC frequency, no rdtsc (not x86) and "
                                   "no 'cpu MHz' in /proc/cpuinfo.")
        result = {"ghz": ghz, "source": "/proc/cpuinfo cpu MHz (not x86: no TSC; the current core clock, "
                                        "which frequency scaling may change)"}
    if measured is not None:
        result["measured_ghz"] = measured
    return result


def run_benchmarks(cpus: list[int] | None = None, quick: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Measure this machine. Returns {"machine": {...}, "measurements": {name: {...}}, "skipped": {name: reason}}.

    Each measurement holds median_ns, q1_ns, q3_ns, iqr_over_median, reps, ops_per_sample,
    samples_ns and the benchmark's extra fields (cpus, note, ...); "clock" holds ghz and source."""
    build.require_linux()
    cpus = machine.validate_cpus(cpus)
    compiler = build.find_compiler()
    binary = build.build(compiler)
    mode = planmod.QUICK if quick else planmod.FULL
    benches, skipped = planmod.plan(len(cpus), quick)
    total = len(benches) + 1
    measurements: dict[str, dict] = {}
    for i, bench in enumerate(benches, 1):
        if progress:
            progress(f"[{i}/{total}] {bench.name}: {bench.what}")
        measurements[bench.name] = run_one(binary, bench, cpus, mode)
    if progress:
        progress(f"[{total}/{total}] clock: TSC frequency (published, else rdtsc over 200 ms)")
    measurements["clock"] = measure_clock(binary)
    info = machine.describe(cpus, f"{compiler.path} ({compiler.version})")
    info["ghz"] = measurements["clock"]["ghz"]
    info["mode"] = "quick" if quick else "full"
    return {"machine": info, "measurements": measurements, "skipped": skipped}
