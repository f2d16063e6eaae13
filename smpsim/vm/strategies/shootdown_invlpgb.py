"""Broadcast TLB invalidation with AMD INVLPGB / TLBSYNC and global ASIDs (`shootdown = "invlpgb"`).

Models Linux 6.15 arch/x86/mm/tlb.c: `consider_global_asid` gives an mm a global ASID once it is
active on 4 or more CPUs (`mm_active_cpus_exceeds(mm, 3)`; `use_global_asid`), and
`flush_tlb_mm_range` then calls `broadcast_tlb_flush` instead of `flush_tlb_multi`: no IPI, the
range goes out in INVLPGB instructions of up to `invlpgb_count_max` pages each
(arch/x86/include/asm/tlbflush.h, set from CPUID Fn8000_0008 EDX in arch/x86/kernel/cpu/amd.c),
a full flush is one ASID-wide INVLPGB, and `TLBSYNC` waits until the issuer's own broadcasts have
completed everywhere. Targets are never interrupted and take no handler cycles; lazy CPUs are
flushed like the others and keep the mm. An mm on fewer CPUs is shot down with IPIs exactly as
`call_function` does (the lazy-TLB and ack rules included). Broadcasts use no mailbox and no
descriptor, so they never wait for one another.

Costs (`[costs]`): `invlpgb` per instruction issued, `tlbsync` for the wait; see
smpsim/costs.py for their sources. In the simulation each CPU that may hold the mm's entries
still gets a message (that is how its simulated TLB learns of the flush); none is counted as an
IPI, none steals cycles.
"""

from __future__ import annotations

from smpsim.protocol import ShootdownRequest
from smpsim.vm import generations
from smpsim.vm.locks import Op
from smpsim.vm.strategies.shootdown_callfunc import CallFunctionShootdown

GLOBAL_ASID_MIN_CPUS = 4        # mm_active_cpus_exceeds(mm, 3)
INVLPGB_COUNT_MAX = 8           # pages per INVLPGB (CPUID Fn8000_0008 EDX[15:0] + 1); a choice, see docs


class InvlpgbShootdown(CallFunctionShootdown):
    def shootnow(self, pmaps: list, vas, op: Op, reason: str) -> set[int]:
        for p in pmaps:
            if not p.global_asid and len(p.pm_cpus) >= GLOBAL_ASID_MIN_CPUS:
                p.global_asid = True
                self.k.counters["global_asids_assigned"] += 1
        if not all(p.global_asid for p in pmaps):
            return super().shootnow(pmaps, vas, op, reason)
        return self._broadcast(pmaps, vas, op, reason)

    def _broadcast(self, pmaps: list, vas, op: Op, reason: str) -> set[int]:
        k = self.k
        c, cnt = k.costs, k.counters
        me = op.cpu
        generations.bump(pmaps, vas)
        ids = {p.id for p in pmaps}
        cpus = [v.id for v in k.views if v.curpmap in pmaps or ids & v.seen_gen.keys()]
        t0 = op.t
        xid = k.next_id("xid")
        reqs = [ShootdownRequest(xid, k.epoch, me, tuple(sorted(ids)), *k.tags.request_tags(pmaps, vas, cpu), reason,
                                 cpu == me, False, k.check) for cpu in cpus]
        ex = k.exchange(cpus, reqs) if cpus else None
        n = 1 if vas is None else -(-len(vas) // INVLPGB_COUNT_MAX)
        op.spend(n * c.invlpgb + c.tlbsync, "shootdown")
        cnt["invlpgb_broadcasts"] += 1
        cnt["invlpgb_instructions"] += n
        cnt["tlbsync_waits"] += 1
        cnt["shootdown_exchanges"] += 1
        cnt["shootdown_full_flushes"] += vas is None
        if ex is not None:
            for a in ex.replies:
                cnt["shootdown_invlpg"] += a.invlpg
                if k.check:
                    k.views[a.cpu].tlb = a.tlb
        generations.caught_up(k, cpus, pmaps)
        wall = ex.wall_us if ex is not None else 0.0
        k.record_latency("shootdown", op.t - t0, wall)
        k.emit("shootdown", t0, initiator=me, pmap=pmaps[0].id if len(pmaps) == 1 else sorted(ids),
               targets=[], vas="full" if vas is None else len(vas), reason=reason, cycles=op.t - t0,
               mailbox_wait_cycles=0, wall_us=wall, broadcast=True)
        return set(cpus)
