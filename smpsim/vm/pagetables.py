"""Page tables as data: PTEs, page-table pages (PTPs) and the pmap that owns them.

x86-64 4-level page tables: PTPs are allocated on demand at levels 3, 2 and 1
(the PML4 at level 4 is allocated with the pmap). A level-1 PTP holds the PTEs
of 512 consecutive VA pages; its `ptes` dict maps va -> Pte for the valid
slots. The functions that change them are in `smpsim.vm.pmap`.
"""

from __future__ import annotations

from smpsim.vm.locks import SimLock
from smpsim.vm.packet import Packet

LIVE, REMOVING_ALL, DESTROYED = "live", "removing-all", "destroyed"


class Pte:
    __slots__ = ("frame", "prot", "wired", "ref", "mod")

    def __init__(self, frame: int, prot: str, wired: bool = False):
        self.frame = frame
        self.prot = prot
        self.wired = wired
        self.ref = False       # PG_U: set when a TLB fill used it; only then can a TLB hold it
        self.mod = False


class Ptp:
    __slots__ = ("frame", "level", "index", "nvalid", "ptes")

    def __init__(self, frame: int, level: int, index: int):
        self.frame = frame
        self.level = level
        self.index = index
        self.nvalid = 0          # valid entries in this page (PTEs or lower-level PDEs)
        self.ptes: dict[int, Pte] = {}   # level 1 only


class Pmap:
    def __init__(self, pid: int, tag: int, pml4_frame: int, owner: int):
        self.id = pid
        self.tag = tag            # TLB tag: the pmap id (FreeBSD PCIDs are per CPU: tags.cpu_tag)
        self.owner = owner        # process id
        self.refs = 1             # the vmspace's reference
        self.state = LIVE
        self.ptps: dict[tuple[int, int], Ptp] = {(4, 0): Ptp(pml4_frame, 4, 0)}
        self.pm_cpus: set[int] = set()
        self.resident = 0
        self.lock = SimLock(f"pmap{pid}", "pmap")
        # the shootdown packet being filled (pmap_tlb_shootdown), sent by pmap_update, and
        # the PTPs unhooked meanwhile, freed once that shootdown has gone out
        self.packet = Packet()
        self.ptp_free_pending: list[Ptp] = []
        self.pcid_cpus: set[int] = set()   # PCID: CPUs that may hold entries tagged with this pmap
        # Linux tlb_gen / FreeBSD-style generations (smpsim.vm.generations): bumped by every
        # shootdown of the pmap; `last_flush` is the VA count of the newest one (None: full)
        self.tlb_gen = 0
        self.last_flush: int | None = None
        self.global_asid = False           # INVLPGB: a global ASID, flushed by broadcast

    def pte(self, va: int) -> Pte | None:
        pt = self.ptps.get((1, va >> 9))
        return pt.ptes.get(va) if pt is not None else None

    def valid_ptes(self):
        for (level, _), ptp in self.ptps.items():
            if level == 1:
                yield from ptp.ptes.items()

    @property
    def nptps(self) -> int:
        return len(self.ptps)
