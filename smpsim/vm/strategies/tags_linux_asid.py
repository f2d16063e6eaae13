"""TLB tags as Linux x86 assigns them (`pcid = "linux_asid"`): 6 dynamic ASIDs per CPU, tlb_gen.

Models arch/x86/mm/tlb.c of Linux 6.x: `choose_new_asid` gives each CPU `TLB_NR_DYN_ASIDS` (6)
ASID slots, each remembering the mm it last held (`ctx_id`) and the `tlb_gen` it is current to;
switching to an mm that holds a slot needs a flush only if that slot's generation is behind
(`switch_mm_irqs_off`), switching to one that does not takes the next slot round-robin
(`next_asid`) and flushes it. A CPU that switched away is left out of later shootdowns; its
slot's generation says whether it must flush when it comes back (`smpsim.vm.generations`).
With INVLPGB (`shootdown = "invlpgb"`), an mm active on 4 or more CPUs gets a global ASID
(`use_global_asid`): it takes no slot and broadcast flushes keep every CPU current.

In the model a slot's entries stay in the simulated TLB under the mm's tag after the slot is
reused; the CPU is told to drop them (a tag flush) before it next runs that mm.
"""

from __future__ import annotations

from smpsim.vm import generations
from smpsim.protocol import FLUSH_TAG, LAZY, VALID
from smpsim.vm.strategies.tags_base import TlbTagsStrategy

TLB_NR_DYN_ASIDS = 6


class LinuxAsidTags(TlbTagsStrategy):
    hardware_pcid = True
    user_flush = FLUSH_TAG

    def __init__(self, k):
        super().__init__(k)
        self.slots: list[list[int]] = [[] for _ in range(k.config.machine.ncpus)]   # pmap ids, LRU order

    def release(self, pmap) -> None:
        for cpu, slots in enumerate(self.slots):
            if pmap.id in slots:
                slots.remove(pmap.id)
            self.k.views[cpu].seen_gen.pop(pmap.id, None)

    def defer_flushes(self, pmaps, me: int) -> None:
        """CPUs that may hold a pmap's entries but are not sent this flush must flush them before
        they run it again (their ASID's tlb_gen falls behind). The initiator is one of them unless
        it has one of `pmaps` loaded: flush_tlb_mm_range flushes locally only when the mm is the
        CPU's loaded_mm, and a CPU that switched away keeps the entries under its ASID slot."""
        mine = self.k.views[me]
        local = mine.curpmap in pmaps and mine.state in (VALID, LAZY)
        for p in pmaps:
            if p.global_asid:
                continue                                   # a broadcast reaches every CPU
            for v in self.k.views:
                if (v.id == me and local) or v.id in p.pm_cpus:
                    continue
                if v.seen_gen.get(p.id) is not None:
                    generations.forget(v, p.id)

    def load(self, view, op) -> None:
        c = self.k.costs
        op.spend(c.context_switch - min(c.pcid_switch_saving, c.context_switch), "other")

    def stale_return(self, view, pmap, op) -> None:
        """A CPU that left the mm's cpumask on a flush runs it again: its ASID is behind, so
        `activated` flushes it (once, whatever else made it fall behind)."""
        generations.forget(view, pmap.id)

    def activated(self, view, pmap, op) -> None:
        """choose_new_asid: reuse the mm's slot (flushing if behind) or take the oldest slot."""
        k = self.k
        if not pmap.global_asid:
            slots = self.slots[view.id]
            if pmap.id in slots:
                slots.remove(pmap.id)
            else:
                k.counters["asid_slot_misses"] += 1
                if len(slots) >= TLB_NR_DYN_ASIDS:
                    generations.forget(view, slots.pop(0))
                if view.seen_gen.get(pmap.id) is not None:
                    generations.forget(view, pmap.id)      # its old slot was reused meanwhile
            slots.append(pmap.id)
        if generations.catch_up(k, view, pmap, op):
            k.counters["tlb_switch_flushes"] += 1
