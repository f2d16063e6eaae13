"""What a finished simulation reports: counters, latency statistics, the exit breakdown."""

from __future__ import annotations

from smpsim.stats import latency_stats
from smpsim.vm.kernel import LATENCY_KINDS
from smpsim.vm.locks import PARTS


def result(k, epochs: int) -> dict:
    latency = {kind: latency_stats(*k.latency[kind]) for kind in LATENCY_KINDS}
    breakdown = {part: k.exit_breakdown.get(part, 0) for part in PARTS}
    return {"counters": dict(k.counters), "latency": latency, "exit_breakdown": breakdown,
            "sim_cycles": epochs * k.config.machine.quantum_cycles, "epochs": epochs}
