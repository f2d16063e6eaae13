"""Pmap designs: the registry of strategies, the presets table, and the resolved Design.

A design is one strategy per kind (PV tracking, teardown, lazy TLB, pressure
switch, TLB tags, shootdown) plus their parameters. A preset is one row of
`PRESETS` naming a value for every kind and parameter; a policy in a config
picks a preset and may override the switches its schema exposes. Adding a
preset that only recombines strategies is one new row (or `register_preset`);
adding a strategy is one new module under `smpsim.vm.strategies` plus its line
in that package's table (or `register_strategy`, e.g. from a test).
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import dataclass, fields
from types import SimpleNamespace

from smpsim.vm.strategies import BUILTIN

# parameter -> the strategy kind whose constructor takes it
PARAMETERS = {"shootdown_batch": "shootdown", "shootdown_ack": "shootdown"}

# when a shootdown target acknowledges: before its flush (NetBSD, FreeBSD) or after its handler (Linux)
ACK_TIMES = ("before", "after")
# parameter -> None: not a strategy's, read by the kernel from the design itself (the
# pagedaemon's reclaim batch); a row that does not name it keeps the default below
ATTRIBUTES = {"reclaim_batch": None}
ATTRIBUTE_DEFAULTS = {"reclaim_batch": 1}

_STRATEGIES: dict[str, dict] = {kind: dict(values) for kind, values in BUILTIN.items()}

PRESETS: dict[str, dict] = {
    # the 2011 x86 pmap after the rmind-uvmplock merge (NetBSD 5/6)
    # (pmap_tlb.c of NetBSD 5/6: pmap_tlb_intr flushes, then acknowledges)
    "netbsd5": dict(pv_tracking="global_hash", teardown="eager", lazy_tlb="on", pressure_switch="off",
                    pcid=False, shootdown="global_mailbox", shootdown_batch=6, shootdown_ack="after",
                    lazy_drop="refcount", reclaim_batch=1),
    # all three proposals of the 2011 tech-kern post
    "seed": dict(pv_tracking="map_entry", teardown="deferred", lazy_tlb="on", pressure_switch="on",
                 pcid=False, shootdown="global_mailbox", shootdown_batch=6, shootdown_ack="after",
                 lazy_drop="refcount", reclaim_batch=1),
    # Today's kernels (issue 10; docs/kernels.md has each strategy's source and what is simplified).
    # NetBSD 10 x86: pmap_remove_all zaps PTPs 32 at a time, TP_MAXVA 16, PV in a per-PTP rb-tree,
    # one global mailbox, NetBSD lazy states, no PCIDs.
    "netbsd10": dict(pv_tracking="ptp_tree", teardown="zap_ptp", lazy_tlb="on", pressure_switch="off",
                     pcid=False, shootdown="global_mailbox", shootdown_batch=16, shootdown_ack="before",
                     lazy_drop="refcount"),
    # FreeBSD amd64: pmap_remove_pages, PV chunks, no lazy TLB, PCID with generations, per-CPU
    # shootdown descriptors; a multi-page pmap_remove ends in pmap_invalidate_all (ceiling 1).
    "freebsd": dict(pv_tracking="pv_chunk", teardown="remove_pages", lazy_tlb="off", pressure_switch="off",
                    pcid=True, shootdown="per_cpu", shootdown_batch=1, shootdown_ack="before",
                    lazy_drop="refcount"),
    # Linux x86 6.x: mmu_gather fullmm, rmap instead of PV, lazy mm with tlb_gen, 6 dynamic ASIDs
    # per CPU, per-CPU call-function queues acknowledged after the handler, ceiling 33.
    "linux": dict(pv_tracking="rmap", teardown="mmu_gather", lazy_tlb="linux", pressure_switch="off",
                  pcid="linux_asid", shootdown="per_cpu", shootdown_batch=33, shootdown_ack="after",
                  lazy_drop="refcount"),
    # Linux 6.15 on AMD Zen 3+: as linux, with a global ASID and INVLPGB/TLBSYNC for an mm active
    # on 4 or more CPUs.
    "linux_invlpgb": dict(pv_tracking="rmap", teardown="mmu_gather", lazy_tlb="linux", pressure_switch="off",
                          pcid="linux_asid", shootdown="invlpgb", shootdown_batch=33, shootdown_ack="after",
                          lazy_drop="refcount"),
}


def kinds() -> tuple[str, ...]:
    return tuple(_STRATEGIES)


def strategy_values(kind: str) -> tuple:
    """The values a kind can take (the registered strategies' names)."""
    return tuple(_STRATEGIES[kind])


def register_strategy(kind: str, value, cls: type) -> None:
    """Make `cls` the strategy `value` of `kind` (a new value, or a replacement)."""
    if kind not in _STRATEGIES:
        raise ValueError(f"unknown strategy kind {kind!r}; kinds: {', '.join(_STRATEGIES)}")
    _STRATEGIES[kind][value] = cls


def register_preset(name: str, row: dict) -> None:
    """Add (or replace) a preset: a value for every strategy kind and parameter."""
    resolve(row)                      # refuse an incomplete or unknown row now
    PRESETS[name] = dict(row)


def preset_names() -> tuple[str, ...]:
    return tuple(PRESETS)


def strategy(kind: str, value) -> type:
    """The class registered as the strategy `value` of `kind`."""
    return _STRATEGIES[kind][value]


def unregister_strategy(kind: str, value) -> None:
    del _STRATEGIES[kind][value]


def unregister_preset(name: str) -> None:
    del PRESETS[name]


@contextmanager
def registered():
    """Strategies and presets registered inside the block are gone after it, and any it replaced
    come back: the registry and the presets table are left as they were found."""
    saved = {kind: dict(values) for kind, values in _STRATEGIES.items()}, dict(PRESETS)
    try:
        yield
    finally:
        for kind, values in saved[0].items():
            _STRATEGIES[kind].clear()
            _STRATEGIES[kind].update(values)
        PRESETS.clear()
        PRESETS.update(saved[1])


@dataclass(frozen=True)
class Design:
    """The strategy classes of one design and their parameters."""
    pv_tracking: type
    teardown: type
    lazy_tlb: type
    pressure_switch: type
    pcid: type
    shootdown: type
    lazy_drop: type
    shootdown_batch: int
    shootdown_ack: str
    reclaim_batch: int = ATTRIBUTE_DEFAULTS["reclaim_batch"]

    def build(self, k) -> SimpleNamespace:
        """One instance of every strategy for the kernel context `k`."""
        out = {}
        for kind in kinds():
            cls = getattr(self, kind)
            accepted = inspect.signature(cls).parameters
            params = {p: getattr(self, p) for p, owner in PARAMETERS.items() if owner == kind and p in accepted}
            out[kind] = cls(k, **params)
        return SimpleNamespace(**out)


def resolve(row: dict) -> Design:
    """The Design a full row (every kind and parameter) names."""
    row = {**ATTRIBUTE_DEFAULTS, **row}
    missing = [f.name for f in fields(Design) if f.name not in row]
    if missing:
        raise ValueError(f"a design needs {', '.join(missing)}")
    if row["shootdown_ack"] not in ACK_TIMES:
        raise ValueError(f"shootdown_ack={row['shootdown_ack']!r}; allowed: {', '.join(map(repr, ACK_TIMES))}")
    classes = {}
    for kind in kinds():
        value = row[kind]
        if value not in _STRATEGIES[kind]:
            allowed = ", ".join(repr(v) for v in _STRATEGIES[kind])
            raise ValueError(f"{kind}={value!r} is not a registered strategy; allowed: {allowed}")
        classes[kind] = _STRATEGIES[kind][value]
    if not isinstance(row["reclaim_batch"], int) or row["reclaim_batch"] < 1:
        raise ValueError(f"reclaim_batch={row['reclaim_batch']!r} must be an integer >= 1")
    return Design(**classes, **{p: row[p] for p in (*PARAMETERS, *ATTRIBUTES)})
