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
after the flush (`shootdown_ack = "after"`). Everything else (targets through the lazy-TLB
rule, tlb_gen) is `per_cpu`'s.
"""

from __future__ import annotations

from smpsim.vm.strategies.shootdown_percpu import PerCpuShootdown


class CallFunctionShootdown(PerCpuShootdown):
    shorthand = False
