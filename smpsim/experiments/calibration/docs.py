"""docs/costs.md: the cost model's table (smpsim.costs.markdown) followed by calibration: which
benchmark sets which cost entry and how (the fit's STEPS), the defaults beside the bundled profile
of this project's machine, and what a virtual machine changes. `smpsim costs --markdown` prints it;
a test keeps docs/costs.md equal to it."""

from __future__ import annotations

from pathlib import Path

from smpsim.costs import CostModel
from smpsim.costs import markdown as costs_markdown
from smpsim.cost_profile import load_profile
from smpsim.experiments.calibration.fit import MAX_SPREAD, MIN_SHARE, STEPS

BUNDLED = Path(__file__).resolve().parents[3] / "configs" / "profiles" / "kvm_epyc_2vcpu.toml"

VIRTUAL = """\
### What a virtual machine changes

On a KVM guest an IPI does not go straight from one core's APIC to another's: the hypervisor
delivers it (a VM exit on the sender's ICR write, or a paravirtual send-IPI hypercall, or AVIC
where the host enables it; which one this guest uses was not checked), and with KVM's
paravirtual remote flush, which Linux guests use when the host offers it, a preempted vCPU is
not interrupted at all but flushed when it next runs. On the machine of the bundled profile a
one-page `MADV_DONTNEED` costs {local:,.0f} ns with the process on one CPU and {remote:,.0f} ns
with a thread of it spinning on the other. On 2 CPUs `smpsim calibrate` cannot tell the sender's
share of that difference from the wire's and the target's, so the sender's was measured apart with
perf's tracepoints (measure/ipi_timing.py on measure/flush_overlap.c, measure/results/ipi_split.txt):
`ipi_send` = {send:,} cycles, its ICR write being a VM exit, of which the last `ipi_send_exit` =
{exit:,} come after the host has posted the interrupt (the window in which two CPUs' concurrent
flushes catch each other up, docs/trace.md); `ipi_delivery` is the rest of the fitted difference,
{ipi:,} cycles against the bare-metal default's {ipi_default:,} ({ipi_ratio:.0f}x). `ipi_handler` keeps
its bare-metal value, so what a target pays per IPI is undercharged; `ipi_delivery_remote` is scaled
in proportion with no cross-socket measurement behind it.
INVLPG looks cheap there: `invlpg` = {invlpg} cycles is what remains of the 1-to-8-page
mprotect slope after `pte_atomic` and `protect_pte` (a perf measurement of this machine, not
fitted), so an estimate rather than a measurement of INVLPG alone; the curve's own knee agrees
in size (33 pages flushed one by one cost {knee:,.0f} ns more than 34 with a full flush). This
guest's CPUID does not offer INVLPGB (measure/results/cpuid_invlpgb.txt). For users choosing a
design for cloud guests this moves the balance: a remote shootdown is some {trip_ratio:.0f} times
dearer relative to the work around it, so designs that send fewer IPIs (deferred teardown,
batched reclaim, lazy CPUs left out of shootdowns) gain far more on a guest than the
bare-metal defaults show, while per-page INVLPG savings matter less. Run a study with `--costs
configs/profiles/kvm_epyc_2vcpu.toml` (README, "Calibrating to your machine") to see it.
"""


def _steps_table() -> list[str]:
    lines = ["| cost entries | benchmark(s) | how |", "|---|---|---|"]
    for step in STEPS:
        entries = ", ".join(f"`{e}`" for e in step.entries)
        benches = ", ".join(f"`{m}`" for m in step.measurements)
        lines.append(f"| {entries} | {benches} | {step.how} |")
    return lines


def _beside(profile) -> list[str]:
    lines = ["| cost entry | default (bare metal, sourced above) | bundled profile | profile / default |",
             "|---|---:|---:|---:|"]
    ghz = profile.machine.get("ghz")
    lines.append(f"| `machine.ghz` | 2.5 | {ghz:g} | {ghz / 2.5:.2f}x |")
    for name, value in profile.costs.items():
        default = CostModel.model_fields[name].default
        ratio = f"{value / default:.2f}x" if default else "—"
        lines.append(f"| `{name}` | {default:,} | {value:,} | {ratio} |")
    return lines


def _round_trip(costs: dict) -> int:
    defaults = CostModel()
    return sum(costs.get(n, getattr(defaults, n)) for n in ("ipi_send", "ipi_delivery"))


def calibration_markdown(profile_path: Path = BUNDLED) -> str:
    if not profile_path.exists():          # an installed package without the repository's configs
        return "\n## Calibrating to a machine\n\n" + "\n".join(_steps_table()) + "\n"
    profile = load_profile(profile_path, "docs")
    m = profile.calibration["measurements"]
    where = profile.calibration["machine"]
    lines = ["", "## Calibrating to a machine", "",
             "`smpsim calibrate` runs C microbenchmarks (smpsim/calibrate/bench/calbench.c) and fits the entries",
             "below, one step after another, each so that the model's own figure for the benchmark (the same",
             "operation on the same CPUs under the `linux` preset, smpsim/experiments/calibration/probes.py)",
             "equals the measured median; every other entry keeps its default. A fitted figure whose",
             f"interquartile range exceeds {MAX_SPREAD:.0%} of its median refuses the profile (unless `--force`);",
             f"a remote figure whose spinning thread held its CPU less than {MIN_SHARE:.0%} of the time is not used.",
             "Everything else measured is held out and predicted: `smpsim validate --costs PROFILE` (cases of",
             "kind `profile`, band ±30%).", "", "### Benchmark -> cost entries it sets, and how", "",
             *_steps_table(), "",
             "### The defaults beside the bundled profile", "",
             f"`configs/profiles/{profile.path.name}`: {where['cpu_model']}, {where['usable_cpus']} vCPUs, "
             f"Linux {where['kernel_release']}, a KVM guest, measured {where['date']} ({where['mode']} mode).", "",
             *_beside(profile), "",
             VIRTUAL.format(local=m["madvise_local_1"]["median_ns"], remote=m["madvise_remote_1_t1"]["median_ns"],
                            ipi=profile.costs["ipi_delivery"], ipi_default=CostModel().ipi_delivery,
                            ipi_ratio=profile.costs["ipi_delivery"] / CostModel().ipi_delivery,
                            send=profile.costs["ipi_send"], exit=profile.costs["ipi_send_exit"],
                            trip_ratio=_round_trip(profile.costs) / _round_trip(CostModel().model_dump()),
                            invlpg=profile.costs["invlpg"],
                            knee=m["madvise_local_33"]["median_ns"] - m["madvise_local_34"]["median_ns"]).rstrip()]
    return "\n".join(lines) + "\n"


def markdown() -> str:
    """The whole of docs/costs.md."""
    return costs_markdown() + calibration_markdown()
