"""Running fuzz cases: each in its own sandbox under a SIGALRM timeout, through the CLI in-process;
`worker` runs a list of them under the memory cap (tests/test_fuzz.py starts it in subprocesses).

SMPSIM_FUZZ_SEED, SMPSIM_FUZZ_CASE_TIMEOUT_S and SMPSIM_FUZZ_MEMORY_CAP are read here (the workers see
the test's environment)."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import traceback
from pathlib import Path

import tomli_w

from tests.fuzz_check import complete_run, short_paragraph, stray_files, check_run
from tests.fuzz_generate import QUICK, mutate_config, mutate_maps, mutate_run_dir, mutate_text, mutate_trace_text, shrunk

SEED = int(os.environ.get("SMPSIM_FUZZ_SEED", "20261127"))
CASE_TIMEOUT_S = float(os.environ.get("SMPSIM_FUZZ_CASE_TIMEOUT_S", "30"))
MEMORY_CAP = int(os.environ.get("SMPSIM_FUZZ_MEMORY_CAP", str(3 << 30)))
CONFIRM_ABOVE_S = "3"           # estimated longer runs are refused (exit 2): keeps every valid case short


class CaseTimeout(BaseException):
    """Raised by SIGALRM when a case runs past CASE_TIMEOUT_S (a BaseException: nothing may swallow it)."""


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
        args.append("--messages")
    ops.append(" ".join(str(a) for a in args[:1] + args[4:])[:300])
    result = _invoke(args)
    if result[0] == -1:
        return result[1]
    if command == "sweep" and result[0] == 2:
        return short_paragraph(result[1])
    why = check_run(result, sandbox, out)
    allowed = [out] if out is not None else [sandbox / "runs"]
    stray = stray_files(sandbox.parents[3], sandbox, allowed)
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
    stray = stray_files(sandbox.parents[3], sandbox, [run_dir])
    if stray:
        return f"files outside the run directory: {stray[:3]}"
    if code == 2:
        return short_paragraph(stderr)
    if code == 0:
        return complete_run(run_dir) if args[0] == "run" else None
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
    result = _invoke(["maps-import", f, "--out", out])
    if result[0] != 0 or stray_files(sandbox.parents[3], sandbox, [out]):
        return _single_output_failure(result, sandbox, out, "the image file")
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


def _single_output_failure(result: tuple[int, str], sandbox: Path, out: Path, what: str) -> str | None:
    """What is wrong with a command that writes one file `out` and did not simply succeed: a
    traceback, a file outside `out`, exit 2 that wrote `what` anyway or said more than a
    paragraph, any other exit code; None for a clean exit 2."""
    code, stderr = result
    if code == -1:
        return stderr
    stray = stray_files(sandbox.parents[3], sandbox, [out])
    if stray:
        return f"files outside the output: {stray[:3]}"
    if code == 2:
        return f"exit 2 but {what} was written" if out.exists() else short_paragraph(stderr)
    return f"exit {code}: {stderr[:300]!r}" if code != 0 else None


def _trace_lines(rng) -> list[str]:
    import gzip
    text = gzip.open(Path(__file__).parent / "data" / "perf_script_xz.txt.gz", "rt").read().splitlines()
    start = rng.randrange(len(text))
    return text[start:start + rng.choice([0, 1, 50, 2000])]


def case_trace(rng, sandbox: Path, ops: list) -> str | None:
    """perf script text, damaged, through `trace import`; its trace, sometimes damaged, through
    `trace info`. Exit 0 with a readable trace, or exit 2 in one paragraph with nothing written."""
    import gzip
    lines = mutate_trace_text(rng, _trace_lines(rng), ops)
    raw = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    f = sandbox / "inputs" / "t.txt"
    how = rng.randrange(4)
    if how == 1:
        raw = gzip.compress(raw)
        ops.append("gzip")
    elif how == 2:
        import zstandard
        raw = zstandard.ZstdCompressor().compress(raw)
        ops.append("zstd")
    if how and rng.random() < 0.3:
        raw = raw[: rng.randrange(len(raw) + 1)]
        ops.append("compressed stream cut")
    f.write_bytes(raw)
    out = sandbox / "out" / "t.smpt"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = _invoke(["trace", "import", f, "--out", out] + (["--pid", "8272"] if rng.random() < 0.2 else []))
    if result[0] != 0 or stray_files(sandbox.parents[3], sandbox, [out]):
        return _single_output_failure(result, sandbox, out, "the trace")
    damaged = rng.random() < 0.4
    if damaged:
        data = bytearray(out.read_bytes())
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
        out.write_bytes(bytes(data[: rng.choice([len(data), i + 1])]))
        ops.append(f"trace damaged at byte {i}")
    code, stderr = _invoke(["trace", "info", out])
    if code == -1:
        return stderr
    if code == 2:
        return short_paragraph(stderr)
    if code != 0:
        return f"info exit {code}: {stderr[:300]!r}"
    return _replay_case(rng, sandbox, out, ops) if rng.random() < 0.5 else None


def _replay_case(rng, sandbox: Path, trace: Path, ops: list) -> str | None:
    """The imported trace replayed ([workload] kind = "trace"): a run that completes, or a clean
    exit 2 (a trace that cannot be replayed on the machine), never a traceback or a failed run."""
    policy = rng.choice(["linux", "netbsd5", "freebsd", "seed"])
    ops.append(f"replayed under {policy}")
    cfg = sandbox / "inputs" / "replay.toml"
    cfg.write_text(f'name = "r"\n[machine]\nncpus = 2\nquantum_cycles = 25000\n[workload]\nkind = "trace"\n'
                   f'trace = "{trace}"\n[run]\nmax_epochs = 1000000\ncheck = {str(rng.random() < 0.5).lower()}\n'
                   f'[[policies]]\nname = "{policy}"\n')
    code, stderr = _invoke(["run", cfg, "--backend", "inline", "--quiet", "--out", sandbox / "out" / "run"])
    if code == -1:
        return stderr
    if code == 2:
        return short_paragraph(stderr)
    return None if code == 0 else f"replay exit {code}: {stderr[:300]!r}"


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
    kind = rng.choices(["config", "run_dir", "maps", "trace"], weights=[6, 3, 1, 1])[0]
    cwd = os.getcwd()
    os.chdir(sandbox)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
    try:
        if kind == "config":
            why = case_config(rng, sandbox, ops)
        elif kind == "run_dir":
            why = case_run_dir(rng, sandbox, ops, pristine)
        elif kind == "maps":
            why = case_maps(rng, sandbox, ops)
        else:
            why = case_trace(rng, sandbox, ops)
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
