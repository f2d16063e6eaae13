"""Process images: real address-space layouts taken from Linux ``/proc/PID/maps`` snapshots.

A *process image* is the list of map entries a simulated process starts with
(the ``vm_map_entry`` ranges of NetBSD's UVM), each with its protection and
its backing: anonymous memory, or a shared object (a file such as a library's
text) whose pages several processes map at once.

Reading ``/proc/PID/maps`` (one line per mapping)::

    start-end perms offset dev inode [path]
    7f3a1c000000-7f3a1c021000 r-xp 00002000 fe:00 260131  /usr/lib/x86_64-linux-gnu/libc.so.6

How each line becomes an :class:`ImageEntry` (the decisions, in order):

* ``[vvar]``, ``[vvar_*]``, ``[vdso]`` and ``[vsyscall]`` are skipped: the kernel
  maps them into every process itself, they hold no pmap-managed user pages,
  and ``[vsyscall]`` lies above the user address space.
* ``[heap]``, ``[stack]`` and every other ``[...]`` pseudo-path (e.g.
  ``[anon:name]``, ``[stack:tid]``), and lines without a path, are anonymous
  memory (``shared_object`` is None, ``offset_pages`` 0).
* A file mapping that is shared (``s`` in perms), or private and not writable
  (``r--p``, ``r-xp``, ``---p``: library text, read-only data, guard regions of a
  library) becomes a shared object named by its path, with the file offset in
  pages. Every image that maps the same path maps the same object, so the pages
  of a library mapped by several processes are shared and have long P->V lists.
* A private *writable* file mapping (``rw-p``: a library's ``.data``) is treated
  as anonymous memory. In a real kernel it is copy-on-write: its pages stay
  shared with the file until first written. Modelling it as private from the
  start slightly overstates private pages and understates sharing; these
  mappings are small (a few pages per library).
* A trailing `` (deleted)`` after the path (a file unlinked while mapped, e.g.
  a shared-memory segment) is removed from the object name.

Huge ranges are kept as they are: allocators and runtimes reserve large
regions (up to many TiB, usually ``---p`` anonymous) that are never touched.
The image records the full range so that page-table shapes and addresses stay
faithful; the workload that instantiates an image only touches a configurable
number of pages per entry, so a reservation costs no simulated memory.

Image files (written by :func:`save_image`, read by :func:`load_images`) are
JSON::

    {"format": "smpsim-images", "version": 1, "page_size": 4096,
     "images": [{"name": "bash",
                 "entries": [{"start_page": 94, "npages": 47, "prot": "r--",
                              "shared_object": "/usr/bin/bash", "offset_pages": 0}, ...]}]}

Page numbers are virtual addresses divided by the 4 KiB page size.

Input is untrusted: snapshots and image files are read as bytes from regular
files only (a FIFO or device is refused rather than read forever), at most
:data:`MAX_FILE_BYTES`; paths in a snapshot may be any bytes, as on Linux, and
bytes that are not UTF-8 are kept as ``\\xNN`` escapes in the object name;
addresses must fit the 47-bit user address space of 4-level x86-64 paging, which
is what the modelled pmap has.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from smpsim.errors import ConfigError
from smpsim.rundir.safeio import MAX_DEPTH, atomic_write, clip, decode, nesting_depth, read_bytes

PAGE_SIZE = 4096
IMAGE_FORMAT = "smpsim-images"
IMAGE_VERSION = 1
MAX_FILE_BYTES = 64 << 20
USER_VA_BITS = 47                                  # 4-level x86-64 paging: user space below 128 TiB
USER_PAGES = (1 << USER_VA_BITS) // PAGE_SIZE
ADDRESS_LIMIT = 1 << 64

_SKIPPED_PSEUDO = ("[vvar", "[vdso", "[vsyscall")
_DELETED = " (deleted)"
_LINE = re.compile(
    r"^(?P<start>[0-9a-fA-F]+)-(?P<end>[0-9a-fA-F]+)\s+"
    r"(?P<perms>\S+)\s+(?P<offset>\S+)\s+(?P<dev>\S+)\s+(?P<inode>\S+)"
    r"(?:\s+(?P<path>.*?))?\s*$"
)
_PERMS = re.compile(r"^[r-][w-][x-][ps]$")
_PROT = re.compile(r"^[r-][w-][x-]$")
_DEV = re.compile(r"^[0-9a-fA-F]+:[0-9a-fA-F]+$")


@dataclass(frozen=True)
class ImageEntry:
    """One mapping of a process image (a future ``vm_map_entry``).

    ``prot`` is three characters, ``r``/``w``/``x`` or ``-`` (e.g. ``"r-x"``).
    ``shared_object`` names the shared object backing the entry (a file path)
    or is None for anonymous memory; ``offset_pages`` is the offset into that
    object in pages (0 for anonymous memory).
    """

    start_page: int
    npages: int
    prot: str
    shared_object: str | None
    offset_pages: int

    @property
    def end_page(self) -> int:
        """First page after the entry."""
        return self.start_page + self.npages


@dataclass(frozen=True)
class ProcessImage:
    """The address-space layout of one process: its name and its entries in address order."""

    name: str
    entries: tuple[ImageEntry, ...]

    @property
    def npages(self) -> int:
        """Total virtual pages of all entries (reservations included)."""
        return sum(e.npages for e in self.entries)

    def shared_objects(self) -> set[str]:
        """Names of every shared object this image maps."""
        return {e.shared_object for e in self.entries if e.shared_object is not None}


def _bad(source: str, lineno: int, why: str, line: str) -> ConfigError:
    return ConfigError(f"{source}:{lineno}: {why} in /proc/PID/maps line {clip(line.strip(), 200)!r}; "
                       "expected 'start-end perms offset dev inode [path]'")


def _parse_line(line: str, source: str, lineno: int) -> tuple[int, int, ImageEntry | None]:
    """(start page, end page, entry or None when the mapping is skipped) of one line."""
    m = _LINE.match(line)
    if m is None:
        raise _bad(source, lineno, "malformed line", line)
    if len(m["start"]) > 16 or len(m["end"]) > 16:
        raise _bad(source, lineno, "address wider than 64 bits", line)
    start, end = int(m["start"], 16), int(m["end"], 16)
    perms, path = m["perms"], m["path"] or ""
    if not _PERMS.match(perms):
        raise _bad(source, lineno, f"bad permissions {perms!r} (want e.g. 'r-xp' or 'rw-s')", line)
    try:
        offset = int(m["offset"], 16) if len(m["offset"]) <= 16 else ADDRESS_LIMIT
    except ValueError:
        raise _bad(source, lineno, f"bad offset {m['offset']!r} (want hex)", line) from None
    if not _DEV.match(m["dev"]):
        raise _bad(source, lineno, f"bad device {m['dev']!r} (want 'major:minor' in hex)", line)
    if not m["inode"].isdigit():
        raise _bad(source, lineno, f"bad inode {m['inode']!r} (want a decimal number)", line)
    if offset >= ADDRESS_LIMIT:
        raise _bad(source, lineno, "offset wider than 64 bits", line)
    if end <= start:
        raise _bad(source, lineno, "end address not above start address", line)
    if start % PAGE_SIZE or end % PAGE_SIZE or offset % PAGE_SIZE:
        raise _bad(source, lineno, f"address or offset not aligned to {PAGE_SIZE}-byte pages", line)
    first, last = start // PAGE_SIZE, end // PAGE_SIZE
    if path.startswith(_SKIPPED_PSEUDO):
        return first, last, None
    if last > USER_PAGES:
        raise _bad(source, lineno, f"mapping above the {USER_VA_BITS}-bit user address space of the modelled "
                   "4-level x86-64 page tables", line)
    prot, shared = perms[:3], perms[3] == "s"
    if path.endswith(_DELETED):
        path = path[: -len(_DELETED)]
    file_backed = bool(path) and not path.startswith("[")
    if file_backed and (shared or "w" not in prot):
        return first, last, ImageEntry(first, last - first, prot, path, offset // PAGE_SIZE)
    return first, last, ImageEntry(first, last - first, prot, None, 0)


def parse_maps(text: str, source: str = "<maps>") -> ProcessImage:
    """Parse a ``/proc/PID/maps`` snapshot into a :class:`ProcessImage` named ``source``.

    Blank lines are ignored. A malformed line raises :class:`ConfigError` naming
    ``source`` and the line number. Entries must be in increasing, non-overlapping
    address order (as the kernel prints them).
    """
    entries: list[ImageEntry] = []
    last_end, last_line = -1, 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        start, end, entry = _parse_line(line, source, lineno)
        if start < last_end:
            raise _bad(source, lineno, f"mapping overlaps or precedes the one on line {last_line}", line)
        last_end, last_line = end, lineno
        if entry is not None:
            entries.append(entry)
    if not entries:
        raise ConfigError(f"{source}: no usable mappings in /proc/PID/maps snapshot")
    return ProcessImage(name=source, entries=tuple(entries))


def _entry_to_json(e: ImageEntry) -> dict:
    return {"start_page": e.start_page, "npages": e.npages, "prot": e.prot,
            "shared_object": e.shared_object, "offset_pages": e.offset_pages}


def _entry_from_json(d: object, where: str) -> ImageEntry:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: entry must be an object, got {d!r}")
    want = {"start_page", "npages", "prot", "shared_object", "offset_pages"}
    if set(d) != want:
        raise ConfigError(f"{where}: entry keys {sorted(d)} must be exactly {sorted(want)}")
    for key in ("start_page", "npages", "offset_pages"):
        v = d[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0 or (key == "npages" and v == 0):
            raise ConfigError(f"{where}: {key}={clip(repr(v))} must be a "
                              f"{'positive' if key == 'npages' else 'non-negative'} integer")
        if v >= ADDRESS_LIMIT // PAGE_SIZE:
            raise ConfigError(f"{where}: {key}={v} is beyond a 64-bit address space")
    if d["start_page"] + d["npages"] > USER_PAGES:
        raise ConfigError(f"{where}: the entry ends above the {USER_VA_BITS}-bit user address space "
                          f"({USER_PAGES:,} pages) of the modelled 4-level x86-64 page tables")
    if not isinstance(d["prot"], str) or not _PROT.match(d["prot"]):
        raise ConfigError(f"{where}: prot={clip(repr(d['prot']))} must be three characters like 'r-x'")
    so = d["shared_object"]
    if so is not None and (not isinstance(so, str) or not so or len(so) > 4096):
        raise ConfigError(f"{where}: shared_object={clip(repr(so))} must be a non-empty string (at most 4096 "
                          "characters) or null")
    return ImageEntry(d["start_page"], d["npages"], d["prot"], so, d["offset_pages"])


def save_image(images: list[ProcessImage], path: str | Path) -> Path:
    """Write ``images`` to the JSON image file ``path`` (format in the module docstring)."""
    names = [im.name for im in images]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise ConfigError(f"{path}: image names must be unique, repeated: {', '.join(dups)}")
    doc = {"format": IMAGE_FORMAT, "version": IMAGE_VERSION, "page_size": PAGE_SIZE,
           "images": [{"name": im.name, "entries": [_entry_to_json(e) for e in im.entries]}
                      for im in images]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # atomic: never half a file, and an --out that is a FIFO is replaced, not written into (and waited on)
    atomic_write(path, (json.dumps(doc, indent=1) + "\n").encode())
    return path


def load_images(path: str | Path) -> list[ProcessImage]:
    """Read a JSON image file written by :func:`save_image`; any defect raises :class:`ConfigError`."""
    path = Path(path)
    text = decode(read_bytes(path, limit=MAX_FILE_BYTES, what="image file", error=ConfigError),
                  where=f"image file {clip(str(path), 200)}", error=ConfigError)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{clip(str(path), 200)}: not a readable JSON image file: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{clip(str(path), 200)}: not an smpsim image file (nested too deeply)") from None
    if nesting_depth(doc) > MAX_DEPTH:
        raise ConfigError(f"{clip(str(path), 200)}: not an smpsim image file (nested too deeply)")
    if not isinstance(doc, dict) or doc.get("format") != IMAGE_FORMAT:
        raise ConfigError(f"{path}: not an smpsim image file (want \"format\": \"{IMAGE_FORMAT}\")")
    if doc.get("version") != IMAGE_VERSION:
        raise ConfigError(f"{path}: image file version {doc.get('version')!r} is not supported "
                          f"(this smpsim reads version {IMAGE_VERSION})")
    if doc.get("page_size") != PAGE_SIZE:
        raise ConfigError(f"{path}: page_size={doc.get('page_size')!r}, only {PAGE_SIZE} is supported")
    raw = doc.get("images")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: \"images\" must be a list")
    images = []
    for i, im in enumerate(raw):
        where = f"{path}: images[{i}]"
        if not isinstance(im, dict) or not isinstance(im.get("name"), str) or not isinstance(im.get("entries"), list):
            raise ConfigError(f"{where}: must be an object with a string \"name\" and a list \"entries\"")
        if not im["name"] or len(im["name"]) > 256:
            raise ConfigError(f"{where}: name {clip(repr(im['name']))} must be 1-256 characters")
        entries = tuple(_entry_from_json(e, f"{where}.entries[{j}]") for j, e in enumerate(im["entries"]))
        if not entries:
            raise ConfigError(f"{where}: image {im['name']!r} has no entries")
        for j in range(1, len(entries)):
            if entries[j].start_page < entries[j - 1].end_page:
                raise ConfigError(f"{where}.entries[{j}]: overlaps or precedes the previous entry")
        images.append(ProcessImage(im["name"], entries))
    return images


def _text(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (surrogate escapes from the OS) as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _image_name(file: Path, taken: set[str]) -> str:
    # /proc/1234/maps -> "1234"; bash.maps -> "bash"; repeated names get "-2", "-3", ...
    base = _text(file.stem if file.stem != "maps" or not file.parent.name else file.parent.name)[:200] or "image"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def import_maps(files: list[Path], out: Path) -> list[ProcessImage]:
    """Parse each ``/proc/PID/maps`` snapshot in ``files`` and write them all to the image file ``out``.

    Images are named after their files (``bash.maps`` -> ``bash``;
    ``/proc/1234/maps`` -> ``1234``), made unique with ``-2``, ``-3``... Returns the images.
    """
    if not files:
        raise ConfigError("maps-import: no /proc/PID/maps files given")
    images, taken = [], set()
    for f in files:
        f = Path(f)
        data = read_bytes(f, limit=MAX_FILE_BYTES, what="/proc/PID/maps snapshot", error=ConfigError)
        # paths are bytes on Linux: keep what is not UTF-8 as \xNN escapes rather than refuse the snapshot
        text = data.decode("utf-8", errors="backslashreplace")
        image = parse_maps(text, source=_text(str(f)))
        images.append(ProcessImage(_image_name(f, taken), image.entries))
    save_image(images, out)
    return images


def bundled_maps() -> dict[str, str]:
    """The ``/proc/PID/maps`` snapshots shipped in ``smpsim/data/maps``: name -> text.

    ``python3`` (the system Python interpreter), ``bash`` and ``ray_worker``
    (a Ray worker process); paths under the user's directories read ``/opt/app``.
    """
    root = resources.files("smpsim") / "data" / "maps"
    return {p.name.removesuffix(".maps"): p.read_text()
            for p in sorted(root.iterdir(), key=lambda p: p.name) if p.name.endswith(".maps")}


def bundled_image(name: str) -> ProcessImage:
    """Parse one bundled snapshot (see :func:`bundled_maps`) into a :class:`ProcessImage` named ``name``."""
    snaps = bundled_maps()
    if name not in snaps:
        raise ConfigError(f"no bundled maps snapshot {name!r}; available: {', '.join(sorted(snaps))}")
    return parse_maps(snaps[name], source=name)


BUNDLED_PREFIX = "bundled:"


def resolve_images(spec: str) -> list[ProcessImage]:
    """What a config's ``workload.image`` names: an image file written by ``smpsim maps-import``,
    or ``bundled:NAME[,NAME...]`` for snapshots shipped with smpsim (see :func:`bundled_maps`)."""
    if spec.startswith(BUNDLED_PREFIX):
        names = [n.strip() for n in spec[len(BUNDLED_PREFIX):].split(",") if n.strip()]
        if not names:
            raise ConfigError(f"workload.image={spec!r}: name at least one bundled snapshot after "
                              f"'{BUNDLED_PREFIX}'; available: {', '.join(sorted(bundled_maps()))}")
        return [bundled_image(n) for n in names]
    return load_images(spec)
