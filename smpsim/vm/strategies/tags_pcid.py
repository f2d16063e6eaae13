"""TLB tags with PCIDs (`pcid = "pcid"`, formerly `true`): entries survive switches under their PCID.

Models x86 PCIDs as FreeBSD's amd64 pmap uses them (sys/amd64/amd64/pmap.c,
`pmap_activate_sw` and the per-CPU `pm_pcids` generations) on NetBSD's pmap:
PCIDs come from a pool (PCID 0 is the kernel's) and are reused first-in
first-out; a CPU that is not in a pmap's `pm_cpus` but may still hold entries
under its PCID is not sent an IPI — it is told to flush that PCID before it next
runs the pmap, as is a CPU whose PCID was reused by another pmap (INVPCID
single-context, counted in `tlb_switch_flushes`).
"""

from __future__ import annotations

from smpsim.errors import SimulationError
from smpsim.protocol import FLUSH_TAG
from smpsim.vm import generations
from smpsim.vm.strategies.tags_base import TlbTagsStrategy


class PcidTags(TlbTagsStrategy):
    hardware_pcid = True
    user_flush = FLUSH_TAG

    def __init__(self, k):
        super().__init__(k)
        ncpus = k.config.machine.ncpus
        self._free: list[int] = list(range(k.config.machine.pcids - 1, 0, -1))
        self.owner: list[dict[int, int]] = [{} for _ in range(ncpus)]    # per CPU: PCID -> pmap last run
        self.must_flush: list[set[int]] = [set() for _ in range(ncpus)]  # per CPU: PCIDs to flush first

    def alloc(self, pmap_id: int) -> int:
        if not self._free:
            raise SimulationError(f"out of PCIDs: machine.pcids={self.k.config.machine.pcids} are all "
                                  f"held by live or dying pmaps")
        return self._free.pop()

    def release(self, pmap) -> None:
        self._free.insert(0, pmap.tag)     # reused last: FIFO

    def defer_flushes(self, pmaps, me: int) -> None:
        """CPUs that may hold a pmap's entries but are not in its pm_cpus flush on next use.

        The initiator is no exception: when it runs another pmap (an munmap, or the
        pagedaemon's pmap_page_remove, on a CPU that is not running the pmap) it is not
        in pm_cpus, gets no local flush, and may still hold entries under the pmap's
        PCID from an earlier run. FreeBSD clears pm_gen for every CPU outside pm_active,
        curcpu included (pmap_invalidate_preipi_pcid); Linux's tlb_gen covers it too.
        When the initiator has the pmap loaded it is in pm_cpus and flushes locally."""
        for p in pmaps:
            for cpu in sorted(p.pcid_cpus - p.pm_cpus):
                self.must_flush[cpu].add(p.tag)
                self.k.counters["pcid_deferred_flushes"] += 1
                p.pcid_cpus.discard(cpu)

    def load(self, view, op) -> None:
        c = self.k.costs
        op.spend(c.context_switch - min(c.pcid_switch_saving, c.context_switch), "other")

    def stale_return(self, view, pmap, op) -> None:
        """A STALE CPU runs its pmap again: it must flush the PCID first, which `activated` does,
        once, together with any flush already owed to that PCID."""
        self.must_flush[view.id].add(pmap.tag)

    def activated(self, view, pmap, op) -> None:
        """pmap now runs on view's CPU: flush its PCID first if reused or told to."""
        tag = pmap.tag
        if self.needs_flush(view.id, tag, pmap.id):
            self.k.counters["tlb_switch_flushes"] += 1
            op.spend(self.k.costs.local_full_flush, "other")       # INVPCID single-context
            view.flush(FLUSH_TAG)
            view.seen_gen[pmap.id] = pmap.tlb_gen                  # nothing left to catch up on
        self.owner[view.id][tag] = pmap.id
        self.must_flush[view.id].discard(tag)
        pmap.pcid_cpus.add(view.id)
        # entries kept under the PCID may be behind a shootdown that skipped this CPU (a lazy
        # CPU under a generation-based lazy-TLB rule): catch up (smpsim.vm.generations)
        generations.catch_up(self.k, view, pmap, op)

    def needs_flush(self, cpu: int, tag: int, pmap_id: int) -> bool:
        return self.owner[cpu].get(tag, pmap_id) != pmap_id or tag in self.must_flush[cpu]
