"""The machine a benchmark runs on, and the memory of processes, read from /proc.

`machine_info()` is the header of a report (CPU model, nproc, memory, Ray and
Python versions, git revision, load average); `memory_of(pids)` sums the VmHWM
and VmRSS of processes (the actors), `mem_available_kib()` what the kernel says
is still available. Everything degrades to "?" or 0 where /proc or git is missing.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class MachineInfo:
    date: str
    model: str
    nproc: str
    memory: str
    ray: str
    python: str
    git: str
    load: str


@dataclass(frozen=True)
class Memory:
    """Summed over processes, in KiB: peak resident (VmHWM) and resident now (VmRSS)."""
    hwm_kib: int = 0
    rss_kib: int = 0


def _proc_field(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "?"


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(len(os.sched_getaffinity(0)))


def total_memory() -> str:
    total = _proc_field("/proc/meminfo", "MemTotal:")
    return f"{int(total.split()[0]) / 1024 / 1024:.1f} GiB" if total else "?"


def ray_version() -> str:
    # from the installed distribution: importing Ray only for its version would cost a second
    try:
        return metadata.version("ray")
    except metadata.PackageNotFoundError:
        return "not installed"


def git_revision() -> str:
    """Short HEAD, naming the smpsim/ files with uncommitted changes (they change what was measured)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "?"
    dirty = sorted(ln[3:] for ln in status if ln[3:].startswith("smpsim/"))
    return rev + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine_info() -> MachineInfo:
    return MachineInfo(date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), model=cpu_model(),
                       nproc=nproc(), memory=total_memory(), ray=ray_version(),
                       python=platform.python_version(), git=git_revision(), load=loadavg())


def _status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in KiB ({} when it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return out


def memory_of(pids: list[int]) -> Memory:
    status = [_status_kib(p) for p in pids]
    return Memory(sum(s.get("VmHWM", 0) for s in status), sum(s.get("VmRSS", 0) for s in status))


def mem_available_kib() -> int:
    avail = _proc_field("/proc/meminfo", "MemAvailable:")
    try:
        return int(avail.split()[0]) if avail else 0
    except ValueError:
        return 0
