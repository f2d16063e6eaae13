"""Workloads: deterministic generators of kernel operations, one module each.

A workload is built from the config by the runner and handed to the
coordinator, which binds it to the kernel (`bind`) and asks it for its first
operations; it is told when each finishes (`after`) and schedules what follows.
Operations are the typed records of `smpsim.vm.operations`; a workload's state
machine lives in its own objects (the `ctx` of its operations), never in the
kernel. Workloads: exit_storm, fork_exit / fork_exec_exit / shell, munmap_fanout (with
an mprotect option that exercises pmap_protect), memory_pressure, shared_eviction, tlb_flush
(threads of one process mapping, writing and unmapping their own region in a loop), tlb_flush2
(will-it-scale's tlb_flush2: write, madvise DONTNEED, read back, page by page), ctx_switch (a
context-switch storm) and trace (a recorded program replayed: workloads.trace).
"""

from __future__ import annotations

from smpsim.experiments.workloads.base import Workload
from smpsim.experiments.workloads.ctx_switch import CtxSwitch
from smpsim.experiments.workloads.exit_storm import ExitStorm
from smpsim.experiments.workloads.fork_exit import ForkExit
from smpsim.experiments.workloads.memory_pressure import MemoryPressure
from smpsim.experiments.workloads.munmap_fanout import MunmapFanout
from smpsim.experiments.workloads.shared_eviction import SharedEviction
from smpsim.experiments.workloads.tlb_flush import TlbFlush
from smpsim.experiments.workloads.tlb_flush2 import TlbFlush2
from smpsim.experiments.workloads.trace import TraceReplay

WORKLOADS = {"exit_storm": ExitStorm, "fork_exit": ForkExit, "fork_exec_exit": ForkExit, "shell": ForkExit,
             "munmap_fanout": MunmapFanout, "memory_pressure": MemoryPressure,
             "shared_eviction": SharedEviction, "tlb_flush": TlbFlush, "tlb_flush2": TlbFlush2,
             "ctx_switch": CtxSwitch, "trace": TraceReplay}

__all__ = ["Workload", "WORKLOADS", "make_workload"]


def make_workload(config) -> Workload:
    """A fresh workload for one simulation of `config` (not yet bound to a kernel)."""
    return WORKLOADS[config.workload.kind](config)
