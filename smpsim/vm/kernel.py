"""The kernel context: all VM state of one simulation and the services every operation uses.

It owns physical memory, objects, processes, pmaps, PV tracking, the mirror of
each CPU's loaded pmap and TLB state (what a real kernel keeps in per-CPU data:
ci_pmap, ci_tlbstate), the shootdown mailbox, counters, latencies and the event
stream. It reaches the CPUs only through `exchange`, which the coordinator
wires to a transport.
"""

from __future__ import annotations

from smpsim.cpus.cpu import KERNEL, LAZY, STALE, VALID
from smpsim.errors import InvariantViolation, SimulationError
from smpsim.protocol import ShootdownRequest, SwitchAwayRequest, to_plain
from smpsim.vm.counters import Counters
from smpsim.vm.locks import Op, SimLock
from smpsim.vm.physmem import PhysMem
from smpsim.vm.pmap import Pmap, PmapModule
from smpsim.vm.pv import make_tracker

LATENCY_KINDS = ("shootdown", "switch_away", "exit", "munmap", "fault", "pagedaemon", "destroy")

# Deliberately broken variants, used only by tests to prove the invariant checker catches them.
BUGS = ("skip_shootdown", "free_ptp_early", "leave_pv", "skip_pcid_flush", "destroy_ignores_lazy")


class CpuView:
    """The kernel's per-CPU data for one CPU, kept in step with the CPU through acks and replies."""

    def __init__(self, cpu: int):
        self.id = cpu
        self.curpmap: Pmap | None = None
        self.state = KERNEL
        self.runq: list = []
        self.cur_thread = None
        self.stolen = 0                 # IPI handler cycles to take from its next quantum
        self.busy_until = 0             # end of the last kernel operation it initiated
        self.fills_pmap: Pmap | None = None
        self.fill_vas: list[int] = []
        self.flush_tags: set[int] = set()
        self.tag_owner: dict[int, int] = {}
        self.tlb: tuple = ()            # last TLB content reported (invariant checking)


class Kernel:
    def __init__(self, config, policy, *, check: bool, trace: bool, bugs=()):
        m = config.machine
        self.config = config
        self.policy = policy
        self.costs = config.costs
        self.check = check
        self.tracing = trace
        unknown = set(bugs) - set(BUGS)
        if unknown:
            raise ValueError(f"unknown bug variants {sorted(unknown)}; known: {BUGS}")
        self.bugs = set(bugs)
        self.counters = Counters()
        fm, ft = m.watermarks()
        self.phys = PhysMem(m.phys_pages, m.kernel_pages, fm, ft)
        self.pv = make_tracker(policy.pv_tracking, self.costs)
        self.pmap_mod = PmapModule(self)
        self.shortcut = policy.teardown == "deferred"
        self.gc_teardown = policy.teardown == "gc"
        self.pmaps: dict[int, Pmap] = {}
        self.objects: dict[int, object] = {}
        self.procs: dict[int, object] = {}
        self.dying: dict[int, Pmap] = {}          # pmaps of exited processes not yet destroyed
        self.views = [CpuView(i) for i in range(m.ncpus)]
        self.mailbox = SimLock("tlb_mailbox", "mailbox")
        self.epoch = 0
        self._ids = {"pmap": 0, "xid": 0, "obj": 0, "proc": 0}
        self._free_pcids: list[int] = list(range(m.pcids - 1, 0, -1))   # PCID 0 is the kernel's
        self.latency: dict[str, tuple[list, list]] = {k: ([], []) for k in LATENCY_KINDS}
        self.exit_breakdown: dict[str, int] = {}
        self.events: list[dict] = []
        self.trace: list[dict] = []
        self.exchange = None                      # set by the coordinator: (targets, requests) -> Exchange
        self.in_relief = False
        self.pd_pending = False
        self.schedule = None                      # set by the coordinator: (time, cpu, kind, **args)

    # --- ids and tags ------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def next_pmap_id(self) -> int:
        return self.next_id("pmap")

    def alloc_tag(self, pmap_id: int) -> int:
        if not self.policy.pcid:
            return pmap_id
        if not self._free_pcids:
            raise SimulationError(f"out of PCIDs: machine.pcids={self.config.machine.pcids} are all "
                                  f"held by live or dying pmaps")
        return self._free_pcids.pop()

    def release_tag(self, pmap: Pmap) -> None:
        if self.policy.pcid:
            self._free_pcids.insert(0, pmap.tag)     # reused last: FIFO

    # --- events and latencies -------------------------------------------------------------------
    def emit(self, event: str, t: int, **fields) -> None:
        fields.update(event=event, sim_cycles=t, epoch=self.epoch)
        self.events.append(fields)

    def record_latency(self, kind: str, cycles: int, wall_us: float | None = None) -> None:
        """Record one sample; wall-clock time only for exchanges, which are the only thing timed."""
        cyc, wall = self.latency[kind]
        cyc.append(cycles)
        if wall_us is not None:
            wall.append(wall_us)

    # --- invariant hooks ---------------------------------------------------------------------------
    def violation(self, name: str, detail: str) -> None:
        raise InvariantViolation(name, detail)

    def check_destroy(self, pmap: Pmap) -> None:
        if not self.check:
            return
        for v in self.views:
            if v.curpmap is pmap:
                self.violation("destroy_while_referenced",
                               f"pmap {pmap.id} destroyed while cpu{v.id} still has it loaded ({v.state})")

    def check_ptp_free(self, pmap: Pmap, ptp, flushed: set[int]) -> None:
        if not self.check:
            return
        for v in self.views:
            if v.curpmap is pmap and v.state in (VALID, LAZY) and v.id not in flushed:
                self.violation("ptp_freed_early",
                               f"PTP frame {ptp.frame} (level {ptp.level}) of pmap {pmap.id} freed while "
                               f"cpu{v.id} ({v.state}) may still walk it and was not flushed")

    # --- page-table pages ---------------------------------------------------------------------------
    def free_ptp(self, pmap: Pmap, ptp, op: Op, bulk: bool) -> None:
        c = self.counters
        self.phys.release(ptp.frame)
        c["ptp_freed"] += 1
        if bulk:
            c["ptp_bulk_freed"] += 1
            op.spend(self.costs.ptp_bulk_free, "ptp_free")
        else:
            op.spend(self.costs.ptp_free, "ptp_free")

    def pinned_ptps(self) -> int:
        return sum(p.nptps for p in self.dying.values())

    def note_pinned(self) -> None:
        n = self.pinned_ptps()
        if n > self.counters["ptp_pinned_peak"]:
            self.counters["ptp_pinned_peak"] = n

    def on_pmap_destroyed(self, pmap: Pmap) -> None:
        self.dying.pop(pmap.id, None)
        self.pmaps.pop(pmap.id, None)

    # --- CPU views ------------------------------------------------------------------------------------
    def drop_cpu_ref(self, view: CpuView, op: Op) -> None:
        """The CPU loads another pmap: leave pm_cpus and release its reference (pmap_load)."""
        old = view.curpmap
        if old is None:
            return
        old.pm_cpus.discard(view.id)
        view.curpmap = None
        view.state = KERNEL
        view.fills_pmap = None
        self.pmap_mod.pmap_destroy(old, op)

    # --- shootdowns (pmap_tlb_shootnow) ------------------------------------------------------------------
    def shootnow(self, pmaps: list[Pmap], vas, op: Op, reason: str) -> set[int]:
        """Send one shootdown for `pmaps`: IPIs to their pm_cpus but the initiator, a local flush
        on the initiator if it has one loaded. Returns the CPUs that flushed."""
        c, k = self.costs, self.counters
        me = op.cpu
        view = self.views[me]
        targets = sorted(set().union(*(p.pm_cpus for p in pmaps)) - {me})
        if "skip_shootdown" in self.bugs and targets:
            targets = targets[:-1]
        local = view.curpmap in pmaps and view.state in (VALID, LAZY)
        if self.policy.pcid:
            for p in pmaps:
                for cpu in sorted(p.pcid_cpus - p.pm_cpus - {me}):
                    self.views[cpu].flush_tags.add(p.tag)
                    k["pcid_deferred_flushes"] += 1
                    p.pcid_cpus.discard(cpu)
        if not targets and not local:
            return set()
        xid = self.next_id("xid")
        pmap_ids = tuple(p.id for p in pmaps)
        tags = tuple(sorted({p.tag for p in pmaps}))
        reqs = [ShootdownRequest(xid, self.epoch, me, pmap_ids, tags, vas, reason, False, self.check)
                for _ in targets]
        dests = list(targets)
        if local:
            reqs.append(ShootdownRequest(xid, self.epoch, me, pmap_ids, tags, vas, reason, True, self.check))
            dests.append(me)
        t0 = op.t
        wait = 0
        ex = self.exchange(dests, reqs)
        acks = list(ex.replies)
        local_ack = acks.pop() if local else None
        if targets:
            # the mailbox is held from the claim until the slowest target has acknowledged
            held = c.mailbox_claim + c.ipi_first + c.ipi_extra * (len(targets) - 1) + \
                max(a.handler_cycles for a in acks)
            wait = op.hold_for(self.mailbox, held, "shootdown")
            k["shootdown_exchanges"] += 1
            k["shootdown_ipis"] += len(targets)
            if vas is None:
                k["shootdown_full_flushes"] += 1
        if local_ack is not None:
            k["local_flushes"] += 1
            k["shootdown_invlpg"] += local_ack.invlpg
            op.spend(local_ack.handler_cycles, "shootdown")
            if self.check:
                view.tlb = local_ack.tlb
        for a in acks:
            v = self.views[a.cpu]
            k["shootdown_invlpg"] += a.invlpg
            k["ipi_stolen_cycles"] += a.handler_cycles
            v.stolen += a.handler_cycles
            if self.check:
                v.tlb = a.tlb
            if a.went_stale:
                k["lazy_to_stale"] += 1
                v.state = STALE
                v.curpmap.pm_cpus.discard(v.id)
        if targets:
            total = op.t - t0
            self.record_latency("shootdown", total, ex.wall_us)
            self.emit("shootdown", t0, initiator=me, pmap=pmap_ids[0] if len(pmap_ids) == 1 else list(pmap_ids),
                      targets=list(targets), vas="full" if vas is None else len(vas), reason=reason,
                      cycles=total, mailbox_wait_cycles=wait, wall_us=ex.wall_us)
            if self.tracing:
                self.trace.append(dict(kind="shootdown", epoch=self.epoch, initiator=me, targets=list(targets),
                                       request=to_plain(reqs[0]), replies=[to_plain(a) for a in acks],
                                       cycles=total, wall_us=ex.wall_us))
        flushed = set(targets)
        if local:
            flushed.add(me)
        return flushed

    # --- switching lazy CPUs away from dying pmaps (pressure_switch) ------------------------------------------
    def lazy_holders(self) -> list[CpuView]:
        return [v for v in self.views
                if v.curpmap is not None and v.curpmap.id in self.dying and v.state in (LAZY, STALE)]

    def switch_away(self, op: Op, reason: str = "pressure") -> int:
        """Ask every CPU lazily holding a dying pmap to load pmap_kernel; return PTPs freed."""
        holders = self.lazy_holders()
        if not holders:
            return 0
        c, k = self.costs, self.counters
        me = op.cpu
        xid = self.next_id("xid")
        dests = [v.id for v in holders]
        reqs = [SwitchAwayRequest(xid, self.epoch, v.curpmap.id, reason, self.check) for v in holders]
        t0 = op.t
        before = k["ptp_freed"]
        ex = self.exchange(dests, reqs)
        remote = [a for a in ex.replies if a.cpu != me]
        cycles = max(a.handler_cycles for a in ex.replies)
        if remote:
            cycles += c.ipi_first + c.ipi_extra * (len(remote) - 1)
        op.spend(cycles, "other")
        pmaps = sorted({v.curpmap.id for v in holders})
        for a in ex.replies:
            v = self.views[a.cpu]
            if self.check:
                v.tlb = a.tlb
            if a.cpu != me:
                v.stolen += a.handler_cycles
                k["ipi_stolen_cycles"] += a.handler_cycles
            if a.switched:
                self.drop_cpu_ref(v, op)
        freed = k["ptp_freed"] - before
        k["switch_away_exchanges"] += 1
        k["switch_away_ipis"] += len(remote)
        k["ptp_switch_away_freed"] += freed
        total = op.t - t0
        self.record_latency("switch_away", total, ex.wall_us)
        self.emit("switch_away", t0, initiator=me, pmap=pmaps[0] if len(pmaps) == 1 else pmaps,
                  targets=dests, reason=reason, cycles=total, wall_us=ex.wall_us, ptp_freed=freed)
        if self.tracing:
            self.trace.append(dict(kind="switch_away", epoch=self.epoch, initiator=me, targets=dests,
                                   request=to_plain(reqs[0]), replies=[to_plain(a) for a in ex.replies],
                                   cycles=total, wall_us=ex.wall_us))
        return freed

    # --- memory pressure ------------------------------------------------------------------------------------------
    def wake_pagedaemon(self, t: int) -> None:
        """uvm_kick_pdaemon: below freetarg, queue a pagedaemon run on its CPU at time t."""
        if self.phys.free < self.phys.freetarg and not self.pd_pending:
            self.pd_pending = True
            self.schedule(t, self.config.machine.pagedaemon_cpu, "pagedaemon")

    def pagedaemon(self, op: Op, need: int = 0) -> None:
        """One pagedaemon run: switch lazy CPUs away from dying pmaps (pressure_switch), then
        evict pages until freetarg (plus a batch) is reached."""
        from smpsim.vm.pagedaemon import uvm_pageout
        self.pd_pending = False
        if self.in_relief:
            return
        phys = self.phys
        self.in_relief = True
        try:
            if phys.free - need < phys.freetarg and self.policy.pressure_switch == "on":
                self.switch_away(op)
            if phys.free - need < phys.freetarg:
                uvm_pageout(self, op, phys.freetarg + self.config.machine.pagedaemon_batch + need - phys.free)
        finally:
            self.in_relief = False

    def need_pages(self, op: Op, n: int) -> None:
        """Called at the start of an operation that will allocate up to n pages. Below freemin
        it waits for a pagedaemon run (uvm_wait); below freetarg it only wakes the pagedaemon."""
        phys = self.phys
        if phys.free - n < phys.freemin and not self.in_relief:
            pd = self.views[self.config.machine.pagedaemon_cpu]
            pd_op = Op("pagedaemon", pd.id, max(op.t, pd.busy_until), self.counters)
            self.pagedaemon(pd_op, n)
            pd.busy_until = pd_op.t
            if pd_op.t > op.t:
                op.spend(pd_op.t - op.t, "other")
        elif phys.free - n < phys.freetarg:
            self.wake_pagedaemon(op.t)
        if phys.free < n:
            raise SimulationError(
                f"out of physical memory at epoch {self.epoch}: {phys.free} free, {n} needed, "
                f"{self.pinned_ptps()} PTPs pinned by dying pmaps; raise machine.phys_pages or "
                f"shrink the workload")
