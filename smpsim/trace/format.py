"""smpsim's trace file (`.smpt`): a gzip stream of msgpack objects, read and written as a stream.

1. the header, a map: `format` ("smpsim-trace"), `version`, `kinds` and `syscalls` (the code
   tables of smpsim.trace.events), `machine`, `source`, `tasks` (`[tid, tgid, comm, in_tree]`
   each), `root_tgid`, `start_ns`, `end_ns`, `tracepoints_seen`, and `missing_tracepoints`,
   `command` and `exit_status` where the trace was recorded here;
2. the events in time order, each an array `[kind, dt_ns, cpu, tid, *args]`, `dt_ns` the time
   since the previous event (the first: since `start_ns`);
3. the end mark `["end", events, summary]`, `summary` a map with the import's `counts` (events
   by kind), `warnings` (what was skipped or kept, by reason) and `callsites` (the names of the
   IPI senders the ipi events number): a file without it was cut short.

docs/trace.md is the user's description of the same.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from pathlib import Path
from typing import Iterator

import msgpack

from smpsim.errors import TraceError
from smpsim.trace.events import ARITY, KINDS, SYS_ENTER, SYS_EXIT, SYSCALLS

FORMAT = "smpsim-trace"
VERSION = 1
END = "end"


class TraceWriter:
    """Writes a trace to `path` atomically: to a temporary file beside it, renamed on close, so
    an interrupted import leaves no half-written trace."""

    def __init__(self, path: Path, header: dict):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self._raw = open(self.tmp, "wb")
        except OSError as e:
            raise TraceError(f"cannot write the trace to {self.path}: {e.strerror or e}.") from None
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6, mtime=0)
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self.events = 0
        self._last = header["start_ns"]
        try:
            self._gz.write(self._pack({"format": FORMAT, "version": VERSION, "kinds": list(KINDS),
                                       "syscalls": list(SYSCALLS), **header}))
        except BaseException:
            self.abort()
            raise

    def write(self, event: tuple) -> None:
        kind, t, cpu, tid, *args = event
        if t < self._last:
            raise ValueError(f"trace events must be written in time order: {t} after {self._last}")
        self._gz.write(self._pack([kind, t - self._last, cpu, tid, *args]))
        self._last = t
        self.events += 1

    def close(self, summary: dict | None = None) -> Path:
        self._gz.write(self._pack([END, self.events, summary or {}]))
        self._gz.close()
        self._raw.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._gz.close()
            self._raw.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def _ints(values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _header_problem(h: dict) -> str | None:
    tasks = h.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, list) and len(t) == 4 and _ints(t[:2])
                                              and isinstance(t[2], str) and t[3] in (0, 1) for t in tasks):
        return "tasks must be [tid, tgid, comm, in_tree] each"
    if not _ints([h.get("start_ns"), h.get("end_ns", 0)]) or not isinstance(h.get("machine", {}), dict):
        return "start_ns, end_ns or machine"
    return None


def _event_ok(item: list) -> bool:
    """[kind, dt, cpu, tid, *args] with integers throughout, dt >= 0, a known kind and its arity."""
    if len(item) < 4 or not _ints(item):
        return False
    kind, dt, args = item[0], item[1], item[4:]
    if not 0 <= kind < len(KINDS) or dt < 0:
        return False
    if kind == SYS_ENTER:
        return bool(args) and 0 <= args[0] < len(SYSCALLS)
    if len(args) != ARITY[kind]:
        return False
    return kind != SYS_EXIT or 0 <= args[0] < len(SYSCALLS)


def _bad(path: Path, what: str) -> TraceError:
    return TraceError(f"{path} is not a usable smpsim trace: {what}. Make one with `smpsim trace record "
                      f"--out FILE -- CMD` or `smpsim trace import PERF_SCRIPT_TEXT --out FILE`.")


class TraceReader:
    """A trace file read as a stream: `header` at once, `events()` one at a time with absolute
    times (nothing loaded whole)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):      # a FIFO or a device would never end
                raise _bad(self.path, "it is not a regular file (a directory, a FIFO, a device)")
            self._gz = gzip.open(self.path, "rb")
            self._unpacker = msgpack.Unpacker(self._gz, raw=False, strict_map_key=False,
                                              max_buffer_size=64 << 20)
            header = self._next("the header")
        except OSError as e:
            raise _bad(self.path, f"it cannot be read ({e.strerror or e})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise _bad(self.path, "it does not start with an smpsim trace header")
        if header.get("version") != VERSION:
            raise _bad(self.path, f"it is format version {header.get('version')!r}; this smpsim reads "
                                  f"version {VERSION}")
        if header.get("kinds") != list(KINDS) or header.get("syscalls") != list(SYSCALLS):
            raise _bad(self.path, "its event code tables differ from this smpsim's")
        problem = _header_problem(header)
        if problem:
            raise _bad(self.path, f"its header is malformed ({problem})")
        self.header = header
        self.summary: dict | None = None           # the end mark's, once events() has run out

    def _next(self, what: str):
        try:
            return next(self._unpacker)
        except StopIteration:
            raise _bad(self.path, f"it ends before {what} (cut short?)") from None
        except (EOFError, zlib.error, gzip.BadGzipFile, ValueError, msgpack.UnpackException) as e:
            raise _bad(self.path, f"it is corrupted where {what} should be ({type(e).__name__}: {e})") from None

    def events(self) -> Iterator[tuple]:
        t = self.header["start_ns"]
        n = 0
        while True:
            item = self._next(f"event {n + 1} or the end mark")
            if not isinstance(item, list) or not item:
                raise _bad(self.path, f"record {n + 1} is not an event")
            if item[0] == END:
                if len(item) != 3 or item[1] != n or not isinstance(item[2], dict):
                    raise _bad(self.path, f"its end mark ({item!r:.80}) does not match the {n} events read")
                self.summary = item[2]
                return
            if not _event_ok(item):
                raise _bad(self.path, f"event {n + 1} is malformed ({item!r:.80})")
            kind, dt, cpu, tid, *args = item
            t += dt
            n += 1
            yield (kind, t, cpu, tid, *args)

    def close(self) -> None:
        self._gz.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def trace_digest(path: Path | str) -> dict:
    """{"sha256", "bytes"} of a trace file, read in chunks: what a run records of each trace it read,
    so that its real-kernel counts are never taken from a file that changed since."""
    import hashlib
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": size}
