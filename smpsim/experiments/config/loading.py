"""Loading configs: TOML files, cost profiles (`costs_profile`, --costs), --set overrides, validation
with clear messages, sweeps and point directory names. The schema itself is in `schema`."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from smpsim.cost_profile import CostProfile, apply_profile, load_profile
from smpsim.errors import ConfigError
from smpsim.experiments.config.schema import LIMIT_REASONS, MAX_CONFIG_BYTES, ExperimentConfig
from smpsim.rundir.safeio import MAX_DEPTH, clip, nesting_depth, read_text

# --- loading, overrides, sweeps ---------------------------------------------------------

_UNION_TAGS = ("exit_storm", "fork_exit", "fork_exec_exit", "shell", "munmap_fanout", "memory_pressure",
               "shared_eviction", "tlb_flush", "ctx_switch")


def _fmt_loc(loc) -> str:
    parts = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p in _UNION_TAGS or str(p).startswith(("function-", "tagged-union")):
            continue
        else:
            parts.append(("." if parts else "") + clip(str(p), 60))
    return "".join(parts) or "(top level)"


_LIMIT_TYPES = ("less_than_equal", "less_than", "too_long", "string_too_long", "string_pattern_mismatch")


def _explain(err: ValidationError, source: str) -> ConfigError:
    errors = err.errors()
    lines = [f"invalid config {clip(source, 200)}:"]
    for e in errors[:20]:
        loc = _fmt_loc([p for p in e["loc"] if not str(p).startswith("function-")])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] in _LIMIT_TYPES:
            field = next((str(p) for p in reversed(e["loc"]) if isinstance(p, str)), "")
            if field in LIMIT_REASONS:
                msg = f"{msg} ({LIMIT_REASONS[field]})"
        value = e.get("input")
        shown = "" if isinstance(value, (dict, list)) else f" (got {clip(repr(value))})"
        lines.append(f"  {loc}: {clip(msg, 600)}{shown}")
    if len(errors) > 20:
        lines.append(f"  ... and {len(errors) - 20} more")
    return ConfigError("\n".join(lines))


def validate(data: dict, source: str = "") -> ExperimentConfig:
    """The config as a model; ConfigError naming every bad key, its value and what is allowed."""
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {source}: expected a table of keys, got {type(data).__name__}")
    try:
        return ExperimentConfig.model_validate(data, strict=True)
    except ValidationError as e:
        raise _explain(e, source) from None
    except RecursionError:
        raise ConfigError(f"invalid config {source}: nested too deeply") from None
    except (TypeError, ValueError, AttributeError) as e:
        # a validator met a value of a type it did not expect before its type was checked
        raise ConfigError(f"invalid config {source}: {clip(str(e), 300)}") from None


def _check_depth(data, where: str) -> None:
    if nesting_depth(data) > MAX_DEPTH:
        raise ConfigError(f"{where}: arrays or tables nested more than {MAX_DEPTH} levels deep; "
                          "no smpsim key takes such a value")


def parse_toml(text: str, where: str) -> dict:
    """Parse TOML text; ConfigError (one line) for bad syntax or absurd nesting."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {clip(str(e), 200)}") from None
    except RecursionError:
        raise ConfigError(f"{where}: arrays or tables nested too deeply to parse") from None
    _check_depth(data, where)
    return data


def read_toml(path: str | Path) -> dict:
    """A TOML config file: a regular file of at most 4 MiB, UTF-8 (a BOM is accepted)."""
    text = read_text(path, limit=MAX_CONFIG_BYTES, what="config file", error=ConfigError)
    return parse_toml(text, clip(str(path), 200))


def parse_value(text: str):
    """A --set value: TOML syntax (numbers, booleans, lists, quoted strings), else a bare string."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError(f"--set value {clip(text)!r}: nested too deeply") from None
    _check_depth(value, f"--set value {clip(text)!r}")
    return value


def set_path(data: dict, key: str, value) -> dict:
    """A copy of `data` with dotted `key` set to `value` (policies[1].teardown style indexes allowed)."""
    out = copy.deepcopy(data)
    node = out
    parts = key.split(".")
    if key.startswith("sweep."):
        parts = ["sweep", key[len("sweep."):]]
    shown = clip(key)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        name, idx = part, None
        if part.endswith("]") and "[" in part:
            name, _, rest = part.partition("[")
            try:
                idx = int(rest[:-1])
            except ValueError:
                raise ConfigError(f"--set {shown}: bad index in {clip(part)!r}") from None
        if not isinstance(node, dict):
            raise ConfigError(f"--set {shown}: {clip(parts[i - 1]) if i else 'the config'} is not a table")
        if idx is not None:
            seq = node.get(name)
            if not isinstance(seq, list) or not -len(seq) <= idx < len(seq):
                raise ConfigError(f"--set {shown}: {clip(name)} has no element [{clip(str(idx))}]")
            if last:
                seq[idx] = value
            else:
                if isinstance(seq[idx], str):
                    seq[idx] = {"name": seq[idx], "preset": seq[idx]}
                node = seq[idx]
        elif last:
            node[name] = value
        else:
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {shown}: {clip(name)} is not a table")
            node = child
    return out


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {clip(item)!r}")
        data = set_path(data, key.strip(), parse_value(text.strip()))
    return data


def default_name(path: str | Path) -> str:
    """The run name when a config has none: its file name without .toml, made safe for a directory."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).lstrip("._-")[:64]
    return stem or "run"


def load(path: str | Path, overrides: list[str] = ()) -> tuple[ExperimentConfig, dict]:
    """Validated config and the raw dict it came from (after overrides), and every sweep point validated."""
    cfg, data, _ = load_profiled(path, overrides)
    return cfg, data


def read_profiled(path: str | Path, overrides: list[str] = (), costs: str | Path | None = None
                  ) -> tuple[dict, CostProfile | None]:
    """The config at `path` with its cost profile applied, then `overrides`; and the profile (None without).

    This is where the precedence of costs is applied, lowest first: the CostModel defaults, the profile
    (`costs`, the --costs option, replaces the config's `costs_profile`), the config's own [costs] and
    machine.ghz, then --set. The `costs_profile` key itself is dropped: the config that results (and
    config.toml in a run directory) holds the costs themselves, so nothing later re-reads the profile.
    """
    data = read_toml(path)
    _traces_beside(_config_dir(path), data)          # the file's own paths: relative to its directory
    named = data.pop("costs_profile", None)
    _refuse_profile_elsewhere(data, overrides)
    profile = None
    if costs is not None:
        profile = load_profile(costs, "--costs")
    elif named is not None:
        profile = load_profile(_beside(path, named), f"costs_profile = {clip(repr(named))} in {clip(str(path), 200)}")
    return apply_overrides(apply_profile(data, profile), list(overrides)), profile


def _beside(config_path: str | Path, named) -> Path:
    """The path `costs_profile` names: relative to the config file's directory, as a user expects."""
    if not isinstance(named, str) or not named.strip():
        raise ConfigError(f"invalid config {clip(str(config_path), 200)}: costs_profile must be the path of a "
                          f"cost profile (a string), got {clip(repr(named))}")
    try:
        target = Path(named).expanduser()
        return target if target.is_absolute() else Path(config_path).resolve().parent / target
    except (OSError, ValueError, RuntimeError):
        raise ConfigError(f"invalid config {clip(str(config_path), 200)}: costs_profile "
                          f"{clip(repr(named))} is not a valid path") from None


def _refuse_profile_elsewhere(data: dict, overrides) -> None:
    """costs_profile is a key of the config file only: --costs replaces it, and a sweep cannot vary it."""
    if any(item.partition("=")[0].strip() == "costs_profile" for item in overrides):
        raise ConfigError("--set costs_profile=...: give the profile with --costs PATH instead")
    sweep = data.get("sweep")
    if isinstance(sweep, dict) and "costs_profile" in sweep:
        raise ConfigError("sweep.costs_profile: a sweep cannot vary the cost profile; run the config once per "
                          "profile with --costs PATH (and compare the runs with `smpsim compare`)")


def load_profiled(path: str | Path, overrides: list[str] = (), costs: str | Path | None = None
                  ) -> tuple[ExperimentConfig, dict, CostProfile | None]:
    """As `load`, with the cost profile (`costs`: the --costs option) applied and returned."""
    data, profile = read_profiled(path, overrides, costs)
    data.setdefault("name", default_name(path))
    workload = data.get("workload")
    image = workload.get("image") if isinstance(workload, dict) else None
    if isinstance(image, str) and image and not image.startswith("bundled:") and not Path(image).is_absolute():
        try:
            beside = Path(path).resolve().parent / image
            if beside.is_file():
                data["workload"]["image"] = str(beside)      # an image named relative to its config
        except (OSError, ValueError):
            pass                                             # validation or resolve_images says what is wrong
    _traces_beside(Path.cwd(), data)                 # what --set named: relative to where the command runs
    cfg = validate(data, str(path))
    check_images(cfg, data)
    check_traces(cfg, data)
    for params, point_data in sweep_points(data):
        point_cfg = validate(point_data, f"{path} at sweep point {point_name(params)}")
        if params:
            check_traces(point_cfg, point_data)      # each point's machine and run against its trace
    return cfg, data, profile


def _config_dir(path) -> Path:
    try:
        return Path(path).resolve().parent
    except (OSError, ValueError, RuntimeError):
        return Path(".")


def _traces_beside(base: Path, data: dict) -> None:
    """A trace named by a relative path (workload.trace, or a sweep over it) made absolute from `base`."""
    def beside(value):
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            try:
                return str((base / value).resolve())
            except (OSError, ValueError, RuntimeError):
                return value
        return value
    workload = data.get("workload")
    if isinstance(workload, dict) and workload.get("kind") == "trace" and "trace" in workload:
        workload["trace"] = beside(workload["trace"])
    sweep = data.get("sweep")
    if isinstance(sweep, dict) and isinstance(sweep.get("workload.trace"), list):
        sweep["workload.trace"] = [beside(v) for v in sweep["workload.trace"]]


def check_traces(cfg: ExperimentConfig, data: dict) -> None:
    """Refuse a trace that cannot be replayed (missing, not a trace, recorded on more CPUs than
    machine.ncpus, longer than run.max_epochs) before anything starts."""
    from smpsim.experiments.trace_check import check_trace, trace_paths
    for trace in trace_paths(cfg, data):
        check_trace(trace, cfg.machine, cfg.run)


def check_images(cfg: ExperimentConfig, data: dict) -> None:
    """Refuse a missing or bad image (of the config or of any sweep value) before starting."""
    from smpsim.experiments.images import resolve_images
    specs = set()
    if cfg.workload.kind == "exit_storm" and cfg.workload.image:
        specs.add(cfg.workload.image)
    for value in (data.get("sweep") or {}).get("workload.image", []):
        if isinstance(value, str) and value:
            specs.add(value)
    for spec in sorted(specs):
        resolve_images(spec)


def sweep_points(data: dict) -> list[tuple[dict, dict]]:
    """[(params, raw config of the point without [sweep])] for the cartesian product of the sweep."""
    sweep = data.get("sweep") or {}
    base = {k: v for k, v in data.items() if k != "sweep"}
    if not sweep:
        return [({}, base)]
    keys = list(sweep)
    points = []
    for combo in itertools.product(*(sweep[k] for k in keys)):
        point = base
        params = {}
        for k, v in zip(keys, combo):
            point = set_path(point, k, v)
            params[k] = v
        points.append((params, point))
    return points


# --- point directory names -----------------------------------------------------------------------

POINT_VALUE_CHARS = 32      # of each value in a point's name
POINT_NAME_CHARS = 120      # of the whole name (NAME_MAX is 255 bytes)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _safe_part(text: str, limit: int) -> str:
    """`text` with runs of unsafe characters (/, .., spaces, quotes, non-ASCII...) made one `_`."""
    out = _UNSAFE.sub("_", text).lstrip(".") or "_"
    return out[:limit]


def _short(value) -> str:
    """A swept value in a point name: a whole table (e.g. a workload) by its kind and threads."""
    if isinstance(value, dict):
        if value.get("kind") == "trace" and isinstance(value.get("trace"), str):
            return f"trace-{_short(value['trace'])}"
        return "-".join(str(value[key]) for key in ("kind", "threads") if key in value) or "table"
    if isinstance(value, str) and value.endswith(".smpt"):
        return Path(value).stem                  # a trace by its file name, not its whole path
    return str(value)


def _raw_point_name(params: dict) -> str:
    return ",".join(f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in params.items())


def point_names(all_params: list[dict]) -> list[str]:
    """The directory name of each sweep point: `key=value,...` with the last component of each key.

    A name is kept as it is when it is already safe and unique; otherwise (a value with `/`, `..`,
    spaces, non-ASCII, or too long, or two points that would read alike) it is sanitized, cut
    short and given `~` and 8 hex digits of a hash of the real values, which stay in the point's
    run.json and summary entries. Deterministic, so a resume finds the same directories.
    """
    if all_params == [{}]:
        return ["base"]
    raw = [_raw_point_name(p) for p in all_params]
    safe = [",".join(f"{_safe_part(k.rsplit('.', 1)[-1], POINT_VALUE_CHARS)}="
                     f"{_safe_part(_short(v), POINT_VALUE_CHARS) if _short(v) else ''}" for k, v in p.items())
            for p in all_params]
    counts: dict[str, int] = {}
    for r in raw:
        counts[r] = counts.get(r, 0) + 1
    names = []
    for r, s, params in zip(raw, safe, all_params):
        if r == s and len(s) <= POINT_NAME_CHARS and counts[r] == 1:
            names.append(s)
        else:
            digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()[:8]
            names.append(f"{s[:POINT_NAME_CHARS - 9]}~{digest}")
    return names




def point_name(params: dict) -> str:
    """The directory name of one point on its own (see :func:`point_names`)."""
    return point_names([params])[0]
