"""Cost profiles: the costs and clock of one real machine, as `smpsim calibrate` writes them.

A cost profile is a TOML file:

    [profile]
    format = "smpsim-cost-profile"      # required: what says this file is a profile
    version = 1                         # required: the format's version (this smpsim reads 1)

    [machine]
    ghz = 2.45                          # optional: the clock (the config key machine.ghz)

    [costs]                             # optional: any CostModel field (smpsim/costs.py), in cycles;
    syscall = 300                       # those left out keep their defaults
    ipi_delivery = 40000

    [calibration]                       # optional, free-form, kept as it is: the measurements,
    date = "2026-12-05T23:00:00Z"       # which entries were fitted and how, the machine measured
    machine = { cpu_model = "AMD EPYC", ncpus = 2, kernel = "6.18.44", virtual = true }
    fitted = { syscall = "syscall median" }
    measurements = { syscall = { median_ns = 120.0, iqr_over_median = 0.02, reps = 31 } }

Nothing else is allowed at the top level, in [profile] or in [machine]. Costs are non-negative
integers of at most MAX_COST cycles; machine.ghz is a number in GHZ_RANGE.

A config names a profile with `costs_profile = "PATH"` (relative to the config's directory) and
`run`, `sweep` and `validate` take `--costs PATH`. Precedence, lowest first: the CostModel
defaults, the profile, the config's own [costs] and machine.ghz, then --set (`apply_profile`
does the middle step). `load_profile` reads and checks a file, refusing anything else with one
paragraph (ConfigError, exit 2); `profile_text` / `write_profile` write one (atomically).
"""

from __future__ import annotations

import difflib
import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from smpsim.costs import GHZ_RANGE, MAX_COST, CostModel
from smpsim.errors import ConfigError
from smpsim.rundir.files import toml_text
from smpsim.rundir.safeio import MAX_DEPTH, atomic_write, clip, decode, nesting_depth, read_bytes

FORMAT = "smpsim-cost-profile"
VERSION = 1
MAX_PROFILE_BYTES = 4 << 20
TABLES = ("profile", "machine", "costs", "calibration")
MACHINE_KEYS = ("ghz",)
RUN_CONFIG_KEYS = ("workload", "policies", "sweep", "run", "seed", "name")

SHAPE = (f'a cost profile looks like `[profile] format = "{FORMAT}" version = {VERSION}`, then '
         "`[machine] ghz = 2.45`, `[costs] syscall = 300 ...` (cycles) and a free-form `[calibration]` table; "
         "`smpsim calibrate --out PROFILE.toml` measures this machine and writes one")


@dataclass(frozen=True)
class CostProfile:
    """A checked profile: where it was read from, its bytes' sha256 and its tables."""
    path: Path                                  # absolute
    sha256: str
    costs: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    raw: bytes = b""                            # the file as read (copied into run directories)

    @property
    def text(self) -> str:
        return decode(self.raw, where=str(self.path), error=ConfigError)

    def record(self) -> dict:
        """What run.json says about the profile a run used."""
        return {"path": str(self.path), "sha256": self.sha256}


def load_profile(path: str | Path, named_by: str = "") -> CostProfile:
    """The profile at `path`, checked; ConfigError (one paragraph) for anything that is not one.
    `named_by` says who named the file (e.g. "--costs", "costs_profile in a.toml") for the message."""
    shown = clip(str(path), 200)
    where = f"{named_by}: cost profile {shown}" if named_by else f"cost profile {shown}"
    try:
        absolute = Path(path).expanduser().absolute()
    except (OSError, ValueError, RuntimeError):
        raise ConfigError(f"{where}: not a valid path") from None
    try:
        raw = read_bytes(absolute, limit=MAX_PROFILE_BYTES, what="cost profile", error=ConfigError)
    except ConfigError as e:
        raise ConfigError(f"{named_by + ': ' if named_by else ''}{e}; {SHAPE}") from None
    return _profile(absolute, raw, where)


def _profile(absolute: Path, raw: bytes, where: str) -> CostProfile:
    tables = parse_profile(raw, where)
    return CostProfile(absolute, hashlib.sha256(raw).hexdigest(), tables["costs"], tables["machine"],
                       tables["calibration"], raw)


def parse_profile(raw: bytes, where: str) -> dict:
    """{"costs", "machine", "calibration"} of a profile's bytes; ConfigError naming every problem."""
    text = _text(raw, where)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {clip(str(e), 200)}; {SHAPE}") from None
    except RecursionError:
        raise ConfigError(f"{where}: arrays or tables nested too deeply to parse") from None
    if nesting_depth(data) > MAX_DEPTH:
        raise ConfigError(f"{where}: arrays or tables nested more than {MAX_DEPTH} levels deep")
    _check_header(data, where)
    problems = _table_problems(data) + _cost_problems(data.get("costs", {})) + _machine_problems(
        data.get("machine", {}))
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return {name: dict(data.get(name, {})) for name in ("costs", "machine", "calibration")}


def _text(raw: bytes, where: str) -> str:
    """The profile's text; binary data or another encoding is refused as not a profile."""
    if b"\x00" in raw:
        raise ConfigError(f"{where}: binary data (a NUL byte at offset {raw.index(0)}), not a cost profile; {SHAPE}")
    try:
        return decode(raw, where=where, error=ConfigError)
    except ConfigError as e:
        raise ConfigError(f"{e}; a cost profile is UTF-8 TOML: {SHAPE}") from None


def _check_header(data: dict, where: str) -> None:
    """Refuse a file that is not a profile (a run config, say) or one of a newer format version."""
    header = data.get("profile")
    fmt = header.get("format") if isinstance(header, dict) else None
    if fmt != FORMAT:
        found = [k for k in RUN_CONFIG_KEYS if k in data]
        what = (f"this is a run config (it has {', '.join(found)}), not a cost profile; give it as CONFIG, "
                "and a profile with --costs or costs_profile" if found else
                "this is not a cost profile (no [profile] table)" if header is None else
                f"this is not a cost profile (profile.format is {clip(repr(fmt))}, not {FORMAT!r})")
        raise ConfigError(f"{where}: {what}; {SHAPE}")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"{where}: profile.version must be a positive integer (this smpsim writes "
                          f"{VERSION}), got {clip(repr(version))}")
    if version > VERSION:
        raise ConfigError(f"{where}: profile.version = {version} was written by a newer smpsim; this one reads "
                          f"version {VERSION}: upgrade smpsim, or run `smpsim calibrate` with this one")


def _table_problems(data: dict) -> list[str]:
    problems = []
    unknown = [k for k in data if k not in TABLES]
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(clip(k) for k in unknown)} (a profile has "
                        f"{', '.join('[' + t + ']' for t in TABLES)})")
    extra = [k for k in data["profile"] if k not in ("format", "version")]
    if extra:
        problems.append(f"unknown key(s) in [profile]: {', '.join(clip(k) for k in extra)} (it takes format and "
                        "version; put anything else in [calibration])")
    for name in ("machine", "costs", "calibration"):
        if name in data and not isinstance(data[name], dict):
            problems.append(f"{name} must be a table, got {clip(repr(data[name]))}")
    return problems


def _cost_problems(costs) -> list[str]:
    if not isinstance(costs, dict):
        return []
    known = list(CostModel.model_fields)
    problems = []
    for name, value in costs.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (`smpsim costs` lists every cost)"
            problems.append(f"costs.{clip(name)} is not a cost smpsim knows{hint}")
        elif not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"costs.{name} must be an integer number of cycles, got {clip(repr(value))}")
        elif value < 0:
            problems.append(f"costs.{name} = {value} is negative; costs are cycles, at least 0")
        elif value > MAX_COST:
            problems.append(f"costs.{name} = {value:,} exceeds {MAX_COST:,} cycles, the most one modelled action "
                            "may cost (0.4 s at 2.5 GHz); was it given in another unit?")
    return problems


def _machine_problems(machine) -> list[str]:
    if not isinstance(machine, dict):
        return []
    problems = []
    extra = [k for k in machine if k not in MACHINE_KEYS]
    if extra:
        problems.append(f"[machine] takes only ghz (the clock); refused: {', '.join(clip(k) for k in extra)} "
                        "(the machine a run simulates is the config's; describe the measured machine in "
                        "[calibration])")
    if "ghz" in machine:
        ghz = machine["ghz"]
        lo, hi = GHZ_RANGE
        if not isinstance(ghz, (int, float)) or isinstance(ghz, bool) or not math.isfinite(ghz) or ghz <= 0:
            problems.append(f"machine.ghz must be a positive number (cycles per nanosecond), got {clip(repr(ghz))}")
        elif not lo <= ghz <= hi:
            problems.append(f"machine.ghz = {ghz} is outside {lo}-{hi} (server clocks stay below ~6 GHz; "
                            "was it given in MHz or Hz?)")
    return problems


# --- using a profile -------------------------------------------------------------------------------

SAME_MACHINE = ("cpu_model", "online_cpus", "kernel_release")   # what makes a profile one of a trace's machine


def machine_differences(calibrated: dict, recorded: dict) -> list[str]:
    """How the machine a profile was measured on (its [calibration.machine]) differs from the one
    a trace was recorded on (its header's `machine`): empty when it is the same machine."""
    return [f"{k} {calibrated.get(k)!r} vs {recorded.get(k)!r}" for k in SAME_MACHINE
            if calibrated.get(k) != recorded.get(k)]


def apply_profile(data: dict, profile: CostProfile | None) -> dict:
    """A copy of the config dict `data` with the profile's costs and clock under the config's own:
    a cost or machine.ghz the config sets itself wins over the profile's."""
    if profile is None:
        return data
    out = dict(data)
    costs = out.get("costs", {})
    if isinstance(costs, dict):
        out["costs"] = {**profile.costs, **costs}
    machine = out.get("machine", {})
    if isinstance(machine, dict) and "ghz" in profile.machine:
        out["machine"] = {"ghz": profile.machine["ghz"], **machine}
    return out


# --- writing a profile ---------------------------------------------------------------------------

HEADER = "# smpsim cost profile (see smpsim/cost_profile.py); use it with --costs or costs_profile = \"PATH\"\n"


def profile_text(costs: dict, machine: dict | None = None, calibration: dict | None = None) -> str:
    """The TOML text of a profile; ConfigError if it would not read back as one."""
    data = {"profile": {"format": FORMAT, "version": VERSION}, "machine": dict(machine or {}),
            "costs": dict(costs), "calibration": dict(calibration or {})}
    text = HEADER + toml_text(data)
    parse_profile(text.encode(), "the profile to write")
    return text


def write_profile(path: str | Path, costs: dict, machine: dict | None = None,
                  calibration: dict | None = None) -> CostProfile:
    """Write a profile to `path` atomically (a temporary file beside it, fsync, rename): an interrupted
    write leaves the old file or none, never half of one. Returns the profile written, as
    `load_profile` would read it back (without reading it: another writer may have replaced it)."""
    raw = profile_text(costs, machine, calibration).encode()
    atomic_write(path, raw)
    absolute = Path(path).expanduser().absolute()
    return _profile(absolute, raw, f"cost profile {clip(str(absolute), 200)}")
