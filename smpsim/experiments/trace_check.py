"""Whether a trace can be replayed on the configured machine: checked when a config is loaded,
so that a bad trace is refused before a run directory or a cluster is made."""

from __future__ import annotations

from smpsim.errors import ConfigError, TraceError
from smpsim.experiments.config.schema import MAX_EPOCHS
from smpsim.trace.format import TraceReader


def trace_cpus(header: dict) -> int:
    """The CPUs the recording machine had (online), or saw, whichever the header says more of."""
    m = header.get("machine", {})
    counts = [v for v in (m.get("online_cpus"), m.get("cpus_seen")) if isinstance(v, int)]
    return max(counts, default=1)


def check_trace(path: str, machine, run) -> dict:
    """The trace's header, once it is known to fit `machine` and `run`; else a ConfigError."""
    try:
        with TraceReader(path) as r:
            header = r.header
    except TraceError as e:
        raise ConfigError(f"workload.trace: {e}") from None
    cpus = trace_cpus(header)
    if machine.ncpus < cpus:
        raise ConfigError(f"workload.trace {path} was recorded on {cpus} CPUs but machine.ncpus="
                          f"{machine.ncpus}: set machine.ncpus = {cpus} (the replay runs each task on the "
                          f"CPU it ran on)")
    span_ns = max(0, header.get("end_ns", header["start_ns"]) - header["start_ns"])
    epochs = span_ns * machine.clock_hz // 1_000_000_000 // machine.quantum_cycles + 2
    if epochs > MAX_EPOCHS:
        least = span_ns * machine.clock_hz // 1_000_000_000 // (MAX_EPOCHS - 1000) + 1
        raise ConfigError(f"workload.trace {path} spans {span_ns / 1e9:.3f} s, {epochs:,} epochs of "
                          f"machine.quantum_cycles={machine.quantum_cycles:,} at {machine.ghz} GHz, more than "
                          f"run.max_epochs can be ({MAX_EPOCHS:,}): raise machine.quantum_cycles to at least "
                          f"{least:,} (a recorded switch is then seen at a coarser grain)")
    if epochs > run.max_epochs:
        raise ConfigError(f"workload.trace {path} spans {span_ns / 1e9:.3f} s, {epochs:,} epochs of "
                          f"machine.quantum_cycles={machine.quantum_cycles:,} at {machine.ghz} GHz, more than "
                          f"run.max_epochs={run.max_epochs:,}: raise run.max_epochs to at least {epochs + 1000:,} "
                          f"(idle epochs are skipped, so a long trace costs its events, not its span)")
    return header


def trace_paths(cfg, data: dict) -> list[str]:
    """Every trace a config replays: its workload's and its sweep's."""
    paths = [cfg.workload.trace] if cfg.workload.kind == "trace" else []
    sweep = (data.get("sweep") or {}).get("workload.trace", [])
    paths += [v for v in sweep if isinstance(v, str)]
    paths += [w["trace"] for w in (data.get("sweep") or {}).get("workload", [])
              if isinstance(w, dict) and w.get("kind") == "trace" and isinstance(w.get("trace"), str)]
    return list(dict.fromkeys(paths))


def trace_records(cfg, data: dict) -> dict:
    """{path: {"sha256", "bytes"}} of every trace the run reads (run.json's `traces`)."""
    from smpsim.trace.format import trace_digest
    out = {}
    for path in trace_paths(cfg, data):
        try:
            out[path] = trace_digest(path)
        except OSError:
            pass                       # the config check has refused a trace that cannot be read
    return out
