"""`smpsim validate --set KEY=VALUE [--costs PROFILE]`: costs, policy switches and the clock a validation
runs with. A cost profile's costs and clock go under --set's.

`costs.X=V` (or a bare `X=V`, the older spelling) sets a cost, `policy.X=V` a switch of the
preset each case simulates, `machine.ghz=V` the clock. Values are TOML, checked as a config's
are; a bad key or value is a ConfigError of one line naming what is allowed.
"""

from __future__ import annotations

from pathlib import Path

from smpsim.cost_profile import CostProfile, apply_profile, load_profile
from smpsim.costs import CostModel
from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod
from smpsim.experiments.config import DEFAULT_PRESET, PolicyConfig
from smpsim.experiments.validate.contract import Setup
from smpsim.rundir.safeio import clip

MACHINE_KEYS = ("ghz",)          # the cases fix their own machines; only the clock is the user's
FIXED_POLICY_KEYS = ("name", "preset")


def policy_switches() -> list[str]:
    return [k for k in PolicyConfig.model_fields if k not in FIXED_POLICY_KEYS]


def _allowed(section: str) -> list[str]:
    return {"costs": list(CostModel.model_fields), "policy": policy_switches(),
            "machine": list(MACHINE_KEYS)}[section]


def _split(item: str) -> tuple[str, str, object]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects KEY=VALUE (costs.X, policy.X or machine.ghz), got {clip(item)!r}")
    section, dot, name = key.partition(".")
    if not dot:
        section, name = "costs", key
    if section not in ("costs", "policy", "machine"):
        raise ConfigError(f"--set {clip(key)}: validate takes costs.<cost> (or a bare <cost>), "
                          f"policy.<switch> or machine.ghz")
    if name in FIXED_POLICY_KEYS and section == "policy":
        raise ConfigError(f"--set {clip(key)}: each case fixes its preset; policy.X sets one of its switches: "
                          f"{', '.join(policy_switches())}")
    if name not in _allowed(section):
        raise ConfigError(f"--set {clip(key)}: unknown key; {section}.X takes: {', '.join(_allowed(section))}")
    return section, name, cfgmod.parse_value(text.strip())


def profile_at(costs: str | Path | CostProfile | None) -> CostProfile | None:
    """The --costs profile: read and checked from a path, passed through when already loaded (so a
    validation that needs it twice reads the file once)."""
    if costs is None or isinstance(costs, CostProfile):
        return costs
    return load_profile(costs, "--costs")


def setup_from(items: list[str] | tuple = (), costs: str | Path | CostProfile | None = None) -> Setup:
    """The Setup of `--set` items over the cost profile `costs` (--costs: its costs and machine.ghz,
    which --set overrides); ConfigError (one line) on an unknown key, a bad value or a bad profile."""
    tables: dict[str, dict] = {"costs": {}, "policy": {}, "machine": {}}
    for item in items:
        section, name, value = _split(item)
        tables[section][name] = value
    profile = profile_at(costs)
    data = apply_profile({"name": "validate", "machine": tables["machine"], "costs": tables["costs"],
                          "policies": [{"name": DEFAULT_PRESET, "preset": DEFAULT_PRESET, **tables["policy"]}],
                          "workload": {"kind": "exit_storm"}}, profile)
    try:
        cfg = cfgmod.validate(data, "(--set)")
    except ConfigError as e:
        lines = [line.strip().replace("policies[0].", "policy.") for line in str(e).splitlines()[1:]]
        raise ConfigError("--set " + "; ".join(lines)) from None
    return Setup(cfg.costs, dict(tables["policy"]), cfg.machine.ghz)


def case_pool(costs: str | Path | CostProfile | None, patterns: list[str] | tuple = ()) -> tuple[list, dict[str, str]]:
    """The cases a validation chooses from, and the profile's measurements left out with the
    reason. With a profile that holds measurements (`smpsim calibrate` writes them) and no
    `--case`, its held-out measurements (kind "profile") only: the published cases are figures
    of other machines, which a profile of this one is not expected to meet. With `--case`, the
    registered cases and the profile's together. Without measurements, the registered cases."""
    from smpsim.experiments.calibration.heldout import profile_cases
    from smpsim.experiments.validate.contract import CASES
    if costs is None:
        return list(CASES), {}
    profile_own, left_out = profile_cases(profile_at(costs))
    if not profile_own:
        return list(CASES), left_out
    return (list(CASES) + profile_own if patterns else profile_own), left_out
