"""The final drain: deferred work done at the end of a run, and reported beside it.

When the workload has finished, every CPU goes idle on pmap_kernel (as the idle
loop does after a while, or a switch to a kernel thread): each drops its
reference to the user pmap it still holds (`pmap_load` of pmap_kernel:
`switch_away` cycles, a CR3 write and the refcount decrement), so every dying
pmap still pinned by a lazy CPU is destroyed and its page-table pages freed —
in bulk under deferred teardown. What that costs is the work a design left
undone inside the run; it is reported as `drain` (summary `drain` and the
`drain_*` counters), never mixed into the run's own kernel cycles, so that
designs can be compared on the whole work as well as on the part done in time.
"""

from __future__ import annotations

from smpsim.protocol import FLUSH_ALL, QuantumRequest, Switch
from smpsim.vm.locks import Op


def drain(k, exchange, t: int, epoch: int) -> dict:
    """Switch every CPU to pmap_kernel at time t; run the destroys that frees. Returns the report."""
    cnt = k.counters
    freed0, destroyed0, pinned0 = cnt["ptp_freed"], cnt["pmaps_destroyed"], k.pinned_ptps()
    cycles = 0
    # an operation runs atomically but may end epochs after it started: the drain starts once
    # every CPU's last operation has ended, so it waits for no lock those still hold
    t = max([t] + [v.busy_until for v in k.views])
    for view in k.views:
        if view.curpmap is None:
            continue
        op = Op("drain", view.id, t, cnt)
        op.spend(k.costs.switch_away, "other")
        k.drop_cpu_ref(view, op)
        view.cur_thread = None
        view.runq.clear()
        cycles += op.cycles
    reqs = [QuantumRequest(epoch, v.id, Switch(None, 0, v.state, FLUSH_ALL), want_tlb=k.check) for v in k.views]
    ex = exchange([v.id for v in k.views], reqs)
    for view, rep in zip(k.views, ex.replies):
        if k.check:
            view.tlb = rep.tlb
    report = dict(cycles=cycles, ptp_freed=cnt["ptp_freed"] - freed0,
                  pmaps_destroyed=cnt["pmaps_destroyed"] - destroyed0, ptp_pinned_before=pinned0,
                  ptp_pinned_after=k.pinned_ptps())
    cnt["drain_cycles"] += cycles
    cnt["drain_ptp_freed"] += report["ptp_freed"]
    cnt["drain_pmaps_destroyed"] += report["pmaps_destroyed"]
    k.drained = report
    k.emit("drain", t, **report)
    return report
