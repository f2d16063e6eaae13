"""TLB shootdown through per-initiator descriptors (`shootdown = "per_cpu"`): FreeBSD (and, through
`call_function`, Linux).

Models FreeBSD sys/amd64/amd64/pmap.c `pmap_invalidate_page` / `pmap_invalidate_all` over
sys/x86/x86/mp_x86.c `smp_targeted_tlb_shootdown` (each initiator fills its own per-CPU
`smp_tlb_shootdown` descriptor and waits on the targets' `smp_tlb_done` generation), and Linux
arch/x86/mm/tlb.c `flush_tlb_mm_range` -> `flush_tlb_multi` over kernel/smp.c
`smp_call_function_many_cond` (one call-function queue entry per target CPU). Unlike NetBSD's one
global mailbox, any number of CPUs shoot down at once: nothing serialises initiators, so no
initiator ever waits for another (`mailbox_waits` stays 0; an initiator's own descriptor is free
again when its synchronous shootdown returns, so its waits are 0 by construction).

Targets are the pmap's CPUs (pm_active / mm_cpumask) less the initiator, filtered by the lazy-TLB
strategy (Linux skips lazy CPUs unless page tables are freed, and applies its mm_cpumask rule: a
target it says switched away, under Linux 6.13+'s lazy mask, is sent an empty request, since
`flush_tlb_func` clears its bit and returns without flushing, so it is not made current; a batched
reclaim flush, reason `reclaim_batch`, Linux's `arch_tlbbatch_flush` with no mm, flushes it
anyway). The initiator pays the IPI sends
(one per target) and waits for the acknowledgements (timed by smpsim.vm.ipi; each in the
target's own descriptor, so they do not serialise on one line as NetBSD's do): with `shootdown_ack =
"before"` (FreeBSD: `invltlb_handler` and friends store `smp_tlb_done` before the INVLPG /
INVPCID) the wait ends at the slowest target's handler entry; with `"after"` (Linux: the
call-function entry is completed after `flush_tlb_func` returns) it includes the target's flush.
Its own flush overlaps the wait. Each shootdown bumps the pmaps' TLB generation
(`smpsim.vm.generations`): a CPU it skipped catches up before it next uses the pmap.
"""

from __future__ import annotations

import dataclasses

from smpsim.protocol import LAZY, STALE, VALID
from smpsim.vm import generations
from smpsim.vm.ipi import BEFORE_FLUSH, exchange_timing
from smpsim.vm.locks import Op
from smpsim.vm.pagedaemon import RECLAIM_BATCH_REASON
from smpsim.vm.strategies.shootdown_mailbox import GlobalMailboxShootdown


class PerCpuShootdown(GlobalMailboxShootdown):
    shorthand = True        # one all-but-self IPI when every other CPU is a target (ipi_all_but_self)

    def __init__(self, k, shootdown_batch: int, shootdown_ack: str = BEFORE_FLUSH):
        super().__init__(k, shootdown_batch, shootdown_ack)
        self._leaving: list = []
        self._now, self._no_mm, self._away, self._pmaps = 0, False, set(), []

    def locks(self):
        return ()                                          # no global mailbox

    def update(self, pmaps: list, op: Op, reason: str) -> None:
        super().update(pmaps, op, reason)
        leaving, self._leaving = self._leaving, []
        for v in leaving:                                  # lazy CPUs the flush made go stale
            if v.state == STALE and v.curpmap in pmaps:
                self.k.lazy.after_ipi(v, op)

    def targets(self, pmaps: list, me: int) -> list[int]:
        k = self.k
        cpus = sorted(set().union(*(p.pm_cpus for p in pmaps)) - {me})
        frees = self.freed_tables or any(p.ptp_free_pending for p in pmaps)
        chosen = k.lazy.ipi_targets([k.views[c] for c in cpus], pmaps, frees, self._now, self._no_mm)
        self._away = {c for c in chosen if k.lazy.switched_away(k.views[c], pmaps)}   # mm_cpumask rule
        cnt = k.counters
        cnt["ipis_freeing_tables"] += len(chosen) if frees else 0
        for c in cpus:
            v = k.views[c]
            if c not in chosen:
                cnt["lazy_ipis_skipped"] += 1
            elif v.state != VALID:
                cnt["ipis_to_inactive"] += 1
                if v.state == LAZY:
                    cnt["ipis_to_lazy"] += 1
                    cnt["ipis_to_lazy_freeing_tables"] += frees
        return chosen

    def shootnow(self, pmaps: list, vas, op: Op, reason: str) -> set[int]:
        generations.bump(pmaps, vas)
        self._now, self._no_mm, self._away, self._pmaps = op.t, reason == RECLAIM_BATCH_REASON, set(), pmaps
        flushed = super().shootnow(pmaps, vas, op, reason) - self._away
        generations.caught_up(self.k, flushed, pmaps)
        return flushed

    def _requests(self, pmaps, vas, targets, local, me, reason) -> list:
        """A switched-away CPU (Linux's lazy mm_cpumask) is sent nothing to flush: flush_tlb_func
        clears its bit and returns; a flush with no mm (batched reclaim) flushes it anyway."""
        reqs = super()._requests(pmaps, vas, targets, local, me, reason)
        if self._no_mm or not self._away:
            return reqs
        return [dataclasses.replace(r, vas=()) if cpu in self._away and not r.local else r
                for r, cpu in zip(reqs, [*targets, me])]

    def wait_for_acks(self, op: Op, targets, acks, local_ack=None) -> int:
        """No mailbox: the initiator sends the IPIs, flushes locally meanwhile and waits for the
        acknowledgements, each in the target's own descriptor (smpsim.vm.ipi, per-target lines)."""
        local = local_ack.handler_cycles if local_ack is not None else 0
        if not targets:
            op.spend(local, "shootdown")
            return 0
        k = self.k
        cnt = k.counters
        timing = exchange_timing(k, op.cpu, targets, {a.cpu: a.flush_cycles for a in acks}, self.ack, None,
                                 local, shared_ack=False, shorthand=self.shorthand)
        op.spend(timing.done, "shootdown")
        cnt["shootdown_exchanges"] += 1
        cnt["shootdown_ipis"] += len(targets)
        cnt["shootdown_ack_wait_cycles"] += timing.wait
        return 0

    def account_remote(self, acks, reqs) -> None:
        super().account_remote(acks, reqs)
        self._leaving += [self.k.views[a.cpu] for a, r in zip(acks, reqs) if r.go_stale]
        for a in acks:
            if a.cpu in self._away and not self._no_mm:
                v = self.k.views[a.cpu]
                v.stolen += self.k.lazy.clear_switched_away(v, self._pmaps)
