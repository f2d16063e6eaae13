"""Issue 11, item 2 inside the model: a run that can no longer progress fails within a bounded
number of epochs, naming why (`smpsim.vm.watchdog`), instead of running on to run.max_epochs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from smpsim.errors import NoProgress
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm import watchdog
from smpsim.vm.coordinator import VmCoordinator
from smpsim.vm.events import EventQueue
from smpsim.vm.operations import Exit, PagedaemonRun
from tests.helpers import config_dict
from tests.test_reliability_helpers import bundled, cli, read_json, write_config


# --- the queue: operations waiting for one CPU start in the order they fell due ----------------------

def test_operations_waiting_for_a_busy_cpu_start_in_the_order_they_fell_due():
    q = EventQueue()
    q.push(10, 0, "due at 10")
    q.push(5, 0, "due at 5, scheduled later")
    first = q.pop_before(100)
    assert first.op == "due at 5, scheduled later"
    second = q.pop_before(100)
    # both find the CPU busy until 50 and wait for it; the one due first still goes first,
    # although the other was put back before it and was scheduled earlier
    q.repush(second, 50)
    q.repush(first, 50)
    assert [q.pop_before(100).op, q.pop_before(100).op] == ["due at 5, scheduled later", "due at 10"]


def test_a_repushed_event_keeps_when_it_fell_due_and_counts_overtaking():
    q = EventQueue()
    q.push(7, 1, "op")
    ev = q.repush(q.pop_before(10), 40, overtaken=True)
    ev = q.repush(q.pop_before(50), 90, overtaken=False)
    assert (ev.time, ev.due, ev.overtaken) == (90, 7, 1)


# --- the starvation rule on its own ---------------------------------------------------------------

def _kernel(stall_epochs=10, busy_due=0, q=100):
    view = SimpleNamespace(busy_due=busy_due, busy_until=10_000, busy_with="a pagedaemon run for cpu4 (uvm_wait)")
    config = SimpleNamespace(machine=SimpleNamespace(quantum_cycles=q), run=SimpleNamespace(stall_epochs=stall_epochs))
    return SimpleNamespace(config=config, views=[view], procs={})


def _waiting(op, due=0, overtaken=3):
    q = EventQueue()
    q.push(due, 0, op)
    return q.pop_before(due + 1)._replace(overtaken=overtaken)


def test_a_long_wait_behind_work_due_earlier_is_not_a_stall():
    k = _kernel(stall_epochs=10, busy_due=0)          # what holds the CPU fell due with it or before
    watchdog.check_starved(k, _waiting(Exit(1), due=0), end=100 * 100)


def test_a_wait_within_the_bound_is_not_a_stall():
    k = _kernel(stall_epochs=10, busy_due=500)
    watchdog.check_starved(k, _waiting(Exit(1), due=0), end=10 * 100)


def test_a_queued_pagedaemon_run_overtaken_by_synchronous_ones_is_not_starved():
    k = _kernel(stall_epochs=10, busy_due=500)        # its work is being done by the runs overtaking it
    watchdog.check_starved(k, _waiting(PagedaemonRun(), due=0), end=100 * 100)


def test_an_operation_overtaken_past_the_bound_is_starved():
    k = _kernel(stall_epochs=10, busy_due=500)
    with pytest.raises(NoProgress) as exc:
        watchdog.check_starved(k, _waiting(Exit(1), due=0), end=12 * 100)
    assert exc.value.cause == "starved"
    assert "waited 12 epochs (run.stall_epochs=10)" in str(exc.value)
    assert "overtaken 3 times" in str(exc.value) and "uvm_wait" in str(exc.value)


# --- stranded: a workload waiting for operations that are no longer queued --------------------------

class _NeverFinishes:
    """A workload that loses track of its work: it still says it is busy once everything ran."""

    def __init__(self, inner):
        self.inner = inner
        self.outstanding = 1

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def finished(self):
        return False


def test_a_workload_left_with_nothing_queued_fails_at_once_as_stranded():
    cfg = cfgmod.validate(config_dict("exit_storm", policies=("seed",)))
    good = make_workload(cfg)
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), _NeverFinishes(good), check=True)
    vm.start()
    with pytest.raises(NoProgress) as exc:
        vm.step(cfg.run.max_epochs)
    assert exc.value.cause == "stranded"
    assert "none of its operations is queued" in str(exc.value)
    # it fails in the epoch its last operation ran, not at run.max_epochs
    last_op = max(e["epoch"] for e in exc.value.events if e["event"] == "exit")
    assert vm.epoch == last_op + 1 and vm.epoch < 20
    assert exc.value.events[-1]["event"] == "no_progress" and exc.value.events[-1]["cause"] == "stranded"


def test_a_workload_that_finishes_is_never_called_stranded():
    cfg = cfgmod.validate(config_dict("exit_storm", policies=("seed",)))
    vm = VmCoordinator(cfg, cfg.policies[0], InlineTransport(), make_workload(cfg), check=True)
    vm.start()
    assert vm.step(cfg.run.max_epochs).done


# --- starved: a config whose exit never gets its CPU -----------------------------------------------

def _starving_config(**machine) -> dict:
    """memory_pressure_quick with its first exit late, while the growers keep the pagedaemon's CPU
    (cpu0, where short0 lives) busy with synchronous runs for 300 epochs."""
    data = bundled("memory_pressure_quick")
    data["policies"] = [{"name": "seed"}]
    data["workload"].update(run_epochs=300, exit_start_epoch=20)
    data["machine"].update(machine)
    data["run"] = {"stall_epochs": 30}
    return data


def test_an_exit_starved_of_its_cpu_fails_the_run_naming_why(tmp_path):
    r = cli("run", write_config(tmp_path / "mp.toml", _starving_config()), "--backend", "inline",
            "--out", tmp_path / "r", "--quiet")
    assert r.code == 1 and r.exception is None and "Traceback" not in r.text, r.text
    msg = read_json(tmp_path / "r" / "run.json")["error"]["message"]
    assert "no progress (starved)" in msg and "Teardown of process 1 (short0) on cpu0" in msg
    assert "a pagedaemon run for cpu" in msg and "machine.pagedaemon_cpu" in msg
    events = [json.loads(line) for line in (tmp_path / "r" / "base" / "events.jsonl").read_text().splitlines()]
    stall = [e for e in events if e["event"] == "no_progress"]
    assert len(stall) == 1 and stall[0]["cause"] == "starved"
    assert events[-1]["event"] == "run.end" and events[-1]["status"] == "failed"
    # within the bound: the wait is looked at each time the teardown comes up for its CPU, so the run
    # fails a few epochs past run.stall_epochs, long before the growers stop (epoch 329) and let it run
    s = stall[0]
    assert s["cpu"] == 0 and s["operation"] == "Teardown of process 1 (short0)" and s["overtaken"] > 0
    assert 30 < s["waited_epochs"] <= 36 and s["epoch"] + 1 - s["due_epoch"] == s["waited_epochs"]
    assert s["epoch"] < 100


def test_the_same_config_finishes_with_the_pagedaemon_on_its_own_cpu(tmp_path):
    r = cli("run", write_config(tmp_path / "mp.toml", _starving_config(ncpus=7, pagedaemon_cpu=6)),
            "--backend", "inline", "--out", tmp_path / "r", "--quiet")
    assert r.code == 0, r.text
    assert read_json(tmp_path / "r" / "run.json")["status"] == "completed"
