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
runs a longer campaign. A failure prints the seed, case number and mutations, which reproduce it:
`SMPSIM_FUZZ_SEED=S SMPSIM_FUZZ_ONLY=N scripts/fuzz`.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tomllib
import traceback
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

N_CASES = int(os.environ.get("SMPSIM_FUZZ_CASES", "320"))
SEED = int(os.environ.get("SMPSIM_FUZZ_SEED", "20261127"))
WORKERS = int(os.environ.get("SMPSIM_FUZZ_WORKERS", "2"))
ONLY = os.environ.get("SMPSIM_FUZZ_ONLY")
CASE_TIMEOUT_S = float(os.environ.get("SMPSIM_FUZZ_CASE_TIMEOUT_S", "30"))
MEMORY_CAP = int(os.environ.get("SMPSIM_FUZZ_MEMORY_CAP", str(3 << 30)))
CONFIRM_ABOVE_S = "3"           # estimated longer runs are refused (exit 2): keeps every valid case short

QUICK = ["exit_storm_quick", "fork_exit_quick", "fork_exec_exit_quick", "munmap_fanout_quick",
         "memory_pressure_quick", "shared_eviction_quick", "exit_storm_images_quick"]
SHRINK = {"processes": 4, "pages": 48, "iterations": 2, "rounds": 2, "region_pages": 32, "object_pages": 128,
          "anon_pages": 32, "chunk_pages": 16, "run_epochs": 2, "grow_pages": 40, "lib_pages": 16}

VALUES = [0, 1, 2, 3, 7, -1, 64, 255, 256, 4096, 262145, 10 ** 6, 10 ** 9, 2 ** 63, 2 ** 64, 1.5, 4.0,
          math.nan, math.inf, True, False, "", "x", "4", "yes", "on", "eager", "netbsd5", "../../escape",
          "a/b", "..", "/dev/zero", "/etc/passwd", "bundled:bash", "bundled:nope", "bundled:", "caf\u00e9",
          "\x00", "x" * 300, "line\nbreak", [], [1, 2], [[[]]], ["a", "b"], [2, 2], {}, {"a": 1},
          {"kind": "exit_storm"}, {"name": "p"}]
EXTRA_KEYS = ["machine.bogus", "workload.image", "workload.kind", "policies[1].pcid", "policies[0].teardown",
              "policies[0].preset", "run.check", "run.tail_epochs", "run.timeout_s", "costs.page_walk",
              "costs.ipi_first", "seed", "name", "description", "bogus", "machine.quantum_cycles",
              "machine.tlb_ways", "machine.pagedaemon_cpu", "machine.freemin", "machine.freetarg"]
SWEEPABLE = ["machine.ncpus", "workload.pages", "workload.processes", "policies[0].teardown", "workload.image",
             "name", "machine.accesses_per_quantum", "seed"]
KINDS = ["exit_storm", "fork_exit", "fork_exec_exit", "munmap_fanout", "memory_pressure", "shared_eviction",
         "nope", 3]


class CaseTimeout(BaseException):
    """Raised by SIGALRM when a case runs past CASE_TIMEOUT_S (a BaseException: nothing may swallow it)."""


# --- generation -------------------------------------------------------------------------------------

def shrunk(name: str) -> dict:
    data = tomllib.loads((CONFIGS / f"{name}.toml").read_text())
    data["policies"] = data["policies"][:2]
    data.setdefault("machine", {})["accesses_per_quantum"] = min(data["machine"].get("accesses_per_quantum", 200),
                                                                  200)
    w = data["workload"]
    for k, cap in SHRINK.items():
        if isinstance(w.get(k), int):
            w[k] = min(w[k], cap)
    data["run"] = {"max_epochs": 400}
    data.pop("sweep", None)
    return data


def keys_of(data, prefix="") -> list[str]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}.{k}" if prefix else k
            out.append(key)
            if isinstance(v, (dict, list)) and k != "sweep":
                out += keys_of(v, key)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            key = f"{prefix}[{i}]"
            out.append(key)
            out += keys_of(v, key)
    return out


def toml_value(value) -> str:
    """The --set text of a value (TOML syntax)."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip() if not isinstance(value, dict) else \
        "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"


def _set(data: dict, key: str, value) -> bool:
    from smpsim.errors import ConfigError
    from smpsim.experiments.config import set_path
    try:
        new = set_path(data, key, value)
    except (ConfigError, RecursionError):
        return False
    data.clear()
    data.update(new)
    return True


def _delete(data: dict, key: str) -> None:
    parts = key.replace("[", ".[").split(".")
    node = data
    for p in parts[:-1]:
        if p.startswith("["):
            idx = int(p[1:-1])
            node = node[idx] if isinstance(node, list) and idx < len(node) else None
        else:
            node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            return
    last = parts[-1]
    if last.startswith("[") and isinstance(node, list):
        idx = int(last[1:-1])
        if idx < len(node):
            del node[idx]
    elif isinstance(node, dict):
        node.pop(last, None)


def mutate_config(rng: random.Random, data: dict, ops: list) -> list[str]:
    """Mutate the config dict in place; return --set arguments to pass instead of (some) edits."""
    sets = []
    for _ in range(rng.randint(1, 3)):
        what = rng.random()
        keys = keys_of(data) + EXTRA_KEYS
        if what < 0.45:
            key, value = rng.choice(keys), rng.choice(VALUES)
            if rng.random() < 0.3:
                text = str(value) if isinstance(value, str) and rng.random() < 0.5 else toml_value(value)
                sets.append(f"{key}={text}")
                ops.append(f"--set {key}={text!r}"[:200])
            elif _set(data, key, value):
                ops.append(f"set {key}={value!r}"[:200])
        elif what < 0.6:
            key = rng.choice(keys_of(data))
            _delete(data, key)
            ops.append(f"delete {key}")
        elif what < 0.75:
            sweep = data.setdefault("sweep", {}) if isinstance(data.get("sweep", {}), dict) else {}
            for key in rng.sample(SWEEPABLE, rng.randint(1, 2)):
                if rng.random() < 0.6:
                    values = [rng.choice([1, 2, 3, 4, 16, 32]) for _ in range(rng.randint(1, 3))]
                else:
                    values = [rng.choice(VALUES) for _ in range(rng.randint(0, 3))]
                sweep[key] = values
                ops.append(f"sweep {key}={values!r}"[:200])
            data["sweep"] = sweep
        elif what < 0.85:
            kind = rng.choice(KINDS)
            if isinstance(data.get("workload"), dict):
                data["workload"]["kind"] = kind
            ops.append(f"workload.kind={kind!r}")
        else:
            policies = rng.choice([[], ["netbsd5"], [{"name": "a"}, {"name": "a"}], [{"name": "x" * 100}],
                                   [{"name": "seed"}, {"name": "g", "preset": "netbsd5", "teardown": "gc"}],
                                   [{"name": "p", "preset": "bogus"}], "netbsd5"])
            data["policies"] = policies
            ops.append(f"policies={policies!r}"[:200])
    return sets


def mutate_text(rng: random.Random, raw: bytes, ops: list) -> bytes:
    what = rng.randrange(8)
    if what == 0:
        ops.append("utf-8 BOM")
        return b"\xef\xbb\xbf" + raw
    if what == 1:
        ops.append("utf-16")
        return raw.decode().encode("utf-16")
    if what == 2:
        n = rng.randrange(len(raw) + 1)
        ops.append(f"truncate at {n}")
        return raw[:n]
    if what == 3 and raw:
        i = rng.randrange(len(raw))
        ops.append(f"flip byte {i}")
        return raw[:i] + bytes([raw[i] ^ (1 << rng.randrange(8))]) + raw[i + 1:]
    if what == 4:
        ops.append("non-utf8 byte")
        i = rng.randrange(len(raw) + 1)
        return raw[:i] + b"\xff\xfe" + raw[i:]
    if what == 5:
        depth = rng.choice([20, 40, 500, 3000])
        ops.append(f"nested depth {depth}")
        return b"deep = " + b"[" * depth + b"]" * depth + b"\n" + raw
    if what == 6:
        ops.append("duplicate table")
        return raw + b"\n[machine]\nncpus = 2\n"
    ops.append("huge key")
    return raw.replace(b"[machine]", b"[machine]\n" + b"k" * 100_000 + b" = 1", 1)


def mutate_run_dir(rng: random.Random, run_dir: Path, ops: list) -> None:
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    for _ in range(rng.randint(1, 3)):
        if not files:
            return
        f = rng.choice(files)
        rel = f.relative_to(run_dir)
        what = rng.randrange(11)
        try:
            if what == 0:
                f.unlink()
                ops.append(f"delete {rel}")
            elif what == 1:
                data = f.read_bytes()
                n = rng.randrange(len(data) + 1)
                f.write_bytes(data[:n])
                ops.append(f"truncate {rel} at {n}")
            elif what == 2:
                f.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
                ops.append(f"garbage {rel}")
            elif what in (3, 4, 5) and f.suffix == ".json":
                doc = json.loads(f.read_text())
                path = _random_path(rng, doc)
                value = rng.choice(VALUES)
                if path:
                    _assign(doc, path, value)
                    text = json.dumps(doc, allow_nan=True)
                    f.write_text(text)
                    ops.append(f"json {rel} {path}={value!r}"[:200])
            elif what == 6:
                f.unlink()
                f.mkdir()
                ops.append(f"directory instead of {rel}")
            elif what == 7:
                f.unlink()
                os.mkfifo(f)
                ops.append(f"fifo instead of {rel}")
            elif what == 8:
                f.unlink()
                f.symlink_to("/dev/zero")
                ops.append(f"{rel} -> /dev/zero")
            elif what == 9 and f.name == "run.json" and f.parent != run_dir:
                doc = json.loads(f.read_text())
                doc["status"] = "interrupted"
                f.write_text(json.dumps(doc))
                ops.append(f"{rel} interrupted")
            elif what == 10 and f.name == "events.jsonl":
                extra = rng.choice([b"garbage\n", b'{"event": "exit", "cycles": 1e999}\n', b"x" * (2 << 20) + b"\n",
                                    b'{"event": "epoch", "ptp_pinned": 5, "sim_cycles": "x"}\n', b'{"event": "ex'])
                with open(f, "ab") as fh:
                    fh.write(extra)
                ops.append(f"append to {rel}: {extra[:40]!r}")
            else:
                text = f.read_bytes()
                f.write_bytes(b"\xef\xbb\xbf" + text if rng.random() < 0.5 else text.replace(b"e", b"\xe9", 3))
                ops.append(f"encoding of {rel}")
        except (OSError, ValueError, UnicodeDecodeError):
            ops.append(f"(could not damage {rel})")
        files = sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink())


def _random_path(rng, doc) -> list:
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return path


def _assign(doc, path, value) -> None:
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def mutate_maps(rng: random.Random, text: str, ops: list) -> bytes:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        what = rng.randrange(7)
        i = rng.randrange(len(lines)) if lines else 0
        if what == 0 and lines:
            del lines[i]
            ops.append(f"delete line {i}")
        elif what == 1 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
            ops.append(f"duplicate a line at {i}")
        elif what == 2 and lines:
            fields = lines[i].split()
            j = rng.randrange(len(fields)) if fields else 0
            token = rng.choice(["f" * 20, "zz", "-1", "", "0", "rwxq", "00:00", "ffffffffffff-0", "1" * 17])
            if fields:
                fields[j] = token
            lines[i] = " ".join(fields)
            ops.append(f"line {i} field {j} = {token!r}")
        elif what == 3:
            lines.append(f"{'f' * rng.randint(12, 24)}-{'f' * rng.randint(12, 24)} r-xp 00000000 08:02 1 /x")
            ops.append("huge addresses")
        elif what == 4:
            lines.insert(i, "7f0000000000-7f0000001000 r--p 00000000 08:02 9 /lib/caf\udce9.so")
            ops.append("non-utf8 path")
        elif what == 5 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            ops.append(f"swap lines {i} {j}")
        else:
            lines = [ln + " " * rng.randrange(3) for ln in lines]
            ops.append("trailing spaces")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


# --- checking -----------------------------------------------------------------------------------------

def _short_paragraph(stderr: str) -> str | None:
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


def _complete_run(run_dir: Path) -> str | None:
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


def _stray_files(case_root: Path, sandbox: Path, allowed: list[Path]) -> list[Path]:
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
        return _complete_run(made[0])
    if code == 2:
        if made:
            return f"exit 2 left a run directory {made[0]}"
        return _short_paragraph(stderr)
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


# --- the worker -----------------------------------------------------------------------------------------

def _invoke(args: list) -> tuple[int, str]:
    from click.testing import CliRunner

    from smpsim.cli import main
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        if isinstance(r.exception, (CaseTimeout, MemoryError)):
            raise r.exception
        tb = "".join(traceback.format_exception(r.exception))[-1500:]
        return -1, f"uncaught {type(r.exception).__name__}: {tb}"
    return r.exit_code, r.stderr


def case_config(rng, sandbox: Path, ops: list) -> str | None:
    inputs = sandbox / "inputs"
    name = rng.choice(QUICK)
    ops.append(f"base {name}")
    data = shrunk(name)
    if name == "exit_storm_images_quick":
        data["workload"]["image"] = "bundled:bash,python3"
    sets = mutate_config(rng, data, ops)
    try:
        raw = tomli_w.dumps(data).encode()
    except (TypeError, ValueError) as e:
        ops.append(f"(not TOML-serialisable: {e})")
        raw = tomli_w.dumps(shrunk(name)).encode()
    if rng.random() < 0.15:
        raw = mutate_text(rng, raw, ops)
    cfg = inputs / "c.toml"
    cfg.write_bytes(raw)
    out = sandbox / "out" / "run" if rng.random() < 0.8 else None
    command = "sweep" if rng.random() < 0.1 else "run"
    args = [command, cfg, "--backend", "inline", "--quiet"]
    for s in sets:
        args += ["--set", s]
    if out is not None:
        args += ["--out", out]
    if rng.random() < 0.1:
        args.append("--check")
    if rng.random() < 0.1:
        args.append("--trace")
    ops.append(" ".join(str(a) for a in args[:1] + args[4:])[:300])
    result = _invoke(args)
    if result[0] == -1:
        return result[1]
    if command == "sweep" and result[0] == 2:
        return _short_paragraph(result[1])
    why = check_run(result, sandbox, out)
    allowed = [out] if out is not None else [sandbox / "runs"]
    stray = _stray_files(sandbox.parents[3], sandbox, allowed)
    return why or (f"files outside the run directory: {stray[:3]}" if stray else None)


def case_run_dir(rng, sandbox: Path, ops: list, pristine: Path) -> str | None:
    run_dir = sandbox / "run"
    shutil.copytree(pristine, run_dir, symlinks=True)
    mutate_run_dir(rng, run_dir, ops)
    what = rng.randrange(5)
    if what == 0:
        args = ["analyze", run_dir, "--format", rng.choice(["table", "csv", "json"])]
    elif what == 1:
        args = ["compare", run_dir] + ([pristine] if rng.random() < 0.5 else []) + \
            (["--baseline", rng.choice(["netbsd5", "seed", "nope", "run:seed"])] if rng.random() < 0.5 else [])
    elif what == 2:
        args = ["report", run_dir]
    else:
        args = ["run", "--resume", run_dir, "--backend", "inline", "--quiet"]
    ops.append(" ".join(str(a) for a in args)[:300])
    before = _snapshot(pristine)
    code, stderr = _invoke(args)
    if code == -1:
        return stderr
    if _snapshot(pristine) != before:
        return "the pristine run directory changed"
    stray = _stray_files(sandbox.parents[3], sandbox, [run_dir])
    if stray:
        return f"files outside the run directory: {stray[:3]}"
    if code == 2:
        return _short_paragraph(stderr)
    if code == 0:
        return _complete_run(run_dir) if args[0] == "run" else None
    if code == 1 and args[0] == "run":
        return check_run((code, stderr), sandbox, run_dir)
    return f"exit {code}: {stderr[:300]!r}"


def case_maps(rng, sandbox: Path, ops: list) -> str | None:
    from smpsim.experiments.images import bundled_maps, load_images
    inputs = sandbox / "inputs"
    snaps = bundled_maps()
    name = rng.choice(sorted(snaps))
    ops.append(f"maps {name}")
    data = mutate_maps(rng, snaps[name], ops)
    f = inputs / "p.maps"
    kind = rng.random()
    if kind < 0.05:
        os.mkfifo(f)
        ops.append("as a FIFO")
    elif kind < 0.1:
        f.mkdir()
        ops.append("as a directory")
    else:
        f.write_bytes(data)
    out = sandbox / "out" / "img.json"
    code, stderr = _invoke(["maps-import", f, "--out", out])
    if code == -1:
        return stderr
    stray = _stray_files(sandbox.parents[3], sandbox, [out])
    if stray:
        return f"files outside the output: {stray[:3]}"
    if code == 2:
        if out.exists():
            return "exit 2 but the image file was written"
        return _short_paragraph(stderr)
    if code != 0:
        return f"exit {code}: {stderr[:300]!r}"
    try:
        load_images(out)
    except Exception as e:                                      # noqa: BLE001
        return f"written image does not load: {e}"
    if rng.random() < 0.5:                                      # and a run of it
        data = shrunk("exit_storm_images_quick")
        data["workload"]["image"] = str(out)
        cfg = inputs / "img.toml"
        cfg.write_text(tomli_w.dumps(data))
        run_out = sandbox / "out" / "run"
        ops.append("run with the image")
        result = _invoke(["run", cfg, "--backend", "inline", "--quiet", "--out", run_out])
        if result[0] == -1:
            return result[1]
        return check_run(result, sandbox, run_out)
    return None


def _snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _build_pristine(root: Path) -> Path:
    data = shrunk("fork_exit_quick")
    data["sweep"] = {"machine.ncpus": [2, 3]}
    cfg = root / "pristine.toml"
    cfg.write_text(tomli_w.dumps(data))
    out = root / "pristine"
    code, stderr = _invoke(["run", cfg, "--backend", "inline", "--quiet", "--out", out])
    assert code == 0, stderr
    return out


def _on_alarm(signum, frame):
    raise CaseTimeout(f"case ran past {CASE_TIMEOUT_S:g} s")


def run_case(i: int, root: Path, pristine: Path) -> dict:
    rng = random.Random(f"{SEED}:{i}")
    case_root = root / f"case{i}"
    sandbox = case_root / "a" / "b" / "c" / "sandbox"          # deep, so an escape lands inside case_root
    (sandbox / "inputs").mkdir(parents=True)
    ops: list[str] = []
    kind = rng.choices(["config", "run_dir", "maps"], weights=[6, 3, 1])[0]
    cwd = os.getcwd()
    os.chdir(sandbox)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
    try:
        if kind == "config":
            why = case_config(rng, sandbox, ops)
        elif kind == "run_dir":
            why = case_run_dir(rng, sandbox, ops, pristine)
        else:
            why = case_maps(rng, sandbox, ops)
    except CaseTimeout as e:
        why = f"hang: {e}"
    except MemoryError:
        why = f"memory: more than the {MEMORY_CAP >> 20} MiB cap"
    except Exception as e:                                      # noqa: BLE001 - a generator bug is a failure too
        why = f"fuzz harness error: {type(e).__name__}: {e} {traceback.format_exc()[-800:]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        os.chdir(cwd)
    shutil.rmtree(case_root, ignore_errors=True)
    return {"case": i, "kind": kind, "ops": ops, "failure": why}


def worker(root: str, indexes: list[int]) -> None:
    """Run the cases `indexes` under the memory cap; one JSON line per case on stdout."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    os.environ["SMPSIM_CONFIRM_ABOVE_S"] = CONFIRM_ABOVE_S
    root_path = Path(root)
    pristine = _build_pristine(root_path)
    for i in indexes:
        print("CASE " + json.dumps(run_case(i, root_path / "cases", pristine)), flush=True)


# --- the test ---------------------------------------------------------------------------------------------

def _indexes() -> list[int]:
    if ONLY:
        return [int(x) for x in ONLY.split(",")]
    return list(range(N_CASES))


def test_fuzz_cli(tmp_path):
    indexes = _indexes()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RAY_ADDRESS", None)
    procs = []
    for w in range(WORKERS):
        part = indexes[w::WORKERS]
        if not part:
            continue
        root = tmp_path / f"w{w}"
        root.mkdir()
        src = f"from tests.test_fuzz import worker; worker({str(root)!r}, {part!r})"
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
    if not ONLY:
        assert len(results) >= min(N_CASES, 300)
