"""Safe file I/O for everything smpsim reads from users and writes into run directories.

Reading: :func:`read_text` opens a path without blocking (a FIFO given as a
config must not hang the command), refuses anything that is not a regular file
(FIFOs, devices such as /dev/zero, directories), reads at most a bounded number
of bytes, and decodes strict UTF-8 (a UTF-8 byte-order mark is accepted and
dropped; UTF-16 and other encodings are refused with a message saying so).
Every refusal raises the caller's error class with a one-line message.

Writing: :func:`output_problem` says why a path cannot take a new file (checked before any
work is done); :func:`atomic_write` writes a temporary file beside the target,
fsyncs it, renames it over the target and fsyncs the directory, so a reader
(or a resumed run) sees either the old file or the whole new one, never half of
each; on any error the temporary file is removed before the error propagates.

:func:`nesting_depth` bounds how deeply nested parsed data may be, so that a
config of 10,000 nested arrays is refused instead of hitting Python's recursion
limit somewhere later (deepcopy, pydantic, tomli_w).
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import tempfile
from pathlib import Path

MiB = 1 << 20
MAX_DEPTH = 32          # configs and run files nest 4-5 levels; anything deeper is not ours


def describe_oserror(e: OSError) -> str:
    """`strerror` without the repeated path (callers name the path themselves)."""
    return e.strerror or str(e)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, *, limit: int, what: str, error: type[Exception]) -> bytes:
    """At most `limit` bytes of the regular file `path`; `error(message)` for anything else.

    O_NONBLOCK makes opening a FIFO return at once (then fstat refuses it); the
    file is checked after opening, so it cannot be swapped between check and read.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{what} not found, cannot read {_shown(p)}") from None
    except OSError as e:
        raise error(f"{what} {_shown(p)}: cannot open: {describe_oserror(e)}") from None
    except ValueError:                       # a NUL byte in the path
        raise error(f"{what} {_shown(p)!r}: not a valid path (it contains a NUL byte)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {_shown(p)} is {_kind(st.st_mode)}; give a regular file")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(MiB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise error(f"{what} {_shown(p)} is larger than {limit:,} bytes, the most smpsim reads "
                        f"from such a file")
        return b"".join(chunks)
    except OSError as e:
        raise error(f"{what} {_shown(p)}: cannot read: {describe_oserror(e)}") from None
    finally:
        os.close(fd)


def decode(data: bytes, *, where: str, error: type[Exception]) -> str:
    """Strict UTF-8 text of `data` (a leading UTF-8 BOM dropped); `error` naming the first bad byte."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise error(f"{where} is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{where} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                    "save it as UTF-8") from None


def read_text(path: str | Path, *, limit: int, what: str, error: type[Exception]) -> str:
    """The UTF-8 text of the regular file `path` (see :func:`read_bytes` and :func:`decode`)."""
    return decode(read_bytes(path, limit=limit, what=what, error=error), where=f"{what} {_shown(Path(path))}",
                  error=error)


def _shown(p: Path, limit: int = 200) -> str:
    """A path for a message, cut short (a 1 MB argument must not make a 1 MB message)."""
    return clip(str(p), limit)


def clip(text: str, limit: int = 80) -> str:
    """`text` cut to about `limit` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def nesting_depth(value, limit: int = MAX_DEPTH) -> int:
    """How deeply `value` nests lists and dicts, counted without recursion; stops counting past `limit`."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            d += 1
            deepest = max(deepest, d)
            if d > limit:
                return d
            stack.extend((x, d) for x in v)
    return deepest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return                      # some filesystems cannot open a directory; the rename still happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written at `path` (resolved), or None: it must be a regular file or
    nothing, in an existing, writable directory."""
    if path.exists() and not path.is_file():
        return "it exists and is not a regular file (a directory, a device, a pipe)"
    if not path.parent.is_dir():
        return f"its directory {path.parent} does not exist"
    if not os.access(path.parent, os.W_OK):
        return f"its directory {path.parent} is not writable"
    return None


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` durably: temporary file, fsync, rename, fsync of the directory."""
    path = Path(path)
    # a name of this writer's own (two writers of one path never share a temporary file)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def overwrite_in_place(path: str | Path, data: bytes) -> None:
    """Rewrite an existing file over its own blocks (no new file): the fallback when a full disk
    refuses the temporary file of :func:`atomic_write` but a status must still be recorded."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def is_disk_full(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
