"""Issue 11, item 2 inside the model: a run that can no longer progress fails within a bounded
number of epochs, naming why (`smpsim.vm.engine.watchdog`), instead of running on to run.max_epochs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from smpsim.errors import NoProgress
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import make_workload
from smpsim.runtime.transport import InlineTransport
from smpsim.vm.engine.watchdog import Watchdog
from smpsim.vm.engine.coordinator import VmCoordinator
from smpsim.vm.engine.events import EventQueue
from smpsim.vm.operations import Exit, PagedaemonRun
from tests import broken
from tests.helpers import config_dict
from tests.reliability_helpers import bundled, cli, read_json, write_config


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

def _watch(stall_epochs=10, busy_due=0, q=100, epoch=0):
    view = SimpleNamespace(busy_due=busy_due, busy_until=10_000, busy_with="a pagedaemon run for cpu4 (uvm_wait)")
    config = SimpleNamespace(machine=SimpleNamespace(quantum_cycles=q), run=SimpleNamespace(stall_epochs=stall_epochs))
    emitted = []
    k = SimpleNamespace(config=config, views=[view], procs={}, epoch=epoch,
                        emit=lambda name, t, **f: emitted.append(dict(f, event=name, t=t)))
    return Watchdog(k), emitted


def _waiting(op, due=0, overtaken=3):
    q = EventQueue()
    q.push(due, 0, op)
    return q.pop_before(due + 1)._replace(overtaken=overtaken)


class _Busy:
    outstanding = 1

    def finished(self):
        return False


def test_a_long_wait_behind_work_due_earlier_is_not_starvation():
    w, emitted = _watch(stall_epochs=10, busy_due=0)       # what holds the CPU fell due with it or before
    w.waits(_waiting(Exit(1), due=0), end=100 * 100)
    assert not w.starved and not emitted


def test_a_wait_within_the_bound_is_not_starvation():
    w, emitted = _watch(stall_epochs=10, busy_due=500)
    w.waits(_waiting(Exit(1), due=0), end=10 * 100)
    assert not w.starved and not emitted


def test_a_queued_pagedaemon_run_overtaken_by_synchronous_ones_is_not_starved():
    w, emitted = _watch(stall_epochs=10, busy_due=500)     # its work is done by the runs overtaking it
    w.waits(_waiting(PagedaemonRun(), due=0), end=100 * 100)
    assert not w.starved and not emitted


def test_an_operation_overtaken_past_the_bound_is_flagged_once_and_forgotten_when_it_runs():
    w, emitted = _watch(stall_epochs=10, busy_due=500)
    ev = _waiting(Exit(1), due=0)
    w.waits(ev, end=12 * 100)
    w.waits(ev._replace(overtaken=4), end=13 * 100)
    assert [(e["event"], e["operation"], e["waited_epochs"], e["overtaken"]) for e in emitted] == \
        [("starved", "Exit", 12, 3)]
    assert emitted[0]["held_by"] == "a pagedaemon run for cpu4 (uvm_wait)"
    w.ran(ev)
    assert not w.starved


def test_starvation_fails_the_run_only_when_nothing_else_completes_for_as_long():
    w, _ = _watch(stall_epochs=10, busy_due=500)
    w.waits(_waiting(Exit(1), due=0), end=12 * 100)
    w.k.epoch = 11
    w.ran(_waiting(Exit(2), due=1100)._replace(seq=2))      # another workload operation completed
    w.k.epoch = 21
    w.end_of_epoch(_Busy(), has_foreground=True)            # 10 epochs since: not yet
    w.k.epoch = 22
    with pytest.raises(NoProgress) as exc:
        w.end_of_epoch(_Busy(), has_foreground=True)
    msg = str(exc.value)
    assert exc.value.cause == "starved" and exc.value.facts["idle_epochs"] == 11
    assert "no workload operation has completed for 11 epochs (run.stall_epochs=10)" in msg
    assert "Exit on cpu0, due since epoch 0" in msg and "3 times, last by a pagedaemon run for cpu4" in msg
    assert "machine.pagedaemon_cpu" in msg and "machine.ncpus" in msg


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

def _starving_config(run_epochs: int = 300, stall_epochs: int = 30, **machine) -> dict:
    """memory_pressure_quick with its first exit at epoch 19, when the growers' synchronous
    pagedaemon runs keep the pagedaemon's CPU (cpu0, where short0 lives) busy: short0's teardown
    waits over 30 epochs for it (the run completes; run.stall_epochs = 30 flags the wait). (Epoch
    20 until the address-space lock and the syscall cost, issue 20, moved the growers' timing.)"""
    data = bundled("memory_pressure_quick")
    data["policies"] = [{"name": "seed"}]
    data["workload"].update(run_epochs=run_epochs, exit_start_epoch=19)
    data["machine"].update(machine)
    data["run"] = {"stall_epochs": stall_epochs}
    return data


def _events(run_dir):
    return [json.loads(line) for line in (run_dir / "base" / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_an_exit_starved_of_its_cpu_is_flagged_and_the_run_completes(tmp_path):
    r = cli("run", write_config(tmp_path / "mp.toml", _starving_config()), "--backend", "inline",
            "--out", tmp_path / "r")
    assert r.code == 0, r.text
    assert "note: base/seed: Teardown of process 1 (short0) on cpu0 has waited" in r.stderr
    events = _events(tmp_path / "r")
    starved = [e for e in events if e["event"] == "starved"]
    assert len(starved) == 1, starved
    s = starved[0]
    assert s["cpu"] == 0 and s["operation"] == "Teardown of process 1 (short0)" and s["overtaken"] > 0
    assert s["held_by"].startswith("a pagedaemon run for cpu") and s["held_by"].endswith("(uvm_wait)")
    # flagged when the wait first passes run.stall_epochs (looked at when the teardown comes up for
    # its CPU again, so a few epochs late at most), and the teardown does run later on
    assert 30 < s["waited_epochs"] <= 36 and s["epoch"] + 1 - s["due_epoch"] == s["waited_epochs"]
    exits = [e for e in events if e["event"] == "exit" and e["name"] == "short0"]
    assert len(exits) == 1 and exits[0]["epoch"] > s["epoch"]
    assert events[-1]["event"] == "run.end" and events[-1]["status"] == "completed"


@pytest.mark.slow
def test_the_same_config_starves_nothing_with_the_pagedaemon_on_its_own_cpu(tmp_path):
    r = cli("run", write_config(tmp_path / "mp.toml", _starving_config(ncpus=7, pagedaemon_cpu=6)),
            "--backend", "inline", "--out", tmp_path / "r", "--quiet")
    assert r.code == 0, r.text
    assert not [e for e in _events(tmp_path / "r") if e["event"] == "starved"]


def test_a_pagedaemon_that_hogs_its_cpu_fails_the_run_when_nothing_completes():
    # broken on purpose: each pagedaemon run takes 20 quanta, so while short0's exit waits on the
    # pagedaemon's CPU behind the growers' synchronous runs, nothing else completes either
    data = _starving_config()
    data["run"]["stall_epochs"] = 5
    cfg = cfgmod.validate(data)
    policy = broken.substitute(cfg.policies[0], pressure_switch=broken.HoggingPagedaemon)
    vm = VmCoordinator(cfg, policy, InlineTransport(), make_workload(cfg))
    vm.start()
    with pytest.raises(NoProgress) as exc:
        vm.step(cfg.run.max_epochs)
    e = exc.value
    assert e.cause == "starved" and e.facts["operation"] == "Exit of process 1 (short0)" and e.facts["cpu"] == 0
    assert "no workload operation has completed for" in str(e) and "(run.stall_epochs=5)" in str(e)
    assert 5 < e.facts["idle_epochs"] <= 5 + 20 and vm.epoch < 100     # not run.max_epochs (100,000)
    assert e.events[-1]["event"] == "no_progress" and e.events[-1]["cause"] == "starved"
    assert [x["operation"] for x in e.events if x["event"] == "starved"] == ["Exit of process 1 (short0)"]


def test_a_run_stopped_by_max_epochs_names_what_is_starved(tmp_path):
    data = _starving_config()
    data["run"]["max_epochs"] = 70          # short0's teardown, due at epoch 46, is starved by then
    data["run"]["stall_epochs"] = 10
    r = cli("run", write_config(tmp_path / "mp.toml", data), "--backend", "inline", "--out", tmp_path / "r",
            "--quiet")
    assert r.code == 1 and "Traceback" not in r.text
    msg = read_json(tmp_path / "r" / "run.json")["error"]["message"]
    assert "did not finish within run.max_epochs=70" in msg
    assert "Teardown of process 1 (short0) on cpu0 has waited" in msg and "(uvm_wait)" in msg
