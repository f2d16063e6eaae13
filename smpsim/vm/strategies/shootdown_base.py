"""TLB shootdown, the kind's interface (`ShootdownStrategy`) and its two parameters.

A shootdown strategy is what `pmap_update` calls: it sends the invalidations the
pmaps have queued (their `Packet`s) to the CPUs that may hold them, then frees
the page-table pages the shootdown covered. The values are `global_mailbox`
(NetBSD), `per_cpu` (FreeBSD, Linux) and `invlpgb` (Linux on AMD Zen 3+).
"""

from __future__ import annotations

import abc

from smpsim.vm.ipi import ACK_MODES, AFTER_FLUSH
from smpsim.vm.declare import Kind, Parameter


class ShootdownStrategy(abc.ABC):
    """Kernel hooks: `update` is pmap_update (pmap_tlb_shootnow and the PTP frees after it);
    `ceiling` the packet's TP_MAXVA (`pmap_tlb_shootdown` turns a packet past it into a full
    flush); `ack` when a target acknowledges (read by the switch-away's timing too); `locks`
    the locks it owns (their calendars are pruned each epoch)."""

    KIND = Kind("shootdown", "global_mailbox", "How pmap_update's invalidations reach the other CPUs")
    PARAMETERS = (
        Parameter("shootdown_batch", KIND.name, int, 6, "VAs a shootdown packet holds before it becomes a "
                  "full flush (TP_MAXVA; Linux's tlb_single_page_flush_ceiling)", ge=1, le=512),
        Parameter("shootdown_ack", KIND.name, str, AFTER_FLUSH, "When a target acknowledges: before its "
                  "flush (NetBSD 10, FreeBSD) or after its handler (NetBSD 5/6, Linux)", values=ACK_MODES),
    )

    def __init__(self, k, shootdown_batch: int, shootdown_ack: str = AFTER_FLUSH):
        self.k = k
        self.ceiling = shootdown_batch
        self.ack = shootdown_ack

    @abc.abstractmethod
    def update(self, pmaps: list, op, reason: str) -> None:
        """pmap_update: send what `pmaps` queued, then free the PTPs it covered."""

    def locks(self):
        """Every lock the strategy owns."""
        return ()
