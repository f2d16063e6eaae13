"""FreeBSD's per-CPU PCID generations (pcid = "pcid"): allocation never runs out, a CPU that runs
out starts a new generation, and a reused PCID is flushed before use (checked with --check)."""

from __future__ import annotations

import pytest

from smpsim.errors import InvariantViolation
from tests import broken
from tests.helpers import config_dict, run_inline

STORM = {"kind": "exit_storm", "processes": 12, "pages": 16, "entries": 1, "threads": 2, "run_epochs": 2}


def _storm(preset="freebsd", **extra):
    return config_dict(STORM, [{"name": "p", "preset": preset, **extra}], ncpus=2, pcids=4)


@pytest.mark.parametrize("preset, extra", [("freebsd", {}), ("seed", {"pcid": "pcid"})])
def test_many_processes_on_few_cpus_never_run_out_of_pcids(preset, extra):
    # 12 processes alive at once, 3 PCIDs per CPU: the old global pool aborted "out of PCIDs"
    _, result, _ = run_inline(_storm(preset, **extra), check=True)
    c = result["counters"]
    assert c["exits"] == 12
    assert c["pcid_generations"] > 0                 # CPUs ran out and started new generations
    assert c["pcid_allocations"] > 2 * 3
    assert c["tlb_switch_flushes"] > 0               # each reused PCID flushed at its first load


@pytest.mark.parametrize("preset, extra", [("freebsd", {}), ("seed", {"pcid": "pcid"})])
def test_loading_a_reused_pcid_unflushed_is_caught(preset, extra):
    # fork_exit keeps parents' entries in the TLB while children come and go: a PCID reused by a new
    # generation still names them, so loading it without the flush runs on another pmap's entries
    data = config_dict("fork_exit", [{"name": "p", "preset": preset, **extra}], pcids=4, ncpus=2)
    data["workload"]["iterations"] = 4
    _, result, _ = run_inline(data, check=True)                 # correct: reused PCIDs are flushed
    assert result["counters"]["pcid_generations"] > 0
    with pytest.raises(InvariantViolation) as exc:
        run_inline(data, check=True, substitute=lambda p: broken.substitute(p, pcid=broken.PcidSkipsFlush))
    assert exc.value.name == "pcid_reuse_unflushed"



def test_an_initiator_without_the_mm_loaded_falls_behind_under_linux_asids():
    # A munmap issued on a CPU that has switched to another mm (NetBSD's lazy TLB keeps the CPU
    # out of pm_cpus) does not flush there: flush_tlb_mm_range flushes locally only the loaded_mm.
    # The CPU's ASID slot must fall behind so it flushes when it runs the mm again; the design
    # matrix found the initiator left current, running on entries of a page since freed.
    from tests import matrix
    switches = dict(pv_tracking="map_entry", teardown="eager", lazy_tlb="on", pressure_switch="on",
                    pcid="linux_asid", shootdown="global_mailbox", lazy_drop="shoot_lazies", page_alloc="pcp",
                    flush_rule="page_or_all", fork="uvm", madvise="advise", zero_page="off",
                    map_lock="mmap_lock", mm_cpumask="lazy_trim", shootdown_batch=1, shootdown_ack="after",
                    lru_batch=0, page_cache_start="cold", reclaim_batch=4096, global_asid="first_flush")
    result = matrix.run_case(matrix.Case("shared_eviction_quick", "seed", tuple(switches.items())))
    c = result["counters"]
    assert c["munmaps"] > 0 and c["tlb_gen_full_flushes"] > 0    # the CPU that fell behind caught up
