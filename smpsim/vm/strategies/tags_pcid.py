"""TLB tags with FreeBSD's per-CPU PCID generations (`pcid = "pcid"`, formerly `true`).

Models sys/amd64/amd64/pmap.c (FreeBSD 12 on): `pmap_pcid_alloc` gives a pmap a PCID per CPU,
`pm_pcids[cpu] = {pm_pcid, pm_gen}`, from that CPU's `pc_pcid_next`; when the CPU's PCIDs run
out (`pcid_next == PMAP_PCID_OVERMAX`, here `machine.pcids`; PCID 0 is the kernel's) it starts
a new generation (`pc_pcid_gen + 1`) and hands the numbers out again, so allocation never
fails. A pmap whose `pm_gen` is the CPU's generation is cached: `pmap_activate_sw` loads CR3
with `CR3_PCID_SAVE` and keeps its entries. Otherwise it gets a fresh PCID and CR3 is loaded
without `CR3_PCID_SAVE`, which invalidates that PCID's entries, left there by whichever pmap
held the number in an earlier generation (`tlb_switch_flushes`; in the first generation a
number has never been used on the CPU and nothing is flushed). Every invalidation of a pmap
zeroes `pm_gen` on every CPU but the initiator running it (`pmap_invalidate_preipi_pcid`), so
a CPU that may hold entries but is not sent the IPI (`pcid_deferred_flushes`), and any other
CPU at its next load of the pmap, takes a fresh PCID instead of using stale entries.

In the simulation each CPU's TLB is tagged with that CPU's PCID of the pmap (`cpu_tag`), so a
number reused across generations really aliases: running a reused PCID unflushed is caught by
the checker (`pcid_reuse_unflushed`).
"""

from __future__ import annotations

from smpsim.protocol import FLUSH_TAG
from smpsim.vm import generations
from smpsim.vm.strategies.tags_base import TlbTagsStrategy


class PcidTags(TlbTagsStrategy):
    hardware_pcid = True
    user_flush = FLUSH_TAG

    def __init__(self, k):
        super().__init__(k)
        ncpus = k.config.machine.ncpus
        self.overmax = k.config.machine.pcids          # PMAP_PCID_OVERMAX: PCIDs 1 .. overmax-1
        self.pcid_next = [1] * ncpus                   # pc_pcid_next
        self.pcid_gen = [1] * ncpus                    # pc_pcid_gen
        self.pm_pcids: dict[int, dict[int, tuple[int, int]]] = {}   # pmap id -> cpu -> (pm_pcid, pm_gen)

    def release(self, pmap) -> None:
        self.pm_pcids.pop(pmap.id, None)               # its numbers come back with a later generation

    def cpu_tag(self, pmap, cpu: int) -> int:
        slot = self.pm_pcids.get(pmap.id, {}).get(cpu)
        return slot[0] if slot is not None else -1 - pmap.id    # never loaded there: matches nothing

    def cached(self, pmap, cpu: int) -> bool:
        slot = self.pm_pcids.get(pmap.id, {}).get(cpu)
        return slot is not None and slot[1] == self.pcid_gen[cpu]

    def needs_flush(self, cpu: int, tag: int, pmap_id: int) -> bool:
        """The pmap's next load on `cpu` is uncached: it takes a fresh PCID, loaded without
        CR3_PCID_SAVE."""
        slot = self.pm_pcids.get(pmap_id, {}).get(cpu)
        return slot is None or slot[1] != self.pcid_gen[cpu]

    def pcid_alloc(self, pmap, cpu: int) -> bool:
        """pmap_pcid_alloc for an uncached pmap: the CPU's next PCID, starting a new generation when
        they have run out. Returns True if the number was handed out in an earlier generation."""
        n = self.pcid_next[cpu]
        if n >= self.overmax:
            self.pcid_gen[cpu] += 1
            self.k.counters["pcid_generations"] += 1
            n = 1
        self.pm_pcids.setdefault(pmap.id, {})[cpu] = (n, self.pcid_gen[cpu])
        self.pcid_next[cpu] = n + 1
        self.k.counters["pcid_allocations"] += 1
        return self.pcid_gen[cpu] > 1

    def kept(self, pmap, me: int) -> set[int]:
        """The CPU whose pm_gen an invalidation leaves alone: the initiator, if it runs the pmap."""
        v = self.k.views[me]
        return {me} if v.curpmap is pmap and me in pmap.pm_cpus else set()

    def defer_flushes(self, pmaps, me: int) -> None:
        """pmap_invalidate_preipi_pcid: every CPU but an initiator running the pmap gets pm_gen 0,
        so its next load takes a fresh PCID. The CPUs that may hold entries but get no IPI (not in
        pm_cpus: the initiator running another pmap included) are counted."""
        for p in pmaps:
            keep = self.kept(p, me)
            slots = self.pm_pcids.get(p.id, {})
            for cpu, (pcid, _) in slots.items():
                if cpu not in keep:
                    slots[cpu] = (pcid, 0)
            for cpu in sorted(p.pcid_cpus - p.pm_cpus - keep):
                self.k.counters["pcid_deferred_flushes"] += 1
                p.pcid_cpus.discard(cpu)

    def load(self, view, op) -> None:
        """pmap_activate_sw of another pmap: a CR3 load, with CR3_PCID_SAVE when cached."""
        c = self.k.costs
        op.spend(c.context_switch - min(c.pcid_switch_saving, c.context_switch), "other")
        self.pcid_load(view, view.curpmap, op)

    def stale_return(self, view, pmap, op) -> None:
        """A STALE CPU runs its pmap again: it reloads CR3, and the pmap's pm_gen there was zeroed
        by the invalidation that made it stale, so it takes a fresh PCID."""
        slots = self.pm_pcids.get(pmap.id, {})
        if view.id in slots:
            slots[view.id] = (slots[view.id][0], 0)
        self.pcid_load(view, pmap, op)

    def pcid_load(self, view, pmap, op) -> None:
        cpu = view.id
        flush = self.needs_flush(cpu, pmap.tag, pmap.id)
        if not self.cached(pmap, cpu):
            reused = self.pcid_alloc(pmap, cpu)
            view.seen_gen[pmap.id] = pmap.tlb_gen          # a fresh PCID holds none of its entries
            if flush and reused:                           # loaded without CR3_PCID_SAVE
                self.k.counters["tlb_switch_flushes"] += 1
                op.spend(self.k.costs.local_full_flush, "other")
                view.flush(FLUSH_TAG)

    def activated(self, view, pmap, op) -> None:
        """pmap now runs on view's CPU (it may hold entries under its PCID there from now on)."""
        pmap.pcid_cpus.add(view.id)
        # entries kept under the PCID may be behind a shootdown that skipped this CPU (a lazy
        # CPU under a generation-based lazy-TLB rule): catch up (smpsim.vm.generations)
        generations.catch_up(self.k, view, pmap, op)
