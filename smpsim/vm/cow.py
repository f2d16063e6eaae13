"""Copy-on-write faults after fork, on both sides: which page a write maps, copied or taken over.

Models the copy-on-write path of sys/uvm/uvm_fault.c (`uvm_fault_upper` / `uvmfault_promote`,
which copies an anon whose `an_ref` > 1 and reuses one whose `an_ref` is 1) and Linux
mm/memory.c `do_wp_page` (`wp_page_copy` for a folio another mm still maps,
`wp_can_reuse_anon_folio` -> `wp_page_reuse` for one only this mm maps), for entries
`uvmspace_fork` (smpsim.vm.fork) gave needs-copy amaps:

- a forked child's entry has an empty amap of its own whose sources are the parent's amap
  (`backing`) and, for a child of a forked child, the sources behind it (`chain`); a fault the
  entry's own amap cannot answer looks in the sources, nearest first (`cow_fault`);
- a page is *seen* by every entry whose own amap and nearer sources lack it: the owner of the
  amap holding it and the forked entries reading through to it (`seers`);
- a write copies a page someone else still sees, and takes over (reuses) one nobody else sees:
  a child's write to the parent's page copies it while the parent (or a sibling) still maps it;
- the parent's write to its own page that a live child still sees copies it too
  (`parent_write`): fork write-protected the parent's PTEs, and the kernels copy on whichever
  side writes first. The original stays with the children: moved into the one child's own amap
  (the page is then only that child's, and its later write reuses it, as Linux's does when the
  parent has already copied), or, for several, into a copy-on-write source put in front of
  theirs (`_spill`), where their writes copy it until the last one reuses it.
"""

from __future__ import annotations

from smpsim.vm.locks import Op
from smpsim.vm.objects import make_object


def cow_fault(k, op: Op, entry, off: int, write: bool):
    """A fault on a forked private entry whose own amap lacks the page: (frame, prot) to map,
    or (None, prot) to zero-fill. Read: the source's page, read-only. Write: a copy of it, or
    the page itself, taken into the entry's own amap, when no other entry still sees it."""
    frame = holder = None
    for src in entry.sources():
        frame = src.pages.get(off)
        if frame is not None:
            holder = src
            break
    if frame is None:
        return None, entry.prot
    if not write:
        k.counters["cow_read_shares"] += 1
        return frame, entry.prot.replace("w", "")
    if not seers(k, holder, off, entry):
        _move(k, holder, entry.obj, off)                    # the last to see it: reuse
        return frame, entry.prot
    return _copy(k, op, entry.obj, off), entry.prot


def parent_write(k, op: Op, entry, off: int, frame: int) -> int:
    """A write to `frame`, page `off` of the entry's own amap, which is a forked entry's source:
    the frame to map writable. The same page when no other entry sees it; otherwise a copy,
    the original left to the entries that see it."""
    others = seers(k, entry.obj, off, entry)
    if not others:
        return frame
    _spill(k, entry.obj, off, others)
    return _copy(k, op, entry.obj, off)


def seers(k, holder, off: int, me) -> list:
    """The map entries other than `me` that see page `off` of `holder` (ascending pid, then
    address): it is in their range, and their own amap and every source nearer than `holder`
    lack it."""
    found = []
    for pid in sorted(k.procs):
        for e in k.procs[pid].map.entries:
            if e is me or not e.offset <= off < e.offset + e.npages:
                continue
            for o in (e.obj, *e.sources()):
                if o is holder:
                    found.append(e)
                    break
                if off in o.pages:
                    break
    return found


def _copy(k, op: Op, obj, off: int) -> int:
    """A new page in `obj` at `off`, a copy of the one the writer saw."""
    copy = k.phys.alloc_data(obj, off)
    obj.pages[off] = copy
    k.counters["pages_allocated"] += 1
    k.counters["cow_faults"] += 1
    k.counters["pages_copied"] += 1
    k.page_alloc.alloc(op, "other", data=True)
    op.spend(k.costs.page_copy, "other")
    return copy


def _move(k, src, dst, off: int) -> None:
    frame = src.pages.pop(off)
    dst.pages[off] = frame
    k.phys.owner[frame] = (dst, off)


def _spill(k, obj, off: int, others: list) -> None:
    """Leave page `off` of `obj` to the entries in `others`, which see it: the one's own amap,
    or a source in front of all of theirs (the one they already share in front, else a new one
    each of them then holds)."""
    if len(others) == 1:
        _move(k, obj, others[0].obj, off)
        return
    front = others[0].backing
    if not (front is not None and front.spill and all(e.backing is front for e in others)):
        front = make_object(k, f"cow.{obj.id}.{off:x}", shared=False)
        front.spill = True
        for e in others:
            e.chain = e.sources()
            e.backing = front
            front.refs += 1
            front.sourced += 1
    _move(k, obj, front, off)
