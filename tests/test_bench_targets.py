"""The benchmark's verdicts: typed targets judged on fabricated measurements (no Ray, no timing)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smpsim.analysis.tables import render_markdown
from smpsim.bench.sizes import SIZES
from smpsim.bench.targets import (ACTOR_LOOKUPS_BOUND, EXCHANGE_RATIO_BOUND, QUICK_RAY_WALL_BOUND_S, TARGETS,
                                  LookupRate, Measurements, Target, TargetKind, Verdict, evaluate, judge,
                                  targets_table)

NAMES = [f"exchange overhead, k={k}" for k in (1, 2, 4, 8, 15)] + [
    "TLB lookups/s per CPU actor, 256-page working set",
    "TLB lookups/s per CPU actor, 4096-page working set",
    "16-CPU quick exit_storm on Ray, wall",
    "compressor trace replayed inline (xz_t2), every design",
]


def full_run(**figures) -> Measurements:
    """A full-size Ray run that measured `figures` (Measurements fields)."""
    return Measurements(SIZES["full"], ray=True, **figures)


def verdicts(m: Measurements) -> dict[str, Verdict]:
    return {r.target.name: r.verdict for r in evaluate(m)}


def test_the_targets_and_their_goals():
    assert [t.name for t in TARGETS] == NAMES
    goals = {t.name: t.goal for t in TARGETS}
    assert goals["exchange overhead, k=4"] == "smpsim/floor ≤ 1.30x"
    assert goals["TLB lookups/s per CPU actor, 256-page working set"] == "≥ 1,000,000 /s"
    assert goals["16-CPU quick exit_storm on Ray, wall"] == "< 60 s"
    assert goals["compressor trace replayed inline (xz_t2), every design"] == "≥ 30,000 events/s"
    assert [t.at for t in TARGETS] == [1, 2, 4, 8, 15, 256, 4096, 16, 2]
    with pytest.raises(ValueError):
        Target(TargetKind.EXCHANGE_OVERHEAD, "x", "=", 1.0, 1)


@pytest.mark.parametrize("ratio, verdict", [(1.0, Verdict.PASS), (EXCHANGE_RATIO_BOUND, Verdict.PASS),
                                            (EXCHANGE_RATIO_BOUND + 1e-9, Verdict.MISS), (2.5, Verdict.MISS)])
def test_exchange_ratio_at_most_the_bound_passes(ratio, verdict):
    results = {r.target.at: r for r in evaluate(full_run(exchange_ratio={1: ratio, 15: 1.0}))
               if r.target.kind is TargetKind.EXCHANGE_OVERHEAD}
    assert results[1].verdict is verdict
    assert results[1].measured == ratio and results[1].shown == f"{ratio:.2f}x"
    assert results[15].verdict is Verdict.PASS
    # fan-outs that were not measured in a run that had Ray: nothing to judge
    assert [results[k].verdict for k in (2, 4, 8)] == [Verdict.NOT_JUDGED] * 3
    assert results[2].shown == "-" and results[2].measured is None


@pytest.mark.parametrize("per_s, verdict", [(ACTOR_LOOKUPS_BOUND, Verdict.PASS),
                                            (ACTOR_LOOKUPS_BOUND - 0.5, Verdict.MISS),
                                            (3_115_506.4, Verdict.PASS)])
def test_actor_lookups_at_least_the_bound_pass(per_s, verdict):
    m = full_run(actor_lookups={256: LookupRate(per_s, 42.0), 4096: LookupRate(10.0, 3_000_000.0)})
    got = {r.target.at: r for r in evaluate(m) if r.target.kind is TargetKind.ACTOR_LOOKUPS}
    assert got[256].verdict is verdict
    assert got[256].shown == f"{per_s:,.0f} (CPU time: 42)"
    # judged on wall time: a high CPU-time rate does not rescue a slow wall-clock one
    assert got[4096].verdict is Verdict.MISS and got[4096].measured == 10.0


@pytest.mark.parametrize("wall, verdict", [(7.5, Verdict.PASS), (QUICK_RAY_WALL_BOUND_S - 0.01, Verdict.PASS),
                                           (QUICK_RAY_WALL_BOUND_S, Verdict.MISS), (90.0, Verdict.MISS)])
def test_quick_wall_strictly_below_the_bound_passes(wall, verdict):
    [r] = [r for r in evaluate(full_run(quick_ray_wall_s={4: 1.0, 16: wall}))
           if r.target.kind is TargetKind.QUICK_RAY_WALL]
    assert r.verdict is verdict and r.measured == wall and r.shown == f"{wall:.1f} s"


def test_a_quick_run_is_judged_like_a_full_one():
    m = Measurements(SIZES["quick"], ray=True, exchange_ratio={1: 1.31}, quick_ray_wall_s={16: 61.0},
                     actor_lookups={256: LookupRate(2e6, 2e6)})
    v = verdicts(m)
    assert v["exchange overhead, k=1"] is Verdict.MISS
    assert v["16-CPU quick exit_storm on Ray, wall"] is Verdict.MISS
    assert v["TLB lookups/s per CPU actor, 256-page working set"] is Verdict.PASS


def test_smoke_figures_are_shown_but_never_judged():
    m = Measurements(SIZES["smoke"], ray=True, exchange_ratio={1: 9.0, 2: 0.5}, quick_ray_wall_s={2: 99.0},
                     actor_lookups={256: LookupRate(1.0, 1.0)}, replay_events_per_s=1.0)
    results = evaluate(m)
    assert {r.verdict for r in results} == {Verdict.NOT_JUDGED}
    shown = {r.target.name: r.shown for r in results}
    assert shown["exchange overhead, k=1"] == "9.00x"
    assert shown["16-CPU quick exit_storm on Ray, wall"] == "99.0 s at 2 CPUs"


def test_the_16_cpu_target_needs_16_cpus():
    sizes = replace(SIZES["full"], quick_ncpus=8)
    [r] = [r for r in evaluate(Measurements(sizes, ray=True, quick_ray_wall_s={8: 1.0}))
           if r.target.kind is TargetKind.QUICK_RAY_WALL]
    assert r.verdict is Verdict.NOT_JUDGED and r.shown == "1.0 s at 8 CPUs"


def test_without_ray_every_target_is_skipped_and_in_process_figures_shown():
    m = Measurements(SIZES["full"], ray=False, in_process_lookups={256: LookupRate(2_500_000.0, 2e6)})
    results = evaluate(m)
    assert {r.verdict for r in results} == {Verdict.SKIPPED}
    shown = {r.target.name: r.shown for r in results}
    assert shown["TLB lookups/s per CPU actor, 256-page working set"] == "2,500,000 (SimCpu in-process; no actor)"
    assert shown["TLB lookups/s per CPU actor, 4096-page working set"] == "-"
    assert all(r.measured is None for r in results)


def test_judge():
    t = TARGETS[0]
    assert judge(t, 1.0, ran=False, judged=True) is Verdict.SKIPPED
    assert judge(t, None, ran=True, judged=True) is Verdict.NOT_JUDGED
    assert judge(t, 1.0, ran=True, judged=False) is Verdict.NOT_JUDGED
    assert judge(t, 1.0, ran=True, judged=True) is Verdict.PASS
    assert judge(t, 1.5, ran=True, judged=True) is Verdict.MISS


def test_targets_table_shows_the_verdicts():
    m = full_run(exchange_ratio={k: 1.2 for k in (1, 2, 4, 8)} | {15: 1.4},
                 actor_lookups={256: LookupRate(3e6, 3e6), 4096: LookupRate(9e5, 9e5)}, quick_ray_wall_s={16: 7.0})
    table = targets_table(evaluate(m))
    assert table.headers == ["target", "goal", "measured", "result"] and table.title == "4. Targets"
    assert [row[3] for row in table.rows] == ["PASS"] * 4 + ["MISS", "PASS", "MISS", "PASS", "SKIP"]
    md = render_markdown(table).splitlines()
    assert md[2] == "| target | goal | measured | result |"
    assert md[5] == "| exchange overhead, k=2 | smpsim/floor ≤ 1.30x | 1.20x | PASS |"
    assert md[-2] == "| 16-CPU quick exit_storm on Ray, wall | < 60 s | 7.0 s | PASS |"
    assert md[-1] == "| compressor trace replayed inline (xz_t2), every design | ≥ 30,000 events/s | - | SKIP |"


@pytest.mark.parametrize("rate, sizes, verdict", [(30_000.0, "full", Verdict.PASS), (29_999.0, "quick", Verdict.MISS),
                                                  (50_000.0, "smoke", Verdict.NOT_JUDGED)])
def test_the_replay_rate_is_judged_on_the_compressor_trace_only(rate, sizes, verdict):
    m = Measurements(SIZES[sizes], ray=False, replay_events_per_s=rate)
    r = next(r for r in evaluate(m) if r.target.kind is TargetKind.REPLAY)
    assert r.verdict is verdict and r.measured == rate
