"""The resolved config: every default filled in, and as it reads back once saved to config.toml.

A run saves the resolved config (run directory and each point); `--resume` compares what a saved
config resolves to now with what it says, so both sides go through the same two functions.
"""

from __future__ import annotations

import tomllib

from smpsim.experiments import config as cfgmod
from smpsim.rundir.files import toml_text


def resolved(data: dict) -> dict:
    """The config with every default filled in (and the sweep table kept)."""
    sweep = data.get("sweep")
    cfg = cfgmod.validate({k: v for k, v in data.items() if k != "sweep"})
    out = cfg.model_dump(mode="json")
    fm, ft = cfg.machine.watermarks()
    out["machine"]["freemin"], out["machine"]["freetarg"] = fm, ft
    out.pop("sweep", None)
    if sweep:
        out["sweep"] = sweep
    return out


def as_saved(data: dict) -> dict:
    """`data` as it reads back from config.toml (None dropped, TOML types)."""
    return tomllib.loads(toml_text(data))
