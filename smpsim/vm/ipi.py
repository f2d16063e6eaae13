"""Timing of an IPI exchange (shootdown or switch-away), counting nothing twice.

Models the 2011 x86 shootdown path, sys/arch/x86/x86/pmap_tlb.c of NetBSD 5/6
(`pmap_tlb_shootnow`, `pmap_tlb_processpacket`, `pmap_tlb_intr`), and its
NetBSD 10 successor x86_tlb.c:

- the initiator claims the global mailbox (a CAS on `tm_pending`: `mailbox_claim`
  plus a line transfer if another CPU wrote it last), then sends the IPIs: one
  ICR write per target (`ipi_send`), or one broadcast (`LAPIC_DEST_ALLEXCL`) when
  every other CPU is a target, as `pmap_tlb_processpacket` does;
- target i's handler starts `ipi_delivery` (same socket) or `ipi_delivery_remote`
  (another socket) after its IPI left, spends `ipi_handler_entry` before it can
  act, and acknowledges either before its flush (`shootdown_ack = before`: NetBSD 10
  `pmap_tlb_intr`, FreeBSD) or after it (`after`: NetBSD 5/6 `pmap_tlb_intr`
  flushes first and acks last; Linux acks when the handler returns);
- an acknowledgement is a write to one shared word (`tm_pending`, later
  `pmap_tlb_pendcount`), so acknowledgements serialise on its cache line: each
  pays a line transfer from the previous writer, and the initiator's last read
  pays one more;
- the initiator's own flush runs while the IPIs are in flight (overlapped with
  the wait), so the initiator is done at max(sends + local flush, last ack).

The targets' whole handler cycles (entry, flush, exit) are taken from their
quanta by the caller; none of them is added to the initiator beyond what its
wait for the last acknowledgement contains.
"""

from __future__ import annotations

from dataclasses import dataclass

BEFORE_FLUSH, AFTER_FLUSH = "before", "after"     # the values of shootdown_ack (strategies.shootdown_base)
ACK_MODES = (BEFORE_FLUSH, AFTER_FLUSH)


@dataclass(frozen=True)
class Timing:
    claim: int          # mailbox claim (CAS plus line transfer)
    sends: int          # the initiator's IPI sends
    local: int          # the initiator's own flush, overlapped with the wait
    done: int           # from the claim's start to the last acknowledgement seen (or the local flush end)

    @property
    def wait(self) -> int:
        """Spinning for acknowledgements after the sends and the local flush."""
        return self.done - self.claim - self.sends - self.local


def exchange_timing(k, me: int, targets: list[int], work: dict[int, int], ack: str, claim_line,
                    local_cycles: int = 0, shared_ack: bool = True, shorthand: bool = True) -> Timing:
    """Time one exchange from `me` to `targets` (sorted; sent in that order). `work[cpu]` is
    the target's flush (or switch) work, which delays its acknowledgement only with
    `ack = after`. `claim_line` is the mailbox lock whose line the claim writes
    (None: no mailbox). `local_cycles` is the initiator's own flush. `shared_ack` False:
    each target acknowledges in its own line (FreeBSD's smp_tlb_done per CPU, Linux's
    call-function entries); the initiator reads them in turn, but the reads of lines already
    written are independent loads that overlap, so each target's acknowledgement is seen one
    line transfer after it was written, with no serial chain. `shorthand` False: the
    initiator queues a request for each target itself (Linux's call-function entries,
    `llist_add` to each target's queue), so it pays `ipi_send` per target even when one
    all-but-self IPI then reaches them all."""
    c, topo = k.costs, k.topology
    claim = 0
    if claim_line is not None:
        prev, claim_line.last_cpu = claim_line.last_cpu, me
        claim = c.mailbox_claim + topo.transfer(prev, me)
    broadcast = shorthand and len(targets) == k.config.machine.ncpus - 1 and len(targets) > 1
    if broadcast:
        k.counters["ipi_broadcasts"] += 1
    line_free, writer = claim, me
    sent = seen = claim
    for cpu in targets:
        sent = claim + c.ipi_send if broadcast else sent + c.ipi_send
        ready = sent + topo.delivery(me, cpu) + c.ipi_handler_entry
        if ack == AFTER_FLUSH:
            ready += work.get(cpu, 0)
        if shared_ack:
            line_free = max(line_free, ready) + topo.transfer(writer, cpu)   # the ack's write to tm_pending
            writer = cpu
        else:                                   # its own line: the request fetched, the ack read back
            seen = max(seen, ready + topo.transfer(me, cpu) + topo.transfer(cpu, me))
    sends = (c.ipi_send if broadcast else c.ipi_send * len(targets)) if targets else 0
    done = claim + sends + local_cycles
    if targets:
        last = line_free + topo.transfer(writer, me) if shared_ack else seen  # the initiator sees the last ack
        done = max(done, last)
    if claim_line is not None and targets:
        claim_line.last_cpu = writer if shared_ack else me
    return Timing(claim, sends, local_cycles, done)
