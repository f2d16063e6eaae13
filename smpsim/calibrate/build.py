"""Compile the C microbenchmarks shipped in smpsim/calibrate/bench/ into a per-user cache.

The binary lives in ``${XDG_CACHE_HOME:-~/.cache}/smpsim/calibrate/<hash>/calbench``, where the
hash covers the C sources, the compiler's path and its ``--version`` text and the flags: a changed
source or compiler builds afresh, an unchanged one is reused. The compiler writes to a temporary
name in the same directory and the result is renamed into place, so concurrent runs and an
interrupted build never leave a half-written binary under the final name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from smpsim.errors import CalibrationError

BENCH_DIR = Path(__file__).resolve().parent / "bench"
SOURCES = ("calbench.c",)
FLAGS = ("-O2", "-pthread")
BINARY = "calbench"
COMPILE_TIMEOUT_S = 120
STDERR_TAIL = 1500


@dataclass(frozen=True)
class Compiler:
    path: str          # absolute path of the executable
    version: str       # first line of `--version`


def require_linux() -> None:
    if not sys.platform.startswith("linux"):
        raise CalibrationError(
            f"calibration measures the Linux kernel (madvise, fork, TLB shootdowns, sched_setaffinity), "
            f"but this is {sys.platform!r}: run `smpsim calibrate` on a Linux machine (a VM or a "
            f"container on Linux is fine), or use the bundled profiles in configs/profiles/.")


def find_compiler() -> Compiler:
    """$CC if set (it must exist), else cc, gcc, clang on PATH."""
    wanted = os.environ.get("CC", "").strip()
    candidates = [wanted.split()[0]] if wanted else ["cc", "gcc", "clang"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return Compiler(path, _version(path))
    tried = f"CC={wanted!r} (not found)" if wanted else "cc, gcc and clang on PATH (none found)"
    raise CalibrationError(
        f"no C compiler: tried {tried}. Calibration compiles small C benchmarks; install one "
        f"(e.g. `apt-get install gcc` or `dnf install gcc`) or set CC to a compiler's name or path.")


def _version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CalibrationError(f"the C compiler {path} does not run ({e}); install a working C "
                               f"compiler or set CC to one.") from e
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smpsim" / "calibrate"


def build_key(compiler: Compiler) -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update(name.encode() + b"\0" + (BENCH_DIR / name).read_bytes() + b"\0")
    h.update(f"{compiler.path}\0{compiler.version}\0{' '.join(FLAGS)}".encode())
    return h.hexdigest()[:16]


def build(compiler: Compiler | None = None) -> Path:
    """Return the path of the compiled benchmark program, compiling it if the cache lacks it."""
    require_linux()
    compiler = compiler or find_compiler()
    out_dir = cache_root() / build_key(compiler)
    target = out_dir / BINARY
    if target.is_file() and os.access(target, os.X_OK):
        return target
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CalibrationError(f"cannot create the build cache {out_dir} ({e}); make it writable or "
                               f"set XDG_CACHE_HOME to a writable directory.") from e
    tmp = out_dir / f".{BINARY}.{os.getpid()}.tmp"
    try:
        _compile(compiler, tmp)
        os.replace(tmp, target)            # atomic: the final name is whole or absent
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _compile(compiler: Compiler, out: Path) -> None:
    cmd = [compiler.path, *FLAGS, "-o", str(out), *(str(BENCH_DIR / s) for s in SOURCES)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CalibrationError(f"compiling the calibration benchmarks failed: {' '.join(cmd)}: {e}; "
                               f"check the C compiler or set CC to another one.") from e
    if res.returncode != 0:
        tail = " | ".join(ln.strip() for ln in (res.stderr or res.stdout)[-STDERR_TAIL:].splitlines() if ln.strip())
        raise CalibrationError(
            f"compiling the calibration benchmarks failed (exit {res.returncode}): {' '.join(cmd)}; "
            f"the compiler said: {tail}. Install the C library headers (e.g. `apt-get install "
            f"build-essential`) or set CC to another compiler.")
