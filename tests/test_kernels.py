"""Today's kernels (issue 10): each preset's signature behaviour, asserted on counters and events,
every preset on every workload under the checker, the checker catching each design's own rule, and
docs/kernels.md's and the README's presets and strategies generated from the registry."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from smpsim import docs_kernels
from smpsim.errors import InvariantViolation
from smpsim.experiments import config as cfgmod
from smpsim.experiments.workloads import WORKLOADS
from smpsim.vm import design
from smpsim.vm.strategies.lazy_linux import LinuxLazyTlb
from smpsim.vm.strategies.lazy_off import NoLazyTlb
from smpsim.vm.strategies.tags_linux_asid import LinuxAsidTags
from smpsim.protocol import LAZY
from tests import broken
from tests.helpers import config_dict, run_inline, run_policies

ROOT = Path(__file__).resolve().parent.parent

SMALL = {
    "exit_storm": {"kind": "exit_storm", "processes": 3, "pages": 48, "entries": 2, "threads": 2, "run_epochs": 2},
    "fork_exit": {"kind": "fork_exit", "iterations": 2, "pages": 32, "entries": 2},
    "fork_exec_exit": {"kind": "fork_exec_exit", "iterations": 2, "pages": 32, "entries": 2, "libs": 2,
                       "lib_pages": 16},
    "shell": {"kind": "shell", "iterations": 2, "pages": 32, "entries": 2, "libs": 1, "lib_pages": 16},
    "munmap_fanout": {"kind": "munmap_fanout", "threads": 4, "region_pages": 40, "rounds": 3, "protect": True},
    "memory_pressure": {"kind": "memory_pressure", "processes": 2, "pages": 256, "entries": 4, "growers": 1,
                        "grow_pages": 200, "exit_start_epoch": 2, "stagger_epochs": 1, "run_epochs": 2},
    "shared_eviction": {"kind": "shared_eviction", "processes": 4, "object_pages": 128, "chunk_pages": 16,
                        "anon_pages": 64, "rounds": 3},
    "tlb_flush": {"kind": "tlb_flush", "threads": 4, "region_pages": 8, "loops": 4},
    "tlb_flush2": {"kind": "tlb_flush2", "threads": 4, "region_pages": 8, "loops": 2},
    "ctx_switch": {"kind": "ctx_switch", "processes": 6, "threads": 2, "pages": 32, "region_pages": 8, "rounds": 2},
    "trace": {"kind": "trace", "trace": str(ROOT / "configs" / "traces" / "sqlite.smpt")},
}


# two processes of two threads on four CPUs: each second thread's CPU idles (lazy) one epoch in three
LAZY_STORM = {"kind": "ctx_switch", "processes": 2, "threads": 2, "pages": 32, "region_pages": 8, "rounds": 4}


def _bundled(name, *overrides):
    _, data = cfgmod.load(ROOT / "configs" / f"{name}.toml", list(overrides))
    return data


def _c(result_and_events) -> Counter:
    """A run's counters; a design counter its design never moves reads 0."""
    return Counter(result_and_events[0]["counters"])


def _d(exit_event) -> Counter:
    return Counter(exit_event["deltas"])


def _exits(events):
    return [e for e in events if e["event"] == "exit"]


def test_every_workload_has_a_small_variant_here():
    assert set(SMALL) == set(WORKLOADS)


@pytest.mark.parametrize("workload", sorted(SMALL))
def test_every_preset_passes_the_checker_on_every_workload(workload):
    machine = {"phys_pages": 2048} if workload == "memory_pressure" else {}
    data = config_dict(SMALL[workload], design.preset_names(), **machine)
    for name, (result, _) in run_policies(data, check=True).items():
        assert _c((result, None))["exits"] > 0, name


def test_freebsd_sends_no_ipi_to_inactive_cpus_and_exits_with_one_full_invalidation():
    data = config_dict("exit_storm", ["freebsd", {"name": "lazy", "preset": "freebsd", "lazy_tlb": "on"}])
    res = run_policies(data)
    fb, lazy = _c(res["freebsd"]), _c(res["lazy"])
    # the other thread's CPU left the pmap when the thread exited: its PCID generation is zeroed instead
    assert fb["ipis_to_inactive"] == 0 and fb["pcid_deferred_flushes"] > 0
    assert lazy["ipis_to_inactive"] > 0                 # the same shootdown with lazy CPUs does reach them
    for e in _exits(res["freebsd"][1]):
        d = _d(e)
        assert d["pmap_invalidate_all"] == 1
        assert d.get("shootdown_ipis", 0) == 0 and d.get("pte_atomic_updates", 0) == 0
        assert d["pte_plain_stores"] >= e["pages"]      # pte_clear, no atomics
    munmap = _c(run_policies(config_dict("munmap_fanout", ["freebsd"]))["freebsd"])
    # a multi-page pmap_remove ends in one pmap_invalidate_all: every shootdown is a full one
    assert munmap["shootdown_exchanges"] > 0 and munmap["shootdown_invlpg"] == 0
    assert munmap["mailbox_waits"] == 0 and munmap["ipis_to_inactive"] == 0


def test_linux_sends_no_ipi_to_lazy_cpus_except_when_page_tables_are_freed():
    data = config_dict(LAZY_STORM, ["linux", {"name": "netbsd_lazy", "preset": "linux", "lazy_tlb": "on"}])
    res = run_policies(data)
    lx, nb = _c(res["linux"]), _c(res["netbsd_lazy"])
    assert lx["lazy_ipis_skipped"] > 0                   # lazy CPUs left out of plain munmaps
    assert lx["ipis_to_lazy"] > 0 and lx["ipis_to_lazy"] == lx["ipis_to_lazy_freeing_tables"]
    assert lx["lazy_switched_to_init_mm"] == lx["ipis_to_lazy"]
    assert lx["tlb_gen_partial_flushes"] + lx["tlb_gen_full_flushes"] > 0   # the skipped ones caught up
    assert nb["ipis_to_lazy"] > nb["ipis_to_lazy_freeing_tables"]          # NetBSD's rule interrupts them


def test_linux_exit_is_one_full_flush_that_switches_lazy_cpus_to_init_mm():
    res = run_policies(config_dict("exit_storm", ["linux"]))
    result, events = res["linux"]
    for e in _exits(events):
        d = _d(e)
        assert d.get("pte_atomic_updates", 0) == 0 and d["pte_plain_stores"] >= e["pages"]
        assert d.get("shootdown_invlpg", 0) == 0 and d.get("shootdown_exchanges", 0) <= 1
    assert _c((result, None))["lazy_switched_to_init_mm"] > 0
    assert _c((result, None))["pv_inserts"] == 0 and _c((result, None))["rmap_updates"] > 0


def test_linux_invlpgb_sends_no_ipis_for_a_process_on_4_cpus_and_no_broadcast_uses_the_mailbox():
    # the old eager rule (global_asid = first_flush): the first flush finding 4 CPUs takes a global
    # ASID; the kernel's consider_global_asid would wait for the task's jiffy (tests/test_linux_613.py)
    eager = {"name": "linux_invlpgb", "preset": "linux_invlpgb", "global_asid": "first_flush"}
    data = config_dict(SMALL["tlb_flush"], [eager, "linux"])
    res = run_policies(data)
    bc, ipi = res["linux_invlpgb"], res["linux"]
    c = _c(bc)
    assert c["shootdown_ipis"] == 0 and c["mailbox_waits"] == 0 and c["ipi_stolen_cycles"] == 0
    assert c["invlpgb_broadcasts"] == c["shootdown_exchanges"] == c["tlbsync_waits"] > 0
    assert c["global_asids_assigned"] == 1
    shots = [e for e in bc[1] if e["event"] == "shootdown"]
    assert shots and all(e["broadcast"] and e["targets"] == [] and e["mailbox_wait_cycles"] == 0 for e in shots)
    assert _c(ipi)["shootdown_ipis"] > 0
    assert c["loops_per_sim_second"] > _c(ipi)["loops_per_sim_second"]
    # on 2 CPUs the mm gets no global ASID: IPIs as plain linux
    two = dict(SMALL["tlb_flush"], threads=2)
    c2 = _c(run_policies(config_dict(two, [eager]))["linux_invlpgb"])
    assert c2["invlpgb_broadcasts"] == 0 and c2["shootdown_ipis"] > 0


def test_netbsd10_zaps_ptps_32_at_a_time_with_one_full_shootdown_per_batch():
    wl = {"kind": "exit_storm", "processes": 1, "pages": 80, "entries": 40, "threads": 1, "run_epochs": 1}
    data = config_dict(wl, ["netbsd10"])
    data["machine"]["ncpus"] = 1
    result, events = run_policies(data)["netbsd10"]
    (e,) = _exits(events)
    d = _d(e)
    assert d["ptp_zap_batches"] == 2                      # 40 page-table pages: 32, then 8
    assert d["pte_atomic_updates"] == 0 and d["ptp_freed"] >= 40
    assert d.get("shootdown_invlpg", 0) == 0
    # with a second thread, its CPU holds the pmap lazily and takes the first batch's full shootdown
    wl2 = dict(wl, threads=2)
    r2, ev2 = run_policies(config_dict(wl2, ["netbsd10"]))["netbsd10"]
    (e2,) = _exits(ev2)
    shots = [s for s in ev2 if s["event"] == "shootdown" and s["reason"] == "exit"]
    assert _d(e2)["ptp_zap_batches"] == 2
    assert shots and all(s["vas"] == "full" for s in shots) and len(shots) <= 2


def test_only_the_global_hash_retries_p2v():
    data = _bundled("shared_eviction_quick", f"policies={json.dumps(list(design.preset_names()))}")
    data["policies"] = [{"name": p} for p in data["policies"]]
    res = run_policies(data, check=False)
    retrying = {name for name, r in res.items() if _c(r)["p2v_retries"] > 0}
    assert retrying == {p for p in design.preset_names() if design.PRESETS[p]["pv_tracking"] == "global_hash"}
    assert "netbsd5" in retrying
    assert _c(res["linux"])["rmap_vmas_walked"] > 0
    assert _c(res["freebsd"])["pv_chunks_allocated"] > 0
    assert _c(res["netbsd10"])["pv_tree_steps"] > 0


def test_shoot_lazies_destroys_the_pmap_with_the_exit():
    with design.registered():
        design.register_preset("netbsd10_shoot", dict(design.PRESETS["netbsd10"], lazy_drop="shoot_lazies"))
        res = run_policies(config_dict("exit_storm", ["netbsd10", "netbsd10_shoot"]))
    base, shoot = _c(res["netbsd10"]), _c(res["netbsd10_shoot"])
    assert shoot["shoot_lazies_ipis"] > 0 and shoot["switch_away_exchanges"] > 0
    assert base["switch_away_exchanges"] == 0
    assert shoot["ptp_pinned_peak"] < base["ptp_pinned_peak"]


# --- the checker understands each design's rules ------------------------------------------------

class LinuxLazyNoCatchUp(LinuxLazyTlb):
    """A lazy CPU skipped by shootdowns runs the mm again without comparing generations."""

    def reactivate(self, view, pmap, op):
        view.seen_gen[pmap.id] = pmap.tlb_gen


class AsidNoCatchUp(LinuxAsidTags):
    """Reuses the mm's ASID slot without comparing generations either."""

    def activated(self, view, pmap, op):
        view.seen_gen[pmap.id] = pmap.tlb_gen


class LazyPretendingOff(NoLazyTlb):
    """Claims no lazy TLB but leaves idle CPUs holding the pmap lazily."""

    def deactivate(self, view, op):
        view.state = LAZY


def _violation(data, **strategies):
    with pytest.raises(InvariantViolation) as exc:
        run_inline(data, 0, substitute=partial(broken.substitute, **strategies))
    return exc.value


def test_checker_catches_a_linux_lazy_cpu_that_does_not_catch_up():
    data = config_dict(LAZY_STORM, ["linux"])
    e = _violation(data, lazy_tlb=LinuxLazyNoCatchUp, pcid=AsidNoCatchUp)
    assert e.name == "stale_tlb_entry"


def test_checker_catches_a_freebsd_cpu_holding_a_pmap_lazily():
    e = _violation(config_dict("exit_storm", ["freebsd"]), lazy_tlb=LazyPretendingOff)
    assert e.name in ("lazy_without_lazy_tlb", "pm_cpus")


# --- the docs' presets and strategies are generated from the registry ----------------------------

def test_the_presets_and_strategies_in_the_docs_are_generated_from_the_registry():
    assert docs_kernels.stale() == [], f"run `{docs_kernels.REGENERATE}`"
    table = docs_kernels.presets_table()
    for name in design.preset_names():
        assert f"`{name}`" in table
    ack = next(line for line in table.splitlines() if line.startswith("| `shootdown_ack`"))
    assert ack.endswith("| `before`, `after` | `after` | `after` | `before` | `before` | `after` | `after` |")


def test_changing_a_preset_without_regenerating_makes_the_docs_stale(monkeypatch):
    monkeypatch.setitem(design.PRESETS, "netbsd10", dict(design.PRESETS["netbsd10"], shootdown_batch=17))
    assert docs_kernels.stale() == list(docs_kernels.DOCS)
    monkeypatch.undo()
    with design.registered():
        design.register_preset("netbsd10_shoot", dict(design.PRESETS["netbsd10"], lazy_drop="shoot_lazies"))
        assert docs_kernels.stale() == list(docs_kernels.DOCS)
    assert docs_kernels.stale() == []


def test_regenerating_rewrites_only_the_generated_parts(tmp_path):
    for rel in docs_kernels.DOCS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    kernels = tmp_path / "docs" / "kernels.md"
    start, end = "<!-- generated: presets", "<!-- end generated: presets -->"
    text = kernels.read_text()
    head, rest = text.split(start, 1)
    kernels.write_text(head + start + rest.split("\n", 1)[0] + "\nstale\n" + end + rest.split(end, 1)[1])
    assert docs_kernels.stale(tmp_path) == ["docs/kernels.md"]
    assert docs_kernels.write(tmp_path) == ["docs/kernels.md"]
    assert kernels.read_text() == text and docs_kernels.stale(tmp_path) == []
