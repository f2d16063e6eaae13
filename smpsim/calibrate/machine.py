"""The machine being calibrated: its description, its usable CPUs, and its published TSC clock.

Everything here reads the running system (/proc/cpuinfo, sysfs, the kernel log, os.uname,
os.sched_getaffinity); nothing is measured.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
from pathlib import Path

from smpsim.errors import CalibrationError

CPUINFO = Path("/proc/cpuinfo")
TSC_KHZ = Path("/sys/devices/system/cpu/cpu0/tsc_freq_khz")
KMSG_PATTERNS = (  # the kernel's own calibration first
    ("kernel log: tsc: Refined TSC clocksource calibration", re.compile(r"tsc: Refined TSC clocksource calibration: ([0-9.]+) MHz")),
    ("kernel log: tsc: Detected MHz processor", re.compile(r"tsc: Detected ([0-9.]+) MHz processor")),
)


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def validate_cpus(cpus: list[int] | None) -> list[int]:
    """The CPUs to use, in order (the first is CPU A); default: every usable CPU."""
    usable = usable_cpus()
    if cpus is None:
        return usable
    cpus = list(cpus)
    bad = [c for c in cpus if not isinstance(c, int) or isinstance(c, bool) or c not in usable]
    dups = sorted({c for c in cpus if cpus.count(c) > 1})
    if not cpus or bad or dups:
        what = ("no CPUs were given" if not cpus else
                f"CPU(s) {', '.join(map(str, bad))} are not usable by this process" if bad else
                f"CPU(s) {', '.join(map(str, dups))} are given more than once")
        raise CalibrationError(
            f"cannot calibrate on CPUs {cpus}: {what}. Usable CPUs here (this process's affinity): "
            f"{', '.join(map(str, usable))}; pick one or more of them, each once, the first being "
            f"where the measuring thread runs.")
    return cpus


def _cpuinfo() -> str:
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def _field(text: str, key: str) -> str | None:
    m = re.search(rf"^{re.escape(key)}\s*:\s*(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else None


def cpu_flags(info: str | None = None) -> list[str]:
    """The CPU feature flags /proc/cpuinfo lists (x86; empty where it lists none)."""
    return (_field(_cpuinfo() if info is None else info, "flags") or "").split()


def describe(cpus: list[int], compiler: str) -> dict:
    info = _cpuinfo()
    flags = cpu_flags(info)
    return {
        "cpu_model": _field(info, "model name") or _field(info, "Model") or os.uname().machine,
        "usable_cpus": len(usable_cpus()),
        "online_cpus": os.cpu_count(),
        "kernel_release": os.uname().release,
        "arch": os.uname().machine,
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "virtual_machine": "hypervisor" in flags,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "compiler": compiler,
        "cpus_used": list(cpus),
    }


def _kernel_log() -> str:
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout:
            return out.stdout
    except (OSError, subprocess.TimeoutExpired):
        pass
    return _read_kmsg()


def _read_kmsg() -> str:
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    chunks = []
    try:
        while True:
            try:
                chunks.append(os.read(fd, 8192).decode(errors="replace"))
            except BlockingIOError:
                break
            except OSError:              # EPIPE: a record was overwritten; keep reading
                continue
    finally:
        os.close(fd)
    return "".join(chunks)


def published_tsc_ghz(kernel_log: str | None = None) -> tuple[float, str] | None:
    """The TSC frequency the kernel publishes (sysfs, else its boot log), or None."""
    try:
        return int(TSC_KHZ.read_text().strip()) / 1e6, str(TSC_KHZ)
    except (OSError, ValueError):
        pass
    log = _kernel_log() if kernel_log is None else kernel_log
    for source, pattern in KMSG_PATTERNS:
        found = pattern.findall(log)
        if found:
            return float(found[-1]) / 1000.0, source
    return None


def cpuinfo_mhz_ghz() -> float | None:
    mhz = _field(_cpuinfo(), "cpu MHz")
    try:
        return float(mhz) / 1000.0 if mhz else None
    except ValueError:
        return None
