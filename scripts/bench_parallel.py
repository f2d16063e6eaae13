#!/usr/bin/env python
"""Wall time of a sweep run sequentially and with --parallel N on both backends (the BENCHMARKS.md
'parallel simulations' section). Each run is `smpsim run` in a subprocess, as a user runs it (a Ray run
starts and stops its own local cluster); the summaries are checked identical, wall-clock fields aside.

    .venv/bin/python scripts/bench_parallel.py [CONFIG] [--parallel 2] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.golden import strip_wall  # noqa: E402


def one(config: str, backend: str, parallel: int | None, out: Path) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "smpsim.cli", "run", config, "--backend", backend, "--out", str(out), "--quiet"]
    if parallel:
        cmd += ["--parallel", str(parallel)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    summary = strip_wall(json.loads((out / "summary.json").read_text()))
    summary.pop("backend")
    return wall, summary


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default="configs/study_exit_cost.toml")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--backends", default="inline,ray")
    a = ap.parse_args()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()}")
    print("| backend | run | wall s | summary identical to sequential inline |")
    print("|---|---|---:|---|")
    ref = None
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.repeat):
            for backend in a.backends.split(","):
                for par in (1, a.parallel):
                    out = Path(tmp) / f"{backend}-{par}-{rep}"
                    wall, summary = one(a.config, backend, par, out)
                    if ref is None:
                        ref = summary
                    label = "sequential (--parallel 1)" if par == 1 else f"--parallel {par}"
                    print(f"| {backend} | {label} | {wall:.1f} | {summary == ref} |", flush=True)
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
