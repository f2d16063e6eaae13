"""The real kernel's flush categories (smpsim.trace.info) and the model counters each is held
against: the one table `validate --trace` and the `real` column of analyze/compare/report read.

- initiated ("local MM shootdown"): `local_flushes`, the initiator-side flushes of every
  shootdown (the local part of a flush that also goes remote included, as Linux traces it);
- remote requested ("remote IPI send", before the lazy-CPU filter): `shootdown_ipis` plus
  `lazy_ipis_skipped`, the targets a shootdown considered (per target CPU, where Linux traces
  one per flush: the same on two CPUs);
- remote queued (csd_queue_cpu with flush_tlb_func, one per target): `shootdown_ipis`;
- received ("remote shootdown"): `shootdown_ipis` (every IPI is handled; Linux skips tracing
  one that finds its CPU already up to date);
- task switch ("flush on task switch"): `tlb_switch_flushes`.
"""

from __future__ import annotations

MODEL_COUNTERS = {
    "initiated": ("local_flushes",),
    "remote_requested": ("shootdown_ipis", "lazy_ipis_skipped"),
    "remote_queued": ("shootdown_ipis",),
    "received": ("shootdown_ipis",),
    "task_switch": ("tlb_switch_flushes",),
}


def model_count(counters: dict, category: str) -> int:
    """The model's figure for a real category, from a run's counters."""
    return sum(counters.get(name, 0) for name in MODEL_COUNTERS[category])


DURATION_CALLS = ("munmap", "mprotect", "madvise")


def call_durations(path) -> dict:
    """The real median duration (ns) and count of the command's munmap, mprotect and madvise
    calls, sys_enter to sys_exit of one thread, read as a stream (a call whose sys_enter came
    before the recording is not counted)."""
    import statistics
    from smpsim.trace import events as ev
    from smpsim.trace.format import TraceReader
    codes = {ev.SYSCALL_CODE[name]: name for name in DURATION_CALLS}
    durations: dict[str, list[int]] = {name: [] for name in DURATION_CALLS}
    with TraceReader(path) as r:
        tree = {tid for tid, _, _, in_tree in r.header["tasks"] if in_tree}
        entered: dict[int, tuple[int, int]] = {}
        for kind, t, _, tid, *args in r.events():
            if tid not in tree or kind not in (ev.SYS_ENTER, ev.SYS_EXIT):
                continue
            if kind == ev.SYS_ENTER:
                entered[tid] = (args[0], t)
            elif entered.get(tid, (None,))[0] == args[0] and args[0] in codes:
                durations[codes[args[0]]].append(t - entered.pop(tid)[1])
    return {name: {"count": len(d), "median_ns": statistics.median(d) if d else None}
            for name, d in durations.items()}
