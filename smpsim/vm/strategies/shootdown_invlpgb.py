"""Broadcast TLB invalidation with AMD INVLPGB / TLBSYNC and global ASIDs (`shootdown = "invlpgb"`).

Models Linux 6.15 arch/x86/mm/tlb.c ("x86/mm: Enable broadcast TLB invalidation for multi-threaded
processes", Rik van Riel, 2025): `flush_tlb_mm_range` calls `broadcast_tlb_flush` for an mm with a
global ASID, instead of `flush_tlb_multi`: no IPI, the range goes out in INVLPGB instructions of up
to `invlpgb_count_max` pages each, a full flush is one ASID-wide INVLPGB, and `TLBSYNC` waits until
the issuer's broadcasts have completed everywhere. Targets are never interrupted and take no
handler cycles; lazy CPUs are flushed like the others and keep the mm. An mm without a global ASID
is shot down with IPIs exactly as `call_function` does (the lazy-TLB and ack rules included). Broadcasts
use no mailbox and no descriptor, so they never wait for one another.

When an mm gets its global ASID (the design's `global_asid` rule):

- `consider` (the kernel's): `consider_global_asid(mm)` runs only in `flush_tlb_mm_range`'s IPI
  path, after `flush_tlb_multi` (so only when mm_cpumask holds another CPU), and acts only when
  `(current->pid & 0x1f) == (jiffies & 0x1f)` (a 1-in-32 chance per tick; `current` is the flushing
  task: here the thread running on the initiating CPU, its pid taken as its process's pid plus
  its index, as a process's threads get consecutive pids; jiffies at HZ=1000, smpsim.vm.jiffies) and
  `mm_active_cpus_exceeds(mm, 3)` finds more than 3 CPUs of the mask with the mm loaded and not
  lazy. Then `use_global_asid`. The ASID transition (`finish_asid_transition`'s IPIs to CPUs still
  on the old ASID) is not modelled: the mm is broadcast-flushed from its next flush on.
- `first_flush` (this model before issue 20): the first flush that finds 4 or more CPUs in the
  CPU set, lazy ones included, assigns it, whatever the time or the task.

Costs (`[costs]`): `invlpgb` per instruction issued; `tlbsync` for the wait on a single-socket
machine and `tlbsync_remote_socket` more for each further socket (see smpsim/costs.py). In the
simulation each CPU that may hold the mm's entries still gets a message (that is how its simulated
TLB learns of the flush); none is counted as an IPI, none steals cycles.
"""

from __future__ import annotations

from smpsim.protocol import VALID, ShootdownRequest
from smpsim.vm import generations
from smpsim.vm.declare import Parameter
from smpsim.vm.jiffies import jiffies
from smpsim.vm.locks import Op
from smpsim.vm.strategies.shootdown_callfunc import CallFunctionShootdown

GLOBAL_ASID_MIN_CPUS = 4        # mm_active_cpus_exceeds(mm, 3)
# Pages per INVLPGB: the kernel reads CPUID Fn8000_0008 EDX[15:0] + 1 (cpu_detect_tlb_amd,
# arch/x86/kernel/cpu/amd.c). This machine (AMD EPYC family 25 model 17 under KVM) hides INVLPGB
# (EBX[3] = 0, EDX = 0: measure/results/cpuid_invlpgb.txt), so the value could not be read: 8 is a choice.
INVLPGB_COUNT_MAX = 8
CONSIDER, FIRST_FLUSH = "consider", "first_flush"

# the design's global-ASID rule: read here, by the invlpgb strategy's shootnow (owner None)
GLOBAL_ASID_RULE = Parameter("global_asid", None, str, CONSIDER, "When an mm gets a global ASID for "
                             "INVLPGB (shootdown = invlpgb): consider_global_asid after an IPI flush, when "
                             "(pid & 0x1f) == (jiffies & 0x1f) and more than 3 CPUs run it (consider: Linux "
                             "6.15), or at the first flush finding 4 CPUs in its CPU set (first_flush)",
                             values=(CONSIDER, FIRST_FLUSH))


class InvlpgbShootdown(CallFunctionShootdown):
    def shootnow(self, pmaps: list, vas, op: Op, reason: str) -> set[int]:
        k = self.k
        eager = k.design.global_asid == FIRST_FLUSH
        if eager:
            for p in pmaps:
                if not p.global_asid and len(p.pm_cpus) >= GLOBAL_ASID_MIN_CPUS:
                    self.use_global_asid(p)
        if all(p.global_asid for p in pmaps):
            return self._broadcast(pmaps, vas, op, reason)
        others = any(p.pm_cpus - {op.cpu} for p in pmaps)
        flushed = super().shootnow(pmaps, vas, op, reason)
        if not eager and others and len(pmaps) == 1:
            self.consider_global_asid(pmaps[0], op)
        return flushed

    def use_global_asid(self, pmap) -> None:
        pmap.global_asid = True
        self.k.counters["global_asids_assigned"] += 1

    def consider_global_asid(self, pmap, op: Op) -> None:
        """Every 32nd tick for this task, and only if more than 3 CPUs run the mm (not lazily)."""
        k = self.k
        k.counters["global_asid_considered"] += 1
        thread = k.views[op.cpu].cur_thread
        pid = thread.proc.pid + thread.tid if thread is not None else k.procs[pmap.owner].pid
        if pid & 0x1f != jiffies(k, op.t) & 0x1f:
            return
        active = sum(1 for c in pmap.pm_cpus if k.views[c].curpmap is pmap and k.views[c].state == VALID)
        if len(pmap.pm_cpus) >= GLOBAL_ASID_MIN_CPUS and active >= GLOBAL_ASID_MIN_CPUS:
            self.use_global_asid(pmap)

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
        op.spend(n * c.invlpgb + c.tlbsync + (k.topology.sockets - 1) * c.tlbsync_remote_socket, "shootdown")
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
