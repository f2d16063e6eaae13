"""The invariant checker catches deliberately broken variants of the model, and stays quiet otherwise."""

import json

import pytest

from smpsim.errors import InvariantViolation
from smpsim.experiments.runner import RunRequest, run
from tests.helpers import config_dict, run_inline


def _violation(data, policy_index=0, bugs=()):
    with pytest.raises(InvariantViolation) as exc:
        run_inline(data, policy_index, bugs=bugs)
    return exc.value


def test_correct_model_passes_every_check_on_every_workload():
    for wl in ("exit_storm", "munmap_fanout", "fork_exit", "fork_exec_exit"):
        for i in range(2):
            run_inline(config_dict(wl), i, check=True)


def test_skipped_shootdown_leaves_a_stale_tlb_entry():
    e = _violation(config_dict("munmap_fanout"), bugs=("skip_shootdown",))
    assert e.name in ("stale_tlb_entry", "ptp_freed_early")


def test_ptp_freed_before_its_shootdown_is_caught():
    e = _violation(config_dict("munmap_fanout"), bugs=("free_ptp_early",))
    assert e.name == "ptp_freed_early"
    assert "cpu" in e.detail and "PTP frame" in e.detail


def test_ptps_freed_while_a_lazy_cpu_holds_the_dying_pmap_are_caught():
    # seed: deferred teardown; the exiting CPUs hold the pmap lazily, so the bulk free must wait
    e = _violation(config_dict("exit_storm"), 1, bugs=("destroy_ignores_lazy",))
    assert e.name == "destroy_while_referenced"
    assert "LAZY" in e.detail or "STALE" in e.detail


def test_pv_entry_left_behind_is_caught():
    e = _violation(config_dict("exit_storm"), 0, bugs=("leave_pv",))
    assert e.name == "pv_without_pte"


def test_pv_entry_left_behind_by_the_shortcut_is_caught_after_destroy():
    e = _violation(config_dict("fork_exit"), 1, bugs=("leave_pv",))
    assert e.name == "pv_without_pte"


def test_pcid_reuse_without_flush_is_caught():
    # deferred teardown leaves the dying pmap's entries in the TLB, so a reused PCID must be flushed
    data = config_dict("fork_exit", [{"name": "pcid", "preset": "seed", "pcid": True}], pcids=5, ncpus=2)
    data["workload"]["iterations"] = 4
    run_inline(data, 0)                                   # correct: PCIDs are reused safely
    e = _violation(data, 0, bugs=("skip_pcid_flush",))
    assert e.name == "pcid_reuse_unflushed"


def test_violation_stops_the_run_and_is_logged(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "broken"\n[machine]\nncpus = 4\nphys_pages = 8192\n'
                   '[workload]\nkind = "munmap_fanout"\nthreads = 4\nregion_pages = 16\nrounds = 3\n'
                   '[[policies]]\nname = "netbsd5"\n')
    out = tmp_path / "run"
    with pytest.raises(InvariantViolation):
        run(RunRequest(config_path=str(cfg), backend="inline", out=str(out), check=True, progress=False,
                       bugs=("free_ptp_early",)))
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "failed" and status["error"]["type"] == "InvariantViolation"
    lines = [json.loads(l) for l in (out / "base" / "events.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "run.start"
    v = [l for l in lines if l["event"] == "invariant.violation"]
    assert len(v) == 1 and v[0]["invariant"] == "ptp_freed_early"
    assert lines[-1]["event"] == "run.end" and lines[-1]["status"] == "failed"
    assert lines[-1]["error"]["type"] == "InvariantViolation"
