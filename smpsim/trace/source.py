"""Where `perf script` text comes from: a text file (plain, gzip or zstd compressed) or a
perf.data file, which is run through `perf script` with the fields smpsim reads."""

from __future__ import annotations

import gzip
import io
import shutil
import stat
import subprocess
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from smpsim.errors import TraceError
from smpsim.trace.perf_text import PERF_SCRIPT_FIELDS

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PERF_DATA_MAGIC = b"PERFILE2"


def kind_of(path: Path) -> str:
    """'perf.data', 'gzip', 'zstd' or 'text' from the file's first bytes (a regular file only:
    a FIFO or a device could not be read twice, or would never end)."""
    try:
        mode = Path(path).stat().st_mode
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a device, a socket)"
            raise TraceError(f"{path} is {what}: give a perf.data file or a file of `perf script -F "
                             f"{PERF_SCRIPT_FIELDS}` text (plain, gzip or zstd); a pipe can be saved to a "
                             f"file first.")
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise TraceError(f"cannot read {path}: {e.strerror or e}. Give a perf.data file or the text of "
                         f"`perf script -F {PERF_SCRIPT_FIELDS}`.") from None
    if head.startswith(PERF_DATA_MAGIC):
        return "perf.data"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "text"


def perf_script(data: Path, out: Path) -> None:
    """`perf script` of a perf.data file into `out`, the fields smpsim reads."""
    perf = shutil.which("perf")
    if perf is None:
        raise TraceError(f"{data} is a perf.data file, and reading it needs `perf`, which is not installed "
                         f"here. Install perf (linux-tools / linux-perf), or run `perf script -F "
                         f"{PERF_SCRIPT_FIELDS} -i {data} > trace.txt` where it is and import that text.")
    with open(out, "wb") as f:
        done = subprocess.run([perf, "script", "--ns", "-F", PERF_SCRIPT_FIELDS, "-i", str(data)],
                              stdout=f, stderr=subprocess.PIPE)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise TraceError(f"`perf script -i {data}` failed (exit {done.returncode}): "
                         f"{' '.join(err[-3:]) or 'no message'}. A perf.data from another architecture "
                         f"or perf version may not be readable here: run perf script where it was "
                         f"recorded and import the text.")


def perf_header(data: Path) -> dict:
    """What `perf script --header-only` says of the recording machine (empty if it cannot)."""
    perf = shutil.which("perf")
    if perf is None:
        return {}
    done = subprocess.run([perf, "script", "--header-only", "-i", str(data)], capture_output=True, text=True)
    info = {}
    keys = {"os release": "kernel_release", "arch": "arch", "cpudesc": "cpu_model",
            "nrcpus online": "online_cpus", "hostname": None}
    for line in done.stdout.splitlines():
        key, sep, value = line.lstrip("# ").partition(" : ")
        name = keys.get(key.strip())
        if sep and name:
            value = value.strip()
            info[name] = int(value) if value.isdigit() else value
    return info


def _zstd_lines(path: Path) -> Iterator[str]:
    """The lines of a zstd file, checked to its end: a cut or corrupted stream is an error."""
    try:
        import zstandard
    except ImportError:
        raise TraceError(f"{path} is zstd compressed and the `zstandard` package is missing: "
                         f"`pip install zstandard`, or decompress it with `zstd -d`.") from None
    dobj = zstandard.ZstdDecompressor().decompressobj()
    decoder = io.IncrementalNewlineDecoder(None, translate=False)
    pending = ""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                pending += decoder.decode(dobj.decompress(chunk).decode("utf-8", "replace"))
                *lines, pending = pending.split("\n")
                yield from (line + "\n" for line in lines)
    except zstandard.ZstdError as e:
        raise TraceError(f"{path} is a corrupted zstd stream ({e}). Re-export it.") from None
    if not dobj.eof:
        raise TraceError(f"{path} is a zstd stream cut short (no end of frame): the file is truncated.")
    if pending:
        yield pending


@contextmanager
def open_text(path: Path) -> Iterator[Iterable[str]]:
    """The text lines of a plain, gzip or zstd compressed file."""
    kind = kind_of(path)
    if kind == "perf.data":
        raise TraceError(f"{path} is a perf.data file; it is read through `perf script` (open_text "
                         f"takes text)")
    f = None
    if kind == "gzip":
        f = io.TextIOWrapper(gzip.open(path, "rb"), errors="replace")
    elif kind == "text":
        f = open(path, errors="replace")
    try:
        yield _zstd_lines(path) if kind == "zstd" else f
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise TraceError(f"{path} cannot be read to its end ({type(e).__name__}: {e}): a truncated or "
                         f"corrupted compressed file. Re-export it with `perf script -F "
                         f"{PERF_SCRIPT_FIELDS}`.") from None
    finally:
        if f is not None:
            f.close()
