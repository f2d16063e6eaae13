"""The report's plots read when pasted into a mail: every legend outside every panel (never over a
curve or a bar, nor clipped at the figure's edge), and tick labels that do not run into each other."""

from __future__ import annotations

import pytest

from smpsim.analysis import plots
from smpsim.analysis.load import load_run
from smpsim.analysis.plotstyle import compact_ticks, exact
from smpsim.analysis.results import collect, swept_keys
from tests.test_analysis import one_point_run, sweep_run


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Results of a 6-point sweep (2 swept keys, wide spans: log axes) and of a one-point run."""
    sweep = collect(load_run(sweep_run(tmp_path_factory.mktemp("sweep"))))
    single = collect(load_run(one_point_run(tmp_path_factory.mktemp("single"))))
    return {"sweep": sweep, "single": single}


FIGURES = {
    "cdf_exit": lambda rs: plots.latency_cdf_figure(rs, "exit"),
    "cdf_shootdown": lambda rs: plots.latency_cdf_figure(rs, "shootdown"),
    "cost_vs_each_key": lambda rs: [plots.cost_vs_param_figure(rs, k, swept_keys(rs)) for k in swept_keys(rs)],
    "exit_breakdown": plots.exit_breakdown_figure,
    "pinned_ptps": plots.pinned_ptps_figure,
}


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()          # constrained layout places the panels and the legend at draw time
    return fig


def _figures(run: str, name: str, results) -> list:
    figs = FIGURES[name](results[run])
    figs = [f for f in (figs if isinstance(figs, list) else [figs]) if f is not None]
    if not figs and run == "single" and name.startswith("cost"):
        pytest.skip("a one-point run sweeps nothing")
    assert figs, f"{name} drew nothing for the {run} run"
    return [_drawn(f) for f in figs]


@pytest.mark.parametrize("run", ["sweep", "single"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_legends_sit_outside_every_panel(results, run, name):
    for fig in _figures(run, name, results):
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert legends, f"{name}: no legend"
        renderer = fig.canvas.get_renderer()
        for leg in legends:
            box = leg.get_window_extent(renderer)
            for ax in (a for a in fig.axes if a.get_visible()):
                # not over the data area, nor over the panel's tick labels and axis labels
                assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: legend over the data"
                assert not box.overlaps(ax.get_tightbbox(renderer)), f"{name}: legend over the labels"
            assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 \
                and box.y1 <= fig.bbox.y1, f"{name}: legend clipped at the figure's edge"


def _visible_labels(axis):
    lo, hi = sorted(axis.get_view_interval())
    return [t.label1 for t in axis.get_major_ticks()
            if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi]


@pytest.mark.parametrize("name", list(FIGURES))
def test_tick_labels_do_not_overlap(results, name):
    for fig in _figures("sweep", name, results):
        renderer = fig.canvas.get_renderer()
        for ax in (a for a in fig.axes if a.get_visible()):
            for axis in (ax.xaxis, ax.yaxis):
                boxes = [lab.get_window_extent(renderer) for lab in _visible_labels(axis)]
                assert len(boxes) >= 2, f"{name}: fewer than two labelled ticks on an axis"
                for i, a in enumerate(boxes):
                    assert not any(a.overlaps(b) for b in boxes[i + 1:]), \
                        f"{name}: tick labels {[lab.get_text() for lab in _visible_labels(axis)]} overlap"


def test_sweep_has_log_axes(results):
    """The overlap test above covers log axes (the sweep's costs span more than 30x)."""
    fig = plots.cost_vs_param_figure(results["sweep"], "machine.ncpus", swept_keys(results["sweep"]))
    assert any(ax.get_yscale() == "log" for ax in fig.axes)
    assert any(ax.get_xscale() == "log" for ax in fig.axes)


def test_tick_labels_are_plain_and_distinct():
    assert compact_ticks([1850, 1875, 1900, 1925]) == ["1850", "1875", "1900", "1925"]
    assert compact_ticks([0, 50_000, 100_000, 150_000]) == ["0", "50k", "100k", "150k"]
    assert compact_ticks([0, 2_500_000, 5_000_000]) == ["0", "2.5M", "5.0M"]
    assert compact_ticks([300_000, 600_000, 900_000], top=950_000) == ["300k", "600k", "900k"]
    assert [exact(v) for v in (2, 4096, 65536, 64000, 2_000_000, 0.5)] == ["2", "4096", "65536", "64k", "2M",
                                                                           "0.5"]
