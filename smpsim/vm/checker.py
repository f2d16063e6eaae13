"""The invariant checker: the rules every design must keep (docs/architecture.md lists them).

`check_all` runs after every step when checking is on; `check_ptp_free` and
`check_destroy` run at the moment of the risky action (the kernel calls them).
Any breach raises `InvariantViolation` naming the invariant; the coordinator
logs it as an `invariant.violation` event and stops the run. Where a design
relaxes a rule (deferred teardown leaves a dying pmap's PTEs naming freed
pages), the strategy says so (`keeps_stale_ptes`) and the rule is skipped for
that pmap only.
"""

from __future__ import annotations

from smpsim.errors import InvariantViolation
from smpsim.protocol import LAZY, STALE, VALID
from smpsim.vm.pagetables import DESTROYED, LIVE, REMOVING_ALL
from smpsim.vm.physmem import DATA, FREE, PTP


def _fail(name: str, detail: str):
    raise InvariantViolation(name, detail)


def check_destroy(k, pmap) -> None:
    for v in k.views:
        if v.curpmap is pmap:
            _fail("destroy_while_referenced",
                  f"pmap {pmap.id} destroyed while cpu{v.id} still has it loaded ({v.state})")


def check_ptp_free(k, pmap, ptp, flushed: set[int]) -> None:
    for v in k.views:
        if v.curpmap is pmap and v.state in (VALID, LAZY) and v.id not in flushed:
            _fail("ptp_freed_early",
                  f"PTP frame {ptp.frame} (level {ptp.level}) of pmap {pmap.id} freed while "
                  f"cpu{v.id} ({v.state}) may still walk it and was not flushed")


def check_pages(k) -> None:
    phys = k.phys
    counts = phys.counts
    if sum(counts.values()) != phys.total:
        _fail("page_conservation", f"free+data+ptp+kernel = {sum(counts.values())} != {phys.total}")
    if counts[FREE] != len(phys.free_list):
        _fail("page_conservation", f"free count {counts[FREE]} != free list length {len(phys.free_list)}")
    if counts[DATA] != len(phys.owner):
        _fail("page_conservation", f"data count {counts[DATA]} != owned pages {len(phys.owner)}")
    nptp = sum(p.nptps for p in k.pmaps.values())
    if counts[PTP] != nptp:
        _fail("page_conservation", f"{counts[PTP]} PTP pages allocated but pmaps hold {nptp}")


def check_pmaps(k) -> None:
    holders: dict[int, int] = {}
    for v in k.views:
        if v.curpmap is not None:
            holders[v.curpmap.id] = holders.get(v.curpmap.id, 0) + 1
            if v.curpmap.state == DESTROYED:
                _fail("destroy_while_referenced", f"cpu{v.id} has destroyed pmap {v.curpmap.id} loaded")
    for p in k.pmaps.values():
        if p.refs < 0:
            _fail("refcount", f"pmap {p.id} has reference count {p.refs}")
        proc = k.procs.get(p.owner)
        expected = (0 if proc is None or proc.state == "exited" else 1) + holders.get(p.id, 0)
        if p.refs != expected:
            _fail("refcount", f"pmap {p.id} has {p.refs} references, expected {expected} "
                              f"(vmspace + {holders.get(p.id, 0)} CPUs)")


def check_pv(k) -> None:
    pv_map: dict[tuple[int, int], int] = {}
    for pmap_id, va, frame in k.pv.all_entries():
        key = (pmap_id, va)
        if key in pv_map:
            _fail("pv_duplicate", f"pmap {pmap_id} va {va:#x} has PV entries on frames {pv_map[key]} and {frame}")
        pv_map[key] = frame
        pmap = k.pmaps.get(pmap_id)
        if pmap is None:
            _fail("pv_without_pte", f"PV entry (pmap {pmap_id}, va {va:#x}, frame {frame}) of a destroyed pmap")
        pte = pmap.pte(va)
        if pte is None or pte.frame != frame:
            _fail("pv_without_pte", f"PV entry (pmap {pmap_id}, va {va:#x}, frame {frame}) has no matching PTE")
    kinds = k.phys.kind
    for pmap in k.pmaps.values():
        if pmap.state == REMOVING_ALL and k.teardown.keeps_stale_ptes:
            continue   # PV entries may go before PTEs, and PTEs may name freed pages
        for va, pte in pmap.valid_ptes():
            if k.zero_page.is_zero(pte.frame):
                continue   # the shared zero page: a kernel frame, mapped read-only, no PV entry
            if kinds[pte.frame] != DATA:
                _fail("pte_names_free_page", f"valid PTE (pmap {pmap.id}, va {va:#x}) names frame {pte.frame}, "
                                             f"which is no longer a data page")
            if pv_map.get((pmap.id, va)) != pte.frame:
                _fail("pte_without_pv", f"valid PTE (pmap {pmap.id}, va {va:#x}, frame {pte.frame}) has no PV entry")


def check_pv_indexes(k) -> None:
    """The V->P side of PV tracking holds exactly the entries of the per-page (P->V) lists:
    the global hash's chains, or the map entries' own lists."""
    on_pages = {(pmap_id, va): frame for pmap_id, va, frame in k.pv.all_entries()}
    indexed, where = k.pv.indexed_entries()
    if len(indexed) != len(set(indexed)) or set(indexed) != set(on_pages):
        extra = sorted(set(indexed) - set(on_pages))[:3]
        missing = sorted(set(on_pages) - set(indexed))[:3]
        _fail("pv_index", f"{where} and the per-page PV lists disagree: only in the index {extra}, "
                          f"only on pages {missing}, {len(indexed) - len(set(indexed))} duplicates")


def check_objects(k) -> None:
    """Each object's reference count is the number of map entries naming it."""
    refs: dict[int, int] = {}
    for proc in k.procs.values():
        for entry in proc.map.entries:
            refs[entry.obj.id] = refs.get(entry.obj.id, 0) + 1
            for src in entry.sources():
                refs[src.id] = refs.get(src.id, 0) + 1
    for obj in list(k.objects.values()):
        if obj.refs != refs.get(obj.id, 0):
            _fail("object_refcount", f"object {obj.name} has {obj.refs} references but "
                                     f"{refs.get(obj.id, 0)} map entries name it")


def check_cpus(k) -> None:
    for v in k.views:
        p = v.curpmap
        if p is None:
            continue
        if v.state == VALID and p.state != LIVE:
            _fail("access_through_dying_pmap", f"cpu{v.id} runs user code on pmap {p.id} in state {p.state}")
        if v.state in (VALID, LAZY) and v.id not in p.pm_cpus:
            _fail("pm_cpus", f"cpu{v.id} is {v.state} on pmap {p.id} but not in its pm_cpus")
        if v.state == STALE and v.id in p.pm_cpus:
            _fail("pm_cpus", f"cpu{v.id} is STALE on pmap {p.id} but still in its pm_cpus")
        if v.state != VALID:
            continue
        mine = k.tags.cpu_tag(p, v.id)
        for tag, va, frame, owner in v.tlb:
            if tag != mine:
                continue
            if owner != p.id:
                _fail("pcid_reuse_unflushed",
                      f"cpu{v.id} runs pmap {p.id} with tag {tag} but its TLB still holds va {va:#x} -> "
                      f"frame {frame} filled for pmap {owner}, the tag's previous owner")
            pte = p.pte(va)
            if pte is None or pte.frame != frame:
                _fail("stale_tlb_entry",
                      f"cpu{v.id} runs pmap {p.id} with a TLB entry va {va:#x} -> frame {frame} whose "
                      f"mapping {'is gone' if pte is None else f'now names frame {pte.frame}'} "
                      f"and whose shootdown has completed")


def check_all(k) -> None:
    check_pages(k)
    check_pmaps(k)
    check_pv(k)
    check_pv_indexes(k)
    check_objects(k)
    check_cpus(k)
    k.lazy.check_rules(k)
