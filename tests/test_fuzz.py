"""Fuzz: mutated bundled configs, damaged run directories and odd maps files, through the whole CLI.

A seeded generator (no extra dependency: `random.Random(seed, case)`) makes each case from the bundled
quick configs (shrunk so that a valid one runs in a fraction of a second), a completed run directory,
or a bundled /proc/PID/maps snapshot, applies one to three mutations, and runs `smpsim` in-process
through click's CliRunner (inline backend). Every case must end in one of:

* exit 0 with a complete result: run.json "completed", every point completed with its summary.json,
  the top-level summary holding every point's entries (or the analysis output / image file);
* exit 2 with a one-paragraph message (starts with "smpsim: error:", no traceback, bounded length),
  and no run directory left behind by a run that never started;
* exit 1 only for a run the model itself failed (run.json "failed" with a SimulationError, e.g. out
  of memory or run.max_epochs, which the fuzz config bounds at 400).

Never a traceback (an exception escaping the CLI), never a hang (each case runs under a SIGALRM
timeout), never more memory than the cap (RLIMIT_AS in the worker processes), never a file outside
the run directory (each case runs in its own sandbox, five levels below the worker's root, which
must hold nothing else afterwards).

Cases run in SMPSIM_FUZZ_WORKERS subprocesses (default 2) so the caps apply to them and not to
pytest. SMPSIM_FUZZ_CASES (default 320) and SMPSIM_FUZZ_SEED set the size and seed; `scripts/fuzz`
runs a longer campaign, the fast tier only the first eight cases. A failure prints the seed, case
number and mutations, which reproduce it:
`SMPSIM_FUZZ_SEED=S SMPSIM_FUZZ_ONLY=N scripts/fuzz`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz_cases import CASE_TIMEOUT_S, SEED

ROOT = Path(__file__).resolve().parent.parent

N_CASES = int(os.environ.get("SMPSIM_FUZZ_CASES", "320"))
WORKERS = int(os.environ.get("SMPSIM_FUZZ_WORKERS", "2"))
ONLY = os.environ.get("SMPSIM_FUZZ_ONLY")
FEW = 8                       # the fast tier runs cases 0..FEW-1


def _indexes() -> list[int]:
    if ONLY:
        return [int(x) for x in ONLY.split(",")]
    return list(range(N_CASES))


def _fuzz(tmp_path, indexes: list[int], workers: int) -> list[dict]:
    """Run the cases `indexes` in `workers` subprocesses; assert that every one passed; their results."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RAY_ADDRESS", None)
    procs = []
    for w in range(workers):
        part = indexes[w::workers]
        if not part:
            continue
        root = tmp_path / f"w{w}"
        root.mkdir()
        src = f"from tests.fuzz_cases import worker; worker({str(root)!r}, {part!r})"
        procs.append((subprocess.Popen([sys.executable, "-c", src], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True), root))
    results, crashes = [], []
    # a worker is bounded by its cases' timeouts; this only catches a worker wedged outside any case
    budget = 120 + CASE_TIMEOUT_S * len(indexes)
    for proc, root in procs:
        out, err = proc.communicate(timeout=budget)
        results += [json.loads(ln[5:]) for ln in out.splitlines() if ln.startswith("CASE ")]
        if proc.returncode != 0:
            crashes.append(f"worker exit {proc.returncode}: {err[-2000:]}")
        left = [p for p in root.iterdir() if p.name not in ("cases", "pristine", "pristine.toml")]
        left += [p for p in (root / "cases").iterdir()] if (root / "cases").is_dir() else []
        if left:
            crashes.append(f"left outside the cases' sandboxes: {left[:5]}")
    failures = [r for r in results if r["failure"]]
    kinds = {k: sum(r["kind"] == k for r in results) for k in ("config", "run_dir", "maps")}
    report = "\n".join(f"case {r['case']} ({r['kind']}): {r['failure']}\n    mutations: {r['ops']}"
                       for r in failures[:15])
    assert not crashes, "\n".join(crashes)
    assert len(results) == len(indexes), f"{len(results)} of {len(indexes)} cases reported"
    assert not failures, (f"{len(failures)} of {len(results)} cases failed (seed {SEED}; {kinds}); "
                          f"rerun one with SMPSIM_FUZZ_SEED={SEED} SMPSIM_FUZZ_ONLY=N scripts/fuzz\n{report}")
    return results


@pytest.mark.slow
def test_fuzz_cli(tmp_path):
    results = _fuzz(tmp_path, _indexes(), WORKERS)
    if not ONLY:
        assert len(results) >= min(N_CASES, 300)


def test_a_few_fuzz_cases(tmp_path):
    """The fast tier's share: the first cases of the same campaign, one worker."""
    _fuzz(tmp_path, list(range(FEW)), 1)
