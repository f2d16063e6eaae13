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

import re
from typing import Callable

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


def _probe(name: str) -> tuple[Callable[[Setup], float], str] | None:
    """The model's figure for a measurement, and what it is; None where there is none."""
    if m := re.fullmatch(r"madvise_local_(\d+)", name):
        n = int(m[1])
        return (lambda s: probes.madvise(s, n, 0)), f"MADV_DONTNEED of {n} page(s), the mm on one CPU"
    if m := re.fullmatch(r"madvise_remote_(\d+)_t(\d+)", name):
        n, k = int(m[1]), int(m[2])
        return (lambda s: probes.madvise(s, n, k)), f"MADV_DONTNEED of {n} page(s), the mm on {k + 1} CPUs"
    if m := re.fullmatch(r"fork_exit_(\d+)", name):
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


def profile_cases(profile) -> tuple[list[Case], dict[str, str]]:
    """Cases of kind "profile" for `profile` (a loaded cost profile: its calibration table and
    clock), and the measurements left out with the reason."""
    cal = profile.calibration
    measurements = cal.get("measurements", {})
    ghz = profile.machine.get("ghz")
    names, left_out = held_out(measurements, list(cal.get("fitted_from", [])))
    where = cal.get("machine", {})
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
