"""`smpsim validate --trace FILE`: the `linux` preset replays a recorded program and its flush
counts are held against the real kernel's, recorded with it (cases of kind "trace").

Bands (issue 22): flushes initiated within 15% where the real kernel initiated at least 200;
remote flushes requested and queued within 30% where it made at least 100. Below those counts a
case is "insufficient", neither a pass nor a failure; a trace recorded without `tlb:tlb_flush`
(not x86) has no ground truth and its cases say "no data". The replay runs on the trace's CPU
count, a 10 us quantum and enough memory that reclaim does not start (the real kernel's
kernel-internal flushes, "local shootdown", which the program's calls do not explain, are
counted apart by `trace info` and never compared).

The costs are those of the recording machine where a profile of it is given (`--costs`), or,
without one, found beside the traces (`recording_profile`: their directory or a sibling
`profiles/`, a profile whose [calibration.machine] has the traces' CPU model, CPU count and kernel
release): how often two CPUs' flushes of one mm overlap depends on what an IPI costs there, and
on a virtual machine that is some thirty times the bare-metal defaults' (docs/trace.md). Each
case's note says which costs it ran with.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from smpsim.cost_profile import CostProfile, load_profile, machine_differences
from smpsim.errors import ConfigError, SimulationError
from smpsim.experiments.config.schema import MAX_EPOCHS
from smpsim.experiments import config as cfgmod
from smpsim.experiments.trace_check import trace_cpus
from smpsim.experiments.validate.contract import Case, Setup
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.trace.compare import model_count
from smpsim.trace.events import GROUND_TRUTH
from smpsim.trace.info import trace_info
from smpsim.vm.engine.coordinator import VmCoordinator

CATEGORIES = {"initiated": ((0.85, 1.15), 200), "remote_requested": ((0.7, 1.3), 100),
              "remote_queued": ((0.7, 1.3), 100)}
QUANTUM = 25_000
SOURCE = "the real kernel's tlb:tlb_flush / csd:csd_queue_cpu, recorded with the program (docs/trace.md)"
PROFILE_DIRS = (".", "../profiles")     # where a profile of the recording machine is looked for, from a trace


def replay_counters(trace: str, setup: Setup, preset: str = "linux") -> dict:
    """The counters of `trace` replayed under `preset` with the setup's costs, switches and clock."""
    return dict(_replay(trace, setup.costs.model_dump_json(), tuple(sorted(setup.switches.items())), setup.ghz,
                        preset))


@lru_cache(maxsize=8)
def _replay(trace: str, costs_json: str, switches: tuple, ghz: float, preset: str) -> tuple:
    info = trace_info(trace)
    span_cycles = int(info["duration_s"] * 1e9 * ghz)
    # 10 us, or coarser for a trace longer than MAX_EPOCHS of them (about 10 s)
    quantum = max(QUANTUM, -(-span_cycles // (MAX_EPOCHS - 2000)))
    policy = {"name": preset, "preset": preset, **dict(switches)}
    cfg = cfgmod.validate({"name": "validate-trace", "seed": 1,
                           "machine": {"ncpus": max(2, trace_cpus({"machine": info["machine"]})),
                                       "quantum_cycles": quantum, "phys_pages": 1 << 20, "ghz": ghz},
                           "costs": json.loads(costs_json),
                           "workload": {"kind": "trace", "trace": trace},
                           "policies": [policy], "run": {"max_epochs": MAX_EPOCHS}}, f"--trace {trace}")
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg))
    vm.start()
    try:
        while not vm.step(4096).done:
            pass
    except SimulationError as e:
        raise ConfigError(f"--trace {trace} cannot be replayed: {e}") from None
    return tuple(vm.counters().items())


def recording_profile(traces: list[str]) -> Path | None:
    """The one cost profile of the machine every trace was recorded on, found beside them; None
    if there is none, or more than one."""
    machines = [_info(t)["machine"] for t in traces]
    found = set()
    for trace in traces:
        for d in PROFILE_DIRS:
            for path in sorted((Path(trace).resolve().parent / d).glob("*.toml")):
                try:
                    profile = load_profile(path)
                except ConfigError:
                    continue                   # a config, or a damaged profile: not one to pick
                calibrated = profile.calibration.get("machine", {})
                if all(not machine_differences(calibrated, m) for m in machines):
                    found.add(path.resolve())
    return found.pop() if len(found) == 1 else None


def costs_note(profile: CostProfile | None, machine: dict) -> str:
    """Which costs a trace's cases ran with, as their notes say."""
    if profile is None:
        vm = (" (recorded on a virtual machine, whose IPIs cost far more: give --costs a profile of it, "
              "from `smpsim calibrate` there)" if machine.get("virtual_machine") else "")
        return "costs: the bare-metal defaults" + vm
    differences = machine_differences(profile.calibration.get("machine", {}), machine)
    if not differences:
        return f"costs: {profile.path.name}, a profile of the recording machine"
    return f"costs: {profile.path.name}, a profile of another machine ({', '.join(differences)})"


def _info(trace: str) -> dict:
    try:
        return trace_info(str(Path(trace).resolve()))
    except Exception as e:       # TraceError and OSError alike: one paragraph, exit 2
        raise ConfigError(f"--trace {trace}: {e}") from None


def trace_cases(path: str, name: str | None = None, profile: CostProfile | None = None) -> list[Case]:
    """The cases of one trace file, named trace_NAME_* (NAME: the file's stem unless given), run
    with the costs `profile` gives (their notes say which); a ConfigError if it is not a usable
    trace."""
    trace = str(Path(path).resolve())
    info = _info(path)
    costs = costs_note(profile, info["machine"])
    stem = name or Path(path).stem
    no_data = GROUND_TRUTH in info.get("missing_tracepoints", [])
    cases = []
    for category, (band, least) in CATEGORIES.items():
        real = info["real"][category]
        note = (f"no data: the trace has no {GROUND_TRUTH}" if no_data else
                f"model: {category.replace('_', ' ')} (docs/trace.md)")
        if category == "initiated" and not no_data:
            note += (f"; {info['real']['kernel_internal']:,} kernel-internal flushes (reclaim, compaction: "
                     f"not explained by the program's calls) counted apart, not compared")
        note += f"; {costs}"

        def measure(setup: Setup, category=category, real=real):
            return real, model_count(replay_counters(trace, setup), category)
        cases.append(Case(f"trace_{stem}_{category}", "trace", SOURCE, band, measure, "flushes", note,
                          min_reference=float("inf") if no_data else least))
    return cases
