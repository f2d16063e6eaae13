"""Deliberately broken strategies: substituted into a design to prove the invariant checker catches them.

Nothing under smpsim/ knows these exist; a test builds a policy whose design
has one of them in place of the correct strategy (`substitute`), or registers
one as a strategy and preset of its own, and checks that the checker names the
broken rule.
"""

from __future__ import annotations

import dataclasses

from smpsim.vm.strategies.pv_global_hash import GlobalHashPv
from smpsim.vm.strategies.pressure_switch import PressureSwitchOff
from smpsim.vm.strategies.pv_map_entry import MapEntryPv
from smpsim.vm.strategies.shootdown_mailbox import GlobalMailboxShootdown
from smpsim.vm.strategies.tags_pcid import PcidTags
from smpsim.vm.strategies.teardown_deferred import DeferredTeardown


class SkipLastTarget(GlobalMailboxShootdown):
    """Forgets one CPU that has the pmap loaded when it sends a shootdown."""

    def targets(self, pmaps, me):
        return super().targets(pmaps, me)[:-1]


class FreePtpsBeforeShootdown(GlobalMailboxShootdown):
    """pmap_update frees the unhooked PTPs before the shootdown that covers them."""

    def update(self, pmaps, op, reason):
        for pmap in pmaps:
            self.free_ptps(pmap, set(), op)
        super().update(pmaps, op, reason)


class LeavePvGlobalHash(GlobalHashPv):
    """Removing a mapping leaves its PV entry behind."""

    def remove(self, op, pmap, va, frame, ptp_frame, entry, page_locked=False):
        pass


class LeavePvMapEntry(MapEntryPv):
    def remove(self, op, pmap, va, frame, ptp_frame, entry, page_locked=False):
        pass


class DeferredForgetsLazyRefs(DeferredTeardown):
    """Teardown that forgets the lazy CPUs' references, so the last pmap_destroy comes too early."""

    def begin(self, pm, pmap):
        emptied = super().begin(pm, pmap)
        pmap.refs = 1
        return emptied


class PcidSkipsFlush(PcidTags):
    """Loads a PCID reused from an earlier generation without flushing it first."""

    def needs_flush(self, cpu, tag, pmap_id):
        return False


class PcidSparesInitiator(PcidTags):
    """Issue 13's bug: a shootdown's initiator is never told to flush the pmap's PCID, even when
    it is running another pmap (so it is not in pm_cpus and gets no local flush) but still holds
    entries under that PCID from an earlier run."""

    def kept(self, pmap, me):
        return {me}


def substitute(policy, **strategies):
    """A copy of `policy` whose design has `strategies` (kind=class) in place of its own."""
    out = policy.model_copy()
    out._design = dataclasses.replace(policy.design, **strategies)
    return out


class HoggingPagedaemon(PressureSwitchOff):
    """A pagedaemon run that takes 20 quanta before it frees anything: its synchronous runs hold
    the pagedaemon's CPU so long that nothing completes while an exit waits there."""

    def relieve(self, op, need):
        op.spend(20 * self.k.config.machine.quantum_cycles, "other")
