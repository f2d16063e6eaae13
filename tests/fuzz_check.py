"""What a fuzz case's outcome must be: a complete run, a one-paragraph refusal (exit 2), or a run the
model itself failed (exit 1); and no file outside the run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path


def short_paragraph(stderr: str) -> str | None:
    if "Traceback" in stderr:
        return "traceback on stderr"
    if not stderr.startswith("smpsim: error: "):
        return f"message does not start with 'smpsim: error:': {stderr[:200]!r}"
    if len(stderr) > 2600:
        return f"{len(stderr)}-character message"
    if "internal error" in stderr:
        return f"internal error: {stderr[:300]!r}"
    return None


def _read(path: Path):
    """A JSON file the check reads (never a FIFO or device a damaged run directory may hold)."""
    if not path.is_file() or path.is_symlink():
        raise OSError(f"{path} is not a regular file")
    return json.loads(path.read_text(encoding="utf-8-sig"))      # smpsim accepts a BOM in what it reads


def complete_run(run_dir: Path) -> str | None:
    """None when `run_dir` holds a complete run, else what is missing."""
    try:
        status = _read(run_dir / "run.json")
        summary = _read(run_dir / "summary.json")
    except (OSError, ValueError) as e:
        return f"unreadable run files: {e}"
    if status.get("status") != "completed":
        return f"run.json status {status.get('status')!r}"
    n = 0
    for name, st in status.get("points", {}).items():
        if st != "completed":
            return f"point {name} is {st!r}"
        try:
            n += len(_read(run_dir / name / "summary.json")["points"])
        except (OSError, ValueError, KeyError) as e:
            return f"point {name}: {e}"
    if n != len(summary["points"]) or n == 0:
        return f"summary.json has {len(summary['points'])} entries, the points {n}"
    tmp = [p for p in run_dir.rglob("*.tmp")]
    if tmp:
        return f"left {tmp[0]}"
    return None


def stray_files(case_root: Path, sandbox: Path, allowed: list[Path]) -> list[Path]:
    """Files and directories under case_root that are neither the sandbox's inputs nor allowed outputs."""
    out = []
    for dirpath, dirnames, filenames in os.walk(case_root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p in sandbox.parents or p == sandbox or p.is_relative_to(sandbox / "inputs") \
                    or any(p == a or p.is_relative_to(a) or p in a.parents for a in allowed):
                continue
            out.append(p)
    return out


def check_run(result, sandbox: Path, out: Path | None) -> str | None:
    code, stderr = result
    runs = sandbox / "runs"
    made = [out] if out is not None else ([p for p in runs.iterdir()] if runs.is_dir() else [])
    made = [p for p in made if p.exists()]
    if code == 0:
        if len(made) != 1:
            return f"exit 0 but {len(made)} run directories"
        return complete_run(made[0])
    if code == 2:
        if made:
            return f"exit 2 left a run directory {made[0]}"
        return short_paragraph(stderr)
    if code == 1 and len(made) == 1:
        try:
            status = _read(made[0] / "run.json")
        except (OSError, ValueError) as e:
            return f"exit 1 without a readable run.json: {e}"
        err = status.get("error") or {}
        if status.get("status") == "failed" and err.get("type") in ("SimulationError", "InvariantViolation"):
            return None if "Traceback" not in stderr else "traceback on stderr"
        return f"exit 1: run.json {status.get('status')!r} {err!r:.300}"
    return f"exit {code}: {stderr[:300]!r}"
