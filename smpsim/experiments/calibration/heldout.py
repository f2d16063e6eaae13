"""The held-out measurements of a profile as `validate` cases of kind "profile".

A profile's `[calibration]` table keeps every measurement and names those the fit used
(`fitted_from`). Each other measurement the model has a probe for becomes a case: the measured
median in cycles of the profile's clock against the model's figure for the same operation on the
same CPUs under the `linux` preset (smpsim.experiments.calibration.probes), with the costs the
validate run is given (the profile's, with any `--set` laid over them), band ±30%. A case out of
its band says where the model is wrong for that machine.

Held out when measured: `madvise_local_N` and `madvise_remote_N_t1` other than the fitted 1 and 8
pages, `fork_exit_P` other than 1 and 64 pages, `cow_fault`, `read_fault_zero`. Remote figures
whose spinning thread did not keep its CPU are left out (the fit's `MIN_SHARE`), and said.
`ctx_switch_thread` and `mprotect_local_N` are measured but have no held-out case: the model has no
thread-to-thread switch, and its mprotect leaves out the VMA split and merge a partial mprotect
does (about 1.5 us on the machine of the bundled profile), so only mprotect's slope is used.
"""

from __future__ import annotations

import math
import re
from typing import Callable

from smpsim.errors import ConfigError
from smpsim.experiments.calibration import probes
from smpsim.experiments.calibration.fit import MIN_SHARE
from smpsim.experiments.validate.contract import Case, Setup

KIND = "profile"
BAND = (0.7, 1.3)


_NO_CASE = {
    "mprotect_local": "the model's mprotect leaves out the VMA split and merge of a partial mprotect, so "
                      "only its slope (mprotect_local_slope_8) is used, for the fit",
    "ctx_switch_thread": "the model has no switch between two threads of one process",
}


MAX_TARGETS = 63           # remote threads a held-out case simulates (a 64-CPU model machine)
MAX_FORK_PAGES = 1 << 16   # pages of a held-out fork+exit (256 MB of written memory)


def _probe(name: str) -> tuple[Callable[[Setup], float], str] | None:
    """The model's figure for a measurement, and what it is; None where there is none (a name
    the model has no probe for, or sizes outside what the probes simulate)."""
    if (m := re.fullmatch(r"madvise_local_(\d+)", name)) and 1 <= int(m[1]) <= probes.MAPPING_PAGES:
        n = int(m[1])
        return (lambda s: probes.madvise(s, n, 0)), f"MADV_DONTNEED of {n} page(s), the mm on one CPU"
    m = re.fullmatch(r"madvise_remote_(\d+)_t(\d+)", name)
    if m and 1 <= int(m[1]) <= probes.MAPPING_PAGES and 1 <= int(m[2]) <= MAX_TARGETS:
        n, k = int(m[1]), int(m[2])
        return (lambda s: probes.madvise(s, n, k)), f"MADV_DONTNEED of {n} page(s), the mm on {k + 1} CPUs"
    if (m := re.fullmatch(r"fork_exit_(\d+)", name)) and 1 <= int(m[1]) <= MAX_FORK_PAGES:
        p = int(m[1])
        return (lambda s: probes.fork_exit(s, p)), f"fork+exit+wait of a parent with {p} written page(s)"
    if name == "cow_fault":
        return probes.cow_fault, "a forked child's first write to a page its parent maps"
    if name == "read_fault_zero":
        return probes.read_fault_zero, "first read of a fresh anonymous page (the zero page)"
    return None


def held_out(measurements: dict, fitted_from: list) -> tuple[list[str], dict[str, str]]:
    """The measurements to predict, and those left out with the reason."""
    names, left_out = [], {}
    for name, m in measurements.items():
        if name in fitted_from or not isinstance(m, dict) or "median_ns" not in m:
            continue
        if _probe(name) is None:
            left_out[name] = _NO_CASE.get(name.rstrip("0123456789_"), "no model figure for it")
            continue
        if m.get("spinner_cpu_share", 1.0) < MIN_SHARE:
            left_out[name] = (f"the thread keeping the mm loaded on the other CPU ran only "
                              f"{m['spinner_cpu_share']:.0%} of the time")
            continue
        names.append(name)
    return names, left_out


def _checked(profile) -> tuple[dict, list, dict]:
    """The calibration table's measurements, fitted_from and machine, or ConfigError (one
    paragraph) naming what is malformed: a profile is user input like any config."""
    cal = profile.calibration
    where = f"--costs {profile.path}: [calibration]"
    measurements, fitted, machine = cal.get("measurements", {}), cal.get("fitted_from", []), cal.get("machine", {})
    if not isinstance(measurements, dict) or not all(isinstance(m, dict) for m in measurements.values()):
        raise ConfigError(f"{where} measurements must be a table of tables (name -> {{median_ns = ...}}), as "
                          f"`smpsim calibrate` writes it")
    for name, m in measurements.items():
        median = m.get("median_ns")
        if median is not None and (isinstance(median, bool) or not isinstance(median, (int, float))
                                   or not math.isfinite(median) or median <= 0):
            raise ConfigError(f"{where} measurements.{name}.median_ns = {median!r} is not a positive number of "
                              f"nanoseconds")
    if not isinstance(fitted, list) or not all(isinstance(n, str) for n in fitted):
        raise ConfigError(f"{where} fitted_from must be a list of measurement names, got {fitted!r}")
    if not isinstance(machine, dict):
        raise ConfigError(f"{where} machine must be a table (cpu_model, usable_cpus, ...), got {machine!r}")
    if measurements and "fitted_from" in cal and not profile.machine.get("ghz"):
        raise ConfigError(f"--costs {profile.path}: [machine] ghz is needed to turn its measurements into "
                          f"cycles")
    return measurements, fitted, machine


def profile_cases(profile) -> tuple[list[Case], dict[str, str]]:
    """Cases of kind "profile" for `profile` (a loaded cost profile: its calibration table and
    clock), and the measurements left out with the reason. A profile that does not say which
    measurements were fitted (no `fitted_from`: not written by `smpsim calibrate`) has none."""
    cal = profile.calibration
    measurements, fitted, where = _checked(profile)
    if "fitted_from" not in cal:
        return [], ({name: "the profile does not say which measurements were fitted (no fitted_from), so "
                           "none is held out" for name in measurements} if measurements else {})
    ghz = profile.machine.get("ghz")
    names, left_out = held_out(measurements, fitted)
    source = (f"profile {profile.path.name}: measured on {where.get('cpu_model', '?')}, "
              f"{where.get('usable_cpus', '?')} CPUs, Linux {where.get('kernel_release', '?')}"
              f"{' (virtual machine)' if where.get('virtual_machine') else ''}, {where.get('date', '?')}")
    cases = []
    for name in names:
        model, what = _probe(name)
        m = measurements[name]
        ref = m["median_ns"] * ghz

        def measure(s: Setup, model=model, ref=ref):
            return ref, model(s)
        cases.append(Case(f"profile:{name}", KIND, f"{source}; median of {m.get('reps', '?')} samples, "
                          f"IQR/median {m.get('iqr_over_median', 0):.0%}", BAND, measure, "cycles",
                          f"linux preset: {what}"))
    return cases, left_out
