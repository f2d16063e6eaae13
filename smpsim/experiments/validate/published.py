"""validate's `published` cases: the cost model against figures measured on real kernels.

Bands are wide where the publication measured another kernel or machine; the source says
so. Published times (ns) become cycles at the simulated clock (`machine.ghz`). The Amit and
Hansen cases time netbsd5's global-mailbox exchange directly and read only
`policy.shootdown_ack` (not `shootdown`, `shootdown_batch` or the other switches). The LATR
multi-socket cases measured Linux, so they run a one-page munmap through the `linux` preset on
an inline model (its shootdown strategy, lazy-TLB rule and flush rule: every `policy.X=`
reaches them). The exit case simulates the whole netbsd5 policy.

Not their own evidence: `ipi_delivery` and `ipi_send` were set from Amit's figures, so
ipi_round_trip and ipi_per_target check only that the timing model combines them as intended;
`pv_hash_step` (and `page_free`) were set so that exit_per_page lands in its band. Hansen's
flush_tlb_mm_range averages are over every call in a kernel compile, most of them local-only
(a compile's processes are single-threaded, so the mm is loaded on no other CPU); the model's
one-remote-target shootdown is compared with them as an order of magnitude, not as a
measurement of the remote path.
"""

from __future__ import annotations

from smpsim.experiments.validate.contract import Setup, case
from smpsim.experiments.validate.flush_scenario import remove_and_flush
from smpsim.experiments.validate.model import (break_even_pages, exit_cycles_per_page, flush_work,
                                               shootdown_latency)

PRESET = "netbsd5"
LINUX = "linux"
KIND = "published"


def _shootdown(s: Setup, ncpus: int, sockets: int, targets: int, flush: int, local: int = 0) -> int:
    """Initiator latency under the preset's ack timing (policy.shootdown_ack)."""
    ack = s.policy(PRESET).shootdown_ack
    return shootdown_latency(s.costs, ncpus, sockets, targets, flush, ack, local)


@case("ipi_round_trip", KIND, "Amit, LKML RFC 'Flush remote and local TLBs concurrently' 2019: ~775 ns",
      (0.75, 1.25), note="IPI round trip, 1 remote target, 1 page")
def ipi_round_trip(s: Setup):
    return s.cycles(775), _shootdown(s, 16, 1, 1, s.costs.invlpg)


@case("ipi_per_target", KIND, "Amit 2019: ~70 ns per extra target", (0.5, 1.5),
      note="each further same-socket target")
def ipi_per_target(s: Setup):
    return s.cycles(70), _shootdown(s, 16, 1, 2, s.costs.invlpg) - _shootdown(s, 16, 1, 1, s.costs.invlpg)


@case("flush_range_1page", KIND,
      "Hansen, LKML 'set TLB flush tunable to sane value' 2014: mean of all flush_tlb_mm_range calls in a "
      "kernel compile, mostly local-only (an order-of-magnitude check, not of the remote path)",
      (0.5, 2.0), note="flush_tlb_mm_range, 1 page, 1 remote CPU")
def flush_range_1page(s: Setup):
    return 1276, _shootdown(s, 16, 1, 1, s.costs.invlpg, local=s.costs.invlpg)


@case("flush_range_4_vs_1", KIND, "Hansen 2014: 2,447 vs 1,276 cycles", (0.6, 1.5), "ratio",
      note="flush_tlb_mm_range, 4 pages vs 1 page")
def flush_range_4_vs_1(s: Setup):
    one = _shootdown(s, 16, 1, 1, s.costs.invlpg, local=s.costs.invlpg)
    four = _shootdown(s, 16, 1, 1, 4 * s.costs.invlpg, local=4 * s.costs.invlpg)
    return 2447 / 1276, four / one


@case("invlpg_vs_cr3", KIND, "Molnar/Hansen LKML 2015: INVLPG 216-280, CR3 reload 96-152 (midpoints): the "
      "target's flush work alone, no refill", (0.7, 1.4), "ratio", note="INVLPG vs CR3-reload flush work, 1 page")
def invlpg_vs_cr3(s: Setup):
    return 250 / 124, flush_work(s.costs, 1) / max(1, flush_work(s.costs, None))


def _linux_all(s: Setup, ncpus: int, sockets: int) -> int:
    """The initiator's shootdown cycles of a one-page munmap by a process loaded on every CPU,
    under the linux preset (flush_tlb_mm_range -> flush_tlb_multi over call-function queues)."""
    return remove_and_flush(s.policy(LINUX), s.costs.model_dump(), 1, ncpus=ncpus, sockets=sockets).shootdown_cycles


@case("shootdown_all_16", KIND, "Kumar et al., LATR, ASPLOS 2018: 2.7 us (Linux, their machine)", (0.5, 1.5),
      note="linux preset: 1-page munmap, mm on all 16 cores / 2 sockets")
def shootdown_all_16(s: Setup):
    return s.cycles(2700), _linux_all(s, 16, 2)


@case("shootdown_all_120", KIND, "LATR, ASPLOS 2018: 6.6 us (Linux)", (0.5, 1.5),
      note="linux preset: 1-page munmap, mm on all 120 cores / 8 sockets")
def shootdown_all_120(s: Setup):
    return s.cycles(6600), _linux_all(s, 120, 8)


@case("flush_ceiling", KIND, "Linux tlb_single_page_flush_ceiling (commit a5102476a24b)", (0.5, 2.0), "pages",
      note="break-even INVLPG count vs full flush + refills (256-page working set)")
def flush_ceiling(s: Setup):
    return 33, break_even_pages(s.costs, 256)


@case("exit_per_page", KIND, "Yang Shi, LKML 2018: ~320 cycles per page zapped in a large munmap (a floor for "
      "a 2011 kernel with two spin locks and a hash walk per page)", (1.0, 4.0), "cycles/page",
      note="netbsd5 exit cost per resident page (512 pages)")
def exit_per_page(s: Setup):
    return 320, exit_cycles_per_page(s.costs, s.policy(PRESET))
