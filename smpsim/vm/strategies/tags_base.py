"""TLB tags, the kind's interface (`TlbTagsStrategy`): what tags a pmap's TLB entries, and so
what an address-space switch must flush (`pcid`).

The values are `pmap` (no PCIDs: every switch reloads CR3 and flushes; `tags_pmap`), `pcid`
(FreeBSD-style PCIDs; `tags_pcid`) and `linux_asid` (Linux's per-CPU dynamic ASIDs;
`tags_linux_asid`). Configs still accept the old boolean spellings, `false` and `true`.
"""

from __future__ import annotations

import abc

from smpsim.protocol import FLUSH_ALL
from smpsim.vm.declare import Kind


class TlbTagsStrategy(abc.ABC):
    """Kernel hooks: `alloc` / `release` are pmap_create's and pmap_destroy's tag handling,
    `load` / `unload` / `activated` / `stale_return` pmap_activate's and pmap_deactivate's,
    `defer_flushes` the shootdown's note to CPUs it does not interrupt. `hardware_pcid` is
    the CPUs' CR4.PCIDE; `user_flush` what flushing one pmap's entries costs the TLB."""

    KIND = Kind("pcid", "pmap", "What tags a pmap's TLB entries, and so what a switch flushes",
                aliases=((False, "pmap"), (True, "pcid")))
    PARAMETERS = ()

    hardware_pcid = False
    user_flush = FLUSH_ALL

    def __init__(self, k):
        self.k = k

    def alloc(self, pmap_id: int) -> int:
        """pmap_create: the new pmap's tag (by default its own id)."""
        return pmap_id

    def release(self, pmap) -> None:
        """pmap_destroy: the pmap's tag may be reused."""

    def cpu_tag(self, pmap, cpu: int) -> int:
        """The tag the pmap's entries carry in `cpu`'s TLB (the same on every CPU unless the tags
        are per CPU, as FreeBSD's PCIDs are)."""
        return pmap.tag

    def request_tags(self, pmaps, vas, cpu: int):
        """A shootdown's (tags, vas) as `cpu` must apply them: each pmap's tag as that CPU knows it."""
        tags = tuple(sorted({self.cpu_tag(p, cpu) for p in pmaps}))
        if vas is None:
            return tags, None
        mine = {p.tag: self.cpu_tag(p, cpu) for p in pmaps}
        if all(a == b for a, b in mine.items()):
            return tags, vas
        return tags, tuple((mine.get(tag, tag), va) for tag, va in vas)

    def defer_flushes(self, pmaps, me: int) -> None:
        """A shootdown of `pmaps` from CPU `me`: note the flushes owed by CPUs it does not reach."""

    @abc.abstractmethod
    def load(self, view, op) -> None:
        """pmap_activate of another pmap: the switch's cost and flush."""

    def unload(self, view, op) -> None:
        """pmap_deactivate without lazy TLB: the CPU loads pmap_kernel."""

    @abc.abstractmethod
    def stale_return(self, view, pmap, op) -> None:
        """pmap_activate of the pmap a STALE CPU still holds: it must flush before running it."""

    def activated(self, view, pmap, op) -> None:
        """pmap_activate's end: `pmap` now runs on view's CPU."""
