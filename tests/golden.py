"""Golden results: every bundled config's simulated results, frozen, so that no change moves them unnoticed.

For each `configs/*.toml` the golden directory `tests/golden/<config>/` holds
`summary.json` (the run's summary) and `events.jsonl.gz` (every point's event
stream, in point order), both with wall-clock fields stripped: what is left is
simulated and deterministic. `tests/test_golden.py` reruns each config inline and
compares. A commit that changes the model on purpose regenerates them with

    scripts/regen-golden [CONFIG_NAME ...]

and says in its message what moved and why.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
# benchmarks, not tests: run by hand (their wall time is in BENCHMARKS.md), never frozen here
BENCHMARK_CONFIGS = {"study_kernels", "study_real_traces"}
CONFIGS = sorted(p.stem for p in (ROOT / "configs").glob("*.toml") if p.stem not in BENCHMARK_CONFIGS)


def _is_wall(key: str) -> bool:
    return key == "ts" or key.endswith("_us") or key == "wall_seconds"


def strip_wall(value):
    """The value with every wall-clock field removed, recursively, and the checkout's own path
    taken out of every string (a replayed trace is named by its absolute path), so that a golden
    holds wherever the repository is cloned."""
    if isinstance(value, dict):
        return {k: strip_wall(v) for k, v in value.items() if not _is_wall(k)}
    if isinstance(value, list):
        return [strip_wall(v) for v in value]
    if isinstance(value, str) and value.startswith(f"{ROOT}/"):
        return value[len(str(ROOT)) + 1:]
    return value


def simulate(config: str, workdir: Path) -> tuple[dict, list[dict]]:
    """Run a bundled config inline; return its summary and its events, wall-clock fields stripped."""
    from smpsim.experiments.runner import RunRequest, run
    out = workdir / config
    run_dir, summary = run(RunRequest(config_path=str(ROOT / "configs" / f"{config}.toml"), backend="inline",
                                      out=str(out), progress=False))
    events = []
    for name in dict.fromkeys(p["point"] for p in summary["points"]):
        for line in (run_dir / name / "events.jsonl").read_text().splitlines():
            events.append(strip_wall(json.loads(line)))
    return strip_wall(summary), events


def paths(config: str) -> tuple[Path, Path]:
    d = GOLDEN / config
    return d / "summary.json", d / "events.jsonl.gz"


def write(config: str, summary: dict, events: list[dict]) -> None:
    spath, epath = paths(config)
    spath.parent.mkdir(parents=True, exist_ok=True)
    spath.write_text(json.dumps(summary, indent=1) + "\n")
    buf = io.BytesIO()
    # mtime=0: the same events give the same bytes, so git sees no change when nothing moved
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        for ev in events:
            gz.write((json.dumps(ev, sort_keys=True) + "\n").encode())
    epath.write_bytes(buf.getvalue())


def read(config: str) -> tuple[dict, list[dict]]:
    spath, epath = paths(config)
    summary = json.loads(spath.read_text())
    with gzip.open(epath, "rt") as f:
        events = [json.loads(line) for line in f]
    return summary, events


def first_difference(expected: list, actual: list) -> str | None:
    """A one-line description of where two event streams part, or None when equal."""
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            keys = sorted(k for k in set(e) | set(a) if e.get(k) != a.get(k))
            return (f"event {i} ({e.get('point')}/{e.get('policy')} {e.get('event')} at epoch {e.get('epoch')}) "
                    f"differs in {keys}: golden {[e.get(k) for k in keys]} now {[a.get(k) for k in keys]}")
    if len(expected) != len(actual):
        return f"golden has {len(expected)} events, the run has {len(actual)}"
    return None


def main(argv: list[str]) -> int:
    names = argv or CONFIGS
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        print(f"unknown configs {unknown}; bundled: {CONFIGS}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            summary, events = simulate(name, Path(tmp))
            write(name, summary, events)
            print(f"{name}: {len(summary['points'])} runs, {len(events)} events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
