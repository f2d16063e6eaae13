"""What a finished simulation reports: counters, latency statistics, the exit breakdown."""

from __future__ import annotations

from smpsim.stats import latency_stats
from smpsim.vm.kernel import LATENCY_KINDS
from smpsim.vm.locks import PARTS


def kernel_cycles(k) -> dict:
    """Cycles by category (each cycle in one), their total, and the final drain beside it."""
    cats = dict(k.cycles)
    cats["ipi_handling"] = k.counters["ipi_stolen_cycles"]
    out = {"total": sum(cats.values()), **cats}
    out["drain"] = k.counters["drain_cycles"]
    out["total_with_drain"] = out["total"] + out["drain"]
    return out


def result(k, epochs: int) -> dict:
    latency = {kind: latency_stats(*k.latency[kind]) for kind in LATENCY_KINDS}
    breakdown = {part: k.exit_breakdown.get(part, 0) for part in PARTS}
    return {"counters": dict(k.counters), "latency": latency, "exit_breakdown": breakdown,
            "sim_cycles": epochs * k.config.machine.quantum_cycles, "epochs": epochs,
            "kernel_cycles": kernel_cycles(k),
            "user_progress": {"total": sum(k.progress), "per_cpu": list(k.progress)},
            "drain": dict(getattr(k, "drained", None) or {})}
