"""Sockets and shared cache lines: what it costs to reach another CPU.

CPUs are split evenly over `machine.sockets` (cpu * sockets // ncpus), as a
BIOS numbers cores socket by socket. Two things cost more across sockets:
IPI delivery (`ipi_delivery` / `ipi_delivery_remote`) and moving a written
cache line (`line_transfer` / `line_transfer_remote`).

Shared lines — spin locks, the shootdown mailbox, PV hash bucket heads, the
2011 global free-page queue lock `uvm_fpageqlock` — remember which CPU last
wrote them. Writing a line last written by another CPU pays a transfer (counted
in `line_transfers`, `line_transfers_remote`, `line_transfer_cycles`); a line the
CPU wrote last, or one never written, costs nothing extra. Contended holds wait
as before (smpsim.vm.locks); the transfer is on top of the wait.
"""

from __future__ import annotations


class Topology:
    def __init__(self, ncpus: int, sockets: int, costs, counters):
        self.ncpus = ncpus
        self.sockets = sockets
        self.costs = costs
        self.counters = counters

    def socket(self, cpu: int) -> int:
        return cpu * self.sockets // self.ncpus

    def same_socket(self, a: int, b: int) -> bool:
        return self.socket(a) == self.socket(b)

    def delivery(self, initiator: int, target: int) -> int:
        """IPI delivery from `initiator` to `target` (until the target's handler starts)."""
        c = self.costs
        return c.ipi_delivery if self.same_socket(initiator, target) else c.ipi_delivery_remote

    def transfer_cost(self, last: int | None, cpu: int) -> int:
        """What moving a line last written by `last` to `cpu` costs (0 if it is already there)."""
        if last is None or last == cpu:
            return 0
        c = self.costs
        return c.line_transfer if self.same_socket(last, cpu) else c.line_transfer_remote

    def transfer(self, last: int | None, cpu: int) -> int:
        """As transfer_cost, and count the transfer."""
        cost = self.transfer_cost(last, cpu)
        if cost:
            cnt = self.counters
            cnt["line_transfers"] += 1
            cnt["line_transfer_cycles"] += cost
            if not self.same_socket(last, cpu):
                cnt["line_transfers_remote"] += 1
        return cost


class LineMap:
    """Last writers of a family of lines keyed by anything (PV hash bucket heads)."""

    __slots__ = ("last",)

    def __init__(self):
        self.last: dict = {}

    def write(self, key, cpu: int, topo: Topology | None) -> int:
        """`cpu` writes line `key`: the transfer it pays (counted)."""
        prev = self.last.get(key)
        self.last[key] = cpu
        return topo.transfer(prev, cpu) if topo is not None else 0
