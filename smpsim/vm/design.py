"""Pmap designs: the registry of strategies, the presets table, and the resolved Design.

A design is one strategy per kind (PV tracking, teardown, lazy TLB, pressure
switch, TLB tags, shootdown, lazy drop, flush rule) plus their parameters. Each kind and
each parameter is declared once, by its base class or its reader
(`smpsim.vm.declare`): name, default, description and, for a
parameter, its type and bounds or allowed values. `KINDS` and `PARAMETERS`
collect those declarations in Design order; the PolicyConfig schema of configs is
built from them. A preset is one row of `PRESETS`; a row that omits a kind or
parameter gets its declared default, so a new kind needs no new column. A
policy in a config picks a preset and may override any kind or parameter.
Adding a preset that only recombines strategies is one new row (or
`register_preset`); adding a strategy value is one new module under
`smpsim.vm.strategies` plus its line in that package's table (or
`register_strategy`, e.g. from a test).
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import field, make_dataclass
from types import SimpleNamespace

from smpsim.vm.pagedaemon import RECLAIM_BATCH
from smpsim.vm.strategies.shootdown_invlpgb import GLOBAL_ASID_RULE
from smpsim.vm.strategies import BASES, BUILTIN
from smpsim.vm.declare import Kind, Parameter

KINDS: dict[str, Kind] = {base.KIND.name: base.KIND for base in BASES}
# parameter name -> its declaration (owner: the kind whose strategy takes it, or None: the kernel)
PARAMETERS: dict[str, Parameter] = {p.name: p for p in (*(q for base in BASES for q in base.PARAMETERS),
                                                        RECLAIM_BATCH, GLOBAL_ASID_RULE)}

_BASES: dict[str, type] = {base.KIND.name: base for base in BASES}
_STRATEGIES: dict[str, dict] = {kind: dict(BUILTIN[kind]) for kind in KINDS}

PRESETS: dict[str, dict] = {
    # The mid-2011 x86 pmap (NetBSD-current after the rmind-uvmplock merge, shipped in NetBSD 6).
    # The name `netbsd5` stays for the configs and results that use it, but this is not NetBSD 5.x:
    # the single global shootdown mailbox came with the 2011 x86 pmap_tlb.c (pmap_tlb_intr
    # flushes, then acknowledges), first released in NetBSD 6. Exit takes the md_gc_pmap path
    # that x86 pmap.c had since v1.97 (2009): pmap_remove_all marks the pmap, its shootdowns are
    # suppressed, one flush and the PTP frees come at pmap_update / pmap_destroy (teardown "gc";
    # "eager" remains a switch value). Flush rule: a count of VAs up to TP_MAXVA 6, PG_U elision,
    # the recursive-mapping VA of each freed PTP.
    "netbsd5": dict(pv_tracking="global_hash", teardown="gc", lazy_tlb="on", pressure_switch="off",
                    pcid="pmap", shootdown="global_mailbox", shootdown_batch=6, shootdown_ack="after",
                    lazy_drop="refcount", reclaim_batch=1, flush_rule="va_count", madvise="deactivate", zero_page="off", map_lock="vm_map"),
    # all three proposals of the 2011 tech-kern post
    "seed": dict(pv_tracking="map_entry", teardown="deferred", lazy_tlb="on", pressure_switch="on",
                 pcid="pmap", shootdown="global_mailbox", shootdown_batch=6, shootdown_ack="after",
                 lazy_drop="refcount", reclaim_batch=1, flush_rule="va_count", madvise="deactivate", zero_page="off", map_lock="vm_map"),
    # Today's kernels (issue 10; docs/kernels.md has each strategy's source and what is simplified).
    # NetBSD 10 x86: pmap_remove_all zaps PTPs 32 at a time, TP_MAXVA 16, PV in a per-PTP rb-tree,
    # one global mailbox, NetBSD lazy states, no PCIDs, NetBSD's flush rule (VA count, PG_U elision,
    # freed PTPs' recursive-mapping VAs); per-CPU uvm_pgflcache over bucket locks.
    "netbsd10": dict(pv_tracking="ptp_tree", teardown="zap_ptp", lazy_tlb="on", pressure_switch="off",
                     pcid="pmap", shootdown="global_mailbox", shootdown_batch=16, shootdown_ack="before",
                     lazy_drop="refcount", flush_rule="va_count", page_alloc="pgflcache", madvise="deactivate", zero_page="off", map_lock="vm_map"),
    # FreeBSD amd64: pmap_remove_pages, PV chunks, no lazy TLB, PCID with generations, per-CPU
    # shootdown descriptors; a one-page pmap_remove ends in pmap_invalidate_page, a larger one in
    # pmap_invalidate_all (flush rule page_or_all; ceiling 1 for P->V removals); per-CPU UMA page buckets over the per-domain free lock.
    "freebsd": dict(pv_tracking="pv_chunk", teardown="remove_pages", lazy_tlb="off", pressure_switch="off",
                    pcid="pcid", shootdown="per_cpu", shootdown_batch=1, shootdown_ack="before",
                    lazy_drop="refcount", flush_rule="page_or_all", page_alloc="uma", fork="pmap_copy", madvise="advise", zero_page="off", map_lock="vm_map"),
    # Linux x86 6.15-6.18: mmu_gather fullmm, rmap instead of PV, lazy mm with tlb_gen, 6 dynamic
    # ASIDs per CPU, per-CPU call-function queues acknowledged after the handler; the mmu_gather range rule
    # (INVLPG per page of start..end up to tlb_single_page_flush_ceiling 33, else a full flush); pcp
    # lists over zone->lock and the LRU-add stage under lru_lock; the
    # mm_cpumask updated lazily and trimmed once a second (6.13+: 209954cbc7d0, 6db2526c1d69);
    # reclaim unmaps a shrink_folio_list list of SWAP_CLUSTER_MAX (32) folios with TTU_BATCH_FLUSH
    # and flushes once (try_to_unmap_flush).
    "linux": dict(pv_tracking="rmap", teardown="mmu_gather", lazy_tlb="linux", pressure_switch="off",
                  pcid="linux_asid", shootdown="call_function", shootdown_batch=33, shootdown_ack="after",
                  lazy_drop="refcount", flush_rule="mmu_range", page_alloc="pcp", mm_cpumask="lazy_trim",
                  reclaim_batch=32, fork="copy_page_range", madvise="zap", zero_page="on", map_lock="mmap_lock"),
    # Linux 6.15 on AMD Zen 3+: as linux, with a global ASID and INVLPGB/TLBSYNC for an mm that
    # consider_global_asid finds active on 4 or more CPUs.
    "linux_invlpgb": dict(pv_tracking="rmap", teardown="mmu_gather", lazy_tlb="linux", pressure_switch="off",
                          pcid="linux_asid", shootdown="invlpgb", shootdown_batch=33, shootdown_ack="after",
                          lazy_drop="refcount", flush_rule="mmu_range", page_alloc="pcp", mm_cpumask="lazy_trim",
                          reclaim_batch=32, fork="copy_page_range", madvise="zap", zero_page="on", map_lock="mmap_lock"),
}


def kinds() -> tuple[str, ...]:
    return tuple(KINDS)


def strategy_values(kind: str) -> tuple:
    """The values a kind can take (the registered strategies' names)."""
    return tuple(_STRATEGIES[kind])


def strategy_base(kind: str) -> type:
    """The base class every strategy of `kind` subclasses (its interface)."""
    return _BASES[kind]


def register_strategy(kind: str, value, cls: type) -> None:
    """Make `cls` the strategy `value` of `kind` (a new value, or a replacement)."""
    if kind not in _STRATEGIES:
        raise ValueError(f"unknown strategy kind {kind!r}; kinds: {', '.join(_STRATEGIES)}")
    if not (isinstance(cls, type) and issubclass(cls, _BASES[kind])):
        raise ValueError(f"a {kind} strategy must subclass {_BASES[kind].__name__}; {cls!r} does not")
    missing = unaccepted_parameters(kind, cls)
    if missing:
        raise ValueError(f"a {kind} strategy's constructor must take its kind's parameters; {cls.__name__} "
                         f"does not take {', '.join(missing)} (a policy overriding it would be ignored)")
    _STRATEGIES[kind][value] = cls


def unaccepted_parameters(kind: str, cls: type) -> list[str]:
    """The parameters `kind` owns that `cls`'s constructor does not take (none with **kwargs)."""
    accepted = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return []
    return [p.name for p in PARAMETERS.values() if p.owner == kind and p.name not in accepted]


def register_preset(name: str, row: dict) -> None:
    """Add (or replace) a preset: a value for any strategy kind and parameter (the others
    take their declared defaults)."""
    resolve(row)                      # refuse an unknown key or value now
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


def defaults() -> dict:
    """Every kind's and parameter's declared default."""
    return {**{k: decl.default for k, decl in KINDS.items()}, **{p.name: p.default for p in PARAMETERS.values()}}


def full_row(row: dict) -> dict:
    """`row` with every omitted kind and parameter at its default and old spellings of a value
    (`pcid = true`) replaced by the value's name; an unknown key is refused."""
    unknown = [key for key in row if key not in KINDS and key not in PARAMETERS]
    if unknown:
        raise ValueError(f"unknown design key {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join([*KINDS, *PARAMETERS])}")
    out = {**defaults(), **row}
    for kind, decl in KINDS.items():
        out[kind] = decl.canonical(out[kind])
    return out


def preset_row(name: str) -> dict:
    """The preset `name` with every kind and parameter filled in."""
    return full_row(PRESETS[name])


def _build(self, k) -> SimpleNamespace:
    """One instance of every strategy for the kernel context `k`, each given the parameters its
    kind owns (every registered class takes them: `register_strategy`)."""
    out = {}
    for kind in KINDS:
        params = {p.name: getattr(self, p.name) for p in PARAMETERS.values() if p.owner == kind}
        out[kind] = getattr(self, kind)(k, **params)
    return SimpleNamespace(**out)


# The strategy classes of one design (a field per kind) and its parameters (a field each, at its
# default): generated from the declarations, so a new kind or parameter adds its field itself.
Design = make_dataclass(
    "Design", [*((kind, type) for kind in KINDS),
               *((p.name, p.type, field(default=p.default)) for p in PARAMETERS.values())],
    frozen=True, namespace={"build": _build, "__doc__": "The strategy classes of one design and its parameters.",
                            "__module__": __name__})


def resolve(row: dict) -> Design:
    """The Design a row names (omitted kinds and parameters at their defaults)."""
    row = full_row(row)
    for p in PARAMETERS.values():
        problem = p.problem(row[p.name])
        if problem:
            raise ValueError(problem)
    classes = {}
    for kind in KINDS:
        value = row[kind]
        if value not in _STRATEGIES[kind]:
            allowed = ", ".join(repr(v) for v in _STRATEGIES[kind])
            raise ValueError(f"{kind}={value!r} is not a registered strategy; allowed: {allowed}")
        classes[kind] = _STRATEGIES[kind][value]
    return Design(**classes, **{p: row[p] for p in PARAMETERS})
