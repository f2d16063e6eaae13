"""RayBackend end to end on the session cluster: same simulated results as inline, faults named clearly.

Without Ray: how an smpsim error raised in the VM actor reaches the driver (`pack_error` there,
pickled by Ray, `unpack_error` here) keeps its type, message, attributes and the events it carries.
"""

from __future__ import annotations

import pickle

import pytest

ray = pytest.importorskip("ray")

from smpsim.errors import ExchangeError, InvariantViolation, SmpsimError  # noqa: E402
from smpsim.experiments import config as cfgmod  # noqa: E402
from smpsim.experiments.workloads import make_workload  # noqa: E402
from smpsim.runtime.inline_backend import InlineBackend  # noqa: E402
from smpsim.runtime.ray_actors import ERROR_KEY, pack_error, unpack_error  # noqa: E402
from smpsim.runtime.ray_backend import RayBackend  # noqa: E402

from tests import broken  # noqa: E402
from tests.ray_fixtures import kill_and_wait  # noqa: E402


class Sink:
    def __init__(self, on_progress=None):
        self.events_, self.trace_, self.progress_ = [], [], []
        self.on_progress = on_progress

    def events(self, events):
        self.events_.extend(events)

    def trace(self, records):
        self.trace_.extend(records)

    def progress(self, epoch, total):
        self.progress_.append((epoch, total))
        if self.on_progress:
            self.on_progress(epoch)


def _policy(cfg, name):
    return next(p for p in cfg.policies if p.name == name)


def _sim_only(result: dict) -> dict:
    """The result without wall-clock figures (keys ending in _us / wall_seconds)."""
    out = {k: v for k, v in result.items() if k != "wall_seconds"}
    out["latency"] = {kind: {k: v for k, v in stats.items() if "wall" not in k}
                      for kind, stats in result["latency"].items()}
    return out


def _sim_events(events):
    return [{k: v for k, v in e.items() if not (k.endswith("_us") or k == "ts")} for e in events]


def test_an_invariant_violation_crosses_the_actor_boundary_whole():
    cfg, _ = cfgmod.load("configs/munmap_fanout_quick.toml")
    pol = broken.substitute(_policy(cfg, "netbsd5"), shootdown=broken.SkipLastTarget)
    sink = Sink()
    with pytest.raises(InvariantViolation) as raised:
        InlineBackend().run_point(cfg, pol, workload=make_workload(cfg), point="base", check=True, trace=True,
                                  sink=sink)
    want = raised.value
    assert want.events and want.events[-1]["event"] == "invariant.violation" and want.trace
    got = unpack_error(pickle.loads(pickle.dumps(pack_error(want))))
    assert type(got) is InvariantViolation
    assert (got.name, got.detail, str(got)) == (want.name, want.detail, str(want))
    assert (got.events, got.trace) == (want.events, want.trace)


def test_an_error_class_the_driver_cannot_find_arrives_as_smpsim_error_with_its_message():
    packed = pack_error(ExchangeError("cpu3 gave no reply"))
    packed[ERROR_KEY]["qualname"] = "NoSuchError"
    got = unpack_error(packed)
    assert type(got) is SmpsimError and str(got) == "cpu3 gave no reply"
    packed[ERROR_KEY].update(module="builtins", qualname="ValueError")      # not an smpsim error: not rebuilt
    assert type(unpack_error(packed)) is SmpsimError


@pytest.mark.ray
@pytest.mark.parametrize("config,policy,check", [("exit_storm_quick", "netbsd5", True),
                                                 ("memory_pressure_quick", "seed", False)])
def test_ray_equals_inline(ray_backend, config, policy, check):
    cfg, _ = cfgmod.load(f"configs/{config}.toml")
    pol = _policy(cfg, policy)
    s_inline, s_ray = Sink(), Sink()
    a = InlineBackend().run_point(cfg, pol, workload=make_workload(cfg), point="base", check=check, trace=True, sink=s_inline)
    b = ray_backend.run_point(cfg, pol, workload=make_workload(cfg), point="base", check=check, trace=True, sink=s_ray)
    assert _sim_only(b) == _sim_only(a)
    assert _sim_events(s_ray.events_) == _sim_events(s_inline.events_)
    assert s_ray.progress_ == s_inline.progress_ or s_ray.progress_[-1] == s_inline.progress_[-1]
    assert len(s_ray.trace_) == len(s_inline.trace_)
    exchanges = [e for e in s_ray.events_ if e["event"] in ("shootdown", "switch_away")]
    assert exchanges, "the config should exchange shootdowns"
    assert all(e["wall_us"] > 0 for e in exchanges)
    assert all(r["wall_us"] > 0 for r in s_ray.trace_ if "wall_us" in r)
    assert ray_backend.vm_actor is None and ray_backend.cpu_actors == []


def _quick():
    cfg, _ = cfgmod.load("configs/exit_storm_quick.toml")
    return cfg, _policy(cfg, "netbsd5")


@pytest.mark.ray
def test_killed_cpu_actor_mid_run(ray_cluster):
    cfg, pol = _quick()
    backend = RayBackend(timeout_s=60.0)
    killed = []

    def kill_cpu(epoch):
        if not killed:
            kill_and_wait(backend.cpu_actors[2])
            killed.append(epoch)

    try:
        with pytest.raises(ExchangeError) as err:
            backend.run_point(cfg, pol, workload=make_workload(cfg), point="base", check=False, trace=False, sink=Sink(kill_cpu))
    finally:
        backend.close()
    msg = str(err.value)
    assert "cpu2" in msg and "died" in msg and "quantum" in msg and f"epoch {killed[0]}" in msg, msg
    assert backend.vm_actor is None and backend.cpu_actors == []


@pytest.mark.ray
def test_killed_vm_actor_mid_run(ray_cluster):
    cfg, pol = _quick()
    backend = RayBackend(timeout_s=60.0)

    def kill_vm(epoch):
        kill_and_wait(backend.vm_actor)

    try:
        with pytest.raises(ExchangeError, match=r"the VM actor .*died"):
            backend.run_point(cfg, pol, workload=make_workload(cfg), point="base", check=False, trace=False, sink=Sink(kill_vm))
    finally:
        backend.close()


@pytest.mark.ray
def test_slow_cpu_actor_times_out(ray_cluster):
    cfg, pol = _quick()
    backend = RayBackend(timeout_s=1.0, cpu_delay_s={3: 60.0})
    try:
        with pytest.raises(ExchangeError) as err:
            backend.run_point(cfg, pol, workload=make_workload(cfg), point="base", check=False, trace=False, sink=Sink())
    finally:
        backend.close()
    msg = str(err.value)
    assert "cpu3 gave no reply within 1 s" in msg and "quantum exchange of epoch 0" in msg, msg


@pytest.mark.ray
def test_invariant_violation_crosses_with_its_events(ray_cluster):
    cfg, _ = cfgmod.load("configs/munmap_fanout_quick.toml")
    # the broken strategy is substituted in the driver and travels to the VM actor with the policy
    ray.cloudpickle.register_pickle_by_value(broken)
    pol = broken.substitute(_policy(cfg, "netbsd5"), shootdown=broken.SkipLastTarget)
    s_inline, s_ray = Sink(), Sink()
    with pytest.raises(InvariantViolation) as want:
        InlineBackend().run_point(cfg, pol, workload=make_workload(cfg), point="base", check=True, trace=True,
                                  sink=s_inline)
    backend = RayBackend(timeout_s=30.0)
    try:
        with pytest.raises(InvariantViolation) as got:
            backend.run_point(cfg, pol, workload=make_workload(cfg), point="base", check=True, trace=True,
                              sink=s_ray)
    finally:
        backend.close()
    assert (got.value.name, got.value.detail, str(got.value)) == (want.value.name, want.value.detail, str(want.value))
    assert s_ray.events_[-1]["event"] == "invariant.violation"
    assert _sim_events(s_ray.events_) == _sim_events(s_inline.events_)
    # both backends keep the exchanges up to the failure, the same ones
    assert s_inline.trace_ and _sim_events(s_ray.trace_) == _sim_events(s_inline.trace_)


@pytest.mark.ray
def test_a_starved_operation_is_flagged_the_same_way_on_both_backends(ray_cluster):
    from tests.test_watchdog import _starving_config
    cfg = cfgmod.validate(_starving_config(run_epochs=40, stall_epochs=10))     # short: ~70 epochs
    s_inline, s_ray = Sink(), Sink()
    want = InlineBackend().run_point(cfg, cfg.policies[0], workload=make_workload(cfg), point="base",
                                     check=False, trace=False, sink=s_inline)
    backend = RayBackend(timeout_s=60.0)
    try:
        got = backend.run_point(cfg, cfg.policies[0], workload=make_workload(cfg), point="base", check=False,
                                trace=False, sink=s_ray)
    finally:
        backend.close()
    assert got["counters"] == want["counters"]
    assert [e for e in s_ray.events_ if e["event"] == "starved"]
    assert _sim_events(s_ray.events_) == _sim_events(s_inline.events_)
