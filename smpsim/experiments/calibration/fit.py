"""Fit cost entries to a machine's measurements: a stated subset of them, the rest held out.

Each step sets one entry (or scales one group of entries by a common factor) so that the model's
own figure for a benchmark (smpsim.experiments.calibration.probes, the `linux` preset, the same
operation on the same CPUs) equals the measured one, with the entries fitted by earlier steps in
place. The probes run one thread of work, so every figure is linear in every cost: two runs of a
probe give the line, and the step solves it. An entry a measurement cannot move (the model does
not charge it on that path) or one that would have to go negative (the model's other costs alone
already exceed the measurement) is a `FitError` naming both, unless the step is optional.

The steps, in order (the measurement each uses; `STEPS` is the table docs/costs.md shows):

1. `machine.ghz` <- `clock` (the TSC frequency), which turns every other figure into cycles.
2. `syscall` <- `syscall` (the bare system call).
3. `context_switch` is not fitted: a pipe ping-pong handoff is mostly pipe, wakeup and
   scheduler work; the difference between the process and the thread handoffs (the address-space
   switch alone) is recorded in the profile's `skipped` table.
4. `fault_trap` <- `first_touch_fault` (the fault's fixed part, the page allocation, zeroing and
   LRU entries keeping their values).
5. `invlpg` <- `mprotect_local_slope_8`, the cost per page of mprotect(PROT_READ) between 1 and 8
   pages measured in alternating pairs (the PTE change, `pte_atomic` + `protect_pte` at their
   values, and its invalidation; no page freed; the slope of the `mprotect_local_1` and `_8`
   medians where it is missing).
6. `fork_pte_copy`, `fork_rmap_dup`, `zap_rmap_drop` scaled together <- `fork_exit_slope` (the
   same two sizes measured alternately, so drift cancels; the slope of the `fork_exit_1` and
   `fork_exit_64` medians where it is missing): the child's copy of each PTE and its exit's zap
   of it, the parent still mapping the page.
6a. `rmap_last_unmap` <- `madvise_local_slope_8`, the median pair of MADV_DONTNEED of 1 and 8
   pages: per page beyond the PTE clear, its invalidation and the zap of step 6, what unmapping a
   page's last mapping adds. In calbench's steady state the pages of such a DONTNEED are still in
   the CPU's LRU-add batch, so the median call frees none (measure/results/dontneed_split.txt);
   the 7th page's mmu_gather batch page (`gather_batch_page`, at its value) is in the slope. The
   free (`lru_step`, `page_pcpu_free`) keeps its measured defaults: it is held out, in the large
   DONTNEEDs.
6b. `zap_fixed` <- `madvise_local_1` (the fixed part of a DONTNEED beyond the syscall, with the
   per-page entries of steps 5 and 6 in place; 0 in the defaults).
7. `ipi_delivery` (and `ipi_delivery_remote` in proportion) <- `madvise_remote_1_t1` (the remote
   round trip; optional: skipped when the spinning thread did not keep its CPU, see `MIN_SHARE`).
8. `ipi_send` <- the slope of `madvise_remote_1_tK` over K (optional: needs 3 or more CPUs).
9. `fork_fixed`, `exit_fixed`, `wait_fixed` scaled together <- `fork_exit_1`.

Everything else a profile holds is held out (smpsim.experiments.calibration.heldout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from smpsim.costs import CostModel
from smpsim.errors import CalibrationError
from smpsim.experiments.calibration import probes
from smpsim.experiments.validate.contract import Setup

MAX_SPREAD = 0.5        # a fitted figure whose IQR / median exceeds this refuses the profile
MIN_SHARE = 0.9         # a remote figure whose spinning thread got less of its CPU is not used


class FitError(CalibrationError):
    """A fitted entry cannot reproduce its measurement in the model."""


@dataclass
class Fit:
    """The fitted costs (only the entries set), the clock, and how each entry was set."""
    ghz: float
    costs: dict = field(default_factory=dict)
    how: dict = field(default_factory=dict)          # entry -> "measurement: what was solved"
    skipped: dict = field(default_factory=dict)      # step -> why it was not fitted
    used: list = field(default_factory=list)         # the measurements fitted from
    force: bool = False                              # a step that cannot fit keeps its defaults

    def setup(self) -> Setup:
        return Setup(costs=CostModel(**self.costs), ghz=self.ghz)


@dataclass(frozen=True)
class Step:
    entries: tuple[str, ...]
    measurements: tuple[str, ...]
    how: str


STEPS = (
    Step(("machine.ghz",), ("clock",), "the TSC frequency in GHz, as published by the kernel or measured"),
    Step(("syscall",), ("syscall",), "median x ghz"),
    Step(("fault_trap",), ("first_touch_fault",), "solved so that the model's first write fault equals it"),
    Step(("invlpg",), ("mprotect_local_slope_8",),
         "solved so that the model's mprotect(PROT_READ) cost per page (8 vs 1) equals the measured one"),
    Step(("fork_pte_copy", "fork_rmap_dup", "zap_rmap_drop"), ("fork_exit_slope",),
         "scaled together so that the model's fork+exit+wait cost per page (64 vs 1) equals it"),
    Step(("rmap_last_unmap",), ("madvise_local_slope_8",),
         "solved so that the model's MADV_DONTNEED cost per page (8 vs 1, median pair) equals the measured one"),
    Step(("zap_fixed",), ("madvise_local_1",),
         "solved so that the model's 1-page MADV_DONTNEED, the process on one CPU, equals it"),
    Step(("ipi_delivery", "ipi_delivery_remote"), ("madvise_remote_1_t1", "madvise_local_1"),
         "scaled together so that the model's 1-page remote - local DONTNEED equals the measured one"),
    Step(("ipi_send",), ("madvise_remote_1_tK",), "solved so that the model's cost per extra target equals it"),
    Step(("fork_fixed", "exit_fixed", "wait_fixed"), ("fork_exit_1",),
         "scaled together so that the model's fork+exit+wait of a 1-page parent equals it"),
)


def _solve(fit: Fit, entries: tuple[str, ...], model: Callable[[Setup], float], target: float,
           what: str, how: str, base_when_zero: int = 0) -> None:
    """Scale `entries` by one factor so that `model` gives `target` cycles; record the values and,
    for each entry, `how` (the measurement it was fitted from). An entry whose default is 0 is
    scaled from `base_when_zero` instead (a unit to scale). A step that cannot fit raises FitError,
    or under --force keeps the defaults and is recorded as skipped."""
    base = {e: fit.costs.get(e, CostModel.model_fields[e].default) or base_when_zero for e in entries}

    def at(factor: float) -> float:
        trial = {**fit.costs, **{e: round(v * factor) for e, v in base.items()}}
        return model(Setup(costs=CostModel(**trial), ghz=fit.ghz))
    y1, y2 = at(1.0), at(2.0)
    slope = y2 - y1
    names = ", ".join(entries)
    try:
        factor = _factor(names, entries, slope, y1, target, what)
    except FitError as e:
        if not fit.force:
            raise
        fit.skipped[names] = f"forced past: {e}"
        return
    for e, v in base.items():
        fit.costs[e] = max(0, round(v * factor))
        fit.how[e] = how


def _factor(names: str, entries: tuple, slope: float, y1: float, target: float, what: str) -> float:
    if slope <= 0:
        raise FitError(f"cannot fit {names} to {what}: the model's figure does not grow with "
                       f"{'them' if len(entries) > 1 else 'it'} on this path (a model gap, not a "
                       f"measurement problem)")
    factor = 1.0 + (target - y1) / slope
    if factor < 0:
        raise FitError(f"cannot fit {names} to {what}: {target:,.0f} cycles measured, but the model "
                       f"charges {y1 - slope:,.0f} with {'them' if len(entries) > 1 else 'it'} at zero; the "
                       f"model's other costs on this path are too high for this machine (--force keeps "
                       f"the defaults for this step and writes the profile)")
    return factor


def _m(measurements: dict, name: str, force: bool) -> float:
    m = measurements[name]
    spread = m.get("iqr_over_median", 0.0)
    if spread > MAX_SPREAD and not force:
        raise CalibrationError(
            f"{name} is too noisy to fit a cost from: its interquartile range is {spread:.0%} of its "
            f"median ({m['median_ns']:,.0f} ns), above the {MAX_SPREAD:.0%} a profile accepts. Run "
            f"calibrate again on a quieter machine (nothing else running on the CPUs it uses, or "
            f"pick quieter ones with --cpus), or pass --force to write the profile anyway (the "
            f"profile then records that it was forced)")
    return m["median_ns"]


def _remote_ok(measurements: dict, name: str) -> str | None:
    """Why a remote figure cannot be used, or None."""
    m = measurements.get(name)
    if m is None:
        return f"{name} was not measured"
    share = m.get("spinner_cpu_share", 1.0)
    if share < MIN_SHARE:
        return (f"{name}: the thread keeping the address space loaded on the other CPU ran only "
                f"{share:.0%} of the time (another task shared that CPU), so many calls needed no "
                f"remote flush; the default IPI costs are kept")
    return None


def fit(measurements: dict, ghz: float, force: bool = False) -> Fit:
    """Fit the cost entries of `STEPS` to `measurements` (name -> {median_ns, iqr_over_median,
    ...}, as smpsim.calibrate.measure.run_benchmarks returns them) at clock `ghz`."""
    f = Fit(ghz=ghz, how={"machine.ghz": "clock"}, force=force)
    f.used.append("clock")

    def ns(name):
        if name not in f.used:
            f.used.append(name)
        return _m(measurements, name, force)

    def cycles(name):
        return ns(name) * ghz

    def slope(a, b, pages):
        return (cycles(b) - cycles(a)) / (pages - 1)

    def paired(op):
        """The per-page cost of `op` between 1 and 8 pages: measured in pairs where it was."""
        if f"{op}_local_slope_8" in measurements:
            return cycles(f"{op}_local_slope_8"), f"{op}_local_slope_8 (1 and 8 pages, paired)"
        return slope(f"{op}_local_1", f"{op}_local_8", 8), f"{op}_local_8 - {op}_local_1, per page"

    f.costs["syscall"] = round(cycles("syscall"))
    f.how["syscall"] = "syscall"
    _context_switch_not_fitted(f, measurements)
    _solve(f, ("fault_trap",), probes.first_touch_fault, cycles("first_touch_fault"), "first_touch_fault",
           "first_touch_fault")
    target, how = paired("mprotect")
    _solve(f, ("invlpg",), lambda s: (probes.mprotect(s, 8) - probes.mprotect(s, 1)) / 7,
           target, "the mprotect slope (1 to 8 pages)", how)
    if "fork_exit_slope" in measurements:     # paired: drift and interference cancel
        fork_slope, fork_how = cycles("fork_exit_slope"), "fork_exit_slope (1 and 64 pages, paired)"
    else:
        fork_slope, fork_how = slope("fork_exit_1", "fork_exit_64", 64), "fork_exit_64 - fork_exit_1, per page"
    _solve(f, ("fork_pte_copy", "fork_rmap_dup", "zap_rmap_drop"),
           lambda s: (probes.fork_exit(s, 64) - probes.fork_exit(s, 1)) / 63,
           fork_slope, "the fork+exit+wait slope (1 to 64 pages)", fork_how)
    target, how = paired("madvise")
    dontneed = (probes.madvise_slope if "madvise_local_slope_8" in measurements
                else lambda s: (probes.madvise(s, 8) - probes.madvise(s, 1)) / 7)
    _solve(f, ("rmap_last_unmap",), dontneed, target, "the MADV_DONTNEED slope (1 to 8 pages)", how)
    _solve(f, ("zap_fixed",), lambda s: probes.madvise(s, 1), cycles("madvise_local_1"),
           "the 1-page MADV_DONTNEED", "madvise_local_1", base_when_zero=1000)
    _fit_ipi_delivery(f, measurements, cycles)
    _fit_ipi_send(f, measurements, cycles)
    _solve(f, ("fork_fixed", "exit_fixed", "wait_fixed"), lambda s: probes.fork_exit(s, 1),
           cycles("fork_exit_1"), "fork_exit_1", "fork_exit_1")
    return f


def _context_switch_not_fitted(f: Fit, measurements: dict) -> None:
    """`context_switch` is the model's switch of a CPU to another address space; a pipe handoff is
    mostly the pipe, the wakeup and the scheduler, which that entry does not stand for. What the
    two ping-pongs tell is the address-space switch alone (process - thread), recorded."""
    proc, thread = measurements.get("ctx_switch_process"), measurements.get("ctx_switch_thread")
    extra = ("" if not (proc and thread) else
             f"; the handoff between processes ({proc['median_ns']:,.0f} ns) and between threads "
             f"({thread['median_ns']:,.0f} ns) differ by {proc['median_ns'] - thread['median_ns']:,.0f} ns, "
             f"the address-space switch alone")
    f.skipped["context_switch"] = ("a pipe ping-pong handoff is mostly pipe, wakeup and scheduler work, "
                                   "not the model's switch of address space" + extra)


def _fit_ipi_delivery(f: Fit, measurements: dict, cycles) -> None:
    why = _remote_ok(measurements, "madvise_remote_1_t1")
    if why is not None:
        f.skipped["ipi_delivery"] = why
        return
    target = cycles("madvise_remote_1_t1") - cycles("madvise_local_1")
    _solve(f, ("ipi_delivery", "ipi_delivery_remote"),
           lambda s: probes.madvise(s, 1, 1) - probes.madvise(s, 1, 0), target,
           "the 1-page remote - local MADV_DONTNEED", "madvise_remote_1_t1 - madvise_local_1")


def _fit_ipi_send(f: Fit, measurements: dict, cycles) -> None:
    ks = sorted(int(n.rsplit("_t", 1)[1]) for n in measurements if n.startswith("madvise_remote_1_t"))
    if len(ks) < 2:
        f.skipped["ipi_send"] = ("needs madvise_remote_1_tK for two or more K (three or more CPUs); "
                                 "the default per-target cost is kept")
        return
    for k in ks:
        why = _remote_ok(measurements, f"madvise_remote_1_t{k}")
        if why:
            f.skipped["ipi_send"] = why
            return
    lo, hi = ks[0], ks[-1]
    target = (cycles(f"madvise_remote_1_t{hi}") - cycles(f"madvise_remote_1_t{lo}")) / (hi - lo)
    _solve(f, ("ipi_send",), lambda s: (probes.madvise(s, 1, hi) - probes.madvise(s, 1, lo)) / (hi - lo),
           target, f"the cost per extra target (madvise_remote_1_t{lo} to _t{hi})",
           f"madvise_remote_1_t{hi} - madvise_remote_1_t{lo}, per target")
