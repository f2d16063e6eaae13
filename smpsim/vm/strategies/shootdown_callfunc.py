"""Linux's shootdown over call-function queues (`shootdown = "call_function"`).

Models arch/x86/mm/tlb.c `flush_tlb_mm_range` -> `flush_tlb_multi` -> `native_flush_tlb_multi`
-> `on_each_cpu_cond_mask` over kernel/smp.c `smp_call_function_many_cond`: for every target
the initiator locks that CPU's `call_single_data` (`csd_lock`), fills it and queues it on the
target's `call_single_queue` (`llist_add`, a cmpxchg on a line the target owns), then sends
the IPIs (`arch_send_call_function_ipi_mask`; the all-but-self shorthand when the mask is
every other CPU) and waits on each csd in turn (`csd_lock_wait`) until the target's handler
has run `flush_tlb_func` and unlocked it. So unlike FreeBSD's descriptor (`per_cpu`), the
initiator pays a queueing step per target even when one IPI reaches them all
(`ipi_send` per target, Amit 2019's ~70 ns per extra target), and the acknowledgement comes
after the flush (`shootdown_ack = "after"`). Its own `flush_tlb_func` comes after the sends,
so another CPU's flush of the same mm may catch it up first (flush_overlap). Everything else
(targets through the lazy-TLB rule, tlb_gen) is `per_cpu`'s.
"""

from __future__ import annotations

from smpsim.protocol import VALID
from smpsim.vm.ipi import AFTER_FLUSH
from smpsim.vm.locks import Op
from smpsim.vm.strategies.flush_overlap import Flight, Overlaps
from smpsim.vm.strategies.shootdown_percpu import PerCpuShootdown


class CallFunctionShootdown(PerCpuShootdown):
    shorthand = False

    def __init__(self, k, shootdown_batch: int, shootdown_ack: str = AFTER_FLUSH):
        super().__init__(k, shootdown_batch, shootdown_ack)
        self.overlaps = Overlaps(k.counters)
        self._caught_up = False

    def wait_for_acks(self, op: Op, targets, acks, local_ack=None) -> int:
        self._caught_up = bool(targets) and self.overlaps.fly(self._pmaps, self._flight(op, targets, local_ack))
        return super().wait_for_acks(op, targets, acks, local_ack)

    def _flight(self, op: Op, targets, local_ack) -> Flight:
        """The times exchange_timing gives: sends one after another in target order, the handler
        starting a delivery and an entry after its send; the local call after the sends. On a
        virtual machine the host posts the IPI `ipi_send_exit` before the send ends."""
        k = self.k
        c, me, t0 = k.costs, op.cpu, op.t
        arrivals = {}
        for i, cpu in enumerate(targets):
            v = k.views[cpu]
            if v.state == VALID and v.curpmap in self._pmaps and cpu not in self._away:
                sent = t0 + (i + 1) * c.ipi_send
                arrivals[cpu] = (sent - c.ipi_send_exit, sent + k.topology.delivery(me, cpu) + c.ipi_handler_entry)
        local_at = t0 + len(targets) * c.ipi_send if local_ack is not None else None
        return Flight(me, t0, local_at, c.ipi_send_exit > 0 and bool(targets), arrivals)

    def _account_local(self, ack) -> None:
        super()._account_local(ack)
        if self._caught_up:
            self.k.counters["local_flushes"] -= 1
            self.k.counters["local_flushes_caught_up"] += 1
