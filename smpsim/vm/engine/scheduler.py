"""The scheduler: which thread each CPU runs this quantum, as a context-switch notice.

Round robin over each CPU's run queue (threads of exited processes are dropped).
The kernel side of a switch is pmap_activate / pmap_deactivate; what they
decided reaches the CPU as a `Switch` it applies as told. The switch's cycles,
with a last pmap_destroy it may trigger, are taken from the CPU's quantum.
"""

from __future__ import annotations

from smpsim.protocol import FLUSH_NONE, Switch
from smpsim.vm.locks import Op


def pick(view):
    """The next runnable thread (a thread sleeping in wait() stays queued but is skipped)."""
    rq = view.runq
    rq[:] = [t for t in rq if t.proc.state == "running"]
    for i, t in enumerate(rq):
        if not t.asleep:
            rq.append(rq.pop(i))
            return t
    return None


def switch(k, view, thread, start: int) -> Switch:
    """Run `thread` (None: idle) on view's CPU from `start`; the notice for the CPU."""
    if thread is not view.cur_thread:
        k.counters["context_switches"] += 1
        view.cur_thread = thread
    op = Op("switch", view.id, start, k.counters, "context_switches")
    if thread is None:
        k.pmap_mod.pmap_deactivate(view, op)
    else:
        k.pmap_mod.pmap_activate(view, thread.proc.pmap, op)
    k.counters["switch_cycles"] += op.cycles
    k.account(op)
    view.stolen += op.cycles
    pmap = view.curpmap
    sw = Switch(pmap.id if pmap is not None else None, k.tags.cpu_tag(pmap, view.id) if pmap is not None else 0,
                view.state, view.switch_flush)
    view.switch_flush = FLUSH_NONE
    return sw
