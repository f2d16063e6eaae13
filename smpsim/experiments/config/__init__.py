"""Experiment configs: the schema (`schema`), the policy switches over the presets (`policy`),
and loading TOML files with cost profiles, overrides, sweeps and point names (`loading`).

This package's names are the config API the rest of smpsim uses (`cfgmod.load`, ...).
"""

from smpsim.experiments.config.loading import (POINT_NAME_CHARS, POINT_VALUE_CHARS, apply_overrides, check_images,
                                               default_name, load, load_profiled, parse_toml, parse_value, point_name,
                                               point_names, read_profiled, read_toml, set_path, sweep_points, validate)
from smpsim.experiments.config.policy import DEFAULT_PRESET, PolicyConfig
from smpsim.experiments.config.schema import (ENTRY_STRIDE, LIMIT_REASONS, MAX_CONFIG_BYTES, MAX_COST, MAX_ENTRIES,
                                              MAX_EPOCHS, MAX_PAGES, MAX_POLICIES, MAX_PROCESSES,
                                              MAX_SWEEP_POINTS, NAME_PATTERN, CtxSwitchConfig, ExitStormConfig,
                                              ExperimentConfig, ForkExitConfig, MachineConfig, MemoryPressureConfig,
                                              MunmapFanoutConfig, RunConfig, SharedEvictionConfig, TlbFlush2Config,
                                              TlbFlushConfig)

__all__ = ["POINT_NAME_CHARS", "POINT_VALUE_CHARS", "apply_overrides", "check_images", "default_name", "load",
           "load_profiled", "parse_toml", "parse_value", "point_name", "point_names", "read_profiled", "read_toml",
           "set_path", "sweep_points",
           "validate", "DEFAULT_PRESET", "PolicyConfig", "ENTRY_STRIDE", "LIMIT_REASONS", "MAX_CONFIG_BYTES", "MAX_COST",
           "MAX_ENTRIES", "MAX_EPOCHS", "MAX_PAGES", "MAX_POLICIES", "MAX_PROCESSES", "MAX_SWEEP_POINTS",
           "NAME_PATTERN", "CtxSwitchConfig", "ExitStormConfig", "ExperimentConfig", "ForkExitConfig", "MachineConfig",
           "MemoryPressureConfig", "MunmapFanoutConfig", "RunConfig", "SharedEvictionConfig", "TlbFlush2Config",
           "TlbFlushConfig"]
