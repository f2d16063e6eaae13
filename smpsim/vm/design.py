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

from dataclasses import dataclass, fields
from types import SimpleNamespace

from smpsim.vm.strategies import BUILTIN

# parameter -> the strategy kind whose constructor takes it
PARAMETERS = {"shootdown_batch": "shootdown"}
# parameter -> the strategy kind it is set on as an attribute after construction (a row that
# does not name it keeps the default below, so strategies and presets added elsewhere stay valid)
# (None: read by the kernel from the design itself: the pagedaemon's reclaim batch)
ATTRIBUTES = {"shootdown_ack": "shootdown", "reclaim_batch": None}
ATTRIBUTE_DEFAULTS = {"shootdown_ack": "after_flush", "reclaim_batch": 1}

_STRATEGIES: dict[str, dict] = {kind: dict(values) for kind, values in BUILTIN.items()}

PRESETS: dict[str, dict] = {
    # the 2011 x86 pmap after the rmind-uvmplock merge (NetBSD 5/6)
    # (pmap_tlb.c of NetBSD 5/6: pmap_tlb_intr flushes, then acknowledges)
    "netbsd5": dict(pv_tracking="global_hash", teardown="eager", lazy_tlb="on", pressure_switch="off",
                    pcid=False, shootdown="global_mailbox", shootdown_batch=6, shootdown_ack="after_flush",
                    reclaim_batch=1),
    # all three proposals of the 2011 tech-kern post
    "seed": dict(pv_tracking="map_entry", teardown="deferred", lazy_tlb="on", pressure_switch="on",
                 pcid=False, shootdown="global_mailbox", shootdown_batch=6, shootdown_ack="after_flush",
                 reclaim_batch=1),
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


@dataclass(frozen=True)
class Design:
    """The strategy classes of one design and their parameters."""
    pv_tracking: type
    teardown: type
    lazy_tlb: type
    pressure_switch: type
    pcid: type
    shootdown: type
    shootdown_batch: int
    shootdown_ack: str = ATTRIBUTE_DEFAULTS["shootdown_ack"]
    reclaim_batch: int = ATTRIBUTE_DEFAULTS["reclaim_batch"]

    def build(self, k) -> SimpleNamespace:
        """One instance of every strategy for the kernel context `k`."""
        out = {}
        for kind in kinds():
            params = {p: getattr(self, p) for p, owner in PARAMETERS.items() if owner == kind}
            out[kind] = getattr(self, kind)(k, **params)
            for attr, owner in ATTRIBUTES.items():
                if owner is not None and owner == kind:
                    setattr(out[kind], attr.removeprefix(f"{kind}_"), getattr(self, attr))
        return SimpleNamespace(**out)


def resolve(row: dict) -> Design:
    """The Design a full row (every kind and parameter) names."""
    row = {**ATTRIBUTE_DEFAULTS, **row}
    missing = [f.name for f in fields(Design) if f.name not in row]
    if missing:
        raise ValueError(f"a design needs {', '.join(missing)}")
    classes = {}
    for kind in kinds():
        value = row[kind]
        if value not in _STRATEGIES[kind]:
            allowed = ", ".join(repr(v) for v in _STRATEGIES[kind])
            raise ValueError(f"{kind}={value!r} is not a registered strategy; allowed: {allowed}")
        classes[kind] = _STRATEGIES[kind][value]
    ack = row["shootdown_ack"]
    if ack not in ("before_flush", "after_flush"):
        raise ValueError(f"shootdown_ack={ack!r}; allowed: 'before_flush', 'after_flush'")
    if not isinstance(row["reclaim_batch"], int) or row["reclaim_batch"] < 1:
        raise ValueError(f"reclaim_batch={row['reclaim_batch']!r} must be an integer >= 1")
    return Design(**classes, **{p: row[p] for p in (*PARAMETERS, *ATTRIBUTES)})
