"""The cost fit and the held-out cases (smpsim.experiments.calibration), on synthetic
measurements made by the model itself at known costs: the fit must find those costs again, the
held-out cases must then pass, and a fitted entry doubled must make one fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from smpsim.costs import CostModel
from smpsim.errors import CalibrationError
from smpsim.experiments.calibration import probes
from smpsim.experiments.calibration.fit import MAX_SPREAD, STEPS, FitError, fit
from smpsim.experiments.calibration.heldout import held_out, profile_cases
from smpsim.experiments.validate.contract import Setup

GHZ = 2.0
TRUE = {"machine.ghz": GHZ, "syscall": 400, "context_switch": 5000, "fault_trap": 900, "invlpg": 120, "rmap_last_unmap": 100, "zap_fixed": 1200,
        "ipi_delivery": 4000, "ipi_delivery_remote": 10000, "ipi_send": 250, "fork_pte_copy": 30, "fork_rmap_dup": 30,
        "zap_rmap_drop": 80, "fork_fixed": 150_000, "exit_fixed": 160_000, "wait_fixed": 12_000}


def _measure(setup: Setup) -> dict:
    """What calbench would report on a machine that is the model at `setup`'s costs."""
    def m(cycles, **extra):
        return {"median_ns": cycles / GHZ, "iqr_over_median": 0.05, "reps": 21, **extra}
    out = {"clock": {"ghz": GHZ}, "syscall": m(probes.syscall(setup)),
           "ctx_switch_process": m(probes.ctx_switch(setup) + 2 * probes.syscall(setup)),
           "first_touch_fault": m(probes.first_touch_fault(setup)),
           "read_fault_zero": m(probes.read_fault_zero(setup)),
           "cow_fault": m(probes.cow_fault(setup))}
    for n in (1, 8):
        out[f"mprotect_local_{n}"] = m(probes.mprotect(setup, n))
    out["mprotect_local_slope_8"] = m((probes.mprotect(setup, 8) - probes.mprotect(setup, 1)) / 7)
    out["madvise_local_slope_8"] = m(probes.madvise_slope(setup))
    out["fork_exit_slope"] = m((probes.fork_exit(setup, 64) - probes.fork_exit(setup, 1)) / 63)
    for n in (1, 8, 33, 34, 64):
        out[f"madvise_local_{n}"] = m(probes.madvise(setup, n, 0))
        out[f"madvise_remote_{n}_t1"] = m(probes.madvise(setup, n, 1), spinner_cpu_share=1.0)
    for p in (1, 64, 1024):
        out[f"fork_exit_{p}"] = m(probes.fork_exit(setup, p))
    for k in (2, 3):
        out[f"madvise_remote_1_t{k}"] = m(probes.madvise(setup, 1, k), spinner_cpu_share=1.0)
    return out


@pytest.fixture(scope="module")
def machine():
    return _measure(Setup(costs=CostModel(**{k: v for k, v in TRUE.items() if k != "machine.ghz"}), ghz=GHZ))


@dataclass
class _Profile:
    machine: dict
    calibration: dict
    path: Path = field(default_factory=lambda: Path("p.toml"))


def test_the_fit_finds_the_costs_the_measurements_were_made_with(machine):
    f = fit(machine, GHZ)
    for step in STEPS:       # a group scaled by one factor is found as a sum, its split kept
        if step.entries[0] in f.costs:
            found = sum(f.costs[e] for e in step.entries)
            assert found == pytest.approx(sum(TRUE[e] for e in step.entries), rel=0.03, abs=2), step.entries
    assert {"invlpg", "rmap_last_unmap", "zap_rmap_drop", "ipi_delivery", "ipi_send", "fault_trap",
            "fork_fixed"} <= set(f.costs)
    two_cpus = {n: m for n, m in machine.items() if not n.startswith("madvise_remote_1_t") or n.endswith("_t1")}
    assert "three or more CPUs" in fit(two_cpus, GHZ).skipped["ipi_send"]


def test_held_out_cases_pass_with_the_fitted_costs_and_fail_with_a_fitted_entry_doubled(machine):
    f = fit(machine, GHZ)
    profile = _Profile({"ghz": GHZ}, {"measurements": machine, "fitted_from": f.used})
    cases, _ = profile_cases(profile)
    names = {c.name for c in cases}
    assert {"profile:madvise_local_33", "profile:madvise_local_34", "profile:madvise_local_64",
            "profile:fork_exit_1024", "profile:cow_fault"} <= names
    assert not names & {f"profile:{n}" for n in f.used}
    fitted = Setup(costs=CostModel(**f.costs), ghz=GHZ)
    assert all(c.run(fitted).passed for c in cases)
    for entry, fails in (("fault_trap", "profile:cow_fault"), ("ipi_delivery", "profile:madvise_remote_8_t1"),
                         ("fork_fixed", "profile:fork_exit_64")):
        doubled = Setup(costs=CostModel(**{**f.costs, entry: 2 * f.costs[entry]}), ghz=GHZ)
        assert fails in [c.name for c in cases if not c.run(doubled).passed], entry


def test_a_noisy_fitted_figure_refuses_the_fit_unless_forced(machine):
    name = "madvise_local_slope_8"
    noisy = {**machine, name: {**machine[name], "iqr_over_median": MAX_SPREAD + 0.1}}
    with pytest.raises(CalibrationError, match=f"{name} is too noisy"):
        fit(noisy, GHZ)
    assert fit(noisy, GHZ, force=True).costs["rmap_last_unmap"] > 0


def test_a_remote_figure_whose_spinner_lost_its_cpu_is_neither_fitted_nor_held_out(machine):
    shared = {n: ({**m, "spinner_cpu_share": 0.3} if n.startswith("madvise_remote") else m)
              for n, m in machine.items()}
    f = fit(shared, GHZ)
    assert "ipi_delivery" not in f.costs and "ran only 30%" in f.skipped["ipi_delivery"]
    names, left_out = held_out(shared, f.used)
    assert not [n for n in names if n.startswith("madvise_remote")]
    assert "madvise_remote_64_t1" in left_out


def test_a_measurement_the_model_cannot_reach_is_a_fit_error(machine):
    cheap = {**machine, "first_touch_fault": {**machine["first_touch_fault"], "median_ns": 1.0}}
    with pytest.raises(FitError, match="fault_trap"):
        fit(cheap, GHZ)
    forced = fit(cheap, GHZ, force=True)
    assert "fault_trap" not in forced.costs and "forced past" in forced.skipped["fault_trap"]
    assert "fault_trap" not in forced.how, "an entry kept at its default is not listed as fitted"
