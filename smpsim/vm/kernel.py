"""The kernel context: all VM state of one simulation and the services every operation uses.

It owns physical memory, objects, processes, pmaps, the design's strategies
(PV tracking, teardown, shootdown, lazy TLB, TLB tags, pressure switch, lazy drop, page
allocator), the
mirror of each CPU's loaded pmap and TLB state (what a real kernel keeps in
per-CPU data: ci_pmap, ci_tlbstate), counters, latencies and the event stream.
It reaches the CPUs only through `exchange` and queues work only through
`schedule`, both given by the coordinator.
"""

from __future__ import annotations

from smpsim.errors import InvariantViolation
from smpsim.protocol import FLUSH_NONE, KERNEL, STALE
from smpsim.vm import checker
from smpsim.vm.counters import Counters
from smpsim.vm.locks import Op
from smpsim.vm.pagetables import Pmap
from smpsim.vm.physmem import PhysMem
from smpsim.vm.pmap import PmapModule
from smpsim.vm.topology import Topology

from smpsim.summary import LATENCY_KINDS

# Kernel cycles by category (the summary's `kernel_cycles`): what every CPU spent in the kernel,
# each cycle in exactly one category. An operation's category is its record's declaration
# (smpsim.vm.operations: `category`), a context switch's `context_switches`; a pmap_destroy that
# runs outside the exit that started the teardown (a context switch, a switch-away, the drain) is
# moved to deferred_destroys; the final drain is reported beside, not in, the total.
CATEGORIES = ("faults", "exits", "munmaps", "madvises", "pagedaemon", "forks", "execs", "mmaps", "mprotects",
              "context_switches", "ipi_handling", "tlb_refills", "deferred_destroys")


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
        self.busy_due = 0               # when it fell due (a synchronous pagedaemon run: when asked for)
        self.busy_with = None           # and what it was: its record, or a description (named when
                                        # a waiting one starves)
        self.fills_pmap: Pmap | None = None
        self.fill_vas: list[int] = []
        self.switch_flush = FLUSH_NONE  # what the CPU must flush at its next switch
        self.sent_switch = None         # the switch notice of the last quantum sent to it
        self.tlb: tuple = ()            # last TLB content reported (invariant checking)
        self.seen_gen: dict[int, int] = {}  # pmap id -> the tlb_gen this CPU's entries are current to

    def flush(self, kind: int) -> None:
        self.switch_flush = max(self.switch_flush, kind)


class Kernel:
    def __init__(self, config, design, *, exchange, schedule, check: bool, trace: bool):
        m = config.machine
        self.config = config
        self.costs = config.costs
        self.check = check
        self.tracing = trace
        self.exchange = exchange                  # (targets, requests) -> Exchange
        self.schedule = schedule                  # (time, cpu, operation) -> None
        self.counters = Counters()
        self.topology = Topology(m.ncpus, m.sockets, self.costs, self.counters)
        self.counters.topology = self.topology
        self.cycles = dict.fromkeys(CATEGORIES, 0)
        self.progress = [0] * m.ncpus              # user accesses completed per CPU
        self.design = design
        fm, ft = m.watermarks()
        self.phys = PhysMem(m.phys_pages, m.kernel_pages, fm, ft)
        self.pmaps: dict[int, Pmap] = {}
        self.objects: dict[int, object] = {}
        self.procs: dict[int, object] = {}
        self.dying: dict[int, Pmap] = {}          # pmaps of exited processes not yet destroyed
        self.views = [CpuView(i) for i in range(m.ncpus)]
        self.epoch = 0
        self._ids = {"pmap": 0, "xid": 0, "obj": 0, "proc": 0}
        self.latency: dict[str, tuple[list, list]] = {k: ([], []) for k in LATENCY_KINDS}
        self.exit_breakdown: dict[str, int] = {}
        self.events: list[dict] = []
        self.trace: list[dict] = []
        self.in_relief = False
        self.pd_pending = False
        s = design.build(self)
        self.pv, self.teardown, self.shootdown = s.pv_tracking, s.teardown, s.shootdown
        self.lazy, self.tags, self.pressure = s.lazy_tlb, s.pcid, s.pressure_switch
        self.lazy_drop = s.lazy_drop
        self.page_alloc = s.page_alloc
        self.flush_rule = s.flush_rule
        self.fork = s.fork
        self.madvise, self.zero_page, self.map_lock = s.madvise, s.zero_page, s.map_lock
        self.pv = self.zero_page.filter_pv(self.pv)   # the zero page has no PV entries
        self.pmap_mod = PmapModule(self)

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def locks(self):
        """Every lock of the simulation (their calendars are pruned each epoch)."""
        yield from self.shootdown.locks()
        yield from self.page_alloc.locks()
        for p in self.pmaps.values():
            yield p.lock
        for o in self.objects.values():            # shared objects are registered there too
            yield o.lock
        yield from self.pv.locks()
        yield from self.map_lock.locks()

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

    def account(self, op: Op, category: str | None = None) -> None:
        """Add a finished operation's cycles to its category (the Op's unless given); the
        deferred pmap_destroy work it did goes to deferred_destroys; time it slept waiting for
        the pagedaemon is not counted (the pagedaemon's run is, as pagedaemon)."""
        category = category or op.category
        deferred = getattr(op, "deferred", 0)
        self.cycles[category] = self.cycles.get(category, 0) + op.cycles - deferred - getattr(op, "asleep", 0)
        self.cycles["deferred_destroys"] += deferred

    def violation(self, name: str, detail: str) -> None:
        raise InvariantViolation(name, detail)

    # --- page-table pages ---------------------------------------------------------------------------
    def free_ptp(self, pmap: Pmap, ptp, op: Op, *, bulk: bool = False, flushed: set | None = None) -> None:
        """Free one PTP. `flushed`: the CPUs the covering shootdown reached (checked, with
        checking on, against every CPU that could still walk it)."""
        if flushed is not None and self.check:
            checker.check_ptp_free(self, pmap, ptp, flushed)
        c = self.counters
        self.phys.release(ptp.frame)
        c["ptp_freed"] += 1
        if bulk:
            c["ptp_bulk_freed"] += 1       # inside the caller's page_alloc.bulk_begin / bulk_end
            self.page_alloc.bulk_free(op, "ptp_free")
        else:
            self.page_alloc.free_pages(op, 1, "ptp_free", data=False)

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
        """The CPU loads another pmap: leave pm_cpus (when the lazy-TLB strategy's mm_cpumask rule
        says so) and release its reference (pmap_load)."""
        old = view.curpmap
        if old is None:
            return
        self.lazy.leave_cpumask(old, view, op)
        view.curpmap = None
        view.state = KERNEL
        view.fills_pmap = None
        self.pmap_mod.pmap_destroy(old, op)

    def mark_stale(self, view: CpuView) -> None:
        """A lazy CPU took a shootdown for its pmap: it leaves pm_cpus until it runs it again."""
        view.state = STALE
        view.curpmap.pm_cpus.discard(view.id)
