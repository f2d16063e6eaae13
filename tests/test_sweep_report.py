"""A real sweep over ncpus and process size: one directory per point, every point x policy in the
summary, and a report whose plots are real PNG files; the CLI analysis commands on it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smpsim.experiments.runner import RunRequest, run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "run"
    run(RunRequest(config_path=str(ROOT / "configs" / "fork_exit_quick.toml"), backend="inline", out=str(out),
                   progress=False, overrides=['sweep={"machine.ncpus"=[2,3],"workload.pages"=[16,48]}']))
    return out


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "smpsim.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_one_directory_per_point_and_every_point_policy_in_the_summary(sweep_run):
    points = ["ncpus=2,pages=16", "ncpus=2,pages=48", "ncpus=3,pages=16", "ncpus=3,pages=48"]
    for p in points:
        assert json.loads((sweep_run / p / "run.json").read_text())["status"] == "completed"
        assert (sweep_run / p / "events.jsonl").stat().st_size > 0
    summary = json.loads((sweep_run / "summary.json").read_text())
    got = [(e["point"], e["policy"]) for e in summary["points"]]
    assert got == [(p, pol) for p in points for pol in ("netbsd5", "seed")]
    e = summary["points"][-1]
    assert e["params"] == {"machine.ncpus": 3, "workload.pages": 48}
    # a larger parent, more fork cycles (uvmspace_fork write-protects every page it wrote)
    by = {(x["point"], x["policy"]): x["latency"]["fork"]["mean_cycles"] for x in summary["points"]}
    assert by[("ncpus=2,pages=48", "netbsd5")] > by[("ncpus=2,pages=16", "netbsd5")]


def test_report_writes_markdown_and_real_pngs(sweep_run):
    r = _cli("report", str(sweep_run))
    assert r.returncode == 0, r.stderr
    md = (sweep_run / "report.md").read_text()
    pngs = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(pngs) >= 3
    import matplotlib.image as mpimg
    for rel in pngs:
        path = sweep_run / rel
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert mpimg.imread(path).shape[0] > 100        # it opens and has pixels


def test_analyze_and_compare_cli(sweep_run):
    summary = json.loads((sweep_run / "summary.json").read_text())
    r = _cli("analyze", str(sweep_run), "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["results"]
    # analyze reports exactly what the run wrote, for every point x policy
    assert [(x["point"], x["policy"], x["counters"]) for x in rows] == \
        [(x["point"], x["policy"], x["counters"]) for x in summary["points"]]
    r = _cli("compare", str(sweep_run), "--baseline", "netbsd5")
    assert r.returncode == 0, r.stderr
    # one block per point, and each ratio is seed over netbsd5 from the summary
    by = {(x["point"], x["policy"]): x["counters"] for x in summary["points"]}
    blocks = r.stdout.split("\npoint ")[1:]
    assert [b.split()[0] for b in blocks] == ["ncpus=2,pages=16", "ncpus=2,pages=48", "ncpus=3,pages=16",
                                              "ncpus=3,pages=48"]
    for block in blocks:
        point = block.split()[0]
        line = next(l for l in block.splitlines() if l.startswith("counters.pte_atomic_updates "))
        base, seed, ratio = line.split()[1:4]
        assert (int(base), int(seed)) == (by[(point, "netbsd5")]["pte_atomic_updates"],
                                          by[(point, "seed")]["pte_atomic_updates"])
        assert ratio == f"{int(seed) / int(base):.2f}x"
    r = _cli("analyze", str(sweep_run / "ncpus=2,pages=16" / "nothing"))
    assert r.returncode == 2 and "no such run directory" in r.stderr and "Traceback" not in r.stderr
    r = _cli("report", str(ROOT / "configs"))
    assert r.returncode == 2 and "not a run directory" in r.stderr and "Traceback" not in r.stderr
