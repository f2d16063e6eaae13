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
