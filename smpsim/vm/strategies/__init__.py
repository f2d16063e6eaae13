"""The pmap design strategies, each in its own module, and the table of built-in ones.

A strategy kind is one design choice behind the pmap interface. Each kind has
one base class in its `*_base` module, which declares the kind (its switch
name, default value and description: `smpsim.vm.declare.Kind`), its parameters, and the
methods the kernel calls, each standing for one kernel hook; the values of a
kind are subclasses of it. `BASES` lists the kinds in the order of the Design;
`BUILTIN` maps kind -> value -> class. `smpsim.vm.design` builds presets from
them, and tests or users register more. Adding a strategy value is one module
plus one line here.
"""

from __future__ import annotations

from smpsim.vm.strategies.alloc_base import PageAllocStrategy
from smpsim.vm.strategies.alloc_global import GlobalPageAlloc
from smpsim.vm.strategies.alloc_pcp import PcpPageAlloc
from smpsim.vm.strategies.alloc_pgflcache import PgflCachePageAlloc
from smpsim.vm.strategies.alloc_uma import UmaPageAlloc
from smpsim.vm.strategies.flush_base import FlushRuleStrategy
from smpsim.vm.strategies.flush_mmu_range import MmuRangeFlush
from smpsim.vm.strategies.flush_page_or_all import PageOrAllFlush
from smpsim.vm.strategies.flush_va_count import VaCountFlush
from smpsim.vm.strategies.fork_base import ForkStrategy
from smpsim.vm.strategies.fork_copy_page_range import CopyPageRangeFork
from smpsim.vm.strategies.fork_pmap_copy import PmapCopyFork
from smpsim.vm.strategies.fork_uvm import UvmFork
from smpsim.vm.strategies.lazy_base import LazyTlbStrategy
from smpsim.vm.strategies.lazy_drop import RefcountLazyDrop, ShootLazies
from smpsim.vm.strategies.lazy_drop_base import LazyDropStrategy
from smpsim.vm.strategies.lazy_linux import LinuxLazyTlb
from smpsim.vm.strategies.lazy_netbsd import NetbsdLazyTlb
from smpsim.vm.strategies.lazy_off import NoLazyTlb
from smpsim.vm.strategies.madvise_advise import AdviseMadvise
from smpsim.vm.strategies.madvise_base import MadviseStrategy
from smpsim.vm.strategies.madvise_deactivate import DeactivateMadvise
from smpsim.vm.strategies.madvise_zap import ZapMadvise
from smpsim.vm.strategies.map_lock import MmapLock, VmMapLock
from smpsim.vm.strategies.map_lock_base import MapLockStrategy
from smpsim.vm.strategies.pressure_base import PressureSwitchStrategy
from smpsim.vm.strategies.pressure_switch import PressureSwitchOff, PressureSwitchOn
from smpsim.vm.strategies.pv_base import PvTrackingStrategy
from smpsim.vm.strategies.pv_global_hash import GlobalHashPv
from smpsim.vm.strategies.pv_chunk import PvChunkPv
from smpsim.vm.strategies.pv_map_entry import MapEntryPv
from smpsim.vm.strategies.pv_ptp_tree import PtpTreePv
from smpsim.vm.strategies.pv_rmap import RmapWalk
from smpsim.vm.strategies.shootdown_base import ShootdownStrategy
from smpsim.vm.strategies.shootdown_callfunc import CallFunctionShootdown
from smpsim.vm.strategies.shootdown_invlpgb import InvlpgbShootdown
from smpsim.vm.strategies.shootdown_mailbox import GlobalMailboxShootdown
from smpsim.vm.strategies.shootdown_percpu import PerCpuShootdown
from smpsim.vm.strategies.tags_base import TlbTagsStrategy
from smpsim.vm.strategies.tags_linux_asid import LinuxAsidTags
from smpsim.vm.strategies.tags_pcid import PcidTags
from smpsim.vm.strategies.tags_pmap import PmapIdTags
from smpsim.vm.strategies.teardown_base import TeardownStrategy
from smpsim.vm.strategies.teardown_deferred import DeferredTeardown
from smpsim.vm.strategies.teardown_eager import EagerTeardown
from smpsim.vm.strategies.teardown_gc import GcTeardown
from smpsim.vm.strategies.teardown_mmu_gather import MmuGatherTeardown
from smpsim.vm.strategies.teardown_remove_pages import RemovePagesTeardown
from smpsim.vm.strategies.teardown_zap_ptp import ZapPtpTeardown
from smpsim.vm.strategies.zero_page import NoZeroPage, SharedZeroPage
from smpsim.vm.strategies.zero_page_base import ZeroPageStrategy

BASES: tuple[type, ...] = (PvTrackingStrategy, TeardownStrategy, LazyTlbStrategy, PressureSwitchStrategy,
                           TlbTagsStrategy, ShootdownStrategy, LazyDropStrategy, PageAllocStrategy,
                           FlushRuleStrategy, ForkStrategy, MadviseStrategy, ZeroPageStrategy, MapLockStrategy)

BUILTIN: dict[str, dict] = {
    "pv_tracking": {"global_hash": GlobalHashPv, "map_entry": MapEntryPv, "ptp_tree": PtpTreePv,
                    "pv_chunk": PvChunkPv, "rmap": RmapWalk},
    "teardown": {"eager": EagerTeardown, "deferred": DeferredTeardown, "gc": GcTeardown,
                 "zap_ptp": ZapPtpTeardown, "remove_pages": RemovePagesTeardown, "mmu_gather": MmuGatherTeardown},
    "lazy_tlb": {"on": NetbsdLazyTlb, "off": NoLazyTlb, "linux": LinuxLazyTlb},
    "pressure_switch": {"on": PressureSwitchOn, "off": PressureSwitchOff},
    "pcid": {"pmap": PmapIdTags, "pcid": PcidTags, "linux_asid": LinuxAsidTags},
    "shootdown": {"global_mailbox": GlobalMailboxShootdown, "per_cpu": PerCpuShootdown,
                  "call_function": CallFunctionShootdown, "invlpgb": InvlpgbShootdown},
    "lazy_drop": {"refcount": RefcountLazyDrop, "shoot_lazies": ShootLazies},
    "page_alloc": {"global": GlobalPageAlloc, "pgflcache": PgflCachePageAlloc, "uma": UmaPageAlloc,
                   "pcp": PcpPageAlloc},
    "flush_rule": {"va_count": VaCountFlush, "mmu_range": MmuRangeFlush, "page_or_all": PageOrAllFlush},
    "fork": {"uvm": UvmFork, "pmap_copy": PmapCopyFork, "copy_page_range": CopyPageRangeFork},
    "madvise": {"deactivate": DeactivateMadvise, "advise": AdviseMadvise, "zap": ZapMadvise},
    "zero_page": {"off": NoZeroPage, "on": SharedZeroPage},
    "map_lock": {"vm_map": VmMapLock, "mmap_lock": MmapLock},
}
