"""What a run directory's JSON may hold, as a reader checks it: JSON as smpsim writes it, numbers,
point names and summary entries (docs/rundir.md). Analysis loads with these; a resume checks the
points it keeps with them."""

from __future__ import annotations

import json
import math

from smpsim.errors import RunDirError
from smpsim.rundir.safeio import MAX_DEPTH, clip, nesting_depth

MAX_RUN_FILE_BYTES = 256 << 20        # run.json, summary.json, config.toml
MAX_EVENT_LINE_BYTES = 1 << 20        # one events.jsonl line; real ones are a few hundred bytes
MAX_NUMBER = 1 << 63                  # counters and cycles are 64-bit in the model and on the wire


def reject_constant(name: str):
    raise ValueError(f"{name} is not a number smpsim writes")


def loads_json(text: str, where: str):
    """JSON as smpsim writes it: no NaN/Infinity, nested at most MAX_DEPTH levels; RunDirError otherwise."""
    try:
        doc = json.loads(text, parse_constant=reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise RunDirError(f"{where}: not valid JSON ({clip(str(exc), 200)})") from None
    except RecursionError:
        raise RunDirError(f"{where}: not valid JSON (nested too deeply)") from None
    if nesting_depth(doc) > MAX_DEPTH:
        raise RunDirError(f"{where}: not valid JSON for a run directory (nested more than {MAX_DEPTH} levels)")
    return doc


def is_number(v) -> bool:
    """A finite int or float within 64 bits (bools are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return abs(v) < MAX_NUMBER and (isinstance(v, int) or math.isfinite(v))


def _check_numbers(table, where: str, nested: bool = False) -> None:
    if table is None:
        return
    if not isinstance(table, dict):
        raise RunDirError(f"{where} must be a JSON object, found {type(table).__name__}")
    for k, v in table.items():
        if nested:
            _check_numbers(v, f"{where}.{clip(k, 60)}")
        elif v is not None and not is_number(v):
            raise RunDirError(f"{where}.{clip(k, 60)} must be a number or null, found {clip(repr(v))}")


def safe_point_name(name: str) -> bool:
    """A point name is one directory component of the run (never a path out of it)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name \
        and "\x00" not in name and len(name) <= 255


def check_entry(e, where: str) -> None:
    """RunDirError unless `e` has the shape of a summary entry the analysis can rely on."""
    if not isinstance(e, dict) or not isinstance(e.get("point"), str) or not isinstance(e.get("policy"), str):
        raise RunDirError(f"{where} needs string \"point\" and \"policy\"")
    if not safe_point_name(e["point"]):
        raise RunDirError(f"{where}: point {clip(repr(e['point']))} is not a directory name of the run")
    for key in ("params", "switches"):
        if e.get(key) is not None and not isinstance(e[key], dict):
            raise RunDirError(f"{where}.{key} must be a JSON object, found {type(e[key]).__name__}")
    _check_numbers(e.get("counters"), f"{where}.counters")
    _check_numbers(e.get("exit_breakdown"), f"{where}.exit_breakdown")
    _check_numbers(e.get("latency"), f"{where}.latency", nested=True)
    _check_numbers({k: e.get(k) for k in ("sim_cycles", "epochs", "wall_seconds")}, where)
