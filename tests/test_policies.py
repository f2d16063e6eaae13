"""What the model must show for the 2011 baseline and the seed proposals (issue: core model)."""

import pytest

from smpsim.experiments import config as cfgmod
from smpsim.vm.counters import SPEC_COUNTERS
from tests.helpers import config_dict, run_inline, run_policies

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def _bundled(name, *overrides):
    _, data = cfgmod.load(ROOT / "configs" / f"{name}.toml", list(overrides))
    return data


@pytest.fixture(scope="module")
def exit_storm():
    data = _bundled("exit_storm_quick")
    return run_policies(data)


def _exits(events):
    return [e for e in events if e["event"] == "exit"]


def test_every_spec_counter_and_latency_kind_is_reported(exit_storm):
    result, _ = exit_storm["netbsd5"]
    assert set(SPEC_COUNTERS) <= set(result["counters"])
    # the counters an exit storm must move, counted where the model does the work
    for name in ("tlb_hits", "tlb_misses", "page_walks", "page_faults", "pte_atomic_updates",
                 "pte_plain_stores", "pv_inserts", "pv_removes", "pv_lock_acquires", "shootdown_exchanges",
                 "shootdown_ipis", "shootdown_full_flushes", "ptp_allocated", "ptp_freed", "ptp_pinned_peak",
                 "pages_freed", "lazy_to_stale", "context_switches", "switch_cycles"):
        assert result["counters"][name] > 0, name
    assert result["latency"]["exit"]["count"] == 8 and result["latency"]["fault"]["count"] == 2048
    for kind in ("shootdown", "switch_away", "exit", "munmap", "fault"):
        assert set(result["latency"][kind]) >= {"count", "mean_cycles", "p50_cycles", "p90_cycles",
                                                 "p99_cycles", "max_cycles", "p50_wall_us", "p99_wall_us"}


def test_netbsd5_exit_pays_an_atomic_update_per_resident_page(exit_storm):
    _, events = exit_storm["netbsd5"]
    exits = _exits(events)
    assert len(exits) == 8
    for e in exits:
        assert e["pages"] > 0
        assert e["deltas"]["pte_atomic_updates"] >= e["pages"]
    # two threads per process: the other thread's CPU holds the pmap lazily and gets an IPI
    assert sum(e["deltas"].get("shootdown_exchanges", 0) for e in exits) > 0


def test_seed_exit_does_no_pte_writes_no_shootdowns_and_frees_ptps_in_bulk(exit_storm):
    result, events = exit_storm["seed"]
    for e in _exits(events):
        assert e["deltas"].get("pte_atomic_updates", 0) == 0
        assert e["deltas"].get("shootdown_exchanges", 0) == 0
        assert e["deltas"].get("shootdown_ipis", 0) == 0
    assert result["counters"]["ptp_bulk_freed"] > 0
    base, _ = exit_storm["netbsd5"]
    assert base["counters"]["ptp_bulk_freed"] == 0
    assert result["latency"]["exit"]["mean_cycles"] < base["latency"]["exit"]["mean_cycles"]


def test_exit_breakdown_adds_up_to_exit_cycles(exit_storm):
    for result, events in exit_storm.values():
        assert sum(result["exit_breakdown"].values()) == sum(e["cycles"] for e in _exits(events))


def test_shared_eviction_retries_only_with_the_global_hash():
    res = run_policies(_bundled("shared_eviction_quick"))
    base = res["netbsd5"][0]["counters"]
    seed = res["seed"][0]["counters"]
    assert base["p2v_retries"] > 0 and base["p2v_retry_cycles"] > 0
    assert base["pv_lock_contended"] > 0
    assert seed["p2v_retries"] == 0 and seed["pv_lock_acquires"] == 0
    assert seed["pagedaemon_runs"] > 0


def test_pressure_switch_sends_switch_aways_and_lowers_pinned_ptps():
    res = run_policies(_bundled("memory_pressure_quick"))
    on = res["seed"][0]["counters"]
    off = res["seed_no_switch"][0]["counters"]
    assert on["switch_away_exchanges"] > 0 and on["ptp_switch_away_freed"] > 0
    assert off["switch_away_exchanges"] == 0
    assert on["ptp_pinned_peak"] < off["ptp_pinned_peak"]
    sw = [e for e in res["seed"][1] if e["event"] == "switch_away"]
    assert sw and all(e["reason"] == "pressure" and e["targets"] for e in sw)
    # under memory pressure too, the shortcut teardown writes no PTE and flushes nothing
    exits = _exits(res["seed"][1])
    assert len(exits) == 4
    for e in exits:
        for name in ("pte_atomic_updates", "shootdown_exchanges", "local_flushes", "shootdown_invlpg"):
            assert e["deltas"].get(name, 0) == 0, (name, e["deltas"])


# --- ablations: one switch flipped from netbsd5 changes what it should and nothing else ------------

UNTOUCHED = ("tlb_hits", "tlb_misses", "page_faults", "page_walks", "pages_freed", "ptp_allocated",
             "context_switches", "exits")


def _ablate(workload, **switch):
    data = config_dict(workload, [{"name": "netbsd5"}, {"name": "ablation", "preset": "netbsd5", **switch}])
    res = run_policies(data)
    return res["netbsd5"][0]["counters"], res["ablation"][0]["counters"]


def test_ablation_pv_tracking_only_removes_pv_locks():
    base, abl = _ablate("exit_storm", pv_tracking="map_entry")
    assert base["pv_lock_acquires"] > 0 and abl["pv_lock_acquires"] == 0
    for name in UNTOUCHED + ("pte_atomic_updates", "pv_inserts", "pv_removes", "shootdown_exchanges",
                             "shootdown_ipis", "ptp_freed", "ptp_bulk_freed", "lazy_to_stale"):
        assert base[name] == abl[name], name


def test_ablation_deferred_teardown_removes_exit_pte_writes_and_shootdowns():
    base, abl = _ablate("exit_storm", teardown="deferred")
    assert abl["pte_atomic_updates"] < base["pte_atomic_updates"]
    assert abl["ptp_bulk_freed"] > 0 and base["ptp_bulk_freed"] == 0
    assert abl["shootdown_ipis"] < base["shootdown_ipis"]
    for name in UNTOUCHED + ("pv_inserts", "pv_removes", "pv_lock_acquires"):
        assert base[name] == abl[name], name


def test_ablation_lazy_tlb_off_means_no_stale_cpus():
    base, abl = _ablate("exit_storm", lazy_tlb="off")
    assert base["lazy_to_stale"] > 0 and abl["lazy_to_stale"] == 0
    assert abl["shootdown_ipis"] < base["shootdown_ipis"]
    for name in ("page_faults", "pte_atomic_updates", "pv_inserts", "pv_removes", "exits"):
        assert base[name] == abl[name], name


def test_ablation_shootdown_batch_trades_full_flushes_for_invlpg():
    base, abl = _ablate("munmap_fanout", shootdown_batch=64)
    assert base["shootdown_full_flushes"] > 0 and abl["shootdown_full_flushes"] < base["shootdown_full_flushes"]
    assert abl["shootdown_invlpg"] > base["shootdown_invlpg"]
    for name in ("page_faults", "pte_atomic_updates", "pv_inserts", "pv_removes", "shootdown_exchanges"):
        assert base[name] == abl[name], name


def test_ablation_pcid_avoids_switch_flushes():
    data = config_dict("fork_exit", [{"name": "netbsd5"}, {"name": "ablation", "preset": "netbsd5", "pcid": True}])
    data["machine"]["ncpus"] = 2
    res = run_policies(data)
    base, abl = res["netbsd5"][0]["counters"], res["ablation"][0]["counters"]
    assert abl["tlb_switch_flushes"] < base["tlb_switch_flushes"]
    assert abl["switch_cycles"] < base["switch_cycles"]
    for name in ("page_faults", "pte_atomic_updates", "pv_inserts", "exits"):
        assert base[name] == abl[name], name


def test_ablation_pressure_switch_on_netbsd5_frees_pinned_pml4s():
    data = _bundled("memory_pressure_quick", 'policies[2].preset="netbsd5"', 'policies[2].pressure_switch="on"',
                    'policies[2].teardown="eager"', 'policies[2].pv_tracking="global_hash"')
    res = run_policies(data)
    base, abl = res["netbsd5"][0]["counters"], res["seed_no_switch"][0]["counters"]
    assert base["switch_away_exchanges"] == 0 and abl["switch_away_exchanges"] > 0
    assert abl["ptp_switch_away_freed"] > 0          # the dying pmaps' PML4s, freed early
    assert abl["ptp_pinned_peak"] <= base["ptp_pinned_peak"]


def test_pmap_protect_downgrades_ptes_and_shoots_down_the_other_threads():
    data = config_dict("munmap_fanout")
    data["workload"]["protect"] = True
    _, result, events = run_inline(data, 0)
    _, plain, _ = run_inline(config_dict("munmap_fanout"), 0)
    prot = [e for e in events if e["event"] == "shootdown" and e["reason"] == "protect"]
    assert len(prot) == 3                                   # one per round
    assert all(len(e["targets"]) == 3 for e in prot)        # threads on 4 CPUs, initiator excluded
    # every resident page of the region is downgraded once: one more atomic update per page
    assert result["counters"]["pte_atomic_updates"] - plain["counters"]["pte_atomic_updates"] == 3 * 16


def test_gc_teardown_clears_ptes_but_sends_one_full_flush_per_exit():
    # netbsd5 ships with the gc teardown (x86 pmap.c md_gc_pmap since v1.97); eager stays a switch value
    data = config_dict("exit_storm", [{"name": "netbsd5"}, {"name": "eager", "preset": "netbsd5", "teardown": "eager"}])
    data["workload"]["entries"] = 4          # several entries: eager sends a shootdown per emptied PTP batch
    res = run_policies(data)
    eager, gc = res["eager"], res["netbsd5"]
    for e in _exits(gc[1]):
        assert e["deltas"]["pte_atomic_updates"] >= e["pages"]          # PTEs still cleared one by one
        assert e["deltas"].get("shootdown_exchanges", 0) <= 1
        assert e["deltas"].get("local_flushes", 0) <= 1                  # at most one full flush, at pmap_update
        assert e["deltas"].get("shootdown_invlpg", 0) == 0
    eager_flushes = sum(e["deltas"].get("local_flushes", 0) for e in _exits(eager[1]))
    gc_flushes = sum(e["deltas"].get("local_flushes", 0) for e in _exits(gc[1]))
    assert gc_flushes < eager_flushes
    assert gc[0]["counters"]["ptp_bulk_freed"] == 0
    assert gc[0]["counters"]["ptp_freed"] == eager[0]["counters"]["ptp_freed"]


# --- the schema comes from the declarations ---------------------------------------------------------

def test_pcid_takes_named_values_and_still_accepts_true_and_false():
    from smpsim.experiments.config.policy import PolicyConfig
    from smpsim.vm.strategies.tags_pcid import PcidTags
    from smpsim.vm.strategies.tags_pmap import PmapIdTags
    on = PolicyConfig.model_validate({"name": "x", "preset": "netbsd5", "pcid": True})
    off = PolicyConfig.model_validate({"name": "y", "preset": "freebsd", "pcid": False})
    assert (on.pcid, on.design.pcid) == ("pcid", PcidTags)
    assert (off.pcid, off.design.pcid) == ("pmap", PmapIdTags)
    assert PolicyConfig.model_validate({"name": "z", "preset": "netbsd5", "pcid": "pcid"}).switches() == on.switches()
    assert PolicyConfig.model_validate({"name": "linux"}).pcid == "linux_asid"
    with pytest.raises(Exception, match="'pmap', 'pcid' or 'linux_asid'"):
        PolicyConfig.model_validate({"name": "w", "pcid": "yes"})
    with pytest.raises(Exception, match="pcid"):
        PolicyConfig.model_validate({"name": "w", "pcid": 1})


def test_a_row_that_omits_a_kind_or_parameter_gets_its_declared_default():
    from smpsim.vm import design
    d = design.resolve({"pv_tracking": "map_entry"})
    explicit = {kind: decl.default for kind, decl in design.KINDS.items()}
    explicit.update({p.name: p.default for p in design.PARAMETERS.values()}, pv_tracking="map_entry")
    assert d == design.resolve(explicit)
    assert d.reclaim_batch == design.PARAMETERS["reclaim_batch"].default
    assert design.full_row({})["pcid"] == "pmap" and design.full_row({"pcid": True})["pcid"] == "pcid"
    with pytest.raises(ValueError, match="unknown design key 'bogus'"):
        design.resolve({"bogus": 1})
    with pytest.raises(ValueError, match="shootdown_ack='never'; allowed: 'before', 'after'"):
        design.resolve({"shootdown_ack": "never"})


def test_every_registered_strategy_subclasses_its_kinds_base():
    from smpsim.vm import design
    for kind in design.kinds():
        base = design.strategy_base(kind)
        assert base.KIND.name == kind and base.KIND.default in design.strategy_values(kind)
        assert base.__doc__ and base.KIND.doc
        for value in design.strategy_values(kind):
            assert issubclass(getattr(design.resolve({kind: value}), kind), base), (kind, value)
    with pytest.raises(ValueError, match="must subclass"):
        design.register_strategy("lazy_tlb", "duck", type("Duck", (), {}))
